// Regression tests for defects a read and adversarial probes found in the engine (issue 9): each
// failed on the code before its fix.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import * as poller from '../src/engine/poller.js';
import { transmitterFor } from '../src/engine/registry.js';
import { stateError } from '../src/engine/errors.js';
import { Transmitter } from '../src/engine/transmitter.js';
import { aioWrite, createBufferPool, sendFile } from '../src/index.js';
import { closeAllPairs, connectedUdp, Expected, fdOf, nextDatagrams, randomBytes, receiveAll, tcpPair } from './helpers/sockets.js';

const indexUrl = new URL('../src/index.js', import.meta.url).href;
const dir = mkdtempSync(join(tmpdir(), 'aiotx-trust-'));
after(async () => {
  await closeAllPairs();
  rmSync(dir, { recursive: true, force: true });
});

const fdCount = () => readdirSync('/proc/self/fd').length;
const turn = () => new Promise((r) => setImmediate(r));

const udpPair = connectedUdp;
/** The sizes of the next `n` datagrams. */
const datagrams = async (got: Buffer[], n: number) => (await nextDatagrams(got, n)).map((b) => b.length);

/** Runs a module in a child node; resolves with its exit code, stdout and stderr. */
function runChild(source: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', source], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  child.stderr.on('data', (d: Buffer) => (err += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, out, err })));
}

describe('UDP_SEGMENT is left as aiotx found it (item 1)', () => {
  it('a raw fd: after a GSO job, plain jobs and the caller\'s own sends are single datagrams', async () => {
    const p = await udpPair();
    try {
      const fd = fdOf(p.tx);
      await aioWrite(fd, randomBytes(3000), { segmentSize: 1000 });
      assert.deepEqual(await datagrams(p.got, 3), [1000, 1000, 1000]);
      await turn(); // the raw fd's transmitter retires once idle
      await turn();
      await aioWrite(fd, randomBytes(3000));
      assert.deepEqual(await datagrams(p.got, 1), [3000], 'a later transmitter sends one job as one datagram');
      p.tx.send(randomBytes(3000));
      assert.deepEqual(await datagrams(p.got, 1), [3000], "the caller's own dgram.send() is not cut up");
    } finally {
      p.close();
    }
  });

  it('a dgram.Socket: its own sends are whole again once the GSO jobs settled', async () => {
    const p = await udpPair();
    try {
      await Promise.all([aioWrite(p.tx, randomBytes(2000), { segmentSize: 500 }), aioWrite(p.tx, randomBytes(1000), { segmentSize: 500 })]);
      assert.deepEqual(await datagrams(p.got, 6), [500, 500, 500, 500, 500, 500]);
      p.tx.send(randomBytes(2000));
      assert.deepEqual(await datagrams(p.got, 1), [2000]);
    } finally {
      p.close();
    }
  });
});

