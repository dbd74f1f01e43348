// The event loop: the process exits by itself when idle, and a pending job keeps it alive until
// it settles (no spinning is checked per backend in the transmit suite).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { backendCases } from './helpers/backends.js';
import { stalled } from './helpers/sockets.js';

const indexUrl = new URL('../src/index.js', import.meta.url).href;

function runChild(script: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  return once(child, 'exit').then(([code]) => ({ code: code as number | null, out }));
}

describe('event loop', () => {
  it('exits by itself once no job is pending, and a pending job keeps it alive', async () => {
    // The receiver runs here; the child unrefs its socket, so only the job can keep it alive.
    let received = 0;
    // It reads only once the child's sender is stalled on it: the job is pending by then.
    const server = createServer((s: Socket) => {
      s.pause();
      void stalled(s.remotePort!).then(() => s.resume());
      s.on('data', (d: Buffer) => (received += d.length));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    const script = `
      import net from 'node:net';
      import { aioWrite } from ${JSON.stringify(indexUrl)};
      const c = net.connect(${port}, '127.0.0.1');
      c.once('connect', () => {
        c.unref();
        aioWrite(c, Buffer.alloc(48 << 20, 1), { zeroCopy: process.env.MODE }).then((r) => {
          console.log('settled ' + r.bytes);
          c.end();
        });
      });`;
    for (const { backend, zeroCopy, skip } of backendCases) {
      if (skip) continue;
      const r = await runChild(script, { MODE: zeroCopy, AIOTX_BACKEND: backend });
      assert.equal(r.code, 0);
      assert.equal(r.out.trim(), `settled ${48 << 20}`, `${zeroCopy}: the job kept the process alive until it settled`);
    }
    server.close();
    assert.ok(received > 0);
  });

  it('lets worker threads use aiotx and exit cleanly', async () => {
    const script = `
      import { Worker } from 'node:worker_threads';
      const code = \`
        import net from 'node:net';
        import { parentPort } from 'node:worker_threads';
        import { aioWrite } from ${JSON.stringify(indexUrl)};
        const srv = net.createServer((s) => s.resume()).listen(0, '127.0.0.1', async () => {
          const c = net.connect(srv.address().port, '127.0.0.1');
          await new Promise((r) => c.once('connect', r));
          const r = await aioWrite(c, Buffer.alloc(1 << 20, 1), { zeroCopy: 'on' });
          parentPort.postMessage(r.bytes);
          c.destroy(); srv.close();
        });\`;
      for (let i = 0; i < 3; i++) {
        const w = new Worker(new URL('data:text/javascript,' + encodeURIComponent(code)));
        const bytes = await new Promise((r) => w.once('message', r));
        if (i === 1) await w.terminate(); else await new Promise((r) => w.once('exit', r));
        console.log('worker ' + i + ' sent ' + bytes);
      }`;
    const r = await runChild(script);
    assert.equal(r.code, 0, 'the process survived its workers');
    assert.equal(r.out.trim().split('\n').length, 3);
  });
});
