// `aiotx bench http`: file serving over loopback. nginx, a plain Node stream server,
// express.static, @fastify/static and aiotx's serveStatic, each a process of its own, serve the
// same page-cached files; wrk drives each in turn (rounds interleaved: A B C D E A B C D E), and
// every cell reports the medians of its runs and ratios to nginx and to the stream server.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { busySecondsBetween, cpuPercentOfOneCore, cpuSecondsPerGB, gigabitsPerSecond, median, parseProcStatCpu, ratio, type SystemTimes } from './cpu-accounting.js';
import { choosePinning, type CpuPinning, type OnCpu } from './cpu-pin.js';
import { bytesFitResponses, checkResponse } from './http-check.js';
import {
  NotInstalledError,
  ProcessGuard,
  SERVER_LABEL,
  onPath,
  processCpuSeconds,
  startNodeServer,
  type HttpServerName,
  type RunningServer,
} from './http-servers.js';
import { INSTALL_HINT, findNginx, startNginx } from './nginx.js';
import { formatSize } from './sizes.js';
import { runWrk, writeDoneScript, wrkErrors } from './wrk.js';

export interface HttpBenchOptions {
  servers: HttpServerName[];
  sizes: number[];
  /** wrk takes whole seconds. */
  durationSeconds: number;
  /** An unmeasured wrk run per server and size before the first round (0: none). */
  warmupSeconds: number;
  connections: number;
  /** wrk threads. */
  threads: number;
  repeat: number;
  /** Where the Node servers write --cpu-prof profiles, or null. */
  cpuProfileDir: string | null;
  /** Servers on one CPU and wrk on another (see cpu-pin.ts); false: wherever the scheduler puts them. */
  pin: boolean;
}

export const HTTP_NOTE =
  'Loopback: wrk and the server share this machine, and every byte is copied into wrk; the figures compare servers on one path, ' +
  'not a NIC. Server CPU is user+sys of the server process (all its threads) from /proc/PID/stat over the wrk run; ' +
  "nginx runs with master_process off, so its one process is the worker. wrk's own CPU is not counted. " +
  "Pinned, the server's CPU is also read as a whole from /proc/stat (its busy time: user, system, irq and softirq, " +
  'whichever process it was charged to or none), which counts the loopback receive work that runs there in softirq ' +
  'and is billed to no PID, or to the one running at that moment.';

/** One wrk run against one server and file. */
export interface HttpRun {
  requests: number;
  /** Every byte wrk read: heads, bodies, and the unfinished bodies when the run stopped. */
  bytes: number;
  /** wrk's measured run length. */
  seconds: number;
  /** The window the server's CPU was read over (wrk's start to its exit). */
  wallSeconds: number;
  cpuSeconds: number;
  /** Busy seconds of the server's CPU (pinned runs only, else null) over the same window, from /proc/stat. */
  coreSeconds: number | null;
  /** The response head's length in the check before the run. */
  headBytes: number;
}

export type HttpStatus = 'ok' | 'not installed' | 'failed';

export interface HttpCell {
  server: HttpServerName;
  size: number;
  status: HttpStatus;
  reason: string | null;
  requestsPerSecond: number;
  gbitPerSecond: number;
  /** Server CPU, % of one core. */
  cpuPercent: number;
  cpuSecondsPerGB: number;
  /** Busy seconds of the server's CPU per GB (softirq and all; NaN unpinned). */
  coreSecondsPerGB: number;
  gbitVsNginx: number | null;
  cpuPerGBVsNginx: number | null;
  corePerGBVsNginx: number | null;
  gbitVsStream: number | null;
  cpuPerGBVsStream: number | null;
  corePerGBVsStream: number | null;
  /** sha256 of the body in the last check (equal to the file's: the check fails otherwise). */
  bodySha256: string | null;
  runs: HttpRun[];
}

export interface HttpServerInfo {
  name: HttpServerName;
  label: string;
  version: string | null;
  status: HttpStatus;
  reason: string | null;
}

export interface HttpBenchReport {
  kind: 'aiotx-bench-http';
  version: 1;
  date: string;
  kernel: string;
  cpus: number;
  note: string;
  /** 1-minute load average before and after the run. */
  load: { before: number; after: number };
  wrk: string;
  options: HttpBenchOptions;
  /** Where the servers and wrk ran, or null with the reason (not asked for, one CPU, no taskset). */
  pinning: CpuPinning | null;
  pinningNote: string | null;
  files: { size: number; sha256: string }[];
  servers: HttpServerInfo[];
  results: HttpCell[];
}

