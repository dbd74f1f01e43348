// aiotx bench / serve / report: argument parsing, the control exchange (malformed and oversized
// messages included), the CPU arithmetic against hand-computed figures, the native bench loops'
// input checks, and a short end-to-end run whose every stream is verified by sha256.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseMethodList } from 'aiotx-bench/internal/bench/bench-methods.js';
import { ControlClient } from 'aiotx-bench/internal/bench/control-client.js';
import { LineReader, MAX_LINE, parseClientMessage, ProtocolError } from 'aiotx-bench/internal/bench/control-protocol.js';
import { parseProcStat, ratio, serviceDemand, systemCpuPercent } from 'aiotx-bench/internal/bench/cpu-accounting.js';
import { addRatios, type CellResult } from 'aiotx-bench/internal/bench/run-bench.js';
import { startServer, type BenchServer } from 'aiotx-bench/internal/bench/server.js';
import { NETPERF_SELECTORS, parseIperf3Json, parseNetperfLine } from 'aiotx-bench/internal/bench/external-rows.js';
import { referenceSend } from 'aiotx-bench/internal/native/bench-loops.js';
import { randomBytes, tcpPair, closeAllPairs } from './helpers/sockets.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = fileURLToPath(new URL('../../bin/aiotx.js', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'aiotx-bench-test-'));

after(async () => {
  rmSync(scratch, { recursive: true, force: true });
  await closeAllPairs();
});

function onPath(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}

function aiotx(...args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', timeout: 240_000 });
}

test('bench arguments: methods, sizes, host and flags that do not combine', () => {
  assert.deepEqual(parseMethodList('reference,write'), ['write', 'reference'], 'table order');
  assert.deepEqual(parseMethodList('aio-zc'), ['aio-zc-uring', 'aio-zc-pool', 'aio-zc-pool-batch', 'aio-zc-msgzerocopy']);
  assert.throws(() => parseMethodList('writ'), /unknown method 'writ'/);
  assert.throws(() => parseMethodList(' , '), /no methods/);
  const cases: [string[], RegExp][] = [
    [['bench', '--method', 'bogus'], /--method: unknown method 'bogus'/],
    [['bench', '--host', 'nohost'], /--host: expected HOST:PORT/],
    [['bench', '--host', 'h:0'], /--host: expected HOST:PORT/],
    [['bench', '--streams', '0'], /--streams must be an integer from 1 to 64/],
    [['bench', '--duration=-1'], /--duration must be a positive number/],
    [['bench', '--sink', '--verify'], /--verify does not apply to --sink/],
    [['bench', '--segment-size', '100'], /--segment-size applies to --sink only/],
    [['serve', '--listen', '127.0.0.1'], /--listen: expected HOST:PORT/],
    [['report'], /missing FILE.json/],
    [['report', 'a.json', 'b.json'], /unexpected argument 'b.json'/],
  ];
  for (const [args, message] of cases) {
    const r = aiotx(...args);
    assert.equal(r.status, 2, `${args.join(' ')} exits 2`);
    assert.match(r.stderr, message);
  }
  assert.match(aiotx('serve', '--help').stdout, /^Usage: aiotx serve/);
  assert.match(aiotx('report', '--help').stdout, /^Usage: aiotx report/);
});

test('CPU accounting: /proc/stat, service demand and ratios against hand-computed figures', () => {
  const before = parseProcStat('cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4 5 6 7\n');
  const after = parseProcStat('cpu  200 0 100 900 50 0 50 0 0 0\n');
  assert.deepEqual(before, { total: 1000, idle: 850, softirq: 0, steal: 0 });
  // 300 ticks passed, 100 idle: 200 busy = 2/3 of the machine; on 2 CPUs that is 133.3% of one.
  const s = systemCpuPercent(before, after, 2);
  assert.ok(Math.abs(s.busy - 133.333) < 0.001, `busy ${s.busy}`);
  // 50 of 300 ticks in softirq: 1/6 × 2 CPUs = 33.3% of one.
  assert.ok(Math.abs(s.softirq - 33.333) < 0.001, `softirq ${s.softirq}`);
  assert.ok(Number.isNaN(systemCpuPercent(after, after, 2).busy), 'no ticks passed: no figure');
  assert.throws(() => parseProcStat('intr 1 2 3\n'), /no aggregate 'cpu' line/);
  // 1 CPU second for 1 GiB: 1e6 µs / 1048576 KB.
  assert.equal(serviceDemand(1, 1024 ** 3), 1e6 / 1024 ** 2);
  assert.equal(ratio(3, 2), 1.5);
  assert.equal(ratio(1, 0), null);
  assert.equal(ratio(null, 2), null);

  const cell = (method: CellResult['method'], gbit: number, perGB: number) =>
    ({ method, size: 32768, status: 'ok', gbitPerSecond: gbit, cpuSecondsPerGB: perGB }) as CellResult;
  const cells = [cell('write', 10, 0.5), cell('aio-copy', 9, 0.44), cell('reference', 12, 0.4)];
  addRatios(cells);
  assert.equal(cells[1]!.gbitVsReference, 0.75);
  assert.ok(Math.abs(cells[1]!.cpuPerGBVsReference! - 1.1) < 1e-12);
  assert.ok(Math.abs(cells[1]!.cpuPerGBVsWrite! - 0.88) < 1e-12);
  assert.equal(cells[2]!.gbitVsReference, 1);
});

