// Many sockets, by hand (not part of npm test): issue 12's target "1,000 sockets x 4 writes in
// flight: aggregate throughput >= 0.9x one socket's, memory bounded". N connected UDP sockets to
// the sink rig (a veth whose far end is down: datagrams are dropped without being copied or
// delivered, so no receiver competes for CPU), 4 aioWrite calls in flight on each (a lane loop:
// await one, send the next), each a 65000-byte GSO datagram (segmentSize 1472), buffers taken
// round-robin from one shared, read-only, cold set of 1024 x 64 KiB (64 MiB, the same for every N).
// N = 1 and N = 1000 run interleaved, one child process per run (so its RSS is that run's).
//
//   npm run build && sudo node scripts/measure/many-sockets.mjs [--sockets 1,1000] [--rounds 3]
//     [--duration 2] [--zero-copy off|on|pool] [--floor] [--json] [--cpu-prof DIR]
//
// (wrap it in `flock /tmp/aiotx-rig.lock` on a shared machine; AIOTX_BACKEND=msgzerocopy picks that
// backend for --zero-copy on, the children inherit it). --floor: before each round, the same
// sends from a C loop over N sockets (many-sockets-floor.c, built with gcc into a temporary
// directory): what the kernel alone loses going from one socket to N. --cpu-prof DIR: each child
// writes a V8 CPU profile there.
//
// Per run: aggregate Gbit/s and CPU seconds per GB (process.cpuUsage over the timed interval,
// GB = 1e9 bytes); memory after a gc: heapUsed and RSS with the N sockets open but never written,
// then again once aiotx adopted them (one write per lane, settled, idle): the difference over N is
// aiotx's state per socket; then again after the timed run (growth over the run) and the peak RSS
// during it. Medians per N, and the ratio of N=1000's aggregate to N=1's. The per-socket figures of
// N=1 carry aiotx's fixed costs (backend, JIT) and gc noise; the marginal line (N=max vs N=1, over
// the sockets added) is the state an added socket costs. RSS growth over the run is mostly V8
// growing its young generation (heapTotal), not aiotx state: heapUsed after the run is the check.
//
// --zero-copy off: the copy path (send(2)); on: zero-copy (the default backend, io_uring here);
// pool: zero-copy from aiotx's wired pool (createBufferPool). A pool buffer can carry one write at
// a time, so with pool each of the 4N lanes owns its buffers: N x 4 must be at most 1024 (the
// process's wired-buffer table); larger N are skipped with that reason.
import { randomFillSync } from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const self = fileURLToPath(import.meta.url);
const root = resolve(dirname(self), '../..');
const BUFFERS = 1024;
const BUFFER_BYTES = 64 << 10;
const DATAGRAM = 65000;
const SEGMENT = 1472;
const LANES = 4;

const { values } = parseArgs({
  options: {
    child: { type: 'boolean', default: false },
    sockets: { type: 'string', default: '1,1000' },
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '2' },
    'zero-copy': { type: 'string', default: 'off' },
    json: { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
    floor: { type: 'boolean', default: false },
    // child only
    n: { type: 'string' },
    address: { type: 'string' },
    bind: { type: 'string' },
    port: { type: 'string' },
  },
  strict: true,
});

const mode = values['zero-copy'];
if (!['off', 'on', 'pool'].includes(mode)) throw new Error(`--zero-copy must be off, on or pool, got '${mode}'`);

if (values.child) {
  child().catch((err) => {
    process.stdout.write(`${JSON.stringify({ error: { code: err?.code ?? null, message: String(err?.stack ?? err) } })}\n`);
    process.exitCode = 1;
  });
} else {
  await main();
}

// ---------------------------------------------------------------- child: one run of N sockets

function memory() {
  globalThis.gc();
  globalThis.gc();
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, heapTotal: m.heapTotal, rss: m.rss, external: m.external, arrayBuffers: m.arrayBuffers };
}

