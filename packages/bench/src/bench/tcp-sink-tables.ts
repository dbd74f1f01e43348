// The tables of `aiotx bench --sink tcp` (methods × sizes, like the loopback bench's
// report-tables.ts), with the seed's unit, % of one core at 40 Gbit/s, and the published figures
// beside ours: the seed's (write(2) 81-87 %, zero-copy aio_write 23-24 %) and the research
// prototype's C loops on this kernel (shared/research/tcp-sink-rig, 2 runs of 4 s).
import type { TcpSinkMethod } from './tcp-sink-methods.js';
import type { TcpSinkCell } from './tcp-sink-bench.js';

export interface TcpSinkTable {
  title: string;
  cell(r: TcpSinkCell): string;
  /** A column after the sizes: published figures for the row, if any. */
  published?: { head: string; value(method: TcpSinkMethod, hot: boolean): string };
}

/** The seed's "% of one core at 40 Gbit/s". */
const SEED: Partial<Record<TcpSinkMethod, string>> = {
  write: '81-87%',
  'aio-zc-uring': '23-24%',
  'aio-zc-pool': '23-24%',
  'aio-zc-msgzerocopy': '23-24%',
};

/** The prototype's C send()/MSG_ZEROCOPY loops, s/GB × 5 as %, at 32K / 256K / 1M (cold: 1 GiB rotating). */
const PROTOTYPE: Record<'cold' | 'hot', Partial<Record<TcpSinkMethod, string>>> = {
  cold: { reference: '80/54/52%', 'reference-zc': '64/25/18%' },
  hot: { reference: '58/31/29%', 'reference-zc': '66/26/20%' },
};

const num = (v: number, digits: number) => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');
const times = (v: number | null) => (v === null ? '-' : `${v.toFixed(2)}×`);
const pct = (v: number) => (Number.isFinite(v) ? `${v.toFixed(0)}%` : 'n/a');

/** A share as a percentage that never rounds a share short of all (or above none) to 100% (or 0%). */
export function exactShare(share: number | null): string {
  if (share === null) return '-';
  if (!Number.isFinite(share)) return 'n/a';
  if (share === 0 || share === 1) return `${share * 100}%`;
  return `${(Math.min(Math.max(Math.floor(share * 1000), 1), 999) / 10).toFixed(1)}%`;
}

export const TCP_SINK_TABLES: TcpSinkTable[] = [
  { title: 'Throughput, Gbit/s (× reference)', cell: (r) => `${num(r.gbitPerSecond, 2)} (${times(r.gbitVsReference)})` },
  { title: 'Sender CPU, % of one core (this process, user+sys)', cell: (r) => pct(r.cpuPercent) },
  { title: 'Sender CPU s/GB (× aio-copy, × write)', cell: (r) => `${num(r.cpuSecondsPerGB, 3)} (${times(r.cpuPerGBVsCopy)}, ${times(r.cpuPerGBVsWrite)})` },
  {
    title: "% of one core at 40 Gbit/s (s/GB × 5, the seed's unit), published figures beside",
    cell: (r) => pct(r.percentAt40Gbit),
    published: {
      head: 'seed | prototype C (32K/256K/1M)',
      value: (m, hot) => [SEED[m], PROTOTYPE[hot ? 'hot' : 'cold'][m]].filter(Boolean).join(' | ') || '-',
    },
  },
  { title: 'Bytes sent without a copy (zero-copy completions; worst run)', cell: (r) => exactShare(r.zeroCopyShare) },
  { title: 'Whole machine CPU, % of one core (softirq part; the ACK injector included)', cell: (r) => `${pct(r.systemPercent)} (${pct(r.softirqPercent)})` },
  {
    title: 'Kernel check: ACKs injected, KiB per ACK, KiB per packet, retransmissions (worst run)',
    // Over the bytes the counters saw: a JavaScript sender's warm-up is ACKed and tracked too.
    cell: (r) => `${num(r.acks, 0)}, ${num(r.trackedBytes / r.acks / 1024, 0)}, ${num(r.trackedBytes / r.packets / 1024, 1)}, ${num(r.retransmissions, 0)}`,
  },
];
