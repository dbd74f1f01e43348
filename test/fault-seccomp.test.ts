// Fault: io_uring forbidden by seccomp (EPERM for io_uring_setup/enter/register, as under
// Docker's default profile; helpers/no-uring.c). A mixed workload — zero-copy writes, a pool, copied
// writes, sendFile — falls back to MSG_ZEROCOPY and arrives exact; the child exits on its own,
// holding nothing.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { assertCleanExit, assertPrefix, figures, hashingReceiver, runScenario, type Outcome } from './helpers/fault.js';
import type { Leaks } from './helpers/leaks.js';
import { noUringLauncher, noUringSkip } from './helpers/no-uring.js';
import { streamBytes } from './helpers/pattern.js';

const JOBS = 48;
const SIZE = 512 << 10;

describe('fault: io_uring blocked by seccomp', { skip: noUringSkip() }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'aiotx-seccomp-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it(`${JOBS} mixed jobs fall back to MSG_ZEROCOPY and arrive exact`, async (t) => {
    const seed = 0x5ecc;
    // Every fourth job is a file holding its slice of the stream.
    const files: string[] = [];
    for (let i = 0; i < JOBS; i += 4) {
      const path = join(dir, `slice-${i}.bin`);
      writeFileSync(path, streamBytes(seed, i * SIZE, SIZE));
      files[i] = path;
    }
    const rx = await hashingReceiver();
    const run = runScenario(
      `
      const files = ${JSON.stringify(files)};
      const c = await connect(${rx.port});
      const pool = createBufferPool({ size: ${SIZE}, count: 4 });
      const jobs = [];
      for (let i = 0; i < ${JOBS}; i++) {
        const data = streamBytes(${seed}, i * ${SIZE}, ${SIZE});
        if (files[i]) jobs.push(sendFile(c, files[i]));
        else if (i % 4 === 1) {
          const b = pool.acquire(); // null once all four are out
          const buf = b ?? Buffer.alloc(${SIZE});
          buf.set(data);
          const job = aioWrite(c, buf, { zeroCopy: 'on' });
          jobs.push(b ? job.finally(() => pool.release(b)) : job);
        } else jobs.push(aioWrite(c, data, { zeroCopy: i % 4 === 2 ? 'on' : 'off' }));
      }
      const res = await outcomes(jobs);
      c.end();
      if (!c.closed) await new Promise((r) => c.once('close', r));
      pool.close();
      const p = probe();
      report({ uring: p.backends.uring, backend: p.zeroCopyBackend, wired: pool.wired, outcomes: res, leaks: await leaks() });`,
      { wrapper: [(noUringLauncher() as { path: string }).path], env: { AIOTX_BACKEND: '' } },
    );
    const out = (await run.next()) as { uring: { available: boolean; reason: string }; backend: string; wired: boolean; outcomes: Outcome[]; leaks: Leaks };
    await assertCleanExit(run);
    const got = await (await rx.connection(0)).done;
    await rx.close();
    assert.equal(out.uring.available, false);
    assert.match(out.uring.reason, /EPERM/);
    assert.equal(out.backend, 'msgzerocopy');
    assert.equal(out.wired, false, 'no io_uring, no registered buffers');
    assert.deepEqual(out.outcomes.filter((o) => !o.ok), []);
    assert.ok(out.outcomes.filter((o) => o.backend === 'msgzerocopy').length >= JOBS / 2, 'the zero-copy jobs went through MSG_ZEROCOPY');
    assert.equal(got.bytes, JOBS * SIZE);
    assertPrefix(got, seed, 'receiver');
    assert.deepEqual(out.leaks, { transmitters: 0, ringTags: 0, fds: [], vmPinKb: 0, vmLckKb: 0 });
    const backends = out.outcomes.reduce<Record<string, number>>((m, o) => ((m[o.backend!] = (m[o.backend!] ?? 0) + 1), m), {});
    figures(t, 'seccomp', { jobs: JOBS, backends, uringReason: out.uring.reason, bytesExact: got.bytes, allSettled: true, exit: 0, leaks: 0 });
  });
});