export interface HttpStep {
  index: number;
  total: number;
  server: HttpServerName;
  size: number;
  run: number;
}

const START_LIMIT_MS = 10_000;
const PIECE = 1 << 20;

function fileName(size: number): string {
  return `${formatSize(size)}.bin`;
}

/** Random bytes written in 1 MiB pieces, then read once: every server serves from the page cache. */
function writeFiles(dir: string, sizes: number[]): { size: number; sha256: string }[] {
  const piece = Buffer.alloc(PIECE);
  return sizes.map((size) => {
    const hash = createHash('sha256');
    const path = join(dir, fileName(size));
    const fd = openSync(path, 'w');
    try {
      for (let left = size; left > 0; left -= PIECE) {
        const part = randomFillSync(piece.subarray(0, Math.min(left, PIECE)));
        hash.update(part);
        for (let done = 0; done < part.length; ) done += writeSync(fd, part, done);
      }
    } finally {
      closeSync(fd);
    }
    const again = openSync(path, 'r');
    try {
      while (readSync(again, piece) > 0);
    } finally {
      closeSync(again);
    }
    return { size, sha256: hash.digest('hex') };
  });
}

/** 'wrk debian/4.1.0-3+b2' from `wrk -v`, which prints its version and usage, then exits 1. */
function wrkVersion(wrk: string): string {
  const r = spawnSync(wrk, ['-v'], { encoding: 'utf8', timeout: 10_000 });
  return /^wrk \S+/.exec(`${r.stdout ?? ''}`.trim())?.[0] ?? 'wrk';
}

function emptyCell(server: HttpServerName, size: number, status: HttpStatus, reason: string | null): HttpCell {
  return {
    server, size, status, reason,
    requestsPerSecond: Number.NaN, gbitPerSecond: Number.NaN, cpuPercent: Number.NaN, cpuSecondsPerGB: Number.NaN, coreSecondsPerGB: Number.NaN,
    gbitVsNginx: null, cpuPerGBVsNginx: null, corePerGBVsNginx: null, gbitVsStream: null, cpuPerGBVsStream: null, corePerGBVsStream: null,
    bodySha256: null, runs: [],
  };
}

/** Medians over a cell's runs. */
function reduce(cell: HttpCell): void {
  if (cell.status !== 'ok') return;
  const m = (f: (r: HttpRun) => number) => median(cell.runs.map(f));
  cell.requestsPerSecond = m((r) => r.requests / r.seconds);
  cell.gbitPerSecond = m((r) => gigabitsPerSecond(r.bytes, r.seconds));
  cell.cpuPercent = m((r) => cpuPercentOfOneCore(r.cpuSeconds, r.wallSeconds));
  cell.cpuSecondsPerGB = m((r) => cpuSecondsPerGB(r.cpuSeconds, r.bytes));
  cell.coreSecondsPerGB = cell.runs.every((r) => r.coreSeconds !== null) ? m((r) => cpuSecondsPerGB(r.coreSeconds!, r.bytes)) : Number.NaN;
}

/** Ratios of each cell to nginx's and the stream server's of the same size. */
export function addHttpRatios(results: HttpCell[]): void {
  for (const c of results) {
    const of = (server: HttpServerName) => results.find((x) => x.server === server && x.size === c.size && x.status === 'ok');
    const nginx = of('nginx');
    const stream = of('stream');
    const ok = c.status === 'ok';
    c.gbitVsNginx = ok ? ratio(c.gbitPerSecond, nginx?.gbitPerSecond) : null;
    c.cpuPerGBVsNginx = ok ? ratio(c.cpuSecondsPerGB, nginx?.cpuSecondsPerGB) : null;
    c.gbitVsStream = ok ? ratio(c.gbitPerSecond, stream?.gbitPerSecond) : null;
    c.cpuPerGBVsStream = ok ? ratio(c.cpuSecondsPerGB, stream?.cpuSecondsPerGB) : null;
    c.corePerGBVsNginx = ok ? ratio(c.coreSecondsPerGB, nginx?.coreSecondsPerGB) : null;
    c.corePerGBVsStream = ok ? ratio(c.coreSecondsPerGB, stream?.coreSecondsPerGB) : null;
  }
}

