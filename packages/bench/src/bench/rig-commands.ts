// What both sink rigs (UDP and TCP) need to build and clean up after themselves: iproute2 and tc
// commands, their first error line, and whether the process that left a rig is still alive.
import { execFileSync } from 'node:child_process';

export function run(cmd: 'ip' | 'tc', ...args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** The first line of what a failed command said. */
export function stderrOf(err: unknown): string {
  const e = err as { stderr?: Buffer | string; message?: string };
  const text = e.stderr !== undefined ? String(e.stderr) : '';
  return (text.trim() || e.message || String(err)).split('\n')[0]!;
}

/** A rig is stale once the process named in its interface names is gone. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
