// sink-loop: a user's straightforward loop on the UDP sink rig, the pattern issue 12 measures:
// DEPTH aioWrite calls in flight, one 65000-byte GSO datagram each (1300-byte segments), from a
// cold 64 MiB working set (a wired pool holds at most 1024 buffers). Prints one JSON line: writes,
// CPU µs per write (user and system apart), Gbit/s. Root (it builds a sink rig and removes it).
// Build first (npm run build), then:
//   sudo node scripts/measure/sink-loop.mjs                  # wired pool, io_uring
//   sudo POOL=0 ZC=on node scripts/measure/sink-loop.mjs     # ordinary buffers
//   sudo BATCH=8 node scripts/measure/sink-loop.mjs          # the batched form, 8 per call
// Environment: POOL=1|0, ZC=on|off|auto, BATCH, DEPTH (16), SECONDS (3), WARMUP (0.5, uncounted),
// SNDBUF (bytes of SO_SNDBUF; the system's default when unset).
// Where the time goes: perf record -F 4999 -g -o loop.data -- node --perf-basic-prof
// scripts/measure/sink-loop.mjs > loop.json; node scripts/measure/perf-categories.mjs loop.data loop.json
import dgram from 'node:dgram';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const { aioWrite, createBufferPool } = await import(`${root}dist/src/index.js`);
const { withSinkRig } = await import(`${root}packages/bench/dist/bench/sink-rig.js`);
const SIZE = 65000;
const SEGMENT = 1300;
const env = (name, fallback) => Number(process.env[name] ?? fallback);
const depth = env('DEPTH', 16);
const batch = env('BATCH', 1);
const seconds = env('SECONDS', 3);
const warmup = env('WARMUP', 0.5);
if (!(depth >= 1 && batch >= 1 && batch <= depth && seconds > 0 && warmup >= 0)) throw new RangeError('sink-loop: need DEPTH >= BATCH >= 1, SECONDS > 0, WARMUP >= 0');

await withSinkRig(async (rig) => {
  const socket = dgram.createSocket({ type: 'udp4', ...(process.env.SNDBUF ? { sendBufferSize: env('SNDBUF', 0) } : {}) });
  await new Promise((resolve) => socket.bind(0, rig.localAddress, resolve));
  socket.connect(rig.port, rig.sinkAddress);
  await new Promise((resolve) => socket.once('connect', resolve));
  const count = Math.min(1024, Math.floor((64 << 20) / SIZE));
  const pool = process.env.POOL === '0' ? null : createBufferPool({ size: SIZE, count });
  const buffers = Array.from({ length: count }, () => (pool ? pool.acquire() : Buffer.alloc(SIZE, 7)));
  // Lane k owns every (depth/batch)-th group: a buffer goes out again only after its write settled.
  const groups = Array.from({ length: Math.floor(count / batch) }, (_, g) => buffers.slice(g * batch, g * batch + batch));
  const options = { zeroCopy: process.env.ZC ?? 'on', segmentSize: SEGMENT };
  const lanes = Math.floor(depth / batch);
  let writes = 0;
  const run = async (until) => {
    const lane = async (first) => {
      for (let g = first; performance.now() < until; g = (g + lanes) % groups.length) {
        await aioWrite(socket, batch === 1 ? groups[g][0] : groups[g], options);
        writes += batch;
      }
    };
    await Promise.all(Array.from({ length: lanes }, (_, k) => lane(k)));
  };
  await run(performance.now() + warmup * 1000);
  writes = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  await run(start + seconds * 1000);
  const wall = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  const per = (us) => Number((us / writes).toFixed(2));
  console.log(JSON.stringify({ writes, usPerWrite: per(used.user + used.system), userUs: per(used.user), sysUs: per(used.system), gbit: Number(((writes * SIZE * 8) / wall / 1e9).toFixed(1)) }));
  socket.close();
  if (pool) {
    for (const b of buffers) pool.release(b);
    pool.close();
  }
});
