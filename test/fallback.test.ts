// Fallback: with io_uring made unavailable (kernel.io_uring_disabled=2, restored afterwards),
// probe() says why, zero-copy writes use MSG_ZEROCOPY, and the suites that follow the default
// selection still pass; a backend forced by AIOTX_BACKEND that cannot run is a clear error.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const SYSCTL = '/proc/sys/kernel/io_uring_disabled';
const indexUrl = new URL('../src/index.js', import.meta.url).href;
const testDir = fileURLToPath(new URL('.', import.meta.url));

function sysctlSkip(): string | false {
  if (process.getuid?.() !== 0) return 'needs root to change kernel.io_uring_disabled';
  try {
    const v = readFileSync(SYSCTL, 'utf8');
    writeFileSync(SYSCTL, v);
    return false;
  } catch (err) {
    return `cannot change kernel.io_uring_disabled: ${(err as Error).message}`;
  }
}

/** Runs `fn` with io_uring disabled for new rings, restoring the setting even on failure. */
function withUringDisabled<T>(fn: () => T): T {
  const before = readFileSync(SYSCTL, 'utf8').trim();
  writeFileSync(SYSCTL, '2');
  try {
    return fn();
  } finally {
    writeFileSync(SYSCTL, before);
  }
}

const probeScript = `
  import net from 'node:net';
  import { aioWrite, probe } from ${JSON.stringify(indexUrl)};
  const p = probe();
  const srv = net.createServer((s) => s.resume()).listen(0, '127.0.0.1', async () => {
    const c = net.connect(srv.address().port, '127.0.0.1');
    await new Promise((r) => c.once('connect', r));
    const r = await aioWrite(c, Buffer.alloc(1 << 20, 1), { zeroCopy: 'on' }).catch((e) => ({ error: e.code, message: e.message }));
    console.log(JSON.stringify({ uring: p.backends.uring, zeroCopyBackend: p.zeroCopyBackend, backendError: p.backendError, write: r }));
    c.destroy(); srv.close();
  });`;

function runProbe(env: NodeJS.ProcessEnv = {}) {
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', probeScript], { encoding: 'utf8', env: { ...process.env, ...env } });
  return JSON.parse(out) as {
    uring: { available: boolean; reason: string };
    zeroCopyBackend: string;
    backendError: string | null;
    write: { backend?: string; error?: string; message?: string };
  };
}

describe('backend fallback', () => {
  it('falls back to MSG_ZEROCOPY when io_uring is disabled, and probe says why', { skip: sysctlSkip() }, () => {
    withUringDisabled(() => {
      const r = runProbe();
      assert.equal(r.uring.available, false);
      assert.match(r.uring.reason, /io_uring_disabled=2/);
      assert.equal(r.zeroCopyBackend, 'msgzerocopy');
      assert.equal(r.write.backend, 'msgzerocopy');
      const forced = runProbe({ AIOTX_BACKEND: 'uring' });
      assert.equal(forced.write.error, 'ERR_AIOTX_BACKEND_UNAVAILABLE');
      assert.match(forced.backendError ?? '', /uring is unavailable here/);
      // The suites that follow the default selection, run whole on the fallback.
      // Without NODE_TEST_CONTEXT the child reports in TAP instead of to this runner.
      const env: NodeJS.ProcessEnv = { ...process.env, AIOTX_BACKEND: '' };
      delete env.NODE_TEST_CONTEXT;
      const suite = spawnSync(process.execPath, ['--test', '--test-reporter=tap', '--test-concurrency=1', 'send-file.test.js', 'transmit-copy.test.js'], {
        cwd: testDir,
        encoding: 'utf8',
        env,
      });
      assert.equal(suite.status, 0, suite.stdout.slice(-2000));
      assert.match(suite.stdout, /# fail 0/);
    });
  });

  it('rejects every write clearly when AIOTX_BACKEND names no backend', () => {
    const r = runProbe({ AIOTX_BACKEND: 'fast' });
    assert.equal(r.write.error, 'ERR_INVALID_ARG_VALUE');
    assert.match(r.write.message ?? '', /AIOTX_BACKEND must be uring, msgzerocopy or copy/);
  });
});
