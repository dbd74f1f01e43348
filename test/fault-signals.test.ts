// Fault: signals arriving during sends (EINTR). A shell loop storms the sending child with
// SIGUSR2 (which it handles) while zero-copy writes, copied writes and sendFile jobs are in
// flight on every backend: every job completes, the stream arrives exact, the child exits on its
// own, holding nothing.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { backendCases } from './helpers/backends.js';
import { assertCleanExit, assertPrefix, figures, hashingReceiver, runScenario, type Outcome } from './helpers/fault.js';
import type { Leaks } from './helpers/leaks.js';
import { streamBytes } from './helpers/pattern.js';

const JOBS = 64;
const SIZE = 512 << 10;

describe('fault: signals arriving during sends', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aiotx-signals-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const { backend, zeroCopy, skip } of backendCases) {
    it(`${backend}: ${JOBS} jobs under a SIGUSR2 storm`, { skip }, async (t) => {
      const seed = 0x5160 + backend.length;
      const files: string[] = [];
      for (let i = 2; i < JOBS; i += 3) {
        files[i] = join(dir, `${backend}-${i}.bin`);
        writeFileSync(files[i]!, streamBytes(seed, i * SIZE, SIZE));
      }
      const rx = await hashingReceiver();
      const run = runScenario(
        `
        let signals = 0;
        process.on('SIGUSR2', () => signals++);
        report({ pid: process.pid });
        // The storm is on once signals arrive.
        while (signals < 100) await new Promise((r) => setImmediate(r));
        const files = ${JSON.stringify(files)};
        const c = await connect(${rx.port});
        const before = signals;
        const jobs = [];
        for (let i = 0; i < ${JOBS}; i++) {
          if (files[i]) jobs.push(sendFile(c, files[i]));
          else jobs.push(aioWrite(c, streamBytes(${seed}, i * ${SIZE}, ${SIZE}), { zeroCopy: i % 3 === 0 ? '${zeroCopy}' : 'off' }));
        }
        const res = await outcomes(jobs);
        const during = signals - before;
        c.end();
        if (!c.closed) await new Promise((r) => c.once('close', r));
        report({ during, outcomes: res, leaks: await leaks() });
        // The test stops the storm now; exit only once it is over (exiting restores SIGUSR2's
        // default action, which is to die): 20 quiet timer ticks in a row.
        for (let quiet = 0, seen = signals; quiet < 20; quiet = signals === seen ? quiet + 1 : 0, seen = signals) await new Promise((r) => setTimeout(r, 10));`,
        { env: { AIOTX_BACKEND: backend } },
      );
      const { pid } = (await run.next()) as { pid: number };
      const storm = spawn('sh', ['-c', 'while kill -USR2 "$0" 2>/dev/null; do :; done', String(pid)], { stdio: 'ignore' });
      const out = (await run.next()) as { during: number; outcomes: Outcome[]; leaks: Leaks };
      storm.kill();
      if (storm.exitCode === null && storm.signalCode === null) await once(storm, 'exit');
      await assertCleanExit(run);
      const got = await (await rx.connection(0)).done;
      await rx.close();
      assert.ok(out.during > 0, 'signals arrived while the jobs were in flight');
      assert.deepEqual(out.outcomes.filter((o) => !o.ok), []);
      assert.equal(got.bytes, JOBS * SIZE);
      assertPrefix(got, seed, 'receiver');
      assert.deepEqual(out.leaks, { transmitters: 0, ringTags: 0, fds: [], vmPinKb: 0, vmLckKb: 0 });
      figures(t, 'signals', { backend, jobs: JOBS, signalsDuringSends: out.during, bytesExact: got.bytes, allSettled: true, exit: 0, leaks: 0 });
    });
  }
});
