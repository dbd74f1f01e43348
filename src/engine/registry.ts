// Adoption: from what the caller passed (a net.Socket or a raw fd) to the one transmitter that
// drives that kernel socket. Transmitters are keyed by the socket's inode, so a net.Socket and
// its fd share one queue and one MSG_ZEROCOPY id count.
import { Socket as DatagramSocket } from 'node:dgram';
import { Socket } from 'node:net';
import { constants } from 'node:os';
import { addon, type SocketInfo } from '../native/addon.js';
import { featuresOf, interfaceOwning, isLocalPeer } from '../policy/interfaces.js';
import type { SocketFacts } from '../policy/zero-copy-policy.js';
import { closedError, errnoError, rangeError, stateError, typeError } from './errors.js';
import { Transmitter, type Origin } from './transmitter.js';

export type Target = Socket | DatagramSocket | number;

const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
const AF_UNIX = 1;
const ENOTSOCK = -constants.errno.ENOTSOCK;
/** How many retired sockets' MSG_ZEROCOPY id counts are remembered (else: resynchronised). */
const REMEMBERED_IDS = 4096;

const transmitters = new Map<string, Transmitter>();
export const transmitterCount = (): number => transmitters.size;
/** A socket object's fd never changes: its transmitter is found without a syscall. */
const bySocket = new WeakMap<Socket | DatagramSocket, Transmitter>();
/** Next MSG_ZEROCOPY id of sockets whose transmitter retired, by socket key. */
const zerocopyIds = new Map<string, number>();

/**
 * A net.Socket still connecting: callers queue here in call order and all learn of the
 * transmitter in one callback once it connects, so their jobs keep that order.
 */
export interface PendingTransmitter {
  whenReady(ready: (t: Transmitter) => void, failed: (err: Error) => void): void;
}

interface Connecting extends PendingTransmitter {
  /** Settles after every queued caller was told (end() waits on it). */
  settled: Promise<void>;
}
const connecting = new WeakMap<Socket, Connecting>();
/** Sockets whose _final and 'close' aiotx hooked (once per socket, however often re-adopted). */
const hooked = new WeakSet<Socket | DatagramSocket>();

/** Throws for a target that can never be a socket; fd validity is checked at adoption. */
export function checkTarget(target: unknown, api: string): asserts target is Target {
  if (target instanceof Socket || target instanceof DatagramSocket) return;
  if (typeof target !== 'number') throw typeError(`${api}: target must be a net.Socket, a dgram.Socket or a socket fd, got ${describe(target)}`);
  if (!Number.isInteger(target) || target < 0 || target > 0x7fffffff) throw rangeError(`${api}: fd must be a non-negative integer, got ${target}`);
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return `an instance of ${value.constructor?.name ?? 'Object'}`;
  return `type ${typeof value}`;
}

/**
 * The transmitter for `target`: synchronous when the socket is ready, so jobs queue in call
 * order; pending while a net.Socket is still connecting (callers queue behind each other).
 */
export function transmitterFor(target: Target, api: string): Transmitter | PendingTransmitter {
  if (target instanceof DatagramSocket) return adoptDatagram(target, api);
  if (!(target instanceof Socket)) return adoptFd(target, api);
  checkPlain(target, api);
  const pending = connecting.get(target);
  if (!pending && !target.connecting) return adoptSocket(target, api, false);
  if (target.writableEnded) throw endedError(api);
  hookSocket(target);
  return pending ?? waitForConnect(target, api);
}

function endedError(api: string) {
  return stateError(`${api}: the socket was ended (end() was called)`, 'ERR_STREAM_WRITE_AFTER_END');
}

