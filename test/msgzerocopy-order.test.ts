// MSG_ZEROCOPY notifications can come out of id order (a peer reset purges the write queue and
// notifies those sends at once, while an earlier send's skb is still referenced and notified
// later). Jobs must still settle in call order, and a job the connection's failure rejected must
// not be overtaken by a later job resolving. The kernel's order is made deterministic here by
// standing between the backend and its error queue: every notification is real, only the order
// (and the moment) the backend learns of it is chosen by the test. Both tests failed before
// the backend delivered releases in id order. The last describe holds a job that needs no
// notification (copy, sendFile, a copy batch) behind a zero-copy job the kernel still holds: it
// failed before the transmitter held a job's settlement until every earlier job had settled (the
// copy job resolved, and the zero-copy job before it then rejected).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, beforeEach, describe, it } from 'node:test';
import { addon } from '../src/native/addon.js';
import { aioWrite, sendFile } from '../src/index.js';
import { useBackend } from './helpers/backends.js';
import { closeAllPairs, receiveAll, tcpPair, type Pair } from './helpers/sockets.js';

const { skip } = useBackend('msgzerocopy');
after(closeAllPairs);

type Data = ArrayBufferView | ArrayBuffer;
const realSend = addon.send.bind(addon);
const realDrain = addon.drainZerocopy.bind(addon);

/** The buffer each notification id's send came from, in id order (one socket per test). */
let issued: Data[] = [];
let sentBytes = 0;
/** Ids the kernel has notified so far. */
let notified = 0;
/** Ids the kernel notified that the backend has not been told of yet: id -> COPIED. */
const arrived = new Map<number, boolean>();
/** Ids to tell the backend next, in this order. */
let ready: [id: number, copied: boolean][] = [];
/** Chooses, from `arrived`, which ids the backend hears of now and in what order. */
let choose: () => number[] = () => [...arrived.keys()];

beforeEach(() => {
  issued = [];
  sentBytes = 0;
  notified = 0;
  arrived.clear();
  ready = [];
});

const hooks = addon as unknown as { send: typeof addon.send; drainZerocopy: typeof addon.drainZerocopy };
hooks.send = (fd, data, offset, length, zerocopy) => {
  const n = realSend(fd, data, offset, length, zerocopy);
  if (zerocopy && n > 0) {
    issued.push(data);
    sentBytes += n;
  }
  return n;
};
hooks.drainZerocopy = (fd, out) => {
  const scratch = new Uint32Array(out.length);
  for (;;) {
    const count = realDrain(fd, scratch);
    if (count < 0) return count;
    for (let i = 0; i < count; i++) {
      for (let id = scratch[i * 3]!; id <= scratch[i * 3 + 1]!; id++) {
        arrived.set(id, scratch[i * 3 + 2] === 1);
        notified++;
      }
    }
    if (count < out.length / 3) break;
  }
  for (const id of choose()) {
    ready.push([id, arrived.get(id)!]);
    arrived.delete(id);
  }
  // One id per record, as the kernel reports a range it could not coalesce.
  const n = Math.min(ready.length, out.length / 3);
  for (let i = 0; i < n; i++) {
    const [id, copied] = ready.shift()!;
    out.set([id, id, copied ? 1 : 0], i * 3);
  }
  return n;
};

const SIZE = 64 << 10;
const chunks = (n: number) => Array.from({ length: n }, (_, i) => Buffer.alloc(SIZE, i + 1));

/** Waits until every byte went out and the kernel notified every send (the backend unaware). */
async function allNotified(total: number): Promise<void> {
  while (sentBytes < total || notified < issued.length) await new Promise((r) => setTimeout(r, 2));
}

