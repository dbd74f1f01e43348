// `aiotx report FILE.json`: a saved bench run, printed again and optionally written as HTML.
import { readFile } from 'node:fs/promises';
import { writeHtmlReport } from '../bench/report-html.js';
import { REPORT_TABLES } from '../bench/report-tables.js';
import type { BenchReport } from '../bench/run-bench.js';
import { describeReport } from './bench-command.js';

/** Reads a bench report, checking it is one: a person may hand us any file. */
export async function readReport(path: string): Promise<BenchReport> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
  const r = value as Partial<BenchReport> | null;
  if (r?.kind !== 'aiotx-bench' || r.version !== 1) throw new Error(`${path}: not an 'aiotx bench --json' result (kind aiotx-bench, version 1)`);
  const o = r.options;
  const shapeOk =
    Array.isArray(r.results) && o !== undefined && Array.isArray(o.sizes) && Array.isArray(o.methods) &&
    r.results.every((c) => typeof c === 'object' && c !== null && typeof c.method === 'string' && typeof c.size === 'number');
  if (!shapeOk) throw new Error(`${path}: the result is damaged (options or results missing)`);
  return r as BenchReport;
}

export async function runReportCommand(path: string, reportDir: string | null): Promise<void> {
  const report = await readReport(path);
  process.stdout.write(describeReport(report));
  if (reportDir !== null) {
    const page = await writeHtmlReport(report, reportDir, REPORT_TABLES);
    process.stderr.write(`aiotx report: report written to ${page}\n`);
  }
}
