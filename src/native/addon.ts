// The C addon (native/), loaded once and typed. Only src/engine and src/policy import this.
import { createRequire } from 'node:module';

export interface SocketInfo {
  dev: number;
  ino: number;
  type: number; // SOCK_STREAM = 1, SOCK_DGRAM = 2
  domain: number; // AF_INET = 2, AF_INET6 = 10, AF_UNIX = 1
  listening: boolean;
  zerocopy: boolean; // SO_ZEROCOPY already set on this socket
  connected: boolean;
  /** UDP_SEGMENT set on the socket (0 when none, or not UDP). */
  udpSegment: number;
}

export interface NetdevFeatures {
  sg: boolean;
  txcsum: boolean;
  tso: boolean;
}

/** Functions return a count/0 on success or a negative errno, except where they throw on bad arguments. */
export interface Addon {
  send(fd: number, data: ArrayBufferView | ArrayBuffer, offset: number, length: number, zerocopy: boolean): number;
  /** One sendmsg(2) of views[i] at spans[2i] for spans[2i+1] bytes, i < count (<= 64); stops before a detached or short view. */
  sendGathered(fd: number, views: readonly (ArrayBufferView | ArrayBuffer | undefined)[], spans: Float64Array, count: number): number;
  sendfile(sockfd: number, filefd: number, offset: number, count: number): number;
  /** sendfile until count is sent or the socket is full (then state[0] = 1); -errno when nothing went. */
  sendfileAll(sockfd: number, filefd: number, offset: number, count: number, state: Int32Array): number;
  /**
   * head[headOffset..] by send(MSG_MORE), then the file as sendfileAll, in one call: bytes sent of
   * both, state[0] = 1 when the socket was full, -errno when nothing went. A string head is latin1.
   */
  sendHeadAndFile(sockfd: number, head: string | ArrayBufferView | ArrayBuffer, headOffset: number, filefd: number, offset: number, count: number, state: Int32Array): number;
  /** open(2) of relative beneath root by openat2 (no `..` above it, no absolute or magic link): fd or -errno. */
  openBeneath(root: string, relative: string): number;
  drainZerocopy(fd: number, out: Uint32Array): number;
  socketInfo(fd: number): SocketInfo | number;
  /** "dev:ino" identifying the kernel socket, with one fstat. */
  socketKey(fd: number): string | number;
  pushPending(fd: number): number;
  disconnect(fd: number): number;
  setUdpSegment(fd: number, size: number): number;
  /** SO_SNDBUF minus the bytes the socket's sends hold (SIOCOUTQ), at least 0; or -errno. */
  sendRoom(fd: number): number;
  /** sysconf(_SC_PAGESIZE). */
  pageSize(): number;
  addressOwner(address: string): string;
  addresses(fd: number): { local: string; remote: string } | number;
  enableZerocopy(fd: number): number;
  isDetached(data: ArrayBufferView | ArrayBuffer): boolean;
  dup(fd: number): number;
  close(fd: number): number;
  pollerStart(onReady: (count: number) => void): Int32Array;
  watch(fd: number): number;
  unwatch(fd: number): number;
  pollerRef(on: boolean): void;
  netdevFeatures(name: string): NetdevFeatures | number;
  memlock(): { soft: number; hard: number } | number;
  probeZerocopy(): number;
  /** 0 when a ring like uringStart's can be set up here (made and closed at once), else -errno. */
  uringProbe(): number;
  uringStart(onCompletions: (count: number) => void): Int32Array | number;
  /** Entries the kernel took, from the first (the rest were taken back), or -errno when it took none. */
  uringSubmit(table: Float64Array, buffers: (ArrayBufferView | ArrayBuffer | undefined)[], count: number): number;
  uringReap(): number;
  uringRegisterBuffers(memory: ArrayBuffer, slot: number, size: number, count: number): number;
  uringUnregisterBuffers(slot: number, count: number): number;
  uringBufferSlots(): number;
}

const require = createRequire(import.meta.url);

function load(): Addon {
  // dist/src/native/addon.js -> ../../../build/Release
  const candidates = ['../../../build/Release/aiotx.node', '../../../build/Debug/aiotx.node'];
  let firstError: unknown;
  for (const path of candidates) {
    try {
      return require(path) as Addon;
    } catch (err) {
      firstError ??= err;
    }
  }
  throw new Error(`aiotx: native addon not built (run npm install): ${String(firstError)}`);
}

export const addon: Addon = load();
