// The arithmetic behind each bench figure, kept pure so it can be checked by hand.

/** CPU seconds spent between two process.cpuUsage() readings (user + system, microseconds). */
export function cpuSecondsBetween(before: NodeJS.CpuUsage, after: NodeJS.CpuUsage): number {
  return (after.user - before.user + (after.system - before.system)) / 1e6;
}

/** Service demand: CPU seconds per GB moved (GB = 1e9 bytes, like Gbit/s). */
export function cpuSecondsPerGB(cpuSeconds: number, bytes: number): number {
  return bytes > 0 ? cpuSeconds / (bytes / 1e9) : Number.NaN;
}

/** CPU time as a percentage of one core over the wall time: 200% = two cores busy. */
export function cpuPercentOfOneCore(cpuSeconds: number, wallSeconds: number): number {
  return wallSeconds > 0 ? (cpuSeconds / wallSeconds) * 100 : Number.NaN;
}

export function gigabitsPerSecond(bytes: number, wallSeconds: number): number {
  return wallSeconds > 0 ? (bytes * 8) / wallSeconds / 1e9 : Number.NaN;
}

/** Share of bytes the kernel copied, 0..1. */
export function copiedShare(copiedBytes: number, bytes: number): number {
  return bytes > 0 ? copiedBytes / bytes : Number.NaN;
}

/** Median; the mean of the middle two for an even count. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