test('external rows: iperf3 --json and netperf -o lines parsed, anything else refused with the reason', () => {
  const iperf = { end: { sum_sent: { bytes: 5e9, seconds: 2 }, cpu_utilization_percent: { host_total: 50, remote_total: 25 } } };
  assert.deepEqual(parseIperf3Json(JSON.stringify(iperf)), { bytes: 5e9, wallSeconds: 2, cpuSeconds: 1, receiverCpuSeconds: 0.5 });
  assert.throws(() => parseIperf3Json('{"error":"unable to connect to server: Connection refused"}'), /iperf3: unable to connect/);
  for (const bad of ['', 'Connecting to host', '[]', '{"end":{}}', JSON.stringify({ end: { ...iperf.end, sum_sent: { bytes: -1, seconds: 2 } } })]) {
    assert.throws(() => parseIperf3Json(bad), /iperf3/, bad);
  }
  assert.equal(NETPERF_SELECTORS, 'THROUGHPUT,THROUGHPUT_UNITS,ELAPSED_TIME,LOCAL_CPU_UTIL,REMOTE_CPU_UTIL');
  // 8000 Mbit/s for 2 s = 2e9 bytes; 25% of all 2 CPUs for 2 s = 1 CPU second.
  assert.deepEqual(parseNetperfLine('8000.00,10^6bits/s,2.00,25.00,12.50\n', 2), { bytes: 2e9, wallSeconds: 2, cpuSeconds: 1, receiverCpuSeconds: 0.5 });
  for (const bad of ['', '8000,10^3bits/s,2,1,1', '8000,10^6bits/s,0,1,1', 'x,10^6bits/s,2,1,1', '1,10^6bits/s,2,1']) {
    assert.throws(() => parseNetperfLine(bad, 2), /netperf printed/, bad);
  }
});

test('control lines are capped and validated', () => {
  const reader = new LineReader();
  assert.deepEqual(reader.push('{"op":"start"}\n{"op":'), ['{"op":"start"}']);
  assert.deepEqual(reader.push('"stop","streams":[]}\n'), ['{"op":"stop","streams":[]}']);
  assert.throws(() => new LineReader().push('x'.repeat(MAX_LINE + 1)), ProtocolError, 'an endless line is refused before its newline');
  for (const bad of ['nope', '[]', '{"op":"launch"}', '{"op":"hello","version":99}', '{"op":"stop","streams":"x"}', '{"op":"stop","streams":["../etc"]}']) {
    assert.throws(() => parseClientMessage(bad), ProtocolError, bad);
  }
  assert.deepEqual(parseClientMessage('{"op":"stop","streams":["127.0.0.1:4000","[::1]:5"]}'), { op: 'stop', streams: ['127.0.0.1:4000', '[::1]:5'] });
});

async function controlExchange(server: BenchServer, payload: string): Promise<string> {
  const socket: Socket = connect(server.controlPort, '127.0.0.1');
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.write(payload);
  let text = '';
  socket.setEncoding('utf8').on('data', (c: string) => (text += c));
  await once(socket, 'close');
  return text;
}

