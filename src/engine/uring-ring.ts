// The process's io_uring ring (native/uring.c): SEND_ZC submissions staged during a JavaScript
// turn and submitted in one crossing at its end; completions dispatched by tag to the segment
// that asked for them.
import { constants } from 'node:os';
import { addon } from '../native/addon.js';

/** (res, flags) of one CQE: the send result, then (with IORING_CQE_F_MORE) the notification. */
export type CompletionHandler = (res: number, flags: number) => void;

export const CQE_F_MORE = 1 << 1;
export const CQE_F_NOTIF = 1 << 3;
/** In a notification's res, with IORING_SEND_ZC_REPORT_USAGE: the kernel copied the data. */
export const NOTIF_USAGE_ZC_COPIED = 1 << 31;

const EBUSY = -constants.errno.EBUSY;
const EFAULT = -constants.errno.EFAULT;
const ENTRY_WIDTH = 5;
const BATCH = 256;

let completions: Int32Array | null = null;
let startError = 0;
const handlers = new Map<number, CompletionHandler>();
let nextTag = 1;

interface Staged {
  fd: number;
  data: ArrayBufferView | ArrayBuffer;
  offset: number;
  length: number;
  slot: number;
  handler: CompletionHandler;
}

const table = new Float64Array(BATCH * ENTRY_WIDTH);
const staged: Staged[] = [];
let flushQueued = false;

/** Starts the ring once; returns 0 or the -errno why io_uring cannot be used here. */
export function startRing(): number {
  if (completions === null && startError === 0) {
    const r = addon.uringStart(dispatch);
    if (typeof r === 'number') startError = r;
    else completions = r;
  }
  return startError;
}

function dispatch(count: number): void {
  const c = completions!;
  for (let i = 0; i < count; i += 3) {
    const tag = c[i]! >>> 0;
    const flags = c[i + 2]!;
    const handler = handlers.get(tag);
    if (!handler) continue;
    // A SEND_ZC tag gets a second CQE when the first carries F_MORE.
    if (!(flags & CQE_F_MORE)) handlers.delete(tag);
    handler(c[i + 1]!, flags);
  }
  if (staged.length > 0) flush();
}

/** Queues one SEND_ZC of data[offset, offset+length) on fd; `slot` >= 0 for a wired buffer. */
export function sendZeroCopy(fd: number, data: ArrayBufferView | ArrayBuffer, offset: number, length: number, slot: number, handler: CompletionHandler): void {
  staged.push({ fd, data, offset, length, slot, handler });
  if (!flushQueued) {
    flushQueued = true;
    queueMicrotask(flush);
  }
}

/** Submits what was staged, up to a ring's worth per crossing. */
function flush(): void {
  flushQueued = false;
  while (staged.length > 0) {
    const chunk = staged.slice(0, BATCH);
    const r = submit(chunk);
    // The ring is full: keep the entries; completions make room and flush again.
    if (r === EBUSY) return;
    staged.splice(0, chunk.length);
    if (r >= 0) continue;
    if (r === EFAULT && chunk.length > 1) {
      // Some buffer was detached since it was queued: only its own send should hear it.
      for (const entry of chunk) {
        const one = submit([entry]);
        if (one < 0) entry.handler(one, 0);
      }
    } else {
      for (const entry of chunk) entry.handler(r, 0);
    }
  }
}

/** One crossing for `entries`; returns the count submitted or a -errno (then nothing was). */
function submit(entries: Staged[]): number {
  const tags = entries.map((entry, i) => {
    const tag = nextTag;
    nextTag = nextTag === 0xffffffff ? 1 : nextTag + 1;
    const at = i * ENTRY_WIDTH;
    table[at] = entry.fd;
    table[at + 1] = entry.offset;
    table[at + 2] = entry.length;
    table[at + 3] = tag;
    table[at + 4] = entry.slot;
    handlers.set(tag, entry.handler);
    return tag;
  });
  const r = addon.uringSubmit(table, entries.map((e) => e.data), entries.length);
  if (r < 0) for (const tag of tags) handlers.delete(tag);
  return r;
}

/** Wires `count` buffers of `size` bytes of `memory` at table slots from `slot`; 0 or -errno. */
export function registerBuffers(memory: ArrayBuffer, slot: number, size: number, count: number): number {
  const r = startRing();
  return r < 0 ? r : addon.uringRegisterBuffers(memory, slot, size, count);
}

export function unregisterBuffers(slot: number, count: number): number {
  return addon.uringUnregisterBuffers(slot, count);
}

/** Size of the ring's wired-buffer table, or the -errno why it has none. */
export function bufferSlots(): number {
  const r = startRing();
  return r < 0 ? r : addon.uringBufferSlots();
}

/** Wired-buffer table slots taken by pools: [start, start + count) ranges. */
const slotRanges: { start: number; count: number }[] = [];

/** Reserves `count` consecutive table slots; returns the first, or -1 when none are free. */
export function allocateSlots(count: number): number {
  const total = bufferSlots();
  if (total <= 0) return -1;
  const taken = [...slotRanges].sort((a, b) => a.start - b.start);
  let start = 0;
  for (const range of taken) {
    if (range.start - start >= count) break;
    start = range.start + range.count;
  }
  if (start + count > total) return -1;
  slotRanges.push({ start, count });
  return start;
}

export function freeSlots(start: number): void {
  const i = slotRanges.findIndex((r) => r.start === start);
  if (i >= 0) slotRanges.splice(i, 1);
}
