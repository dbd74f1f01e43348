// The commands aiotx-bench adds to the `aiotx` command line: bench, serve and report. The library's
// CLI (aiotx/src/cli/main.ts) finds them here, parses each command's options with node:util's
// parseArgs and calls run() with the values; commands load their modules lazily.
import type { ParseArgsConfig } from 'node:util';
import { parseHostPort } from '../bench/host-port.js';
import { HTTP_BENCH_HELP, HTTP_BENCH_OPTIONS, parseHttpBenchValues } from '../bench/http-options.js';
import { parseSize, parseSizeList } from '../bench/sizes.js';

/** A mistake in how aiotx was called; the CLI prints it with the command's --help hint and exits 2. */
export class UsageError extends Error {
  readonly code = 'ERR_AIOTX_USAGE';
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
  }
}

type Values = Record<string, string | boolean | undefined>;

/** What the `aiotx` CLI needs of a command (the same shape as its own probe command). */
export interface Command {
  summary: string;
  help: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /** Names of the positional arguments it takes, all required (none when absent). */
  positionals?: string[];
  /** Rewrites the arguments before parsing (bench: a bare `--sink` means `--sink udp`). */
  preprocess?(args: string[]): string[];
  /** Commands of their own under this one's name (`aiotx bench http`), chosen by the first argument. */
  subcommands?: Record<string, Command>;
  run(values: Values, positionals: string[]): Promise<void>;
}

const DEFAULT_SERVE_PORT = 7744;

