// Jobs on one socket settle in call order on the kernel's own notification order, with copy jobs
// (which need no notification) mixed among zero-copy ones: every third of 32 KiB jobs, 8 in
// flight, Nagle on, is a copy job. Before the transmitter held a job's settlement until every
// earlier job had settled, about half the jobs settled after a later one, on both zero-copy
// backends (loopback: 1030 and 997 of 2000; the rig: 1487 and 1881 of 3000). Over the TCP sink
// rig, where zero-copy is real, the zero-copy jobs must also report every byte zero-copy and the
// copy jobs every byte copied. uring-order.test.ts and
// msgzerocopy-order.test.ts check the same on an order the test chooses.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { sinkEnds, startRigAcker, tcpSinkRigSkipReason, withTcpSinkRig } from 'aiotx-bench/internal/bench/tcp-sink-rig.js';
import { zeroCopyCases } from './helpers/backends.js';
import { runReportingChild } from './helpers/child.js';

const CHILD = fileURLToPath(new URL('./helpers/uring-stacking-child.js', import.meta.url));
const rigSkip = tcpSinkRigSkipReason() ?? false;
const SIZE = 32 << 10;

interface ChildReport {
  bytes: number;
  zeroCopyBytes: number;
  copiedBytes: number;
  backends: string[];
  outOfOrder: number;
  info: { bytesAcked: number; totalRetrans: number } | null;
}

const runChild = (backend: string, args: string[]) => runReportingChild<ChildReport>(CHILD, backend, args);

/** Copy jobs among `jobs` with --copy-every=3. */
const copyJobs = (jobs: number) => Math.floor(jobs / 3);

describe('jobs settle in call order with copy jobs among zero-copy ones', () => {
  for (const { backend, skip } of zeroCopyCases) {
    it(`${backend}: over loopback, 2000 jobs, every third a copy job`, { skip }, async () => {
      const jobs = 2000;
      const report = await runChild(backend, [`--jobs=${jobs}`, `--size=${SIZE}`, '--depth=8', '--copy-every=3']);
      assert.deepEqual(report.backends.sort(), [backend, 'copy'].sort());
      assert.equal(report.bytes, jobs * SIZE);
      assert.equal(report.outOfOrder, 0, `jobs settled in call order: ${JSON.stringify(report)}`);
    });

    it(`${backend}: over the TCP sink rig, 3000 jobs, every third a copy job; zero-copy ones all zero-copy`, { skip: skip || rigSkip }, async () => {
      const jobs = 3000;
      await withTcpSinkRig(async (rig) => {
        const ends = sinkEnds(rig, backend === 'uring' ? 8 : 9);
        const acker = startRigAcker(rig, ends);
        let report: ChildReport;
        try {
          report = await runChild(backend, [`--ends=${JSON.stringify(ends)}`, `--jobs=${jobs}`, `--size=${SIZE}`, '--depth=8', '--copy-every=3']);
        } finally {
          acker.stop();
        }
        assert.equal(report.bytes, jobs * SIZE);
        assert.equal(report.outOfOrder, 0, `jobs settled in call order: ${JSON.stringify(report)}`);
        assert.equal(report.copiedBytes, copyJobs(jobs) * SIZE, 'only the copy jobs copied');
        assert.equal(report.zeroCopyBytes, (jobs - copyJobs(jobs)) * SIZE);
        assert.equal(report.info!.bytesAcked, report.bytes, 'TCP_INFO: every byte ACKed');
        assert.equal(report.info!.totalRetrans, 0);
      });
    });
  }
});
