// The sending side of `aiotx bench --sink tcp`, run as a child process per method, size and run
// (a process picks its zero-copy backend once; AIOTX_BACKEND comes from the parent, which also
// runs the ACK injector, so this process's CPU is the sender's alone). Opens the rig connection
// given in the job, keeps `depth` sends in flight for the duration, rotating through a working set
// larger than the caches (or one buffer per lane with workingSetBytes 0), waits until the kernel
// has every byte ACKed and prints one JSON line: a TcpSinkSample, or { error } (exit code 1).
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, open, rm, writeFile, type FileHandle } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { sinkReferenceSend, sinkReferenceUring, tcpInfo } from '../native/tcp-sink-ops.js';
import { aioWrite, createBufferPool, probe, sendFile, type BufferPool } from 'aiotx';
import { reportFailure } from './child-run.js';
import { WARMUP_SECONDS, cpuSecondsBetween, parseProcStat, systemCpuPercent } from './cpu-accounting.js';
import { POOL_NOT_WIRED } from './sink-protocol.js';
import { TCP_SINK_METHODS, isTcpSinkFloor, type TcpSinkJob, type TcpSinkSample } from './tcp-sink-methods.js';
import { closeSinkSocket, openSinkSocket } from './tcp-sink-rig.js';

/** A process's wired-buffer table has 1024 slots. */
const MAX_POOL_BUFFERS = 1024;

interface Sent {
  bytes: number;
  zeroCopyBytes: number | null;
  copiedBytes: number | null;
  backend: string | null;
}

function readJob(): TcpSinkJob {
  const { values } = parseArgs({ options: { job: { type: 'string' } }, strict: true });
  if (values.job === undefined) throw new Error('tcp-sink-sender: --job=JSON is required');
  const job = JSON.parse(values.job) as TcpSinkJob;
  if (!TCP_SINK_METHODS.includes(job.method)) throw new Error(`tcp-sink-sender: unknown method '${job.method}'`);
  return job;
}

const systemTimes = () => parseProcStat(readFileSync('/proc/stat', 'utf8'));

/**
 * How many size-byte slots the lanes rotate through: the working set rounded up to whole lanes
 * (lane k owns slots k, k + depth, …, so no slot is in two sends at once); a wired pool holds at
 * most 1024 buffers.
 */
function slotCount(job: TcpSinkJob): number {
  const round = job.depth * job.batch;
  const lanes = (n: number) => Math.max(1, Math.ceil(n / round)) * round;
  const wanted = lanes(job.workingSetBytes / job.size);
  return usesPool(job) ? Math.min(wanted, Math.max(round, MAX_POOL_BUFFERS - (MAX_POOL_BUFFERS % round))) : wanted;
}

const usesPool = (job: TcpSinkJob) => job.method === 'aio-zc-pool' || job.method === 'aio-zc-pool-batch';

/** The slots: views of one region (touched, so no page is the shared zero page), or wired-pool buffers. */
function slots(job: TcpSinkJob, count: number): { buffers: Buffer[]; region: Buffer | null; pool: BufferPool | null } {
  if (!usesPool(job)) {
    const region = Buffer.allocUnsafeSlow(count * job.size).fill(0x5a);
    return { buffers: Array.from({ length: count }, (_, i) => region.subarray(i * job.size, (i + 1) * job.size)), region, pool: null };
  }
  const caps = probe();
  if (caps.backendError !== null) throw Object.assign(new Error(caps.backendError), { code: 'ERR_AIOTX_BACKEND_UNAVAILABLE' });
  const pool = createBufferPool({ size: job.size, count });
  if (!pool.wired) throw Object.assign(new Error(`buffer pool not wired: ${pool.reason}`), { code: POOL_NOT_WIRED });
  return { buffers: Array.from({ length: count }, () => pool.acquire()!.fill(0x5a)), region: null, pool };
}

type SendOne = (i: number) => Promise<Sent>;

function sendOneFor(job: TcpSinkJob, socket: Socket, buffers: Buffer[], file: FileHandle | null): SendOne {
  switch (job.method) {
    case 'write':
      return (i) =>
        new Promise((resolve, reject) => {
          const buf = buffers[i]!;
          socket.write(buf, (err) => (err ? reject(err) : resolve({ bytes: buf.length, zeroCopyBytes: null, copiedBytes: null, backend: null })));
        });
    case 'sendfile':
      return async (i) => sendFile(socket, file!, { offset: i * job.size, length: job.size });
    case 'aio-copy-batch':
    case 'aio-zc-pool-batch': {
      // Group i is slots i × batch … i × batch + batch - 1, made once.
      const groups = Array.from({ length: buffers.length / job.batch }, (_, g) => buffers.slice(g * job.batch, (g + 1) * job.batch));
      const options = { zeroCopy: job.method === 'aio-copy-batch' ? 'off' : 'on' } as const;
      return async (i) => aioWrite(socket, groups[i]!, options);
    }
    case 'aio-auto':
      return async (i) => aioWrite(socket, buffers[i]!);
    default: {
      const options = { zeroCopy: job.method === 'aio-copy' ? 'off' : 'on' } as const;
      return async (i) => aioWrite(socket, buffers[i]!, options);
    }
  }
}