const turn = () => new Promise((r) => setImmediate(r));

async function child() {
  const { aioWrite, createBufferPool } = await import(join(root, 'dist/src/index.js'));
  const n = Number(values.n);
  const seconds = Number(values.duration);
  const port = Number(values.port);
  const lanes = n * LANES;
  const zeroCopy = mode === 'off' ? 'off' : 'on';
  const options = { zeroCopy, segmentSize: SEGMENT };

  let pool = null;
  let acquired = [];
  let buffers;
  if (mode === 'pool') {
    pool = createBufferPool({ size: BUFFER_BYTES, count: BUFFERS });
    if (!pool.wired) throw Object.assign(new Error(`buffer pool not wired: ${pool.reason}`), { code: 'POOL_NOT_WIRED' });
    acquired = Array.from({ length: BUFFERS }, () => randomFillSync(pool.acquire()));
    buffers = acquired.map((b) => b.subarray(0, DATAGRAM));
  } else {
    // One 64 MiB region, filled (so its pages are resident before the first memory reading).
    const region = randomFillSync(Buffer.allocUnsafeSlow(BUFFERS * BUFFER_BYTES));
    buffers = Array.from({ length: BUFFERS }, (_, i) => region.subarray(i * BUFFER_BYTES, i * BUFFER_BYTES + DATAGRAM));
  }

  const sockets = [];
  for (let i = 0; i < n; i += 100) {
    const batch = Array.from({ length: Math.min(100, n - i) }, async () => {
      const s = dgram.createSocket('udp4');
      s.on('error', () => {}); // failures reach us as aioWrite rejections
      s.bind(0, values.bind);
      await once(s, 'listening');
      s.connect(port, values.address);
      await once(s, 'connect');
      return s;
    });
    sockets.push(...(await Promise.all(batch)));
  }
  await turn();
  const opened = memory();

  // Lane k writes on socket k % n. Copy and zero-copy: one shared round-robin counter over the
  // set (a buffer may be in two writes at once; the kernel only reads it). Pool: lane k owns
  // buffers k, k + lanes, k + 2 lanes, ... (a pool buffer carries one write at a time).
  let next = 0;
  const pick = pool ? (lane, i) => buffers[(lane + i * lanes) % BUFFERS] : () => buffers[next++ % BUFFERS];
  const laneBuffers = pool ? Math.floor(BUFFERS / lanes) : 0;

  // Adoption: one write per lane (4 per socket), all settled, then a turn for aiotx's idle work.
  const warm = await Promise.allSettled(Array.from({ length: lanes }, (_, k) => aioWrite(sockets[k % n], pick(k, 0), options)));
  const rejected = warm.find((r) => r.status === 'rejected');
  if (rejected) throw rejected.reason;
  const backend = warm[0].value.backend;
  await turn();
  await turn();
  const adopted = memory();

  let bytes = 0;
  let zeroCopyBytes = 0;
  let copiedBytes = 0;
  let writes = 0;
  let failure = null;
  let deadline = 0;
  let peakRss = 0;
  const lane = async (k) => {
    const socket = sockets[k % n];
    for (let i = pool ? 1 % laneBuffers : 1; failure === null && performance.now() < deadline; i = pool ? (i + 1) % laneBuffers : i + 1) {
      try {
        const r = await aioWrite(socket, pick(k, i), options);
        bytes += r.bytes;
        zeroCopyBytes += r.zeroCopyBytes;
        copiedBytes += r.copiedBytes;
        writes++;
      } catch (err) {
        failure ??= err;
      }
    }
  };
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 50);
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  deadline = start + seconds * 1000;
  await Promise.all(Array.from({ length: lanes }, (_, k) => lane(k)));
  const wallSeconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  clearInterval(sampler);
  // The lanes may never yield to the event loop (copy writes settle at the call): the kernel's
  // high-water mark covers what the sampler missed.
  peakRss = Math.max(peakRss, process.resourceUsage().maxRSS * 1024);
  if (failure !== null) throw failure;
  await turn();
  await turn();
  const after = memory();

  for (const s of sockets) s.close();
  if (pool) {
    for (const b of acquired) pool.release(b);
    pool.close();
  }
  process.stdout.write(
    `${JSON.stringify({
      n,
      mode,
      backend,
      bytes,
      zeroCopyBytes,
      copiedBytes,
      writes,
      wallSeconds,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      userSeconds: cpu.user / 1e6,
      systemSeconds: cpu.system / 1e6,
      memory: { opened, adopted, after, peakRss },
    })}\n`,
  );
}

