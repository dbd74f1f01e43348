// The TCP sink rig: real TCP zero-copy on one machine, where loopback and local delivery copy.
// UDP only needs a veth whose peer is down (sink-rig.ts); TCP needs an established connection and
// ACKs. So:
//  - a veth pair in the root namespace, far end down, a permanent neighbour for the sink address,
//    MTU 65535, and a clsact egress filter returning TC_ACT_STOLEN: the kernel frees each packet
//    without copying and TCP sees a successful transmit (with only the no-carrier qdisc every
//    packet returns NET_XMIT_CN and cwnd collapses to 2);
//  - the sending socket made ESTABLISHED with TCP_REPAIR (no handshake), MSS 32000 and cubic set
//    before connect (the default here is BBR, whose pacing outlives a later switch);
//  - an eBPF program on the same egress recording the highest sequence number sent, and a thread
//    injecting pure ACKs "from the sink" through a raw socket, every 64 KiB or 20 µs.
// The native half is native/tcp_sink.c (through src/native/tcp-sink-ops.ts). Root only. Traffic
// stays in 198.18.7.0/24 (RFC 2544 benchmarking range; netns tests use 198.18.0.0/30, the UDP rig
// 198.18.1.0/24). Everything is removed afterwards, also when the caller throws; rigs left by a
// killed process are removed on the next start (their BPF links died with the process).
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { Socket } from 'node:net';
import { cpus } from 'node:os';
import { alive, run, stderrOf } from './rig-commands.js';
import {
  openRepairedSocket,
  quietSocket,
  startAcker,
  type Acker,
  type AckerTuning,
  type TcpSinkEnds,
} from '../native/tcp-sink-ops.js';

export type { Acker, AckerTuning, TcpSinkEnds };

export interface TcpSinkRig {
  /** The near end, where the filter steals every packet (up, carrier off). */
  interface: string;
  /** The far end, kept down. */
  peerInterface: string;
  /** This machine's address on `interface`: the sending socket is bound to it. */
  localAddress: string;
  /** The peer that does not exist; ACKs claim to come from it. */
  sinkAddress: string;
  /** The sink's port (nothing listens anywhere). */
  port: number;
}

const PREFIX = 'axtc';
/** axtc<pid>_<n>a / axtc<pid>_<n>b; pid ≤ 4194304 keeps the names within IFNAMSIZ-1 = 15. */
const NAME = new RegExp(`^${PREFIX}(\\d+)_\\w+[ab]$`);
const SUBNET = '198.18.7'; // /30 slots 198.18.7.0, .4, … .252
const SINK_LLADDR = '02:a1:07:7c:50:01'; // locally administered, unicast
const SINK_PORT = 5001;
/** Classic BPF "ret #4" in direct-action mode: TC_ACT_STOLEN, the packet is consumed. */
const STEAL_EVERYTHING = '1,6 0 0 4';
/** TCP_MAXSEG's ceiling (setsockopt refuses more): 32000 gives two segments per 64 KiB skb. */
export const SINK_MSS = 32000;

/**
 * ACK once 64 KiB are unacknowledged or data has waited 20 µs (one ACK costs ~3 µs, so per-packet
 * ACKs would saturate the injector): the prototype's published runs (`rig -k 65536`), giving the
 * same KiB per ACK (~66 at 32K, ~105 at 256K, ~123 at 1M). The injector looks without a pause, as
 * the prototype's did: the sender processes many of the ACKs it meets, and a 10 µs nap between
 * looks let one ACK cover ~1 MiB at 300+ Gbit/s, which made the sender look ~40 % cheaper.
 */
export function defaultAckerTuning(): AckerTuning {
  return { ackBytes: 64 << 10, holdMicros: 20, pollMicros: 0, cpu: cpus().length - 1 };
}

/** The rig interfaces that exist now (this process's and others'). */
export function tcpSinkRigLinks(): string[] {
  return readdirSync('/sys/class/net').filter((n) => NAME.test(n));
}

/** Deletes rigs whose creating process is gone (deleting either end removes the pair). */
function removeStale(): void {
  for (const name of tcpSinkRigLinks()) {
    if (!alive(Number(NAME.exec(name)![1]))) {
      try {
        run('ip', 'link', 'del', name);
      } catch {
        // its peer's deletion took it already
      }
    }
  }
}

/** The first /30 in 198.18.7.0/24 whose addresses no interface holds. */
function freeSlot(): number {
  const used = new Set<string>();
  const links = JSON.parse(run('ip', '-j', '-4', 'addr', 'show')) as { addr_info?: { local?: string }[] }[];
  for (const l of links) for (const a of l.addr_info ?? []) if (a.local) used.add(a.local);
  for (let base = 0; base < 256; base += 4) {
    if (![1, 2].some((k) => used.has(`${SUBNET}.${base + k}`))) return base;
  }
  throw new Error(`tcp sink rig: no free /30 left in ${SUBNET}.0/24`);
}

let counter = 0;

