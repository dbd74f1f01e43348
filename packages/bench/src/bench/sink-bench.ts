// `aiotx bench --sink`: the zero-copy backends compared where zero-copy is real, the sink rig
// (sink-rig.ts). A process picks its zero-copy backend once, so every run of every method is a
// child process (sink-sender.ts) with its own AIOTX_BACKEND; methods run interleaved, repeated,
// and are reduced to medians.
import { fileURLToPath } from 'node:url';
import { cpuPercentOfOneCore, cpuSecondsPerGB, gigabitsPerSecond, median } from './cpu-accounting.js';
import { runChild, type ChildOutcome } from './child-run.js';
import type { SinkSample } from './sink-protocol.js';
import { withSinkRig, type SinkRig } from './sink-rig.js';

export type SinkMethod = 'copy' | 'msgzerocopy' | 'uring' | 'uring-pool';
export const SINK_METHODS: readonly SinkMethod[] = ['copy', 'msgzerocopy', 'uring', 'uring-pool'];

/** How each method runs: AIOTX_BACKEND (undefined = unset) and the per-write zeroCopy option. */
export const SINK_METHOD_SETUP: Record<SinkMethod, { backendEnv: string | undefined; zeroCopy: 'on' | 'off'; pool: boolean }> = {
  copy: { backendEnv: undefined, zeroCopy: 'off', pool: false },
  msgzerocopy: { backendEnv: 'msgzerocopy', zeroCopy: 'on', pool: false },
  uring: { backendEnv: 'uring', zeroCopy: 'on', pool: false },
  'uring-pool': { backendEnv: 'uring', zeroCopy: 'on', pool: true },
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
}

export interface SinkRunFigures extends SinkSample {
  gbitPerSecond: number;
  cpuSecondsPerGB: number;
  cpuPercentOfOneCore: number;
  /** Share of bytes the kernel sent without copying, 0..1. */
  zeroCopyShare: number;
}

/** One table row: medians over the runs, or why the method has no numbers. */
export interface SinkResult {
  method: SinkMethod;
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
  /** This method's median CPU s/GB over copy's (copy = 1); null when either has no figure. */
  cpuPerGBVsCopy: number | null;
  runs: SinkRunFigures[];
}

export interface SinkRunStart {
  index: number;
  total: number;
  method: SinkMethod;
  run: number;
}

export interface SinkBenchReport {
  rig: Pick<SinkRig, 'interface' | 'sinkAddress' | 'port' | 'offloads' | 'offloadsNote' | 'gso'>;
  results: SinkResult[];
}

const SENDER_SCRIPT = fileURLToPath(new URL('./sink-sender.js', import.meta.url));

function runSender(method: SinkMethod, rig: SinkRig, options: SinkBenchOptions): Promise<ChildOutcome<SinkSample>> {
  const args = [
    `--method=${method}`,
    `--address=${rig.sinkAddress}`,
    `--bind=${rig.localAddress}`,
    `--port=${rig.port}`,
    `--duration=${options.durationSeconds}`,
    `--size=${options.datagramSize}`,
    `--segment=${options.segmentSize}`,
    `--depth=${options.depth}`,
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
  };
}

function summarize(method: SinkMethod, runs: SinkRunFigures[], problem: { unavailable: boolean; reason: string } | null): SinkResult {
  const mid = (pick: (r: SinkRunFigures) => number) => median(runs.map(pick));
  const backends = [...new Set(runs.map((r) => r.backend ?? '-'))];
  return {
    method,
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
    cpuPerGBVsCopy: null,
    runs,
  };
}

/**
 * Runs every method `repeat` times, interleaved (copy, msgzerocopy, uring, uring-pool, copy, …),
 * inside one sink rig. A method that is unavailable or fails is not run again. Throws when the rig
 * cannot be built: check sinkRigSkipReason() first.
 */
export async function runSinkBench(options: SinkBenchOptions, onRunStart: (run: SinkRunStart) => void = () => {}): Promise<SinkBenchReport> {
  return withSinkRig(async (rig) => {
    const runs = new Map<SinkMethod, SinkRunFigures[]>(SINK_METHODS.map((m) => [m, []]));
    const problems = new Map<SinkMethod, { unavailable: boolean; reason: string }>();
    const total = SINK_METHODS.length * options.repeat;
    let index = 0;
    for (let run = 1; run <= options.repeat; run++) {
      for (const method of SINK_METHODS) {
        index++;
        if (problems.has(method)) continue;
        onRunStart({ index, total, method, run });
        const outcome = await runSender(method, rig, options);
        if (outcome.ok) runs.get(method)!.push(figuresOf(outcome.sample));
        else problems.set(method, { unavailable: outcome.unavailable, reason: outcome.reason });
      }
    }
    const results = SINK_METHODS.map((m) => summarize(m, problems.has(m) ? [] : runs.get(m)!, problems.get(m) ?? null));
    const copy = results.find((r) => r.method === 'copy')!;
    for (const r of results) {
      const ratio = r.cpuSecondsPerGB / copy.cpuSecondsPerGB;
      r.cpuPerGBVsCopy = r.status === 'ok' && copy.status === 'ok' && Number.isFinite(ratio) ? ratio : null;
    }
    const { interface: name, sinkAddress, port, offloads, offloadsNote, gso } = rig;
    return { rig: { interface: name, sinkAddress, port, offloads, offloadsNote, gso }, results };
  });
}
