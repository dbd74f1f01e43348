// The zero-copy policy, the seed's `dev.t[45]nex.N.toe.tx_zcopy` sysctl: a global mode and a mode
// per network interface, changeable at run time, first read from AIOTX_ZEROCOPY.
import { rangeError, typeError } from '../engine/errors.js';
import type { NetdevFeatures } from '../native/addon.js';
import { interfaceNames } from './interfaces.js';

export type ZeroCopyMode = 'auto' | 'on' | 'off';

/**
 * Writes smaller than this are copied under `auto`: pinning pages and settling on ACKs costs more
 * than copying them. Measured (`aiotx bench --sink tcp --calibrate`, cold data, the injector ACKing
 * every 64 KiB as a receiver would): io_uring saves CPU from 64 KiB (0.89× copy), MSG_ZEROCOPY from
 * 32 KiB; both cost 1.3-3.9× copy's CPU at 4-16 KiB. Hot data crosses later (128 / 64 KiB).
 */
export const DEFAULT_THRESHOLD = 64 * 1024;

interface PolicyState {
  global: ZeroCopyMode;
  interfaces: Map<string, ZeroCopyMode>;
  threshold: number;
}

let state: PolicyState | null = null;

const BAD_VALUE = 'ERR_INVALID_ARG_VALUE';
/** A bad AIOTX_ZEROCOPY or AIOTX_ZEROCOPY_THRESHOLD: every call that needs the policy throws it. */
const BAD_ENVIRONMENT = 'ERR_AIOTX_BAD_ENVIRONMENT';

export function parseMode(value: unknown, what: string): ZeroCopyMode {
  if (typeof value !== 'string') throw typeError(`${what} must be 'auto', 'on' or 'off', got ${typeof value}`);
  if (value !== 'auto' && value !== 'on' && value !== 'off') throw rangeError(`${what} must be 'auto', 'on' or 'off', got '${value}'`, BAD_VALUE);
  return value as ZeroCopyMode;
}

/** Parses AIOTX_ZEROCOPY: `auto`, `eth0=on,lo=off`, or both (`off,eth0=on`). */
export function parseEnvironment(text: string | undefined): PolicyState {
  const parsed: PolicyState = { global: 'auto', interfaces: new Map(), threshold: DEFAULT_THRESHOLD };
  for (const part of (text ?? '').split(',').map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq < 0) parsed.global = parseMode(part, 'AIOTX_ZEROCOPY');
    else {
      const name = part.slice(0, eq).trim();
      if (!name) throw rangeError(`AIOTX_ZEROCOPY: '${part}' names no interface`, BAD_VALUE);
      parsed.interfaces.set(name, parseMode(part.slice(eq + 1).trim(), `AIOTX_ZEROCOPY for ${name}`));
    }
  }
  return parsed;
}

function parseThreshold(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw rangeError(`AIOTX_ZEROCOPY_THRESHOLD must be a byte count, got '${text}'`, BAD_VALUE);
  return n;
}

/** The policy, read from the environment on first use; a bad value throws at every use until fixed. */
function current(): PolicyState {
  if (state === null) {
    try {
      const parsed = parseEnvironment(process.env.AIOTX_ZEROCOPY);
      parsed.threshold = parseThreshold(process.env.AIOTX_ZEROCOPY_THRESHOLD) ?? DEFAULT_THRESHOLD;
      state = parsed;
    } catch (err) {
      throw Object.assign(err as Error, { code: BAD_ENVIRONMENT });
    }
  }
  return state;
}

/**
 * Throws the environment's error, if any, where the caller can catch it (aioWrite's rejection):
 * a job is only queued once the policy it needs has been read, so decide() cannot throw later.
 */
export function checkPolicyEnvironment(): void {
  current();
}

function checkInterface(name: unknown): string {
  if (typeof name !== 'string') throw typeError('interface must be a string');
  if (!interfaceNames().includes(name)) throw rangeError(`unknown network interface '${name}'`, BAD_VALUE);
  return name;
}

export interface ModeOptions {
  interface?: string;
}

function checkOptions(options: unknown): ModeOptions {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object') throw typeError('zeroCopy options must be an object like { interface: "eth0" }');
  return options as ModeOptions;
}

/** Sets the global mode, or one interface's when `options.interface` is given. */
export function setMode(mode: ZeroCopyMode, rawOptions?: ModeOptions): void {
  const options = checkOptions(rawOptions);
  const m = parseMode(mode, 'zero-copy mode');
  const s = current();
  if (options.interface === undefined) s.global = m;
  else s.interfaces.set(checkInterface(options.interface), m);
}

/** The mode in force: the interface's own when it has one, else the global mode. */
export function getMode(rawOptions?: ModeOptions): ZeroCopyMode {
  const options = checkOptions(rawOptions);
  const s = current();
  if (options.interface === undefined) return s.global;
  return s.interfaces.get(checkInterface(options.interface)) ?? s.global;
}

export function setThreshold(bytes: number): void {
  if (typeof bytes !== 'number') throw typeError(`threshold must be a number of bytes, got ${typeof bytes}`);
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw rangeError(`threshold must be a non-negative integer, got ${bytes}`);
  current().threshold = bytes;
}

export function getThreshold(): number {
  return current().threshold;
}

/** What the policy knows of a socket when it decides. */
export interface SocketFacts {
  /** Egress interface, when known. */
  interface: string | null;
  features: NetdevFeatures | null;
  /** The peer is on this machine (loopback, a local address, a Unix socket): the kernel copies anyway. */
  peerLocal: boolean;
}

/**
 * Zero-copy (true) or copy for one write of `length` bytes; `demoted`: the kernel kept copying
 * on this socket. Runs for every write, so it allocates nothing.
 */
export function decide(requested: ZeroCopyMode | undefined, facts: SocketFacts, demoted: boolean, length: number): boolean {
  const s = current();
  const mode = requested ?? (facts.interface !== null ? s.interfaces.get(facts.interface) : undefined) ?? s.global;
  if (mode !== 'auto') return mode === 'on';
  return length >= s.threshold && !facts.peerLocal && !!facts.features?.sg && !!facts.features.txcsum && !demoted;
}

/** Clears run-time changes and rereads the environment (tests). */
export function resetPolicy(): void {
  state = null;
}
