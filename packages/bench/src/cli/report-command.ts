// `aiotx report FILE.json`: a saved bench run, printed again and optionally written as HTML.
import { readFile } from 'node:fs/promises';
import { writeHtmlReport } from '../bench/report-html.js';
import { REPORT_TABLES } from '../bench/report-tables.js';
import type { BenchReport } from '../bench/run-bench.js';
import { asHttpBenchReport } from '../bench/http-bench.js';
import { writeHttpHtmlReport } from '../bench/http-report-html.js';
import { HTTP_TABLES } from '../bench/http-tables.js';
import { describeHttpReport, describeReport } from './bench-command.js';

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
  if (await runHttpReport(path, reportDir)) return;
  const report = await readReport(path);
  process.stdout.write(describeReport(report));
  if (reportDir !== null) {
    const page = await writeHtmlReport(report, reportDir, REPORT_TABLES);
    process.stderr.write(`aiotx report: report written to ${page}\n`);
  }
}

/** A saved `aiotx bench http` run: its tables, and its page with --report; false for another kind of file. */
async function runHttpReport(path: string, reportDir: string | null): Promise<boolean> {
  let http;
  try {
    http = asHttpBenchReport(JSON.parse(await readFile(path, 'utf8')));
  } catch (err) {
    if (err instanceof SyntaxError || (err as NodeJS.ErrnoException).code !== undefined) return false; // readReport says why
    throw new Error(`${path}: ${(err as Error).message}`);
  }
  if (http === null) return false;
  process.stdout.write(describeHttpReport(http));
  if (reportDir !== null) process.stderr.write(`aiotx report: report written to ${await writeHttpHtmlReport(http, reportDir, HTTP_TABLES)}\n`);
  return true;
}
