// The sink rig: the one place on a machine without a NIC where zero-copy is real: a veth whose
// far end is down drops packets without copying them (local delivery always copies).
// A veth pair in the root network namespace whose far end stays DOWN: packets routed into the near
// end are dropped by the device without being copied, so UDP sent there with MSG_ZEROCOPY (and
// GSO, UDP_SEGMENT) completes with no SO_EE_CODE_ZEROCOPY_COPIED flag. The sink address has a
// permanent neighbour entry, so nothing waits on ARP. TCP cannot use the rig: no ACK ever returns.
//
// Root namespace on purpose: the sending process opens its sockets to the sink directly (Node
// cannot enter another namespace). Traffic stays inside 198.18.1.0/24 (benchmarking range,
// RFC 2544); test/helpers/netns.ts uses 198.18.0.0/30. Everything is removed afterwards, even
// when the caller throws; rigs left by a killed process are removed on the next start.
// `scripts/sink-check.sh` builds the same rig in shell and proves it with a C program.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { alive, run, stderrOf } from './rig-commands.js';

export interface SinkRig {
  /** The near end: the interface packets to the sink leave through (up, carrier off). */
  interface: string;
  /** The far end, kept down: the reason nothing is ever delivered (or copied). */
  peerInterface: string;
  /** This machine's address on `interface`; bind to it to leave through the rig explicitly. */
  localAddress: string;
  /** Where to send: no host has it, a permanent neighbour entry stands in for ARP. */
  sinkAddress: string;
  /** A destination port (discard); nothing listens, nothing answers. */
  port: number;
  /**
   * Offloads of `interface` as aiotx's probe() reads them (ethtool ioctls): zero-copy needs
   * scatter-gather and TX checksum, UDP GSO needs TX checksum. Null when they could not be read
   * (native addon not built); `offloadsNote` then says why.
   */
  offloads: { scatterGather: boolean | null; txChecksum: boolean | null; tso: boolean | null } | null;
  offloadsNote: string | null;
  /** GSO limits of `interface` from `ip -d link` (null if not reported). */
  gso: { maxSize: number; maxSegs: number } | null;
}

const PREFIX = 'axsk';
/** axsk<pid>_<n>a / axsk<pid>_<n>b; pid ≤ 4194304 keeps the names within IFNAMSIZ-1 = 15. */
const NAME = new RegExp(`^${PREFIX}(\\d+)_\\w+[ab]$`);
const SUBNET = '198.18.1'; // /30 slots 198.18.1.0, .4, … .252
const SINK_LLADDR = '02:a1:07:51:4e:4b'; // locally administered, unicast
const DISCARD_PORT = 9;

const ip = (...args: string[]) => run('ip', ...args);

function linkNames(): string[] {
  try {
    return readdirSync('/sys/class/net');
  } catch {
    return (JSON.parse(ip('-j', 'link', 'show')) as { ifname: string }[]).map((l) => l.ifname);
  }
}

/** Deletes rigs whose creating process is gone (deleting either end removes the pair). */
function removeStale(): void {
  for (const name of linkNames()) {
    const m = NAME.exec(name);
    if (m && !alive(Number(m[1]))) {
      try {
        ip('link', 'del', name);
      } catch {
        // its peer's deletion took it already
      }
    }
  }
}

let skipReason: string | null | undefined;

/** Why the sink rig cannot be built here, or null when it can (root, iproute2, veth). */
export function sinkRigSkipReason(): string | null {
  if (skipReason !== undefined) return skipReason;
  skipReason = computeSkipReason();
  return skipReason;
}

function computeSkipReason(): string | null {
  if (process.platform !== 'linux') return 'the sink rig is a Linux veth pair';
  if (process.getuid?.() !== 0) return 'needs root to create a veth pair and a neighbour entry in the root network namespace';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return "needs iproute2's ip command";
  }
  const a = `${PREFIX}${process.pid}_pa`;
  const b = `${PREFIX}${process.pid}_pb`;
  try {
    ip('link', 'add', a, 'type', 'veth', 'peer', 'name', b);
  } catch (err) {
    return `cannot create a veth pair: ${stderrOf(err)}`;
  }
  try {
    ip('link', 'del', a);
  } catch {
    // gone already
  }
  return null;
}

