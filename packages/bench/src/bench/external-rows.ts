// The bench's external rows: iperf3 and netperf measuring the same path in the same run, each
// against its own server (iperf3 -s, netserver) that the bench starts and stops on loopback.
// Their output is parsed and checked, never trusted: a tool that prints something else fails
// its row with the reason.
import { spawn } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import type { ExternalTool } from './bench-methods.js';
import { parseProcStat, systemCpuPercent } from './cpu-accounting.js';
import { freePort, waitListening } from './loopback.js';

/** Where each external tool is, or why it is not here. */
export type ExternalTools = Record<ExternalTool, { path: string; server: string } | { missing: string }>;

export const INSTALL_HINT: Record<ExternalTool, string> = {
  iperf3: 'iperf3 not installed (Debian/Ubuntu: apt-get install iperf3)',
  netperf:
    'netperf not installed (not in Debian main: build it from https://github.com/HewlettPackard/netperf ' +
    "with ./autogen.sh && ./configure && make, then pass --netperf PATH/src/netperf; netserver must sit beside it)",
};

/** Output read from a tool, at most: its JSON for a few seconds of test is far smaller. */
const MAX_OUTPUT = 4 << 20;

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) if (dir && executable(join(dir, name))) return join(dir, name);
  return null;
}

/** Finds iperf3 on PATH, netperf at `netperfPath` (else on PATH), each with its server. */
export function findExternalTools(netperfPath: string | null): ExternalTools {
  const iperf3 = onPath('iperf3');
  let netperf: ExternalTools['netperf'];
  const client = netperfPath ?? onPath('netperf');
  if (netperfPath !== null && !executable(netperfPath)) netperf = { missing: `--netperf ${netperfPath}: not an executable file` };
  else if (client === null) netperf = { missing: INSTALL_HINT.netperf };
  else {
    const beside = join(dirname(client), 'netserver');
    const server = executable(beside) ? beside : onPath('netserver');
    netperf = server === null ? { missing: `netserver not found beside ${client} or on PATH` } : { path: client, server };
  }
  return { iperf3: iperf3 === null ? { missing: INSTALL_HINT.iperf3 } : { path: iperf3, server: iperf3 }, netperf };
}

/** One external run, in the units of the bench's own rows. */
export interface ExternalSample {
  bytes: number;
  wallSeconds: number;
  /** The tool's own sender CPU, user+sys seconds (iperf3: its process; netperf: see `systemWide`). */
  cpuSeconds: number;
  /** The receiver's CPU seconds as the tool reports it, or null. */
  receiverCpuSeconds: number | null;
  systemPercent: number;
  softirqPercent: number;
}

class ToolOutputError extends Error {}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** iperf3 --json of a client run: bytes, seconds and CPU from `end`; its `error` if it failed. */
export function parseIperf3Json(text: string): Omit<ExternalSample, 'systemPercent' | 'softirqPercent'> {
  let j: { error?: unknown; end?: { sum_sent?: Record<string, unknown>; cpu_utilization_percent?: Record<string, unknown> } };
  try {
    j = JSON.parse(text) as typeof j;
  } catch {
    throw new ToolOutputError('iperf3 printed something that is not JSON');
  }
  if (typeof j !== 'object' || j === null) throw new ToolOutputError('iperf3 printed no JSON object');
  if (typeof j.error === 'string') throw new ToolOutputError(`iperf3: ${j.error.slice(0, 300)}`);
  const sent = j.end?.sum_sent;
  const cpu = j.end?.cpu_utilization_percent;
  if (!sent || !cpu || !isCount(sent.bytes) || !isCount(sent.seconds) || sent.seconds === 0 || !isCount(cpu.host_total)) {
    throw new ToolOutputError('iperf3 --json without end.sum_sent.bytes/seconds and end.cpu_utilization_percent.host_total');
  }
  // iperf3's CPU figures are user+sys over wall time of its process, in % of one CPU.
  return {
    bytes: sent.bytes,
    wallSeconds: sent.seconds,
    cpuSeconds: (cpu.host_total / 100) * sent.seconds,
    receiverCpuSeconds: isCount(cpu.remote_total) ? (cpu.remote_total / 100) * sent.seconds : null,
  };
}

/** The columns asked of netperf with -o, in this order. */
export const NETPERF_SELECTORS = 'THROUGHPUT,THROUGHPUT_UNITS,ELAPSED_TIME,LOCAL_CPU_UTIL,REMOTE_CPU_UTIL';

/**
 * netperf -P 0 -c -C ... -- -o NETPERF_SELECTORS: one CSV line. Its CPU figures are % of all
 * CPUs of the machine (from /proc/stat), so on loopback they count both ends together.
 */
