// wrk, the HTTP load generator of `aiotx bench http`: one run against a URL, its totals read from
// a Lua `done` hook that prints them as one JSON line (wrk's own text rounds bytes to 0.01 of a
// unit and prints durations in mixed units). Defining only `done` keeps wrk's fast path: a
// `response` hook would make it buffer every body into Lua.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onCpu, type OnCpu } from './cpu-pin.js';

/** What one wrk run reports: its totals over the whole run, every connection together. */
export interface WrkSummary {
  /** The run's length as wrk measured it, seconds. */
  seconds: number;
  /** Responses that completed. */
  requests: number;
  /** Every byte wrk read: status lines, headers, bodies, and the unfinished bodies at the end. */
  bytes: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
}

const MARKER = 'AIOTX-WRK ';

/** The Lua hook: summary.duration is in µs; errors.status counts responses with a status above 399. */
export const DONE_SCRIPT = `done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('\\n${MARKER}{"duration_us":%d,"requests":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\\n',
    summary.duration, summary.requests, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout))
end
`;

/** Writes the hook into `dir`; returns its path for `-s`. */
export function writeDoneScript(dir: string): string {
  const path = join(dir, 'wrk-done.lua');
  writeFileSync(path, DONE_SCRIPT);
  return path;
}

export class WrkOutputError extends Error {}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** The hook's line in wrk's stdout, checked field by field: wrk output is read, never trusted. */
export function parseWrkOutput(text: string): WrkSummary {
  const lines = text.split('\n').filter((l) => l.startsWith(MARKER));
  if (lines.length !== 1) throw new WrkOutputError(`wrk printed ${lines.length} '${MARKER.trim()}' lines, expected 1 (is -s wrk-done.lua loaded?)`);
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(lines[0]!.slice(MARKER.length)) as Record<string, unknown>;
  } catch {
    throw new WrkOutputError(`wrk's summary is not JSON: '${lines[0]!.slice(0, 200)}'`);
  }
  const fields = ['duration_us', 'requests', 'bytes', 'connect', 'read', 'write', 'status', 'timeout'];
  const bad = fields.filter((f) => !isCount(j[f]));
  if (typeof j !== 'object' || j === null || bad.length > 0) throw new WrkOutputError(`wrk's summary lacks counts for ${bad.join(', ')}`);
  const n = j as Record<string, number>;
  if (n.duration_us === 0) throw new WrkOutputError("wrk's summary says the run lasted 0 µs");
  return {
    seconds: n.duration_us! / 1e6,
    requests: n.requests!,
    bytes: n.bytes!,
    errors: { connect: n.connect!, read: n.read!, write: n.write!, status: n.status!, timeout: n.timeout! },
  };
}

/** The errors of a run as one phrase, or null when there were none. */
export function wrkErrors(s: WrkSummary): string | null {
  const e = s.errors;
  const parts = [
    e.status > 0 ? `${e.status} responses with status >= 400` : '',
    e.connect > 0 ? `${e.connect} connect errors` : '',
    e.read > 0 ? `${e.read} read errors (a connection reset, or a response wrk could not parse)` : '',
    e.write > 0 ? `${e.write} write errors` : '',
    e.timeout > 0 ? `${e.timeout} timeouts` : '',
  ].filter((p) => p !== '');
  return parts.length === 0 ? null : parts.join(', ');
}

export interface WrkJob {
  wrk: string;
  url: string;
  connections: number;
  threads: number;
  /** wrk takes whole seconds. */
  seconds: number;
  script: string;
  /** Where wrk runs, or null: anywhere. */
  cpu: OnCpu | null;
  /** Called with the child once spawned, so an interrupted bench can kill it. */
  track(child: ChildProcess): void;
}

/** Runs wrk to its end and returns its checked totals; a wrk that fails or prints nonsense rejects. */
export function runWrk(job: WrkJob): Promise<WrkSummary> {
  // A response that takes longer than wrk's default 2 s (64 MiB on a slow server) is not an error here.
  const args = ['-t', String(job.threads), '-c', String(job.connections), '-d', `${job.seconds}s`, '--timeout', `${job.seconds + 30}s`, '-s', job.script, job.url];
  return new Promise((resolve, reject) => {
    const [cmd, cmdArgs] = onCpu(job.cpu, job.wrk, args);
    const child = spawn(cmd, cmdArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
    job.track(child);
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out = (out + c).slice(-65536)));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err = (err + c).slice(-4096)));
    const timer = setTimeout(() => child.kill('SIGKILL'), (job.seconds + 60) * 1000);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        const detail = (err.trim() || out.trim()).split('\n')[0]?.slice(0, 300) ?? '';
        return reject(new Error(`wrk ${signal ? `killed by ${signal}` : `exit code ${code}`}${detail ? `: ${detail}` : ''}`));
      }
      try {
        resolve(parseWrkOutput(out));
      } catch (e) {
        reject(e as Error);
      }
    });
  });
}
