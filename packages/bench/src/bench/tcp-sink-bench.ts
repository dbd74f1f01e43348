// `aiotx bench --sink tcp`: every way of sending a TCP stream, measured where TCP zero-copy is real
// (tcp-sink-rig.ts). For each size, every method in turn (interleaved), repeated, each run a
// sender process of its own (tcp-sink-sender.ts, through child-run.ts) on a fresh rig connection
// whose ACK injector runs here, so the sender's CPU is its own. Every run is checked against the
// kernel: TCP_INFO's bytes ACKed and the eBPF tracker's highest sequence number must equal the
// bytes the sender reported. Runs are reduced to medians, then to ratios.
import { cpus, release } from 'node:os';
import { fileURLToPath } from 'node:url';
import { probe } from 'aiotx';
import { runChild } from './child-run.js';
import { WARMUP_SECONDS, cpuPercentOfOneCore, cpuSecondsPerGB, gigabitsPerSecond, median, ratio, serviceDemand } from './cpu-accounting.js';
import { TCP_SINK_METHOD_SETUP, type TcpSinkJob, type TcpSinkMethod, type TcpSinkSample } from './tcp-sink-methods.js';
import { batchOf } from './bench-methods.js';
import { defaultAckerTuning, sinkEnds, startRigAcker, withTcpSinkRig, type AckerTuning, type TcpSinkRig } from './tcp-sink-rig.js';

export interface TcpSinkBenchOptions {
  sizes: number[];
  methods: TcpSinkMethod[];
  durationSeconds: number;
  /** Sends in flight, each with its own buffer. */
  depth: number;
  /** Buffers per aioWrite call in the -batch methods' rows. */
  batch: number;
  repeat: number;
  noDelay: boolean;
  /** Distinct memory each sender rotates through; 0 = hot (one buffer per lane). */
  workingSetBytes: number;
}

export interface TcpSinkRunFigures {
  bytes: number;
  wallSeconds: number;
  cpuSeconds: number;
  gbitPerSecond: number;
  cpuPercent: number;
  cpuSecondsPerGB: number;
  serviceDemand: number;
  /** % of one core this method would take to send 40 Gbit/s (5 GB/s): s/GB × 5, the seed's unit. */
  percentAt40Gbit: number;
  systemPercent: number;
  softirqPercent: number;
  /** 0..1, or null where the method cannot tell (write). */
  zeroCopyShare: number | null;
  copiedShare: number | null;
  workingSetBytes: number;
  /** ACKs injected and packets the eBPF tracker saw leave (TSO skbs, before segmentation), warm-up included. */
  acks: number;
  packets: number;
  /** The bytes those counters cover: `bytes` plus the JavaScript senders' uncounted warm-up. */
  trackedBytes: number;
  retransmissions: number;
}

/** One table cell: medians over the runs, ratios, and every run kept. */
export interface TcpSinkCell extends TcpSinkRunFigures {
  method: TcpSinkMethod;
  size: number;
  status: 'ok' | 'unavailable' | 'failed';
  reason: string | null;
  backend: string | null;
  gbitVsReference: number | null;
  cpuPerGBVsReference: number | null;
  gbitVsWrite: number | null;
  cpuPerGBVsWrite: number | null;
  cpuPerGBVsCopy: number | null;
  runs: TcpSinkRunFigures[];
}

export interface TcpSinkBenchReport {
  kind: 'aiotx-bench-tcp-sink';
  version: 1;
  date: string;
  kernel: string;
  cpus: number;
  note: string;
  rig: Pick<TcpSinkRig, 'interface' | 'localAddress' | 'sinkAddress' | 'port'>;
  acker: AckerTuning;
  options: TcpSinkBenchOptions;
  results: TcpSinkCell[];
}

export interface TcpSinkCellStart {
  index: number;
  total: number;
  method: TcpSinkMethod;
  size: number;
  run: number;
}

export const TCP_SINK_NOTE =
  'TCP sink rig: an established TCP connection (TCP_REPAIR) into a veth whose packets a tc filter steals, ACKed by an injector thread; ' +
  "the kernel's send path runs in full, nothing is copied or delivered: sender CPU only (the ACK injector is not counted), " +
  `after ${WARMUP_SECONDS} s of the same loop uncounted in JavaScript senders (V8 compiles it; the C loops need none)`;

