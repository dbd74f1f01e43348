// aiotx bench http: wrk's summary and the response checks read strictly; a short real run in which
// every server answers with the file's exact bytes; missing nginx/wrk reported as 'not installed';
// and nothing left behind (processes, temp folders) after a run, a server that never listens,
// one that exits at once, and a SIGINT in the middle of a run.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { busySecondsBetween, parseProcStatCpu } from 'aiotx-bench/internal/bench/cpu-accounting.js';
import { choosePinning, onCpu, parseCpuList } from 'aiotx-bench/internal/bench/cpu-pin.js';
import { bytesFitResponses, headProblem } from 'aiotx-bench/internal/bench/http-check.js';
import { addHttpRatios, asHttpBenchReport, type HttpBenchReport, type HttpCell } from 'aiotx-bench/internal/bench/http-bench.js';
import { HTTP_TABLES, httpTargets } from 'aiotx-bench/internal/bench/http-tables.js';
import { parseHttpBenchValues } from 'aiotx-bench/internal/bench/http-options.js';
import { parseProcPidStat, parseServerList } from 'aiotx-bench/internal/bench/http-servers.js';
import { nginxConfig } from 'aiotx-bench/internal/bench/nginx.js';
import { parseWrkOutput, wrkErrors } from 'aiotx-bench/internal/bench/wrk.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = fileURLToPath(new URL('../../bin/aiotx.js', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'aiotx-bench-http-test-'));

after(() => rmSync(scratch, { recursive: true, force: true }));

function which(name: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}
const wrk = which('wrk');
const nginx = which('nginx');
const toolsMissing = wrk === null || nginx === null ? `needs nginx and wrk on PATH (apt-get install nginx-light wrk); missing: ${[wrk ? '' : 'wrk', nginx ? '' : 'nginx'].filter(Boolean).join(', ')}` : null;

let runs = 0;
/** A fresh TMPDIR for one bench run, so what it leaves behind can be seen. */
function freshTmp(): string {
  const dir = join(scratch, `tmp-${++runs}`);
  mkdirSync(dir);
  return dir;
}

function bench(args: string[], env: Record<string, string>) {
  return spawnSync(process.execPath, [bin, 'bench', 'http', '--json', ...args], { cwd: root, encoding: 'utf8', timeout: 240_000, env: { ...process.env, ...env } });
}

