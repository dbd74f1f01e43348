// The fault matrix's harness: each scenario's sender runs in a child process (so that "the
// process exits on its own" is checked), writes deterministic streams (pattern.ts) to a hashing
// receiver in the test process, and reports what settled and what it still holds as JSON lines.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import type { TestContext } from 'node:test';
import { jsonLines } from './netns.js';
import { prefixDigest } from './pattern.js';

const url = (path: string) => JSON.stringify(new URL(path, import.meta.url).href);

/**
 * Imports and helpers every scenario script starts with: the library, the addon (for raw fds),
 * the deterministic streams, the leak census, wakeup counts, and `report(obj)` (one JSON line to the test).
 * `leaks()` waits for closing sockets and returns what the process still holds beyond its start.
 */
export const prelude = `
  import { wakeupsOver } from ${url('./wakeups.js')};
  import net from 'node:net';
  import { aioWrite, sendFile, createBufferPool, probe, zeroCopy } from ${url('../../src/index.js')};
  import { addon } from ${url('../../src/native/addon.js')};
  import { streamBytes } from ${url('./pattern.js')};
  import { baselineNow, settledLeaks, noLeaks } from ${url('./leaks.js')};
  import { stalled, tcpQueues } from ${url('./sockets.js')};
  const baseline = baselineNow();
  const report = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
  const leaks = () => settledLeaks(baseline);
  const connect = (port, options = {}) => new Promise((resolve, reject) => {
    const c = net.connect({ port, host: '127.0.0.1', ...options }, () => resolve(c));
    c.once('error', reject);
  });
  /** Queues stream \`seed\` as \`count\` jobs of \`size\` bytes, all in one turn; returns their promises. */
  const jobsOf = (target, seed, count, size, options = {}) => {
    const buffers = Array.from({ length: count }, (_, i) => streamBytes(seed, i * size, size));
    return buffers.map((b) => aioWrite(target, b, options));
  };
  const outcomes = async (jobs) => (await Promise.allSettled(jobs)).map((r) =>
    r.status === 'fulfilled' ? { ok: true, bytes: r.value.bytes, backend: r.value.backend } : { ok: false, code: r.reason?.code ?? String(r.reason), message: r.reason?.message });
`;

export interface ChildRun {
  /** The next JSON line the child printed. */
  next(): Promise<unknown>;
  /** Resolves when it exited: code, signal, whether the test had to kill it, its stderr. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; killed: boolean; stderr: string }>;
  pid: number;
}

/**
 * Runs `prelude + body` (`body` alone when `bare`) in a child node, under `wrapper` (a launcher: seccomp, prlimit...) when
 * given. A child still running after `hangAfterMs` is killed and reported as hung.
 */
export function runScenario(
  body: string,
  options: { env?: NodeJS.ProcessEnv; wrapper?: string[]; hangAfterMs?: number; nodeArgs?: string[]; bare?: boolean } = {},
): ChildRun {
  const script = options.bare ? body : prelude + body;
  const argv = [...(options.wrapper ?? []), process.execPath, ...(options.nodeArgs ?? []), '--input-type=module', '-e', script];
  const child = spawn(argv[0]!, argv.slice(1), { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    child.kill('SIGKILL');
  }, options.hangAfterMs ?? 120_000);
  const exited = once(child, 'exit').then(([code, signal]) => {
    clearTimeout(timer);
    return { code: code as number | null, signal: signal as NodeJS.Signals | null, killed, stderr };
  });
  return { next: jsonLines(child), exited, pid: child.pid! };
}

/** The child exited by itself, with status 0 and no signal. */
export async function assertCleanExit(run: ChildRun): Promise<void> {
  const r = await run.exited;
  assert.equal(r.killed, false, `the scenario hung and was killed; stderr: ${r.stderr.slice(-2000)}`);
  assert.equal(r.signal, null, `the scenario died of ${String(r.signal)}; stderr: ${r.stderr.slice(-2000)}`);
  assert.equal(r.code, 0, `the scenario exited with ${String(r.code)}; stderr: ${r.stderr.slice(-2000)}`);
}

export interface Reception {
  bytes: number;
  sha256: string;
  /** How the stream ended: 'end' (FIN), or the error code (ECONNRESET...). */
  ending: string;
  socket: Socket;
}

export interface Receiver {
  server: Server;
  port: number;
  /** Connections in accept order, each resolving when its stream ended or failed. */
  connection(i: number): Promise<{ socket: Socket; done: Promise<Reception> }>;
  close(): Promise<void>;
}

/** A hashing TCP receiver on 127.0.0.1; `setup` may pause or reset each accepted socket. */
export async function hashingReceiver(setup: (socket: Socket, index: number) => void = () => {}): Promise<Receiver> {
  const waiting: ((c: { socket: Socket; done: Promise<Reception> }) => void)[] = [];
  const accepted: Promise<{ socket: Socket; done: Promise<Reception> }>[] = [];
  const server = createServer((socket) => {
    const hash = createHash('sha256');
    let bytes = 0;
    const done = new Promise<Reception>((resolve) => {
      let ending = '';
      socket.on('data', (d: Buffer) => {
        hash.update(d);
        bytes += d.length;
      });
      socket.once('end', () => (ending ||= 'end'));
      socket.once('error', (e: NodeJS.ErrnoException) => (ending ||= e.code ?? e.message));
      socket.once('close', () => resolve({ bytes, sha256: hash.digest('hex'), ending: ending || 'close', socket }));
    });
    setup(socket, accepted.length);
    const entry = { socket, done };
    accepted.push(Promise.resolve(entry));
    waiting.shift()?.(entry);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    server,
    port: (server.address() as { port: number }).port,
    connection: (i) => accepted[i] ?? new Promise((resolve) => waiting.push(resolve)),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The receiver got exactly the first `r.bytes` bytes of stream `seed`. */
export function assertPrefix(r: Reception, seed: number, what: string): void {
  assert.equal(r.sha256, prefixDigest(seed, r.bytes), `${what}: the ${r.bytes} bytes received are not the stream's first ${r.bytes}`);
}

export interface Outcome {
  ok: boolean;
  bytes?: number;
  backend?: string;
  code?: string;
}

/** Fulfilled jobs come first, then only rejections (the stream is cut once). */
export function assertSettledInOrder(outcomes: Outcome[], codes: string[]): { fulfilled: number; rejected: number } {
  const firstRejected = outcomes.findIndex((o) => !o.ok);
  const fulfilled = firstRejected < 0 ? outcomes.length : firstRejected;
  outcomes.forEach((o, i) => {
    if (i < fulfilled) return;
    assert.equal(o.ok, false, `job ${i} resolved after job ${fulfilled} was rejected`);
    assert.ok(codes.includes(o.code ?? ''), `job ${i} rejected with ${String(o.code)}, expected one of ${codes.join(', ')}`);
  });
  return { fulfilled, rejected: outcomes.length - fulfilled };
}

/** Prints a scenario's figures for the report (the lead quotes them). */
export function figures(t: TestContext, fault: string, f: Record<string, unknown>): void {
  const line = `fault ${fault}: ${Object.entries(f)
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(' ')}`;
  t.diagnostic(line);
  console.log(line);
}