// ---------------------------------------------------------------- parent: rig, runs, report

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function runChild(rig, n, profDir) {
  const args = ['--expose-gc'];
  if (profDir) args.push('--cpu-prof', `--cpu-prof-dir=${profDir}`, `--cpu-prof-name=many-${mode}-n${n}-${Date.now()}.cpuprofile`);
  args.push(self, '--child', '--n', String(n), '--duration', values.duration, '--zero-copy', mode);
  args.push('--address', rig.sinkAddress, '--bind', rig.localAddress, '--port', String(rig.port));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const [code, signal] = await once(child, 'exit');
  const line = out.trim().split('\n').pop() ?? '';
  let r;
  try {
    r = JSON.parse(line);
  } catch {
    throw new Error(`child for N=${n} exited ${code ?? signal} without a result: ${out}`);
  }
  if (r.error) throw new Error(`child for N=${n}: ${r.error.message}`);
  return r;
}

/** The C floor (many-sockets-floor.c): plain send(2) round-robin over N sockets, each in an epoll set. */
async function runFloor(bin, rig, n) {
  const child = spawn(bin, [String(n), rig.localAddress, rig.sinkAddress, String(rig.port), values.duration, '1'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const [code] = await once(child, 'exit');
  if (code !== 0) throw new Error(`many-sockets-floor N=${n} exited ${code}`);
  const r = JSON.parse(out);
  return {
    n,
    backend: 'C send()',
    gbps: (r.bytes * 8) / r.wallSeconds / 1e9,
    cpuPerGB: (r.userSeconds + r.systemSeconds) / (r.bytes / 1e9),
    cpuPct: (100 * (r.userSeconds + r.systemSeconds)) / r.wallSeconds,
    userPerGB: r.userSeconds / (r.bytes / 1e9),
    systemPerGB: r.systemSeconds / (r.bytes / 1e9),
    raw: r,
  };
}

function figures(r) {
  const m = r.memory;
  return {
    n: r.n,
    backend: r.backend,
    gbps: (r.bytes * 8) / r.wallSeconds / 1e9,
    cpuPerGB: r.cpuSeconds / (r.bytes / 1e9),
    cpuPct: (100 * r.cpuSeconds) / r.wallSeconds,
    userPerGB: r.userSeconds / (r.bytes / 1e9),
    systemPerGB: r.systemSeconds / (r.bytes / 1e9),
    zeroCopyShare: r.bytes > 0 ? r.zeroCopyBytes / r.bytes : 0,
    writes: r.writes,
    heapPerSocket: (m.adopted.heapUsed - m.opened.heapUsed) / r.n,
    rssPerSocket: (m.adopted.rss - m.opened.rss) / r.n,
    heapAfterPerSocket: (m.after.heapUsed - m.opened.heapUsed) / r.n,
    rssGrowth: m.after.rss - m.adopted.rss,
    peakRssGrowth: m.peakRss - m.adopted.rss,
    heapGrowth: m.after.heapUsed - m.adopted.heapUsed,
    heapTotalGrowth: m.after.heapTotal - m.adopted.heapTotal,
    raw: r,
  };
}

async function main() {
  const { sinkRigSkipReason, withSinkRig } = await import(join(root, 'packages/bench/dist/bench/sink-rig.js'));
  const reason = sinkRigSkipReason();
  if (reason !== null) {
    console.log(`many-sockets: skipped: ${reason}`);
    return;
  }
  const counts = values.sockets.split(',').map(Number);
  if (counts.some((c) => !Number.isInteger(c) || c < 1)) throw new Error(`--sockets: positive integers, got '${values.sockets}'`);
  const rounds = Number(values.rounds);
  const profDir = values['cpu-prof'] ? resolve(values['cpu-prof']) : null;
  if (profDir) mkdirSync(profDir, { recursive: true });
  const skipped = new Map();
  const planned = counts.filter((n) => {
    if (mode === 'pool' && n * LANES > BUFFERS) {
      skipped.set(n, `pool: ${n} x ${LANES} writes in flight need ${n * LANES} wired buffers, the table has ${BUFFERS}`);
      return false;
    }
    return true;
  });
  const results = new Map(planned.map((n) => [n, []]));
  const floors = new Map(counts.map((n) => [n, []]));
  let floorDir = null;
  let floorBin = null;
  if (values.floor) {
    floorDir = mkdtempSync(join(tmpdir(), 'aiotx-many-'));
    floorBin = join(floorDir, 'many-sockets-floor');
    execFileSync('gcc', ['-O2', '-Wall', '-o', floorBin, join(dirname(self), 'many-sockets-floor.c')], { stdio: 'inherit' });
  }
  try {
    await withSinkRig(async (rig) => {
      if (rig.offloadsNote) process.stderr.write(`note: ${rig.offloadsNote}\n`);
      for (let round = 0; round < rounds; round++) {
        for (const n of floorBin ? counts : []) {
          const f = await runFloor(floorBin, rig, n);
          floors.get(n).push(f);
          process.stderr.write(`round ${round} C floor N=${n}: ${f.gbps.toFixed(2)} Gbit/s, ${f.cpuPerGB.toFixed(3)} s/GB (user ${f.userPerGB.toFixed(3)}, sys ${f.systemPerGB.toFixed(3)})\n`);
        }
        for (const n of planned) {
          const f = figures(await runChild(rig, n, profDir));
          results.get(n).push(f);
          process.stderr.write(
            `round ${round} N=${n}: ${f.gbps.toFixed(2)} Gbit/s, ${f.cpuPerGB.toFixed(3)} s/GB (user ${f.userPerGB.toFixed(3)}, sys ${f.systemPerGB.toFixed(3)}), CPU ${f.cpuPct.toFixed(0)}%, ` +
              `adoption ${f.heapPerSocket.toFixed(0)} B heap + ${f.rssPerSocket.toFixed(0)} B RSS per socket, RSS growth ${(f.rssGrowth / 1048576).toFixed(1)} MiB (V8 heap reserved ${(f.heapTotalGrowth / 1048576).toFixed(1)} MiB, used ${(f.heapGrowth / 1048576).toFixed(2)} MiB)\n`,
          );
        }
      }
    });
  } finally {
    if (floorDir) rmSync(floorDir, { recursive: true, force: true });
  }

  const floorSummary = floorBin
    ? counts.map((n) => {
        const rs = floors.get(n);
        const med = (key) => median(rs.map((r) => r[key]));
        return { n, backend: 'C send()', gbps: med('gbps'), cpuPerGB: med('cpuPerGB'), cpuPct: med('cpuPct'), userPerGB: med('userPerGB'), systemPerGB: med('systemPerGB') };
      })
    : [];
  const floorOne = floorSummary.find((s) => s.n === 1);
  const floorMany = floorSummary.find((s) => s.n === Math.max(...counts));
  const floorRatio = floorOne && floorMany && floorOne !== floorMany ? floorMany.gbps / floorOne.gbps : null;

  const summary = planned.map((n) => {
    const rs = results.get(n);
    const med = (key) => median(rs.map((r) => r[key]));
    return {
      n,
      backend: rs[0].backend,
      gbps: med('gbps'),
      cpuPerGB: med('cpuPerGB'),
      cpuPct: med('cpuPct'),
      userPerGB: med('userPerGB'),
      systemPerGB: med('systemPerGB'),
      zeroCopyShare: med('zeroCopyShare'),
      heapPerSocket: med('heapPerSocket'),
      rssPerSocket: med('rssPerSocket'),
      heapAfterPerSocket: med('heapAfterPerSocket'),
      rssGrowth: med('rssGrowth'),
      peakRssGrowth: med('peakRssGrowth'),
      heapGrowth: med('heapGrowth'),
      heapTotalGrowth: med('heapTotalGrowth'),
    };
  });
  const one = summary.find((s) => s.n === 1);
  const many = summary.find((s) => s.n === Math.max(...planned));
  const ratio = one && many && many !== one ? many.gbps / one.gbps : null;
  // Marginal state per socket: the adoption difference between the largest N and N=1, over the
  // sockets added (fixed costs, the JIT, the ring, cancel out).
  const marginal =
    one && many && many !== one
      ? {
          heap: (many.heapPerSocket * many.n - one.heapPerSocket) / (many.n - 1),
          rss: (many.rssPerSocket * many.n - one.rssPerSocket) / (many.n - 1),
        }
      : null;

  if (values.json) {
    console.log(JSON.stringify({ mode, rounds, durationSeconds: Number(values.duration), datagram: DATAGRAM, segmentSize: SEGMENT, lanesPerSocket: LANES, summary, ratio, marginal, floor: floorSummary, floorRatio, skipped: Object.fromEntries(skipped), runs: Object.fromEntries([...results].map(([n, rs]) => [n, rs.map((r) => r.raw)])) }, null, 2));
    return;
  }
  const kib = (b) => (b / 1024).toFixed(1);
  console.log(`\nmany sockets: UDP sink rig, ${LANES} aioWrite in flight per socket, ${DATAGRAM}-byte GSO datagrams (segmentSize ${SEGMENT}), zeroCopy ${mode}, ${rounds} rounds x ${values.duration} s, medians\n`);
  console.log('| sockets | backend | Gbit/s | s/GB | CPU % | zero-copy | heap B/socket | RSS B/socket | heap B/socket after run | RSS growth over run | peak RSS growth |');
  console.log('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const s of summary) {
    console.log(
      `| ${s.n} | ${s.backend} | ${s.gbps.toFixed(2)} | ${s.cpuPerGB.toFixed(3)} | ${s.cpuPct.toFixed(0)} | ${(100 * s.zeroCopyShare).toFixed(0)} % | ` +
        `${s.heapPerSocket.toFixed(0)} | ${s.rssPerSocket.toFixed(0)} | ${s.heapAfterPerSocket.toFixed(0)} | ${kib(s.rssGrowth)} KiB | ${kib(s.peakRssGrowth)} KiB |`,
    );
  }
  for (const [n, why] of skipped) console.log(`| ${n} | skipped: ${why} |`);
  for (const s of floorSummary) console.log(`| ${s.n} | C floor: send(2), epoll-registered | ${s.gbps.toFixed(2)} | ${s.cpuPerGB.toFixed(3)} | ${s.cpuPct.toFixed(0)} | 0 % | | | | | |`);
  if (ratio !== null) console.log(`\naggregate N=${many.n} / N=1: ${ratio.toFixed(3)} (target >= 0.9)`);
  if (floorRatio !== null) console.log(`C floor N=${floorMany.n} / N=1: ${floorRatio.toFixed(3)}`);
  if (marginal) console.log(`aiotx state per added socket (adoption, N=${many.n} vs N=1): ${marginal.heap.toFixed(0)} B heap, ${marginal.rss.toFixed(0)} B RSS`);
}