export function parseNetperfLine(text: string, cpuCount: number): Omit<ExternalSample, 'systemPercent' | 'softirqPercent'> {
  const line = text.trim().split('\n').at(-1) ?? '';
  const f = line.split(',');
  const [throughput, units, elapsed, local, remote] = [Number(f[0]), f[1], Number(f[2]), Number(f[3]), Number(f[4])];
  if (f.length !== 5 || !isCount(throughput) || !isCount(elapsed) || elapsed === 0 || !isCount(local) || units !== '10^6bits/s') {
    throw new ToolOutputError(`netperf printed '${line.slice(0, 200)}', not ${NETPERF_SELECTORS} in 10^6bits/s`);
  }
  return {
    bytes: (throughput * 1e6 * elapsed) / 8,
    wallSeconds: elapsed,
    cpuSeconds: (local / 100) * cpuCount * elapsed,
    receiverCpuSeconds: isCount(remote) ? (remote / 100) * cpuCount * elapsed : null,
  };
}

/** Runs a command to its end; its stdout (capped), or an error naming how it ended. */
function runTool(path: string, args: string[], limitMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(path, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      if (out.length > MAX_OUTPUT) child.kill('SIGKILL');
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err = (err + c).slice(-2000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (out.length > MAX_OUTPUT) return reject(new ToolOutputError(`${path} printed more than ${MAX_OUTPUT} bytes`));
      // iperf3 --json reports its failures in the JSON (exit code 1): the parser says why.
      if (code === 0 || (code === 1 && out.trim().startsWith('{'))) return resolve(out);
      reject(new Error(`${path} ${signal ? `killed by ${signal}` : `exit code ${code}`}: ${(err.trim() || out.trim()).split('\n')[0]?.slice(0, 300) ?? ''}`));
    });
  });
}

/** Until iperf3 -s prints "Server listening". */
function saysListening(stdout: NodeJS.ReadableStream, limitMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`iperf3 -s did not say it listens within ${limitMs / 1000} s`)), limitMs);
    stdout.setEncoding('utf8');
    stdout.on('data', (c: string) => {
      seen = (seen + c).slice(-4096);
      if (/Server listening/.test(seen)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

const systemTimes = () => parseProcStat(readFileSync('/proc/stat', 'utf8'));

export interface ExternalJob {
  tool: ExternalTool;
  /** The tool's sendfile test (iperf3 -Z, netperf TCP_SENDFILE) instead of its send loop. */
  sendfile: boolean;
  size: number;
  durationSeconds: number;
  /** A file of at least `size` bytes for netperf TCP_SENDFILE. */
  sendfileSource: string;
}

/**
 * One run of iperf3 or netperf on loopback against its own server, started here and stopped
 * afterwards. iperf3 takes whole seconds (-t), so the duration is rounded up to at least 1 s.
 */
export async function runExternal(tools: ExternalTools, job: ExternalJob): Promise<ExternalSample> {
  const tool = tools[job.tool];
  if ('missing' in tool) throw new Error(tool.missing);
  const port = await freePort();
  const seconds = job.tool === 'iperf3' ? Math.max(1, Math.ceil(job.durationSeconds)) : job.durationSeconds;
  const limitMs = seconds * 1000 + 30_000;
  const serverArgs = job.tool === 'iperf3' ? ['-s', '--forceflush', '-B', '127.0.0.1', '-p', String(port)] : ['-D', '-L', '127.0.0.1', '-p', String(port)];
  const server = spawn(tool.server, serverArgs, { stdio: ['ignore', 'pipe', 'ignore'] });
  const serverFailed = new Promise<never>((_, reject) => {
    server.once('error', reject);
    server.once('exit', (code, signal) => reject(new Error(`${tool.server} exited early (${signal ?? `code ${code}`})`)));
  });
  serverFailed.catch(() => {});
  try {
    // A probe connection would count as an iperf3 test: wait for it to say it listens instead.
    const ready = job.tool === 'iperf3' ? saysListening(server.stdout!, 10_000) : waitListening(port, 10_000, "the tool's server");
    await Promise.race([ready, serverFailed]);
    const args =
      job.tool === 'iperf3'
        ? ['-c', '127.0.0.1', '-p', String(port), '-l', String(job.size), '-t', String(seconds), '--json', ...(job.sendfile ? ['-Z'] : [])]
        : ['-H', '127.0.0.1', '-p', String(port), '-t', job.sendfile ? 'TCP_SENDFILE' : 'TCP_STREAM', '-l', String(seconds), '-c', '-C', '-P', '0',
           ...(job.sendfile ? ['-F', job.sendfileSource] : []), '--', '-m', String(job.size), '-o', NETPERF_SELECTORS];
    const before = systemTimes();
    const out = await Promise.race([runTool(tool.path, args, limitMs), serverFailed]);
    const system = systemCpuPercent(before, systemTimes(), cpus().length);
    const parsed = job.tool === 'iperf3' ? parseIperf3Json(out) : parseNetperfLine(out, cpus().length);
    return { ...parsed, systemPercent: system.busy, softirqPercent: system.softirq };
  } finally {
    server.removeAllListeners('exit');
    server.kill('SIGKILL');
  }
}
