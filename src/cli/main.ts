// The `aiotx` command line: parses arguments and hands typed options to one command module.
// Commands load lazily, so help and usage errors work even where the native addon does not.
// The library has `probe`; bench, serve and report belong to the separate aiotx-bench package,
// found here when it is installed (its modules never load for `aiotx probe`).
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A mistake in how aiotx was called: message on stderr, exit code 2 (aiotx-bench's use the same code). */
class UsageError extends Error {
  readonly code = USAGE;
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
  }
}

const USAGE = 'ERR_AIOTX_USAGE';

type Options = NonNullable<ParseArgsConfig['options']>;
type Values = Record<string, string | boolean | undefined>;

interface Command {
  summary: string;
  help: string;
  options: Options;
  /** Names of the positional arguments it takes, all required (none when absent). */
  positionals?: string[];
  /** Rewrites the arguments before parsing. */
  preprocess?(args: string[]): string[];
  /** Commands of their own under this one's name (`aiotx bench http`), chosen by the first argument. */
  subcommands?: Record<string, Command>;
  run(values: Values, positionals: string[]): Promise<void>;
}

const BENCH_PACKAGE = 'aiotx-bench';
const BENCH_COMMANDS = ['bench', 'serve', 'report'];

/** aiotx-bench's commands, or stand-ins saying how to install it. */
async function benchCommands(): Promise<Record<string, Command>> {
  // A variable, so that TypeScript does not resolve (and the library does not depend on) the package.
  const specifier: string = BENCH_PACKAGE;
  try {
    return ((await import(specifier)) as { commands: Record<string, Command> }).commands;
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (e.code !== 'ERR_MODULE_NOT_FOUND' || !e.message?.includes(`'${BENCH_PACKAGE}'`)) throw err;
  }
  const missing = (name: string): Command => ({
    summary: `(needs the ${BENCH_PACKAGE} package: npm install ${BENCH_PACKAGE})`,
    help: `'aiotx ${name}' is part of the ${BENCH_PACKAGE} package, which is not installed here.\nInstall it beside aiotx: npm install ${BENCH_PACKAGE}\n`,
    options: {},
    // Whatever options came, the answer is the same.
    preprocess: () => [],
    async run() {
      throw new Error(`this command is part of the ${BENCH_PACKAGE} package, which is not installed: npm install ${BENCH_PACKAGE}`);
    },
  });
  return Object.fromEntries(BENCH_COMMANDS.map((name) => [name, missing(name)]));
}

const PROBE_HELP = `Usage: aiotx probe [--json]

Shows what this machine offers aiotx: the kernel, which transmit backends work here (and why
not), the limits that bound zero-copy (optmem_max, RLIMIT_MEMLOCK), the zero-copy policy,
and each network interface's offloads.

Options:
  --json      print the probe() object as JSON
  -h, --help  show this help
`;

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
};

Object.assign(COMMANDS, await benchCommands());

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

function parseCommandArgs(name: string, command: Command, args: string[]): { values: Values; positionals: string[] } | 'help' {
  let result;
  try {
    result = parseArgs({
      args,
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: command.positionals !== undefined,
    });
  } catch (err) {
    throw usageErrorFrom(err, name);
  }
  if (result.values.help) return 'help';
  const want = command.positionals ?? [];
  if (result.positionals.length < want.length) throw new UsageError(`missing ${want[result.positionals.length]}`, name);
  if (result.positionals.length > want.length) throw new UsageError(`unexpected argument '${result.positionals[want.length]}'`, name);
  return { values: result.values as Values, positionals: result.positionals };
}

function subcommandOf(command: Command, arg: string | undefined): Command | undefined {
  return arg !== undefined && command.subcommands && Object.hasOwn(command.subcommands, arg) ? command.subcommands[arg] : undefined;
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
    else if (Object.hasOwn(COMMANDS, topic)) process.stdout.write(subcommandOf(COMMANDS[topic]!, rest[1])?.help ?? COMMANDS[topic]!.help);
    else throw new UsageError(`unknown command '${topic}'`);
    return 0;
  }
  if (first.startsWith('-')) throw new UsageError(`unknown option '${first}' (options go after the command)`);
  if (!Object.hasOwn(COMMANDS, first)) throw new UsageError(`unknown command '${first}'`);
  const sub = subcommandOf(COMMANDS[first]!, rest[0]);
  const name = sub ? `${first} ${rest[0]}` : first;
  const command = sub ?? COMMANDS[first]!;
  const given = sub ? rest.slice(1) : rest;
  const args = parseCommandArgs(name, command, command.preprocess ? command.preprocess(given) : given);
  if (args === 'help') {
    process.stdout.write(command.help);
    return 0;
  }
  await command.run(args.values, args.positionals);
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
    if ((err as { code?: unknown }).code === USAGE) {
      const { command, message } = err as UsageError;
      const prefix = command ? `aiotx ${command}` : 'aiotx';
      const hint = command ? `aiotx ${command} --help` : 'aiotx --help';
      process.stderr.write(`${prefix}: ${message}\nRun '${hint}' for usage.\n`);
      process.exitCode = 2;
    } else {
      const name = process.argv[2] ?? '';
      process.stderr.write(`aiotx ${name}: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