/** `depth` lanes; lane k sends slots (or batches of slots) k, k + depth, …, each only after its previous send settled. */
async function sendLanes(job: TcpSinkJob, count: number, sendOne: SendOne, deadline: number): Promise<Sent> {
  const total: Sent = { bytes: 0, zeroCopyBytes: job.method === 'write' ? null : 0, copiedBytes: job.method === 'write' ? null : 0, backend: null };
  const backends = new Set<string>();
  let failure: unknown = null;
  const lane = async (first: number) => {
    for (let i = first; failure === null && performance.now() < deadline; i = (i + job.depth) % count) {
      try {
        const r = await sendOne(i);
        total.bytes += r.bytes;
        if (total.zeroCopyBytes !== null) total.zeroCopyBytes += r.zeroCopyBytes ?? 0;
        if (total.copiedBytes !== null) total.copiedBytes += r.copiedBytes ?? 0;
        if (r.backend) backends.add(r.backend);
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: job.depth }, (_, k) => lane(k)));
  if (failure !== null) throw failure;
  total.backend = backends.size > 0 ? [...backends].join('/') : null;
  return total;
}

/**
 * The C loops: copy (reference), MSG_ZEROCOPY (reference-zc) or io_uring SEND_ZC from the region
 * registered or not (reference-uring, reference-uring-unregistered), counted by completions.
 */
function sendReference(job: TcpSinkJob, fd: number, region: Buffer): Sent {
  const uring = job.method === 'reference-uring' || job.method === 'reference-uring-unregistered';
  const zc = job.method === 'reference-zc' || uring;
  const r = uring
    ? sinkReferenceUring(fd, region, job.size, job.durationSeconds * 1000, 0, job.depth, job.method === 'reference-uring')
    : sinkReferenceSend(fd, region, job.size, job.durationSeconds * 1000, zc);
  if (!zc) return { bytes: r.bytes, zeroCopyBytes: 0, copiedBytes: r.bytes, backend: null };
  // Whole sends of `size` bytes, except a rare short one: share of sends, scaled to bytes.
  const share = r.sends > 0 ? r.zeroCopySends / r.sends : 0;
  const zeroCopyBytes = r.copiedSends === 0 ? r.bytes : Math.round(r.bytes * share);
  return { bytes: r.bytes, zeroCopyBytes, copiedBytes: r.bytes - zeroCopyBytes, backend: uring ? 'uring' : 'msgzerocopy' };
}

async function main(): Promise<void> {
  const job = readJob();
  // The C loops rotate through at least one slot per send in flight, as the lanes do: with --hot a
  // single slot would sit in L2 where the lanes' do not, and flatter the floor.
  const reference = isTcpSinkFloor(job.method);
  const count = reference ? Math.max(job.depth, Math.ceil(job.workingSetBytes / job.size)) : slotCount(job);
  const { buffers, region, pool } = slots(job, count);
  let dir: string | null = null;
  let file: FileHandle | null = null;
  const { socket, fd } = openSinkSocket(job.ends, { noDelay: job.noDelay });
  socket.on('error', () => {}); // failures reach the loops as rejections and callbacks
  try {
    if (job.method === 'sendfile') {
      dir = await mkdtemp(join(tmpdir(), 'aiotx-tcp-sink-'));
      await writeFile(join(dir, 'data'), region!);
      file = await open(join(dir, 'data'), 'r');
    }
    const sendOne = reference ? null : sendOneFor(job, socket, buffers, file);
    // The same loop, uncounted, until V8 has compiled it (WARMUP_SECONDS says why).
    const warmupBytes = sendOne ? (await sendLanes(job, count / job.batch, sendOne, performance.now() + WARMUP_SECONDS * 1000)).bytes : 0;
    const cpuBefore = process.cpuUsage();
    const systemBefore = systemTimes();
    const start = performance.now();
    const sent = sendOne ? await sendLanes(job, count / job.batch, sendOne, start + job.durationSeconds * 1000) : sendReference(job, fd, region!);
    const wallSeconds = (performance.now() - start) / 1000;
    const cpuSeconds = cpuSecondsBetween(cpuBefore, process.cpuUsage());
    const system = systemCpuPercent(systemBefore, systemTimes(), cpus().length);
    // write's callback and copies settle when the kernel took the bytes: wait for the last ACK.
    if (socket.writableLength > 0) await once(socket, 'drain');
    for (let i = 0; i < 1000 && tcpInfo(fd).unacked > 0; i++) await sleep(5);
    const info = tcpInfo(fd);
    const sample: TcpSinkSample = {
      ...sent,
      warmupBytes,
      workingSetBytes: count * job.size,
      wallSeconds,
      cpuSeconds,
      systemPercent: system.busy,
      softirqPercent: system.softirq,
      bytesAcked: info.bytesAcked,
      totalRetrans: info.totalRetrans,
    };
    process.stdout.write(`${JSON.stringify(sample)}\n`);
  } finally {
    closeSinkSocket(socket, fd);
    await file?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    if (pool) {
      for (const b of buffers) pool.release(b);
      pool.close();
    }
  }
}

main().catch(reportFailure);
