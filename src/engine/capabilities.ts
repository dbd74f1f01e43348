// Which backends this kernel and process allow, why not when they don't, and which one carries
// zero-copy writes (AIOTX_BACKEND may force one).
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { getSystemErrorName } from 'node:util';
import { addon } from '../native/addon.js';
import type { BackendName } from './backend.js';
import { stateError, type AiotxError } from './errors.js';
import { startRing } from './uring-ring.js';

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

function kernelVersion(): [number, number] {
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
  // 1 still allows members of kernel.io_uring_group; the attempt below tells.
  if (disabled === 2) return { available: false, reason: 'io_uring disabled by kernel.io_uring_disabled=2' };
  if (!atLeast(6, 2)) return { available: false, reason: `kernel ${release()} predates SEND_ZC usage reports (6.2)` };
  const r = startRing();
  if (r < 0) return { available: false, reason: `io_uring_setup fails with ${getSystemErrorName(r)} (kernel.io_uring_disabled, seccomp or policy)` };
  return { available: true, reason: 'io_uring SEND_ZC; completions through an eventfd' };
}

export function backendStatuses(): Record<BackendName, BackendStatus> {
  return {
    uring: uringStatus(),
    msgzerocopy: msgZerocopyStatus(),
    copy: { available: true, reason: 'send(2); the kernel copies every byte' },
  };
}

const BACKENDS: readonly BackendName[] = ['uring', 'msgzerocopy', 'copy'];

export interface Selection {
  /** The backend zero-copy writes use; 'copy' when none is available (or forced). */
  zeroCopy: BackendName;
  /** Set when AIOTX_BACKEND names a backend this machine cannot run. */
  error: AiotxError | null;
  forced: boolean;
  statuses: Record<BackendName, BackendStatus>;
}

let selection: Selection | null = null;

/** The engine's choice, made once at first use. */
export function selectBackend(): Selection {
  selection ??= computeSelection();
  return selection;
}

/** AIOTX_BACKEND if set, else io_uring, then MSG_ZEROCOPY, then copy. */
export function computeSelection(): Selection {
  const forced = process.env.AIOTX_BACKEND?.trim() || undefined;
  const statuses = backendStatuses();
  if (forced === undefined) {
    const zeroCopy = statuses.uring.available ? 'uring' : statuses.msgzerocopy.available ? 'msgzerocopy' : 'copy';
    return { zeroCopy, error: null, forced: false, statuses };
  }
  if (!BACKENDS.includes(forced as BackendName)) {
    const error = stateError(`AIOTX_BACKEND must be uring, msgzerocopy or copy, got '${forced}'`, 'ERR_INVALID_ARG_VALUE');
    return { zeroCopy: 'copy', error, forced: true, statuses };
  }
  const status = statuses[forced as BackendName];
  const error = status.available ? null : stateError(`AIOTX_BACKEND=${forced}, but ${forced} is unavailable here: ${status.reason}`, 'ERR_AIOTX_BACKEND_UNAVAILABLE');
  return { zeroCopy: forced as BackendName, error, forced: true, statuses };
}
