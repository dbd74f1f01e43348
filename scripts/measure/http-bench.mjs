// File serving over loopback, by hand (not part of npm test): nginx-light, a Node
// createReadStream().pipe(res) server, express.static and aiotx's serveStatic, each driven by wrk
// with keep-alive at 64 KiB / 1 MiB / 64 MiB page-cached (hot) files, interleaved, medians.
// Also aiotx with its body forced to sendfile or to one buffered write, to place the threshold.
//
//   apt-get install -y nginx-light wrk && npm run build && node scripts/measure/http-bench.mjs [SECONDS] [REPEATS]
//
// Reports Gbit/s, requests/s and the server process's CPU seconds per GB (utime+stime from
// /proc/PID/stat; nginx runs with master_process off, so its one process is the worker).
import { execFile, spawn } from 'node:child_process';
import { createReadStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const self = fileURLToPath(import.meta.url);

if (process.argv[2] === '--serve') {
  const [, , , mode, dir] = process.argv;
  let handler;
  if (mode === 'stream') {
    handler = (req, res) => {
      const path = join(dir, req.url);
      const size = statSync(path).size;
      res.writeHead(200, { 'Content-Length': size, 'Content-Type': 'application/octet-stream' });
      createReadStream(path).pipe(res);
    };
  } else if (mode === 'express') {
    const { default: express } = await import('express');
    const app = express();
    app.use(express.static(dir));
    handler = app;
  } else {
    const { serveStatic } = await import('aiotx');
    const threshold = { aiotx: undefined, 'aiotx-sendfile': 0, 'aiotx-buffer': Number.MAX_SAFE_INTEGER }[mode];
    const mw = serveStatic(dir, threshold === undefined ? {} : { sendFileThreshold: threshold });
    handler = (req, res) => mw(req, res);
  }
  const server = createServer(handler);
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => console.log(server.address().port));
} else {
  await main();
}

function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in USER_HZ ticks
}

async function startServer(name, dir) {
  if (name === 'nginx') {
    const conf = join(dir, 'nginx.conf');
    writeFileSync(conf, `daemon off; master_process off; worker_processes 1; error_log ${dir}/nginx.err; pid ${dir}/nginx.pid;
events { worker_connections 1024; }
http { access_log off; sendfile on; tcp_nopush on; keepalive_requests 1000000; keepalive_timeout 60;
  client_body_temp_path ${dir}/t; proxy_temp_path ${dir}/t; fastcgi_temp_path ${dir}/t; uwsgi_temp_path ${dir}/t; scgi_temp_path ${dir}/t;
  server { listen 127.0.0.1:18931; root ${dir}/files; } }\n`);
    const child = spawn('nginx', ['-c', conf, '-p', dir], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 300));
    return { child, port: 18931 };
  }
  const child = spawn(process.execPath, [self, '--serve', name, join(dir, 'files')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve) => child.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
  return { child, port };
}

async function drive(server, file, seconds) {
  const url = `http://127.0.0.1:${server.port}/${file}`;
  await run('wrk', ['-t1', '-c4', '-d1s', url]); // warm-up: connections, JIT, page cache
  const cpu0 = cpuSeconds(server.child.pid);
  const { stdout } = await run('wrk', ['-t1', '-c8', `-d${seconds}s`, url]);
  const cpu = cpuSeconds(server.child.pid) - cpu0;
  const m = /(\d+) requests in ([\d.]+)(m?s)/.exec(stdout);
  const requests = Number(m[1]);
  const secs = Number(m[2]) / (m[3] === 'ms' ? 1000 : 1);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(stdout);
  if (non2xx) throw new Error(`${url}: ${non2xx[0]}`);
  // Bytes read, headers and unfinished 64 MiB bodies included (wrk's units are binary).
  const read = /([\d.]+)([KMGT]?B) read/.exec(stdout);
  const bytes = Number(read[1]) * 1024 ** ['B', 'KB', 'MB', 'GB', 'TB'].indexOf(read[2]);
  return { rps: requests / secs, gbps: (bytes * 8) / secs / 1e9, cpuPerGB: cpu / (bytes / 1e9), cpuPct: (100 * cpu) / secs };
}

