// probe(): what this machine offers aiotx, in one object (printed by `aiotx probe`).
import { release } from 'node:os';
import type { BackendName } from '../engine/backend.js';
import { computeSelection, memlockLimits, readSysctl, type BackendStatus } from '../engine/capabilities.js';
import { featuresOf, interfaceNames } from '../policy/interfaces.js';
import { decide, getMode, getThreshold, type ZeroCopyMode } from '../policy/zero-copy-policy.js';

export interface InterfaceCapabilities {
  name: string;
  /** Offloads, or null when the interface gives no ethtool answer. */
  scatterGather: boolean | null;
  txChecksum: boolean | null;
  tso: boolean | null;
  zeroCopy: ZeroCopyMode;
  /** Whether `auto` may use zero-copy through it (remote peers, large writes). */
  autoZeroCopy: boolean;
}

export interface Capabilities {
  kernel: string;
  backends: Record<BackendName, BackendStatus>;
  /** The backend zero-copy writes use here; `copy` when none is available. */
  zeroCopyBackend: BackendName;
  /** AIOTX_BACKEND, when set; `backendError` says why it cannot be honoured. */
  forcedBackend: string | null;
  backendError: string | null;
  /** net.core.optmem_max: bounds MSG_ZEROCOPY notifications in flight per socket (null if unreadable). */
  optmemMax: number | null;
  /** RLIMIT_MEMLOCK in bytes (null = unlimited): bounds pinned pages. */
  memlock: { soft: number | null; hard: number | null };
  zeroCopy: { mode: ZeroCopyMode; threshold: number };
  interfaces: InterfaceCapabilities[];
}

export function probe(): Capabilities {
  const selection = computeSelection();
  const backends = selection.statuses;
  return {
    kernel: release(),
    backends,
    zeroCopyBackend: selection.zeroCopy,
    forcedBackend: selection.forced ? (process.env.AIOTX_BACKEND?.trim() ?? null) : null,
    backendError: selection.error?.message ?? null,
    optmemMax: readSysctl('/proc/sys/net/core/optmem_max'),
    memlock: memlockLimits(),
    zeroCopy: { mode: getMode(), threshold: getThreshold() },
    interfaces: interfaceNames().map((name) => {
      const f = featuresOf(name);
      const mode = getMode({ interface: name });
      return {
        name,
        scatterGather: f?.sg ?? null,
        txChecksum: f?.txcsum ?? null,
        tso: f?.tso ?? null,
        zeroCopy: mode,
        // The policy's own rule, for a large write to a remote peer through this interface.
        autoZeroCopy: decide(undefined, { interface: name, features: f, peerLocal: name === 'lo' }, false, Number.MAX_SAFE_INTEGER),
      };
    }),
  };
}
