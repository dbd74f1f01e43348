// The process's io_uring ring (native/uring.c). Senders (one per socket) queue segments and ask
// for a flush; the flush, at the end of the JavaScript turn, lets each sender write its next
// chain of SEND_ZC entries into one table, submits the table in one crossing, and reads back the
// completions already posted (a send that completed inline has its CQEs there when the crossing
// returns, so it needs no eventfd wakeup). Completions are dispatched by tag to their segment.
import { constants } from 'node:os';
import { addon } from '../native/addon.js';
import type { Segment } from './backend.js';
import type { WriteJob } from './job.js';

export const CQE_F_MORE = 1 << 1;
export const CQE_F_NOTIF = 1 << 3;
/** In a notification's res, with IORING_SEND_ZC_REPORT_USAGE: the kernel copied the data. */
export const NOTIF_USAGE_ZC_COPIED = 1 << 31;

/** Entry flags (native/uring.c): IOSQE_IO_LINK to the next entry; MSG_WAITALL; IORING_OP_SEND (copy). */
export const ENTRY_LINK = 1;
export const ENTRY_WAITALL = 2;
export const ENTRY_COPY = 4;
/**
 * A send result the kernel never posts: io_uring_enter did not take the entry (it was taken back
 * from the submission ring), so nothing of it was sent and its sender sends it again.
 */
export const TAKEN_BACK = -0x40000000;
/** The longest chain a sender may write: a chain never spans two submissions. */
export const MAX_CHAIN = 16;

/** io_uring_enter(2): the kernel is short of resources, or was interrupted; try again later. */
const RETRY_LATER = new Set(['EAGAIN', 'EBUSY', 'EINTR'].map((n) => -constants.errno[n as keyof typeof constants.errno]));
const ENTRY_WIDTH = 6;
/** Entries per crossing: the submission ring's size. */
const BATCH = 256;
/** Longest wait (ms) before offering entries the kernel refused again, unless completions come first. */
const MAX_BACKOFF = 64;

/** One SEND_ZC of job.data[offset, offset + length). */
export class UringSegment implements Segment {
  /** Its CQEs' user_data while the kernel may still post any, else -1. */
  tag = -1;
  /** The send CQE's res: bytes sent or -errno (NaN until it came). */
  res = Number.NaN;
  /** What goes out again in its place (it was cancelled, or sent short). */
  retry: UringSegment | null = null;
  /** Sent with IORING_OP_SEND: the kernel copies (set by the sender). */
  copy = false;
  /** Its place in its socket's send order (set by the sender when it stages it). */
  order = 0;
  /** Staged with no link to the next send of its chain (UringBackend.unlinkedPrefix): never sent again. */
  unlinked = false;
  /** Its last CQE came (the kernel let go of it); the sender hands that to the job in send order. */
  released = false;
  /** Bytes it sent, and whether they were copied, once released. */
  sent = 0;
  copiedBack = false;

  constructor(
    readonly sender: Sender,
    readonly job: WriteJob,
    readonly offset: number,
    readonly length: number,
  ) {}
}

/** A socket's side of the ring (UringBackend). */
export interface Sender {
  readonly fd: number;
  /** Set by the ring: a flush will call emit(). */
  flushRequested: boolean;
  /** Set by the ring while it collects completions for it. */
  touched: boolean;
  /** Writes its next chain, at most `room` entries, with stage(). */
  emit(room: number): void;
  /** One CQE of `segment`. */
  completion(segment: UringSegment, res: number, flags: number): void;
  /** The end of a batch of completion() calls. */
  completionsDone(): void;
}

let completions: Int32Array | null = null;
let startError = 0;
/** Set while io_uring_enter refuses entries: flushes wait this long (ms), or for completions. */
let backoff = 0;
let backoffTimer: NodeJS.Timeout | null = null;

/** Segments by tag, while the kernel may post CQEs for them; free tags are reused. */
const byTag: (UringSegment | null)[] = [];
/** A stack in freeTags[0..freeCount): written by index, never popped, so it never shrinks and regrows. */
const freeTags: number[] = [];
let freeCount = 0;
export const tagsInUse = (): number => byTag.length - freeCount;

const table = new Float64Array(BATCH * ENTRY_WIDTH);
const buffers: (ArrayBufferView | ArrayBuffer | undefined)[] = new Array<undefined>(BATCH).fill(undefined);
const staged: (UringSegment | null)[] = new Array<null>(BATCH).fill(null);
let count = 0;

/** Senders that asked for a flush, in ready[0..readyCount). */
const ready: (Sender | null)[] = [];
let readyCount = 0;
const touched: (Sender | null)[] = [];
let touchedCount = 0;
let flushQueued = false;

/** 0 when io_uring can be used here, else the -errno why; starts nothing (a test ring is closed at once). */
export function probeRing(): number {
  return completions !== null ? 0 : startError !== 0 ? startError : addon.uringProbe();
}

/** Starts the ring once; returns 0 or the -errno why io_uring cannot be used here. */
export function startRing(): number {
  if (completions === null && startError === 0) {
    const r = addon.uringStart(dispatch);
    if (typeof r === 'number') startError = r;
    else completions = r;
  }
  return startError;
}

/** `sender` has segments to write: a flush at the end of this turn asks for them. */
export function requestFlush(sender: Sender): void {
  if (sender.flushRequested) return;
  sender.flushRequested = true;
  ready[readyCount++] = sender;
  queueFlush();
}