describe('msgzerocopy: notifications out of id order', { skip }, () => {
  it('jobs settle in call order when the kernel notifies the last send first', async () => {
    const pair = await tcpPair();
    const got = receiveAll(pair.server);
    const buffers = chunks(3);
    // Held back until the kernel notified every send, then told newest first.
    choose = () => (sentBytes === 3 * SIZE && notified === issued.length ? [...arrived.keys()].sort((a, b) => b - a) : []);
    const order: number[] = [];
    const jobs = buffers.map((b, i) => aioWrite(pair.client, b, { zeroCopy: 'on' }).then((r) => (order.push(i), r)));
    const results = await Promise.all(jobs);
    assert.deepEqual(order, [0, 1, 2], 'jobs settled in call order');
    for (const r of results) assert.equal(r.bytes, SIZE);
    assert.ok(issued.length >= 3, 'each job took at least one zero-copy send');
    pair.client.end();
    const rx = await got;
    assert.equal(rx.bytes, 3 * SIZE);
    await pair.close();
  });

  it('a job rejected by the connection failing is not overtaken by a later job resolving', async () => {
    const pair = await tcpPair();
    pair.server.on('data', () => {});
    const buffers = chunks(3);
    let released = false;
    // The first job's sends stay unreleased until the socket closed; the later jobs' are told at once.
    choose = () => [...arrived.keys()].filter((id) => released || issued[id] !== buffers[0]);
    const closed = new Promise((resolve) => pair.client.once('close', () => resolve((released = true))));
    const outcomes: string[] = [];
    const jobs = buffers.map((b, i) =>
      aioWrite(pair.client, b, { zeroCopy: 'on' }).then(
        () => outcomes.push(`${i} resolved`),
        (e: NodeJS.ErrnoException) => outcomes.push(`${i} rejected ${String(e.code)}`),
      ),
    );
    await allNotified(3 * SIZE);
    assert.ok(issued.includes(buffers[0]) && issued.includes(buffers[2]), 'the jobs went out as zero-copy sends');
    assert.deepEqual(outcomes, [], 'the first job is held, so none settled yet');
    pair.server.resetAndDestroy();
    await closed;
    await Promise.all(jobs);
    assert.equal(outcomes.length, 3);
    outcomes.forEach((o, i) => assert.match(o, new RegExp(`^${i} rejected (ECONNRESET|ERR_SOCKET_CLOSED)$`), `job ${i} settled in order, rejected`));
    await pair.close();
  });
});

describe('msgzerocopy: a job that needs no notification behind a zero-copy job the kernel holds', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'aiotx-mzc-order-'));
  const path = join(dir, 'body.bin');
  writeFileSync(path, Buffer.alloc(2 * SIZE + 3, 0x33));
  after(() => rmSync(dir, { recursive: true, force: true }));

  const cases: [string, number, (pair: Pair) => Promise<unknown>[]][] = [
    ['a copy job', SIZE, (p) => [aioWrite(p.client, chunks(1)[0]!, { zeroCopy: 'off' })]],
    ['a sendFile', 2 * SIZE + 3, (p) => [sendFile(p.client, path)]],
    ['a copy batch, and a copy job after it', 3 * SIZE, (p) => [aioWrite(p.client, chunks(2), { zeroCopy: 'off' }), aioWrite(p.client, chunks(1)[0]!, { zeroCopy: 'off' })]],
  ];
  for (const [what, bytes, later] of cases) {
    it(`${what}: does not settle before it, and rejects after it when the peer resets`, async () => {
      const pair = await tcpPair();
      let read = 0;
      pair.server.on('data', (d: Buffer) => (read += d.length));
      const first = chunks(1)[0]!;
      let released = false;
      // The zero-copy job's sends stay unreleased until the socket closed.
      choose = () => [...arrived.keys()].filter((id) => released || issued[id] !== first);
      const closed = new Promise((resolve) => pair.client.once('close', () => resolve((released = true))));
      const outcomes: string[] = [];
      const jobs = [aioWrite(pair.client, first, { zeroCopy: 'on' }), ...later(pair)].map((p, i) =>
        p.then(
          () => outcomes.push(`${i} resolved`),
          (e: NodeJS.ErrnoException) => outcomes.push(`${i} rejected ${String(e.code)}`),
        ),
      );
      await allNotified(SIZE);
      // Every later byte reached the peer: those jobs are done but for the order.
      while (read < SIZE + bytes) await new Promise((r) => setTimeout(r, 2));
      await new Promise((r) => setTimeout(r, 2));
      assert.ok(issued.includes(first), 'the first job went out as a zero-copy send');
      assert.deepEqual(outcomes, [], 'the zero-copy job is held, so none settled yet');
      pair.server.resetAndDestroy();
      await closed;
      await Promise.all(jobs);
      assert.equal(outcomes.length, jobs.length);
      outcomes.forEach((o, i) => assert.match(o, new RegExp(`^${i} rejected (ECONNRESET|ERR_SOCKET_CLOSED)$`), `job ${i} settled in order, rejected`));
      await pair.close();
    });
  }
});