function waitForConnect(socket: Socket, api: string): Connecting {
  const waiting: [(t: Transmitter) => void, (err: Error) => void][] = [];
  const tell = (t: Transmitter | null, err: Error | null) => {
    connecting.delete(socket);
    for (const [ready, failed] of waiting.splice(0)) {
      if (t) ready(t);
      else failed(err!);
    }
  };
  const settled = whenConnected(socket).then(
    () => {
      let t: Transmitter;
      try {
        // Jobs queued before end() was called still go out: end() waits for them.
        t = adoptSocket(socket, api, true);
      } catch (err) {
        return tell(null, err as Error);
      }
      tell(t, null);
    },
    (err: Error) => tell(null, err),
  );
  const entry: Connecting = { settled, whenReady: (ready, failed) => void waiting.push([ready, failed]) };
  connecting.set(socket, entry);
  return entry;
}

/** Resolves on 'connect'; rejects if the socket errors or is destroyed first. */
function whenConnected(socket: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    const settle = (err?: Error) => {
      socket.off('connect', onConnect).off('close', onClose).off('error', onError);
      if (err) reject(err);
      else resolve();
    };
    const onConnect = () => settle();
    const onClose = () => settle(closedError(socket));
    const onError = (err: Error) => settle(err);
    socket.once('connect', onConnect).once('close', onClose).once('error', onError);
  });
}

/** `queuedBeforeEnd`: the callers waited for the connection and called before end(). */
function adoptSocket(socket: Socket, api: string, queuedBeforeEnd: boolean): Transmitter {
  if (socket.destroyed) throw closedError(socket);
  if (socket.writableEnded && !queuedBeforeEnd) throw endedError(api);
  const known = bySocket.get(socket);
  if (known && !known.closed) return known;
  const fd = handleOf(socket)?.fd;
  if (typeof fd !== 'number' || fd < 0) throw typeError(`${api}: this net.Socket has no file descriptor (not a TCP or pipe socket?)`, 'ERR_INVALID_ARG_VALUE');
  const info = inspect(fd, api);
  const existing = transmitters.get(keyOf(info));
  hookSocket(socket);
  const t = existing ?? adopt(fd, info, socket, api);
  bySocket.set(socket, t);
  return t;
}

function handleOf(socket: Socket): { fd?: number; constructor?: { name?: string } } | undefined {
  return (socket as unknown as { _handle?: { fd?: number } })._handle;
}

/** Bytes written under a TLS (or any wrapping) socket would bypass what it does to them. */
const PLAIN_HANDLES = new Set(['TCP', 'Pipe']);

function checkPlain(socket: Socket, api: string): void {
  const handle = handleOf(socket);
  if ((socket as { encrypted?: boolean }).encrypted || (handle && !PLAIN_HANDLES.has(handle.constructor?.name ?? ''))) {
    throw typeError(`${api}: only plain TCP and pipe sockets are supported; writing under TLS would bypass the encryption`, 'ERR_INVALID_ARG_VALUE');
  }
}

/** A dgram.Socket's fd, without the deprecated _handle getter. */
function datagramFd(socket: DatagramSocket): number | undefined {
  for (const sym of Object.getOwnPropertySymbols(socket)) {
    const state = (socket as unknown as Record<symbol, { handle?: { fd?: number } } | undefined>)[sym];
    if (sym.description === 'state symbol' && state?.handle) return state.handle.fd;
  }
  return undefined;
}

function adoptDatagram(socket: DatagramSocket, api: string): Transmitter {
  const known = bySocket.get(socket);
  if (known && !known.closed) return known;
  const fd = datagramFd(socket);
  if (typeof fd !== 'number' || fd < 0) throw stateError(`${api}: the dgram.Socket is not bound and connected (or was closed)`, 'ENOTCONN');
  const t = adoptFd(fd, api, true);
  bySocket.set(socket, t);
  if (!hooked.has(socket)) {
    hooked.add(socket);
    socket.once('close', () => bySocket.get(socket)?.close(stateError('the socket was closed while jobs were pending', 'ERR_SOCKET_CLOSED'), false));
  }
  return t;
}

