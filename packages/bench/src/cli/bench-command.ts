// `aiotx bench`: runs the bench against an `aiotx serve` (or, with --sink udp|tcp, a sink-rig bench)
// and prints its tables, or its results as JSON, and writes the HTML report.
import { cpus, release } from 'node:os';
import { CALIBRATE_ZERO_COPY, runCalibration, type CalibrateOptions, type CalibrateStep, type CalibrationReport } from '../bench/calibrate.js';
import { writeHtmlReport, writeTcpSinkHtmlReport } from '../bench/report-html.js';
import { REPORT_TABLES } from '../bench/report-tables.js';
import { runHttpBench, type HttpBenchOptions, type HttpBenchReport, type HttpStep } from '../bench/http-bench.js';
import { writeHttpHtmlReport } from '../bench/http-report-html.js';
import { HTTP_TABLES, describeTarget, httpGrid, httpTargets } from '../bench/http-tables.js';
import { runBench, type BenchOptions, type BenchReport, type CellStart } from '../bench/run-bench.js';
import { SINK_NOTE, runSinkBench, sinkRowName, type SinkBenchOptions, type SinkBenchReport, type SinkRunStart } from '../bench/sink-bench.js';
import { WARMUP_SECONDS } from '../bench/cpu-accounting.js';
import { sinkRigSkipReason } from '../bench/sink-rig.js';
import { formatSize } from '../bench/sizes.js';
import { TCP_SINK_NOTE, runTcpSinkBench, type TcpSinkBenchOptions, type TcpSinkBenchReport, type TcpSinkCellStart } from '../bench/tcp-sink-bench.js';
import { tcpSinkRigSkipReason } from '../bench/tcp-sink-rig.js';
import { TCP_SINK_TABLES, exactShare } from '../bench/tcp-sink-tables.js';
import { startProgress } from './progress.js';
import { boxedTable, type Align } from './table.js';

function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

/** A share as a percentage that never rounds a share short of all (or above none) to 100% (or 0%). */
function exactPercent(share: number): string {
  if (!Number.isFinite(share)) return 'n/a';
  if (share === 0 || share === 1) return `${share * 100}%`;
  return `${(Math.min(Math.max(Math.floor(share * 1000), 1), 999) / 10).toFixed(1)}%`;
}

function header(report: BenchReport): string {
  const o = report.options;
  const runs = o.repeat === 1 ? '1 run per cell' : `median of ${o.repeat} runs per cell, interleaved`;
  return [
    report.note,
    `${o.durationSeconds} s per cell, ${o.streams} stream(s) × ${o.depth} sends in flight, ${runs}, Nagle ${o.noDelay ? 'off (TCP_NODELAY)' : 'on'}` +
      `${o.verify ? ', every stream verified (sha256)' : ''}; ${report.cpus} CPUs, kernel ${report.kernel}`,
    `Sender CPU is the sending process (each method and run a process of its own; JavaScript senders first run their loop ${WARMUP_SECONDS} s uncounted, so V8 has compiled it); "whole machine" adds everything else, the receiver too on loopback.`,
  ].join('\n');
}

/** The report as terminal tables (methods × sizes), with what was not measured and why. */
export function describeReport(report: BenchReport): string {
  const sizes = report.options.sizes;
  const out = [header(report), ''];
  for (const t of REPORT_TABLES) {
    const rows = report.options.methods.map((m) => [
      m,
      ...sizes.map((s) => {
        const r = report.results.find((x) => x.method === m && x.size === s);
        return !r ? '' : r.status === 'ok' ? t.cell(r) : r.status;
      }),
    ]);
    out.push(t.title, boxedTable(['method', ...sizes.map(formatSize)], rows, ['left', ...sizes.map((): Align => 'right')]), '');
  }
  const agreement = sizes.flatMap((s) =>
    report.results
      .filter((r) => r.size === s && r.external && r.status === 'ok' && r.gbitVsReference !== null)
      .map((r) => `  ${formatSize(s)}: ${r.method} ${r.gbitPerSecond.toFixed(2)} Gbit/s = ${r.gbitVsReference!.toFixed(2)}× reference`),
  );
  if (agreement.length > 0) {
    out.push(
      'External rows (their own sender and server; iperf3 and netperf read into user space where aiotx serve drops with MSG_TRUNC):',
      ...agreement,
      '',
    );
  }
  const missing = report.results.filter((r) => r.status !== 'ok');
  const reasons = [...new Set(missing.map((r) => `${r.method}: ${r.status}: ${r.reason}`))];
  if (reasons.length > 0) out.push('Not measured:', ...reasons.map((r) => `  ${r}`), '');
  return out.join('\n');
}