test('serve: bad control input closes that connection with a reason; the server keeps serving', async () => {
  const logs: string[] = [];
  const server = await startServer({ host: '127.0.0.1', port: 0, verify: true, log: (l) => logs.push(l) });
  try {
    const malformed = await controlExchange(server, '{"op":"hello","version":1}\nnot json at all\n');
    assert.match(malformed, /"op":"hello"/);
    assert.match(malformed, /"op":"error","message":"not JSON"/);
    const oversized = await controlExchange(server, `{"op":"start","pad":"${'a'.repeat(MAX_LINE * 4)}"}\n`);
    assert.match(oversized, /"op":"error","message":"control line longer than 4096 bytes"/);
    assert.equal(logs.length, 2, logs.join('\n'));
    assert.match(logs[0]!, /control connection from 127\.0\.0\.1:\d+: not JSON; closing it/);

    // Still serving: a proper exchange with one verified data stream.
    const { client, hello } = await ControlClient.connect('127.0.0.1', server.controlPort);
    assert.equal(hello.verify, true);
    await client.start();
    const data = connect(hello.dataPort, '127.0.0.1');
    await once(data, 'connect');
    const local = `${data.localAddress}:${data.localPort}`;
    const payload = randomBytes(3 << 20);
    data.end(payload);
    const stopped = await client.stop([local]);
    assert.deepEqual(stopped.streams, [{ peer: local, bytes: payload.length, sha256: createHash('sha256').update(payload).digest('hex'), error: null }]);
    assert.ok(stopped.cpuSeconds >= 0);
    client.close();
  } finally {
    await server.close();
  }
});

test('serve: a failure while answering closes that connection only; the server keeps serving', async () => {
  const logs: string[] = [];
  const server = await startServer({ host: '127.0.0.1', port: 0, verify: false, log: (l) => logs.push(l) });
  const cpuUsage = process.cpuUsage;
  try {
    // Not a protocol error: something the server itself calls fails while answering 'start'.
    process.cpuUsage = (() => {
      throw new Error('simulated failure');
    }) as typeof process.cpuUsage;
    const text = await controlExchange(server, '{"op":"start"}\n');
    process.cpuUsage = cpuUsage;
    assert.match(text, /"op":"error","message":"internal error: simulated failure"/);
    assert.match(logs.join('\n'), /control connection from 127\.0\.0\.1:\d+: internal error: simulated failure; closing it/);
    const { client } = await ControlClient.connect('127.0.0.1', server.controlPort);
    await client.start();
    client.close();
  } finally {
    process.cpuUsage = cpuUsage;
    await server.close();
  }
});

test('serve: a client that never reads its replies is paused, then answered in full once it reads', async () => {
  let paused!: () => void;
  const pausedLog = new Promise<string>((resolve) => (paused = () => resolve('paused')));
  const server = await startServer({
    host: '127.0.0.1',
    port: 0,
    verify: false,
    log: (l) => /replies not being read/.test(l) && paused(),
  });
  try {
    const socket = connect(server.controlPort, '127.0.0.1');
    await once(socket, 'connect');
    const line = '{"op":"hello","version":1}\n';
    const count = Math.floor((20 << 20) / line.length);
    // More than every socket buffer between the two ends can hold: the write completes only if
    // the server reads it all, i.e. queues every reply in memory for a client that does not read.
    const accepted = new Promise<string>((resolve) => socket.write(line.repeat(count), () => resolve('accepted')));
    assert.equal(await Promise.race([accepted, pausedLog]), 'paused', 'the server stops reading before it has taken 20 MiB of requests');
    let replies = 0;
    let first = '';
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => {
      if (first === '') first = c.slice(0, c.indexOf('\n'));
      for (let i = c.indexOf('\n'); i !== -1; i = c.indexOf('\n', i + 1)) replies++;
      if (replies === count) socket.end();
    });
    await once(socket, 'close');
    assert.equal(replies, count, 'every request answered once the client reads');
    assert.equal((JSON.parse(first) as { op: string }).op, 'hello');
  } finally {
    await server.close();
  }
});

/** Whether /proc/net/tcp still lists a connection from local port `from` to port `to`. */
function tcpConnectionListed(from: number, to: number): boolean {
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');
  return readFileSync('/proc/net/tcp', 'utf8').split('\n').some((l) => l.includes(`:${hex(from)} `) && l.includes(`:${hex(to)} `));
}

