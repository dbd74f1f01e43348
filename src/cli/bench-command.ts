// `aiotx bench`: runs the loopback bench (or, with --sink, the sink-rig bench) and prints its
// table, or its results as JSON.
import { cpus, release } from 'node:os';
import { LOOPBACK_NOTE, runBench, type BenchOptions, type CellResult, type CellStart } from '../bench/run-bench.js';
import { SINK_NOTE, runSinkBench, type SinkBenchOptions, type SinkBenchReport, type SinkRunStart } from '../bench/sink-bench.js';
import { sinkRigSkipReason } from '../bench/sink-rig.js';
import { formatSize } from '../bench/sizes.js';
import { formatTable } from './table.js';

function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

function percent(share: number | null): string {
  return share === null || !Number.isFinite(share) ? 'n/a' : `${(share * 100).toFixed(0)}%`;
}

/** Like percent(), but never rounds a share short of all (or above none) to 100% (or 0%). */
function exactPercent(share: number): string {
  if (!Number.isFinite(share)) return 'n/a';
  if (share === 0 || share === 1) return `${share * 100}%`;
  return `${(Math.min(Math.max(Math.floor(share * 1000), 1), 999) / 10).toFixed(1)}%`;
}

function describeResults(options: BenchOptions, results: CellResult[]): string {
  const rows = results.map((r) => [
    formatSize(r.size),
    r.method,
    r.backend ?? '-',
    fixed(r.gbitPerSecond, 2),
    fixed(r.cpuSecondsPerGB, 3),
    `${fixed(r.cpuPercentOfOneCore, 0)}%`,
    percent(r.copiedShare),
  ]);
  const runs = options.repeat === 1 ? '1 run per cell' : `median of ${options.repeat} runs per cell`;
  return [
    LOOPBACK_NOTE,
    `${options.durationSeconds} s per cell, ${options.depth} writes in flight, ${runs}, ` +
      `Nagle ${options.noDelay ? 'off (TCP_NODELAY)' : 'on'}; ${cpus().length} CPUs, kernel ${release()}`,
    'CPU is the sender process only (user+sys); the receiver is a separate process, not counted.',
    '',
    formatTable(
      ['size', 'method', 'backend', 'Gbit/s', 'CPU s/GB', 'CPU % of 1 core', 'copied'],
      rows,
      ['right', 'left', 'left', 'right', 'right', 'right', 'right'],
    ),
    '',
  ].join('\n');
}

function progress(cell: CellStart, repeat: number): void {
  const run = repeat > 1 ? ` (run ${cell.run}/${repeat})` : '';
  process.stderr.write(`[${cell.index}/${cell.total}] ${cell.method} ${formatSize(cell.size)}${run} ...\n`);
}

export async function runBenchCommand(options: BenchOptions & { json: boolean }): Promise<void> {
  const { json, ...benchOptions } = options;
  // Progress is for a person watching; scripts and logs get only the results.
  const onCellStart = process.stderr.isTTY ? (cell: CellStart) => progress(cell, benchOptions.repeat) : undefined;
  const results = await runBench(benchOptions, onCellStart);
  if (json) {
    const report = { note: LOOPBACK_NOTE, kernel: release(), cpus: cpus().length, options: benchOptions, results };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    process.stdout.write(describeResults(benchOptions, results));
  }
}

function sinkHeader(options: SinkBenchOptions, report: SinkBenchReport): string[] {
  const runs = options.repeat === 1 ? '1 run per method' : `median of ${options.repeat} runs per method, interleaved`;
  const { rig } = report;
  const lines = [
    SINK_NOTE,
    `${options.durationSeconds} s per run, ${options.depth} writes in flight, each one ${options.datagramSize}-byte GSO datagram ` +
      `in ${options.segmentSize}-byte segments, ${runs}; via ${rig.interface} to ${rig.sinkAddress}:${rig.port}; ` +
      `${cpus().length} CPUs, kernel ${release()}`,
    'Each sender cycles through 64 MiB of buffers (data not in cache, like a file or object server sends).',
    'CPU is the sending process only (user+sys, all its threads, around the send loop); each method and run is a process of its own.',
  ];
  if (rig.offloadsNote) lines.push(`warning: ${rig.offloadsNote}`);
  return lines;
}

function describeSinkResults(options: SinkBenchOptions, report: SinkBenchReport): string {
  const header = ['method', 'backend', 'Gbit/s', 'CPU s/GB', 'CPU % of 1 core', 'zero-copy', 'CPU/GB vs copy'];
  const measured = report.results.filter((r) => r.status === 'ok');
  // Rows without numbers are written by hand, so the method column is padded for all of them.
  const methodWidth = Math.max(header[0]!.length, ...report.results.map((r) => r.method.length));
  const table = formatTable(
    [header[0]!.padEnd(methodWidth), ...header.slice(1)],
    measured.map((r) => [
      r.method.padEnd(methodWidth),
      r.backend ?? '-',
      fixed(r.gbitPerSecond, 2),
      fixed(r.cpuSecondsPerGB, 3),
      `${fixed(r.cpuPercentOfOneCore, 0)}%`,
      exactPercent(r.zeroCopyShare),
      r.cpuPerGBVsCopy === null ? 'n/a' : fixed(r.cpuPerGBVsCopy, 2),
    ]),
    ['left', 'left', 'right', 'right', 'right', 'right', 'right'],
  ).split('\n');
  const lines = [table[0]!];
  let next = 1;
  for (const r of report.results) {
    if (r.status === 'ok') lines.push(table[next++]!);
    else lines.push(`${r.method.padEnd(methodWidth)}  ${r.status}: ${r.reason}`);
  }
  return [...sinkHeader(options, report), '', ...lines, ''].join('\n');
}

function sinkProgress(run: SinkRunStart, repeat: number): void {
  const of = repeat > 1 ? ` (run ${run.run}/${repeat})` : '';
  process.stderr.write(`[${run.index}/${run.total}] ${run.method}${of} ...\n`);
}

/** `aiotx bench --sink`; skipped (exit 0, reason on stderr) where the sink rig cannot be built. */
export async function runSinkBenchCommand(options: SinkBenchOptions & { json: boolean }): Promise<void> {
  const { json, ...benchOptions } = options;
  const skip = sinkRigSkipReason();
  if (skip !== null) {
    process.stderr.write(`aiotx bench --sink: skipped: ${skip}\n`);
    return;
  }
  const onRunStart = process.stderr.isTTY ? (run: SinkRunStart) => sinkProgress(run, benchOptions.repeat) : undefined;
  const report = await runSinkBench(benchOptions, onRunStart);
  if (json) {
    const out = { note: SINK_NOTE, kernel: release(), cpus: cpus().length, options: benchOptions, ...report };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } else {
    process.stdout.write(describeSinkResults(benchOptions, report));
  }
  const failed = report.results.filter((r) => r.status === 'failed').map((r) => r.method);
  if (failed.length > 0) throw new Error(`--sink: ${failed.join(', ')} failed (see the results)`);
}
