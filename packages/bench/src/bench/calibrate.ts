// `aiotx bench --sink tcp --calibrate`: where zero-copy starts saving sender CPU over copying on
// this host, measured on the TCP sink rig with the bench's own runner (tcp-sink-bench.ts): aio-copy
// against both zero-copy backends, interleaved, medians, over a cold working set and a hot one.
// The cold crossover is the threshold to use (real servers send data that is not in cache).
import { cpus, release } from 'node:os';
import { runTcpSinkBench, type TcpSinkBenchReport, type TcpSinkCellStart } from './tcp-sink-bench.js';
import type { TcpSinkMethod } from './tcp-sink-methods.js';

export const CALIBRATE_SIZES = Array.from({ length: 9 }, (_, i) => 4096 << i); // 4K..1M
export const CALIBRATE_ZERO_COPY: TcpSinkMethod[] = ['aio-zc-uring', 'aio-zc-msgzerocopy'];
const METHODS: TcpSinkMethod[] = ['aio-copy', ...CALIBRATE_ZERO_COPY];

export interface CalibrateOptions {
  sizes: number[];
  durationSeconds: number;
  depth: number;
  repeat: number;
  noDelay: boolean;
  /** The cold set: memory each sender rotates through. The hot set is one buffer per lane. */
  workingSetBytes: number;
}

export type WorkingSet = 'cold' | 'hot';

/** Per zero-copy backend: the smallest size from which on every larger measured size saved CPU; null: none. */
export type Crossovers = Record<string, number | null>;

export interface CalibrationReport {
  kind: 'aiotx-calibrate';
  version: 1;
  date: string;
  kernel: string;
  cpus: number;
  options: CalibrateOptions;
  crossovers: Record<WorkingSet, Crossovers>;
  /** The value for AIOTX_ZEROCOPY_THRESHOLD: the cold crossover of the backend that crosses last; null if none crossed. */
  threshold: number | null;
  runs: Record<WorkingSet, TcpSinkBenchReport>;
}

export interface CalibrateStep extends TcpSinkCellStart {
  set: WorkingSet;
}

/** Sender CPU s/GB of zero-copy over aio-copy at one size; null where either is missing. */
export function cpuRatio(report: TcpSinkBenchReport, method: TcpSinkMethod, size: number): number | null {
  return report.results.find((r) => r.method === method && r.size === size && r.status === 'ok')?.cpuPerGBVsCopy ?? null;
}

/**
 * The crossover of one backend: the smallest size s such that zero-copy used less CPU per GB than
 * aio-copy at s and at every larger size measured (one lucky small size does not count).
 */
export function crossoverOf(report: TcpSinkBenchReport, method: TcpSinkMethod): number | null {
  const sizes = [...report.options.sizes].sort((a, b) => a - b);
  let crossover: number | null = null;
  for (let i = sizes.length - 1; i >= 0; i--) {
    const r = cpuRatio(report, method, sizes[i]!);
    if (r === null || r >= 1) break;
    crossover = sizes[i]!;
  }
  return crossover;
}

/** The threshold from the cold crossovers: zero-copy must pay on either backend, so the larger one. */
export function thresholdOf(cold: Crossovers): number | null {
  const crossed = Object.values(cold).filter((c): c is number => c !== null);
  return crossed.length === 0 ? null : Math.max(...crossed);
}

/** Two bench runs (cold, then hot), each methods × sizes interleaved; `onStep` numbers steps across both. */
export async function runCalibration(options: CalibrateOptions, onStep: (step: CalibrateStep) => void = () => {}): Promise<CalibrationReport> {
  const perSet = options.sizes.length * options.repeat * METHODS.length;
  const runs = {} as Record<WorkingSet, TcpSinkBenchReport>;
  const crossovers = {} as Record<WorkingSet, Crossovers>;
  for (const [k, set] of (['cold', 'hot'] as const).entries()) {
    const workingSetBytes = set === 'cold' ? options.workingSetBytes : 0;
    const { sizes, durationSeconds, depth, repeat, noDelay } = options;
    runs[set] = await runTcpSinkBench({ sizes, methods: METHODS, durationSeconds, depth, batch: 1, repeat, noDelay, workingSetBytes }, (cell) =>
      onStep({ ...cell, set, index: k * perSet + cell.index, total: 2 * perSet }),
    );
    crossovers[set] = Object.fromEntries(CALIBRATE_ZERO_COPY.map((m) => [m, crossoverOf(runs[set], m)]));
  }
  return {
    kind: 'aiotx-calibrate',
    version: 1,
    date: new Date().toISOString(),
    kernel: release(),
    cpus: cpus().length,
    options,
    crossovers,
    threshold: thresholdOf(crossovers.cold),
    runs,
  };
}
