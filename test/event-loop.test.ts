// The event loop: no busy loop while notifications are pending, the process exits by itself when
// idle, and a pending job keeps it alive until it settles.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { describe, it } from 'node:test';
import { aioWrite } from '../src/index.js';
import { backendCases } from './helpers/backends.js';
import { randomBytes, stillPending, tcpPair } from './helpers/sockets.js';

const indexUrl = new URL('../src/index.js', import.meta.url).href;

function runChild(script: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  return once(child, 'exit').then(([code]) => ({ code: code as number | null, out }));
}

describe('event loop', () => {
  for (const { backend, zeroCopy, skip } of backendCases) {
    it(`does not spin while a ${backend} job waits on a stalled receiver, nor once it is idle`, { skip }, async () => {
      const pair = await tcpPair();
      pair.server.pause();
      const job = aioWrite(pair.client, randomBytes(64 << 20), { zeroCopy });
      await stillPending(job, 100);
      // Event-loop utilisation is near 1 for a spinning loop and near 0 for an idle one.
      let start = performance.eventLoopUtilization();
      await stillPending(job, 500);
      const waiting = performance.eventLoopUtilization(start).utilization;
      assert.ok(waiting < 0.5, `event loop utilisation ${waiting.toFixed(3)} while waiting`);
      pair.server.resume();
      await job;
      await aioWrite(pair.client, randomBytes(1 << 20), { zeroCopy });
      // Idle, writable, notifications drained: nothing should wake the loop.
      start = performance.eventLoopUtilization();
      await new Promise((r) => setTimeout(r, 500));
      const idle = performance.eventLoopUtilization(start).utilization;
      assert.ok(idle < 0.5, `event loop utilisation ${idle.toFixed(3)} while idle`);
      await pair.close();
    });
  }

  it('exits by itself once no job is pending, and a pending job keeps it alive', async () => {
    // The receiver runs here; the child unrefs its socket, so only the job can keep it alive.
    let received = 0;
    const server = createServer((s: Socket) => {
      s.pause();
      setTimeout(() => s.resume(), 300);
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
    for (const { zeroCopy, skip } of backendCases) {
      if (skip) continue;
      const r = await runChild(script, { MODE: zeroCopy });
      assert.equal(r.code, 0);
      assert.equal(r.out.trim(), `settled ${48 << 20}`, `${zeroCopy}: the job kept the process alive until it settled`);
    }
    server.close();
    assert.ok(received > 0);
  });
});
