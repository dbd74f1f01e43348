// Child process for test/tcp-sink-rig.test.ts: a process picks its zero-copy backend once
// (AIOTX_BACKEND), so each backend gets one of these. Opens the rig connection described by
// --ends (the parent runs the ACK injector), sends --jobs aioWrite jobs of --size bytes with
// zeroCopy 'on', one copy job, wired-pool jobs where a pool can be wired, and one sendFile, then
// waits until the kernel has every byte ACKed and prints one JSON line: the results and TCP_INFO.
import { randomFillSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { closeSinkSocket, openSinkSocket, type TcpSinkEnds } from 'aiotx-bench/internal/bench/tcp-sink-rig.js';
import { tcpInfo } from 'aiotx-bench/internal/native/tcp-sink-ops.js';
import { aioWrite, createBufferPool, sendFile, type WriteResult } from '../../src/index.js';

const { values } = parseArgs({ options: { ends: { type: 'string' }, jobs: { type: 'string' }, size: { type: 'string' } }, strict: true });
const ends = JSON.parse(values.ends!) as TcpSinkEnds;
const jobs = Number(values.jobs);
const size = Number(values.size);

const { socket, fd } = openSinkSocket(ends);
socket.on('error', () => {}); // failures arrive as rejections
const dir = await mkdtemp(join(tmpdir(), 'aiotx-tcp-sink-'));
try {
  const zeroCopy: WriteResult[] = [];
  for (let i = 0; i < jobs; i++) zeroCopy.push(await aioWrite(socket, randomFillSync(Buffer.allocUnsafeSlow(size)), { zeroCopy: 'on' }));
  const copy = await aioWrite(socket, randomFillSync(Buffer.allocUnsafeSlow(size)), { zeroCopy: 'off' });
  let pool: { results: WriteResult[] } | { reason: string };
  const p = createBufferPool({ size, count: 4 });
  if (p.wired) {
    const buffers = Array.from({ length: 4 }, () => randomFillSync(p.acquire()!));
    pool = { results: await Promise.all(buffers.map((b) => aioWrite(socket, b, { zeroCopy: 'on' }))) };
    for (const b of buffers) p.release(b);
  } else {
    pool = { reason: p.reason ?? 'not wired' };
  }
  p.close();
  const file = join(dir, 'data');
  await writeFile(file, randomFillSync(Buffer.alloc(size)));
  const sent = await sendFile(socket, file);
  // Bounded wait for the injector's last ACK (copy and sendfile settle when the kernel took them).
  for (let i = 0; i < 500 && tcpInfo(fd).unacked > 0; i++) await sleep(10);
  process.stdout.write(`${JSON.stringify({ zeroCopy, copy, pool, sendFile: sent, info: tcpInfo(fd) })}\n`);
} finally {
  closeSinkSocket(socket, fd);
  await rm(dir, { recursive: true, force: true });
}