/** The /proc/stat counters of one CPU now, or null where they cannot be read. */
function cpuTimes(cpu: number): SystemTimes | null {
  try {
    return parseProcStatCpu(readFileSync('/proc/stat', 'utf8'), cpu);
  } catch {
    return null;
  }
}

/** One measured run: a checked GET, then wrk, with the server's CPU read around it. */
async function measure(server: RunningServer, wrk: string, script: string, file: { size: number; sha256: string }, seconds: number, o: HttpBenchOptions, guard: ProcessGuard, pinning: CpuPinning | null): Promise<HttpRun> {
  const path = `/${fileName(file.size)}`;
  const dead = server.exited();
  if (dead !== null) throw new Error(dead);
  const check = await checkResponse(server.port, path, file.size, file.sha256, 60_000);
  const job = { wrk, url: `http://127.0.0.1:${server.port}${path}`, connections: o.connections, threads: o.threads, seconds, script, cpu: pinning && { cpu: pinning.client, taskset: pinning.taskset }, track: (c: ChildProcess) => guard.track(c) };
  const cpu0 = processCpuSeconds(server.pid);
  const core0 = pinning && cpuTimes(pinning.server);
  const t0 = process.hrtime.bigint();
  const s = await runWrk(job);
  const wallSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const core1 = pinning && cpuTimes(pinning.server);
  const coreSeconds = core0 && core1 ? busySecondsBetween(core0, core1) : null;
  const gone = server.exited();
  if (gone !== null) throw new Error(gone);
  const cpuSeconds = processCpuSeconds(server.pid) - cpu0;
  const errors = wrkErrors(s);
  if (errors !== null) throw new Error(`wrk saw ${errors} in ${s.requests} responses`);
  // A 64 MiB body on a slow server may take longer than a short run on every connection: then no
  // response completes, and the check before the run is what vouches for the bytes.
  if (s.bytes === 0) throw new Error(`wrk read nothing within ${seconds} s`);
  if (!bytesFitResponses(s.bytes, s.requests, o.connections, check.headBytes, file.size)) {
    throw new Error(`wrk read ${s.bytes} bytes for ${s.requests} responses of ${check.headBytes}+${file.size} bytes on ${o.connections} connections: not the file's length`);
  }
  return { requests: s.requests, bytes: s.bytes, seconds: s.seconds, wallSeconds, cpuSeconds, coreSeconds: coreSeconds !== null && Number.isFinite(coreSeconds) ? coreSeconds : null, headBytes: check.headBytes };
}

function startServer(name: HttpServerName, nginx: ReturnType<typeof findNginx>, dir: string, root: string, o: HttpBenchOptions, guard: ProcessGuard, cpu: OnCpu | null): Promise<RunningServer> {
  if (name === 'nginx') {
    if ('missing' in nginx) return Promise.reject(new NotInstalledError(nginx.missing));
    return startNginx(nginx.path, join(dir, 'nginx'), root, guard, START_LIMIT_MS, cpu);
  }
  const profile = o.cpuProfileDir === null ? [] : ['--cpu-prof', '--cpu-prof-dir', o.cpuProfileDir, '--cpu-prof-name', `${name}-${process.pid}.cpuprofile`];
  return startNodeServer(name, root, guard, START_LIMIT_MS, profile, cpu);
}

/**
 * The whole run. Every process it starts and its temp folder are gone when it returns or throws,
 * and when SIGINT/SIGTERM/SIGHUP arrives during it.
 */
