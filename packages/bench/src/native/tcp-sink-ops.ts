// The TCP sink rig's native half (native/tcp_sink.c) for the bench surface: a TCP socket made
// ESTABLISHED without a handshake, the ACK injector that keeps it sending, the kernel's byte
// counters, and a C send loop over it. src/bench/tcp-sink-rig.ts builds the network around them.
import { addon, type AckerCounters, type TcpInfo } from './addon.js';
import { errnoError } from './errors.js';

export type { AckerCounters, TcpInfo };

/** Both ends of a rig connection and the sequence numbers each side starts from. */
export interface TcpSinkEnds {
  local: string;
  localPort: number;
  remote: string;
  remotePort: number;
  /** This side's first data byte has sequence number isn (mod 2^32). */
  isn: number;
  peerIsn: number;
}

/** When the injector ACKs: once `ackBytes` are unacknowledged, or data waited `holdMicros`. */
export interface AckerTuning {
  ackBytes: number;
  holdMicros: number;
  /** Sleep between looks at the sequence tracker; 0 spins (a whole core). */
  pollMicros: number;
  /** The CPU the injector thread is pinned to (keep it off the sender's). */
  cpu: number;
}

/** A TCP socket fd connected local -> remote by TCP_REPAIR, SO_ZEROCOPY on; throws on failure. */
export function openRepairedSocket(ends: TcpSinkEnds, mss: number): number {
  const fd = addon.tcpSinkSocket(ends.local, ends.localPort, ends.remote, ends.remotePort, ends.isn, ends.peerIsn, mss);
  if (fd < 0) throw errnoError(fd, 'setsockopt(TCP_REPAIR)', 'tcp sink socket');
  return fd;
}

/** Puts the socket back in repair mode: closing it then sends no FIN/RST and leaves no orphan. */
export function quietSocket(fd: number): void {
  const r = addon.tcpSinkQuiet(fd);
  if (r < 0) throw errnoError(r, 'setsockopt(TCP_REPAIR)', 'tcp sink quiet close');
}

export function tcpInfo(fd: number): TcpInfo {
  const r = addon.tcpInfo(fd);
  if (typeof r === 'number') throw errnoError(r, 'getsockopt(TCP_INFO)', 'tcpInfo');
  return r;
}

export interface Acker {
  counters(): AckerCounters;
  /** Stops the thread and detaches the tracker; the final counters. Idempotent. */
  stop(): AckerCounters;
}

/** Attaches the sequence tracker to `ifname`'s egress and starts ACKing `ends`' connection. */
export function startAcker(ifname: string, ends: TcpSinkEnds, tuning: AckerTuning): Acker {
  const handle = addon.tcpAckerStart(
    ifname, ends.local, ends.localPort, ends.remote, ends.remotePort, ends.isn, ends.peerIsn,
    tuning.ackBytes, tuning.holdMicros, tuning.pollMicros, tuning.cpu,
  );
  if (handle < 0) throw errnoError(handle, 'bpf/socket', `tcp sink ACK injector on ${ifname}`);
  let last: AckerCounters | null = null;
  const read = (r: AckerCounters | number): AckerCounters => {
    if (typeof r === 'number') throw errnoError(r, 'acker', 'tcp sink ACK injector');
    return r;
  };
  return {
    counters: () => last ?? read(addon.tcpAckerCounters(handle)),
    stop: () => (last ??= read(addon.tcpAckerStop(handle))),
  };
}

export interface ReferenceLoopResult {
  bytes: number;
  sends: number;
  /** MSG_ZEROCOPY sends the kernel completed without copying / with COPIED. */
  zeroCopySends: number;
  copiedSends: number;
  /** Sends refused for want of option memory (waited out, then retried). */
  enobufs: number;
}

/**
 * Sends `size`-byte slices of `data` in turn for `durationMs`, in C, blocking this thread (the
 * floor the JavaScript layers are compared with); with `zeroCopy`, MSG_ZEROCOPY, counting how the
 * kernel completed each send. On a TCP socket `segment` is 0; on a connected UDP socket it is the
 * UDP_SEGMENT size, each send one GSO datagram (the UDP sink rig's floor).
 */
export function sinkReferenceSend(fd: number, data: Buffer, size: number, durationMs: number, zeroCopy: boolean, segment = 0): ReferenceLoopResult {
  const r = addon.sinkReferenceSend(fd, data, size, Math.round(durationMs), zeroCopy, segment);
  if (typeof r === 'number') throw errnoError(r, 'send', 'sinkReferenceSend');
  return loopResult(r);
}

/**
 * The io_uring floor of the sink rigs: SEND_ZC of `size`-byte slices of `data` in turn, `depth`
 * sends in flight refilled as one linked chain per io_uring_enter, for `durationMs`, in C on a
 * ring of its own, blocking this thread; `fixed`: `data` registered as one fixed buffer (as the
 * wired pool sends), else plain memory the kernel pins per send. `segment` > 0: a UDP socket,
 * UDP_SEGMENT, each send one GSO datagram; 0: a TCP socket, MSG_WAITALL (as aiotx sends). Counts
 * sends by their notification's COPIED flag.
 */
export function sinkReferenceUring(fd: number, data: Buffer, size: number, durationMs: number, segment: number, depth: number, fixed: boolean): ReferenceLoopResult {
  const r = addon.sinkReferenceUring(fd, data, size, Math.round(durationMs), segment, depth, fixed);
  if (typeof r === 'number') throw errnoError(r, 'io_uring', 'sinkReferenceUring');
  return loopResult(r);
}

function loopResult(r: Float64Array): ReferenceLoopResult {
  const [bytes, sends, zeroCopySends, copiedSends, enobufs] = Array.from(r) as [number, number, number, number, number];
  return { bytes, sends, zeroCopySends, copiedSends, enobufs };
}
