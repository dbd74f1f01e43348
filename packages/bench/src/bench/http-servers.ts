// The servers `aiotx bench http` compares, each a process of its own (so its CPU can be read from
// /proc/PID/stat), and the guard that removes every process and file the bench made: after the
// run, on an error, and on SIGINT/SIGTERM/SIGHUP.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, readFileSync, rmSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onCpu, type OnCpu } from './cpu-pin.js';

export const HTTP_SERVERS = ['nginx', 'stream', 'express', 'fastify', 'aiotx'] as const;
export type HttpServerName = (typeof HTTP_SERVERS)[number];

/** What each row runs, in words for the tables. */
export const SERVER_LABEL: Record<HttpServerName, string> = {
  nginx: 'nginx (sendfile)',
  stream: 'node:http + createReadStream().pipe(res)',
  express: 'express.static',
  fastify: '@fastify/static',
  aiotx: 'node:http + aiotx serveStatic',
};

/** '--server nginx,aiotx' → in table order, checked. */
export function parseServerList(text: string): HttpServerName[] {
  const names = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 0) throw new RangeError('no servers given');
  for (const n of names) {
    if (!(HTTP_SERVERS as readonly string[]).includes(n)) throw new RangeError(`unknown server '${n}' (one of ${HTTP_SERVERS.join(', ')})`);
  }
  return HTTP_SERVERS.filter((s) => names.includes(s));
}

/** The Node packages a server row needs beyond the library: devDependencies, absent from an installed aiotx. */
export const SERVER_PACKAGES: Partial<Record<HttpServerName, string[]>> = {
  express: ['express'],
  fastify: ['fastify', '@fastify/static'],
};

/** A server that listens, until stop(). */
export interface RunningServer {
  name: HttpServerName;
  port: number;
  /** The process whose CPU is counted (nginx runs with master_process off: its one process serves). */
  pid: number;
  /** What serves, e.g. 'nginx/1.22.1' or 'express 5.1.0'. */
  version: string;
  /** Why it is gone, once it exited by itself; null while it runs. */
  exited(): string | null;
  stop(): Promise<void>;
}

/** Not runnable here (a tool or package missing): the row says so and how to get it. */
export class NotInstalledError extends Error {}

export function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) if (dir && executable(join(dir, name))) return join(dir, name);
  return null;
}

/** utime + stime of a process, all its threads (live and exited) together, from /proc/PID/stat. */
export function parseProcPidStat(text: string): { userTicks: number; systemTicks: number } {
  // comm (field 2) may hold spaces and parentheses: fields are counted after its last ')'.
  const close = text.lastIndexOf(')');
  const f = close === -1 ? [] : text.slice(close + 2).trim().split(/\s+/);
  const [userTicks, systemTicks] = [Number(f[11]), Number(f[12])];
  if (f.length < 13 || !Number.isSafeInteger(userTicks) || !Number.isSafeInteger(systemTicks)) throw new Error(`/proc/PID/stat: cannot read '${text.slice(0, 120)}'`);
  return { userTicks, systemTicks };
}

/** Linux's USER_HZ, the unit of /proc/PID/stat times: 100 on every architecture Node runs on. */
const USER_HZ = 100;

export function processCpuSeconds(pid: number): number {
  const t = parseProcPidStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  return (t.userTicks + t.systemTicks) / USER_HZ;
}

/**
 * Every process the bench started and the temp folder it made: stopped and removed on every way
 * out. Its signal handlers remove everything at once, then let the signal end the process.
 */
export class ProcessGuard {
  private readonly children = new Set<ChildProcess>();
  private readonly dirs = new Set<string>();
  private readonly signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  private readonly onSignal = (signal: NodeJS.Signals) => {
    this.removeNow();
    this.disarm();
    process.kill(process.pid, signal);
  };
  private readonly onExit = () => this.removeNow();

