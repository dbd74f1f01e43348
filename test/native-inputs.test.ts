// The addon's entry points given junk from JavaScript: each throws a TypeError/RangeError (or
// says it was not started) or returns a -errno, never crashes; the few that take no arguments
// return their one documented shape. Run under scripts/asan-test.sh for memory checks.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startRing } from '../src/engine/uring-ring.js';
import { addon } from '../src/native/addon.js';

const junk: unknown[][] = [
  [],
  [null],
  [undefined],
  ['7'],
  [1.5],
  [-1],
  [2 ** 31],
  [1e300],
  [NaN],
  [{}],
  [999999, new Uint8Array(4), 0, 4, false],
  [999999, new Uint8Array(4), 3, 9, false],
  [999999, new Uint8Array(4), 2 ** 53, 1, false],
  [999999, 'text', 0, 1, false],
  [999999, new Uint8Array(4), 0, 1, 'yes'],
  [999999, new Uint16Array(6)],
  [999999, new Uint8Array(6)],
  [999999, 999999, 0, 10],
  [999999, 999999, -5, 10],
  ['x'.repeat(64)],
  [''],
  [Symbol('s')],
];

// Functions whose side effects on real fds would harm the test process itself.
const skip = new Set(['close', 'pollerStart', 'uringStart']);

/** -errno as the addon returns it. */
const isErrno = (r: unknown) => Number.isInteger(r) && (r as number) < 0 && (r as number) > -4096;

/** Entry points that ignore their arguments (or take any string) and what they then return. */
const answers: Record<string, (r: unknown) => boolean> = {
  memlock: (r) => isErrno(r) || (typeof r === 'object' && r !== null && Number.isInteger((r as { soft: unknown }).soft) && Number.isInteger((r as { hard: unknown }).hard)),
  probeZerocopy: (r) => r === 0 || isErrno(r),
  uringProbe: (r) => r === 0 || isErrno(r),
  addressOwner: (r) => typeof r === 'string',
  uringReap: (r) => Number.isInteger(r) && (r as number) >= 0,
  uringBufferSlots: (r) => Number.isInteger(r) && (r as number) > 0,
  pageSize: (r) => Number.isInteger(r) && (r as number) >= 4096 && ((r as number) & ((r as number) - 1)) === 0,
};

/** What a refusal may be: a bad argument, or an entry point used before its start. */
function isRefusal(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (err instanceof TypeError) return code === 'ERR_INVALID_ARG_TYPE';
  if (err instanceof RangeError) return code === 'ERR_OUT_OF_RANGE';
  return err instanceof Error && (code === 'ERR_AIOTX_POLLER' || code === 'ERR_AIOTX_URING');
}