/** Builds the network half; returns the rig and how to remove it. */
function build(): { rig: TcpSinkRig; remove(): void } {
  removeStale();
  const id = `${process.pid}_${counter++ % 100}`;
  const near = `${PREFIX}${id}a`;
  const far = `${PREFIX}${id}b`;
  const base = freeSlot();
  const rig: TcpSinkRig = {
    interface: near,
    peerInterface: far,
    localAddress: `${SUBNET}.${base + 1}`,
    sinkAddress: `${SUBNET}.${base + 2}`,
    port: SINK_PORT,
  };
  const remove = () => {
    try {
      run('ip', 'link', 'del', near); // takes its peer, address, neighbour, qdisc and filter along
    } catch {
      // already gone
    }
  };
  // Both ends are created down; the far end is never brought up.
  run('ip', 'link', 'add', near, 'mtu', '65535', 'type', 'veth', 'peer', 'name', far, 'mtu', '65535');
  try {
    run('ip', 'link', 'set', 'dev', near, 'addrgenmode', 'none'); // no IPv6 link-local chatter
    run('ip', 'addr', 'add', `${rig.localAddress}/30`, 'dev', near);
    run('ip', 'link', 'set', 'dev', near, 'up');
    run('ip', 'neigh', 'replace', rig.sinkAddress, 'lladdr', SINK_LLADDR, 'nud', 'permanent', 'dev', near);
    run('tc', 'qdisc', 'add', 'dev', near, 'clsact');
    run('tc', 'filter', 'add', 'dev', near, 'egress', 'bpf', 'da', 'bytecode', STEAL_EVERYTHING);
    const [route] = JSON.parse(run('ip', '-j', 'route', 'get', rig.sinkAddress)) as { dev?: string }[];
    if (route?.dev !== near) {
      throw new Error(
        `tcp sink rig: ${rig.sinkAddress} routes via ${route?.dev ?? 'nothing'}, not ${near} (is net.ipv4.conf.all.ignore_routes_with_linkdown set?)`,
      );
    }
  } catch (err) {
    remove();
    throw err;
  }
  return { rig, remove };
}

let skipReason: string | null | undefined;

/** Why the TCP sink rig cannot be built here (root, iproute2 with tc, veth, bpf), or null. */
export function tcpSinkRigSkipReason(): string | null {
  skipReason ??= computeSkipReason();
  return skipReason;
}

function computeSkipReason(): string | null {
  if (process.platform !== 'linux') return 'the TCP sink rig is Linux (veth, tc, eBPF, TCP_REPAIR)';
  if (process.getuid?.() !== 0) return 'needs root: a veth pair, a tc filter, an eBPF program and TCP_REPAIR';
  for (const cmd of ['ip', 'tc'] as const) {
    try {
      execFileSync(cmd, ['-V'], { stdio: 'ignore' });
    } catch {
      return `needs iproute2's ${cmd} command`;
    }
  }
  let built: ReturnType<typeof build>;
  try {
    built = build();
  } catch (err) {
    return `cannot build the rig: ${stderrOf(err)}`;
  }
  try {
    startAcker(built.rig.interface, sinkEnds(built.rig, 0), defaultAckerTuning()).stop();
    return null;
  } catch (err) {
    return `cannot attach the eBPF sequence tracker or open a raw socket: ${(err as Error).message}`;
  } finally {
    built.remove();
  }
}

/**
 * Runs `fn` with a TCP sink rig up, then removes it (also when `fn` throws). Throws when the rig
 * cannot be built: check tcpSinkRigSkipReason() first.
 */
export async function withTcpSinkRig<T>(fn: (rig: TcpSinkRig) => Promise<T>): Promise<T> {
  const reason = tcpSinkRigSkipReason();
  if (reason !== null) throw new Error(`tcp sink rig unavailable: ${reason}`);
  const { rig, remove } = build();
  try {
    return await fn(rig);
  } finally {
    remove();
  }
}

/**
 * The ends of the rig's connection number `n`: its own local port and sequence numbers, so a
 * connection never sees another's ACKs.
 */
export function sinkEnds(rig: TcpSinkRig, n: number): TcpSinkEnds {
  return {
    local: rig.localAddress,
    localPort: 40000 + (n % 20000),
    remote: rig.sinkAddress,
    remotePort: rig.port,
    isn: ((n % 15) + 1) * 0x10000000 + 12345,
    peerIsn: 0xabc00000 + (n % 0x100000),
  };
}

/** Starts the ACK injector for `ends` on the rig; stop() it after the connection is closed. */
export function startRigAcker(rig: TcpSinkRig, ends: TcpSinkEnds, tuning: AckerTuning = defaultAckerTuning()): Acker {
  return startAcker(rig.interface, ends, tuning);
}

/**
 * The rig connection as a net.Socket (nothing ever arrives to read). Close it with
 * closeSinkSocket. Needs the ACK injector running before anything is written.
 */
export function openSinkSocket(ends: TcpSinkEnds, options: { noDelay?: boolean } = {}): { socket: Socket; fd: number } {
  const fd = openRepairedSocket(ends, SINK_MSS);
  const socket = new Socket({ fd });
  if (options.noDelay) socket.setNoDelay(true);
  return { socket, fd };
}

/** Closes a rig socket without FIN or RST (repair mode first), so nothing lingers. */
export function closeSinkSocket(socket: Socket, fd: number): void {
  if (!socket.destroyed) quietSocket(fd);
  socket.destroy();
}