function median(xs) {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
}

async function main() {
  const seconds = Number(process.argv[2] ?? 4);
  const repeats = Number(process.argv[3] ?? 3);
  const dir = mkdtempSync(join(tmpdir(), 'aiotx-httpbench-'));
  const files = join(dir, 'files');
  const sizes = { '16K': 16 << 10, '64K': 64 << 10, '256K': 256 << 10, '1M': 1 << 20, '64M': 64 << 20 };
  await run('mkdir', ['-p', files, join(dir, 't')]);
  for (const [name, size] of Object.entries(sizes)) {
    await run('head', ['-c', String(size), '/dev/urandom'], { encoding: 'buffer', maxBuffer: 1 << 27 }).then(({ stdout }) => writeFileSync(join(files, name), stdout));
  }
  const plan = [
    ...['64K', '1M', '64M'].flatMap((s) => ['nginx', 'stream', 'express', 'aiotx'].map((srv) => [srv, s])),
    ...['16K', '64K', '256K', '1M'].flatMap((s) => ['aiotx-sendfile', 'aiotx-buffer'].map((srv) => [srv, s])),
  ];
  const results = new Map();
  try {
    for (let rep = 0; rep < repeats; rep++) {
      for (const [srv, s] of plan) {
        const server = await startServer(srv, dir);
        try {
          const r = await drive(server, s, seconds);
          const key = `${srv} ${s}`;
          results.set(key, [...(results.get(key) ?? []), r]);
          process.stderr.write(`${rep} ${key}: ${r.gbps.toFixed(2)} Gbit/s ${r.cpuPerGB.toFixed(3)} s/GB\n`);
        } finally {
          server.child.kill('SIGTERM');
          await new Promise((r) => server.child.once('exit', r));
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const row = (srv, s) => {
    const rs = results.get(`${srv} ${s}`);
    return { rps: median(rs.map((r) => r.rps)), gbps: median(rs.map((r) => r.gbps)), cpuPerGB: median(rs.map((r) => r.cpuPerGB)), cpuPct: median(rs.map((r) => r.cpuPct)) };
  };
  console.log(`hot cache, loopback, wrk -t1 -c8 -d${seconds}s, median of ${repeats}`);
  console.log('size  server          req/s     Gbit/s  CPU%   s/GB    xnginx(thr) xnginx(cpu) xstream(cpu) xexpress(cpu)');
  for (const s of ['64K', '1M', '64M']) {
    const n = row('nginx', s);
    const st = row('stream', s);
    const ex = row('express', s);
    for (const srv of ['nginx', 'stream', 'express', 'aiotx']) {
      const r = row(srv, s);
      console.log(
        `${s.padEnd(5)} ${srv.padEnd(15)} ${r.rps.toFixed(0).padStart(8)} ${r.gbps.toFixed(2).padStart(7)} ${r.cpuPct.toFixed(0).padStart(5)} ${r.cpuPerGB.toFixed(3).padStart(7)}` +
          `   ${(r.gbps / n.gbps).toFixed(2).padStart(6)}      ${(r.cpuPerGB / n.cpuPerGB).toFixed(2).padStart(6)}      ${(r.cpuPerGB / st.cpuPerGB).toFixed(2).padStart(6)}      ${(r.cpuPerGB / ex.cpuPerGB).toFixed(2).padStart(6)}`,
      );
    }
  }
  console.log('\nthreshold: aiotx body forced to sendfile vs one buffered write');
  console.log('size  sendfile req/s  buffer req/s  ratio  sendfile s/GB  buffer s/GB');
  for (const s of ['16K', '64K', '256K', '1M']) {
    const a = row('aiotx-sendfile', s);
    const b = row('aiotx-buffer', s);
    console.log(`${s.padEnd(5)} ${a.rps.toFixed(0).padStart(14)} ${b.rps.toFixed(0).padStart(13)} ${(a.rps / b.rps).toFixed(2).padStart(6)} ${a.cpuPerGB.toFixed(3).padStart(14)} ${b.cpuPerGB.toFixed(3).padStart(12)}`);
  }
}
