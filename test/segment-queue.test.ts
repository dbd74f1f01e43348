// The engine's bookkeeping structures that replaced growing arrays and Sets (see ledger.ts and
// abort-watch.ts for why): order kept across wrap-around and growth, and nothing left behind.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SegmentQueue } from '../src/engine/segment-queue.js';
import { unwatchAbort, watchAbort } from '../src/engine/abort-watch.js';

describe('SegmentQueue', () => {
  it('keeps send order through wrap-around and growth, one at a time and in bursts', () => {
    const ledger = new SegmentQueue<{ n: number }>();
    let next = 0;
    let expect = 0;
    // Lengths 0..300 and back, so the ring wraps at every capacity it grows through.
    for (const burst of [1, 3, 70, 5, 200, 1, 300, 64, 128]) {
      for (let i = 0; i < burst; i++) ledger.push({ n: next++ });
      for (let i = 0; i < ledger.length; i++) assert.equal(ledger.at(i).n, expect + i);
      const take = Math.ceil(ledger.length / 2);
      for (let i = 0; i < take; i++) assert.equal(ledger.shift().n, expect++);
    }
    while (ledger.length > 0) assert.equal(ledger.shift().n, expect++);
    assert.equal(expect, next);
  });

  it('holds no reference to a segment once it left', () => {
    const ledger = new SegmentQueue<object>();
    const items = Array.from({ length: 100 }, () => ({}));
    for (const item of items) ledger.push(item);
    for (let i = 0; i < 100; i++) ledger.shift();
    const slots = (ledger as unknown as { slots: unknown[] }).slots;
    assert.ok(slots.every((s) => s === undefined), 'every slot cleared');
  });
});

describe('abort watch', () => {
  it('fires for exactly the jobs still watching, after others left in any order', () => {
    const controller = new AbortController();
    const fired: number[] = [];
    const jobs = Array.from({ length: 20 }, (_, i) => ({ abortSlot: -1, onAbortSignal: () => fired.push(i) }));
    for (const job of jobs) watchAbort(controller.signal, job);
    // Leave from the middle, the ends, and twice (the second is a no-op).
    for (const i of [5, 0, 19, 7, 7, 12, 1]) unwatchAbort(controller.signal, jobs[i]!);
    controller.abort();
    assert.deepEqual(fired.sort((a, b) => a - b), [2, 3, 4, 6, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18]);
  });

  it('drops its listener once the last job left', () => {
    const controller = new AbortController();
    const job = { abortSlot: -1, onAbortSignal: () => assert.fail('no job watches any more') };
    watchAbort(controller.signal, job);
    unwatchAbort(controller.signal, job);
    controller.abort();
  });
});
