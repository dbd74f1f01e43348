// `aiotx bench` without --host: an `aiotx serve` child process on loopback, so the receiver's
// CPU is its own and not charged to the sender.
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';

export interface LocalServer {
  host: string;
  port: number;
  stop(): Promise<void>;
}

// The `aiotx` command of the installed library, whose `serve` is this package's.
const AIOTX_BIN = join(dirname(createRequire(import.meta.url).resolve('aiotx/package.json')), 'bin', 'aiotx.js');

export function startLocalServer(verify: boolean): Promise<LocalServer> {
  const args = [AIOTX_BIN, 'serve', '--listen', '127.0.0.1:0', '--json', '--until-stdin-closes', ...(verify ? ['--verify'] : [])];
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise<LocalServer>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const fail = (why: string) => {
      lines.close();
      child.kill();
      reject(new Error(`bench receiver (aiotx serve): ${why}`));
    };
    child.once('error', (err) => fail(err.message));
    child.once('exit', (code, signal) => fail(`exited before listening (${signal ?? `code ${code}`})`));
    lines.once('line', (line) => {
      let listening: { host?: unknown; port?: unknown } | undefined;
      try {
        listening = (JSON.parse(line) as { listening?: { host?: unknown; port?: unknown } }).listening;
      } catch {
        // reported below
      }
      if (typeof listening?.host !== 'string' || typeof listening.port !== 'number') return fail(`unexpected first line '${line}'`);
      child.removeAllListeners('exit');
      lines.close();
      resolve({ host: listening.host, port: listening.port, stop: () => stopChild(child) });
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    // Closing stdin asks it to leave; the kill is for a server that does not listen.
    child.stdin!.end();
    setTimeout(() => child.kill(), 2000).unref();
  });
}