const BENCH_HELP = `Usage: aiotx bench [--method LIST] [--sizes LIST] [--duration SECS] [--depth N] [--streams N]
                   [--repeat N] [--batch N] [--nodelay] [--host HOST:PORT [--peer aiotx|iperf3]] [--verify] [--netperf PATH]
                   [--report DIR] [--json]
       aiotx bench --sink [udp] [--duration SECS] [--depth N] [--repeat N] [--batch N]
                   [--datagram-size SIZE] [--segment-size N] [--sndbuf SIZE] [--json]
       aiotx bench --sink tcp [--method LIST] [--sizes LIST] [--duration SECS] [--depth N] [--batch N]
                   [--repeat N] [--nodelay] [--hot | --working-set SIZE] [--report DIR] [--json]
       aiotx bench --sink tcp --calibrate [--sizes LIST] [--duration SECS] [--depth N]
                   [--repeat N] [--nodelay] [--working-set SIZE] [--json]
       aiotx bench http [...]   file serving: nginx, Node, Express, Fastify and aiotx under wrk
                                (see 'aiotx bench http --help')

Measures what each way of sending a TCP stream costs, like the netperf runs of FreeBSD r303405:
throughput, the sender's CPU as % of one core (this process, and the whole machine with its
softirq part), service demand (µs of CPU per KB), the share of bytes the kernel copied, and
ratios to 'reference' and 'write'. Rows are methods, columns write sizes. Every method and run
is a sender process of its own; methods run interleaved, repeated, and the tables show medians.

Without --host, an 'aiotx serve' is started on loopback. Loopback delivery copies every byte, so
those figures are path overhead, not zero-copy gains: use --host against 'aiotx serve' on another
machine for a NIC, or --sink to see zero-copy remove CPU locally.

Methods (--method, comma-separated; aio-zc means all four aio-zc-*):
  write               net.Socket.write, waiting for each write's callback
  aio-copy            aioWrite with { zeroCopy: 'off' }
  aio-copy-batch      the batched form: aioWrite(socket, [--batch buffers]), { zeroCopy: 'off' }
  aio-auto            aioWrite with no zeroCopy option: the policy decides (not in the default list)
  aio-zc-uring        aioWrite with { zeroCopy: 'on' } on io_uring SEND_ZC
  aio-zc-pool         as aio-zc-uring, from createBufferPool buffers (registered with the ring)
  aio-zc-pool-batch   the batched form of aio-zc-pool
  aio-zc-msgzerocopy  aioWrite with { zeroCopy: 'on' } on MSG_ZEROCOPY
  sendfile            sendFile from a file in the page cache
  reference           a C loop of non-blocking send(2) until EAGAIN, then poll(): the floor,
                      no JavaScript per write
  iperf3              external: iperf3 -c -l SIZE against its own iperf3 -s on loopback
  iperf3-sendfile     external: iperf3 -c -Z (sendfile)
  netperf             external: netperf TCP_STREAM against its own netserver (see --netperf)
  netperf-sendfile    external: netperf TCP_SENDFILE
('external' means all four; they run on loopback only, with whole seconds for iperf3.)
A method this machine cannot run shows why instead of numbers (a tool not installed: how to get it).

With --sink (root; elsewhere it says why it skipped and exits 0): UDP GSO datagrams into a veth
whose peer is down, so the kernel drops them after the send path and zero-copy is real: copy,
msgzerocopy, uring and uring-pool compared by CPU per GB and CPU µs per write, each write one
aioWrite call as a user's loop makes it, and in the batched form (--batch N buffers per aioWrite
call, one datagram each; --batch 1 leaves it out), beside the C floor: reference (a send(2) loop
of the same datagrams), reference-zc (the same with MSG_ZEROCOPY) and reference-uring (io_uring
SEND_ZC from one registered buffer, --depth in flight, refilled as one linked chain per
io_uring_enter: what uring-pool costs without aiotx). Plain --sink is --sink udp.

With --sink tcp (root; elsewhere it says why it skipped and exits 0): every method above, plus
the zero-copy floors in C: reference-zc (the C loop with MSG_ZEROCOPY), reference-uring (io_uring
SEND_ZC with MSG_WAITALL, --depth in flight, from the working set registered as one fixed buffer:
aio-zc-pool without aiotx) and reference-uring-unregistered (the same from plain memory:
aio-zc-uring without aiotx), over a TCP connection made with
TCP_REPAIR into a veth whose packets a tc filter steals, ACKed by an injector thread: TCP
zero-copy is real. Sender CPU only; the tables add % of one core at 40 Gbit/s with the seed's
published figures beside. Cold by default: each sender rotates through --working-set of buffers.

With --sink tcp --calibrate (root; minutes): where zero-copy starts saving CPU on this host.
aio-copy against aio-zc-uring and aio-zc-msgzerocopy at 4K..1M (powers of two), cold, then hot;
prints sender CPU s/GB per size, the crossover of each backend, and the value to use for
AIOTX_ZEROCOPY_THRESHOLD (the cold crossover: real servers send data that is not in cache).

Options:
  --method LIST         methods to run (default: all but aio-auto)
  --sizes LIST          write sizes, K/M/G suffixes (default 32K,256K,512K,1M); not with --sink
  --duration SECS       seconds per cell or run (default 1; 2 with --sink)
  --depth N             sends in flight per stream, each with its own buffer (default 4; 8 with --sink)
  --streams N           parallel TCP connections (default 1)
  --repeat N            runs per cell; the tables show medians (default 3)
  --nodelay             TCP_NODELAY on the sender (Nagle holds small segments until the previous
                        is ACKed, and a zero-copy write settles only on that ACK)
  --host HOST:PORT      measure against 'aiotx serve' at HOST:PORT instead of loopback
  --peer KIND           what listens at --host: 'aiotx' (aiotx serve, the default) or 'iperf3'
                        (a stock iperf3 -s, e.g. HOST:5201, driven through iperf3's own control
                        protocol; the receiver column is then iperf3's CPU figure)
  --verify              hash every stream at both ends (sha256) and fail on any difference
                        (the server must run with --verify; hashing costs CPU at both ends)
  --netperf PATH        the netperf binary for the netperf rows (default: netperf on PATH);
                        netserver must sit beside it (netperf is not packaged in Debian main)
  --report DIR          also write DIR/index.html with charts (standalone SVG) and results.json
  --json                print the results as JSON (re-render later with 'aiotx report')
  --sink [udp|tcp]      the sink-rig benches described above (plain --sink: udp)
  --hot                 --sink tcp: one buffer per send in flight, cache-hot
  --working-set SIZE    --sink tcp: memory each sender rotates through (default 256M: cold)
  --calibrate           --sink tcp: find the zero-copy threshold (see above)
  --batch N             buffers per aioWrite call in the batched rows (aio-copy-batch, aio-zc-pool-batch,
                        also with --sink tcp; with --sink, each backend's batch row) (default 8)
  --datagram-size SIZE  --sink: bytes per write, one GSO datagram (default 65000, at most 65507)
  --segment-size N      --sink: UDP_SEGMENT, bytes per datagram (default 1472: fits the rig's MTU)
  --sndbuf SIZE         --sink: SO_SNDBUF of every sender's socket (default: the system's,
                        net.core.wmem_default); room for a whole chain lets io_uring datagram
                        sends from wired buffers go unlinked (see the README)
  -h, --help            show this help
`;

