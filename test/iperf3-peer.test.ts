// aiotx bench against a stock iperf3 server (--peer iperf3), through iperf3's control protocol:
// every method against Debian's iperf3 -s on loopback, and a fake server that breaks the protocol
// in each way that must end in a clear error, never a hang or a crash.
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Iperf3Test, MAX_RESULTS_BYTES, parseServerResults, STATE, streamId } from 'aiotx-bench/internal/bench/iperf3-peer.js';
import type { CellResult } from 'aiotx-bench/internal/bench/run-bench.js';

const bin = fileURLToPath(new URL('../../bin/aiotx.js', import.meta.url));
const haveIperf3 = spawnSync('sh', ['-c', 'command -v iperf3']).status === 0;
const cleanups: (() => void)[] = [];
// Each test's fake servers and their connections go with it (the leak check runs after the file).
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function bench(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, 'bench', ...args], { encoding: 'utf8', timeout: 120_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function freePort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

test('every method against a stock iperf3 -s, the receiver column from its own results', { skip: haveIperf3 ? false : 'iperf3 not installed (apt-get install iperf3)' }, async () => {
  const port = await freePort();
  const server = spawn('iperf3', ['-s', '--forceflush', '-B', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  cleanups.push(() => server.kill('SIGKILL'));
  let seen = '';
  server.stdout.setEncoding('utf8');
  await new Promise<void>((resolve) => server.stdout.on('data', (c: string) => /Server listening/.test((seen += c)) && resolve()));
  const r = await bench('--host', `127.0.0.1:${port}`, '--peer', 'iperf3', '--method', 'write,aio-copy,aio-zc,sendfile,reference',
    '--sizes', '64K', '--duration', '0.3', '--repeat', '2', '--streams', '2', '--json');
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as { note: string; results: CellResult[] };
  assert.match(report.note, /^peer iperf3 -s/);
  for (const c of report.results) {
    if (c.status === 'unavailable' && c.method.startsWith('aio-zc-')) continue;
    assert.equal(c.status, 'ok', `${c.method}: ${c.reason}`);
    assert.ok(c.bytes > 0, `${c.method} sent bytes`);
    assert.ok(Number.isFinite(c.receiverPercent) && c.receiverPercent > 0, `${c.method}: iperf3's CPU figure (${c.receiverPercent})`);
  }
  server.kill('SIGKILL');
});

/** A fake iperf3 server: the first `scripted` connections are control ones, scripted; the rest are drained. */
async function fakeServer(script: (control: Socket, read: (n: number) => Promise<Buffer>) => Promise<void>, scripted = 1): Promise<{ port: number; server: Server }> {
  let left = scripted;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    if (left === 0) return void socket.resume();
    left--;
    let buffered = Buffer.alloc(0);
    let wake = () => {};
    socket.on('data', (c: Buffer) => {
      buffered = Buffer.concat([buffered, c]);
      wake();
    });
    const read = async (n: number) => {
      while (buffered.length < n) await new Promise<void>((r) => (wake = r));
      const out = buffered.subarray(0, n);
      buffered = buffered.subarray(n);
      return out;
    };
    script(socket, read).catch(() => socket.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => {
    server.close();
    for (const s of sockets) s.destroy();
  });
  return { port: (server.address() as AddressInfo).port, server };
}

const state = (s: number) => Buffer.from([s & 0xff]);
async function readJson(read: (n: number) => Promise<Buffer>): Promise<unknown> {
  const n = (await read(4)).readUInt32BE(0);
  return JSON.parse((await read(n)).toString());
}
const params = { size: 65536, streams: 1, durationSeconds: 1 };

test('a peer that sends the wrong state, an error state or nothing: a clear error', async () => {
  const wrong = await fakeServer(async (c, read) => {
    assert.equal((await read(37)).at(-1), 0, 'the cookie ends with its NUL');
    c.write(state(STATE.PARAM_EXCHANGE));
    const p = (await readJson(read)) as { parallel: number; len: number; tcp: boolean };
    assert.deepEqual([p.parallel, p.len, p.tcp], [1, 65536, true]);
    c.write(state(99));
  });
  await assert.rejects(Iperf3Test.open('127.0.0.1', wrong.port, params), /sent state 99 \(unknown\) where CREATE_STREAMS belongs/);

  const failing = await fakeServer(async (c, read) => {
    await read(37);
    c.write(Buffer.concat([state(STATE.SERVER_ERROR), Buffer.from([0, 0, 0, 118, 0, 0, 0, 0])]));
  });
  await assert.rejects(Iperf3Test.open('127.0.0.1', failing.port, params), /server error \(iperf3 i_errno 118, errno 0\)/);

  // A server still ending its previous test resets the next control connection before answering:
  // the client connects again (here the second connection then sends a wrong state).
  let connections = 0;
  const resetting = await fakeServer(async (c, read) => {
    await read(37);
    if (++connections === 1) return void c.resetAndDestroy();
    c.write(state(STATE.PARAM_EXCHANGE));
    await readJson(read);
    c.write(state(99));
  }, 2);
  await assert.rejects(Iperf3Test.open('127.0.0.1', resetting.port, params), /sent state 99 \(unknown\) where CREATE_STREAMS belongs/);
  assert.equal(connections, 2, 'reset before any answer: connected again');

  const closing = await fakeServer(async (c, read) => {
    await read(37);
    c.end();
  });
  await assert.rejects(Iperf3Test.open('127.0.0.1', closing.port, params), /closed the control connection while waiting for PARAM_EXCHANGE/);

  const silent = await fakeServer(async () => {});
  await assert.rejects(Iperf3Test.open('127.0.0.1', silent.port, params), /no PARAM_EXCHANGE within 10 s/);
});

test('server results: capped length, checked fields, stream ids as iperf3 numbers them', async () => {
  assert.deepEqual([0, 1, 2, 3].map(streamId), [1, 3, 4, 5]);
  const ok = parseServerResults('{"cpu_util_total":12.5,"streams":[{"id":3,"bytes":20},{"id":1,"bytes":10}]}', 2, 'x');
  assert.deepEqual(ok, { cpuPercent: 12.5, streamBytes: [10, 20] });
  for (const [text, why] of [
    ['nope', /not JSON/],
    ['{"streams":[]}', /without cpu_util_total/],
    ['{"cpu_util_total":-1,"streams":[{"id":1,"bytes":1}]}', /without cpu_util_total/],
    ['{"cpu_util_total":1,"streams":[]}', /results for 0 streams, not 1/],
    ['{"cpu_util_total":1,"streams":[{"id":2,"bytes":1}]}', /no result for stream id 1/],
    ['{"cpu_util_total":1,"streams":[{"id":1,"bytes":"9"}]}', /without id and bytes/],
  ] as const) {
    assert.throws(() => parseServerResults(text, 1, 'x'), why, text);
  }

  // The whole bench against a peer whose results claim to be 4 GiB long: refused, the run ends.
  const huge = await fakeServer(async (c, read) => {
    await read(37);
    c.write(state(STATE.PARAM_EXCHANGE));
    await readJson(read);
    c.write(Buffer.concat([state(STATE.CREATE_STREAMS), state(STATE.TEST_START), state(STATE.TEST_RUNNING)]));
    assert.equal((await read(1))[0], STATE.TEST_END);
    c.write(state(STATE.EXCHANGE_RESULTS));
    const ours = (await readJson(read)) as { streams: { id: number; bytes: number }[] };
    assert.equal(ours.streams[0]!.id, 1);
    c.write(Buffer.from([0xff, 0xff, 0xff, 0xff]));
  });
  const r = await bench('--host', `127.0.0.1:${huge.port}`, '--peer', 'iperf3', '--method', 'write', '--sizes', '32K', '--duration', '0.2', '--repeat', '1');
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`results of 4294967295 bytes \\(at most ${MAX_RESULTS_BYTES} accepted\\)`));
});

test('--peer: needs --host, one of two kinds, and no --verify with iperf3', async () => {
  for (const [args, why] of [
    [['--peer', 'iperf3'], /--peer needs --host/],
    [['--host', '127.0.0.1:1', '--peer', 'netcat'], /--peer must be 'aiotx' or 'iperf3'/],
    [['--host', '127.0.0.1:1', '--peer', 'iperf3', '--verify'], /--verify needs an aiotx serve peer/],
  ] as const) {
    const r = await bench(...args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, why);
  }
});
