// Adoption: from what the caller passed (a net.Socket or a raw fd) to the one transmitter that
// drives that kernel socket. Transmitters are keyed by the socket's inode, so a net.Socket and
// its fd share one queue and one MSG_ZEROCOPY id count.
import { once } from 'node:events';
import { Socket } from 'node:net';
import { constants } from 'node:os';
import { addon, type SocketInfo } from '../native/addon.js';
import { featuresOf, interfaceOwning, isLocalPeer } from '../policy/interfaces.js';
import type { SocketFacts } from '../policy/zero-copy-policy.js';
import { errnoError, rangeError, stateError, typeError, type AiotxError } from './errors.js';
import * as poller from './poller.js';
import { closedError, Transmitter } from './transmitter.js';

export type Target = Socket | number;

const SOCK_STREAM = 1;
const AF_UNIX = 1;
const ENOTSOCK = -constants.errno.ENOTSOCK;

const transmitters = new Map<string, Transmitter>();
/** A net.Socket's fd never changes: its transmitter is found without a syscall. */
const bySocket = new WeakMap<Socket, Transmitter>();
const connecting = new WeakMap<Socket, Promise<void>>();

/** Throws for a target that can never be a socket; fd validity is checked at adoption. */
export function checkTarget(target: unknown, api: string): asserts target is Target {
  if (target instanceof Socket) return;
  if (typeof target !== 'number') throw typeError(`${api}: target must be a net.Socket or a socket fd, got ${describe(target)}`);
  if (!Number.isInteger(target) || target < 0 || target > 0x7fffffff) throw rangeError(`${api}: fd must be a non-negative integer, got ${target}`);
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return `an instance of ${value.constructor?.name ?? 'Object'}`;
  return `type ${typeof value}`;
}

/**
 * The transmitter for `target`: synchronous when the socket is ready, so jobs queue in call
 * order; a promise while a net.Socket is still connecting (all callers wait on the same one).
 */
export function transmitterFor(target: Target, api: string): Transmitter | Promise<Transmitter> {
  if (target instanceof Socket) {
    if (target.connecting) {
      let ready = connecting.get(target);
      if (!ready) {
        ready = once(target, 'connect').then(() => undefined);
        connecting.set(target, ready);
      }
      return ready.then(() => adoptSocket(target, api));
    }
    return adoptSocket(target, api);
  }
  return adoptFd(target, api);
}

function adoptSocket(socket: Socket, api: string): Transmitter {
  if (socket.destroyed) throw closedError(socket);
  const known = bySocket.get(socket);
  if (known && !known.closed) return known;
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw typeError(`${api}: this net.Socket has no file descriptor (not a TCP or pipe socket?)`, 'ERR_INVALID_ARG_VALUE');
  const info = inspect(fd, api);
  const existing = transmitters.get(keyOf(info));
  if (existing) return existing;
  const t = create(fd, info, { socket, ownsFd: false, zerocopyWasEnabled: info.zerocopy }, api);
  bySocket.set(socket, t);
  socket.once('close', () => t.close(closedError(socket)));
  return t;
}

function adoptFd(fd: number, api: string): Transmitter {
  const key = addon.socketKey(fd);
  const existing = typeof key === 'string' ? transmitters.get(key) : undefined;
  if (existing) return existing;
  const info = inspect(fd, api);
  const dup = addon.dup(fd);
  if (dup < 0) throw errnoError(dup, 'dup', api);
  try {
    return create(dup, info, { ownsFd: true, zerocopyWasEnabled: info.zerocopy }, api);
  } catch (err) {
    addon.close(dup);
    throw err;
  }
}

function inspect(fd: number, api: string): SocketInfo {
  const info = addon.socketInfo(fd);
  if (info === ENOTSOCK) throw typeError(`${api}: fd ${fd} is not a socket`, 'ENOTSOCK');
  if (typeof info === 'number') throw errnoError(info, 'fstat', `${api}: fd ${fd}`);
  if (info.type !== SOCK_STREAM) throw typeError(`${api}: fd ${fd} is not a stream socket (only TCP and Unix stream sockets are supported)`, 'ERR_INVALID_ARG_VALUE');
  if (info.listening) throw typeError(`${api}: fd ${fd} is a listening socket; pass a connected one`, 'ERR_INVALID_ARG_VALUE');
  if (!info.connected) throw stateError(`${api}: fd ${fd} is not connected`, 'ENOTCONN');
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

function create(fd: number, info: SocketInfo, origin: ConstructorParameters<typeof Transmitter>[3], api: string): Transmitter {
  if (!origin.socket && !info.nonblocking) {
    // sendfile(2) has no MSG_DONTWAIT; a blocking socket would stall the event loop.
    const r = addon.setNonblocking(fd);
    if (r < 0) throw errnoError(r, 'fcntl', api);
  }
  const key = keyOf(info);
  const t = new Transmitter(fd, key, factsOf(fd, info), origin, (gone) => {
    if (transmitters.get(gone.key) === gone) transmitters.delete(gone.key);
  });
  const r = poller.watch(fd, t);
  if (r < 0) throw errnoError(r, 'epoll_ctl', api) as AiotxError;
  transmitters.set(key, t);
  return t;
}