export interface BenchCommandOptions extends BenchOptions {
  json: boolean;
  reportDir: string | null;
}

export async function runBenchCommand(options: BenchCommandOptions): Promise<void> {
  const { json, reportDir, ...benchOptions } = options;
  // Progress is for a person watching; scripts and logs get only the results.
  const progress = startProgress('bench');
  let report: BenchReport;
  try {
    report = await runBench(benchOptions, (cell: CellStart) =>
      progress.step(cell.index, cell.total, `${cell.method} ${formatSize(cell.size)}${benchOptions.repeat > 1 ? ` run ${cell.run}/${benchOptions.repeat}` : ''}`),
    );
  } finally {
    progress.stop();
  }
  process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : describeReport(report));
  if (reportDir !== null) {
    const page = await writeHtmlReport(report, reportDir, REPORT_TABLES);
    process.stderr.write(`aiotx bench: report written to ${page}\n`);
  }
  const failed = report.results.filter((r) => r.status === 'failed');
  if (failed.length > 0) throw new Error(`${[...new Set(failed.map((r) => r.method))].join(', ')} failed (see "Not measured")`);
}

function sinkHeader(options: SinkBenchOptions, report: SinkBenchReport): string[] {
  const runs = options.repeat === 1 ? '1 run per method' : `median of ${options.repeat} runs per method, interleaved`;
  const { rig } = report;
  const lines = [
    SINK_NOTE,
    `${options.durationSeconds} s per run, ${options.depth} writes in flight, each one ${options.datagramSize}-byte GSO datagram ` +
      (options.batch > 1 ? `(a batch: ${options.batch} of them in one aioWrite call) ` : '') +
      `in ${options.segmentSize}-byte segments, ${runs}; SO_SNDBUF ${options.sendBufferSize > 0 ? `${options.sendBufferSize} bytes asked` : "the system's default"}; ` +
      `via ${rig.interface} to ${rig.sinkAddress}:${rig.port}; ` +
      `${cpus().length} CPUs, kernel ${release()}`,
    'Each sender cycles through 64 MiB of buffers (data not in cache, like a file or object server sends).',
    `CPU is the sending process only (user+sys, all its threads, around the send loop; aiotx rows first run the same loop ${WARMUP_SECONDS} s uncounted, so V8 has compiled it); each method and run is a process of its own.`,
  ];
  if (rig.offloadsNote) lines.push(`warning: ${rig.offloadsNote}`);
  return lines;
}