/** The first /30 in 198.18.1.0/24 whose addresses no interface holds. */
function freeSlot(): number {
  const used = new Set<string>();
  const links = JSON.parse(ip('-j', '-4', 'addr', 'show')) as { addr_info?: { local?: string }[] }[];
  for (const l of links) for (const a of l.addr_info ?? []) if (a.local) used.add(a.local);
  for (let base = 0; base < 256; base += 4) {
    if (![1, 2].some((k) => used.has(`${SUBNET}.${base + k}`))) return base;
  }
  throw new Error(`sink rig: no free /30 left in ${SUBNET}.0/24`);
}

async function readOffloads(name: string): Promise<{ offloads: SinkRig['offloads']; note: string | null }> {
  try {
    const { probe } = await import('aiotx');
    const f = probe().interfaces.find((i) => i.name === name);
    if (!f) return { offloads: null, note: `probe() does not list ${name}` };
    const offloads = { scatterGather: f.scatterGather, txChecksum: f.txChecksum, tso: f.tso };
    const off = [!f.scatterGather && 'scatter-gather', !f.txChecksum && 'tx-checksum'].filter(Boolean);
    return { offloads, note: off.length ? `${off.join(' and ')} off on ${name}: the kernel will copy (COPIED) or refuse GSO` : null };
  } catch (err) {
    return { offloads: null, note: `offloads unread: ${(err as Error).message}` };
  }
}

function readGso(name: string): SinkRig['gso'] {
  try {
    const [l] = JSON.parse(ip('-d', '-j', 'link', 'show', 'dev', name)) as { gso_max_size?: number; gso_max_segs?: number }[];
    return l?.gso_max_size !== undefined && l.gso_max_segs !== undefined ? { maxSize: l.gso_max_size, maxSegs: l.gso_max_segs } : null;
  } catch {
    return null;
  }
}

let counter = 0;

/**
 * Runs `fn` with a sink rig up, then removes it (also when `fn` throws). Throws when the rig cannot
 * be built: check sinkRigSkipReason() first.
 */
export async function withSinkRig<T>(fn: (rig: SinkRig) => Promise<T>): Promise<T> {
  const reason = sinkRigSkipReason();
  if (reason !== null) throw new Error(`sink rig unavailable: ${reason}`);
  removeStale();
  const id = `${process.pid}_${counter++ % 100}`;
  const near = `${PREFIX}${id}a`;
  const far = `${PREFIX}${id}b`;
  const base = freeSlot();
  const localAddress = `${SUBNET}.${base + 1}`;
  const sinkAddress = `${SUBNET}.${base + 2}`;
  // Both ends are created down; the far end is never brought up.
  ip('link', 'add', near, 'type', 'veth', 'peer', 'name', far);
  try {
    ip('link', 'set', 'dev', near, 'addrgenmode', 'none'); // no IPv6 link-local chatter
    ip('addr', 'add', `${localAddress}/30`, 'dev', near);
    ip('link', 'set', 'dev', near, 'up');
    ip('neigh', 'replace', sinkAddress, 'lladdr', SINK_LLADDR, 'nud', 'permanent', 'dev', near);
    // With the peer down the near end has no carrier and its route is marked linkdown; it is
    // still used unless net.ipv4.conf.*.ignore_routes_with_linkdown is set. Check, do not assume.
    const [route] = JSON.parse(ip('-j', 'route', 'get', sinkAddress)) as { dev?: string }[];
    if (route?.dev !== near) {
      throw new Error(
        `sink rig: ${sinkAddress} routes via ${route?.dev ?? 'nothing'}, not ${near} (is net.ipv4.conf.all.ignore_routes_with_linkdown set?)`,
      );
    }
    const { offloads, note } = await readOffloads(near);
    return await fn({
      interface: near,
      peerInterface: far,
      localAddress,
      sinkAddress,
      port: DISCARD_PORT,
      offloads,
      offloadsNote: note,
      gso: readGso(near),
    });
  } finally {
    try {
      ip('link', 'del', near); // takes its peer, address, route and neighbour entry with it
    } catch {
      // already gone
    }
  }
}
