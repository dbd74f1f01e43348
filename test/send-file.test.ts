// sendFile: byte-exact ranges from paths, fds and FileHandles, ordered with aioWrite jobs, and
// the thousands-of-jobs mix of zero-copy on/off and sendFile on one socket.
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sendOwnedFile } from '../src/api/send-file.js';
import { aioWrite, sendFile, type ZeroCopyMode } from '../src/index.js';
import { backendCases } from './helpers/backends.js';
import { endAndCompare, Expected, randomBytes, receiveAll, stillPending, tcpPair } from './helpers/sockets.js';

describe('sendFile', () => {
  let dir = '';
  let path = '';
  let content: Buffer;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'aiotx-'));
    path = join(dir, 'body.bin');
    content = randomBytes((24 << 20) + 12345);
    writeFileSync(path, content);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('sends a whole file by path, byte-exact', async () => {
    const pair = await tcpPair();
    const received = receiveAll(pair.server);
    const r = await sendFile(pair.client, path);
    assert.equal(r.bytes, content.length);
    assert.equal(r.copiedBytes, content.length);
    assert.equal(r.backend, 'copy');
    await endAndCompare(pair, received, new Expected(content));
  });

  it('honours offset and length, from an fd and a FileHandle', async () => {
    const pair = await tcpPair();
    const received = receiveAll(pair.server);
    const fd = openSync(path, 'r');
    const handle = await open(path, 'r');
    try {
      const a = await sendFile(pair.client, fd, { offset: 1000, length: 5 << 20 });
      const b = await sendFile(pair.client, handle, { offset: content.length - 777 });
      const c = await sendFile(pair.client, path, { offset: 3, length: 0 });
      assert.deepEqual([a.bytes, b.bytes, c.bytes], [5 << 20, 777, 0]);
    } finally {
      closeSync(fd);
      await handle.close();
    }
    await endAndCompare(pair, received, new Expected(content.subarray(1000, 1000 + (5 << 20)), content.subarray(content.length - 777)));
  });

  it('is ordered with aioWrite: header, body, trailer', async () => {
    const pair = await tcpPair();
    const received = receiveAll(pair.server);
    const header = Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: ...\r\n\r\n');
    const trailer = randomBytes(100_000);
    const jobs = [aioWrite(pair.client, header), sendFile(pair.client, path), aioWrite(pair.client, trailer, { zeroCopy: 'on' })];
    await Promise.all(jobs);
    await endAndCompare(pair, received, new Expected(header, content, trailer));
  });

  it('stays pending while the receiver stops reading, then completes', async () => {
    const pair = await tcpPair();
    pair.server.pause();
    const job = sendFile(pair.client, path);
    assert.equal(await stillPending(job, pair), true);
    const received = receiveAll(pair.server);
    pair.server.resume();
    assert.equal((await job).bytes, content.length);
    pair.client.end();
    assert.equal((await received).bytes, content.length);
    await pair.close();
  });

  it('rejects with EPIPE or ECONNRESET when the peer resets', async () => {
    const pair = await tcpPair();
    pair.server.pause();
    const job = sendFile(pair.client, path);
    await stillPending(job, pair);
    pair.server.resetAndDestroy();
    await assert.rejects(job, (err: NodeJS.ErrnoException) => ['ECONNRESET', 'EPIPE'].includes(err.code ?? ''));
    await pair.close();
  });

  it('rejects when the file shrinks under a pending job', async () => {
    const shrinking = join(dir, 'shrinking.bin');
    writeFileSync(shrinking, content);
    const pair = await tcpPair();
    pair.server.pause();
    const job = sendFile(pair.client, shrinking);
    await stillPending(job, pair);
    truncateSync(shrinking, 12 << 20);
    pair.server.resume();
    await assert.rejects(job, { code: 'ERR_AIOTX_FILE_TRUNCATED' });
    await pair.close();
  });

  it('sends a head (latin1 string or bytes) and the file range in one job, in order with the jobs around it', async () => {
    const pair = await tcpPair();
    const received = receiveAll(pair.server);
    const fd = openSync(path, 'r');
    try {
      // Node serializes headers as latin1: a char above 0xFF goes out as its low byte.
      const text = 'HTTP/1.1 200 OK\r\nX-Name: caf\u00e9 \u0141\r\ncontent-length: 5000\r\n\r\n';
      const bytes = randomBytes(333);
      const before = aioWrite(pair.client, Buffer.from('before'));
      const a = sendOwnedFile(pair.client, fd, content.length, { offset: 7, length: 5000 }, text);
      const b = sendOwnedFile(pair.client, fd, content.length, { offset: content.length - (3 << 20) }, bytes);
      const c = sendOwnedFile(pair.client, fd, content.length, {}, '');
      const results = await Promise.all([before, a, b, c]);
      assert.deepEqual(results.slice(1).map((r) => r.bytes), [text.length + 5000, bytes.length + (3 << 20), content.length], 'bytes count the head');
      await assert.rejects(sendOwnedFile(pair.client, fd, content.length, { offset: content.length, length: 1 }, 'x'), { code: 'ERR_OUT_OF_RANGE' });
      await endAndCompare(pair, received, new Expected(Buffer.from('before'), Buffer.from(text, 'latin1'), content.subarray(7, 5007), bytes, content.subarray(content.length - (3 << 20)), content));
    } finally {
      closeSync(fd);
    }
  });

  it('resumes a head the socket took only part of (the receiver stopped reading), byte-exact', async () => {
    const pair = await tcpPair();
    pair.server.pause();
    const fd = openSync(path, 'r');
    try {
      // A head far larger than the socket buffers (and than the addon's stack copy) cannot go in one send.
      const head = 'H'.repeat(3 << 20) + '\u00ff'.repeat(12345) + '\r\n\r\n';
      const job = sendOwnedFile(pair.client, fd, content.length, { offset: 1, length: 1 << 20 }, head);
      assert.equal(await stillPending(job, pair), true);
      const received = receiveAll(pair.server);
      pair.server.resume();
      assert.equal((await job).bytes, head.length + (1 << 20));
      await endAndCompare(pair, received, new Expected(Buffer.from(head, 'latin1'), content.subarray(1, 1 + (1 << 20))));
    } finally {
      closeSync(fd);
    }
  });

  it('a head job whose file shrank sends the head, then rejects as truncated', async () => {
    const shrinking = join(dir, 'shrinking-head.bin');
    writeFileSync(shrinking, content.subarray(0, 1 << 20));
    const fd = openSync(shrinking, 'r');
    const pair = await tcpPair();
    try {
      truncateSync(shrinking, 0);
      await assert.rejects(sendOwnedFile(pair.client, fd, 1 << 20, {}, 'HEAD\r\n'), { code: 'ERR_AIOTX_FILE_TRUNCATED' });
    } finally {
      closeSync(fd);
      await pair.close();
    }
  });

  const usable = backendCases.filter((c) => c.skip === false).map((c) => c.zeroCopy);
  it(`mixes ${usable.map((m) => `zeroCopy '${m}'`).join(', ')} and sendFile across thousands of jobs on one socket`, async () => {
    const pair = await tcpPair();
    const received = receiveAll(pair.server);
    const expected = new Expected();
    const jobs: Promise<unknown>[] = [];
    const modes: ZeroCopyMode[] = [...usable, 'auto'];
    for (let i = 0; i < 3000; i++) {
      if (i % 10 === 0) {
        const offset = Math.floor(Math.random() * content.length);
        const length = Math.floor(Math.random() * Math.min(content.length - offset, 3 << 20));
        expected.add(content.subarray(offset, offset + length));
        jobs.push(sendFile(pair.client, path, { offset, length }).then((r) => assert.equal(r.bytes, length)));
      } else {
        const data = randomBytes(Math.random() < 0.9 ? Math.floor(Math.random() * 70000) : Math.floor(Math.random() * (4 << 20)));
        expected.add(data);
        jobs.push(aioWrite(pair.client, data, { zeroCopy: modes[i % modes.length]! }).then((r) => assert.equal(r.bytes, data.length)));
      }
    }
    await Promise.all(jobs);
    await endAndCompare(pair, received, expected);
  });
});
