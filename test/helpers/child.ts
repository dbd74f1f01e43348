// Faults simulated in a child process only, never machine-wide: a child under a lower
// RLIMIT_MEMLOCK without CAP_IPC_LOCK, or a child whose io_uring_enter calls fail on demand
// (enter-fault.c, a seccomp user-notification supervisor the test builds).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The library entry a child script imports. */
export const indexUrl = new URL('../../src/index.js', import.meta.url).href;

function has(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * The command prefix that runs a child with RLIMIT_MEMLOCK at `bytes` and without CAP_IPC_LOCK
 * (which would lift the limit), or a string saying why this machine cannot.
 */
export function memlockPrefix(bytes: number): string[] | string {
  if (!has('prlimit')) return 'prlimit (util-linux) is not installed';
  const limit = ['prlimit', `--memlock=${bytes}:${bytes}`];
  if (process.getuid?.() !== 0) return limit;
  if (!has('setpriv')) return 'setpriv (util-linux) is not installed, so root cannot drop CAP_IPC_LOCK';
  try {
    execFileSync('setpriv', ['--bounding-set=-ipc_lock', 'true'], { stdio: 'ignore' });
  } catch {
    return 'cannot drop CAP_IPC_LOCK here (setpriv --bounding-set needs CAP_SETPCAP)';
  }
  return ['setpriv', '--bounding-set=-ipc_lock', ...limit];
}

let launcher: string | null = null;

/** The enter-fault launcher, built once per process, or why it cannot be. */
export function enterFaultLauncher(): string {
  if (launcher) return launcher;
  if (!has('gcc')) throw new Error('gcc is not installed');
  const source = fileURLToPath(new URL('../../../test/helpers/enter-fault.c', import.meta.url));
  const out = join(mkdtempSync(join(tmpdir(), 'aiotx-enter-fault-')), 'enter-fault');
  execFileSync('gcc', ['-O1', '-o', out, source], { stdio: 'pipe' });
  launcher = out;
  return out;
}

/** Whether seccomp user notification works here (needs Linux 5.5 and no seccomp forbidding it). */
export function enterFaultSkip(): false | string {
  try {
    execFileSync(enterFaultLauncher(), ['11', 'once', '--', 'true'], { stdio: 'pipe' });
    return false;
  } catch (err) {
    return `seccomp user notification unavailable: ${(err as Error).message.split('\n')[0]}`;
  }
}

export interface ChildResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs an ES module `script` in a child node under `prefix`, with `env` added. The watchdog only
 * ends a child that hangs, so that a hang fails the test instead of stalling the suite.
 */
export function runChild(script: string, options: { prefix?: string[]; env?: Record<string, string>; watchdogMs?: number } = {}): Promise<ChildResult> {
  const prefix = options.prefix ?? [];
  const argv = [...prefix, process.execPath, '--expose-gc', '--input-type=module', '-e', script];
  const child = spawn(argv[0]!, argv.slice(1), {
    env: { ...process.env, UV_USE_IO_URING: '0', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const watchdog = setTimeout(() => child.kill('SIGKILL'), options.watchdogMs ?? 120_000);
  return new Promise((resolve) => {
    child.on('close', (status) => {
      clearTimeout(watchdog);
      resolve({ status, stdout, stderr });
    });
  });
}

/**
 * The last line of the child's stdout, parsed as JSON; the child must have exited on its own with
 * status 0 (a hang the watchdog ended fails here), else its output is in the error.
 */
export function lastJson<T>(r: ChildResult): T {
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0) throw new Error(`child exited with status ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new Error(`child printed no JSON result\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  }
}

/**
 * Opening lines for a child script: the library as `aiotx`, and `pair()`, a loopback TCP pair
 * whose `received` hashes every byte the server end gets until the client ends.
 */
export const childPrelude = `
import net from 'node:net';
import fs from 'node:fs';
import { createHash } from 'node:crypto';
import * as aiotx from ${JSON.stringify(indexUrl)};
const sha = (...chunks) => { const h = createHash('sha256'); for (const c of chunks) h.update(c); return h.digest('hex'); };
const pattern = (size, seed) => { const b = Buffer.allocUnsafe(size); for (let i = 0; i < size; i++) b[i] = (i * 31 + seed * 7 + (i >> 9)) & 0xff; return b; };
async function pair() {
  const listener = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => listener.once('listening', r));
  const accepted = new Promise((r) => listener.once('connection', r));
  const client = net.connect(listener.address().port, '127.0.0.1');
  await new Promise((r) => client.once('connect', r));
  const server = await accepted;
  listener.close(); // its one connection came: the child may exit once its sockets close
  client.on('error', () => {});
  server.on('error', () => {});
  const h = createHash('sha256');
  let bytes = 0;
  server.on('data', (d) => { h.update(d); bytes += d.length; });
  const received = new Promise((r) => server.once('close', () => r({ bytes, sha256: h.digest('hex') })));
  const close = () => { client.destroy(); server.destroy(); };
  return { client, server, received, close };
}
`;

/**
 * Runs a child script with `backend` as AIOTX_BACKEND and resolves the JSON of the last line it
 * printed; a non-zero exit rejects with its stderr.
 */
export function runReportingChild<T>(script: string, backend: string, args: string[]): Promise<T> {
  const child = spawn(process.execPath, [script, ...args], { env: { ...process.env, AIOTX_BACKEND: backend }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  return new Promise((resolve, reject) => {
    child.once('close', (code) => {
      if (code !== 0) return reject(new Error(`child (${backend}) exit ${code}: ${err.trim()}`));
      resolve(JSON.parse(out.trim().split('\n').at(-1)!) as T);
    });
  });
}