const SENDER_SCRIPT = fileURLToPath(new URL('./tcp-sink-sender.js', import.meta.url));

function figuresOf(s: TcpSinkSample, tracked: { acks: number; packets: number }): TcpSinkRunFigures {
  const perGB = cpuSecondsPerGB(s.cpuSeconds, s.bytes);
  return {
    bytes: s.bytes,
    wallSeconds: s.wallSeconds,
    cpuSeconds: s.cpuSeconds,
    gbitPerSecond: gigabitsPerSecond(s.bytes, s.wallSeconds),
    cpuPercent: cpuPercentOfOneCore(s.cpuSeconds, s.wallSeconds),
    cpuSecondsPerGB: perGB,
    serviceDemand: serviceDemand(s.cpuSeconds, s.bytes),
    percentAt40Gbit: perGB * 5 * 100,
    systemPercent: s.systemPercent,
    softirqPercent: s.softirqPercent,
    zeroCopyShare: s.zeroCopyBytes === null || s.bytes === 0 ? null : s.zeroCopyBytes / s.bytes,
    copiedShare: s.copiedBytes === null || s.bytes === 0 ? null : s.copiedBytes / s.bytes,
    workingSetBytes: s.workingSetBytes,
    acks: tracked.acks,
    packets: tracked.packets,
    trackedBytes: s.bytes + s.warmupBytes,
    retransmissions: s.totalRetrans,
  };
}

function emptyCell(method: TcpSinkMethod, size: number): TcpSinkCell {
  return {
    method, size, status: 'ok', reason: null, backend: null,
    bytes: NaN, wallSeconds: NaN, cpuSeconds: NaN, gbitPerSecond: NaN, cpuPercent: NaN, cpuSecondsPerGB: NaN, serviceDemand: NaN,
    percentAt40Gbit: NaN, systemPercent: NaN, softirqPercent: NaN, zeroCopyShare: null, copiedShare: null, workingSetBytes: NaN,
    acks: NaN, packets: NaN, trackedBytes: NaN, retransmissions: NaN,
    gbitVsReference: null, cpuPerGBVsReference: null, gbitVsWrite: null, cpuPerGBVsWrite: null, cpuPerGBVsCopy: null, runs: [],
  };
}

function summarize(cell: TcpSinkCell, backends: string[]): void {
  const runs = cell.runs;
  if (runs.length === 0) return;
  const mid = (pick: (r: TcpSinkRunFigures) => number) => median(runs.map(pick));
  const keys = [
    'bytes', 'wallSeconds', 'cpuSeconds', 'gbitPerSecond', 'cpuPercent', 'cpuSecondsPerGB', 'serviceDemand', 'percentAt40Gbit',
    'systemPercent', 'softirqPercent', 'workingSetBytes', 'acks', 'packets', 'trackedBytes',
  ] as const;
  for (const k of keys) cell[k] = mid((r) => r[k]);
  // Shares and retransmissions: the worst run, so one copied byte anywhere shows.
  cell.zeroCopyShare = runs[0]!.zeroCopyShare === null ? null : Math.min(...runs.map((r) => r.zeroCopyShare!));
  cell.copiedShare = runs[0]!.copiedShare === null ? null : Math.max(...runs.map((r) => r.copiedShare!));
  cell.retransmissions = Math.max(...runs.map((r) => r.retransmissions));
  const distinct = [...new Set(backends)];
  cell.backend = distinct.length === 0 ? null : distinct.join('/');
}

function addRatios(results: TcpSinkCell[]): void {
  const find = (method: TcpSinkMethod, size: number) => results.find((r) => r.method === method && r.size === size && r.status === 'ok');
  for (const r of results) {
    if (r.status !== 'ok') continue;
    const ref = find('reference', r.size);
    const write = find('write', r.size);
    r.gbitVsReference = ratio(r.gbitPerSecond, ref?.gbitPerSecond);
    r.cpuPerGBVsReference = ratio(r.cpuSecondsPerGB, ref?.cpuSecondsPerGB);
    r.gbitVsWrite = ratio(r.gbitPerSecond, write?.gbitPerSecond);
    r.cpuPerGBVsWrite = ratio(r.cpuSecondsPerGB, write?.cpuSecondsPerGB);
    r.cpuPerGBVsCopy = ratio(r.cpuSecondsPerGB, find('aio-copy', r.size)?.cpuSecondsPerGB);
  }
}

