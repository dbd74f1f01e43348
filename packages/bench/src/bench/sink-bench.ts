// `aiotx bench --sink`: the zero-copy backends compared where zero-copy is real, the sink rig
// (sink-rig.ts). A process picks its zero-copy backend once, so every run of every method is a
// child process (sink-sender.ts) with its own AIOTX_BACKEND; methods run interleaved, repeated,
// and are reduced to medians.
import { fileURLToPath } from 'node:url';
import { cpuPercentOfOneCore, cpuSecondsPerGB, gigabitsPerSecond, median } from './cpu-accounting.js';
import { runChild, type ChildOutcome } from './child-run.js';
import type { SinkSample } from './sink-protocol.js';
import { withSinkRig, type SinkRig } from './sink-rig.js';

export type SinkMethod = 'copy' | 'msgzerocopy' | 'uring' | 'uring-pool' | 'reference' | 'reference-zc' | 'reference-uring';
export const SINK_METHODS: readonly SinkMethod[] = ['copy', 'msgzerocopy', 'uring', 'uring-pool', 'reference', 'reference-zc', 'reference-uring'];

/**
 * How each method runs: AIOTX_BACKEND (undefined = unset), the per-write zeroCopy option, and
 * whether it is aiotx at all: reference and reference-zc are the C floor, a send(2) loop of the
 * same GSO datagrams from the same cold working set (copying, and with MSG_ZEROCOPY), and
 * reference-uring the io_uring one (SEND_ZC from a registered buffer, as uring-pool sends).
 */
export const SINK_METHOD_SETUP: Record<SinkMethod, { backendEnv: string | undefined; zeroCopy: 'on' | 'off'; pool: boolean; floor: boolean }> = {
  copy: { backendEnv: undefined, zeroCopy: 'off', pool: false, floor: false },
  msgzerocopy: { backendEnv: 'msgzerocopy', zeroCopy: 'on', pool: false, floor: false },
  uring: { backendEnv: 'uring', zeroCopy: 'on', pool: false, floor: false },
  'uring-pool': { backendEnv: 'uring', zeroCopy: 'on', pool: true, floor: false },
  reference: { backendEnv: undefined, zeroCopy: 'off', pool: false, floor: true },
  'reference-zc': { backendEnv: undefined, zeroCopy: 'on', pool: false, floor: true },
  'reference-uring': { backendEnv: undefined, zeroCopy: 'on', pool: false, floor: true },
};

export const SINK_NOTE =
  "sink rig: UDP GSO datagrams into a veth whose peer is down; the kernel drops them after the send path, so this is the sender's cost only (no NIC, no segmentation on the wire)";

export interface SinkBenchOptions {
  durationSeconds: number;
  repeat: number;
  /** Writes in flight, each with its own buffer. */
  depth: number;
  /** Bytes per write: one GSO super-datagram. */
  datagramSize: number;
  /** UDP_SEGMENT: bytes per datagram the stack cuts it into. */
  segmentSize: number;
  /** Above 1: every method also runs in the batched form, this many buffers per aioWrite call. */
  batch: number;
  /** SO_SNDBUF of every sender's socket; 0: the system's default. */
  sendBufferSize: number;
}

export interface SinkRunFigures extends SinkSample {
  gbitPerSecond: number;
  cpuSecondsPerGB: number;
  cpuPercentOfOneCore: number;
  /** Share of bytes the kernel sent without copying, 0..1. */
  zeroCopyShare: number;
  /** µs of the sender's CPU per buffer written: the runtime's per-write cost plus the kernel's. */
  cpuMicrosPerWrite: number;
}

/** One table row: medians over the runs, or why the method has no numbers. */
export interface SinkResult {
  method: SinkMethod;
  /** Buffers per aioWrite call: 1 is a user's plain loop, more is the batched form. */
  batch: number;
  /** ok: measured; unavailable: this machine cannot run it (not an error); failed: it broke. */
  status: 'ok' | 'unavailable' | 'failed';
  /** Why it is unavailable or failed; null when ok. */
  reason: string | null;
  backend: string | null;
  bytes: number;
  wallSeconds: number;
  cpuSeconds: number;
  zeroCopyBytes: number;
  copiedBytes: number;
  gbitPerSecond: number;
  cpuSecondsPerGB: number;
  cpuPercentOfOneCore: number;
  zeroCopyShare: number;
  cpuMicrosPerWrite: number;
  /** This row's median CPU s/GB over copy's single form (copy = 1); null when either has no figure. */
  cpuPerGBVsCopy: number | null;
  runs: SinkRunFigures[];
}

export interface SinkRunStart {
  index: number;
  total: number;
  method: SinkMethod;
  batch: number;
  run: number;
}

export interface SinkBenchReport {
  rig: Pick<SinkRig, 'interface' | 'sinkAddress' | 'port' | 'offloads' | 'offloadsNote' | 'gso'>;
  results: SinkResult[];
}

const SENDER_SCRIPT = fileURLToPath(new URL('./sink-sender.js', import.meta.url));

