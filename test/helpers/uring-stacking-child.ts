// Child process for test/uring-notif-accounting.test.ts and test/settle-order.test.ts (a process
// picks its zero-copy backend once: the parent sets AIOTX_BACKEND). Writes --jobs aioWrite jobs of
// --size bytes, --depth in flight, Nagle on, zero-copy (every --copy-every'th job a copy job
// instead), over the rig connection --ends (the parent runs the ACK injector) or, without it,
// over loopback to a local reader; prints one JSON line: the summed results, how many COPIED
// flags the uring backend attributed to a stacked notification's owner, how many jobs settled
// after a job called later than them (stacked notifications come newest first; a copy job needs
// no notification), and TCP_INFO.
import { randomFillSync } from 'node:crypto';
import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { closeSinkSocket, openSinkSocket, type TcpSinkEnds } from 'aiotx-bench/internal/bench/tcp-sink-rig.js';
import { tcpInfo } from 'aiotx-bench/internal/native/tcp-sink-ops.js';
import { NotifRun } from '../../src/engine/uring-backend.js';
import { aioWrite } from '../../src/index.js';

const { values } = parseArgs({
  options: { ends: { type: 'string' }, jobs: { type: 'string' }, size: { type: 'string' }, depth: { type: 'string' }, 'copy-every': { type: 'string' } },
  strict: true,
});
const jobs = Number(values.jobs);
const size = Number(values.size);
const depth = Number(values.depth);
const copyEvery = Number(values['copy-every'] ?? 0);

let socket: Socket;
let done: () => Promise<unknown>;
let fd = -1;
if (values.ends) {
  const sink = openSinkSocket(JSON.parse(values.ends) as TcpSinkEnds);
  ({ socket, fd } = sink);
  done = async () => {
    for (let i = 0; i < 500 && tcpInfo(fd).unacked > 0; i++) await sleep(10);
    const info = tcpInfo(fd);
    closeSinkSocket(socket, fd);
    return info;
  };
} else {
  const server = createServer((s) => s.resume()).listen(0, '127.0.0.1');
  await once(server, 'listening');
  socket = connect((server.address() as { port: number }).port, '127.0.0.1');
  await once(socket, 'connect');
  done = async () => {
    socket.destroy();
    server.close();
    return null;
  };
}
socket.on('error', () => {});
// A working set larger than the cache would be cold; these are distinct buffers, reused in turn.
const buffers = Array.from({ length: depth * 2 }, () => randomFillSync(Buffer.allocUnsafeSlow(size)));
const total = { bytes: 0, zeroCopyBytes: 0, copiedBytes: 0, backends: [] as string[] };
let next = 0;
/** The latest-called job that settled so far, and the jobs that settled after a later one. */
let latest = -1;
let outOfOrder = 0;
async function lane(): Promise<void> {
  while (next < jobs) {
    const i = next++;
    const copy = copyEvery > 0 && i % copyEvery === copyEvery - 1;
    const r = await aioWrite(socket, buffers[i % buffers.length]!, { zeroCopy: copy ? 'off' : 'on' });
    // Continuations run in the order the promises settled.
    if (i < latest) outOfOrder++;
    else latest = i;
    total.bytes += r.bytes;
    total.zeroCopyBytes += r.zeroCopyBytes;
    total.copiedBytes += r.copiedBytes;
    if (!total.backends.includes(r.backend)) total.backends.push(r.backend);
  }
}
await Promise.all(Array.from({ length: depth }, lane));
const info = await done();
process.stdout.write(`${JSON.stringify({ ...total, stacked: NotifRun.stacked, outOfOrder, info })}\n`);
