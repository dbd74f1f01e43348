// io_uring SEND_ZC's IORING_NOTIF_USAGE_ZC_COPIED is set on a stacked notification that covered no
// skb of its own (see NotifRun in src/engine/uring-backend.ts): with Nagle on, 32 KiB writes over
// the TCP sink rig reported 46-58 % of their bytes COPIED while MSG_ZEROCOPY and the C floor
// reported none. The rule that reads the flag through its chain is checked on the CQE order the
// kernel produced, on the rig (every byte zero-copy, and stacking did happen), and on loopback,
// where the kernel really copies and every byte must still say so. The rig and loopback checks
// failed (or could not have passed) before the rule: the first reported copies, the count of
// reattributed flags did not exist. Both also check that jobs settle in call order although the
// kernel posts a stacked chain's linked sends newest first: before the backend handed releases to
// jobs in send order, about 220 of the 2000 loopback jobs settled after a later one.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { sinkEnds, startRigAcker, tcpSinkRigSkipReason, withTcpSinkRig } from 'aiotx-bench/internal/bench/tcp-sink-rig.js';
import { NotifRun } from '../src/engine/uring-backend.js';
import { probe } from '../src/index.js';
import { runReportingChild } from './helpers/child.js';

const CHILD = fileURLToPath(new URL('./helpers/uring-stacking-child.js', import.meta.url));
const uring = probe().backends.uring;
const noUring = uring.available ? false : `uring unavailable: ${uring.reason}`;
const rigSkip = noUring || (tcpSinkRigSkipReason() ?? false);

interface ChildReport {
  bytes: number;
  zeroCopyBytes: number;
  copiedBytes: number;
  backends: string[];
  stacked: number;
  outOfOrder: number;
  info: { bytesAcked: number; totalRetrans: number } | null;
}

const runChild = (args: string[]) => runReportingChild<ChildReport>(CHILD, 'uring', args);

/** Feeds notification CQEs [order, flagged] at consecutive positions from `at`; returns the verdicts. */
function run(r: NotifRun, at: number, cqes: [order: number, flagged: boolean][]): boolean[] {
  return cqes.map(([order, flagged], i) => r.copied(order, flagged, at + i, true));
}

describe('uring: reading IORING_NOTIF_USAGE_ZC_COPIED through stacked notifications', () => {
  it('a chain as the kernel posts it (head, then the sends linked onto its skb, newest first) is zero-copy', () => {
    // Seen on the rig: sends 3004..3007 of one socket; 3005 and 3006 had no skb of their own.
    assert.deepEqual(run(new NotifRun(), 10, [[3004, false], [3006, true], [3005, true], [3007, false]]), [false, false, false, false]);
  });

  it('real copies stay copies: loopback flags every one, an isolated flag, an owner that copied', () => {
    assert.deepEqual(run(new NotifRun(), 1, [[1, true], [3, true], [2, true]]), [true, true, true]);
    const r = new NotifRun();
    assert.deepEqual(run(r, 1, [[1, false]]), [false]);
    assert.deepEqual(run(r, 3, [[2, true]]), [true], 'not in the same run of CQEs: no owner');
    // 4 cannot be told from a send with no skb of its own (the documented limit); 5's nearest
    // earlier send in the run is 4, whose own skbs copied: 5 rode on them.
    assert.deepEqual(run(new NotifRun(), 1, [[3, false], [4, true], [5, true]]), [false, false, true]);
    // A flag with no earlier send in its run (the owner came in an earlier read): counted copied.
    assert.deepEqual(run(new NotifRun(), 1, [[7, true], [6, false]]), [true, false]);
  });

  it('over the TCP sink rig, Nagle on, 32 KiB writes 8 in flight: every byte zero-copy although the kernel flagged stacked ones', { skip: rigSkip }, async () => {
    await withTcpSinkRig(async (rig) => {
      const ends = sinkEnds(rig, 7);
      const acker = startRigAcker(rig, ends);
      let report: ChildReport;
      try {
        report = await runChild([`--ends=${JSON.stringify(ends)}`, '--jobs=4000', `--size=${32 << 10}`, '--depth=8']);
      } finally {
        acker.stop();
      }
      assert.deepEqual(report.backends, ['uring']);
      assert.equal(report.bytes, 4000 * (32 << 10));
      assert.ok(report.stacked > 0, `stacking happened: ${report.stacked} COPIED flags were a chain's, not copies`);
      assert.equal(report.copiedBytes, 0, JSON.stringify(report));
      assert.equal(report.zeroCopyBytes, report.bytes);
      assert.equal(report.outOfOrder, 0, 'jobs settled in call order although stacked notifications come newest first');
      assert.equal(report.info!.bytesAcked, report.bytes, 'TCP_INFO: every byte ACKed');
      assert.equal(report.info!.totalRetrans, 0);
    });
  });

  it('over loopback, where the kernel copies every byte, every byte still says so', { skip: noUring }, async () => {
    const report = await runChild(['--jobs=2000', `--size=${32 << 10}`, '--depth=8']);
    assert.deepEqual(report.backends, ['uring']);
    assert.equal(report.copiedBytes, report.bytes, JSON.stringify(report));
    assert.equal(report.zeroCopyBytes, 0);
    assert.equal(report.outOfOrder, 0, 'jobs settled in call order although stacked notifications come newest first');
  });
});
