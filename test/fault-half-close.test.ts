// Fault: the peer half-closes (sends its FIN at once) and keeps reading. Every job still
// completes and arrives exact: on a net.Socket, Node's automatic end() waits for the pending jobs;
// on a raw fd, the peer's FIN changes nothing. The sender exits on its own, holding nothing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backendCases } from './helpers/backends.js';
import { assertCleanExit, assertPrefix, figures, hashingReceiver, runScenario, type Outcome } from './helpers/fault.js';
import type { Leaks } from './helpers/leaks.js';

const JOBS = 32;
const SIZE = 1 << 20;

describe('fault: peer half-close', () => {
  for (const { backend, zeroCopy, skip } of backendCases) {
    for (const target of ['net.Socket', 'raw fd'] as const) {
      it(`${backend}, ${target}: the peer's FIN arrives before ${JOBS} jobs went out`, { skip }, async (t) => {
        const seed = 0xfa1f + backend.length + target.length;
        const rx = await hashingReceiver((s) => s.end());
        const run = runScenario(
          `
          // The raw fd's owner keeps its side open (a net.Socket would end() on the peer's FIN).
          const c = await connect(${rx.port}, { allowHalfOpen: ${target === 'raw fd'} });
          const peerEnded = new Promise((r) => c.once('end', r));
          const res = await outcomes(jobsOf(${target === 'raw fd' ? 'c._handle.fd' : 'c'}, ${seed}, ${JOBS}, ${SIZE}, { zeroCopy: '${zeroCopy}' }));
          await peerEnded;
          c.end();
          if (!c.closed) await new Promise((r) => c.once('close', r));
          report({ outcomes: res, leaks: await leaks() });`,
          { env: { AIOTX_BACKEND: backend } },
        );
        const { outcomes, leaks } = (await run.next()) as { outcomes: Outcome[]; leaks: Leaks };
        await assertCleanExit(run);
        const got = await (await rx.connection(0)).done;
        await rx.close();
        const failed = outcomes.filter((o) => !o.ok);
        assert.deepEqual(failed, [], 'every job completed');
        assert.equal(got.bytes, JOBS * SIZE);
        assertPrefix(got, seed, 'receiver');
        assert.equal(got.ending, 'end');
        assert.deepEqual(leaks, { transmitters: 0, ringTags: 0, fds: [], vmPinKb: 0, vmLckKb: 0 });
        figures(t, 'half-close', { backend, target, jobs: JOBS, bytesExact: got.bytes, fulfilled: outcomes.length, allSettled: true, exit: 0, leaks: 0 });
      });
    }
  }
});
