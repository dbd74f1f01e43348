// Server and wrk on CPUs of their own in `aiotx bench http`. On loopback the receiver's TCP work
// runs in softirq on the sending CPU and is billed to whichever process runs there at that moment;
// unpinned on 2 CPUs, the same server's CPU per GB moved ±50 % between 3 s runs (64 MiB, nginx
// 0.092 then 0.170 s/GB; aiotx 0.146 then 0.082), which no number of rounds makes a comparison.
// Pinned, every server runs where the same share of that work lands.
import { readFileSync } from 'node:fs';

export interface CpuPinning {
  /** The CPU every server runs on (all its threads). */
  server: number;
  /** The CPU wrk runs on. */
  client: number;
  /** taskset's path. */
  taskset: string;
}

/** Where one process runs: a CPU and the taskset that puts it there. */
export interface OnCpu {
  cpu: number;
  taskset: string;
}

/** CPUs in a Cpus_allowed_list ("0-3,6"), ascending; [] for text that is not one. */
export function parseCpuList(text: string): number[] {
  const cpus = new Set<number>();
  for (const part of text.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return [];
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from || to - from > 4096) return [];
    for (let c = from; c <= to; c++) cpus.add(c);
  }
  return [...cpus].sort((a, b) => a - b);
}

function allowedCpus(): number[] {
  try {
    const line = /^Cpus_allowed_list:\s*(.+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return line ? parseCpuList(line[1]!) : [];
  } catch {
    return [];
  }
}

/** The first allowed CPU for servers, the last for wrk; null (with why) without two CPUs or taskset. */
export function choosePinning(taskset: string | null): { pinning: CpuPinning | null; why: string | null } {
  const cpus = allowedCpus();
  if (cpus.length < 2) return { pinning: null, why: `one CPU allowed (${cpus.join(',') || 'unknown'}): not pinned` };
  if (taskset === null) return { pinning: null, why: 'taskset not found (util-linux): not pinned' };
  return { pinning: { server: cpus[0]!, client: cpus.at(-1)!, taskset }, why: null };
}

/** `cmd args` run on a CPU (taskset execs the command, so the pid stays its own), or unchanged for null. */
export function onCpu(where: OnCpu | null, cmd: string, args: string[]): [string, string[]] {
  return where === null ? [cmd, args] : [where.taskset, ['-c', String(where.cpu), cmd, ...args]];
}