describe('native entry points', () => {
  for (const name of Object.keys(addon).filter((n) => !skip.has(n))) {
    it(`${name} refuses junk without crashing`, () => {
      const fn = (addon as unknown as Record<string, (...a: unknown[]) => unknown>)[name]!;
      const valid = answers[name] ?? isErrno;
      for (const args of junk) {
        const shown = `${name}(${args.map((a) => (typeof a === 'symbol' ? 'Symbol' : String(a))).join(', ')})`;
        let r: unknown;
        try {
          r = fn(...args);
        } catch (err) {
          assert.ok(isRefusal(err), `${shown} threw ${String(err)} (code ${String((err as { code?: unknown }).code)})`);
          continue;
        }
        assert.ok(valid(r), `${shown} returned ${typeof r === 'object' ? JSON.stringify(r) : String(r)}`);
      }
    });
  }

  it('close refuses junk without closing anything', () => {
    for (const args of [[], ['3'], [-1], [1.5], [null]]) {
      assert.throws(() => (addon.close as (...a: unknown[]) => number)(...args), (e: Error) => e instanceof TypeError || e instanceof RangeError);
    }
    assert.equal(addon.close(999999), -9, 'EBADF as -errno');
  });

  it('send refuses ranges outside the buffer with EFAULT', () => {
    assert.equal(addon.send(0, new Uint8Array(4), 3, 2, false), -14);
    assert.equal(addon.send(0, new Uint8Array(4), 5, 0, false), -14);
  });

  it('sendHeadAndFile refuses a bad head, offsets and state; bad fds and detached memory are -errno', () => {
    const state = new Int32Array(1);
    const call = (...a: unknown[]) => (addon.sendHeadAndFile as (...x: unknown[]) => number)(...a);
    for (const head of [null, undefined, 7, {}, [1, 2], Symbol('h')]) {
      assert.throws(() => call(999999, head, 0, 999999, 0, 10, state), { name: 'TypeError' }, String(typeof head));
    }
    assert.throws(() => call(999999, 'abc', 4, 999999, 0, 10, state), { name: 'RangeError' }, 'headOffset past the head');
    assert.throws(() => call(999999, new Uint8Array(2), 3, 999999, 0, 10, state), { name: 'RangeError' });
    assert.throws(() => call(999999, 'abc', -1, 999999, 0, 10, state), { name: 'RangeError' });
    assert.throws(() => call(999999, 'abc', 0, 999999, -1, 10, state), { name: 'RangeError' });
    assert.throws(() => call(999999, 'abc', 0, 999999, 0, 2 ** 53, state), { name: 'RangeError' });
    assert.throws(() => call(999999, 'abc', 0, 999999, 0, 10, new Int32Array(0)), { name: 'TypeError' });
    assert.throws(() => call(999999, 'abc', 0, 999999, 0, 10, new Uint32Array(1)), { name: 'TypeError' });
    assert.throws(() => call(999999, 'abc', 0, 999999, 0, 10), { name: 'TypeError' }, 'too few arguments');
    assert.equal(call(999999, 'abc', 0, 999999, 0, 10, state), -9, 'EBADF');
    assert.equal(call(999999, 'x'.repeat(100_000), 0, 999999, 0, 10, state), -9, 'a long head: EBADF too');
    assert.equal(call(999999, 'abc', 3, 999999, 0, 10, state), -9, 'head done: the sendfile part meets EBADF');
    const view = new Uint8Array(8);
    structuredClone(view.buffer, { transfer: [view.buffer] });
    assert.equal(call(999999, view, 0, 999999, 0, 10, state), -14, 'detached: EFAULT');
  });

  it('the io_uring entry points refuse bad tables, buffers and slots once the ring runs', { skip: startRing() < 0 ? 'io_uring unavailable' : false }, () => {
    const buf = Buffer.alloc(5);
    const entry = (fd: number, off: number, len: number, tag: number, slot: number, flags = 0) => new Float64Array([fd, off, len, tag, slot, flags]);
    assert.throws(() => addon.uringSubmit(new Float64Array(6), [], 1), { name: 'RangeError' });
    assert.throws(() => addon.uringSubmit(new Float64Array(5), [buf], 1), { name: 'RangeError' });
    assert.throws(() => addon.uringSubmit(entry(999999, 0, 1, 1, -1, 8), [buf], 1), { name: 'RangeError' }, 'unknown entry flag');
    assert.throws(() => addon.uringSubmit(entry(999999, 0, 1, 1, -1, 0.5), [buf], 1), { name: 'RangeError' });
    assert.throws(() => addon.uringSubmit(entry(999999, 0, 1, 1, -1, 1), [buf], 1), { name: 'RangeError' }, 'a chain may not end the table');
    assert.throws(() => addon.uringSubmit(entry(NaN, 0, 1, 1, -1), [buf], 1), { name: 'RangeError' });
    assert.throws(() => addon.uringSubmit(entry(999999, 0, 1, 2 ** 33, -1), [buf], 1), { name: 'RangeError' });
    assert.throws(() => addon.uringSubmit(entry(999999, 0, 1, 1, 99999), [buf], 1), { name: 'RangeError' });
    assert.throws(() => addon.uringSubmit(entry(999999, 0, 1, 1, -1), ['x' as never], 1), { name: 'TypeError' });
    assert.throws(() => addon.uringSubmit([1, 2] as never, [buf], 1), { name: 'TypeError' });
    assert.equal(addon.uringSubmit(entry(999999, 3, 5, 1, -1), [buf], 1), 0, 'past the buffer: not taken, nothing queued');
    assert.throws(() => addon.uringRegisterBuffers(new ArrayBuffer(10), 0, 100, 1), { name: 'RangeError' });
    assert.throws(() => addon.uringRegisterBuffers(new ArrayBuffer(10), 5000, 1, 1), { name: 'RangeError' });
    assert.throws(() => addon.uringUnregisterBuffers(1023, 5), { name: 'RangeError' });
  });
});
