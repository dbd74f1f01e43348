// Real sockets on loopback for the tests, and a receiver that hashes what arrives.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createSocket, type Socket as DatagramSocket } from 'node:dgram';
import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface Pair {
  client: Socket;
  server: Socket;
  listener: Server;
  close(): Promise<void>;
}

const open = new Set<Pair>();

/** Closes every pair a test left open (after a failed assertion), so the process can exit. */
export async function closeAllPairs(): Promise<void> {
  await Promise.all([...open].map((p) => p.close()));
}

/** A connected TCP pair on 127.0.0.1; `close` destroys both ends and the listener. */
export async function tcpPair(): Promise<Pair> {
  const listener: Server = createServer();
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const { port } = listener.address() as { port: number };
  const accepted = once(listener, 'connection') as Promise<[Socket]>;
  const client = connect(port, '127.0.0.1');
  await once(client, 'connect');
  const [server] = await accepted;
  client.on('error', () => {});
  server.on('error', () => {});
  const pair: Pair = {
    client,
    server,
    listener,
    async close() {
      open.delete(pair);
      client.destroy();
      server.destroy();
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    },
  };
  open.add(pair);
  return pair;
}

export interface Received {
  bytes: number;
  sha256: string;
}

/** Reads `socket` to its end, hashing every byte. */
export function receiveAll(socket: Socket): Promise<Received> {
  const hash = createHash('sha256');
  let bytes = 0;
  socket.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    bytes += chunk.length;
  });
  return new Promise((resolve, reject) => {
    socket.once('end', () => resolve({ bytes, sha256: hash.digest('hex') }));
    socket.once('error', reject);
  });
}

/** Hash of what the sender meant to send, in order. */
export class Expected {
  private readonly hash = createHash('sha256');
  bytes = 0;

  constructor(...chunks: Uint8Array[]) {
    for (const c of chunks) this.add(c);
  }

  add(chunk: Uint8Array): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
  }

  digest(): Received {
    return { bytes: this.bytes, sha256: this.hash.digest('hex') };
  }
}

/** Random bytes, cheap for large sizes (pattern seeded per call). */
export function randomBytes(size: number): Buffer {
  const buf = Buffer.allocUnsafe(size);
  let x = (Math.random() * 0xffffffff) >>> 0 || 1;
  for (let i = 0; i + 4 <= size; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf.writeUInt32LE(x >>> 0, i);
  }
  for (let i = size & ~3; i < size; i++) buf[i] = i & 0xff;
  return buf;
}

/** Whether `promise` has settled, read at any later moment. */
export function track(promise: Promise<unknown>): { settled: boolean } {
  const state = { settled: false };
  promise.then(
    () => (state.settled = true),
    () => (state.settled = true),
  );
  return state;
}

export interface TcpQueues {
  /** Bytes the sender's kernel holds: unsent or unacknowledged (SIOCOUTQ). */
  sendQ: number;
  /** Bytes waiting in the receiver's kernel queue, unread (SIOCINQ). */
  peerRecvQ: number;
}

/** The kernel's queues of a loopback connection, by its sender's local port (ss, sock_diag). */
export function tcpQueues(client: Socket | number): TcpQueues {
  const port = typeof client === 'number' ? client : client.localPort!;
  const out = execFileSync('ss', ['-tnH', 'state', 'established', `( sport = :${port} or dport = :${port} )`], { encoding: 'utf8' });
  const q: TcpQueues = { sendQ: 0, peerRecvQ: 0 };
  for (const line of out.trim().split('\n')) {
    const [recvQ, sendQ, local] = line.trim().split(/\s+/);
    if (local?.endsWith(`:${port}`)) q.sendQ = Number(sendQ);
    else if (local) q.peerRecvQ = Number(recvQ);
  }
  return q;
}

/**
 * Waits until the sender is stuck on a receiver that does not read: its kernel holds unsent or
 * unacknowledged bytes, the receiver's queue holds unread ones, and neither moves between two
 * looks. Checked by what the kernel reports, not by how long it took.
 */
export async function stalled(client: Socket | number, looks = 2000): Promise<TcpQueues> {
  let last = tcpQueues(client);
  for (let i = 0; i < looks; i++) {
    await new Promise((r) => setTimeout(r, 10));
    const now = tcpQueues(client);
    if (now.sendQ > 0 && now.peerRecvQ > 0 && now.sendQ === last.sendQ && now.peerRecvQ === last.peerRecvQ) return now;
    last = now;
  }
  throw new Error(`the connection never stalled: ${JSON.stringify(last)}`);
}

/** Waits until the kernel holds nothing of the connection: all sent, acknowledged and read. */
export async function drained(client: Socket | number, looks = 2000): Promise<void> {
  for (let i = 0; i < looks; i++) {
    const q = tcpQueues(client);
    if (q.sendQ === 0 && q.peerRecvQ === 0) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`the connection never drained: ${JSON.stringify(tcpQueues(client))}`);
}

/**
 * Waits until the pair's sender is stalled (see stalled()), then says whether `promise` is still
 * pending: the kernel holds bytes while the receiver has not read them.
 */
export async function stillPending(promise: Promise<unknown>, pair: Pair): Promise<boolean> {
  const state = track(promise);
  const q = await stalled(pair.client);
  assert.ok(q.sendQ > 0, 'the kernel still holds bytes of the connection');
  return !state.settled;
}

/** Ends the client side, checks the receiver got exactly `expected`, and tears the pair down. */
export async function endAndCompare(pair: Pair, received: Promise<Received>, expected: Expected): Promise<void> {
  pair.client.end();
  assert.deepEqual(await received, expected.digest());
  await pair.close();
}

/** The fd under a Node socket or server, for tests that pass raw fds. */
export function fdOf(socket: object): number {
  return (socket as { _handle: { fd: number } })._handle.fd;
}

/** A bound UDP receiver and a sender connected to it; `got` collects what arrives, in order. */
export async function connectedUdp(): Promise<{ rx: DatagramSocket; tx: DatagramSocket; got: Buffer[]; close(): void }> {
  const rx = createSocket('udp4');
  rx.bind(0, '127.0.0.1');
  await once(rx, 'listening');
  const tx = createSocket('udp4');
  tx.connect(rx.address().port, '127.0.0.1');
  await once(tx, 'connect');
  const got: Buffer[] = [];
  rx.on('message', (m: Buffer) => got.push(m));
  return { rx, tx, got, close: () => (tx.close(), rx.close()) };
}

/** Waits until `n` datagrams arrived (loopback delivers them in order, without loss at this rate). */
export async function nextDatagrams(got: Buffer[], n: number): Promise<Buffer[]> {
  while (got.length < n) await new Promise((r) => setTimeout(r, 1));
  return got.splice(0, n);
}
