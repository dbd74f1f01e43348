// The sending side of `aiotx bench`, run as a child process per method and run (a process picks
// its zero-copy backend once; AIOTX_BACKEND comes from the parent). Opens `streams` TCP
// connections to the server's data port, keeps `depth` sends in flight on each for the duration,
// ends them, and prints one JSON line: a SenderSample, or { error } (exit code 1).
//
// Each stream has `depth` lanes; a lane owns one buffer (or file range) and sends it again only
// after its previous send finished, so no send in flight ever has its memory rewritten. With
// verify, every send is hashed in call order, which is the order the bytes go on the wire.
import { createHash, randomFillSync, type Hash } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, open, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { referenceSend } from '../native/bench-loops.js';
import { aioWrite, createBufferPool, probe, sendFile, type BufferPool } from 'aiotx';
import { METHODS, type SenderJob, type SenderSample, type SentStream } from './bench-methods.js';
import { reportFailure } from './child-run.js';
import { WARMUP_SECONDS, cpuSecondsBetween, parseProcStat, systemCpuPercent } from './cpu-accounting.js';
import { peerName } from './control-protocol.js';
import { POOL_NOT_WIRED } from './sink-protocol.js';

interface Sent {
  bytes: number;
  copiedBytes: number | null;
  backend: string | null;
}

/** Sends lane buffer `i` once on a stream; resolves when the send finished with its memory. */
type SendOne = (stream: Stream, i: number) => Promise<Sent>;

interface Stream {
  socket: Socket;
  hash: Hash | null;
  bytes: number;
}

function readJob(): SenderJob {
  const { values } = parseArgs({ options: { job: { type: 'string' } }, strict: true });
  if (values.job === undefined) throw new Error('stream-sender: --job=JSON is required');
  const job = JSON.parse(values.job) as SenderJob;
  if (!METHODS.includes(job.method)) throw new Error(`stream-sender: unknown method '${job.method}'`);
  return job;
}

const systemTimes = () => parseProcStat(readFileSync('/proc/stat', 'utf8'));

async function connectStreams(job: SenderJob): Promise<Stream[]> {
  const streams: Stream[] = [];
  for (let i = 0; i < job.streams; i++) {
    const socket = connect({ host: job.host, port: job.port, noDelay: job.noDelay });
    // Failures reach the loops through rejections and callbacks; this keeps 'error' handled.
    socket.on('error', () => {});
    streams.push({ socket, hash: job.verify ? createHash('sha256') : null, bytes: 0 });
    await once(socket, 'connect');
    if (job.preamble !== null) {
      const preamble = Buffer.from(job.preamble, 'hex');
      await new Promise<void>((resolve, reject) => socket.write(preamble, (err) => (err ? reject(err) : resolve())));
    }
  }
  return streams;
}

/** Lanes of buffers: from a wired pool for aio-zc-pool, else plain random memory. */
function laneBuffers(job: SenderJob, count: number): { buffers: Buffer[]; pool: BufferPool | null } {
  if (job.method !== 'aio-zc-pool' && job.method !== 'aio-zc-pool-batch') {
    // allocUnsafeSlow: each buffer its own memory, not a slice of Node's shared pool.
    return { buffers: Array.from({ length: count }, () => randomFillSync(Buffer.allocUnsafeSlow(job.size))), pool: null };
  }
  const caps = probe();
  if (caps.backendError !== null) throw Object.assign(new Error(caps.backendError), { code: 'ERR_AIOTX_BACKEND_UNAVAILABLE' });
  const pool = createBufferPool({ size: job.size, count });
  if (!pool.wired) throw Object.assign(new Error(`buffer pool not wired: ${pool.reason}`), { code: POOL_NOT_WIRED });
  return { buffers: Array.from({ length: count }, () => randomFillSync(pool.acquire()!)), pool };
}

function sendOneFor(job: SenderJob, groups: Buffer[][], file: FileHandle | null): SendOne {
  const buffers = groups.map((g) => g[0]!);
  switch (job.method) {
    case 'write':
      return (s, i) =>
        new Promise((resolve, reject) => {
          const buf = buffers[i]!;
          s.socket.write(buf, (err) => (err ? reject(err) : resolve({ bytes: buf.length, copiedBytes: null, backend: null })));
        });
    case 'sendfile':
      return async (s, i) => {
        const r = await sendFile(s.socket, file!, { offset: i * job.size, length: job.size });
        return { bytes: r.bytes, copiedBytes: r.copiedBytes, backend: r.backend };
      };
    case 'aio-copy-batch':
    case 'aio-zc-pool-batch': {
      const options = { zeroCopy: job.method === 'aio-copy-batch' ? 'off' : 'on' } as const;
      return async (s, i) => {
        const r = await aioWrite(s.socket, groups[i]!, options);
        return { bytes: r.bytes, copiedBytes: r.copiedBytes, backend: r.backend };
      };
    }
    case 'aio-auto':
      return async (s, i) => {
        const r = await aioWrite(s.socket, buffers[i]!);
        return { bytes: r.bytes, copiedBytes: r.copiedBytes, backend: r.backend };
      };
    default: {
      const options = { zeroCopy: job.method === 'aio-copy' ? 'off' : 'on' } as const;
      return async (s, i) => {
        const r = await aioWrite(s.socket, buffers[i]!, options);
        return { bytes: r.bytes, copiedBytes: r.copiedBytes, backend: r.backend };
      };
    }
  }
}