const SERVE_HELP = `Usage: aiotx serve [--listen HOST:PORT] [--verify] [--json]

The receiving end of 'aiotx bench --host': accepts the bench's control connection on PORT and its
data streams on PORT+1, drops the data in a native thread per stream (recv with MSG_TRUNC: no copy
to user space, no JavaScript per chunk) and reports its own CPU time back to the sender. Bad
control input closes that connection with a log line; the server keeps serving. Ctrl-C stops it.

Options:
  --listen HOST:PORT     where to listen (default 127.0.0.1:${DEFAULT_SERVE_PORT}; PORT 0 picks free ports);
                         use 0.0.0.0:PORT to accept other hosts
  --verify               read the streams in JavaScript and hash them (sha256) so
                         'aiotx bench --verify' can check every byte; costs receiver CPU
  --json                 print the listening line (and log lines) as JSON
  --until-stdin-closes   exit when standard input closes (how 'aiotx bench' runs a local server)
  -h, --help             show this help
`;

const REPORT_HELP = `Usage: aiotx report FILE.json [--report DIR]

Re-renders a run saved with 'aiotx bench --json > FILE.json' (or a report's results.json): prints
its tables, and with --report writes the HTML report with charts to DIR.

Options:
  --report DIR  write DIR/index.html, the charts as SVG and results.json
  -h, --help    show this help
`;

