// The bench's two loops in C (native/bench_ops.c here), for the bench surface: the `reference` sender,
// a plain send() loop that is the floor aiotx's own layers are measured against, and the
// receiver's discard thread, which drops a stream's bytes without calling JavaScript per chunk.
import type { Socket } from 'node:net';
import { addon } from './addon.js';
import { errnoError, typeError } from './errors.js';

function socketFd(socket: Socket, api: string): number {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw typeError(`${api}: this net.Socket has no file descriptor`, 'ERR_INVALID_ARG_VALUE');
  return fd;
}

/**
 * Sends `data` over and over on every socket for `durationMs`, in writes of `writeSize` bytes,
 * blocking this thread; returns the bytes sent per socket. Each socket's stream is `data`
 * repeated, cut wherever the time ran out.
 */
export function referenceSend(sockets: readonly Socket[], data: Buffer, durationMs: number, writeSize = data.length): number[] {
  const fds = Int32Array.from(sockets, (s) => socketFd(s, 'referenceSend'));
  const r = addon.referenceSend(fds, data, Math.round(durationMs), writeSize);
  if (typeof r === 'number') throw errnoError(r, 'send', 'referenceSend');
  return Array.from(r);
}

/**
 * Drops everything arriving on `socket` in a native thread until the peer ends the stream;
 * resolves with the byte count. The socket must be paused (net.createServer's pauseOnConnect)
 * so Node does not read from it too; stop() ends the thread early by shutting the socket down.
 */
export function discardStream(socket: Socket): { done: Promise<number>; stop(): void } {
  const fd = socketFd(socket, 'discardStream');
  let stop = () => {};
  const done = new Promise<number>((resolve, reject) => {
    const r = addon.discardStart(fd, (bytes, error) => (error ? reject(errnoError(error, 'recv', 'discardStream')) : resolve(bytes)));
    if (r < 0) return reject(errnoError(r, 'discardStart', 'discardStream'));
    stop = () => {
      addon.shutdown(fd);
    };
  });
  return { done, stop: () => stop() };
}