function describeSinkResults(options: SinkBenchOptions, report: SinkBenchReport): string {
  const rows = report.results.map((r) =>
    r.status !== 'ok'
      ? [sinkRowName(r), { colSpan: 7, content: `${r.status}: ${r.reason}` }]
      : [
          sinkRowName(r),
          r.backend ?? '-',
          fixed(r.gbitPerSecond, 2),
          fixed(r.cpuSecondsPerGB, 3),
          fixed(r.cpuMicrosPerWrite, 2),
          `${fixed(r.cpuPercentOfOneCore, 0)}%`,
          exactPercent(r.zeroCopyShare),
          r.cpuPerGBVsCopy === null ? 'n/a' : fixed(r.cpuPerGBVsCopy, 2),
        ],
  );
  const head = ['method', 'backend', 'Gbit/s', 'CPU s/GB', 'CPU µs/write', 'CPU % of 1 core', 'zero-copy', 'CPU/GB vs copy'];
  const table = boxedTable(head, rows, ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right']);
  return [...sinkHeader(options, report), '', table, ''].join('\n');
}

/** `aiotx bench --sink`; skipped (exit 0, reason on stderr) where the sink rig cannot be built. */
export async function runSinkBenchCommand(options: SinkBenchOptions & { json: boolean }): Promise<void> {
  const { json, ...benchOptions } = options;
  const skip = sinkRigSkipReason();
  if (skip !== null) {
    process.stderr.write(`aiotx bench --sink: skipped: ${skip}\n`);
    return;
  }
  const progress = startProgress('bench --sink');
  let report: SinkBenchReport;
  try {
    report = await runSinkBench(benchOptions, (run: SinkRunStart) =>
      progress.step(run.index, run.total, `${sinkRowName(run)}${benchOptions.repeat > 1 ? ` run ${run.run}/${benchOptions.repeat}` : ''}`),
    );
  } finally {
    progress.stop();
  }
  if (json) {
    const out = { note: SINK_NOTE, kernel: release(), cpus: cpus().length, options: benchOptions, ...report };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } else {
    process.stdout.write(describeSinkResults(benchOptions, report));
  }
  const failed = report.results.filter((r) => r.status === 'failed').map((r) => r.method);
  if (failed.length > 0) throw new Error(`--sink: ${failed.join(', ')} failed (see the results)`);
}

function describeTcpSinkReport(report: TcpSinkBenchReport): string {
  const o = report.options;
  const hot = o.workingSetBytes === 0;
  const runs = o.repeat === 1 ? '1 run per cell' : `median of ${o.repeat} runs per cell, interleaved`;
  const out = [
    report.note,
    `${o.durationSeconds} s per cell, ${o.depth} sends in flight, ${runs}, Nagle ${o.noDelay ? 'off (TCP_NODELAY)' : 'on'}; ` +
      `via ${report.rig.interface} to ${report.rig.sinkAddress}:${report.rig.port}; ${report.cpus} CPUs, kernel ${report.kernel}`,
    hot
      ? 'Hot: every lane sends one buffer over and over (cache-hot; this moves the zero-copy crossover up).'
      : `Cold: each sender rotates through ${formatSize(o.workingSetBytes)} of buffers (a wired pool: at most 1024 of them).`,
    `ACKs every ${formatSize(report.acker.ackBytes)} or ${report.acker.holdMicros} µs, injector pinned to CPU ${report.acker.cpu}; ` +
      "every run checked: TCP_INFO bytes ACKed and the eBPF tracker's highest sequence equal the bytes sent.",
    '',
  ];
  for (const t of TCP_SINK_TABLES) {
    const rows = o.methods.map((m) => {
      const cells = o.sizes.map((s) => {
        const r = report.results.find((x) => x.method === m && x.size === s);
        return !r ? '' : r.status === 'ok' ? t.cell(r) : r.status;
      });
      return [m, ...cells, ...(t.published ? [t.published.value(m, hot)] : [])];
    });
    const head = ['method', ...o.sizes.map(formatSize), ...(t.published ? [t.published.head] : [])];
    out.push(t.title, boxedTable(head, rows, ['left', ...head.slice(1).map((): Align => 'right')]), '');
  }
  const missing = report.results.filter((r) => r.status !== 'ok');
  const reasons = [...new Set(missing.map((r) => `${r.method} ${formatSize(r.size)}: ${r.status}: ${r.reason}`))];
  if (reasons.length > 0) out.push('Not measured:', ...reasons.map((r) => `  ${r}`), '');
  return out.join('\n');
}

/** `aiotx bench --sink tcp`; skipped (exit 0, reason on stderr) where the TCP sink rig cannot be built. */
export async function runTcpSinkBenchCommand(options: TcpSinkBenchOptions & { json: boolean; reportDir: string | null }): Promise<void> {
  const { json, reportDir, ...benchOptions } = options;
  const skip = tcpSinkRigSkipReason();
  if (skip !== null) {
    process.stderr.write(`aiotx bench --sink tcp: skipped: ${skip}\n`);
    return;
  }
  const progress = startProgress('bench --sink tcp');
  let report: TcpSinkBenchReport;
  try {
    report = await runTcpSinkBench(benchOptions, (cell: TcpSinkCellStart) =>
      progress.step(cell.index, cell.total, `${cell.method} ${formatSize(cell.size)}${benchOptions.repeat > 1 ? ` run ${cell.run}/${benchOptions.repeat}` : ''}`),
    );
  } finally {
    progress.stop();
  }
  process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : describeTcpSinkReport(report));
  if (reportDir !== null) {
    const page = await writeTcpSinkHtmlReport(report, reportDir, TCP_SINK_TABLES);
    process.stderr.write(`aiotx bench --sink tcp: report written to ${page}\n`);
  }
  const failed = report.results.filter((r) => r.status === 'failed');
  if (failed.length > 0) throw new Error(`--sink tcp: ${[...new Set(failed.map((r) => r.method))].join(', ')} failed (see "Not measured")`);
}

