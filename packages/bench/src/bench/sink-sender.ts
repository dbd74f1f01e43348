// The sending side of `aiotx bench --sink`, run as a child process: a process picks its zero-copy
// backend once (AIOTX_BACKEND), so the parent starts one of these per method and run.
//
// Connects a udp4 socket to the sink rig, keeps `depth` aioWrite calls in flight for the duration
// (each with its own buffers, reused only after its write settled), each one GSO super-datagram of
// `size` bytes cut into `segment`-byte datagrams — or, with --batch N, each call the batched form
// aioWrite(socket, [N buffers]), N such datagrams — and prints one JSON line on stdout: a
// SinkSample, or { error: { code, message } } (exit code 1) when it could not send.
import { randomFillSync } from 'node:crypto';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { aioWrite, createBufferPool, probe, type BackendName, type BufferPool, type ZeroCopyMode } from 'aiotx';
import { sinkReferenceSend, sinkReferenceUring } from '../native/tcp-sink-ops.js';
import { WARMUP_SECONDS, cpuSecondsBetween } from './cpu-accounting.js';
import { reportFailure } from './child-run.js';
import { POOL_NOT_WIRED, type SinkSample } from './sink-protocol.js';

/** Bytes of distinct buffers cycled through (more than the caches hold). */
const WORKING_SET_BYTES = 64 << 20;
/** A process's wired-buffer table has 1024 slots. */
const MAX_POOL_BUFFERS = 1024;

const { values } = parseArgs({
  options: {
    method: { type: 'string' },
    address: { type: 'string' },
    bind: { type: 'string' },
    port: { type: 'string' },
    duration: { type: 'string' },
    size: { type: 'string' },
    segment: { type: 'string' },
    depth: { type: 'string' },
    batch: { type: 'string', default: '1' },
    sndbuf: { type: 'string', default: '0' },
  },
  strict: true,
});

function required(name: keyof typeof values): string {
  const v = values[name];
  if (typeof v !== 'string') throw new Error(`sink-sender: --${name} is required`);
  return v;
}

