// `--report DIR` and `aiotx report`: an HTML page with the bench's charts as standalone SVG
// (drawn here by Vega, so the page needs no JavaScript), the same figures as tables, and the
// run's JSON beside it.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatSize } from './sizes.js';
import type { ReportTable } from './report-tables.js';
import type { TopLevelSpec } from 'vega-lite';
import type { BenchReport, CellResult } from './run-bench.js';
import type { TcpSinkBenchReport, TcpSinkCell } from './tcp-sink-bench.js';
import type { TcpSinkTable } from './tcp-sink-tables.js';

/** What the charts and tables read: the loopback bench's report and the TCP sink bench's alike. */
interface Cell {
  method: string;
  size: number;
  status: string;
  reason: string | null;
  cpuPercent: number;
  gbitPerSecond: number;
  serviceDemand: number;
}
interface Grid<C extends Cell> {
  options: { sizes: number[]; methods: readonly string[] };
  results: C[];
}

interface Chart {
  file: string;
  title: string;
  field: keyof Cell & keyof CellResult & keyof TcpSinkCell;
  axis: string;
}

const CHARTS: Chart[] = [
  { file: 'cpu.svg', title: 'Sender CPU, % of one core', field: 'cpuPercent', axis: 'CPU % of one core' },
  { file: 'throughput.svg', title: 'Throughput', field: 'gbitPerSecond', axis: 'Gbit/s' },
  { file: 'service-demand.svg', title: 'Service demand (lower is better)', field: 'serviceDemand', axis: 'µs of CPU per KB' },
];

async function chartSvg(report: Grid<Cell>, chart: Chart): Promise<string> {
  const values = report.results
    .filter((r) => r.status === 'ok' && Number.isFinite(r[chart.field] as number))
    .map((r) => ({ method: r.method, kib: r.size / 1024, value: r[chart.field] as number }));
  return svgOf({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: chart.title,
    width: 520,
    height: 300,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'kib', type: 'quantitative', title: 'write size (KiB)', scale: { type: 'log', base: 2 }, axis: { values: report.options.sizes.map((s) => s / 1024) } },
      y: { field: 'value', type: 'quantitative', title: chart.axis, scale: { zero: true } },
      color: { field: 'method', type: 'nominal', title: 'method', sort: report.options.methods as unknown as string[] },
    },
  });
}

