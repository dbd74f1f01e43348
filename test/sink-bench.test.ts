// `aiotx bench --sink`, run as a user would run it: every method the machine can run sends bytes,
// and the kernel reports copy's bytes all copied and the zero-copy methods' bytes all zero-copy.
// No timing thresholds: the figures depend on the machine.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { sinkRigSkipReason } from 'aiotx-bench/internal/bench/sink-rig.js';

// dist/test/sink-bench.test.js → the repository root.
const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = fileURLToPath(new URL('../../bin/aiotx.js', import.meta.url));

interface SinkRow {
  method: string;
  batch: number;
  cpuMicrosPerWrite: number;
  status: 'ok' | 'unavailable' | 'failed';
  reason: string | null;
  backend: string | null;
  bytes: number;
  zeroCopyShare: number;
  cpuPerGBVsCopy: number | null;
}

const BACKEND_OF: Record<string, string> = { copy: 'copy', msgzerocopy: 'msgzerocopy', uring: 'uring', 'uring-pool': 'uring', reference: 'C send()', 'reference-zc': 'C MSG_ZEROCOPY', 'reference-uring': 'C io_uring' };

test('bench --sink --batch 4 --json: bytes from every available row (single, batched, C floor), zero-copy shares as the kernel reports them', { skip: sinkRigSkipReason() ?? false }, () => {
  const out = execFileSync(process.execPath, [bin, 'bench', '--sink', '--duration', '0.3', '--repeat', '1', '--batch', '4', '--json'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
  });
  const report = JSON.parse(out) as { note: string; results: SinkRow[] };
  assert.match(report.note, /^sink rig: /);
  assert.deepEqual(
    report.results.map((r) => `${r.method}/${r.batch}`),
    ['copy/1', 'copy/4', 'msgzerocopy/1', 'msgzerocopy/4', 'uring/1', 'uring/4', 'uring-pool/1', 'uring-pool/4', 'reference/1', 'reference-zc/1', 'reference-uring/1'],
  );
  for (const row of report.results) {
    assert.notEqual(row.status, 'failed', `${row.method} failed: ${row.reason}`);
    if (row.status === 'unavailable') {
      assert.ok(row.reason, `${row.method} says why it is unavailable`);
      continue;
    }
    assert.ok(row.bytes > 0, `${row.method} sent bytes`);
    assert.ok(row.cpuMicrosPerWrite > 0, `${row.method}: CPU per write`);
    assert.equal(row.backend, BACKEND_OF[row.method]);
    if (row.method === 'copy' || row.method === 'reference') {
      assert.equal(row.zeroCopyShare, 0, `${row.method} sends nothing zero-copy`);
      if (row.method === 'copy' && row.batch === 1) assert.equal(row.cpuPerGBVsCopy, 1);
    } else {
      assert.equal(row.zeroCopyShare, 1, `${row.method} batch ${row.batch}: every byte zero-copy`);
    }
  }
  assert.equal(report.results[0]!.status, 'ok', 'copy runs everywhere');
});

test('bench --sink with --sizes is a usage error (exit 2)', () => {
  const r = spawnSync(process.execPath, [bin, 'bench', '--sink', '--sizes', '32K'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--sizes does not apply to --sink/);
  assert.equal(r.stdout, '');
});

test('bench --batch 0 is a usage error (exit 2)', () => {
  const r = spawnSync(process.execPath, [bin, 'bench', '--sink', '--batch', '0'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--batch must be an integer from 1 to 1024/);
});