/** The calibration as a terminal table (sizes × working set and method), the crossovers and the threshold. */
export function describeCalibration(report: CalibrationReport): string {
  const o = report.options;
  const sets = ['cold', 'hot'] as const;
  const methods = ['aio-copy', ...CALIBRATE_ZERO_COPY] as const;
  const cell = (set: (typeof sets)[number], method: (typeof methods)[number], size: number): string => {
    const r = report.runs[set].results.find((x) => x.method === method && x.size === size);
    if (!r || r.status !== 'ok') return r?.status ?? '';
    const share = r.zeroCopyShare !== null && method !== 'aio-copy' && r.zeroCopyShare < 1 ? ` zc ${exactShare(r.zeroCopyShare)}` : '';
    return method === 'aio-copy' ? fixed(r.cpuSecondsPerGB, 3) : `${fixed(r.cpuSecondsPerGB, 3)} (${fixed(r.cpuPerGBVsCopy ?? NaN, 2)}×)${share}`;
  };
  const head = ['size', ...sets.flatMap((s) => methods.map((m) => `${s} ${m}`))];
  const rows = o.sizes.map((size) => [formatSize(size), ...sets.flatMap((s) => methods.map((m) => cell(s, m, size)))]);
  const crossings = (set: (typeof sets)[number]) =>
    CALIBRATE_ZERO_COPY.map((m) => `${m} ${report.crossovers[set][m] === null ? 'none' : formatSize(report.crossovers[set][m]!)}`).join(', ');
  const runs = o.repeat === 1 ? '1 run per cell' : `median of ${o.repeat} runs per cell, interleaved`;
  const out = [
    TCP_SINK_NOTE,
    `Sender CPU s/GB (× aio-copy), ${o.durationSeconds} s per cell, ${o.depth} sends in flight, ${runs}, Nagle ${o.noDelay ? 'off' : 'on'}; ` +
      `cold: each sender rotates through ${formatSize(o.workingSetBytes)}, hot: one buffer per send in flight; ${report.cpus} CPUs, kernel ${report.kernel}`,
    boxedTable(head, rows, head.map((_, i): Align => (i === 0 ? 'left' : 'right'))),
    '',
    'Crossover (zero-copy uses less CPU than aio-copy at this size and every larger one):',
    `  cold: ${crossings('cold')}`,
    `  hot:  ${crossings('hot')} (a cache-hot buffer makes copying cheap: the crossover moves up)`,
    report.threshold === null
      ? 'Zero-copy never saved CPU on the cold set here: AIOTX_ZEROCOPY=off'
      : `AIOTX_ZEROCOPY_THRESHOLD=${report.threshold} (${formatSize(report.threshold)}: the cold crossover of the backend that crosses last)`,
  ];
  const never = CALIBRATE_ZERO_COPY.filter((m) => report.crossovers.cold[m] === null);
  if (report.threshold !== null && never.length > 0) {
    out.push(`  (${never.join(', ')} did not save CPU on the cold set up to ${formatSize(Math.max(...o.sizes))}: the threshold holds for the others only)`);
  }
  const missing = sets.flatMap((s) => report.runs[s].results.filter((r) => r.status !== 'ok').map((r) => `${s} ${r.method} ${formatSize(r.size)}: ${r.status}: ${r.reason}`));
  if (missing.length > 0) out.push('Not measured:', ...[...new Set(missing)].map((r) => `  ${r}`));
  return `${out.join('\n')}\n`;
}

