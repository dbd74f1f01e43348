// `aiotx bench http --report DIR` (and `aiotx report` of its JSON): the page with grouped bar
// charts as standalone SVG (Vega, no JavaScript in the page), the tables, aiotx's targets, and
// the run's JSON beside it.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HttpBenchReport, HttpCell } from './http-bench.js';
import { describeTarget, httpGrid, httpTargets, type HttpTable } from './http-tables.js';
import { PAGE_STYLE, escape, svgOf } from './report-html.js';
import { formatSize } from './sizes.js';

interface Chart {
  file: string;
  title: string;
  field: 'requestsPerSecond' | 'gbitPerSecond' | 'cpuPercent' | 'cpuSecondsPerGB' | 'coreSecondsPerGB';
  axis: string;
}

const CHARTS: Chart[] = [
  { file: 'throughput.svg', title: 'Throughput', field: 'gbitPerSecond', axis: 'Gbit/s' },
  { file: 'cpu-per-gb.svg', title: 'Server CPU per GB (lower is better)', field: 'cpuSecondsPerGB', axis: 'CPU s/GB' },
  { file: 'core-per-gb.svg', title: "Server CPU's busy time per GB, softirq included (lower is better)", field: 'coreSecondsPerGB', axis: 'busy s/GB' },
  { file: 'requests.svg', title: 'Requests/s', field: 'requestsPerSecond', axis: 'requests/s' },
  { file: 'cpu.svg', title: 'Server CPU, % of one core', field: 'cpuPercent', axis: 'CPU % of one core' },
];

function chartSvg(report: HttpBenchReport, chart: Chart): Promise<string> {
  const sizes = report.options.sizes.map(formatSize);
  const values = report.results
    .filter((c: HttpCell) => c.status === 'ok' && Number.isFinite(c[chart.field]))
    .map((c) => ({ server: c.server, size: formatSize(c.size), value: c[chart.field] }));
  // Per-GB CPU and requests/s span orders of magnitude between nginx at 64 MiB and Node at 64 KiB.
  const log = chart.field === 'cpuSecondsPerGB' || chart.field === 'coreSecondsPerGB' || chart.field === 'requestsPerSecond';
  return svgOf({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: chart.title,
    width: 520,
    height: 300,
    data: { values },
    mark: 'bar',
    encoding: {
      x: { field: 'size', type: 'nominal', title: 'file size', sort: sizes },
      xOffset: { field: 'server', type: 'nominal', sort: report.options.servers as unknown as string[] },
      y: { field: 'value', type: 'quantitative', title: chart.axis, scale: log ? { type: 'log' } : { zero: true } },
      color: { field: 'server', type: 'nominal', title: 'server', sort: report.options.servers as unknown as string[] },
    },
  });
}

function tableHtml(report: HttpBenchReport, table: HttpTable): string {
  const { head, rows } = httpGrid(report, table);
  const body = rows.map(([server, ...cells]) => `<tr><th>${escape(server!)}</th>${cells.map((c) => `<td>${escape(c)}</td>`).join('')}</tr>`);
  return `<h2>${escape(table.title)}</h2>\n<table><tr>${head.map((h) => `<th>${escape(h)}</th>`).join('')}</tr>${body.join('')}</table>`;
}

/** Writes DIR/index.html, the charts as DIR/*.svg and the run as DIR/results.json; returns the page's path. */
export async function writeHttpHtmlReport(report: HttpBenchReport, dir: string, tables: HttpTable[]): Promise<string> {
  await mkdir(dir, { recursive: true });
  const svgs = await Promise.all(CHARTS.map((c) => chartSvg(report, c)));
  await Promise.all(CHARTS.map((c, i) => writeFile(join(dir, c.file), svgs[i]!)));
  await writeFile(join(dir, 'results.json'), `${JSON.stringify(report, null, 2)}\n`);
  const o = report.options;
  const missing = report.results.filter((c) => c.status !== 'ok');
  const versions = report.servers.filter((s) => s.version !== null).map((s) => `${s.name}: ${s.version}`);
  const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>aiotx bench http ${escape(report.date)}</title>
${PAGE_STYLE}</head><body>
<h1>aiotx bench http</h1>
<p class="note">${escape(report.note)}</p>
<p>${escape(report.date)} · kernel ${escape(report.kernel)} · ${report.cpus} CPUs · load ${report.load.before.toFixed(2)} before, ${report.load.after.toFixed(2)} after ·
${escape(report.wrk)} -t${o.threads} -c${o.connections}, keep-alive, ${o.durationSeconds} s per run · median of ${o.repeat} run(s), interleaved ·
files hot (in the page cache)</p>
<p>${escape(versions.join(' · '))}</p>
<div class="charts">
${svgs.map((svg) => `<figure>${svg}</figure>`).join('\n')}
</div>
${tables.map((t) => tableHtml(report, t)).join('\n')}
<h2>aiotx's targets</h2><ul>${httpTargets(report).map((t) => `<li>${escape(describeTarget(t))}</li>`).join('')}</ul>
${missing.length ? `<h2>Not measured</h2><ul>${missing.map((c) => `<li>${c.server} ${formatSize(c.size)}: ${c.status}: ${escape(c.reason ?? '')}</li>`).join('')}</ul>` : ''}
<p>Data: <a href="results.json">results.json</a> (re-render with <code>aiotx report results.json</code>).</p>
</body></html>
`;
  const path = join(dir, 'index.html');
  await writeFile(path, page);
  return path;
}
