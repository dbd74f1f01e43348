// The tables of `aiotx bench http`, servers × file sizes, one per figure: the same definitions feed
// the terminal (cli/bench-command.ts) and the HTML report (http-report-html.ts). Also aiotx's
// targets against nginx and express.static, each with the figure it was checked on.
import type { HttpBenchReport, HttpCell } from './http-bench.js';
import { formatSize } from './sizes.js';

export interface HttpTable {
  title: string;
  cell(c: HttpCell): string;
}

const num = (v: number, digits: number) => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');
const times = (v: number | null) => (v === null ? '-' : `${v.toFixed(2)}×`);

export const HTTP_TABLES: HttpTable[] = [
  { title: 'Requests/s', cell: (c) => num(c.requestsPerSecond, 0) },
  { title: 'Throughput, Gbit/s (× nginx, × stream)', cell: (c) => `${num(c.gbitPerSecond, 2)} (${times(c.gbitVsNginx)}, ${times(c.gbitVsStream)})` },
  { title: 'Server CPU, % of one core', cell: (c) => (Number.isFinite(c.cpuPercent) ? `${c.cpuPercent.toFixed(0)}%` : 'n/a') },
  { title: 'Server CPU s/GB, lower is better (× nginx, × stream)', cell: (c) => `${num(c.cpuSecondsPerGB, 3)} (${times(c.cpuPerGBVsNginx)}, ${times(c.cpuPerGBVsStream)})` },
  {
    title: "Server CPU's busy s/GB from /proc/stat, softirq included, pinned runs only (× nginx, × stream)",
    cell: (c) => (Number.isFinite(c.coreSecondsPerGB) ? `${num(c.coreSecondsPerGB, 3)} (${times(c.corePerGBVsNginx)}, ${times(c.corePerGBVsStream)})` : 'n/a'),
  },
];

/** The grid a table shows: rows in server order, columns in size order, a cell's status where it has no figures. */
export function httpGrid(report: HttpBenchReport, table: HttpTable): { head: string[]; rows: string[][] } {
  const sizes = report.options.sizes;
  const rows = report.options.servers.map((server) => [
    server,
    ...sizes.map((size) => {
      const c = report.results.find((x) => x.server === server && x.size === size);
      return !c ? '' : c.status === 'ok' ? table.cell(c) : c.status;
    }),
  ]);
  return { head: ['server', ...sizes.map(formatSize)], rows };
}

export interface HttpTarget {
  size: number;
  what: string;
  value: number | null;
  /** e.g. '>= 0.90×' */
  target: string;
  met: boolean | null;
}

/**
 * aiotx's goals in this bench: at 1 MiB and more, >= 0.9× nginx's throughput, <= 1.25× nginx's
 * CPU per GB and <= 0.35× that of express.static and of the stream server; below 1 MiB, at least
 * express.static's requests/s. null where a side was not measured.
 */
export function httpTargets(report: HttpBenchReport): HttpTarget[] {
  const at = (server: string, size: number) => report.results.find((c) => c.server === server && c.size === size && c.status === 'ok');
  const per = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b <= 0 ? null : a / b);
  const out: HttpTarget[] = [];
  for (const size of report.options.sizes) {
    const aiotx = at('aiotx', size);
    const check = (what: string, value: number | null, target: string, ok: (v: number) => boolean) =>
      out.push({ size, what, value, target, met: value === null ? null : ok(value) });
    if (size >= 1 << 20) {
      check('Gbit/s × nginx', per(aiotx?.gbitPerSecond, at('nginx', size)?.gbitPerSecond), '>= 0.90×', (v) => v >= 0.9);
      check('CPU/GB × nginx', per(aiotx?.cpuSecondsPerGB, at('nginx', size)?.cpuSecondsPerGB), '<= 1.25×', (v) => v <= 1.25);
      // The same target on the server CPU's own busy time (softirq billed to no PID included): pinned runs only.
      if (report.pinning) check("server CPU's busy s/GB × nginx", per(aiotx?.coreSecondsPerGB, at('nginx', size)?.coreSecondsPerGB), '<= 1.25×', (v) => v <= 1.25);
      check('CPU/GB × express.static', per(aiotx?.cpuSecondsPerGB, at('express', size)?.cpuSecondsPerGB), '<= 0.35×', (v) => v <= 0.35);
      check('CPU/GB × stream', per(aiotx?.cpuSecondsPerGB, at('stream', size)?.cpuSecondsPerGB), '<= 0.35×', (v) => v <= 0.35);
    } else {
      check('requests/s × express.static', per(aiotx?.requestsPerSecond, at('express', size)?.requestsPerSecond), '>= 1.00×', (v) => v >= 1);
    }
  }
  return out;
}

export function describeTarget(t: HttpTarget): string {
  const verdict = t.met === null ? 'not measured' : t.met ? 'met' : 'missed';
  return `${formatSize(t.size)}: aiotx ${t.what} ${t.value === null ? '-' : `${t.value.toFixed(2)}×`} (target ${t.target}): ${verdict}`;
}
