// The arithmetic behind each bench figure, kept pure so it can be checked by hand.

/**
 * Seconds a JavaScript sender (aiotx rows, write) runs its loop uncounted before the measured
 * run: a long-running sender runs compiled code, and V8 compiling it (on background threads
 * too) would otherwise be billed to the writes of a short run. The C floors compile nothing.
 */
export const WARMUP_SECONDS = 0.5;

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

/** The machine's CPU time counters from the first line of /proc/stat, in clock ticks. */
export interface SystemTimes {
  /** Every counter added up (steal included, guest already inside user). */
  total: number;
  /** idle + iowait. */
  idle: number;
  softirq: number;
  /** Time the hypervisor ran something else while this CPU wanted to run: not work done here. */
  steal: number;
}

/** Parses /proc/stat's aggregate "cpu" line: user nice system idle iowait irq softirq steal ... */
export function parseProcStat(text: string): SystemTimes {
  return parseCpuLine(text, 'cpu');
}

/** Parses /proc/stat's line of one CPU ("cpu0 ..."): the same counters, that CPU's alone. */
export function parseProcStatCpu(text: string, cpu: number): SystemTimes {
  return parseCpuLine(text, `cpu${cpu}`);
}

function parseCpuLine(text: string, name: string): SystemTimes {
  const line = text.split('\n').find((l) => l.startsWith(name) && /\s/.test(l.charAt(name.length)));
  if (!line) throw new Error(name === 'cpu' ? "/proc/stat has no aggregate 'cpu' line" : `/proc/stat has no '${name}' line`);
  const n = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (n.length < 7 || n.some((v) => !Number.isFinite(v))) throw new Error(`/proc/stat: cannot read '${line}'`);
  const [user, nice, system, idle, iowait, irq, softirq, steal = 0] = n as [number, number, number, number, number, number, number, number?];
  return { total: user + nice + system + idle + iowait + irq + softirq + steal, idle: idle + iowait, softirq, steal };
}

/** The whole machine's busy time between two readings, as % of one CPU (netperf's % × CPUs), softirq apart. */
export function systemCpuPercent(before: SystemTimes, after: SystemTimes, cpuCount: number): { busy: number; softirq: number } {
  const total = after.total - before.total;
  if (total <= 0) return { busy: Number.NaN, softirq: Number.NaN };
  const share = (ticks: number) => (ticks / total) * cpuCount * 100;
  return { busy: share(total - (after.idle - before.idle)), softirq: share(after.softirq - before.softirq) };
}

/**
 * Seconds one CPU was busy between two readings of its /proc/stat line (user, nice, system, irq
 * and softirq, whichever process or none it was charged to; not idle, iowait or steal), in USER_HZ
 * ticks of `hz` per second (100 on Linux).
 */
export function busySecondsBetween(before: SystemTimes, after: SystemTimes, hz = 100): number {
  const busy = after.total - after.idle - after.steal - (before.total - before.idle - before.steal);
  return busy >= 0 ? busy / hz : Number.NaN;
}

/** netperf's service demand: microseconds of CPU per KB (1024 bytes) moved. */
export function serviceDemand(cpuSeconds: number, bytes: number): number {
  return bytes > 0 ? (cpuSeconds * 1e6) / (bytes / 1024) : Number.NaN;
}

/** a / b, or null when either side is missing or b is not a positive number. */
export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a == null || b == null || !Number.isFinite(a) || !Number.isFinite(b) || b <= 0) return null;
  return a / b;
}
