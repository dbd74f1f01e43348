// `aiotx serve`: runs the bench server (bench/server.ts) until Ctrl-C, SIGTERM or, for the local
// server `aiotx bench` starts, the end of standard input.
import { startServer } from '../bench/server.js';

export interface ServeCommandOptions {
  host: string;
  port: number;
  verify: boolean;
  json: boolean;
  untilStdinCloses: boolean;
}

export async function runServeCommand(options: ServeCommandOptions): Promise<void> {
  const log = (line: string) => process.stderr.write(options.json ? `${JSON.stringify({ log: line })}\n` : `${line}\n`);
  const server = await startServer({ host: options.host, port: options.port, verify: options.verify, log });
  const where = `${server.host}:${server.controlPort}`;
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ listening: { host: server.host, port: server.controlPort, dataPort: server.dataPort, verify: options.verify } })}\n`);
  } else {
    process.stdout.write(
      `aiotx serve: listening on ${where} (data on port ${server.dataPort}${options.verify ? ', hashing every stream' : ''}); ` +
        `run 'aiotx bench --host ${where}' on the sending machine\n`,
    );
  }
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
    if (options.untilStdinCloses) {
      process.stdin.on('end', resolve);
      process.stdin.on('error', resolve);
      process.stdin.resume();
    }
  });
  await server.close();
  // Discard threads of streams still open keep no reason to wait for them.
  process.exit(0);
}
