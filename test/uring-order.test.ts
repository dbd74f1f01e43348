// Jobs on one socket settle in call order on the uring backend, whatever order the kernel posts
// the notifications in. Stacked notifications (a SEND_ZC appended to an earlier send's tail skb
// is linked into that send's notification) complete head first, then the linked sends newest
// first, so with one job per send a later job's release can come before an earlier one's. A job
// must also not settle before an earlier one when it never waited for a notification of its own:
// a copy job, a sendFile or a batch queued behind a zero-copy job the kernel still holds.
//
// The kernel's order is made deterministic by standing between the ring and the engine: every
// completion is real, only the order (and the moment) the engine learns of a notification is
// chosen by the test. The first two tests failed before the backend handed releases to jobs in
// send order; the others failed before the transmitter held a job's settlement behind earlier
// jobs. test/uring-notif-accounting.test.ts checks the same on the kernel's own stacking order.
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, beforeEach, describe, it } from 'node:test';
import { addon } from '../src/native/addon.js';
import { CQE_F_MORE, CQE_F_NOTIF } from '../src/engine/uring-ring.js';
import { aioWrite, sendFile } from '../src/index.js';
import { useBackend } from './helpers/backends.js';
import { closeAllPairs, Expected, receiveAll, tcpPair, type Pair } from './helpers/sockets.js';

const { skip } = useBackend('uring');
after(closeAllPairs);

type Cqe = [tag: number, res: number, flags: number];
const realStart = addon.uringStart.bind(addon);
const realReap = addon.uringReap.bind(addon);
let completions: Int32Array | null = null;
let deliver: ((count: number) => void) | null = null;

/** Send CQEs with F_MORE so far, in the order the kernel posted them (a chain's are in order). */
let sends = 0;
/** A notification's send, by its tag: the index of that send CQE (tags are reused after it). */
const sendOf = new Map<number, number>();
/** Sends the kernel posted the notification of, by their index. */
const kernelNotified = new Set<number>();
/** Notifications the kernel posted that the engine has not been told of yet. */
let held: Cqe[] = [];
/** Chooses, from `held`, the notifications the engine hears of now, in this order. */
let choose: (held: Cqe[]) => Cqe[] = (h) => h;

beforeEach(() => {
  sends = 0;
  sendOf.clear();
  kernelNotified.clear();
  held = [];
  choose = (h) => h;
});

/** Keeps the engine's view of the `n` ints the kernel just wrote: notifications as `choose` says. */
function filter(n: number): number {
  const c = completions!;
  const out: Cqe[] = [];
  for (let i = 0; i < n; i += 3) {
    const cqe: Cqe = [c[i]!, c[i + 1]!, c[i + 2]!];
    if (cqe[2] & CQE_F_NOTIF) {
      kernelNotified.add(sendOf.get(cqe[0])!);
      held.push(cqe);
    } else {
      if (cqe[2] & CQE_F_MORE) sendOf.set(cqe[0], sends++);
      out.push(cqe);
    }
  }
  const chosen = choose(held);
  held = held.filter((h) => !chosen.includes(h));
  out.push(...chosen);
  assert.ok(out.length * 3 <= c.length, 'the completions fit the array');
  out.forEach((cqe, i) => c.set(cqe, i * 3));
  return out.length * 3;
}

const hooks = addon as unknown as { uringStart: typeof addon.uringStart; uringReap: typeof addon.uringReap };
hooks.uringStart = (onCompletions) => {
  const r = realStart((n) => onCompletions(filter(n)));
  if (typeof r !== 'number') {
    completions = r;
    deliver = onCompletions;
  }
  return r;
};
hooks.uringReap = () => {
  const n = realReap();
  return n > 0 ? filter(n) : n;
};

/** Tells the engine what `choose` now lets through, as if the ring's eventfd had fired. */
function letThrough(): void {
  const n = filter(0);
  if (n > 0) deliver!(n);
}

