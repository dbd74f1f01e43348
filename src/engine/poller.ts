// One readiness poller for all transmitters (native/poller.c): edge-triggered writability and
// error-queue arrivals, dispatched by fd (each transmitter's own duplicate, so fds are unique).
// It holds the event loop open only while jobs are pending.
import { addon } from '../native/addon.js';

export interface Watcher {
  /** `events` are epoll bits (EPOLLOUT, EPOLLERR, EPOLLHUP...). */
  onReady(events: number): void;
}

let events: Int32Array | null = null;
const watchers = new Map<number, Watcher>();
/** Watchers with pending jobs; a count, not a Set: it changes twice per copy datagram write, and a
 * Set of a thousand sockets' transmitters is a hash table those writes would miss in cache. */
let active = 0;

/** `ints`: how many ints of `events` this wakeup filled, two per (fd, events) pair. */
function dispatch(ints: number): void {
  const ev = events!;
  for (let i = 0; i + 1 < ints; i += 2) watchers.get(ev[i]!)?.onReady(ev[i + 1]!);
}

/** Starts watching `fd` for `watcher`; returns 0 or a -errno. */
export function watch(fd: number, watcher: Watcher): number {
  events ??= addon.pollerStart(dispatch);
  const r = addon.watch(fd);
  if (r < 0) return r;
  watchers.set(fd, watcher);
  return 0;
}

/** Stops watching `fd` (whether the watcher keeps the process alive is setActive's). */
export function unwatch(fd: number, watcher: Watcher): void {
  if (watchers.get(fd) !== watcher) return;
  watchers.delete(fd);
  addon.unwatch(fd); // EBADF/ENOENT once the fd is closed: the kernel dropped it already
}

/** A watcher with pending jobs keeps the process alive; each watcher calls this only on a change. */
export function setActive(on: boolean): void {
  const before = active;
  active += on ? 1 : -1;
  if (events !== null && (before === 0) !== (active === 0)) addon.pollerRef(active > 0);
}
