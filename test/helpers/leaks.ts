// What a process holds beyond a baseline: the engine's transmitters and io_uring tags, socket and
// file fds, pinned and locked memory. Used after every test file (leak-check.ts) and by the
// fault tests for their own figures.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { engineCensus } from '../../src/engine/census.js';

/** fd -> what it refers to ("socket:[123]", "/path", "anon_inode:[eventpoll]", "pipe:[9]"). */
export function openFds(): Map<number, string> {
  const fds = new Map<number, string>();
  for (const name of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${name}`);
      if (!target.startsWith('/proc/')) fds.set(Number(name), target); // the listing's own fd
    } catch {
      // closed while listing (the directory's own fd)
    }
  }
  return fds;
}

/** VmPin and VmLck of this process, in kB. */
export function lockedMemory(): { vmPinKb: number; vmLckKb: number } {
  const status = readFileSync('/proc/self/status', 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return { vmPinKb: field('VmPin'), vmLckKb: field('VmLck') };
}

/**
 * What is open now and was not at `baseline`. Pipes are not counted: libuv opens its signal pipe
 * lazily, with the first child process or signal watcher, and aiotx never opens one. The engine
 * keeps one epoll fd (poller), one io_uring fd and one eventfd for the life of the process.
 */
export function leakedFds(baseline: Map<number, string>): string[] {
  const kept = new Map<string, number>([
    ['anon_inode:[eventpoll]', 1],
    ['anon_inode:[io_uring]', 1],
    ['anon_inode:[eventfd]', 1],
  ]);
  const leaked: string[] = [];
  for (const [fd, target] of openFds()) {
    if (baseline.get(fd) === target || target.startsWith('pipe:')) continue;
    const allowance = kept.get(target) ?? 0;
    if (allowance > 0) kept.set(target, allowance - 1);
    else leaked.push(`${fd} -> ${target}`);
  }
  return leaked;
}

export interface Leaks {
  transmitters: number;
  ringTags: number;
  fds: string[];
  vmPinKb: number;
  vmLckKb: number;
}

/** Everything held beyond `baseline` (all zero/empty when nothing leaked). */
export function leaksSince(baseline: { fds: Map<number, string>; vmPinKb: number; vmLckKb: number }): Leaks {
  const census = engineCensus();
  const mem = lockedMemory();
  return {
    ...census,
    fds: leakedFds(baseline.fds),
    vmPinKb: mem.vmPinKb - baseline.vmPinKb,
    vmLckKb: mem.vmLckKb - baseline.vmLckKb,
  };
}

export function noLeaks(l: Leaks): boolean {
  return l.transmitters === 0 && l.ringTags === 0 && l.fds.length === 0 && l.vmPinKb <= 0 && l.vmLckKb <= 0;
}

/**
 * Waits (a bounded number of loop turns) for sockets closed by the last test to finish closing
 * and their transmitters to retire, then returns what is still held.
 */
export async function settledLeaks(baseline: Parameters<typeof leaksSince>[0], turns = 200): Promise<Leaks> {
  let leaks = leaksSince(baseline);
  for (let i = 0; i < turns && !noLeaks(leaks); i++) {
    await new Promise((r) => setTimeout(r, 10));
    leaks = leaksSince(baseline);
  }
  return leaks;
}

export function baselineNow(): Parameters<typeof leaksSince>[0] {
  return { fds: openFds(), ...lockedMemory() };
}

