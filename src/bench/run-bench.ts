// The bench loop: every method for each size, interleaved so drift over time hits all methods
// alike, repeated, and reduced to medians.
import {
  copiedShare,
  cpuPercentOfOneCore,
  cpuSecondsPerGB,
  gigabitsPerSecond,
  median,
} from './cpu-accounting.js';
import { startReceiver } from './receiver-process.js';
import { METHODS, measureMethod, type Measurement, type Method } from './send-methods.js';

export interface BenchOptions {
  sizes: number[];
  durationSeconds: number;
  depth: number;
  repeat: number;
  /** TCP_NODELAY on the sender. Nagle (the default) holds small segments until the previous
   * one is ACKed, and a zero-copy write settles only on that ACK, so small aio-zc writes stall. */
  noDelay: boolean;
}

export interface RunFigures extends Measurement {
  gbitPerSecond: number;
  cpuSecondsPerGB: number;
  cpuPercentOfOneCore: number;
  /** 0..1, or null where the method cannot tell (net.Socket.write). */
  copiedShare: number | null;
}

/** One table row: the median of each figure over the repeats, with every run kept. */
export interface CellResult {
  method: Method;
  size: number;
  backend: string | null;
  bytes: number;
  wallSeconds: number;
  cpuSeconds: number;
  gbitPerSecond: number;
  cpuSecondsPerGB: number;
  cpuPercentOfOneCore: number;
  copiedShare: number | null;
  runs: RunFigures[];
}

export interface CellStart {
  index: number;
  total: number;
  method: Method;
  size: number;
  run: number;
}

export const LOOPBACK_NOTE =
  'loopback: the kernel copies every byte on local delivery, so these numbers are path overhead, not zero-copy gains';

function figuresOf(m: Measurement): RunFigures {
  return {
    ...m,
    gbitPerSecond: gigabitsPerSecond(m.bytes, m.wallSeconds),
    cpuSecondsPerGB: cpuSecondsPerGB(m.cpuSeconds, m.bytes),
    cpuPercentOfOneCore: cpuPercentOfOneCore(m.cpuSeconds, m.wallSeconds),
    copiedShare: m.copiedBytes === null ? null : copiedShare(m.copiedBytes, m.bytes),
  };
}

function summarize(method: Method, size: number, runs: RunFigures[]): CellResult {
  const mid = (pick: (r: RunFigures) => number) => median(runs.map(pick));
  const backends = [...new Set(runs.map((r) => r.backend))];
  return {
    method,
    size,
    backend: backends.length === 1 ? backends[0]! : backends.join('/'),
    bytes: mid((r) => r.bytes),
    wallSeconds: mid((r) => r.wallSeconds),
    cpuSeconds: mid((r) => r.cpuSeconds),
    gbitPerSecond: mid((r) => r.gbitPerSecond),
    cpuSecondsPerGB: mid((r) => r.cpuSecondsPerGB),
    cpuPercentOfOneCore: mid((r) => r.cpuPercentOfOneCore),
    copiedShare: runs[0]!.copiedShare === null ? null : mid((r) => r.copiedShare!),
    runs,
  };
}

export async function runBench(options: BenchOptions, onCellStart: (cell: CellStart) => void = () => {}): Promise<CellResult[]> {
  const receiver = await startReceiver();
  try {
    const total = options.sizes.length * options.repeat * METHODS.length;
    let index = 0;
    const results: CellResult[] = [];
    for (const size of options.sizes) {
      const runs = new Map<Method, RunFigures[]>(METHODS.map((m) => [m, []]));
      for (let run = 1; run <= options.repeat; run++) {
        for (const method of METHODS) {
          onCellStart({ index: ++index, total, method, size, run });
          const m = await measureMethod(method, { port: receiver.port, size, depth: options.depth, durationSeconds: options.durationSeconds, noDelay: options.noDelay });
          runs.get(method)!.push(figuresOf(m));
        }
      }
      for (const method of METHODS) results.push(summarize(method, size, runs.get(method)!));
    }
    return results;
  } finally {
    await receiver.stop();
  }
}