test('serve: a new stream from the port of an earlier unclaimed one gets its own report', async () => {
  const server = await startServer({ host: '127.0.0.1', port: 0, verify: false, log: () => {} });
  try {
    const { client, hello } = await ControlClient.connect('127.0.0.1', server.controlPort);
    await client.start();
    // Another process may take the freed port before we bind it again: then try another one.
    let second: Socket | null = null;
    let localPort = 0;
    for (let attempt = 0; second === null; attempt++) {
      const first = connect(hello.dataPort, '127.0.0.1');
      first.on('error', () => {});
      await once(first, 'connect');
      localPort = first.localPort!;
      first.write(randomBytes(1000));
      // A reset leaves no TIME_WAIT, so the port can be bound again; the server keeps its report.
      first.resetAndDestroy();
      while (tcpConnectionListed(localPort, hello.dataPort)) await new Promise((r) => setTimeout(r, 20));
      const s = connect({ port: hello.dataPort, host: '127.0.0.1', localAddress: '127.0.0.1', localPort });
      // Not once(s, 'connect'): it rejects on 'error', which would end the test instead of retrying.
      const err = await new Promise<Error | undefined>((resolve) => {
        s.once('connect', () => resolve(undefined));
        s.once('error', resolve);
      });
      if (err === undefined) second = s;
      else {
        s.destroy();
        assert.ok((err as NodeJS.ErrnoException).code === 'EADDRINUSE' && attempt < 20, err.message);
      }
    }
    second.end(randomBytes(70_000));
    const stopped = await client.stop([`127.0.0.1:${localPort}`]);
    assert.deepEqual(stopped.streams.map((s) => [s.bytes, s.error]), [[70_000, null]]);
    client.close();
  } finally {
    await server.close();
  }
});

test('serve without --verify drops streams in native threads and counts every byte', async () => {
  const server = await startServer({ host: '127.0.0.1', port: 0, verify: false, log: () => {} });
  try {
    const { client, hello } = await ControlClient.connect('127.0.0.1', server.controlPort);
    assert.equal(hello.verify, false);
    await client.start();
    const sizes = [1, 65536, 5 << 20];
    const locals = await Promise.all(
      sizes.map(async (n) => {
        const s = connect(hello.dataPort, '127.0.0.1');
        await once(s, 'connect');
        s.end(randomBytes(n));
        return `${s.localAddress}:${s.localPort}`;
      }),
    );
    const stopped = await client.stop(locals);
    assert.deepEqual(stopped.streams.map((s) => [s.bytes, s.sha256, s.error]), sizes.map((n) => [n, null, null]));
    client.close();
  } finally {
    await server.close();
  }
});

test('the native reference loop sends its buffer cyclically, in writes of writeSize, and refuses bad input', async () => {
  // 100,000 bytes in writes of 30,000: a cycle is 30,000 + 30,000 + 30,000 + 10,000; the stream is
  // still the region repeated.
  for (const writeSize of [100_000, 30_000]) {
    const pair = await tcpPair();
    const received: Buffer[] = [];
    pair.server.on('data', (c: Buffer) => received.push(c));
    const buf = randomBytes(100_000);
    const [sent] = referenceSend([pair.client], buf, 50, writeSize);
    assert.ok(sent! > 0);
    pair.client.end();
    await once(pair.server, 'end');
    const got = Buffer.concat(received);
    assert.equal(got.length, sent);
    for (let off = 0; off < got.length; off += buf.length) {
      assert.ok(got.subarray(off, off + buf.length).equals(buf.subarray(0, Math.min(buf.length, got.length - off))), `bytes at ${off}`);
    }
    await pair.close();
  }
  const buf = randomBytes(1000);
  assert.throws(() => referenceSend([{} as Socket], buf, 1), /no file descriptor/);
  const { addon } = await import('aiotx-bench/internal/native/addon.js');
  assert.throws(() => addon.referenceSend([1] as unknown as Int32Array, buf, 1, 1), TypeError);
  assert.throws(() => addon.referenceSend(new Int32Array(0), buf, 1, 1), RangeError);
  assert.throws(() => addon.referenceSend(new Int32Array([0]), buf, 4e6, 1), RangeError);
  for (const bad of [0, -1, 1.5, 'x']) assert.throws(() => addon.referenceSend(new Int32Array([0]), buf, 1, bad as number), /writeSize/);
  const file = openSync(bin, 'r');
  try {
    assert.equal(addon.referenceSend(new Int32Array([file]), buf, 1, 1), -88, 'a file is not a socket: ENOTSOCK');
    assert.equal(addon.discardStart(file, () => {}), -88);
  } finally {
    closeSync(file);
  }
  assert.equal(addon.referenceSend(new Int32Array([99999]), buf, 1, 1), -9, 'EBADF');
  assert.equal(addon.discardStart(99999, () => {}), -9);
  assert.throws(() => addon.discardStart(0, 'cb' as never), TypeError);
  assert.throws(() => addon.discardStart(-1, () => {}), RangeError);
});