/** Processes whose command line names `path` (the bench's temp folder is under it). */
function processesUnder(path: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    if (Number(pid) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      if (cmd.includes(path)) found.push(`${pid}: ${cmd.slice(0, 200)}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** Nothing of the bench remains: no process naming its TMPDIR (after a moment to be reaped), an empty TMPDIR. */
async function assertNothingLeft(tmp: string): Promise<void> {
  for (let i = 0; i < 40 && processesUnder(tmp).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(processesUnder(tmp), [], 'no process of the bench is left');
  assert.deepEqual(readdirSync(tmp), [], 'its temp folder is gone');
}

test('wrk output: the done hook line is read strictly', () => {
  const line = 'AIOTX-WRK {"duration_us":1000000,"requests":10,"bytes":12345,"connect":0,"read":1,"write":0,"status":2,"timeout":0}';
  const s = parseWrkOutput(`Running 1s test\n  10 requests in 1.00s\n${line}\n`);
  assert.deepEqual(s, { seconds: 1, requests: 10, bytes: 12345, errors: { connect: 0, read: 1, write: 0, status: 2, timeout: 0 } });
  assert.match(wrkErrors(s)!, /2 responses with status >= 400, 1 read errors/);
  assert.equal(wrkErrors({ ...s, errors: { connect: 0, read: 0, write: 0, status: 0, timeout: 0 } }), null);
  assert.throws(() => parseWrkOutput('10 requests in 1.00s, 1.13GB read'), /0 'AIOTX-WRK' lines/);
  assert.throws(() => parseWrkOutput(`${line}\n${line}\n`), /2 'AIOTX-WRK' lines/);
  assert.throws(() => parseWrkOutput('AIOTX-WRK {"duration_us":1'), /not JSON/);
  assert.throws(() => parseWrkOutput(line.replace('"bytes":12345', '"bytes":-1')), /lacks counts for bytes/);
  assert.throws(() => parseWrkOutput(line.replace('"requests":10', '"requests":1.5')), /lacks counts for requests/);
  assert.throws(() => parseWrkOutput(line.replace('1000000', '0')), /lasted 0/);
});

test('response checks: 200 with the exact Content-Length, and byte counts that fit whole responses', () => {
  const ok = 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\nContent-Type: x';
  assert.equal(headProblem(ok, 100), null);
  assert.match(headProblem(ok, 99)!, /Content-Length 100, not 99/);
  assert.match(headProblem('HTTP/1.1 304 Not Modified\r\nContent-Length: 100', 100)!, /status 304/);
  assert.match(headProblem('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked', 100)!, /Transfer-Encoding chunked/);
  assert.match(headProblem('HTTP/1.1 200 OK\r\ncontent-length: 100\r\nContent-Length: 100', 100)!, /Content-Length 100, 100/);
  assert.match(headProblem('SSH-2.0', 100)!, /status line/);
  // 10 responses of 200 + 65536 bytes on 4 connections, each maybe one unfinished response.
  assert.ok(bytesFitResponses(10 * 65736, 10, 4, 200, 65536));
  assert.ok(bytesFitResponses(10 * 65736 + 3 * 65736, 10, 4, 200, 65536));
  assert.ok(!bytesFitResponses(10 * 65736 + 5 * 65736, 10, 4, 200, 65536), 'more than one unfinished response per connection');
  assert.ok(!bytesFitResponses(10 * (200 + 1000), 10, 4, 200, 65536), 'bodies shorter than the file');
});

test('/proc/PID/stat: utime and stime counted after the last parenthesis of comm', () => {
  const fields = ['S', ...Array.from({ length: 10 }, (_, i) => String(i)), '700', '300', '0', '0'];
  assert.deepEqual(parseProcPidStat(`42 (a) b (c)) ${fields.join(' ')}`), { userTicks: 700, systemTicks: 300 });
  assert.throws(() => parseProcPidStat('42 (x) S 1 2'), /cannot read/);
});

test("the server CPU's busy time: one CPU's /proc/stat line, softirq in, idle, iowait and steal out", () => {
  const stat = (cpu1: string) => `cpu  900 0 900 900 9 0 9 0 0 0\ncpu0 1 2 3 4 5 6 7 0 0 0\ncpu1 ${cpu1}\ncpu10 5 5 5 5 5 5 5 0 0 0\nintr 1\n`;
  const before = parseProcStatCpu(stat('100 10 50 800 40 5 20 3 0 0'), 1);
  // user 100 + nice 10 + system 50 + irq 5 + softirq 20 busy; idle 800 + iowait 40; steal 3.
  assert.deepEqual(before, { total: 1028, idle: 840, softirq: 20, steal: 3 });
  assert.deepEqual(parseProcStatCpu(stat('0 0 0 0 0 0 0'), 10), { total: 35, idle: 10, softirq: 5, steal: 0 }, 'cpu10 is not cpu1');
  const after = parseProcStatCpu(stat('150 10 80 900 40 5 90 60 0 0'), 1);
  // 50 user + 30 system + 70 softirq = 150 ticks at 100 Hz; the 57 ticks of steal are not.
  assert.equal(busySecondsBetween(before, after), 1.5);
  assert.equal(busySecondsBetween(before, after, 250), 0.6);
  assert.ok(Number.isNaN(busySecondsBetween(after, before)), 'counters that went back: no figure');
  assert.throws(() => parseProcStatCpu(stat('1 2 3 4 5 6 7'), 2), /no 'cpu2' line/);
  assert.throws(() => parseProcStatCpu(stat('1 2 x'), 1), /cannot read/);
  const real = parseProcStatCpu(readFileSync('/proc/stat', 'utf8'), parseCpuList(/^Cpus_allowed_list:\s*(.+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]!)[0]!);
  assert.ok(real.total > real.idle && real.idle >= 0, 'this machine');
});

test('the busy-time column: medians, ratios to nginx and stream, its table and target, old JSON', () => {
  const cell = (server: 'nginx' | 'stream' | 'aiotx', core: (number | null)[]): HttpCell => ({
    server, size: 1 << 20, status: 'ok', reason: null,
    requestsPerSecond: 1, gbitPerSecond: 1, cpuPercent: 50, cpuSecondsPerGB: 0.1, coreSecondsPerGB: Number.NaN,
    gbitVsNginx: null, cpuPerGBVsNginx: null, corePerGBVsNginx: null, gbitVsStream: null, cpuPerGBVsStream: null, corePerGBVsStream: null,
    bodySha256: null, runs: core.map((c) => ({ requests: 1, bytes: 1e9, seconds: 1, wallSeconds: 1, cpuSeconds: 0.1, coreSeconds: c, headBytes: 1 })),
  });
  // Medians as reduce() leaves them (one run per cell here).
  const cells = [cell('nginx', [0.25]), cell('stream', [1]), cell('aiotx', [0.5])];
  cells[0]!.coreSecondsPerGB = 0.25;
  cells[1]!.coreSecondsPerGB = 1;
  cells[2]!.coreSecondsPerGB = 0.5;
  addHttpRatios(cells);
  assert.equal(cells[2]!.corePerGBVsNginx, 2);
  assert.equal(cells[2]!.corePerGBVsStream, 0.5);
  assert.equal(cells[0]!.corePerGBVsNginx, 1);
  const report = {
    kind: 'aiotx-bench-http', version: 1, load: { before: 0, after: 0 }, pinning: { server: 0, client: 1, taskset: 'taskset' },
    options: { sizes: [1 << 20], servers: ['nginx', 'stream', 'aiotx'] }, servers: [], results: cells,
  } as unknown as HttpBenchReport;
  const table = HTTP_TABLES.find((t) => /busy s\/GB/.test(t.title))!;
  assert.equal(table.cell(cells[2]!), '0.500 (2.00×, 0.50×)');
  const busy = httpTargets(report).find((t) => /busy/.test(t.what))!;
  assert.deepEqual([busy.value, busy.met], [2, false]);
  assert.equal(httpTargets({ ...report, pinning: null }).filter((t) => /busy/.test(t.what)).length, 0, 'unpinned: no such target');
  // A report saved before the column existed renders: n/a, no ratios.
  const old = JSON.parse(JSON.stringify(report)) as { results: Record<string, unknown>[] };
  for (const c of old.results) for (const k of ['coreSecondsPerGB', 'corePerGBVsNginx', 'corePerGBVsStream']) delete c[k];
  const parsed = asHttpBenchReport(old)!;
  assert.ok(Number.isNaN(parsed.results[2]!.coreSecondsPerGB));
  assert.equal(parsed.results[2]!.corePerGBVsNginx, null);
  assert.equal(table.cell(parsed.results[2]!), 'n/a');
});

test('nginx config and options: what the bench promises', () => {
  const conf = nginxConfig('/p', '/p/files', 8080);
  for (const line of ['daemon off;', 'master_process off;', 'worker_processes 1;', 'sendfile on;', 'tcp_nopush on;', 'access_log off;', 'listen 127.0.0.1:8080;', 'root /p/files;', 'pid /p/nginx.pid;']) {
    assert.ok(conf.includes(line), line);
  }
  assert.ok(!/\/var\//.test(conf), 'nothing outside its prefix');
  assert.deepEqual(parseServerList('aiotx,nginx'), ['nginx', 'aiotx'], 'table order');
  assert.throws(() => parseServerList('apache'), /unknown server 'apache'/);
  const o = parseHttpBenchValues({});
  assert.deepEqual([o.sizes, o.durationSeconds, o.connections, o.threads, o.repeat, o.warmupSeconds], [[65536, 1 << 20, 64 << 20], 2, 8, 1, 3, 1]);
  assert.equal(o.pin, true, 'pinned by default');
  assert.equal(parseHttpBenchValues({ 'no-pin': true }).pin, false);
  assert.throws(() => parseHttpBenchValues({ duration: '0.5' }), /--duration must be an integer/);
  assert.throws(() => parseHttpBenchValues({ threads: '4', connections: '2' }), /--threads \(4\) must not exceed/);
  const usage = spawnSync(process.execPath, [bin, 'bench', 'http', '--sizes', '1X'], { encoding: 'utf8' });
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /aiotx bench http: --sizes: not a size/);
});

test('pinning: CPU lists parse strictly, and a command started on a CPU runs only there', () => {
  assert.deepEqual(parseCpuList('0-1'), [0, 1]);
  assert.deepEqual(parseCpuList('3,0-1,1'), [0, 1, 3]);
  for (const bad of ['', 'x', '2-1', '0-', '1,,2']) assert.deepEqual(parseCpuList(bad), [], bad);
  assert.deepEqual(onCpu(null, 'wrk', ['-t', '1']), ['wrk', ['-t', '1']]);
  const taskset = which('taskset');
  assert.equal(choosePinning(null).pinning, null);
  const allowed = parseCpuList(/^Cpus_allowed_list:\s*(.+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]!);
  if (taskset === null || allowed.length < 2) {
    assert.match(choosePinning(taskset).why!, /not pinned/);
    return;
  }
  const { pinning } = choosePinning(taskset);
  assert.deepEqual(pinning, { server: allowed[0], client: allowed.at(-1), taskset });
  for (const cpu of [pinning!.server, pinning!.client]) {
    const [cmd, args] = onCpu({ cpu, taskset }, 'sh', ['-c', 'grep Cpus_allowed_list /proc/self/status']);
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^Cpus_allowed_list:\\s*${cpu}\\s*$`, 'm'), `runs on CPU ${cpu} only`);
  }
});

