// Starts receiver.ts in a child process and hands back the port it listens on.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface Receiver {
  port: number;
  stop(): Promise<void>;
}

const RECEIVER_SCRIPT = fileURLToPath(new URL('./receiver.js', import.meta.url));

export function startReceiver(): Promise<Receiver> {
  const child = spawn(process.execPath, [RECEIVER_SCRIPT], { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise<Receiver>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const fail = (why: string) => {
      lines.close();
      child.kill();
      reject(new Error(`bench receiver: ${why}`));
    };
    child.once('error', (err) => fail(err.message));
    child.once('exit', (code, signal) => fail(`exited before listening (${signal ?? `code ${code}`})`));
    lines.once('line', (line) => {
      const port = (JSON.parse(line) as { port?: unknown }).port;
      if (typeof port !== 'number') return fail(`unexpected first line '${line}'`);
      child.removeAllListeners('exit');
      lines.close();
      resolve({ port, stop: () => stopChild(child) });
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    // Closing stdin asks it to leave; the kill is for a receiver that does not listen.
    child.stdin!.end();
    setTimeout(() => child.kill(), 2000).unref();
  });
}
