// Fallback: with io_uring forbidden the way it is in production (a seccomp filter returning EPERM
// for io_uring_setup/enter/register, as Docker's default profile does; only the child process
// tree is affected), probe() says why, zero-copy writes use MSG_ZEROCOPY and arrive byte-exact,
// the suites that follow the default selection pass, and a backend forced by AIOTX_BACKEND that
// cannot run is a clear error.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { noUringLauncher, noUringSkip } from './helpers/no-uring.js';

const indexUrl = new URL('../src/index.js', import.meta.url).href;
const testDir = fileURLToPath(new URL('.', import.meta.url));
const leakCheck = fileURLToPath(new URL('./helpers/leak-check.js', import.meta.url));

// A zero-copy write of 4 MiB to a hashing receiver in the same child.
const probeScript = `
  import net from 'node:net';
  import { createHash } from 'node:crypto';
  import { aioWrite, probe } from ${JSON.stringify(indexUrl)};
  const p = probe();
  let write;
  const data = Buffer.alloc(4 << 20);
  for (let i = 0; i < data.length; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, i);
  const srv = net.createServer((s) => {
    const h = createHash('sha256'); let bytes = 0;
    s.on('data', (d) => { h.update(d); bytes += d.length; });
    s.on('end', () => {
      const same = bytes === data.length && h.digest('hex') === createHash('sha256').update(data).digest('hex');
      console.log(JSON.stringify({ uring: p.backends.uring, zeroCopyBackend: p.zeroCopyBackend, backendError: p.backendError, write, received: bytes, same }));
      srv.close();
    });
  }).listen(0, '127.0.0.1', async () => {
    const c = net.connect(srv.address().port, '127.0.0.1');
    await new Promise((r) => c.once('connect', r));
    write = await aioWrite(c, data, { zeroCopy: 'on' }).catch((e) => ({ error: e.code, message: e.message }));
    c.end();
  });`;

interface ProbeOut {
  uring: { available: boolean; reason: string };
  zeroCopyBackend: string;
  backendError: string | null;
  write: { backend?: string; bytes?: number; error?: string; message?: string };
  received: number;
  same: boolean;
}

function runProbe(env: NodeJS.ProcessEnv = {}, seccomp = true): ProbeOut {
  const node = [process.execPath, '--input-type=module', '-e', probeScript];
  const [file, ...args] = seccomp ? [(noUringLauncher() as { path: string }).path, ...node] : node;
  const out = execFileSync(file!, args, { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
  return JSON.parse(out) as ProbeOut;
}

describe('backend fallback', () => {
  it('falls back to MSG_ZEROCOPY when seccomp forbids io_uring: probe says why, the bytes arrive exact', { skip: noUringSkip() }, () => {
    const r = runProbe({ AIOTX_BACKEND: '' });
    assert.equal(r.uring.available, false);
    assert.match(r.uring.reason, /EPERM/, 'the reason names what the kernel answered');
    assert.equal(r.zeroCopyBackend, 'msgzerocopy');
    assert.equal(r.write.backend, 'msgzerocopy');
    assert.equal(r.write.bytes, 4 << 20);
    assert.equal(r.same, true, `byte-exact under the fallback (${r.received} bytes received)`);
  });

  it('rejects writes with ERR_AIOTX_BACKEND_UNAVAILABLE when AIOTX_BACKEND=uring cannot run', { skip: noUringSkip() }, () => {
    const forced = runProbe({ AIOTX_BACKEND: 'uring' });
    assert.equal(forced.write.error, 'ERR_AIOTX_BACKEND_UNAVAILABLE');
    assert.match(forced.write.message ?? '', /uring is unavailable here/);
    assert.match(forced.backendError ?? '', /uring is unavailable here.*EPERM/);
    assert.equal(forced.received, 0, 'nothing of a refused write reaches the peer');
  });

  it('passes the suites that follow the default selection, run whole under the filter', { skip: noUringSkip() }, () => {
    // Without NODE_TEST_CONTEXT the child reports in TAP instead of to this runner.
    const env: NodeJS.ProcessEnv = { ...process.env, AIOTX_BACKEND: '' };
    delete env.NODE_TEST_CONTEXT;
    const launcher = (noUringLauncher() as { path: string }).path;
    const suite = spawnSync(
      launcher,
      [process.execPath, '--test', '--import', leakCheck, '--test-reporter=tap', '--test-concurrency=1', 'send-file.test.js', 'transmit-copy.test.js'],
      { cwd: testDir, encoding: 'utf8', env, timeout: 280_000 },
    );
    assert.equal(suite.status, 0, suite.stdout.slice(-2000));
    assert.match(suite.stdout, /# fail 0/);
    assert.doesNotMatch(suite.stdout, /# pass 0\b/);
  });

  it('rejects every write clearly when AIOTX_BACKEND names no backend', () => {
    const r = runProbe({ AIOTX_BACKEND: 'fast' }, false);
    assert.equal(r.write.error, 'ERR_AIOTX_BAD_ENVIRONMENT');
    assert.match(r.write.message ?? '', /AIOTX_BACKEND must be uring, msgzerocopy or copy/);
  });
});