function runSender(method: SinkMethod, batch: number, rig: SinkRig, options: SinkBenchOptions): Promise<ChildOutcome<SinkSample>> {
  const args = [
    `--method=${method}`,
    `--address=${rig.sinkAddress}`,
    `--bind=${rig.localAddress}`,
    `--port=${rig.port}`,
    `--duration=${options.durationSeconds}`,
    `--size=${options.datagramSize}`,
    `--segment=${options.segmentSize}`,
    `--depth=${options.depth}`,
    `--batch=${batch}`,
    `--sndbuf=${options.sendBufferSize}`,
  ];
  // A sender that hangs is killed well after its duration; its run then fails.
  return runChild<SinkSample>(SENDER_SCRIPT, args, SINK_METHOD_SETUP[method].backendEnv, options.durationSeconds * 1000 + 60_000);
}

function figuresOf(s: SinkSample): SinkRunFigures {
  return {
    ...s,
    gbitPerSecond: gigabitsPerSecond(s.bytes, s.wallSeconds),
    cpuSecondsPerGB: cpuSecondsPerGB(s.cpuSeconds, s.bytes),
    cpuPercentOfOneCore: cpuPercentOfOneCore(s.cpuSeconds, s.wallSeconds),
    zeroCopyShare: s.bytes > 0 ? s.zeroCopyBytes / s.bytes : Number.NaN,
    cpuMicrosPerWrite: s.writes > 0 ? (s.cpuSeconds * 1e6) / s.writes : Number.NaN,
  };
}

function summarize(method: SinkMethod, batch: number, runs: SinkRunFigures[], problem: { unavailable: boolean; reason: string } | null): SinkResult {
  const mid = (pick: (r: SinkRunFigures) => number) => median(runs.map(pick));
  const backends = [...new Set(runs.map((r) => r.backend ?? '-'))];
  return {
    method,
    batch,
    status: problem === null ? 'ok' : problem.unavailable ? 'unavailable' : 'failed',
    reason: problem?.reason ?? null,
    backend: runs.length === 0 ? null : backends.join('/'),
    bytes: mid((r) => r.bytes),
    wallSeconds: mid((r) => r.wallSeconds),
    cpuSeconds: mid((r) => r.cpuSeconds),
    zeroCopyBytes: mid((r) => r.zeroCopyBytes),
    copiedBytes: mid((r) => r.copiedBytes),
    gbitPerSecond: mid((r) => r.gbitPerSecond),
    cpuSecondsPerGB: mid((r) => r.cpuSecondsPerGB),
    cpuPercentOfOneCore: mid((r) => r.cpuPercentOfOneCore),
    zeroCopyShare: mid((r) => r.zeroCopyShare),
    cpuMicrosPerWrite: mid((r) => r.cpuMicrosPerWrite),
    cpuPerGBVsCopy: null,
    runs,
  };
}

/** The row's name: the method, with the batch size for the batched form. */
export function sinkRowName(r: Pick<SinkResult, 'method' | 'batch'>): string {
  return r.batch === 1 ? r.method : `${r.method} batch ${r.batch}`;
}

/**
 * Runs every method `repeat` times, interleaved (copy, msgzerocopy, uring, uring-pool, copy, …;
 * with batch > 1 each method's batched form follows its single form), inside one sink rig. A row
 * that is unavailable or fails is not run again. Throws when the rig cannot be built: check
 * sinkRigSkipReason() first.
 */
export async function runSinkBench(options: SinkBenchOptions, onRunStart: (run: SinkRunStart) => void = () => {}): Promise<SinkBenchReport> {
  const batches = (m: SinkMethod) => (options.batch > 1 && !SINK_METHOD_SETUP[m].floor ? [1, options.batch] : [1]);
  const rows = SINK_METHODS.flatMap((method) => batches(method).map((batch) => ({ method, batch })));
  return withSinkRig(async (rig) => {
    const runs = rows.map((): SinkRunFigures[] => []);
    const problems = new Map<number, { unavailable: boolean; reason: string }>();
    const total = rows.length * options.repeat;
    let index = 0;
    for (let run = 1; run <= options.repeat; run++) {
      for (const [i, { method, batch }] of rows.entries()) {
        index++;
        if (problems.has(i)) continue;
        onRunStart({ index, total, method, batch, run });
        const outcome = await runSender(method, batch, rig, options);
        if (outcome.ok) runs[i]!.push(figuresOf(outcome.sample));
        else problems.set(i, { unavailable: outcome.unavailable, reason: outcome.reason });
      }
    }
    const results = rows.map(({ method, batch }, i) => summarize(method, batch, problems.has(i) ? [] : runs[i]!, problems.get(i) ?? null));
    const copy = results[0]!;
    for (const r of results) {
      const ratio = r.cpuSecondsPerGB / copy.cpuSecondsPerGB;
      r.cpuPerGBVsCopy = r.status === 'ok' && copy.status === 'ok' && Number.isFinite(ratio) ? ratio : null;
    }
    const { interface: name, sinkAddress, port, offloads, offloadsNote, gso } = rig;
    return { rig: { interface: name, sinkAddress, port, offloads, offloadsNote, gso }, results };
  });
}