/** `persistent`: the transmitter lives as long as the socket object (else it retires when idle). */
function adoptFd(fd: number, api: string, persistent = false): Transmitter {
  const key = addon.socketKey(fd);
  const existing = typeof key === 'string' ? transmitters.get(key) : undefined;
  if (existing) return existing;
  return adopt(fd, inspect(fd, api), undefined, api, persistent);
}

function inspect(fd: number, api: string): SocketInfo {
  const info = addon.socketInfo(fd);
  if (info === ENOTSOCK) throw Object.assign(errnoError(info, 'fstat', api), { message: `${api}: fd ${fd} is not a socket` });
  if (typeof info === 'number') throw errnoError(info, 'fstat', `${api}: fd ${fd}`);
  if (info.type !== SOCK_STREAM && info.type !== SOCK_DGRAM) throw typeError(`${api}: fd ${fd} is neither a stream nor a datagram socket`, 'ERR_INVALID_ARG_VALUE');
  if (info.listening) throw typeError(`${api}: fd ${fd} is a listening socket; pass a connected one`, 'ERR_INVALID_ARG_VALUE');
  if (!info.connected) throw stateError(`${api}: fd ${fd} is not connected${info.type === SOCK_DGRAM ? ' (connect() the datagram socket to its peer)' : ''}`, 'ENOTCONN');
  return info;
}

function keyOf(info: SocketInfo): string {
  return `${info.dev}:${info.ino}`;
}

function factsOf(fd: number, info: SocketInfo): SocketFacts {
  if (info.domain === AF_UNIX) return { interface: null, features: null, peerLocal: true };
  const addrs = addon.addresses(fd);
  if (typeof addrs === 'number') return { interface: null, features: null, peerLocal: false };
  const name = interfaceOwning(addrs.local);
  return { interface: name, features: name ? featuresOf(name) : null, peerLocal: isLocalPeer(addrs.remote) };
}

/** A transmitter on a duplicate of `fd`, serving `socket` when given. */
function adopt(fd: number, info: SocketInfo, socket: Socket | undefined, api: string, persistent = socket !== undefined): Transmitter {
  const dup = addon.dup(fd);
  if (dup < 0) throw errnoError(dup, 'dup', api);
  const key = keyOf(info);
  try {
    const origin: Origin = {
      socket,
      persistent,
      datagram: info.type === SOCK_DGRAM,
      zerocopyWasEnabled: info.zerocopy,
      zerocopyNextId: zerocopyIds.get(key) ?? null,
      udpSegment: info.udpSegment,
    };
    const t = new Transmitter(dup, key, factsOf(dup, info), origin, retired);
    const r = t.start();
    if (r < 0) throw errnoError(r, 'epoll_ctl', api);
    zerocopyIds.delete(key);
    transmitters.set(key, t);
    return t;
  } catch (err) {
    addon.close(dup);
    throw err;
  }
}

/**
 * Ties a net.Socket's life to whichever transmitter serves it: end() waits for pending jobs
 * (those still waiting for the connection too), and 'close' ends the transmitter.
 */
function hookSocket(socket: Socket): void {
  if (hooked.has(socket)) return;
  hooked.add(socket);
  const writable = socket as unknown as { _final(cb: (err?: Error | null) => void): void };
  const final = writable._final;
  writable._final = (cb) => {
    const proceed = () => {
      const t = bySocket.get(socket);
      const finish = () => {
        writable._final = final;
        final.call(socket, cb);
      };
      if (!t || t.closed) return finish();
      t.nodeFlushed();
      t.whenIdle(finish);
    };
    const pending = connecting.get(socket);
    if (pending) void pending.settled.then(proceed, proceed);
    else proceed();
  };
  socket.once('close', () => bySocket.get(socket)?.close(closedError(socket), true));
}

function retired(t: Transmitter): void {
  if (transmitters.get(t.key) === t) transmitters.delete(t.key);
  const next = t.zerocopyNextId;
  if (next === null) return;
  zerocopyIds.set(t.key, next);
  if (zerocopyIds.size > REMEMBERED_IDS) zerocopyIds.delete(zerocopyIds.keys().next().value!);
}