test('a short run: every server answers with the file\'s bytes, every row has figures, nothing is left', { skip: toolsMissing ?? false }, async () => {
  const tmp = freshTmp();
  const reportDir = join(scratch, 'report');
  const r = bench(['--sizes', '1K,16K', '--duration', '1', '--warmup', '0', '--repeat', '1', '--connections', '2', '--report', reportDir], { TMPDIR: tmp });
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout) as HttpBenchReport;
  assert.equal(report.kind, 'aiotx-bench-http');
  assert.deepEqual(report.servers.map((s) => [s.name, s.status]), ['nginx', 'stream', 'express', 'fastify', 'aiotx'].map((n) => [n, 'ok']));
  assert.equal(report.results.length, 10);
  const pinned = choosePinning(which('taskset')).pinning;
  assert.deepEqual(report.pinning, pinned, 'servers and wrk pinned apart where the machine allows');
  for (const c of report.results) {
    const what = `${c.server} ${c.size}`;
    const file = report.files.find((f) => f.size === c.size)!;
    assert.equal(c.status, 'ok', `${what}: ${c.reason}`);
    assert.match(file.sha256, /^[0-9a-f]{64}$/);
    assert.equal(c.bodySha256, file.sha256, `${what}: the checked body hashes like the file`);
    assert.equal(c.runs.length, 1);
    const run = c.runs[0]!;
    assert.ok(run.requests > 0 && run.cpuSeconds >= 0 && run.headBytes > 0, what);
    assert.ok(run.bytes >= run.requests * c.size, `${what}: at least the bodies of the completed responses`);
    assert.ok(bytesFitResponses(run.bytes, run.requests, 2, run.headBytes, c.size), `${what}: ${run.bytes} bytes fit ${run.requests} responses`);
    for (const f of [c.requestsPerSecond, c.gbitPerSecond, c.cpuPercent, c.cpuSecondsPerGB]) assert.ok(Number.isFinite(f) && f >= 0, `${what}: figures`);
    assert.ok(c.gbitVsNginx !== null && c.gbitVsStream !== null, `${what}: ratios`);
    if (pinned) {
      assert.ok(run.coreSeconds !== null && run.coreSeconds >= 0 && Number.isFinite(c.coreSecondsPerGB), `${what}: the server CPU's busy time`);
      assert.ok(c.corePerGBVsNginx !== null, `${what}: its ratio`);
    } else {
      assert.equal(run.coreSeconds, null, `${what}: unpinned, no one CPU to read`);
    }
  }
  assert.ok(report.results.filter((c) => c.server === 'nginx').every((c) => c.gbitVsNginx === 1));
  await assertNothingLeft(tmp);
  assert.ok(existsSync(join(reportDir, 'index.html')) && existsSync(join(reportDir, 'throughput.svg')));
  const again = spawnSync(process.execPath, [bin, 'report', join(reportDir, 'results.json')], { cwd: root, encoding: 'utf8' });
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /Server CPU s\/GB/);
  assert.match(again.stdout, /Server CPU's busy s\/GB from \/proc\/stat/);
  assert.match(again.stdout, /aiotx's targets:\n {2}1K: aiotx requests\/s × express\.static/);
});

