// The rows of `aiotx bench --sink tcp`: the loopback bench's methods (bench-methods.ts) plus the
// zero-copy floors in C: MSG_ZEROCOPY, and io_uring SEND_ZC from registered or plain memory. Shared by the parent (tcp-sink-bench.ts) and the sender
// child (tcp-sink-sender.ts); no heavy imports.
import { METHODS, METHOD_SETUP, type Method, type MethodSetup } from './bench-methods.js';
import type { TcpSinkEnds } from '../native/tcp-sink-ops.js';

/** The external tools cannot send over the rig's socket: aiotx's own methods only. */
type OwnMethod = Exclude<Method, 'iperf3' | 'iperf3-sendfile' | 'netperf' | 'netperf-sendfile'>;
const OWN_METHODS = METHODS.filter((m): m is OwnMethod => METHOD_SETUP[m].external === null);

const FLOORS = ['reference-zc', 'reference-uring', 'reference-uring-unregistered'] as const;
export const TCP_SINK_METHODS = [...OWN_METHODS, ...FLOORS] as const;
export type TcpSinkMethod = OwnMethod | (typeof FLOORS)[number];
export const isTcpSinkFloor = (m: TcpSinkMethod): boolean => m === 'reference' || (FLOORS as readonly string[]).includes(m);

export const TCP_SINK_METHOD_SETUP: Record<TcpSinkMethod, MethodSetup> = {
  ...(Object.fromEntries(OWN_METHODS.map((m) => [m, METHOD_SETUP[m]])) as Record<OwnMethod, MethodSetup>),
  reference: { ...METHOD_SETUP.reference, describe: 'a tight C loop of send(2) in the addon over the working set: the copy floor' },
  'reference-zc': { backendEnv: undefined, needs: null, external: null, describe: 'the same C loop with MSG_ZEROCOPY, draining completions after each send: the zero-copy floor' },
  'reference-uring': {
    backendEnv: undefined, needs: null, external: null,
    describe: 'a C loop of io_uring SEND_ZC (MSG_WAITALL, linked, --depth in flight) from the working set registered as one fixed buffer: aio-zc-pool without aiotx',
  },
  'reference-uring-unregistered': {
    backendEnv: undefined, needs: null, external: null,
    describe: 'the same io_uring loop from plain memory, pinned per send: aio-zc-uring without aiotx',
  },
};

/** '--method write,aio-zc' → the methods in table order; 'aio-zc' stands for every aio-zc-* row. */
export function parseTcpSinkMethodList(text: string): TcpSinkMethod[] {
  const wanted = new Set<TcpSinkMethod>();
  for (const raw of text.split(',')) {
    const name = raw.trim();
    if (name === '') continue;
    const matches = name === 'aio-zc' ? TCP_SINK_METHODS.filter((m) => m.startsWith('aio-zc-')) : TCP_SINK_METHODS.filter((m) => m === name);
    if (matches.length === 0) throw new RangeError(`unknown method '${name}' (one of ${TCP_SINK_METHODS.join(', ')}, or aio-zc for every aio-zc-*)`);
    for (const m of matches) wanted.add(m);
  }
  if (wanted.size === 0) throw new RangeError('no methods given');
  return TCP_SINK_METHODS.filter((m) => wanted.has(m));
}

/** What the parent hands a sender process (as --job=JSON). */
export interface TcpSinkJob {
  method: TcpSinkMethod;
  ends: TcpSinkEnds;
  size: number;
  depth: number;
  /** Buffers per aioWrite call for the -batch methods; 1 for the others. */
  batch: number;
  durationSeconds: number;
  noDelay: boolean;
  /** Bytes of distinct memory the sends rotate through; 0: one buffer per lane, cache-hot. */
  workingSetBytes: number;
}

/** A sender's one result line; wall and CPU time cover the send loop only. */
export interface TcpSinkSample {
  bytes: number;
  /** Bytes of the uncounted warm-up before the loop (WARMUP_SECONDS); the kernel's counters include them. */
  warmupBytes: number;
  /** Bytes the kernel completed without / with copying; null where the method cannot tell (write). */
  zeroCopyBytes: number | null;
  copiedBytes: number | null;
  backend: string | null;
  /** Distinct memory actually rotated through (a wired pool has at most 1024 buffers). */
  workingSetBytes: number;
  wallSeconds: number;
  /** This process's user + system CPU time over the loop (all its threads; the ACK injector is the parent's). */
  cpuSeconds: number;
  /** The whole machine over the same interval, % of one CPU (the ACK injector included). */
  systemPercent: number;
  softirqPercent: number;
  /** The kernel's counters once everything was ACKed. */
  bytesAcked: number;
  totalRetrans: number;
}