/** `aiotx bench --sink tcp --calibrate`; skipped (exit 0, reason on stderr) where the TCP sink rig cannot be built. */
export async function runCalibrateCommand(options: CalibrateOptions & { json: boolean }): Promise<void> {
  const { json, ...calibrateOptions } = options;
  const skip = tcpSinkRigSkipReason();
  if (skip !== null) {
    process.stderr.write(`aiotx bench --sink tcp --calibrate: skipped: ${skip}\n`);
    return;
  }
  const progress = startProgress('calibrate');
  let set = '';
  let report: CalibrationReport;
  try {
    report = await runCalibration(calibrateOptions, (step: CalibrateStep) => {
      // Minutes of work: say what is starting even where no progress bar is drawn.
      if (step.set !== set && !process.stderr.isTTY) process.stderr.write(`aiotx calibrate: ${step.set} working set, ${step.total / 2} runs\n`);
      set = step.set;
      progress.step(step.index, step.total, `${step.set} ${step.method} ${formatSize(step.size)}${calibrateOptions.repeat > 1 ? ` run ${step.run}/${calibrateOptions.repeat}` : ''}`);
    });
  } finally {
    progress.stop();
  }
  process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : describeCalibration(report));
  const failed = (['cold', 'hot'] as const).flatMap((s) => report.runs[s].results.filter((r) => r.status === 'failed').map((r) => r.method));
  if (failed.length > 0) throw new Error(`--calibrate: ${[...new Set(failed)].join(', ')} failed (see "Not measured")`);
}

/** `aiotx bench http` as terminal tables, with versions, targets and what was not measured. */
export function describeHttpReport(report: HttpBenchReport): string {
  const o = report.options;
  const runs = o.repeat === 1 ? '1 run per cell' : `median of ${o.repeat} runs per cell, interleaved`;
  const out = [
    report.note,
    `${report.wrk} -t${o.threads} -c${o.connections}, keep-alive, ${o.durationSeconds} s per run, ${runs}; files hot (written, then read once: in the page cache); ` +
      `load ${report.load.before.toFixed(2)} before, ${report.load.after.toFixed(2)} after; ${report.cpus} CPUs, kernel ${report.kernel}`,
    // Runs saved before pinning existed have neither field.
    report.pinning
      ? `servers on CPU ${report.pinning.server}, wrk on CPU ${report.pinning.client} (taskset)`
      : `servers and wrk wherever the scheduler put them${report.pinningNote ? `: ${report.pinningNote}` : ''}`,
    report.servers.map((s) => `${s.name}: ${s.label}${s.version ? ` (${s.version})` : ''}`).join('; '),
    '',
  ];
  for (const t of HTTP_TABLES) {
    const { head, rows } = httpGrid(report, t);
    out.push(t.title, boxedTable(head, rows, head.map((_, i): Align => (i === 0 ? 'left' : 'right'))), '');
  }
  out.push("aiotx's targets:", ...httpTargets(report).map((t) => `  ${describeTarget(t)}`), '');
  const reasons = [...new Set(report.results.filter((c) => c.status !== 'ok').map((c) => `${c.server} ${formatSize(c.size)}: ${c.status}: ${c.reason}`))];
  if (reasons.length > 0) out.push('Not measured:', ...reasons.map((r) => `  ${r}`), '');
  return out.join('\n');
}

export async function runHttpBenchCommand(options: HttpBenchOptions & { json: boolean; reportDir: string | null }): Promise<void> {
  const { json, reportDir, ...benchOptions } = options;
  const progress = startProgress('bench http');
  let report: HttpBenchReport;
  try {
    report = await runHttpBench(benchOptions, (s: HttpStep) =>
      progress.step(s.index, s.total, `${s.server} ${formatSize(s.size)}${benchOptions.repeat > 1 ? ` run ${s.run}/${benchOptions.repeat}` : ''}`),
    );
  } finally {
    progress.stop();
  }
  process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : describeHttpReport(report));
  if (reportDir !== null) {
    const page = await writeHttpHtmlReport(report, reportDir, HTTP_TABLES);
    process.stderr.write(`aiotx bench http: report written to ${page}\n`);
  }
  const failed = report.results.filter((c) => c.status === 'failed');
  if (failed.length > 0) throw new Error(`${[...new Set(failed.map((c) => c.server))].join(', ')} failed (see "Not measured")`);
}
