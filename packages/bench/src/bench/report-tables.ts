// The bench's tables, methods × sizes like the seed's comparison, one per figure: the same
// definitions feed the terminal (cli/bench-command.ts) and the HTML report (report-html.ts).
import type { CellResult } from './run-bench.js';

export interface ReportTable {
  title: string;
  cell(r: CellResult): string;
}

const num = (v: number, digits: number) => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');
const times = (v: number | null) => (v === null ? '-' : `${v.toFixed(2)}×`);
const pct = (v: number) => (Number.isFinite(v) ? `${v.toFixed(0)}%` : 'n/a');

export const REPORT_TABLES: ReportTable[] = [
  { title: 'Throughput, Gbit/s (× reference)', cell: (r) => `${num(r.gbitPerSecond, 2)} (${times(r.gbitVsReference)})` },
  { title: 'Sender CPU, % of one core (this process, user+sys)', cell: (r) => pct(r.cpuPercent) },
  {
    title: 'Service demand, µs CPU per KB (× reference, × write)',
    cell: (r) => `${num(r.serviceDemand, 3)} (${times(r.cpuPerGBVsReference)}, ${times(r.cpuPerGBVsWrite)})`,
  },
  { title: 'Sender CPU per write, µs (one buffer of the column\'s size; a batch counts its buffers)', cell: (r) => num(r.cpuMicrosPerWrite, 2) },
  { title: 'Whole machine CPU, % of one core (softirq part)', cell: (r) => `${pct(r.systemPercent)} (${pct(r.softirqPercent)})` },
  { title: "Receiver CPU, % of one core (aiotx serve, or iperf3's own figure for iperf3 rows and --peer iperf3)", cell: (r) => pct(r.receiverPercent) },
  { title: 'Bytes the kernel copied (COPIED notifications)', cell: (r) => (r.copiedShare === null ? '-' : pct(r.copiedShare * 100)) },
];