async function sendLanes(job: SenderJob, streams: Stream[], groups: Buffer[][], sendOne: SendOne, deadline: number): Promise<Sent> {
  const total: Sent = { bytes: 0, copiedBytes: job.method === 'write' ? null : 0, backend: null };
  const backends = new Set<string>();
  let failure: unknown = null;
  const lane = async (s: Stream, i: number) => {
    while (failure === null && performance.now() < deadline) {
      // Hashed before the call: calls (and a batch's buffers) reach the wire in order.
      if (s.hash) for (const b of groups[i]!) s.hash.update(b);
      try {
        const r = await sendOne(s, i);
        s.bytes += r.bytes;
        total.bytes += r.bytes;
        if (total.copiedBytes !== null) total.copiedBytes += r.copiedBytes ?? 0;
        if (r.backend) backends.add(r.backend);
      } catch (err) {
        failure ??= err;
      }
    }
  };
  // Lane k of stream j sends group j × depth + k (one buffer, or a batch's): no buffer is in two
  // sends at once.
  await Promise.all(streams.flatMap((s, j) => Array.from({ length: job.depth }, (_, k) => lane(s, j * job.depth + k))));
  if (failure !== null) throw failure;
  total.backend = backends.size > 0 ? [...backends].join('/') : null;
  return total;
}

/**
 * The reference loop: the lane buffers back to back, sent cyclically in C in writes of the cell's
 * size by every stream; each stream is that region repeated.
 */
function sendReference(job: SenderJob, streams: Stream[], buffer: Buffer): Sent {
  const sent = referenceSend(streams.map((s) => s.socket), buffer, job.durationSeconds * 1000, job.size);
  streams.forEach((s, i) => {
    s.bytes = sent[i]!;
    if (s.hash) {
      for (let n = Math.floor(s.bytes / buffer.length); n > 0; n--) s.hash.update(buffer);
      s.hash.update(buffer.subarray(0, s.bytes % buffer.length));
    }
  });
  return { bytes: sent.reduce((a, b) => a + b, 0), copiedBytes: null, backend: null };
}

async function endStreams(streams: Stream[], awaitClose: boolean): Promise<void> {
  await Promise.all(
    streams.map((s) => {
      if (s.socket.closed) return undefined;
      // 'finish': our end and every byte before it are with the kernel, which delivers them.
      const done = once(s.socket, awaitClose ? 'close' : 'finish');
      s.socket.end();
      return done;
    }),
  );
}

async function main(): Promise<void> {
  const job = readJob();
  // The reference loop copies from the same lane buffers, so every row has the same working set
  // (one buffer per send in flight: at 1 MiB, 4 lanes are 4 MiB, past this machine's L2).
  const lanes = job.depth * job.streams;
  const { buffers, pool } = laneBuffers(job, lanes * job.batch);
  const groups = Array.from({ length: lanes }, (_, i) => buffers.slice(i * job.batch, (i + 1) * job.batch));
  let dir: string | null = null;
  let file: FileHandle | null = null;
  const streams = await connectStreams(job);
  try {
    if (job.method === 'sendfile') {
      // The lanes' ranges of one file, written from the lane buffers so verify can hash them.
      dir = await mkdtemp(join(tmpdir(), 'aiotx-bench-'));
      await writeFile(join(dir, 'data'), Buffer.concat(buffers));
      file = await open(join(dir, 'data'), 'r');
    }
    const locals = streams.map((s) => peerName(s.socket.localAddress, s.socket.localPort));
    const sendOne = job.method === 'reference' ? null : sendOneFor(job, groups, file);
    // The same loop, uncounted, until V8 has compiled it (WARMUP_SECONDS says why); its bytes
    // count in each stream's total, which the receiver checks.
    const warmupStart = performance.now();
    if (sendOne) await sendLanes(job, streams, groups, sendOne, warmupStart + WARMUP_SECONDS * 1000);
    const warmupSeconds = sendOne ? (performance.now() - warmupStart) / 1000 : 0;
    const cpuBefore = process.cpuUsage();
    const systemBefore = systemTimes();
    const start = performance.now();
    const sent = sendOne ? await sendLanes(job, streams, groups, sendOne, start + job.durationSeconds * 1000) : sendReference(job, streams, Buffer.concat(buffers));
    const wallSeconds = (performance.now() - start) / 1000;
    const cpuSeconds = cpuSecondsBetween(cpuBefore, process.cpuUsage());
    const system = systemCpuPercent(systemBefore, systemTimes(), cpus().length);
    await endStreams(streams, job.awaitClose);
    const sample: SenderSample = {
      ...sent,
      wallSeconds,
      warmupSeconds,
      cpuSeconds,
      systemPercent: system.busy,
      softirqPercent: system.softirq,
      streams: streams.map((s, i): SentStream => ({ local: locals[i]!, bytes: s.bytes, sha256: s.hash?.digest('hex') ?? null })),
    };
    process.stdout.write(`${JSON.stringify(sample)}\n`);
  } finally {
    for (const s of streams) s.socket.destroy();
    await file?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    if (pool) {
      for (const b of buffers) pool.release(b);
      pool.close();
    }
  }
}

main().catch(reportFailure);