test('wrk or nginx missing: the rows say not installed and how to install', async () => {
  const empty = join(scratch, 'empty-path');
  mkdirSync(empty);
  let tmp = freshTmp();
  let r = bench(['--server', 'nginx,aiotx', '--sizes', '1K', '--duration', '1', '--warmup', '0', '--repeat', '1'], { PATH: empty, TMPDIR: tmp });
  assert.equal(r.status, 0, r.stderr);
  let report = JSON.parse(r.stdout) as HttpBenchReport;
  for (const c of report.results) {
    assert.equal(c.status, 'not installed');
    assert.match(c.reason!, /^wrk not installed \(Debian\/Ubuntu: apt-get install nginx-light wrk\)/);
  }
  await assertNothingLeft(tmp);
  if (wrk === null) return;
  const onlyWrk = join(scratch, 'only-wrk');
  mkdirSync(onlyWrk);
  symlinkSync(wrk, join(onlyWrk, 'wrk'));
  tmp = freshTmp();
  r = bench(['--server', 'nginx,aiotx', '--sizes', '1K', '--duration', '1', '--warmup', '0', '--repeat', '1'], { PATH: onlyWrk, TMPDIR: tmp });
  assert.equal(r.status, 0, r.stderr);
  report = JSON.parse(r.stdout) as HttpBenchReport;
  const [n, a] = [report.results.find((c) => c.server === 'nginx')!, report.results.find((c) => c.server === 'aiotx')!];
  assert.equal(n.status, 'not installed');
  assert.match(n.reason!, /^nginx (not installed \(Debian\/Ubuntu: apt-get install nginx-light wrk\)|not on PATH \(it is at \/usr\/sbin\/nginx)/);
  assert.equal(a.status, 'ok', a.reason ?? '');
  assert.equal(a.gbitVsNginx, null, 'no ratio to a row that did not run');
  assert.equal(report.pinning, null, 'no taskset on this PATH');
  assert.match(report.pinningNote!, /taskset not found/);
  await assertNothingLeft(tmp);
});

test('a server that never listens, or exits at once: its row fails, the rest run, nothing is left', { skip: toolsMissing ?? false }, async () => {
  for (const mode of ['hang', 'exit']) {
    const fake = join(scratch, `fake-${mode}`);
    mkdirSync(fake);
    const pids = join(fake, 'pids');
    const body = mode === 'hang' ? 'exec /bin/sleep 300' : 'echo "nginx: [emerg] simulated start failure" >&2; exit 1';
    writeFileSync(join(fake, 'nginx'), `#!/bin/sh\ncase "$1" in -v) echo "nginx version: nginx/0-fake" >&2; exit 0;; esac\necho $$ >> ${pids}\n${body}\n`);
    chmodSync(join(fake, 'nginx'), 0o755);
    const tmp = freshTmp();
    const r = bench(['--server', 'nginx,aiotx', '--sizes', '1K', '--duration', '1', '--warmup', '0', '--repeat', '1'], { PATH: `${fake}:${process.env.PATH}`, TMPDIR: tmp });
    assert.equal(r.status, 1, `a failed row fails the command: ${r.stderr}`);
    assert.match(r.stderr, /nginx failed/);
    const report = JSON.parse(r.stdout) as HttpBenchReport;
    const [n, a] = [report.results.find((c) => c.server === 'nginx')!, report.results.find((c) => c.server === 'aiotx')!];
    assert.equal(n.status, 'failed');
    assert.match(n.reason!, mode === 'hang' ? /nginx did not listen on 127\.0\.0\.1:\d+ within 10 s/ : /nginx exited \(exit code 1\): nginx: \[emerg\] simulated start failure/);
    assert.equal(a.status, 'ok', a.reason ?? '');
    const started = readFileSync(pids, 'utf8').trim().split('\n').map(Number);
    assert.equal(started.length, 1);
    assert.ok(!existsSync(`/proc/${started[0]}`) || /^State:\s+Z/m.test(readFileSync(`/proc/${started[0]}/status`, 'utf8')), `the fake nginx (${started[0]}) is gone`);
    await assertNothingLeft(tmp);
  }
});

test('SIGINT during a run: every server and wrk is killed and the temp folder removed', { skip: toolsMissing ?? false }, async () => {
  const tmp = freshTmp();
  const child = spawn(process.execPath, [bin, 'bench', 'http', '--sizes', '1K', '--duration', '5', '--warmup', '0', '--repeat', '3'], {
    cwd: root,
    env: { ...process.env, TMPDIR: tmp },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const closed = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('close', (code, signal) => resolve([code, signal])));
  // Wait until wrk runs (its -s script lies in the bench's temp folder).
  const until = Date.now() + 60_000;
  while (!processesUnder(tmp).some((p) => / -s \S*wrk-done\.lua/.test(p))) {
    assert.ok(Date.now() < until, `wrk never started: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(processesUnder(tmp).some((p) => /nginx/.test(p)), 'nginx is running');
  child.kill('SIGINT');
  const [code, signal] = await closed;
  assert.ok(signal === 'SIGINT' || code === 130, `ended by SIGINT (code ${code}, signal ${signal}): ${stderr}`);
  await assertNothingLeft(tmp);
});
