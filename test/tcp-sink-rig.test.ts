// The TCP sink rig (packages/bench: src/bench/tcp-sink-rig.ts, native/tcp_sink.c): TCP zero-copy that is real on
// one machine. Over it, aioWrite with zeroCopy 'on' must complete every byte without a copy on both
// zero-copy backends (and from a wired pool), a copy job must report its copy, sendFile must work,
// and the kernel's own counters must agree: every byte the jobs reported was ACKed (TCP_INFO) and
// left through the veth (the eBPF tracker's highest sequence number), none retransmitted. The sink
// has no receiver, so those counters stand in for hashing both ends. The rig, its tc filter and
// its eBPF link must be gone afterwards.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  closeSinkSocket,
  openSinkSocket,
  sinkEnds,
  startRigAcker,
  tcpSinkRigLinks,
  tcpSinkRigSkipReason,
  withTcpSinkRig,
  type TcpSinkRig,
} from 'aiotx-bench/internal/bench/tcp-sink-rig.js';
import { CALIBRATE_ZERO_COPY, crossoverOf, thresholdOf, type CalibrationReport } from 'aiotx-bench/internal/bench/calibrate.js';
import type { TcpSinkBenchReport } from 'aiotx-bench/internal/bench/tcp-sink-bench.js';
import { TCP_SINK_TABLES } from 'aiotx-bench/internal/bench/tcp-sink-tables.js';
import { describeCalibration } from 'aiotx-bench/internal/cli/bench-command.js';
import { sinkReferenceSend, tcpInfo } from 'aiotx-bench/internal/native/tcp-sink-ops.js';
import type { WriteResult } from '../src/index.js';
import { addon } from 'aiotx-bench/internal/native/addon.js';
import { fdOf } from './helpers/sockets.js';
import { runReportingChild } from './helpers/child.js';

const skip = tcpSinkRigSkipReason() ?? false;
const CHILD = fileURLToPath(new URL('./helpers/tcp-sink-child.js', import.meta.url));
// dist/test/ → the repository root.
const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = fileURLToPath(new URL('../../bin/aiotx.js', import.meta.url));
const MiB = 1 << 20;

interface ChildReport {
  zeroCopy: WriteResult[];
  copy: WriteResult;
  pool: { results: WriteResult[] } | { reason: string };
  sendFile: WriteResult;
  info: { bytesAcked: number; bytesSent: number; bytesRetrans: number; totalRetrans: number; unacked: number };
}

/** This process's open eBPF link fds (the tracker's TCX attachment). */
function bpfLinks(): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === 'anon_inode:bpf_link') n++;
    } catch {
      // closed meanwhile (readdir's own fd)
    }
  }
  return n;
}

const runChild = (backend: string, args: string[]) => runReportingChild<ChildReport>(CHILD, backend, args);

