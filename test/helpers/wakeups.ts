// Counts what wakes the event loop on aiotx's behalf, to prove it does not spin: every call from
// the poller (epoll) and the io_uring ring (eventfd) into JavaScript, and the process's read
// syscalls (libuv spinning on a socket whose error queue is not drained retries read(2) on it).
// Import this before anything starts the engine: it wraps the addon's start functions.
import { readFileSync } from 'node:fs';
import { addon } from '../../src/native/addon.js';

let calls = 0;

type Start = (onReady: (count: number) => void) => unknown;
const entry = addon as unknown as Record<'pollerStart' | 'uringStart', Start>;
for (const name of ['pollerStart', 'uringStart'] as const) {
  const start = entry[name].bind(addon);
  entry[name] = (onReady) =>
    start((count) => {
      calls++;
      onReady(count);
    });
}

/** read(2)-family syscalls of this process so far (/proc/self/io syscr). */
function readSyscalls(): number {
  return Number(/^syscr:\s+(\d+)/m.exec(readFileSync('/proc/self/io', 'utf8'))?.[1]);
}

export interface Wakeups {
  /** Event-loop turns in the window, at least: one per timer tick. */
  turns: number;
  /** Calls from the poller or the ring into JavaScript. */
  engine: number;
  /** read syscalls, less the two each count costs itself. */
  reads: number;
  /**
   * A spinning loop wakes on every turn (an engine callback, or libuv retrying read(2)), so it
   * does in each quarter of the window; a quiet one wakes for an occasional late event, or for a
   * burst of other threads' work posted to the loop (each a read of libuv's async wakeup fd in
   * uv__async_io: perf showed 222 such reads, alongside threadpool fs reads, in the first quarter
   * of a window with no engine callback at all), which fills one quarter at most. Counts, not
   * time: the window's length does not matter.
   */
  spinning: boolean;
}

/** Counts wakeups over `ticks` timer ticks of 10 ms, in four quarters. */
export async function wakeupsOver(ticks = 20): Promise<Wakeups> {
  const total: Wakeups = { turns: 0, engine: 0, reads: 0, spinning: true };
  for (let q = 0; q < 4; q++) {
    const turns = Math.ceil(ticks / 4);
    const engine0 = calls;
    const reads0 = readSyscalls();
    for (let i = 0; i < turns; i++) await new Promise((r) => setTimeout(r, 10));
    const reads = readSyscalls() - reads0 - 2;
    const engine = calls - engine0;
    total.turns += turns;
    total.engine += engine;
    total.reads += reads;
    total.spinning &&= engine >= turns || reads >= turns;
  }
  return total;
}
