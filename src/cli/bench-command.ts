// `aiotx bench`: runs the loopback bench and prints its table, or its results as JSON.
import { cpus, release } from 'node:os';
import { LOOPBACK_NOTE, runBench, type BenchOptions, type CellResult, type CellStart } from '../bench/run-bench.js';
import { formatSize } from '../bench/sizes.js';
import { formatTable } from './table.js';

function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

function percent(share: number | null): string {
  return share === null || !Number.isFinite(share) ? 'n/a' : `${(share * 100).toFixed(0)}%`;
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
