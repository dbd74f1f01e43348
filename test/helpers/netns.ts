// Test hosts in network namespaces: a peer namespace joined to this one by a veth pair
// (198.18.0.0/15, the benchmarking range). Everything is removed afterwards, even on failure;
// namespaces left by a killed run are removed on the next.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';

const PREFIX = 'aiotx-t';

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Why namespaces cannot be used here, or null when they can. */
export function namespaceSkipReason(): string | null {
  if (process.getuid?.() !== 0) return 'needs root to create network namespaces';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return "needs iproute2's ip command";
  }
  const probe = `${PREFIX}probe${process.pid}`;
  try {
    ip('netns', 'add', probe);
    ip('netns', 'del', probe);
    return null;
  } catch (err) {
    return `cannot create a network namespace: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`;
  }
}

function removeStale(): void {
  let names: string[] = [];
  try {
    names = readdirSync('/run/netns');
  } catch {
    return;
  }
  for (const name of names) {
    const m = new RegExp(`^${PREFIX}(\\d+)-`).exec(name);
    if (m && !alive(Number(m[1]))) {
      try {
        ip('netns', 'del', name);
      } catch {
        // already gone
      }
    }
  }
}

export interface PeerNamespace {
  name: string;
  /** Address of this side, on the host's veth. */
  localAddress: string;
  /** Address of the peer, inside the namespace. */
  peerAddress: string;
  hostInterface: string;
  /** Starts `node -e script` inside the namespace. */
  spawnNode(script: string): ChildProcess;
}

let counter = 0;
const HOST_ADDRESS = '198.18.0.1';
const PEER_ADDRESS = '198.18.0.2';

/** Runs `fn` with a peer namespace reachable over a veth pair, then removes both. */
export async function withPeerNamespace<T>(fn: (ns: PeerNamespace) => Promise<T>): Promise<T> {
  removeStale();
  const id = `${process.pid}-${counter++}`;
  const name = `${PREFIX}${id}`;
  const hostInterface = `axh${id}`.slice(0, 15);
  const nsInterface = `axn${id}`.slice(0, 15);
  ip('netns', 'add', name);
  try {
    ip('link', 'add', hostInterface, 'type', 'veth', 'peer', 'name', nsInterface, 'netns', name);
    ip('addr', 'add', `${HOST_ADDRESS}/30`, 'dev', hostInterface);
    ip('link', 'set', hostInterface, 'up');
    ip('-n', name, 'addr', 'add', `${PEER_ADDRESS}/30`, 'dev', nsInterface);
    ip('-n', name, 'link', 'set', nsInterface, 'up');
    ip('-n', name, 'link', 'set', 'lo', 'up');
    // The peer's address resolved before the first packet: packets sent while ARP is pending
    // wait in the neighbour's queue, and one sent just as the reply lands can overtake them (seen:
    // datagram 11 of a burst arriving before datagram 0), which an order check would blame on aiotx.
    const [peer] = JSON.parse(execFileSync('ip', ['-n', name, '-j', 'link', 'show', 'dev', nsInterface], { encoding: 'utf8' })) as { address: string }[];
    ip('neigh', 'replace', PEER_ADDRESS, 'lladdr', peer!.address, 'dev', hostInterface, 'nud', 'permanent');
    return await fn({
      name,
      localAddress: HOST_ADDRESS,
      peerAddress: PEER_ADDRESS,
      hostInterface,
      spawnNode: (script) =>
        spawn('ip', ['netns', 'exec', name, process.execPath, '--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] }),
    });
  } finally {
    try {
      ip('link', 'del', hostInterface); // takes its peer in the namespace with it
    } catch {
      // never created, or gone with the namespace
    }
    ip('netns', 'del', name);
  }
}

/** A receiver script: listens on `address`, prints {"port"}, then {"bytes","sha256"} at end of stream. */
export function hashingReceiverScript(address: string): string {
  return `
    import net from 'node:net';
    import { createHash } from 'node:crypto';
    const server = net.createServer((s) => {
      const h = createHash('sha256'); let bytes = 0;
      s.on('data', (d) => { h.update(d); bytes += d.length; });
      s.on('end', () => { console.log(JSON.stringify({ bytes, sha256: h.digest('hex') })); s.end(); server.close(); });
    });
    server.listen(0, ${JSON.stringify(address)}, () => console.log(JSON.stringify({ port: server.address().port })));`;
}

/**
 * A datagram receiver script: binds a UDP socket on `address`, prints {"port"}, then, once `count`
 * datagrams arrived, {"bytes","sha256"} of them in arrival order.
 */
export function datagramHashingReceiverScript(address: string, count: number): string {
  return `
    import dgram from 'node:dgram';
    import { createHash } from 'node:crypto';
    const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 16 << 20 });
    const h = createHash('sha256'); let bytes = 0, datagrams = 0;
    s.on('message', (m) => {
      h.update(m); bytes += m.length;
      if (++datagrams === ${count}) { console.log(JSON.stringify({ bytes, sha256: h.digest('hex') })); s.close(); }
    });
    s.bind(0, ${JSON.stringify(address)}, () => console.log(JSON.stringify({ port: s.address().port })));`;
}

/**
 * A hashing datagram receiver in `ns` (datagramHashingReceiverScript) and a UDP socket with
 * SO_SNDBUF `sendBufferSize` connected to it; `next()` reads the receiver's next JSON line.
 */
export async function datagramsToPeer(ns: PeerNamespace, count: number, sendBufferSize: number) {
  const receiver = ns.spawnNode(datagramHashingReceiverScript(ns.peerAddress, count));
  const next = jsonLines(receiver);
  const { port } = (await next()) as { port: number };
  const socket = createSocket({ type: 'udp4', sendBufferSize });
  socket.connect(port, ns.peerAddress);
  await once(socket, 'connect');
  return { receiver, next, socket };
}

/** Adds a tbf qdisc with `args` on the host side of `ns`; the reason when it cannot, else null. */
export function addTbf(ns: PeerNamespace, ...args: string[]): string | null {
  try {
    execFileSync('tc', ['qdisc', 'add', 'dev', ns.hostInterface, 'root', 'tbf', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    return null;
  } catch (err) {
    return `cannot add a tbf qdisc (iproute2's tc, sch_tbf): ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`;
  }
}

/** Reads newline-delimited JSON lines from a child's stdout. */
export function jsonLines(child: ChildProcess): () => Promise<unknown> {
  const lines: string[] = [];
  const waiters: ((line: string) => void)[] = [];
  let buffer = '';
  child.stdout!.on('data', (d: Buffer) => {
    buffer += d.toString();
    for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
      const line = buffer.slice(0, i);
      buffer = buffer.slice(i + 1);
      const w = waiters.shift();
      if (w) w(line);
      else lines.push(line);
    }
  });
  const exited = once(child, 'exit');
  return () => {
    const line = lines.shift();
    if (line !== undefined) return Promise.resolve(JSON.parse(line));
    return Promise.race([
      new Promise<string>((resolve) => waiters.push(resolve)).then((l) => JSON.parse(l) as unknown),
      exited.then(([code]) => {
        throw new Error(`child exited (${String(code)}) before printing`);
      }),
    ]);
  };
}