test('bench end to end: every method runs (batched rows too), every stream verified by sha256; report re-renders it', () => {
  const json = join(scratch, 'run.json');
  const r = aiotx('bench', '--sizes', '48K', '--duration', '0.3', '--repeat', '1', '--streams', '2', '--batch', '3', '--verify', '--json');
  assert.equal(r.status, 0, r.stderr);
  writeFileSync(json, r.stdout);
  const report = JSON.parse(r.stdout) as { note: string; results: CellResult[] };
  assert.match(report.note, /^loopback/);
  assert.deepEqual(report.results.map((c) => c.method), [
    'write', 'aio-copy', 'aio-copy-batch', 'aio-zc-uring', 'aio-zc-pool', 'aio-zc-pool-batch', 'aio-zc-msgzerocopy', 'sendfile', 'reference',
    'iperf3', 'iperf3-sendfile', 'netperf', 'netperf-sendfile',
  ]);
  for (const c of report.results) {
    if (c.external) {
      const tool = c.method.startsWith('iperf3') ? 'iperf3' : 'netperf';
      if (onPath(tool)) assert.equal(c.status, 'ok', `${c.method}: ${c.reason}`);
      else {
        assert.equal(c.status, 'unavailable');
        assert.match(c.reason!, tool === 'iperf3' ? /iperf3 not installed \(Debian\/Ubuntu: apt-get install iperf3\)/ : /netperf not installed .*--netperf PATH/);
        continue;
      }
      assert.ok(c.bytes > 0 && c.cpuSeconds > 0 && c.gbitVsReference !== null, `${c.method}: parsed figures and a ratio to reference`);
      if (tool === 'iperf3') assert.ok(c.receiverPercent > 0, 'iperf3 reports its server\'s CPU');
      continue;
    }
    if (c.status === 'unavailable') {
      // A machine without io_uring (or with too little RLIMIT_MEMLOCK): said, not hidden.
      assert.ok(c.method.startsWith('aio-zc-') && c.reason, `${c.method}: ${c.reason}`);
      continue;
    }
    assert.equal(c.status, 'ok', `${c.method}: ${c.reason}`);
    assert.equal(c.size, 48 * 1024);
    assert.ok(c.bytes > 0, `${c.method} sent bytes`);
    assert.ok(c.cpuMicrosPerWrite > 0, `${c.method}: CPU per write`);
    assert.ok(c.gbitVsReference !== null, `${c.method} has a ratio to reference`);
  }
  assert.equal(report.results[0]!.copiedShare, null, 'net.Socket.write cannot tell what was copied');
  assert.equal(report.results.find((c) => c.method === 'aio-copy')!.copiedShare, 1, 'loopback copies');
  assert.equal(report.results.find((c) => c.method === 'aio-copy-batch')!.copiedShare, 1, 'loopback copies batches too');

  const dir = join(scratch, 'html');
  const re = aiotx('report', json, '--report', dir);
  assert.equal(re.status, 0, re.stderr);
  assert.match(re.stdout, /Throughput, Gbit\/s/);
  assert.match(re.stdout, /Sender CPU per write, µs/);
  assert.match(re.stdout, /reference/);
  for (const f of ['index.html', 'cpu.svg', 'throughput.svg', 'results.json']) assert.ok(existsSync(join(dir, f)), f);
  const page = readFileSync(join(dir, 'index.html'), 'utf8');
  assert.match(page, /<svg[^>]*>/);
  assert.doesNotMatch(page, /<script/, 'the charts render without JavaScript');

  writeFileSync(join(scratch, 'bad.json'), '{"kind":"something-else"}');
  const bad = aiotx('report', join(scratch, 'bad.json'));
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /not an 'aiotx bench --json' result/);
});

test('bench --host measures against a running serve; --verify needs a hashing server', async () => {
  const server = await startServer({ host: '127.0.0.1', port: 0, verify: false, log: () => {} });
  try {
    const host = `127.0.0.1:${server.controlPort}`;
    const refused = await run('bench', '--host', host, '--verify', '--method', 'write', '--sizes', '32K', '--duration', '0.1', '--repeat', '1');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /does not hash streams; start it with 'aiotx serve --verify'/);
    const ok = await run('bench', '--host', host, '--method', 'write,reference', '--sizes', '32K', '--duration', '0.2', '--repeat', '1', '--json');
    assert.equal(ok.code, 0, ok.stderr);
    const report = JSON.parse(ok.stdout) as { target: string; results: CellResult[] };
    assert.equal(report.target, host);
    for (const c of report.results) assert.ok(c.status === 'ok' && c.bytes > 0, `${c.method}: ${c.reason}`);
  } finally {
    await server.close();
  }
});

/** The CLI as a child, without blocking this process's loop (the server under test runs here). */
function run(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
