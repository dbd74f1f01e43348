// One function per bench method. Each keeps `depth` sends in flight on one loopback connection
// for a fixed time and counts the bytes, the sender's CPU time and what the kernel copied.
import { randomFillSync } from 'node:crypto';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { aioWrite, type BackendName, type ZeroCopyMode } from '../index.js';
import { cpuSecondsBetween } from './cpu-accounting.js';

export type Method = 'write' | 'aio-copy' | 'aio-zc';
export const METHODS: readonly Method[] = ['write', 'aio-copy', 'aio-zc'];

export interface Measurement {
  /** Bytes whose send finished (write callback ran, or aioWrite resolved). */
  bytes: number;
  /** Bytes the kernel copied, from WriteResult.copiedBytes; null for net.Socket.write, which cannot tell. */
  copiedBytes: number | null;
  /** The backend aioWrite reported; null for net.Socket.write. */
  backend: BackendName | null;
  wallSeconds: number;
  /** This process's user + system CPU time over the same interval (the receiver is another process). */
  cpuSeconds: number;
}

interface Counted {
  bytes: number;
  copiedBytes: number | null;
  backend: BackendName | null;
}

/**
 * `depth` distinct buffers of random bytes. A buffer is handed out again only after the send
 * using it finished with it, so no job in flight ever has its memory rewritten or re-sent.
 */
class BufferPool {
  private readonly free: Buffer[];
  private readonly waiters: ((buf: Buffer) => void)[] = [];
  private readonly depth: number;
  private allBack: (() => void) | null = null;

  constructor(size: number, depth: number) {
    this.depth = depth;
    // allocUnsafeSlow: each buffer gets its own memory, not a slice of Node's shared pool.
    this.free = Array.from({ length: depth }, () => randomFillSync(Buffer.allocUnsafeSlow(size)));
  }

  acquire(): Promise<Buffer> {
    const buf = this.free.pop();
    return buf ? Promise.resolve(buf) : new Promise((resolve) => this.waiters.push(resolve));
  }

  release(buf: Buffer): void {
    const waiter = this.waiters.shift();
    if (waiter) return waiter(buf);
    this.free.push(buf);
    if (this.free.length === this.depth) this.allBack?.();
  }

  whenAllReturned(): Promise<void> {
    if (this.free.length === this.depth) return Promise.resolve();
    return new Promise((resolve) => (this.allBack = resolve));
  }
}

/** net.Socket.write, honouring backpressure: after write() returns false, wait for 'drain'. */
async function sendWithNetWrite(socket: Socket, pool: BufferPool, deadline: number): Promise<Counted> {
  let bytes = 0;
  let failure: Error | null = null;
  while (failure === null && performance.now() < deadline) {
    const buf = await pool.acquire();
    const ok = socket.write(buf, (err) => {
      if (err) failure ??= err;
      else bytes += buf.length;
      pool.release(buf);
    });
    if (!ok) await once(socket, 'drain');
  }
  await pool.whenAllReturned();
  if (failure) throw failure;
  return { bytes, copiedBytes: null, backend: null };
}

async function sendWithAioWrite(socket: Socket, pool: BufferPool, deadline: number, zeroCopy: ZeroCopyMode): Promise<Counted> {
  let bytes = 0;
  let copiedBytes = 0;
  let backend: BackendName | null = null;
  let failure: Error | null = null;
  while (failure === null && performance.now() < deadline) {
    const buf = await pool.acquire();
    aioWrite(socket, buf, { zeroCopy }).then(
      (result) => {
        bytes += result.bytes;
        copiedBytes += result.copiedBytes;
        backend = result.backend;
        pool.release(buf);
      },
      (err: Error) => {
        failure ??= err;
        pool.release(buf);
      },
    );
  }
  await pool.whenAllReturned();
  if (failure) throw failure;
  return { bytes, copiedBytes, backend };
}

function send(method: Method, socket: Socket, pool: BufferPool, deadline: number): Promise<Counted> {
  switch (method) {
    case 'write':
      return sendWithNetWrite(socket, pool, deadline);
    case 'aio-copy':
      return sendWithAioWrite(socket, pool, deadline, 'off');
    case 'aio-zc':
      return sendWithAioWrite(socket, pool, deadline, 'on');
  }
}

export interface MethodRun {
  port: number;
  size: number;
  depth: number;
  durationSeconds: number;
  /** TCP_NODELAY on the sending socket. Off by default, as in Node. */
  noDelay: boolean;
}

/** Runs `method` over a fresh connection to 127.0.0.1:`port`; timing starts once connected. */
export async function measureMethod(method: Method, run: MethodRun): Promise<Measurement> {
  const pool = new BufferPool(run.size, run.depth);
  // A fresh socket per run: aioWrite adopts the socket, and methods must not share one.
  const socket = connect({ host: '127.0.0.1', port: run.port, noDelay: run.noDelay });
  await once(socket, 'connect');
  // Failures reach the loops through write callbacks and aioWrite rejections; this only keeps
  // an 'error' event from going unhandled.
  socket.on('error', () => {});
  try {
    const cpuBefore = process.cpuUsage();
    const start = performance.now();
    const counted = await send(method, socket, pool, start + run.durationSeconds * 1000);
    const wallSeconds = (performance.now() - start) / 1000;
    const cpuSeconds = cpuSecondsBetween(cpuBefore, process.cpuUsage());
    return { ...counted, wallSeconds, cpuSeconds };
  } finally {
    if (!socket.closed) {
      const closed = new Promise((resolve) => socket.once('close', resolve));
      socket.end();
      await closed;
    }
  }
}
