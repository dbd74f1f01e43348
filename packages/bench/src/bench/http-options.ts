// `aiotx bench http`'s help and options, parsed into HttpBenchOptions (a RangeError names the
// flag that is wrong; the CLI shows it as a usage error).
import type { HttpBenchOptions } from './http-bench.js';
import { HTTP_SERVERS, parseServerList } from './http-servers.js';
import { parseSizeList } from './sizes.js';

export const HTTP_BENCH_HELP = `Usage: aiotx bench http [--server LIST] [--sizes LIST] [--duration SECS] [--warmup SECS]
                        [--connections N] [--threads N] [--repeat N] [--cpu-prof DIR]
                        [--no-pin] [--report DIR] [--json]

File serving over loopback, the comparison Node users ask for: each server below serves the same
page-cached files (random bytes, written and read once first) from a process of its own, and wrk
drives each in turn with keep-alive connections: rounds interleaved (A B C D E A B C D E), the
tables show medians. Rows: requests/s, Gbit/s (every byte wrk read), the server's CPU as % of one
core and CPU seconds per GB, and ratios to nginx and to the stream server; then aiotx's targets.

Servers (--server, comma-separated; default all):
  nginx    nginx-light: sendfile on, tcp_nopush on, worker_processes 1, access_log off,
           master_process off (its one process serves and is counted), a private prefix
  stream   node:http, stat + createReadStream().pipe(res): what every Node static stack does
  express  express.static (serve-static)
  fastify  @fastify/static
  aiotx    node:http with aiotx's serveStatic (sendFile for bodies from 64 KiB)

Server CPU is user+sys of the server process, all its threads, from /proc/PID/stat over the wrk
run; wrk's CPU is not counted. Every server runs on the first CPU this process may use and wrk
on the last (taskset): on loopback the receiver's TCP work runs on the sending CPU and is billed
to whatever runs there, so unpinned the same server's CPU per GB moves ±50 % between runs.
Pinned, one more table reads the server's CPU as a whole from /proc/stat over the same window:
its busy time (user, system, irq, softirq; not idle, iowait or steal) per GB, which also counts the
softirq work charged to no process (or to whichever ran then), and anything else that ran on
that CPU. Before every run one GET must answer 200 with the file's
Content-Length and bytes (sha256); during it wrk must see no error and read exactly the bytes of
its responses: otherwise the cell fails. nginx or wrk missing: those rows say 'not installed'
(Debian/Ubuntu: apt-get install nginx-light wrk). Express and Fastify are devDependencies of aiotx.

Options:
  --server LIST      servers to run (${HTTP_SERVERS.join(',')})
  --sizes LIST       file sizes, K/M/G suffixes (default 64K,1M,64M)
  --duration SECS    whole seconds per run (wrk's unit; default 2)
  --warmup SECS      an unmeasured run per server and size before the first round (default 1; 0: none)
  --connections N    wrk connections, kept alive (default 8)
  --threads N        wrk threads (default 1)
  --repeat N         runs per cell; the tables show medians (default 3)
  --cpu-prof DIR     run the Node servers with node --cpu-prof, profiles into DIR
  --no-pin           let the scheduler place servers and wrk (default: pinned apart, see above)
  --report DIR       also write DIR/index.html with charts (standalone SVG) and results.json
  --json             print the results as JSON (re-render later with 'aiotx report')
  -h, --help         show this help
`;

export const HTTP_BENCH_OPTIONS = {
  server: { type: 'string' },
  sizes: { type: 'string' },
  duration: { type: 'string' },
  warmup: { type: 'string' },
  connections: { type: 'string' },
  threads: { type: 'string' },
  repeat: { type: 'string' },
  'cpu-prof': { type: 'string' },
  'no-pin': { type: 'boolean' },
  report: { type: 'string' },
  json: { type: 'boolean' },
} as const;

function integer(text: string, flag: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || n < min || n > max) throw new RangeError(`${flag} must be an integer from ${min} to ${max}, got '${text}'`);
  return n;
}

function listed<T>(parse: () => T, flag: string): T {
  try {
    return parse();
  } catch (err) {
    throw new RangeError(`${flag}: ${(err as Error).message}`);
  }
}

export function parseHttpBenchValues(values: Record<string, string | boolean | undefined>): HttpBenchOptions & { json: boolean; reportDir: string | null } {
  const text = (name: string, fallback: string) => String(values[name] ?? fallback);
  const connections = integer(text('connections', '8'), '--connections', 1, 10_000);
  const threads = integer(text('threads', '1'), '--threads', 1, 256);
  if (threads > connections) throw new RangeError(`--threads (${threads}) must not exceed --connections (${connections}): each wrk thread needs a connection`);
  return {
    servers: listed(() => parseServerList(text('server', HTTP_SERVERS.join(','))), '--server'),
    sizes: listed(() => [...new Set(parseSizeList(text('sizes', '64K,1M,64M')))], '--sizes'),
    durationSeconds: integer(text('duration', '2'), '--duration', 1, 3600),
    warmupSeconds: integer(text('warmup', '1'), '--warmup', 0, 3600),
    connections,
    threads,
    repeat: integer(text('repeat', '3'), '--repeat', 1, 1000),
    cpuProfileDir: values['cpu-prof'] === undefined ? null : String(values['cpu-prof']),
    pin: values['no-pin'] !== true,
    json: values.json === true,
    reportDir: values.report === undefined ? null : String(values.report),
  };
}
