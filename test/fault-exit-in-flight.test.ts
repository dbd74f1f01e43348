// Fault: the process exits while zero-copy jobs are in flight (the kernel still holds their
// pages), by process.exit() or by an uncaught exception. No hang, no crash: the exit status is
// the one asked for (0, or Node's 1 for the exception), no signal; what reached the
// receiver is an exact prefix of the stream.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { zeroCopyCases } from './helpers/backends.js';
import { assertCleanExit, assertPrefix, figures, hashingReceiver, runScenario } from './helpers/fault.js';
import type { TcpQueues } from './helpers/sockets.js';

const JOBS = 32;
const SIZE = 1 << 20;

describe('fault: process exit with zero-copy jobs in flight', () => {
  for (const { backend, skip } of zeroCopyCases) {
    for (const how of ['process.exit()', 'an uncaught exception'] as const) {
      it(`${backend}: ${how} with ${JOBS} jobs in flight`, { skip }, async (t) => {
        const seed = 0xe417 + backend.length + how.length;
        const rx = await hashingReceiver((s) => s.pause());
        const run = runScenario(
          `
          const c = await connect(${rx.port});
          let settled = 0;
          const jobs = jobsOf(c, ${seed}, ${JOBS}, ${SIZE}, { zeroCopy: 'on' });
          for (const j of jobs) j.then(() => settled++, () => settled++);
          const queues = await stalled(c);
          report({ pending: ${JOBS} - settled, queues });
          ${how === 'process.exit()' ? 'process.exit(0);' : "setImmediate(() => { throw new Error('boom'); });"}`,
          { env: { AIOTX_BACKEND: backend } },
        );
        const { pending, queues } = (await run.next()) as { pending: number; queues: TcpQueues };
        if (how === 'process.exit()') await assertCleanExit(run);
        else {
          // Node's own status for an uncaught exception, and no crash of the addon behind it.
          const r = await run.exited;
          assert.deepEqual({ killed: r.killed, signal: r.signal, code: r.code }, { killed: false, signal: null, code: 1 }, r.stderr.slice(-2000));
          assert.match(r.stderr, /Error: boom/);
        }
        const rxSocket = (await rx.connection(0)).socket;
        rxSocket.resume();
        const got = await (await rx.connection(0)).done;
        await rx.close();
        assert.ok(pending > 0 && queues.sendQ > 0, 'the process exited with jobs in flight and bytes in the kernel');
        assertPrefix(got, seed, 'receiver');
        figures(t, 'exit-in-flight', { backend, how, jobs: JOBS, pendingAtExit: pending, kernelSendQ: queues.sendQ, bytesReceivedExact: got.bytes, receiverSaw: got.ending, exit: how === 'process.exit()' ? 0 : 1, signal: 'none' });
      });
    }
  }
});