function unavailableReason(method: TcpSinkMethod): string | null {
  const needs = TCP_SINK_METHOD_SETUP[method].needs;
  if (needs === null) return null;
  const status = probe().backends[needs];
  return status.available ? null : `${needs} unavailable: ${status.reason ?? 'unknown reason'}`;
}

/** Why a run's figures cannot be trusted: the kernel saw other bytes than the sender reported. */
function kernelMismatch(s: TcpSinkSample, highestSeq: number, isn: number): string | null {
  const bytes = s.bytes + s.warmupBytes;
  if (s.bytesAcked !== bytes) return `the sender reported ${bytes} bytes (warm-up included), TCP_INFO has ${s.bytesAcked} ACKed`;
  const seen = (highestSeq - isn) >>> 0;
  if (seen !== bytes % 2 ** 32) return `the sender reported ${bytes} bytes (warm-up included), the eBPF tracker saw ${seen} (mod 2^32) leave`;
  return null;
}

/** Runs every cell inside one rig. Throws when the rig cannot be built: check tcpSinkRigSkipReason() first. */
export async function runTcpSinkBench(options: TcpSinkBenchOptions, onCellStart: (cell: TcpSinkCellStart) => void = () => {}): Promise<TcpSinkBenchReport> {
  const tuning = defaultAckerTuning();
  return withTcpSinkRig(async (rig) => {
    const results: TcpSinkCell[] = [];
    const total = options.sizes.length * options.repeat * options.methods.length;
    let index = 0;
    let connection = 0;
    for (const size of options.sizes) {
      const cells = new Map(options.methods.map((m) => [m, emptyCell(m, size)]));
      const backends = new Map<TcpSinkMethod, string[]>(options.methods.map((m) => [m, []]));
      for (const m of options.methods) {
        const why = unavailableReason(m);
        if (why) Object.assign(cells.get(m)!, { status: 'unavailable', reason: why });
      }
      for (let run = 1; run <= options.repeat; run++) {
        for (const method of options.methods) {
          index++;
          const cell = cells.get(method)!;
          if (cell.status !== 'ok') continue;
          onCellStart({ index, total, method, size, run });
          const ends = sinkEnds(rig, connection++);
          const job: TcpSinkJob = {
            method, ends, size, depth: options.depth, batch: batchOf(method, options.batch), durationSeconds: options.durationSeconds, noDelay: options.noDelay,
            workingSetBytes: options.workingSetBytes,
          };
          const acker = startRigAcker(rig, ends, tuning);
          let outcome;
          try {
            outcome = await runChild<TcpSinkSample>(SENDER_SCRIPT, [`--job=${JSON.stringify(job)}`], TCP_SINK_METHOD_SETUP[method].backendEnv, options.durationSeconds * 1000 + 60_000);
          } finally {
            acker.stop();
          }
          const counters = acker.stop();
          if (!outcome.ok) {
            Object.assign(cell, { status: outcome.unavailable ? 'unavailable' : 'failed', reason: outcome.reason });
            continue;
          }
          const mismatch = kernelMismatch(outcome.sample, counters.highestSeq, ends.isn);
          if (mismatch) {
            Object.assign(cell, { status: 'failed', reason: `run ${run}: ${mismatch}` });
            continue;
          }
          cell.runs.push(figuresOf(outcome.sample, counters));
          if (outcome.sample.backend) backends.get(method)!.push(outcome.sample.backend);
        }
      }
      for (const m of options.methods) {
        const cell = cells.get(m)!;
        if (cell.status !== 'ok') cell.runs = [];
        summarize(cell, backends.get(m)!);
        results.push(cell);
      }
    }
    addRatios(results);
    return {
      kind: 'aiotx-bench-tcp-sink',
      version: 1,
      date: new Date().toISOString(),
      kernel: release(),
      cpus: cpus().length,
      note: TCP_SINK_NOTE,
      rig: { interface: rig.interface, localAddress: rig.localAddress, sinkAddress: rig.sinkAddress, port: rig.port },
      acker: tuning,
      options,
      results,
    };
  });
}