const SIZE = 64 << 10;
const chunks = (n: number, from = 1) => Array.from({ length: n }, (_, i) => Buffer.alloc(SIZE, from + i));
const turn = () => new Promise((r) => setTimeout(r, 2));

/** Waits until the kernel posted a notification for each of the first `n` sends. */
async function notified(n: number): Promise<void> {
  for (;;) {
    let all = sends >= n;
    for (let s = 0; all && s < n; s++) all = kernelNotified.has(s);
    if (all) return;
    await turn();
  }
}

/** Counts what `socket`'s peer read. */
function counting(pair: Pair): { bytes: number } {
  const seen = { bytes: 0 };
  pair.server.on('data', (d: Buffer) => (seen.bytes += d.length));
  return seen;
}

/** Records each promise's settlement as `i resolved` / `i rejected CODE`, in the order they came. */
function record(jobs: Promise<unknown>[]): { outcomes: string[]; all: Promise<unknown> } {
  const outcomes: string[] = [];
  const all = Promise.all(
    jobs.map((p, i) =>
      p.then(
        () => outcomes.push(`${i} resolved`),
        (e: NodeJS.ErrnoException) => outcomes.push(`${i} rejected ${String(e.code)}`),
      ),
    ),
  );
  return { outcomes, all };
}

describe('uring: notifications out of send order', { skip }, () => {
  it('jobs settle in call order when the kernel notifies the sends newest first', async () => {
    const pair = await tcpPair();
    const got = receiveAll(pair.server);
    const buffers = chunks(4);
    // Held back until the kernel notified every send, then told newest first (as a stacked chain's linked sends).
    choose = (h) => (sends >= buffers.length && h.length === sends ? [...h].sort((a, b) => sendOf.get(b[0])! - sendOf.get(a[0])!) : []);
    const { outcomes, all } = record(buffers.map((b) => aioWrite(pair.client, b, { zeroCopy: 'on' })));
    await all;
    assert.equal(sends, buffers.length, 'one zero-copy send per job');
    assert.deepEqual(outcomes, ['0 resolved', '1 resolved', '2 resolved', '3 resolved'], 'jobs settled in call order');
    pair.client.end();
    assert.deepEqual(await got, new Expected(...buffers).digest());
    await pair.close();
  });

  it('a job rejected by the connection failing is not overtaken by a later job resolving', async () => {
    const pair = await tcpPair();
    const seen = counting(pair);
    const buffers = chunks(3);
    let released = false;
    // The first send's notification is held until the socket closed; the later ones are told at once.
    choose = (h) => (h.filter(([tag]) => released || sendOf.get(tag) !== 0));
    const closed = new Promise((resolve) => pair.client.once('close', resolve));
    const { outcomes, all } = record(buffers.map((b) => aioWrite(pair.client, b, { zeroCopy: 'on' })));
    await notified(3);
    while (seen.bytes < 3 * SIZE) await turn();
    assert.deepEqual(held.map(([tag]) => sendOf.get(tag)), [0], 'the later sends were released and the engine told');
    assert.deepEqual(outcomes, [], 'the first job is held, so none settled yet');
    pair.server.resetAndDestroy();
    await closed;
    released = true;
    letThrough();
    await all;
    assert.equal(outcomes.length, 3);
    outcomes.forEach((o, i) => assert.match(o, new RegExp(`^${i} rejected (ECONNRESET|ERR_SOCKET_CLOSED)$`), `job ${i} settled in order, rejected`));
    await pair.close();
  });
});