describe("the caller's fd flags are never changed (item 2)", () => {
  it('a blocking socket stays blocking through aioWrite and sendFile', { skip: pythonSkip() }, async () => {
    const file = join(dir, 'blocking-body');
    const body = randomBytes(3 << 20);
    writeFileSync(file, body);
    const head = randomBytes(1 << 20);
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const accepted = once(server, 'connection') as Promise<[Socket]>;
    // python3 connects a blocking socket and execs node with it, as a C program would hand one over.
    const child = spawn(
      'python3',
      [
        '-c',
        `import os, socket, sys
s = socket.create_connection(("127.0.0.1", ${(server.address() as { port: number }).port}))
s.setblocking(True)
os.set_inheritable(s.fileno(), True)
os.environ["FD"] = str(s.fileno())
os.execv(sys.argv[1], [sys.argv[1], "--input-type=module", "-e", sys.argv[2]])`,
        process.execPath,
        `import { readFileSync } from 'node:fs';
         import { aioWrite, sendFile } from ${JSON.stringify(indexUrl)};
         const fd = Number(process.env.FD);
         const flags = () => parseInt(/flags:\\s+([0-7]+)/.exec(readFileSync('/proc/self/fdinfo/' + fd, 'utf8'))[1], 8) & 0o4000;
         const before = flags();
         const head = Buffer.alloc(${head.length});
         for (let i = 0; i < head.length; i++) head[i] = (i * 7 + 3) & 0xff;
         await aioWrite(fd, head);
         await sendFile(fd, ${JSON.stringify(file)});
         console.log(JSON.stringify({ before, after: flags() }));`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    for (let i = 0; i < head.length; i++) head[i] = (i * 7 + 3) & 0xff;
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    const [sock] = await accepted;
    const received = receiveAll(sock);
    const [code] = await once(child, 'close');
    server.close();
    assert.equal(code, 0);
    assert.deepEqual(JSON.parse(out), { before: 0, after: 0 }, 'O_NONBLOCK was clear before and is clear after');
    assert.deepEqual(await received, new Expected(head, body).digest());
  });
});

function pythonSkip(): string | false {
  try {
    execFileSync('python3', ['-c', 'pass']);
    return false;
  } catch {
    return 'needs python3 to hand node a blocking socket';
  }
}

describe('sendFile holds its own file descriptor (item 4)', () => {
  it('closing the fd and reusing its number mid-job still sends the first file', async () => {
    const first = randomBytes(1 << 20);
    const second = randomBytes(1 << 20);
    writeFileSync(join(dir, 'first'), first);
    writeFileSync(join(dir, 'second'), second);
    const pair = await tcpPair();
    pair.server.pause();
    const big = randomBytes(32 << 20); // holds the queue: the file job cannot start yet
    const fd = openSync(join(dir, 'first'), 'r');
    const jobs = [aioWrite(pair.client, big), sendFile(pair.client, fd)];
    closeSync(fd);
    const reused = openSync(join(dir, 'second'), 'r');
    try {
      assert.equal(reused, fd, 'the kernel hands out the lowest free number: the same one');
      const received = receiveAll(pair.server);
      pair.server.resume();
      await Promise.all(jobs);
      pair.client.end();
      assert.deepEqual(await received, new Expected(big, first).digest());
    } finally {
      closeSync(reused);
      await pair.close();
    }
  });
});

describe('a refused pool claim leaves nothing behind (item 5)', () => {
  it('no duplicate fd stays open for a raw fd, and a connecting socket raises no unhandled rejection', async () => {
    // Larger than the socket buffers: the first job stays in flight while nobody reads.
    const pool = createBufferPool({ size: 16 << 20, count: 1 });
    const buf = pool.acquire()!;
    const pair = await tcpPair();
    const other = await tcpPair();
    pair.server.pause();
    const unhandled: unknown[] = [];
    const onUnhandled = (r: unknown) => unhandled.push(r);
    process.on('unhandledRejection', onUnhandled);
    const first = aioWrite(pair.client, buf); // in flight while nobody reads
    try {
      await turn();
      const fds = fdCount();
      await assert.rejects(aioWrite(fdOf(other.client), buf), { code: 'ERR_AIOTX_BUFFER_BUSY' });
      assert.equal(fdCount(), fds, 'no transmitter (dup fd) was adopted for the refused job');
      const listener = createServer().listen(0, '127.0.0.1');
      await once(listener, 'listening');
      const port = (listener.address() as { port: number }).port;
      listener.close();
      await once(listener, 'close');
      const doomed = connect(port, '127.0.0.1'); // refused: its connect fails after the claim
      doomed.on('error', () => {});
      await assert.rejects(aioWrite(doomed, buf), { code: 'ERR_AIOTX_BUFFER_BUSY' });
      await new Promise((r) => doomed.once('close', r));
      await turn();
      assert.deepEqual(unhandled, []);
    } finally {
      pair.server.resume();
      await first;
      process.off('unhandledRejection', onUnhandled);
      pool.release(buf);
      pool.close();
      await pair.close();
      await other.close();
    }
  });
});

describe('the poller dispatches only the events of this wakeup (item 6)', () => {
  it('a socket ready in an earlier wakeup is not told again', async () => {
    const a = await udpPair();
    const b = await udpPair();
    const calls = { a: 0, b: 0 };
    const fa = fdOf(a.tx);
    const fb = fdOf(b.tx);
    assert.equal(poller.watch(fa, { onReady: () => calls.a++ }), 0);
    assert.equal(poller.watch(fb, { onReady: () => calls.b++ }), 0);
    try {
      // Sending frees write memory at once on loopback: an EPOLLOUT edge for each socket.
      a.tx.send(Buffer.alloc(10));
      b.tx.send(Buffer.alloc(10));
      await datagrams(a.got, 1);
      await datagrams(b.got, 1);
      while (calls.a === 0 || calls.b === 0) await new Promise((r) => setTimeout(r, 1));
      const before = calls.b;
      for (let i = 0; i < 5; i++) {
        const seen = calls.a;
        a.tx.send(Buffer.alloc(10));
        await datagrams(a.got, 1);
        while (calls.a === seen) await new Promise((r) => setTimeout(r, 1));
      }
      assert.equal(calls.b, before, 'b had no new event while a had five');
    } finally {
      poller.unwatch(fa, { onReady() {} });
      poller.unwatch(fb, { onReady() {} });
      a.close();
      b.close();
    }
  });
});

describe('sendFile refuses what is not a regular file, before opening can block (item 9)', () => {
  it('a FIFO, /dev/zero, a directory and a socket path reject; the socket keeps working', async () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const sockPath = join(dir, 'unix.sock');
    const unixServer = createServer().listen(sockPath);
    await once(unixServer, 'listening');
    const pair = await tcpPair();
    const received = receiveAll(pair.server);
    try {
      for (const path of [fifo, '/dev/zero', dir, sockPath]) {
        await assert.rejects(sendFile(pair.client, path), { code: 'ERR_AIOTX_NOT_REGULAR_FILE' }, path);
      }
      const zero = openSync('/dev/zero', 'r');
      try {
        await assert.rejects(sendFile(pair.client, zero), { code: 'ERR_AIOTX_NOT_REGULAR_FILE' });
      } finally {
        closeSync(zero);
      }
      const tail = randomBytes(4096);
      await aioWrite(pair.client, tail);
      pair.client.end();
      assert.deepEqual(await received, new Expected(tail).digest());
    } finally {
      unixServer.close();
      await pair.close();
    }
  });
});

describe("a datagram socket's close listener is added once (item 12)", () => {
  it('re-adopting after its transmitter closed does not pile up listeners', async () => {
    const p = await udpPair();
    try {
      const base = p.tx.listenerCount('close');
      for (let i = 0; i < 20; i++) {
        await aioWrite(p.tx, Buffer.alloc(10));
        const t = transmitterFor(p.tx, 'test');
        assert.ok(t instanceof Transmitter);
        t.close(stateError('closed by the test', 'ERR_SOCKET_CLOSED'), false);
      }
      assert.ok(p.tx.listenerCount('close') <= base + 1, `close listeners: ${p.tx.listenerCount('close')}`);
      await datagrams(p.got, 20);
    } finally {
      p.close();
    }
  });
});

describe('a bad environment is one clear error at the call (item 16)', () => {
  for (const [name, value] of [
    ['AIOTX_ZEROCOPY', 'sometimes'],
    ['AIOTX_ZEROCOPY', 'eth0=maybe'],
    ['AIOTX_ZEROCOPY_THRESHOLD', 'lots'],
  ] as const) {
    it(`${name}=${value}: every aioWrite rejects ERR_AIOTX_BAD_ENVIRONMENT and the process lives on`, async () => {
      const r = await runChild(
        `import net from 'node:net';
         import { aioWrite } from ${JSON.stringify(indexUrl)};
         const srv = net.createServer((s) => s.resume()).listen(0, '127.0.0.1', async () => {
           const c = net.connect(srv.address().port, '127.0.0.1', async () => {
             const codes = [];
             for (let i = 0; i < 3; i++) await aioWrite(c, Buffer.alloc(1 << 20)).catch((e) => codes.push(e.code));
             await new Promise((r) => setTimeout(r, 20));
             console.log(JSON.stringify(codes));
             c.destroy();
             srv.close();
           });
         });`,
        { [name]: value },
      );
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(JSON.parse(r.out), ['ERR_AIOTX_BAD_ENVIRONMENT', 'ERR_AIOTX_BAD_ENVIRONMENT', 'ERR_AIOTX_BAD_ENVIRONMENT']);
    });
  }
});

describe('abort with one signal shared by several jobs (item 17)', () => {
  it('jobs not yet started are dropped, never sent; one listener per signal', async () => {
    const pair = await tcpPair();
    pair.server.pause();
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const ac = new AbortController();
      const first = randomBytes(32 << 20);
      const jobs = [aioWrite(pair.client, first, { signal: ac.signal })];
      for (let i = 0; i < 20; i++) jobs.push(aioWrite(pair.client, Buffer.alloc(4096, 0xee), { signal: ac.signal }));
      await turn();
      ac.abort();
      const results = await Promise.allSettled(jobs);
      for (const r of results) assert.equal(r.status === 'rejected' && (r.reason as { code?: string }).code, 'ABORT_ERR');
      const received = receiveAll(pair.server);
      pair.server.resume();
      pair.client.end();
      const got = await received;
      assert.ok(got.bytes < first.length, 'the started job was cut short');
      const prefix = createHash('sha256').update(first.subarray(0, got.bytes)).digest('hex');
      assert.equal(got.sha256, prefix, 'only a prefix of the started job arrived: none of the 0xee jobs');
      await turn();
      assert.deepEqual(warnings.filter((w) => w.name === 'MaxListenersExceededWarning'), []);
    } finally {
      process.off('warning', onWarning);
      await pair.close();
    }
  });
});

