// The `aiotx` command line: parses arguments and hands typed options to one command module.
// Commands load lazily, so help and usage errors work even where the native addon does not.
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { parseSize, parseSizeList } from '../bench/sizes.js';

/** A mistake in how aiotx was called: message on stderr, exit code 2. */
class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;
type Values = Record<string, string | boolean | undefined>;

interface Command {
  summary: string;
  help: string;
  options: Options;
  run(values: Values): Promise<void>;
}

const PROBE_HELP = `Usage: aiotx probe [--json]

Shows what this machine offers aiotx: the kernel, which transmit backends work here (and why
not), the limits that bound zero-copy (optmem_max, RLIMIT_MEMLOCK), the zero-copy policy,
and each network interface's offloads.

Options:
  --json      print the probe() object as JSON
  -h, --help  show this help
`;

const BENCH_HELP = `Usage: aiotx bench [--sizes LIST] [--duration SECS] [--depth N] [--repeat N] [--nodelay] [--json]
       aiotx bench --sink [--duration SECS] [--depth N] [--repeat N]
                   [--datagram-size SIZE] [--segment-size N] [--json]

Sends over a loopback TCP connection to a receiver in a child process and reports, for each
method and write size: throughput, the sender process's CPU (seconds per GB, % of one core)
and the share of bytes the kernel copied. Methods, run interleaved for each size:
  write     net.Socket.write, waiting for 'drain' when it returns false
  aio-copy  aioWrite with { zeroCopy: 'off' }
  aio-zc    aioWrite with { zeroCopy: 'on' }

Loopback delivery copies every byte, so these figures are path overhead, not zero-copy gains.

With --sink, compares the backends where zero-copy is real: UDP GSO datagrams (aioWrite with
segmentSize on a connected dgram socket) into a veth whose peer is down. The kernel drops them
after the send path, so the figures are the sender's cost only: no NIC, no segmentation on the
wire. Each method and run is a child process of its own (the backend is chosen once per
process); methods run interleaved and the table shows medians, with each method's CPU per GB
relative to copy and the share of bytes the kernel sent without copying:
  copy         AIOTX_BACKEND unset, { zeroCopy: 'off' }
  msgzerocopy  AIOTX_BACKEND=msgzerocopy, { zeroCopy: 'on' }
  uring        AIOTX_BACKEND=uring, { zeroCopy: 'on' }
  uring-pool   as uring, from createBufferPool buffers (io_uring registered buffers)
A method this machine cannot run shows its reason instead of numbers. Needs root (it creates
the veth pair); elsewhere it prints why it skipped and exits 0.

Options:
  --sizes LIST          write sizes, comma-separated, K/M/G suffixes (default 32K,1M);
                        not with --sink
  --duration SECS       seconds per cell or run (default 2)
  --depth N             writes in flight per socket, each with its own buffer
                        (default 4; 8 with --sink)
  --repeat N            runs per cell or method; the table shows medians
                        (default 1; 3 with --sink)
  --nodelay             set TCP_NODELAY on the sender for every method (Node's default leaves
                        Nagle on, which stalls small zero-copy writes: they settle on the ACK);
                        not with --sink
  --sink                the sink-rig bench described above
  --datagram-size SIZE  --sink: bytes per write, one GSO datagram (default 65000, at most 65507)
  --segment-size N      --sink: UDP_SEGMENT, bytes per datagram (default 1472, which fits
                        the rig's 1500-byte MTU: larger fails with EMSGSIZE; the kernel also
                        caps segments per write, UDP_MAX_SEGMENTS, beyond which it is EINVAL)
  --json                print machine-readable results
  -h, --help            show this help
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

const COMMANDS: Record<string, Command> = {
  probe: {
    summary: 'what this machine offers aiotx: backends, limits, policy, interfaces',
    help: PROBE_HELP,
    options: { json: { type: 'boolean' } },
    async run(values) {
      const { runProbeCommand } = await import('./probe-command.js');
      runProbeCommand({ json: values.json === true });
    },
  },
  bench: {
    summary: 'throughput and sender CPU: loopback TCP, or zero-copy backends into a sink (--sink)',
    help: BENCH_HELP,
    options: {
      sizes: { type: 'string' },
      duration: { type: 'string' },
      depth: { type: 'string' },
      repeat: { type: 'string' },
      nodelay: { type: 'boolean' },
      sink: { type: 'boolean' },
      'datagram-size': { type: 'string' },
      'segment-size': { type: 'string' },
      json: { type: 'boolean' },
    },
    async run(values) {
      if (values.sink === true) return runSink(values);
      for (const flag of ['datagram-size', 'segment-size']) {
        if (values[flag] !== undefined) throw new UsageError(`--${flag} applies to --sink only`, 'bench');
      }
      let sizes: number[];
      try {
        sizes = parseSizeList(String(values.sizes ?? '32K,1M'));
      } catch (err) {
        throw new UsageError(`--sizes: ${(err as Error).message}`, 'bench');
      }
      const options = {
        sizes,
        durationSeconds: positiveNumber(String(values.duration ?? '2'), '--duration'),
        depth: positiveInteger(String(values.depth ?? '4'), '--depth', 1024),
        repeat: positiveInteger(String(values.repeat ?? '1'), '--repeat', 1000),
        noDelay: values.nodelay === true,
        json: values.json === true,
      };
      const { runBenchCommand } = await import('./bench-command.js');
      await runBenchCommand(options);
    },
  },
};

/** The largest UDP payload over IPv4: 65535 - 20 (IP header) - 8 (UDP header). */
const MAX_UDP_PAYLOAD = 65507;

async function runSink(values: Values): Promise<void> {
  if (values.sizes !== undefined) throw new UsageError('--sizes does not apply to --sink (its writes are --datagram-size bytes)', 'bench');
  if (values.nodelay !== undefined) throw new UsageError('--nodelay does not apply to --sink (TCP_NODELAY is a TCP option)', 'bench');
  let datagramSize = 65000;
  if (values['datagram-size'] !== undefined) {
    try {
      datagramSize = parseSize(String(values['datagram-size']));
    } catch (err) {
      throw new UsageError(`--datagram-size: ${(err as Error).message}`, 'bench');
    }
    if (datagramSize > MAX_UDP_PAYLOAD) throw new UsageError(`--datagram-size must be at most ${MAX_UDP_PAYLOAD} bytes, got ${datagramSize}`, 'bench');
  }
  const options = {
    durationSeconds: positiveNumber(String(values.duration ?? '2'), '--duration'),
    depth: positiveInteger(String(values.depth ?? '8'), '--depth', 1024),
    repeat: positiveInteger(String(values.repeat ?? '3'), '--repeat', 1000),
    datagramSize,
    segmentSize: positiveInteger(String(values['segment-size'] ?? '1472'), '--segment-size', MAX_UDP_PAYLOAD),
    json: values.json === true,
  };
  const { runSinkBenchCommand } = await import('./bench-command.js');
  await runSinkBenchCommand(options);
}

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `Usage: aiotx <command> [options]

