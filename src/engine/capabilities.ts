// Which backends this kernel and process allow, and why not when they don't.
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { getSystemErrorName } from 'node:util';
import { addon } from '../native/addon.js';
import type { BackendName } from './backend.js';

export interface BackendStatus {
  available: boolean;
  /** Why it is unavailable, or a note on how it runs here. */
  reason: string;
}

export function readSysctl(path: string): number | null {
  try {
    const n = Number(readFileSync(path, 'utf8').trim());
    return Number.isFinite(n) ? n : null;
  } catch {
    return null;
  }
}

export function kernelVersion(): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(release());
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

function atLeast(major: number, minor: number): boolean {
  const [a, b] = kernelVersion();
  return a > major || (a === major && b >= minor);
}

export function msgZerocopyStatus(): BackendStatus {
  if (!atLeast(4, 14)) return { available: false, reason: `kernel ${release()} predates MSG_ZEROCOPY (4.14)` };
  const r = addon.probeZerocopy();
  if (r < 0) return { available: false, reason: `setsockopt(SO_ZEROCOPY) fails with ${getSystemErrorName(r)}` };
  return { available: true, reason: 'send(2) with MSG_ZEROCOPY; completions from the socket error queue' };
}

export function uringStatus(): BackendStatus {
  const disabled = readSysctl('/proc/sys/kernel/io_uring_disabled');
  if (disabled !== null && disabled > 0) return { available: false, reason: `io_uring disabled by kernel.io_uring_disabled=${disabled}` };
  if (!atLeast(6, 0)) return { available: false, reason: `kernel ${release()} predates IORING_OP_SEND_ZC (6.0)` };
  const r = addon.probeUring();
  if (r < 0) return { available: false, reason: `io_uring_setup fails with ${getSystemErrorName(r)} (seccomp or policy)` };
  return { available: false, reason: 'the kernel allows io_uring, but this aiotx version has no io_uring backend yet' };
}

export function backendStatuses(): Record<BackendName, BackendStatus> {
  return {
    uring: uringStatus(),
    msgzerocopy: msgZerocopyStatus(),
    copy: { available: true, reason: 'send(2); the kernel copies every byte' },
  };
}
