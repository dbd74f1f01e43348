// aiotx-bench's own C addon (native/ here), loaded once and typed. Only this folder imports it.
import { createRequire } from 'node:module';

/** Functions return a count/0 on success or a negative errno, except where they throw on bad arguments. */
export interface BenchAddon {
  /** Blocks for durationMs sending `data` cyclically on every fd; bytes sent per fd. */
  referenceSend(fds: Int32Array, data: ArrayBufferView | ArrayBuffer, durationMs: number, writeSize: number): Float64Array | number;
  /** A thread drops what arrives on the stream socket; done(bytes, -errno or 0) at its end. */
  discardStart(fd: number, done: (bytes: number, error: number) => void): number;
  shutdown(fd: number): number;
  /** TCP sink rig (native/tcp_sink.c): an ESTABLISHED socket built with TCP_REPAIR; fd or -errno. */
  tcpSinkSocket(local: string, localPort: number, remote: string, remotePort: number, isn: number, peerIsn: number, mss: number): number;
  tcpSinkQuiet(fd: number): number;
  tcpInfo(fd: number): TcpInfo | number;
  tcpAckerStart(
    ifname: string, local: string, localPort: number, remote: string, remotePort: number, isn: number, peerIsn: number,
    ackBytes: number, holdMicros: number, pollMicros: number, cpu: number,
  ): number;
  tcpAckerCounters(handle: number): AckerCounters | number;
  tcpAckerStop(handle: number): AckerCounters | number;
  /** [bytes, sends, zeroCopySends, copiedSends, enobufs] or -errno. */
  sinkReferenceSend(fd: number, data: ArrayBufferView | ArrayBuffer, size: number, durationMs: number, zeroCopy: boolean, segment: number): Float64Array | number;
  sinkReferenceUring(fd: number, data: ArrayBufferView | ArrayBuffer, size: number, durationMs: number, segment: number, depth: number, fixed: boolean): Float64Array | number;
}

export interface TcpInfo {
  state: number;
  bytesSent: number;
  bytesAcked: number;
  bytesRetrans: number;
  totalRetrans: number;
  sndMss: number;
  sndCwnd: number;
  unacked: number;
}

export interface AckerCounters {
  acks: number;
  packets: number;
  /** The highest sequence number (seq + payload) seen leaving, mod 2^32. */
  highestSeq: number;
}

const require = createRequire(import.meta.url);

function load(): BenchAddon {
  // dist/native/addon.js -> ../../build/Release
  const candidates = ['../../build/Release/aiotx_bench.node', '../../build/Debug/aiotx_bench.node'];
  let firstError: unknown;
  for (const path of candidates) {
    try {
      return require(path) as BenchAddon;
    } catch (err) {
      firstError ??= err;
    }
  }
  throw new Error(`aiotx-bench: native addon not built (run npm install): ${String(firstError)}`);
}

export const addon: BenchAddon = load();