function positiveNumber(text: string, flag: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} must be a positive number, got '${text}'`, 'bench');
  return n;
}

function positiveInteger(text: string, flag: string, max: number): number {
  const n = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || n < 1 || n > max) throw new UsageError(`${flag} must be an integer from 1 to ${max}, got '${text}'`, 'bench');
  return n;
}

/** `aiotx bench http`: a subcommand of bench with options of its own. */
const BENCH_HTTP: Command = {
  summary: 'file serving over loopback: nginx, Node, Express, Fastify and aiotx under wrk',
  help: HTTP_BENCH_HELP,
  options: HTTP_BENCH_OPTIONS,
  async run(values) {
    let options;
    try {
      options = parseHttpBenchValues(values);
    } catch (err) {
      throw new UsageError((err as Error).message, 'bench http');
    }
    const { runHttpBenchCommand } = await import('./bench-command.js');
    await runHttpBenchCommand(options);
  },
};

export const commands: Record<string, Command> = {
  bench: {
    summary: 'CPU and throughput of each way of sending: loopback, another host (--host), or a sink (--sink)',
    help: BENCH_HELP,
    preprocess: bareSinkMeansUdp,
    subcommands: { http: BENCH_HTTP },
    options: {
      method: { type: 'string' },
      sizes: { type: 'string' },
      duration: { type: 'string' },
      depth: { type: 'string' },
      streams: { type: 'string' },
      repeat: { type: 'string' },
      nodelay: { type: 'boolean' },
      host: { type: 'string' },
      verify: { type: 'boolean' },
      report: { type: 'string' },
      netperf: { type: 'string' },
      peer: { type: 'string' },
      sink: { type: 'string' },
      hot: { type: 'boolean' },
      'working-set': { type: 'string' },
      calibrate: { type: 'boolean' },
      'datagram-size': { type: 'string' },
      'segment-size': { type: 'string' },
      sndbuf: { type: 'string' },
      batch: { type: 'string' },
      json: { type: 'boolean' },
    },
    async run(values) {
      if (values.sink === 'tcp') return values.calibrate === true ? runCalibrate(values) : runTcpSink(values);
      if (values.calibrate !== undefined) throw new UsageError('--calibrate applies to --sink tcp only', 'bench');
      if (values.sink === 'udp') return runSink(values);
      if (values.sink !== undefined) throw new UsageError(`--sink takes udp or tcp, got '${String(values.sink)}'`, 'bench');
      for (const flag of ['datagram-size', 'segment-size', 'sndbuf']) {
        if (values[flag] !== undefined) throw new UsageError(`--${flag} applies to --sink only`, 'bench');
      }
      const peer = String(values.peer ?? 'aiotx');
      if (peer !== 'aiotx' && peer !== 'iperf3') throw new UsageError(`--peer must be 'aiotx' or 'iperf3', got '${peer}'`, 'bench');
      if (values.peer !== undefined && values.host === undefined) throw new UsageError('--peer needs --host (the peer to drive)', 'bench');
      if (peer === 'iperf3' && values.verify === true) throw new UsageError('--verify needs an aiotx serve peer (iperf3 -s does not hash streams)', 'bench');
      for (const flag of ['hot', 'working-set']) {
        if (values[flag] !== undefined) throw new UsageError(`--${flag} applies to --sink tcp only`, 'bench');
      }
      const { parseMethodList } = await import('../bench/bench-methods.js');
      const options = {
        sizes: parsed(() => parseSizeList(String(values.sizes ?? '32K,256K,512K,1M')), '--sizes'),
        methods: parsed(() => parseMethodList(String(values.method ?? 'write,aio-copy,aio-copy-batch,aio-zc,sendfile,reference,external')), '--method'),
        durationSeconds: positiveNumber(String(values.duration ?? '1'), '--duration'),
        depth: positiveInteger(String(values.depth ?? '4'), '--depth', 1024),
        batch: positiveInteger(String(values.batch ?? '8'), '--batch', 1024),
        streams: positiveInteger(String(values.streams ?? '1'), '--streams', 64),
        repeat: positiveInteger(String(values.repeat ?? '3'), '--repeat', 1000),
        noDelay: values.nodelay === true,
        host: values.host === undefined ? null : parsed(() => parseHostPort(String(values.host)), '--host'),
        verify: values.verify === true,
        netperf: values.netperf === undefined ? null : String(values.netperf),
        peer: peer as 'aiotx' | 'iperf3',
        json: values.json === true,
        reportDir: values.report === undefined ? null : String(values.report),
      };
      const { runBenchCommand } = await import('./bench-command.js');
      await runBenchCommand(options);
    },
  },
  serve: {
    summary: "the receiving end of 'aiotx bench --host': discards streams, reports its CPU",
    help: SERVE_HELP,
    options: {
      listen: { type: 'string' },
      verify: { type: 'boolean' },
      json: { type: 'boolean' },
      'until-stdin-closes': { type: 'boolean' },
    },
    async run(values) {
      const listen = parsed(() => parseHostPort(String(values.listen ?? `127.0.0.1:${DEFAULT_SERVE_PORT}`), true), '--listen');
      const { runServeCommand } = await import('./serve-command.js');
      await runServeCommand({
        host: listen.host,
        port: listen.port,
        verify: values.verify === true,
        json: values.json === true,
        untilStdinCloses: values['until-stdin-closes'] === true,
      });
    },
  },
  report: {
    summary: "re-renders a saved 'aiotx bench --json' run: tables, and HTML with --report",
    help: REPORT_HELP,
    options: { report: { type: 'string' } },
    positionals: ['FILE.json'],
    async run(values, positionals) {
      const { runReportCommand } = await import('./report-command.js');
      await runReportCommand(positionals[0]!, values.report === undefined ? null : String(values.report));
    },
  },
};

/** A parser's RangeError as a usage error naming the flag. */
function parsed<T>(parse: () => T, flag: string): T {
  try {
    return parse();
  } catch (err) {
    throw new UsageError(`${flag}: ${(err as Error).message}`, flag === '--listen' ? 'serve' : 'bench');
  }
}

/** The largest UDP payload over IPv4: 65535 - 20 (IP header) - 8 (UDP header). */
const MAX_UDP_PAYLOAD = 65507;

async function runSink(values: Values): Promise<void> {
  if (values.sizes !== undefined) throw new UsageError('--sizes does not apply to --sink (its writes are --datagram-size bytes)', 'bench');
  if (values.nodelay !== undefined) throw new UsageError('--nodelay does not apply to --sink (TCP_NODELAY is a TCP option)', 'bench');
  for (const flag of ['method', 'streams', 'host', 'verify', 'report', 'netperf', 'peer', 'hot', 'working-set']) {
    if (values[flag] !== undefined) throw new UsageError(`--${flag} does not apply to --sink`, 'bench');
  }
  let datagramSize = 65000;
  if (values['datagram-size'] !== undefined) {
    try {
      datagramSize = parseSize(String(values['datagram-size']));
    } catch (err) {
      throw new UsageError(`--datagram-size: ${(err as Error).message}`, 'bench');
    }
    if (datagramSize > MAX_UDP_PAYLOAD) throw new UsageError(`--datagram-size must be at most ${MAX_UDP_PAYLOAD} bytes, got ${datagramSize}`, 'bench');
  }
  let sendBufferSize = 0;
  if (values.sndbuf !== undefined) {
    try {
      sendBufferSize = parseSize(String(values.sndbuf));
    } catch (err) {
      throw new UsageError(`--sndbuf: ${(err as Error).message}`, 'bench');
    }
    if (sendBufferSize < 1 || sendBufferSize > 2 ** 31 - 1) throw new UsageError(`--sndbuf must be from 1 byte to 2G-1, got ${sendBufferSize}`, 'bench');
  }
  const options = {
    durationSeconds: positiveNumber(String(values.duration ?? '2'), '--duration'),
    depth: positiveInteger(String(values.depth ?? '8'), '--depth', 1024),
    sendBufferSize,
    repeat: positiveInteger(String(values.repeat ?? '3'), '--repeat', 1000),
    datagramSize,
    segmentSize: positiveInteger(String(values['segment-size'] ?? '1472'), '--segment-size', MAX_UDP_PAYLOAD),
    batch: positiveInteger(String(values.batch ?? '8'), '--batch', 1024),
    json: values.json === true,
  };
  const { runSinkBenchCommand } = await import('./bench-command.js');
  await runSinkBenchCommand(options);
}

async function runTcpSink(values: Values): Promise<void> {
  for (const flag of ['streams', 'host', 'verify', 'datagram-size', 'segment-size', 'sndbuf', 'netperf', 'peer']) {
    if (values[flag] !== undefined) throw new UsageError(`--${flag} does not apply to --sink tcp`, 'bench');
  }
  if (values.hot === true && values['working-set'] !== undefined) throw new UsageError('--hot and --working-set exclude each other', 'bench');
  const { parseTcpSinkMethodList } = await import('../bench/tcp-sink-methods.js');
  const options = {
    sizes: parsed(() => parseSizeList(String(values.sizes ?? '32K,256K,512K,1M')), '--sizes'),
    methods: parsed(() => parseTcpSinkMethodList(String(values.method ?? 'write,aio-copy,aio-copy-batch,aio-zc,sendfile,reference,reference-zc,reference-uring,reference-uring-unregistered')), '--method'),
    durationSeconds: positiveNumber(String(values.duration ?? '1'), '--duration'),
    depth: positiveInteger(String(values.depth ?? '4'), '--depth', 1024),
    batch: positiveInteger(String(values.batch ?? '8'), '--batch', 1024),
    repeat: positiveInteger(String(values.repeat ?? '3'), '--repeat', 1000),
    noDelay: values.nodelay === true,
    workingSetBytes: values.hot === true ? 0 : parsed(() => parseSize(String(values['working-set'] ?? '256M')), '--working-set'),
    json: values.json === true,
    reportDir: values.report === undefined ? null : String(values.report),
  };
  const { runTcpSinkBenchCommand } = await import('./bench-command.js');
  await runTcpSinkBenchCommand(options);
}

async function runCalibrate(values: Values): Promise<void> {
  for (const flag of ['method', 'hot', 'streams', 'host', 'verify', 'report', 'datagram-size', 'segment-size', 'sndbuf', 'batch', 'netperf', 'peer']) {
    if (values[flag] !== undefined) throw new UsageError(`--${flag} does not apply to --calibrate (it runs aio-copy and both zero-copy backends, cold and hot)`, 'bench');
  }
  const { CALIBRATE_SIZES } = await import('../bench/calibrate.js');
  const options = {
    sizes: values.sizes === undefined ? CALIBRATE_SIZES : parsed(() => parseSizeList(String(values.sizes)), '--sizes'),
    durationSeconds: positiveNumber(String(values.duration ?? '1'), '--duration'),
    depth: positiveInteger(String(values.depth ?? '4'), '--depth', 1024),
    repeat: positiveInteger(String(values.repeat ?? '3'), '--repeat', 1000),
    noDelay: values.nodelay === true,
    workingSetBytes: parsed(() => parseSize(String(values['working-set'] ?? '256M')), '--working-set'),
    json: values.json === true,
  };
  const { runCalibrateCommand } = await import('./bench-command.js');
  await runCalibrateCommand(options);
}

/** `--sink` with no value after it (last, or before another option) means `--sink udp`, as it always did. */
function bareSinkMeansUdp(args: string[]): string[] {
  return args.map((a, i) => (a === '--sink' && (i === args.length - 1 || args[i + 1]!.startsWith('-')) ? '--sink=udp' : a));
}