async function main(): Promise<void> {
  const method = required('method');
  if (!['copy', 'msgzerocopy', 'uring', 'uring-pool', 'reference', 'reference-zc', 'reference-uring'].includes(method)) throw new Error(`sink-sender: unknown method '${method}'`);
  const address = required('address');
  const port = Number(required('port'));
  const durationSeconds = Number(required('duration'));
  const size = Number(required('size'));
  const segmentSize = Number(required('segment'));
  const depth = Number(required('depth'));
  const batch = Number(required('batch'));
  const zeroCopy: ZeroCopyMode = method === 'copy' || method === 'reference' ? 'off' : 'on';

  // Senders of real data (files, objects) rarely send from cache-hot memory: cycle through a
  // working set larger than the caches, like scripts/sink-check.c does.
  const perRound = depth * batch;
  const count = perRound * Math.max(1, Math.floor(Math.min(MAX_POOL_BUFFERS, WORKING_SET_BYTES / size) / perRound));
  let pool: BufferPool | null = null;
  let buffers: Buffer[];
  if (method === 'uring-pool') {
    // A forced backend that cannot run explains an unwired pool better than the pool does.
    const caps = probe();
    if (caps.backendError !== null) {
      throw Object.assign(new Error(caps.backendError), { code: 'ERR_AIOTX_BACKEND_UNAVAILABLE' });
    }
    pool = createBufferPool({ size, count });
    if (!pool.wired) throw Object.assign(new Error(`buffer pool not wired: ${pool.reason}`), { code: POOL_NOT_WIRED });
    buffers = Array.from({ length: count }, () => randomFillSync(pool!.acquire()!));
  } else {
    // allocUnsafeSlow: each buffer its own memory, not a slice of Node's shared pool.
    buffers = Array.from({ length: count }, () => randomFillSync(Buffer.allocUnsafeSlow(size)));
  }

  const sendBufferSize = Number(values.sndbuf);
  const socket = dgram.createSocket({ type: 'udp4', ...(sendBufferSize > 0 ? { sendBufferSize } : {}) });
  // Failures reach us as aioWrite rejections; this only keeps an 'error' event from going unhandled.
  socket.on('error', () => {});
  try {
    const bind = values.bind;
    if (bind !== undefined) {
      socket.bind(0, bind);
      await once(socket, 'listening');
    }
    socket.connect(port, address);
    await once(socket, 'connect');
    if (method === 'reference-uring') {
      const uring = probe().backends.uring;
      if (!uring.available) throw Object.assign(new Error(`io_uring cannot run here: ${uring.reason}`), { code: 'ERR_AIOTX_BACKEND_UNAVAILABLE' });
    }
    if (method === 'reference' || method === 'reference-zc' || method === 'reference-uring') {
      const floor = method === 'reference-uring' ? 'uring' : zeroCopy === 'on' ? 'msgzerocopy' : 'copy';
      process.stdout.write(`${JSON.stringify(floorSample(socket, buffers, size, segmentSize, durationSeconds, floor, depth))}\n`);
      return;
    }

    const options = { zeroCopy, segmentSize };
    // Warm-up, not counted: the first write sets up the transmitter (and the ring), and a backend
    // that cannot run rejects here.
    // allSettled: no buffer may still be in flight when the pool is closed below.
    const warm = await Promise.allSettled(buffers.slice(0, perRound).map((b) => aioWrite(socket, b, options)));
    const rejected = warm.find((r) => r.status === 'rejected');
    if (rejected) throw rejected.reason;

    const sample: SinkSample = { bytes: 0, zeroCopyBytes: 0, copiedBytes: 0, writes: 0, segments: 0, backend: null, wallSeconds: 0, cpuSeconds: 0 };
    const backends = new Set<BackendName>();
    let deadline = 0;
    let failure: unknown = null;
    // `depth` lanes, each owning every depth-th group of `batch` buffers: a buffer goes out again
    // only after its previous write settled. The groups are made once: no array per call.
    const groups = Array.from({ length: count / batch }, (_, g) => buffers.slice(g * batch, g * batch + batch));
    const write = batch === 1 ? (g: number) => aioWrite(socket, groups[g]![0]!, options) : (g: number) => aioWrite(socket, groups[g]!, options);
    const lane = async (first: number): Promise<void> => {
      for (let g = first; failure === null && performance.now() < deadline; g = (g + depth) % groups.length) {
        try {
          const r = await write(g);
          sample.bytes += r.bytes;
          sample.zeroCopyBytes += r.zeroCopyBytes;
          sample.copiedBytes += r.copiedBytes;
          sample.segments += r.segments;
          sample.writes += batch;
          backends.add(r.backend);
        } catch (err) {
          failure ??= err;
        }
      }
    };
    // The same loop, uncounted, until V8 has compiled it (WARMUP_SECONDS says why).
    deadline = performance.now() + WARMUP_SECONDS * 1000;
    await Promise.all(Array.from({ length: depth }, (_, lane0) => lane(lane0)));
    if (failure !== null) throw failure;
    Object.assign(sample, { bytes: 0, zeroCopyBytes: 0, copiedBytes: 0, writes: 0, segments: 0 });
    const cpuBefore = process.cpuUsage();
    const start = performance.now();
    deadline = start + durationSeconds * 1000;
    await Promise.all(Array.from({ length: depth }, (_, lane0) => lane(lane0)));
    sample.wallSeconds = (performance.now() - start) / 1000;
    sample.cpuSeconds = cpuSecondsBetween(cpuBefore, process.cpuUsage());
    if (failure !== null) throw failure;
    sample.backend = backends.size > 0 ? [...backends].join('/') : null;
    process.stdout.write(`${JSON.stringify(sample)}\n`);
  } finally {
    socket.close();
    if (pool) {
      for (const b of buffers) pool.release(b);
      pool.close();
    }
  }
}

/** A dgram.Socket's fd through its state symbol: its `_handle` getter warns (DEP0112). */
function datagramFd(socket: dgram.Socket): number | undefined {
  for (const sym of Object.getOwnPropertySymbols(socket)) {
    const state = (socket as unknown as Record<symbol, { handle?: { fd?: number } } | undefined>)[sym];
    if (sym.description === 'state symbol' && state?.handle) return state.handle.fd;
  }
  return undefined;
}

/**
 * The C floor: the same datagrams from the same buffers (laid end to end), sent by a C loop:
 * send(2), with MSG_ZEROCOPY, or io_uring SEND_ZC from the region registered (depth in flight).
 */
function floorSample(socket: dgram.Socket, buffers: Buffer[], size: number, segment: number, durationSeconds: number, floor: 'copy' | 'msgzerocopy' | 'uring', depth: number): SinkSample {
  const zeroCopy = floor !== 'copy';
  const fd = datagramFd(socket);
  if (typeof fd !== 'number' || fd < 0) throw new Error('sink-sender: the dgram socket has no file descriptor');
  const region = Buffer.concat(buffers);
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  const r =
    floor === 'uring' ? sinkReferenceUring(fd, region, size, durationSeconds * 1000, segment, depth, true) : sinkReferenceSend(fd, region, size, durationSeconds * 1000, zeroCopy, segment);
  const wallSeconds = (performance.now() - start) / 1000;
  const cpuSeconds = cpuSecondsBetween(cpuBefore, process.cpuUsage());
  return {
    bytes: r.bytes,
    zeroCopyBytes: zeroCopy ? r.zeroCopySends * size : 0,
    copiedBytes: zeroCopy ? r.copiedSends * size : r.bytes,
    writes: r.sends,
    segments: r.sends,
    backend: floor === 'uring' ? 'C io_uring' : zeroCopy ? 'C MSG_ZEROCOPY' : 'C send()',
    wallSeconds,
    cpuSeconds,
  };
}

main().catch(reportFailure);
