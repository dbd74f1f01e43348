// A queue of segments in send order (a backend's ledger, the segments staged for its next chain,
// the chain with the kernel): a ring over one array. A slot is cleared as its segment leaves, and
// the array is replaced only when full (doubling, the old one cleared).
//
// Why not a growing array trimmed now and then, or emptied with `length = 0`: a backing store
// left behind by a push that grew the array, or by a slice, is garbage that still points at the
// segments it held, and once it sits in V8's old space the young-generation GC counts those
// pointers as live until the next full GC: settled segments, their jobs and promises are copied
// and promoted by every scavenge. (A Set's rehashed-away tables did exactly that to the
// transmitter's jobs: 2.8 MB promoted and 6 ms per scavenge on io_uring sends.) Setting `length`
// is also a call into V8's runtime.
export class SegmentQueue<T> {
  private first = 0;
  private count = 0;

  /** A power of two, so a position wraps with a mask. */
  private slots: (T | undefined)[] = new Array<T | undefined>(64).fill(undefined);

  get length(): number {
    return this.count;
  }

  /** The i-th oldest segment (0: the oldest), i < length. */
  at(i: number): T {
    return this.slots[(this.first + i) & (this.slots.length - 1)]!;
  }

  push(item: T): void {
    if (this.count === this.slots.length) this.grow();
    this.slots[(this.first + this.count) & (this.slots.length - 1)] = item;
    this.count++;
  }

  /** Removes and returns the oldest, length > 0. */
  shift(): T {
    const slots = this.slots;
    const item = slots[this.first]!;
    slots[this.first] = undefined;
    this.first = (this.first + 1) & (slots.length - 1);
    this.count--;
    return item;
  }

  private grow(): void {
    const old = this.slots;
    const slots = new Array<T | undefined>(old.length * 2).fill(undefined);
    for (let i = 0; i < this.count; i++) slots[i] = old[(this.first + i) & (old.length - 1)];
    old.fill(undefined); // holds nothing alive once dropped
    this.slots = slots;
    this.first = 0;
  }
}
