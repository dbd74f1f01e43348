// Bad input from JavaScript: every case a TypeError/RangeError or a rejection naming the problem,
// never a crash or a hang.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { aioWrite, sendFile, zeroCopy } from '../src/index.js';
import { fdOf, tcpPair, type Pair } from './helpers/sockets.js';


describe('bad arguments', () => {
  let pair: Pair;
  let dir = '';
  let file = '';
  before(async () => {
    pair = await tcpPair();
    pair.server.resume();
    dir = mkdtempSync(join(tmpdir(), 'aiotx-args-'));
    file = join(dir, 'small.bin');
    writeFileSync(file, Buffer.alloc(1000, 7));
  });
  after(async () => {
    await pair.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('rejects targets that are not sockets', async () => {
    await assert.rejects(aioWrite('3' as never, Buffer.alloc(1)), { name: 'TypeError' });
    await assert.rejects(aioWrite({} as never, Buffer.alloc(1)), { name: 'TypeError' });
    await assert.rejects(aioWrite(-1, Buffer.alloc(1)), { name: 'RangeError' });
    await assert.rejects(aioWrite(1.5, Buffer.alloc(1)), { name: 'RangeError' });
    const fd = openSync(file, 'r');
    try {
      await assert.rejects(aioWrite(fd, Buffer.alloc(1)), { name: 'Error', code: 'ENOTSOCK', message: /is not a socket/ });
    } finally {
      closeSync(fd);
    }
  });

  it('rejects a closed fd with EBADF', async () => {
    const fd = openSync(file, 'r');
    closeSync(fd);
    await assert.rejects(aioWrite(fd, Buffer.alloc(1)), { code: 'EBADF' });
    await assert.rejects(sendFile(fd, file), { code: 'EBADF' });
  });

  it('rejects a listening socket and unconnected sockets', async () => {
    const listener = createServer().listen(0, '127.0.0.1');
    await once(listener, 'listening');
    await assert.rejects(aioWrite(fdOf(listener), Buffer.alloc(1)), { name: 'TypeError', message: /listening/ });
    listener.close();
    const udp = createSocket('udp4');
    udp.bind(0, '127.0.0.1');
    await once(udp, 'listening');
    await assert.rejects(aioWrite(udp, Buffer.alloc(1)), { code: 'ENOTCONN', message: /connect\(\) the datagram socket/ });
    udp.close();
    await assert.rejects(aioWrite(new Socket(), Buffer.alloc(1)), { name: 'TypeError', message: /file descriptor/ });
  });

  it('refuses a TLS socket: its bytes would bypass the encryption', async () => {
    const tlsSocket = new TLSSocket(new Socket());
    await assert.rejects(aioWrite(tlsSocket, Buffer.from('secret')), { name: 'TypeError', message: /TLS/ });
    tlsSocket.destroy();
  });

  it('rejects a destroyed net.Socket', async () => {
    const p = await tcpPair();
    p.client.destroy();
    await assert.rejects(aioWrite(p.client, Buffer.alloc(1)), { code: 'ERR_SOCKET_CLOSED' });
    await p.close();
  });

  it('rejects data that is not binary, and detached buffers', async () => {
    await assert.rejects(aioWrite(pair.client, 'text' as never), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    await assert.rejects(aioWrite(pair.client, [1, 2, 3] as never), { name: 'TypeError' });
    await assert.rejects(aioWrite(pair.client, null as never), { name: 'TypeError' });
    const ab = new ArrayBuffer(1024);
    const view = new Uint8Array(ab);
    structuredClone(ab, { transfer: [ab] });
    await assert.rejects(aioWrite(pair.client, ab), { code: 'ERR_INVALID_STATE', message: /detached/ });
    await assert.rejects(aioWrite(pair.client, view), { code: 'ERR_INVALID_STATE' });
  });

  it('accepts every ArrayBufferView kind and an ArrayBuffer', async () => {
    const ab = new ArrayBuffer(64);
    for (const data of [new Uint8Array(ab, 8, 16), new Float64Array(ab), new DataView(ab, 4, 10), ab, new Uint16Array(3)]) {
      assert.equal((await aioWrite(pair.client, data)).bytes, data.byteLength);
    }
  });

  it('rejects bad options', async () => {
    await assert.rejects(aioWrite(pair.client, Buffer.alloc(1), { zeroCopy: 'always' as never }), { name: 'RangeError' });
    await assert.rejects(aioWrite(pair.client, Buffer.alloc(1), { zeroCopy: 1 as never }), { name: 'TypeError' });
    await assert.rejects(aioWrite(pair.client, Buffer.alloc(1), null as never), { name: 'TypeError' });
    await assert.rejects(aioWrite(pair.client, Buffer.alloc(1), { signal: {} as never }), { name: 'TypeError', message: /AbortSignal/ });
    await assert.rejects(aioWrite(pair.client, Buffer.alloc(1), { signal: AbortSignal.abort() }), { name: 'AbortError' });
    await assert.rejects(aioWrite(pair.client, Buffer.alloc(1), { segmentSize: 1000 }), { code: 'ERR_INVALID_ARG_VALUE', message: /datagram/ });
    await assert.rejects(aioWrite(pair.client, Buffer.alloc(1), { segmentSize: 0 }), { name: 'RangeError' });
    await assert.rejects(aioWrite(pair.client, Buffer.alloc(1), { segmentSize: '9' as never }), { name: 'TypeError' });
  });

  it('rejects bad sendFile ranges and files', async () => {
    await assert.rejects(sendFile(pair.client, file, { offset: -1 }), { name: 'RangeError' });
    await assert.rejects(sendFile(pair.client, file, { length: 1.5 }), { name: 'RangeError' });
    await assert.rejects(sendFile(pair.client, file, { offset: '0' as never }), { name: 'TypeError' });
    await assert.rejects(sendFile(pair.client, file, { offset: 1001 }), { name: 'RangeError', message: /past the end/ });
    await assert.rejects(sendFile(pair.client, file, { offset: 10, length: 991 }), { name: 'RangeError', message: /past the end/ });
    await assert.rejects(sendFile(pair.client, join(dir, 'missing')), { code: 'ENOENT' });
    await assert.rejects(sendFile(pair.client, dir), { message: /regular file/ });
    await assert.rejects(sendFile(pair.client, ''), { name: 'TypeError' });
    await assert.rejects(sendFile(pair.client, { fd: 3 } as never), { name: 'TypeError' });
    // The socket is still fine after all of that.
    assert.equal((await sendFile(pair.client, file, { offset: 10, length: 990 })).bytes, 990);
  });

  it('rejects unknown zero-copy modes and interfaces', () => {
    assert.throws(() => zeroCopy.set('sometimes' as never), { name: 'RangeError' });
    assert.throws(() => zeroCopy.set('on', { interface: 'nosuch0' }), { name: 'RangeError', message: /nosuch0/ });
    assert.throws(() => zeroCopy.get({ interface: 42 as never }), { name: 'TypeError' });
    assert.throws(() => zeroCopy.setThreshold(-5), { name: 'RangeError' });
    assert.throws(() => zeroCopy.setThreshold('1' as never), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => zeroCopy.set('on', null as never), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => zeroCopy.get(null as never), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  });
});