describe('end() right after aioWrite on a socket still connecting (item 18)', () => {
  it('the jobs go out before the FIN', async () => {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const accepted = once(server, 'connection') as Promise<[Socket]>;
    const client = connect((server.address() as { port: number }).port, '127.0.0.1');
    const a = randomBytes(3 << 20);
    const b = randomBytes(1000);
    const jobs = Promise.all([aioWrite(client, a), aioWrite(client, b)]);
    client.end();
    const [sock] = await accepted;
    const received = receiveAll(sock);
    await jobs;
    assert.deepEqual(await received, new Expected(a, b).digest());
    await assert.rejects(aioWrite(client, b), { code: 'ERR_STREAM_WRITE_AFTER_END' });
    client.destroy();
    server.close();
  });
});

describe('inputs that cannot be honoured are refused clearly (item 21)', () => {
  it('views over a SharedArrayBuffer, like the SharedArrayBuffer itself', async () => {
    const pair = await tcpPair();
    try {
      const sab = new SharedArrayBuffer(1024);
      await assert.rejects(aioWrite(pair.client, new Uint8Array(sab)), { name: 'TypeError', message: /SharedArrayBuffer/ });
      await assert.rejects(aioWrite(pair.client, sab as unknown as ArrayBuffer), { name: 'TypeError' });
    } finally {
      await pair.close();
    }
  });

  it('sendFile to a datagram socket', async () => {
    const p = await udpPair();
    const file = join(dir, 'small');
    writeFileSync(file, 'x');
    try {
      await assert.rejects(sendFile(p.tx, file), { code: 'ERR_INVALID_ARG_VALUE', message: /datagram/ });
      await assert.rejects(sendFile(fdOf(p.tx), file), { code: 'ERR_INVALID_ARG_VALUE', message: /datagram/ });
    } finally {
      p.close();
    }
  });
});