/** A Vega-Lite chart drawn here as standalone SVG: the page needs no JavaScript. */
export async function svgOf(spec: TopLevelSpec): Promise<string> {
  const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')]);
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** The report pages' look (the loopback, TCP sink and HTTP benches alike). */
export const PAGE_STYLE = `<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; max-width: 1200px; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child { text-align: left; }
td.na { color: #999; }
.charts { display: flex; flex-wrap: wrap; gap: 1em; }
.note { background: #f6f6f0; padding: 0.5em 1em; border-left: 3px solid #cc8; }
</style>`;

export const escape = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** A methods × sizes table; `extra` adds a last column per method (the TCP sink's published figures). */
function tableHtml<C extends Cell>(report: Grid<C>, title: string, cell: (r: C) => string, extra?: { head: string; value(method: string): string }): string {
  const sizes = report.options.sizes;
  const head = `<tr><th>method</th>${sizes.map((s) => `<th>${formatSize(s)}</th>`).join('')}${extra ? `<th>${escape(extra.head)}</th>` : ''}</tr>`;
  const rows = report.options.methods.map((m) => {
    const cells = sizes.map((s) => {
      const r = report.results.find((x) => x.method === m && x.size === s);
      if (!r) return '<td></td>';
      if (r.status !== 'ok') return `<td class="na" title="${escape(r.reason ?? '')}">${r.status}</td>`;
      return `<td>${escape(cell(r))}</td>`;
    });
    return `<tr><th>${m}</th>${cells.join('')}${extra ? `<td>${escape(extra.value(m))}</td>` : ''}</tr>`;
  });
  return `<h2>${escape(title)}</h2>\n<table>${head}${rows.join('')}</table>`;
}

/** Writes DIR/index.html, the charts as DIR/*.svg and the run as DIR/results.json; returns the page's path. */
export async function writeHtmlReport(report: BenchReport, dir: string, tables: ReportTable[]): Promise<string> {
  await mkdir(dir, { recursive: true });
  const svgs = await Promise.all(CHARTS.map((c) => chartSvg(report, c)));
  await Promise.all(CHARTS.map((c, i) => writeFile(join(dir, c.file), svgs[i]!)));
  await writeFile(join(dir, 'results.json'), `${JSON.stringify(report, null, 2)}\n`);
  const o = report.options;
  const unavailable = report.results.filter((r) => r.status !== 'ok');
  const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>aiotx bench ${escape(report.date)}</title>
${PAGE_STYLE}</head><body>
<h1>aiotx bench</h1>
<p class="note">${escape(report.note)}</p>
<p>${escape(report.date)} · kernel ${escape(report.kernel)} · ${report.cpus} CPUs · target ${escape(report.target)} ·
${o.durationSeconds} s per cell · ${o.streams} stream(s) × ${o.depth} in flight · median of ${o.repeat} run(s), interleaved ·
Nagle ${o.noDelay ? 'off (TCP_NODELAY)' : 'on'}${o.verify ? ' · every stream verified (sha256)' : ''}</p>
<div class="charts">
${svgs.map((svg) => `<figure>${svg}</figure>`).join('\n')}
</div>
${tables.map((t) => tableHtml(report, t.title, t.cell)).join('\n')}
${unavailable.length ? `<h2>Not measured</h2><ul>${unavailable.map((r) => `<li>${r.method} ${formatSize(r.size)}: ${r.status}: ${escape(r.reason ?? '')}</li>`).join('')}</ul>` : ''}
<p>Data: <a href="results.json">results.json</a> (re-render with <code>aiotx report results.json</code>).</p>
</body></html>
`;
  const path = join(dir, 'index.html');
  await writeFile(path, page);
  return path;
}

/** The TCP sink bench's page: the same charts and tables, with its own (the seed's % of one core at 40 Gbit/s among them). */
export async function writeTcpSinkHtmlReport(report: TcpSinkBenchReport, dir: string, tables: TcpSinkTable[]): Promise<string> {
  await mkdir(dir, { recursive: true });
  const svgs = await Promise.all(CHARTS.map((c) => chartSvg(report, c)));
  await Promise.all(CHARTS.map((c, i) => writeFile(join(dir, c.file), svgs[i]!)));
  await writeFile(join(dir, 'results.json'), `${JSON.stringify(report, null, 2)}\n`);
  const o = report.options;
  const hot = o.workingSetBytes === 0;
  const unavailable = report.results.filter((r) => r.status !== 'ok');
  const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>aiotx bench --sink tcp ${escape(report.date)}</title>
${PAGE_STYLE}</head><body>
<h1>aiotx bench --sink tcp</h1>
<p class="note">${escape(report.note)}</p>
<p>${escape(report.date)} · kernel ${escape(report.kernel)} · ${report.cpus} CPUs · via ${escape(report.rig.interface)} to ${escape(report.rig.sinkAddress)}:${report.rig.port} ·
${o.durationSeconds} s per cell · ${o.depth} in flight · median of ${o.repeat} run(s), interleaved · Nagle ${o.noDelay ? 'off (TCP_NODELAY)' : 'on'} ·
${hot ? 'hot: one buffer per send in flight (cache-hot; this moves the zero-copy crossover up)' : `cold: each sender rotates through ${formatSize(o.workingSetBytes)}`}</p>
<div class="charts">
${svgs.map((svg) => `<figure>${svg}</figure>`).join('\n')}
</div>
${tables.map((t) => tableHtml(report, t.title, t.cell, t.published && { head: t.published.head, value: (m) => t.published!.value(m as TcpSinkCell['method'], hot) })).join('\n')}
${unavailable.length ? `<h2>Not measured</h2><ul>${unavailable.map((r) => `<li>${r.method} ${formatSize(r.size)}: ${r.status}: ${escape(r.reason ?? '')}</li>`).join('')}</ul>` : ''}
<p>Data: <a href="results.json">results.json</a>.</p>
</body></html>
`;
  const path = join(dir, 'index.html');
  await writeFile(path, page);
  return path;
}