describe('tcp sink rig: native entries refuse bad input', () => {
  it('throws on wrong types and ranges, returns -errno for impossible requests', () => {
    assert.throws(() => addon.tcpSinkSocket(1 as unknown as string, 1, '198.18.7.2', 1, 0, 0, 1000), TypeError);
    assert.throws(() => addon.tcpSinkSocket('198.18.7.1', 0, '198.18.7.2', 1, 0, 0, 1000), RangeError);
    assert.throws(() => addon.tcpSinkSocket('198.18.7.1', 1, '198.18.7.2', 1, 2 ** 32, 0, 1000), RangeError);
    assert.throws(() => addon.tcpSinkSocket('198.18.7.1', 1, '198.18.7.2', 1, 0, 0, 40000), RangeError);
    assert.throws(() => addon.tcpSinkSocket('x'.repeat(100), 1, '198.18.7.2', 1, 0, 0, 1000), RangeError);
    assert.equal(addon.tcpSinkSocket('not an address', 1, '198.18.7.2', 1, 0, 0, 1000), -22); // EINVAL
    assert.equal(addon.tcpAckerStart('no-such-if0', '198.18.7.1', 1, '198.18.7.2', 1, 0, 0, 1, 0, 0, 0), -19); // ENODEV
    assert.throws(() => addon.tcpAckerStart('lo', '198.18.7.1', 1, '198.18.7.2', 1, 0, 0, 0, 0, 0, 0), RangeError); // ackBytes 0
    assert.throws(() => addon.tcpAckerStart('lo', '198.18.7.1', 1, '198.18.7.2', 1, 0, 0, 1, 0, 0, 5000), RangeError); // cpu
    assert.throws(() => addon.tcpAckerStop('0' as unknown as number), TypeError);
    assert.throws(() => addon.tcpAckerStop(16), RangeError);
    assert.equal(addon.tcpAckerStop(15), -9); // EBADF: no such acker
    assert.equal(addon.tcpAckerCounters(0), -9);
    assert.throws(() => addon.tcpSinkQuiet(-1), RangeError);
    assert.equal(addon.tcpSinkQuiet(0x7ffffff0), -9);
    assert.equal(typeof addon.tcpInfo(0x7ffffff0), 'number');
    assert.throws(() => addon.sinkReferenceSend(0, Buffer.alloc(4), 0, 0, false, 0), RangeError);
    assert.equal(addon.sinkReferenceSend(0, Buffer.alloc(4), 8, 0, false, 0), -14); // EFAULT: data shorter than size
    assert.throws(() => addon.sinkReferenceSend(0, 'data' as unknown as Buffer, 1, 0, false, 0), TypeError);
    // The io_uring floor: size, segment and depth bounds, a non-boolean fixed, short data, a bad fd.
    assert.throws(() => addon.sinkReferenceUring(0, Buffer.alloc(4), 0, 0, 1472, 8, true), RangeError);
    assert.throws(() => addon.sinkReferenceUring(0, Buffer.alloc(4), 4, 0, 65508, 8, true), RangeError);
    assert.throws(() => addon.sinkReferenceUring(0, Buffer.alloc(4), 4, 0, 1472, 8, 1 as unknown as boolean), TypeError);
    assert.throws(() => addon.sinkReferenceUring(0, Buffer.alloc(4), 4, 0, 1472, 0, true), RangeError);
    assert.throws(() => addon.sinkReferenceUring(0, Buffer.alloc(4), 4, 0, 1472, 65, true), RangeError);
    assert.throws(() => addon.sinkReferenceUring(0, Buffer.alloc(4), 4, -1, 1472, 8, true), RangeError);
    assert.throws(() => addon.sinkReferenceUring(0, 'data' as unknown as Buffer, 4, 0, 1472, 8, true), TypeError);
    assert.equal(addon.sinkReferenceUring(0, Buffer.alloc(4), 8, 0, 1472, 8, true), -14); // EFAULT: data shorter than size
    assert.equal(addon.sinkReferenceUring(0x7ffffff0, Buffer.alloc(4), 4, 0, 1472, 8, true), -9); // EBADF
  });

  it('refuses a datagram socket for the C send loop and TCP_INFO; the io_uring floor takes one', async () => {
    const udp = createSocket('udp4');
    udp.bind(0, '127.0.0.1');
    await once(udp, 'listening');
    try {
      const fd = fdOf(udp);
      assert.equal(addon.sinkReferenceSend(fd, Buffer.alloc(4), 4, 0, false, 0), -91); // EPROTOTYPE
      // The io_uring floor takes it: with no time to send, nothing is sent (or io_uring cannot run here).
      const r = addon.sinkReferenceUring(fd, Buffer.alloc(4), 4, 0, 1472, 8, true);
      if (typeof r === 'number') assert.ok(r < 0);
      else assert.deepEqual(Array.from(r), [0, 0, 0, 0, 0]);
      // Segment 0 means a TCP socket (MSG_WAITALL): a datagram one is refused.
      assert.equal(addon.sinkReferenceUring(fd, Buffer.alloc(4), 4, 0, 0, 8, false), -91);
      assert.equal(typeof addon.tcpInfo(fd), 'number');
    } finally {
      udp.close();
    }
  });
});