describe('uring: jobs that need no notification wait for the zero-copy jobs before them', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'aiotx-uring-order-'));
  const path = join(dir, 'body.bin');
  const content = Buffer.alloc(3 * SIZE + 7, 0x5a);
  writeFileSync(path, content);
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Job 0 is zero-copy and its notification is held until `release()`; `later` queues the rest. */
  async function behindHeld(later: (pair: Pair) => Promise<unknown>[], laterBytes: number) {
    const pair = await tcpPair();
    const seen = counting(pair);
    let released = false;
    choose = (h) => (h.filter(() => released));
    const first = chunks(1)[0]!;
    const { outcomes, all } = record([aioWrite(pair.client, first, { zeroCopy: 'on' }), ...later(pair)]);
    await notified(1);
    // Every later byte reached the peer: a copy or sendfile job is done but for the order.
    while (seen.bytes < SIZE + laterBytes) await turn();
    await turn();
    const release = () => {
      released = true;
      letThrough();
    };
    return { pair, outcomes, all, release };
  }

  it('a copy job queued behind a zero-copy job settles after it', async () => {
    const { pair, outcomes, all, release } = await behindHeld((p) => [aioWrite(p.client, chunks(1, 9)[0]!, { zeroCopy: 'off' })], SIZE);
    assert.deepEqual(outcomes, [], 'the copy job went out but waits for the zero-copy job before it');
    release();
    await all;
    assert.deepEqual(outcomes, ['0 resolved', '1 resolved']);
    await pair.close();
  });

  it('after a peer reset, a copy job behind the zero-copy job that failed rejects too', async () => {
    const { pair, outcomes, all, release } = await behindHeld((p) => [aioWrite(p.client, chunks(1, 9)[0]!, { zeroCopy: 'off' })], SIZE);
    assert.deepEqual(outcomes, []);
    const closed = new Promise((resolve) => pair.client.once('close', resolve));
    pair.server.resetAndDestroy();
    await closed;
    release();
    await all;
    assert.equal(outcomes.length, 2);
    outcomes.forEach((o, i) => assert.match(o, new RegExp(`^${i} rejected (ECONNRESET|ERR_SOCKET_CLOSED)$`), `job ${i} settled in order, rejected`));
    await pair.close();
  });

  it('a sendFile queued behind a zero-copy job settles after it', async () => {
    const { pair, outcomes, all, release } = await behindHeld((p) => [sendFile(p.client, path)], content.length);
    assert.deepEqual(outcomes, [], 'the file went out but its job waits for the zero-copy job before it');
    release();
    await all;
    assert.deepEqual(outcomes, ['0 resolved', '1 resolved']);
    await pair.close();
  });

  it('a batch of copy buffers, and a copy job after it, settle after the zero-copy job before them', async () => {
    const batch = chunks(3, 20);
    const { pair, outcomes, all, release } = await behindHeld(
      (p) => [aioWrite(p.client, batch, { zeroCopy: 'off' }), aioWrite(p.client, chunks(1, 30)[0]!, { zeroCopy: 'off' })],
      4 * SIZE,
    );
    assert.deepEqual(outcomes, []);
    release();
    await all;
    assert.deepEqual(outcomes, ['0 resolved', '1 resolved', '2 resolved']);
    await pair.close();
  });

  it('a copy job behind a zero-copy batch waits for every buffer of it', async () => {
    const pair = await tcpPair();
    const got = receiveAll(pair.server);
    const seen = counting(pair);
    const zc = chunks(3, 40);
    const copy = chunks(1, 50)[0]!;
    let released = false;
    // The batch's last send is held: the batch, and the copy job after it, wait for it.
    choose = (h) => (h.filter(([tag]) => released || sendOf.get(tag) !== 2));
    const { outcomes, all } = record([aioWrite(pair.client, zc, { zeroCopy: 'on' }), aioWrite(pair.client, copy, { zeroCopy: 'off' })]);
    await notified(3);
    while (seen.bytes < 4 * SIZE) await turn();
    await turn();
    assert.deepEqual(outcomes, []);
    released = true;
    letThrough();
    await all;
    assert.deepEqual(outcomes, ['0 resolved', '1 resolved']);
    pair.client.end();
    assert.deepEqual(await got, new Expected(...zc, copy).digest());
    await pair.close();
  });
});
