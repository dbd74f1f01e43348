// sendFile: byte-exact ranges from paths, fds and FileHandles, ordered with aioWrite jobs, and
// the thousands-of-jobs mix of zero-copy on/off and sendFile on one socket.
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
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