describe('tcp sink rig', { skip }, () => {
  it('exists only while in use: filter stealing egress on the near end, far end down; removed when fn throws', async () => {
    let seen: TcpSinkRig | undefined;
    await assert.rejects(
      withTcpSinkRig(async (rig) => {
        seen = rig;
        assert.match(rig.sinkAddress, /^198\.18\.7\.\d+$/);
        assert.ok(rig.interface.length <= 15);
        const filters = execFileSync('tc', ['filter', 'show', 'dev', rig.interface, 'egress'], { encoding: 'utf8' });
        assert.match(filters, /bpf/, 'the TC_ACT_STOLEN filter is attached');
        const [far] = JSON.parse(execFileSync('ip', ['-j', 'link', 'show', 'dev', rig.peerInterface], { encoding: 'utf8' })) as { flags: string[] }[];
        assert.ok(!far!.flags.includes('UP'), 'far end down');
        const neigh = execFileSync('ip', ['neigh', 'show', rig.sinkAddress, 'dev', rig.interface], { encoding: 'utf8' });
        assert.match(neigh, /PERMANENT/);
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.ok(seen);
    assert.ok(!tcpSinkRigLinks().includes(seen.interface) && !tcpSinkRigLinks().includes(seen.peerInterface));
  });

  it('a rig left by a killed process is removed on the next start', async () => {
    const rigUrl = import.meta.resolve('aiotx-bench/internal/bench/tcp-sink-rig.js');
    const script = `const { withTcpSinkRig } = await import(${JSON.stringify(rigUrl)});
      await withTcpSinkRig(async (rig) => { console.log(rig.interface); await new Promise(() => setInterval(() => {}, 1000)); });`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [line] = (await once(child.stdout.setEncoding('utf8'), 'data')) as [string];
    const name = line.trim();
    assert.ok(tcpSinkRigLinks().includes(name), 'the child built its rig');
    child.kill('SIGKILL');
    await once(child, 'close');
    assert.ok(tcpSinkRigLinks().includes(name), 'killed: nothing removed it yet');
    await withTcpSinkRig(async () => {
      assert.ok(!tcpSinkRigLinks().includes(name), 'the stale rig is gone once a new one starts');
    });
  });

  for (const backend of ['uring', 'msgzerocopy']) {
    it(`${backend}: zero-copy jobs complete with no byte copied, copy reports its copy, sendFile works; every byte ACKed, none re-sent`, async (t) => {
      const linksBefore = bpfLinks();
      let rigName = '';
      await withTcpSinkRig(async (rig) => {
        rigName = rig.interface;
        const ends = sinkEnds(rig, backend === 'uring' ? 1 : 2);
        const acker = startRigAcker(rig, ends);
        let report: ChildReport;
        try {
          assert.equal(bpfLinks(), linksBefore + 1, 'the tracker is attached');
          report = await runChild(backend, [`--ends=${JSON.stringify(ends)}`, '--jobs=16', `--size=${MiB}`]);
        } finally {
          acker.stop();
        }
        const counters = acker.stop();
        assert.equal(bpfLinks(), linksBefore, 'the tracker is detached once stopped');
        for (const r of report.zeroCopy) {
          assert.equal(r.backend, backend);
          assert.equal(r.bytes, MiB);
          assert.equal(r.zeroCopyBytes, r.bytes, `zero-copy: ${JSON.stringify(r)}`);
          assert.equal(r.copiedBytes, 0);
        }
        assert.equal(report.copy.copiedBytes, report.copy.bytes, 'the copy job reports its copy');
        assert.equal(report.copy.zeroCopyBytes, 0);
        assert.equal(report.sendFile.bytes, MiB);
        let total = [...report.zeroCopy, report.copy, report.sendFile].reduce((n, r) => n + r.bytes, 0);
        if ('results' in report.pool) {
          for (const r of report.pool.results) {
            assert.equal(r.zeroCopyBytes, r.bytes, `wired pool: ${JSON.stringify(r)}`);
            total += r.bytes;
          }
        } else {
          t.diagnostic(`wired pool not tested: ${report.pool.reason}`);
        }
        assert.equal(report.info.bytesAcked, total, 'TCP_INFO: every byte the jobs reported was ACKed');
        assert.equal(report.info.bytesSent, total, 'TCP_INFO: sent once');
        assert.equal(report.info.totalRetrans, 0);
        assert.equal(report.info.bytesRetrans, 0);
        assert.equal((counters.highestSeq - ends.isn) >>> 0, total, 'the eBPF tracker saw every byte leave');
        assert.ok(counters.acks > 0);
      });
      assert.ok(!tcpSinkRigLinks().includes(rigName), 'veth (and its tc filter) removed');
    });
  }

  it('at most 16 injectors at once: the 17th is refused (EMFILE), each stop detaches its tracker', async () => {
    const linksBefore = bpfLinks();
    await withTcpSinkRig(async (rig) => {
      const ackers = Array.from({ length: 16 }, (_, i) => startRigAcker(rig, sinkEnds(rig, 100 + i)));
      try {
        assert.equal(bpfLinks(), linksBefore + 16);
        assert.throws(() => startRigAcker(rig, sinkEnds(rig, 200)), { code: 'EMFILE' });
        assert.equal(bpfLinks(), linksBefore + 16, 'the refused one left nothing attached');
      } finally {
        for (const a of ackers) a.stop();
      }
      assert.equal(bpfLinks(), linksBefore);
    });
  });

  it('the C MSG_ZEROCOPY loop: every send completes without a copy', async () => {
    await withTcpSinkRig(async (rig) => {
      const ends = sinkEnds(rig, 3);
      const acker = startRigAcker(rig, ends);
      const { socket, fd } = openSinkSocket(ends);
      try {
        const r = sinkReferenceSend(fd, Buffer.alloc(4 * MiB, 1), 256 << 10, 200, true);
        assert.ok(r.sends > 0);
        assert.equal(r.zeroCopySends, r.sends, JSON.stringify(r));
        assert.equal(r.copiedSends, 0);
        const info = tcpInfo(fd);
        assert.equal(info.bytesSent, r.bytes);
        assert.equal(info.totalRetrans, 0);
      } finally {
        closeSinkSocket(socket, fd);
        acker.stop();
      }
    });
  });
});

describe('aiotx bench --sink tcp', () => {
  for (const [args, message] of [
    [['--sink', 'tcp', '--datagram-size', '1000'], /--datagram-size does not apply to --sink tcp/],
    [['--sink', 'tcp', '--hot', '--working-set', '8M'], /--hot and --working-set exclude each other/],
    [['--sink', 'tcp', '--method', 'nope'], /unknown method 'nope'/],
    [['--sink', 'bogus'], /--sink takes udp or tcp, got 'bogus'/],
    [['--hot'], /--hot applies to --sink tcp only/],
    [['--sink', '--hot'], /--hot does not apply to --sink/],
    [['--calibrate'], /--calibrate applies to --sink tcp only/],
    [['--sink', '--calibrate'], /--calibrate applies to --sink tcp only/],
    [['--sink', 'tcp', '--calibrate', '--method', 'aio-copy'], /--method does not apply to --calibrate/],
    [['--sink', 'tcp', '--calibrate', '--hot'], /--hot does not apply to --calibrate/],
    [['--sink', 'tcp', '--calibrate', '--report', '/tmp/x'], /--report does not apply to --calibrate/],
    [['--sink', 'tcp', '--calibrate', '--sizes', 'nope'], /--sizes: not a size/],
    [['--sink', 'tcp', '--calibrate', '--repeat', '0'], /--repeat/],
  ] as const) {
    it(`${args.join(' ')} is a usage error (exit 2)`, () => {
      const r = spawnSync(process.execPath, [bin, 'bench', ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, message);
    });
  }

  it('--json --report: every run (batched rows too) checked by the kernel; zero-copy rows all zero-copy, copy rows none, no retransmission; the HTML report written', { skip }, () => {
    const methods = 'aio-copy,aio-copy-batch,aio-zc-uring,aio-zc-pool-batch,aio-zc-msgzerocopy,reference,reference-zc,reference-uring,reference-uring-unregistered';
    const dir = mkdtempSync(join(tmpdir(), 'aiotx-tcp-report-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const out = execFileSync(
      process.execPath,
      [bin, 'bench', '--sink', 'tcp', '--method', methods, '--sizes', '64K', '--working-set', '8M', '--batch', '4', '--duration', '0.2', '--repeat', '1', '--json', '--report', dir],
      { cwd: root, encoding: 'utf8', timeout: 240_000, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const report = JSON.parse(out) as {
      kind: string;
      results: { method: string; status: string; reason: string | null; bytes: number; trackedBytes: number; zeroCopyShare: number | null; retransmissions: number; workingSetBytes: number }[];
    };
    assert.equal(report.kind, 'aiotx-bench-tcp-sink');
    assert.deepEqual(report.results.map((r) => r.method), methods.split(','));
    for (const r of report.results) {
      if (r.status === 'unavailable') {
        console.log(`# ${r.method}: ${r.reason}`);
        continue;
      }
      assert.equal(r.status, 'ok', `${r.method}: ${r.reason}`);
      assert.ok(r.bytes > 0, r.method);
      assert.equal(r.retransmissions, 0, r.method);
      assert.equal(r.workingSetBytes, 8 << 20, r.method);
      assert.equal(r.zeroCopyShare, r.method.includes('zc') || r.method.startsWith('reference-uring') ? 1 : 0, r.method);
      // The kernel's counters cover the JavaScript senders' warm-up too (the C loops have none).
      if (r.method.startsWith('reference')) assert.equal(r.trackedBytes, r.bytes, r.method);
      else assert.ok(r.trackedBytes > r.bytes, r.method);
    }
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')), report);
    for (const svg of ['cpu.svg', 'throughput.svg', 'service-demand.svg']) assert.match(readFileSync(join(dir, svg), 'utf8'), /^<svg[^]*<\/svg>\s*$/, svg);
    const page = readFileSync(join(dir, 'index.html'), 'utf8');
    assert.match(page, /^<!doctype html>[^]*<\/html>\n$/);
    for (const tag of ['table', 'tr', 'figure', 'svg', 'h2']) {
      assert.equal(page.split(`<${tag}`).length, page.split(`</${tag}>`).length, `<${tag}> balanced`);
    }
    assert.equal(page.split('<figure>').length - 1, 3, 'three charts');
    assert.equal(page.split('<table>').length - 1, TCP_SINK_TABLES.length, 'every table');
    assert.match(page, /<h2>% of one core at 40 Gbit\/s[^<]*<\/h2>\n<table><tr><th>method<\/th><th>64K<\/th><th>seed \| prototype C/);
    assert.match(page, /<tr><th>reference<\/th><td>\d+%<\/td><td>80\/54\/52%<\/td><\/tr>/, "the prototype's cold figures beside ours");
    assert.match(page, /cold: each sender rotates through 8M/);
  });
});

describe('aiotx bench --sink tcp --calibrate', () => {
  const KiB = 1024;
  /** A bench report with only the fields the crossover reads: aio-zc-uring's CPU per GB × aio-copy per size. */
  const fake = (ratios: (number | null)[]) =>
    ({
      options: { sizes: ratios.map((_, i) => (4 * KiB) << i) },
      results: ratios.map((r, i) => ({ method: 'aio-zc-uring', size: (4 * KiB) << i, status: r === null ? 'failed' : 'ok', cpuPerGBVsCopy: r })),
    }) as unknown as TcpSinkBenchReport;

  it('the crossover is where zero-copy saves CPU at that size and every larger one', () => {
    assert.equal(crossoverOf(fake([1.2, 0.9, 1.1, 0.8, 0.7]), 'aio-zc-uring'), 32 * KiB);
    assert.equal(crossoverOf(fake([0.9, 0.8]), 'aio-zc-uring'), 4 * KiB);
    assert.equal(crossoverOf(fake([0.9, 1.0]), 'aio-zc-uring'), null);
    assert.equal(crossoverOf(fake([0.9, null, 0.8]), 'aio-zc-uring'), 16 * KiB);
    assert.equal(crossoverOf(fake([0.9, 0.8]), 'aio-zc-msgzerocopy'), null);
    assert.equal(thresholdOf({ a: 64 * KiB, b: 128 * KiB }), 128 * KiB);
    assert.equal(thresholdOf({ a: null, b: 64 * KiB }), 64 * KiB);
    assert.equal(thresholdOf({ a: null, b: null }), null);
  });

  it('--json on a tiny run: cold and hot runs of aio-copy and both zero-copy backends, crossovers and threshold', { skip }, () => {
    const out = execFileSync(
      process.execPath,
      [bin, 'bench', '--sink', 'tcp', '--calibrate', '--sizes', '64K,128K', '--working-set', '8M', '--duration', '0.2', '--repeat', '1', '--json'],
      { cwd: root, encoding: 'utf8', timeout: 240_000, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const report = JSON.parse(out) as CalibrationReport;
    assert.equal(report.kind, 'aiotx-calibrate');
    assert.deepEqual(report.options.sizes, [64 * KiB, 128 * KiB]);
    for (const set of ['cold', 'hot'] as const) {
      const run = report.runs[set];
      assert.equal(run.options.workingSetBytes, set === 'cold' ? 8 * MiB : 0);
      assert.deepEqual(
        run.results.map((r) => `${r.method} ${r.size}`),
        [64, 128].flatMap((k) => ['aio-copy', ...CALIBRATE_ZERO_COPY].map((m) => `${m} ${k * KiB}`)),
      );
      for (const r of run.results) {
        if (r.status === 'unavailable') continue;
        assert.equal(r.status, 'ok', `${set} ${r.method}: ${r.reason}`);
        assert.ok(r.bytes > 0 && r.cpuSecondsPerGB > 0, `${set} ${r.method}`);
        assert.equal(r.retransmissions, 0, `${set} ${r.method}`);
      }
      assert.deepEqual(Object.keys(report.crossovers[set]), CALIBRATE_ZERO_COPY);
      for (const m of CALIBRATE_ZERO_COPY) assert.equal(report.crossovers[set][m], crossoverOf(run, m), `${set} ${m}`);
    }
    assert.equal(report.threshold, thresholdOf(report.crossovers.cold));
    const text = describeCalibration(report);
    assert.match(text, /^│ 64K +│/m);
    assert.match(text, /^ {2}cold: aio-zc-uring (none|64K|128K), aio-zc-msgzerocopy (none|64K|128K)$/m);
    assert.match(text, report.threshold === null ? /never saved CPU/ : new RegExp(`^AIOTX_ZEROCOPY_THRESHOLD=${report.threshold} `, 'm'));
  });
});