export async function runHttpBench(o: HttpBenchOptions, onStep: (step: HttpStep) => void = () => {}): Promise<HttpBenchReport> {
  const loadBefore = loadavg()[0]!;
  const guard = new ProcessGuard();
  guard.arm();
  const results = o.sizes.flatMap((size) => o.servers.map((server) => emptyCell(server, size, 'ok', null)));
  const cell = (server: HttpServerName, size: number) => results.find((c) => c.server === server && c.size === size)!;
  const servers: HttpServerInfo[] = o.servers.map((name) => ({ name, label: SERVER_LABEL[name], version: null, status: 'ok', reason: null }));
  const running = new Map<HttpServerName, RunningServer>();
  const wrk = onPath('wrk');
  const chosen = o.pin ? choosePinning(onPath('taskset')) : { pinning: null, why: 'not pinned (--no-pin)' };
  const pinning = chosen.pinning;
  let files: { size: number; sha256: string }[] = [];
  let wrkName = 'wrk';
  try {
    const dir = mkdtempSync(join(tmpdir(), 'aiotx-bench-http-'));
    guard.trackDir(dir);
    const root = join(dir, 'files');
    mkdirSync(root);
    if (wrk === null) {
      for (const s of servers) Object.assign(s, { status: 'not installed', reason: `wrk ${INSTALL_HINT}` });
    } else {
      files = writeFiles(root, o.sizes);
      wrkName = wrkVersion(wrk);
      const nginx = findNginx();
      for (const s of servers) {
        try {
          const server = await startServer(s.name, nginx, dir, root, o, guard, pinning && { cpu: pinning.server, taskset: pinning.taskset });
          running.set(s.name, server);
          s.version = server.version;
        } catch (err) {
          s.status = err instanceof NotInstalledError ? 'not installed' : 'failed';
          s.reason = (err as Error).message;
        }
      }
      const script = writeDoneScript(dir);
      const plan = Array.from({ length: o.repeat }, (_, i) => i + 1).flatMap((run) =>
        o.sizes.flatMap((size) => o.servers.filter((s) => running.has(s)).map((server) => ({ run, size, server }))),
      );
      const warmed = new Set<string>();
      for (const [i, step] of plan.entries()) {
        onStep({ index: i + 1, total: plan.length, ...step });
        const c = cell(step.server, step.size);
        if (c.status !== 'ok') continue;
        const server = running.get(step.server)!;
        const file = files.find((f) => f.size === step.size)!;
        try {
          const key = `${step.server} ${step.size}`;
          if (o.warmupSeconds > 0 && !warmed.has(key)) {
            warmed.add(key);
            await measure(server, wrk, script, file, o.warmupSeconds, o, guard, pinning);
          }
          const r = await measure(server, wrk, script, file, o.durationSeconds, o, guard, pinning);
          c.runs.push(r);
          c.bodySha256 = file.sha256;
        } catch (err) {
          c.status = 'failed';
          c.reason = `run ${step.run}: ${(err as Error).message}`;
        }
      }
    }
  } finally {
    await Promise.all([...running.values()].map((s) => s.stop()));
    await guard.removeAll(2000);
    guard.disarm();
  }
  for (const s of servers) {
    for (const size of o.sizes) {
      const c = cell(s.name, size);
      if (s.status !== 'ok') Object.assign(c, { status: s.status, reason: s.reason });
      reduce(c);
    }
  }
  addHttpRatios(results);
  return {
    kind: 'aiotx-bench-http',
    version: 1,
    date: new Date().toISOString(),
    kernel: release(),
    cpus: cpus().length,
    note: HTTP_NOTE,
    load: { before: loadBefore, after: loadavg()[0]! },
    wrk: wrkName,
    options: o,
    pinning,
    pinningNote: chosen.why,
    files,
    servers,
    results,
  };
}

/** A saved `aiotx bench http --json` run, checked enough to render (a person may hand us any file); null when it is another kind. */
export function asHttpBenchReport(value: unknown): HttpBenchReport | null {
  const r = value as Partial<HttpBenchReport> | null;
  if (r?.kind !== 'aiotx-bench-http') return null;
  const o = r.options;
  const ok =
    r.version === 1 && o !== undefined && Array.isArray(o.sizes) && Array.isArray(o.servers) && Array.isArray(r.servers) && Array.isArray(r.results) &&
    typeof r.load === 'object' && r.load !== null &&
    r.results.every((c) => typeof c === 'object' && c !== null && typeof c.server === 'string' && typeof c.size === 'number' && typeof c.status === 'string');
  if (!ok) throw new Error("an 'aiotx bench http --json' result (kind aiotx-bench-http), but damaged or of another version");
  // JSON turned the NaN of unmeasured figures into null.
  for (const c of r.results!) {
    for (const f of ['requestsPerSecond', 'gbitPerSecond', 'cpuPercent', 'cpuSecondsPerGB', 'coreSecondsPerGB'] as const) if (typeof c[f] !== 'number') c[f] = Number.NaN;
    // Saved before the CPU-busy figures existed.
    c.corePerGBVsNginx ??= null;
    c.corePerGBVsStream ??= null;
  }
  return r as HttpBenchReport;
}