  arm(): void {
    for (const s of this.signals) process.on(s, this.onSignal);
    process.on('exit', this.onExit);
  }

  disarm(): void {
    for (const s of this.signals) process.removeListener(s, this.onSignal);
    process.removeListener('exit', this.onExit);
  }

  track(child: ChildProcess): void {
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
  }

  trackDir(dir: string): void {
    this.dirs.add(dir);
  }

  /** Synchronous: SIGKILL to every child still running, then the folders go. */
  removeNow(): void {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
    this.dirs.clear();
  }

  /** Every child gone (SIGKILL after `graceMs`), then the folders. */
  async removeAll(graceMs: number): Promise<void> {
    await Promise.all([...this.children].map((c) => stopChild(c, graceMs)));
    this.removeNow();
  }
}

/** Asks a child to stop (stdin closed and SIGTERM), SIGKILL after `graceMs`; resolves when it is gone. */
export function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.stdin?.end();
    child.kill('SIGTERM');
  });
}

/** How a child ended, in words. */
export function howItEnded(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `killed by ${signal}` : `exit code ${code}`;
}

const CHILD_SCRIPT = fileURLToPath(new URL('./http-server-child.js', import.meta.url));

/** The child's first stdout line: where it listens, or why it could not. */
interface ChildHello {
  port?: number;
  version?: string;
  error?: { code: string | null; message: string; missing?: string };
}

/**
 * A Node server row (stream, express, fastify, aiotx) in a child process serving `root`. The
 * child exits when its stdin closes, so it cannot outlive the bench. `nodeArgs` go to node
 * (--cpu-prof ...).
 */
export async function startNodeServer(
  name: Exclude<HttpServerName, 'nginx'>,
  root: string,
  guard: ProcessGuard,
  limitMs: number,
  nodeArgs: string[] = [],
  cpu: OnCpu | null = null,
): Promise<RunningServer> {
  const [cmd, args] = onCpu(cpu, process.execPath, [...nodeArgs, CHILD_SCRIPT, name, root]);
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  guard.track(child);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr = (stderr + c).slice(-4000)));
  let ended: string | null = null;
  child.once('exit', (code, signal) => {
    const line = stderr.trim().split('\n').find((l) => l.trim() !== '');
    ended = `the ${name} server exited (${howItEnded(code, signal)})${line ? `: ${line.slice(0, 300)}` : ''}`;
  });
  const hello = await new Promise<ChildHello>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the ${name} server did not say where it listens within ${limitMs / 1000} s`)), limitMs);
    const fail = (e: Error) => {
      clearTimeout(timer);
      reject(e);
    };
    child.once('error', fail);
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      const nl = out.indexOf('\n');
      if (nl === -1) return;
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out.slice(0, nl)) as ChildHello);
      } catch {
        reject(new Error(`the ${name} server printed '${out.slice(0, nl).slice(0, 200)}', not its port`));
      }
    });
    child.once('exit', () => setImmediate(() => fail(new Error(ended ?? `the ${name} server exited`))));
  }).catch(async (err: Error) => {
    await stopChild(child, 1000);
    throw err;
  });
  if (hello.error) {
    await stopChild(child, 1000);
    if (hello.error.missing) throw new NotInstalledError(`${hello.error.missing} not installed (a devDependency of aiotx: npm install ${hello.error.missing})`);
    throw new Error(`the ${name} server: ${hello.error.message}`);
  }
  if (!Number.isInteger(hello.port) || typeof hello.version !== 'string') {
    await stopChild(child, 1000);
    throw new Error(`the ${name} server said ${JSON.stringify(hello).slice(0, 200)}, not its port and version`);
  }
  return {
    name,
    port: hello.port!,
    pid: child.pid!,
    version: hello.version,
    exited: () => ended,
    // Profiles (--cpu-prof) are written as the child exits: give it time.
    stop: () => stopChild(child, nodeArgs.length > 0 ? 10_000 : 2000),
  };
}