Zero-copy asynchronous socket transmit for Node.js.

Commands:
${lines.join('\n')}

Options:
  -h, --help     show this help
  -v, --version  show the aiotx version

Run 'aiotx <command> --help' for a command's options.
`;
}

function version(): string {
  // dist/src/cli/main.js → the package root.
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** parseArgs's errors, reworded for a person at a terminal. */
function usageErrorFrom(err: unknown, command: string): UsageError {
  const e = err as { code?: string; message?: string };
  const quoted = /'([^']*)'/.exec(e.message ?? '')?.[1];
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return new UsageError(`unknown option '${quoted}'`, command);
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return new UsageError(`unexpected argument '${quoted}'`, command);
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return new UsageError(e.message!.replace(/^Option /, 'option '), command);
    default:
      return new UsageError(String(e.message ?? err), command);
  }
}

function parseCommandArgs(name: string, command: Command, args: string[]): Values | 'help' {
  try {
    const { values } = parseArgs({
      args,
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    });
    return values.help ? 'help' : (values as Values);
  } catch (err) {
    throw usageErrorFrom(err, name);
  }
}

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    process.stderr.write(usage());
    return 2;
  }
  if (first === '-h' || first === '--help') {
    process.stdout.write(usage());
    return 0;
  }
  if (first === '-v' || first === '--version') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  if (first === 'help') {
    const topic = rest[0];
    if (topic === undefined) process.stdout.write(usage());
    else if (Object.hasOwn(COMMANDS, topic)) process.stdout.write(COMMANDS[topic]!.help);
    else throw new UsageError(`unknown command '${topic}'`);
    return 0;
  }
  if (first.startsWith('-')) throw new UsageError(`unknown option '${first}' (options go after the command)`);
  if (!Object.hasOwn(COMMANDS, first)) throw new UsageError(`unknown command '${first}'`);
  const command = COMMANDS[first]!;
  const values = parseCommandArgs(first, command, rest);
  if (values === 'help') {
    process.stdout.write(command.help);
    return 0;
  }
  await command.run(values);
  return 0;
}

// A reader that stops early (aiotx probe | head) is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      const prefix = err.command ? `aiotx ${err.command}` : 'aiotx';
      const hint = err.command ? `aiotx ${err.command} --help` : 'aiotx --help';
      process.stderr.write(`${prefix}: ${err.message}\nRun '${hint}' for usage.\n`);
      process.exitCode = 2;
    } else {
      const name = process.argv[2] ?? '';
      process.stderr.write(`aiotx ${name}: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