/**
 * A tick, not a microtask: queued from a promise continuation it runs once the microtask queue
 * is empty, so every write that settled promises queue in reaction goes out in the same crossing.
 */
function queueFlush(): void {
  if (flushQueued || backoffTimer !== null) return;
  if (backoff > 0) {
    backoffTimer = setTimeout(flushAfterBackoff, backoff).unref();
    return;
  }
  flushQueued = true;
  process.nextTick(flush);
}

function flushAfterBackoff(): void {
  backoffTimer = null;
  flushQueued = true;
  flush();
}

/** Completions came: what io_uring_enter refused may go now (the kernel freed resources). */
function flushSoon(): void {
  if (backoffTimer !== null) clearTimeout(backoffTimer);
  backoffTimer = null;
  if (flushQueued) return;
  flushQueued = true;
  process.nextTick(flush);
}

/** Writes one SEND_ZC entry for `segment` (during emit()); `flags`: ENTRY_LINK, ENTRY_WAITALL. */
export function stage(segment: UringSegment, flags: number): void {
  const tag = freeCount > 0 ? freeTags[--freeCount]! : byTag.push(null) - 1;
  byTag[tag] = segment;
  segment.tag = tag;
  segment.res = Number.NaN;
  const job = segment.job;
  const at = count * ENTRY_WIDTH;
  table[at] = segment.sender.fd;
  table[at + 1] = segment.offset;
  table[at + 2] = segment.length;
  table[at + 3] = tag;
  table[at + 4] = job.wiredSlot;
  table[at + 5] = segment.copy ? flags | ENTRY_COPY : flags;
  buffers[count] = job.data;
  staged[count] = segment;
  count++;
}

function flush(): void {
  flushQueued = false;
  let i = 0;
  for (; i < readyCount; i++) {
    if (BATCH - count < MAX_CHAIN && !submit()) break;
    const sender = ready[i]!;
    ready[i] = null;
    sender.flushRequested = false;
    sender.emit(BATCH - count);
  }
  // Senders a refused submission left waiting move to the front.
  const rest = readyCount - i;
  if (i > 0 && rest > 0) for (let j = 0; j < readyCount; j++) ready[j] = j < rest ? ready[i + j]! : null;
  readyCount = rest;
  submit();
  reap();
}

/**
 * Submits the staged table; false when the kernel did not take all of it. Entries it did not
 * take were taken back unsent: their senders hear TAKEN_BACK and send them again after the
 * chain they belong to, so a chain the kernel cut keeps its order. EAGAIN, EBUSY and EINTR mean
 * try again later (io_uring_enter(2)): flushes back off until completions come. Any other errno
 * is the send result of every entry not taken.
 */
function submit(): boolean {
  const n = count;
  if (n === 0) return true;
  const r = addon.uringSubmit(table, buffers, n);
  count = 0;
  buffers.fill(undefined, 0, n);
  const taken = r > 0 ? r : 0;
  const res = r < 0 && !RETRY_LATER.has(r) ? r : TAKEN_BACK;
  if (taken === n) backoff = 0;
  else if (res === TAKEN_BACK) backoff = backoff === 0 ? 1 : Math.min(backoff * 2, MAX_BACKOFF);
  for (let i = taken; i < n; i++) complete(staged[i]!, res, 0);
  staged.fill(null, 0, n);
  if (taken < n) completed();
  return taken === n;
}

/** Dispatches the completions already posted, without waiting for the eventfd. */
function reap(): void {
  if (completions === null) return;
  let n: number;
  do {
    n = addon.uringReap();
    if (n > 0) dispatch(n);
  } while (n === completions.length);
}

function dispatch(n: number): void {
  const c = completions!;
  for (let i = 0; i < n; i += 3) {
    const segment = byTag[c[i]! >>> 0];
    if (segment) complete(segment, c[i + 1]!, c[i + 2]!);
    else position++; // still a CQE between its neighbours
  }
  completed();
  if (readyCount > 0) flushSoon();
}

/** Counts every completion handed to a sender: consecutive values are consecutive CQEs. */
let position = 0;
/** The position of the completion being handed to its sender now. */
export const completionPosition = (): number => position;

function complete(segment: UringSegment, res: number, flags: number): void {
  position++;
  // A SEND_ZC's send CQE carries F_MORE when a notification CQE follows.
  if (flags & CQE_F_NOTIF || !(flags & CQE_F_MORE)) {
    byTag[segment.tag] = null;
    freeTags[freeCount++] = segment.tag;
    segment.tag = -1;
  }
  const sender = segment.sender;
  if (!sender.touched) {
    sender.touched = true;
    touched[touchedCount++] = sender;
  }
  sender.completion(segment, res, flags);
}

function completed(): void {
  // By index, not emptied with `length = 0` (a call into V8's runtime per batch).
  for (let i = 0; i < touchedCount; i++) {
    const sender = touched[i]!;
    touched[i] = null;
    sender.touched = false;
    sender.completionsDone();
  }
  touchedCount = 0;
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

/** Table slots no pool holds. */
export function freeSlotCount(): number {
  const total = bufferSlots();
  return total <= 0 ? 0 : slotRanges.reduce((free, range) => free - range.count, total);
}

export function freeSlots(start: number): void {
  const i = slotRanges.findIndex((r) => r.start === start);
  if (i >= 0) slotRanges.splice(i, 1);
}
