// Which backends this kernel and process allow, why not when they don't, and which one carries
// zero-copy writes (AIOTX_BACKEND may force one).
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { getSystemErrorName } from 'node:util';
import { addon } from '../native/addon.js';
import type { BackendName } from './backend.js';
import { stateError, type AiotxError } from './errors.js';
import { probeRing } from './uring-ring.js';

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

/** CAP_IPC_LOCK lifts RLIMIT_MEMLOCK (capability bit 14 of CapEff). */
function mayLockAnyMemory(): boolean {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m !== null && ((BigInt(`0x${m[1]}`) >> 14n) & 1n) === 1n;
  } catch {
    return false;
  }
}

/**
 * Why an ENOMEM from pinning memory (ring setup, registered buffers) is RLIMIT_MEMLOCK's doing,
 * or null when that limit does not bind this process.
 */
/** RLIMIT_MEMLOCK in bytes, soft and hard (null = unlimited, or unreadable). */
export function memlockLimits(): { soft: number | null; hard: number | null } {
  const limits = addon.memlock();
  if (typeof limits === 'number') return { soft: null, hard: null };
  const bytes = (n: number) => (n < 0 ? null : n);
  return { soft: bytes(limits.soft), hard: bytes(limits.hard) };
}

export function memlockCause(): string | null {
  const limits = addon.memlock();
  if (typeof limits === 'number' || limits.soft < 0 || mayLockAnyMemory()) return null;
  return `RLIMIT_MEMLOCK (${limits.soft} bytes) bounds the memory this process may pin and it lacks CAP_IPC_LOCK; raise the limit (ulimit -l, systemd LimitMEMLOCK=, docker --ulimit memlock=)`;
}

export function uringStatus(): BackendStatus {
  const disabled = readSysctl('/proc/sys/kernel/io_uring_disabled');
  // 1 still allows members of kernel.io_uring_group; the attempt below tells.
  if (disabled === 2) return { available: false, reason: 'io_uring disabled by kernel.io_uring_disabled=2' };
  if (!atLeast(6, 2)) return { available: false, reason: `kernel ${release()} predates SEND_ZC usage reports (6.2)` };
  const r = probeRing();
  if (r < 0) {
    const name = getSystemErrorName(r);
    const memlock = name === 'ENOMEM' ? memlockCause() : null;
    const why = memlock ?? (name === 'ENOMEM' ? 'out of memory' : 'kernel.io_uring_disabled, seccomp or policy');
    return { available: false, reason: `io_uring_setup fails with ${name}: ${why}` };
  }
  return { available: true, reason: 'io_uring SEND_ZC; completions through an eventfd' };
}

function backendStatus(name: BackendName): BackendStatus {
  if (name === 'uring') return uringStatus();
  if (name === 'msgzerocopy') return msgZerocopyStatus();
  return { available: true, reason: 'send(2); the kernel copies every byte' };
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

/**
 * AIOTX_BACKEND if set, else io_uring, then MSG_ZEROCOPY, then copy. Only the backends the choice
 * needs are probed now (AIOTX_BACKEND=copy touches no io_uring); `statuses` probes all when read.
 */
export function computeSelection(): Selection {
  const forced = process.env.AIOTX_BACKEND?.trim() || undefined;
  const known: Partial<Record<BackendName, BackendStatus>> = {};
  const status = (name: BackendName): BackendStatus => (known[name] ??= backendStatus(name));
  let all: Record<BackendName, BackendStatus> | null = null;
  const select = (zeroCopy: BackendName, error: AiotxError | null): Selection => ({
    zeroCopy,
    error,
    forced: forced !== undefined,
    get statuses() {
      return (all ??= { uring: status('uring'), msgzerocopy: status('msgzerocopy'), copy: status('copy') });
    },
  });
  if (forced === undefined) return select(status('uring').available ? 'uring' : status('msgzerocopy').available ? 'msgzerocopy' : 'copy', null);
  if (!BACKENDS.includes(forced as BackendName)) {
    return select('copy', stateError(`AIOTX_BACKEND must be uring, msgzerocopy or copy, got '${forced}'`, 'ERR_AIOTX_BAD_ENVIRONMENT'));
  }
  const { available, reason } = status(forced as BackendName);
  return select(forced as BackendName, available ? null : stateError(`AIOTX_BACKEND=${forced}, but ${forced} is unavailable here: ${reason}`, 'ERR_AIOTX_BACKEND_UNAVAILABLE'));
}
