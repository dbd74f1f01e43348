// The zero-copy policy, the seed's `dev.t[45]nex.N.toe.tx_zcopy` sysctl: a global mode and a mode
// per network interface, changeable at run time, first read from AIOTX_ZEROCOPY.
import type { NetdevFeatures } from '../native/addon.js';
import { interfaceNames } from './interfaces.js';

export type ZeroCopyMode = 'auto' | 'on' | 'off';

const MODES: readonly ZeroCopyMode[] = ['auto', 'on', 'off'];

/** Writes smaller than this are copied under `auto`: pinning pages costs more than copying them. */
export const DEFAULT_THRESHOLD = 16 * 1024;

interface PolicyState {
  global: ZeroCopyMode;
  interfaces: Map<string, ZeroCopyMode>;
  threshold: number;
}

let state: PolicyState | null = null;

function rangeError(message: string): RangeError {
  return Object.assign(new RangeError(message), { code: 'ERR_INVALID_ARG_VALUE' });
}

export function parseMode(value: unknown, what: string): ZeroCopyMode {
  if (typeof value !== 'string') {
    throw Object.assign(new TypeError(`${what} must be 'auto', 'on' or 'off', got ${typeof value}`), {
      code: 'ERR_INVALID_ARG_TYPE',
    });
  }
  if (!MODES.includes(value as ZeroCopyMode)) throw rangeError(`${what} must be 'auto', 'on' or 'off', got '${value}'`);
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
      if (!name) throw rangeError(`AIOTX_ZEROCOPY: '${part}' names no interface`);
      parsed.interfaces.set(name, parseMode(part.slice(eq + 1).trim(), `AIOTX_ZEROCOPY for ${name}`));
    }
  }
  return parsed;
}

function parseThreshold(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw rangeError(`AIOTX_ZEROCOPY_THRESHOLD must be a byte count, got '${text}'`);
  return n;
}

function current(): PolicyState {
  if (state === null) {
    const parsed = parseEnvironment(process.env.AIOTX_ZEROCOPY);
    parsed.threshold = parseThreshold(process.env.AIOTX_ZEROCOPY_THRESHOLD) ?? DEFAULT_THRESHOLD;
    state = parsed;
  }
  return state;
}

function checkInterface(name: unknown): string {
  if (typeof name !== 'string') {
    throw Object.assign(new TypeError('interface must be a string'), { code: 'ERR_INVALID_ARG_TYPE' });
  }
  if (!interfaceNames().includes(name)) throw rangeError(`unknown network interface '${name}'`);
  return name;
}

export interface ModeOptions {
  interface?: string;
}

function checkOptions(options: unknown): ModeOptions {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object') {
    throw Object.assign(new TypeError('zeroCopy options must be an object like { interface: "eth0" }'), { code: 'ERR_INVALID_ARG_TYPE' });
  }
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

/** Forgets an interface's own mode so it follows the global one again. */
export function clearMode(name: string): void {
  current().interfaces.delete(name);
}

export function setThreshold(bytes: number): void {
  if (typeof bytes !== 'number') {
    throw Object.assign(new TypeError(`threshold must be a number of bytes, got ${typeof bytes}`), { code: 'ERR_INVALID_ARG_TYPE' });
  }
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

export interface Decision {
  readonly zeroCopy: boolean;
  readonly reason: string;
}

/** Zero-copy or copy for one write of `length` bytes; `demoted`: the kernel kept copying on this socket. */
// Decisions with a fixed reason are shared (decide() runs for every write).
const OFF: Decision = Object.freeze({ zeroCopy: false, reason: 'zero-copy is off' });
const ON: Decision = Object.freeze({ zeroCopy: true, reason: 'zero-copy is on' });
const PEER_LOCAL: Decision = Object.freeze({ zeroCopy: false, reason: 'peer is on this machine (the kernel copies)' });
const NO_OFFLOADS: Decision = Object.freeze({ zeroCopy: false, reason: 'egress interface lacks scatter-gather or TX checksum offload' });
const DEMOTED: Decision = Object.freeze({ zeroCopy: false, reason: 'the kernel kept copying on this socket' });
const AUTO_ON: Decision = Object.freeze({ zeroCopy: true, reason: 'auto: large write, capable interface, remote peer' });

export function decide(requested: ZeroCopyMode | undefined, facts: SocketFacts, demoted: boolean, length: number): Decision {
  const s = current();
  const mode = requested ?? (facts.interface !== null ? s.interfaces.get(facts.interface) : undefined) ?? s.global;
  if (mode === 'off') return OFF;
  if (mode === 'on') return ON;
  if (length < s.threshold) return { zeroCopy: false, reason: `write smaller than ${s.threshold} bytes` };
  if (facts.peerLocal) return PEER_LOCAL;
  if (!facts.features?.sg || !facts.features.txcsum) return NO_OFFLOADS;
  if (demoted) return DEMOTED;
  return AUTO_ON;
}

/** Clears run-time changes and rereads the environment (tests). */
export function resetPolicy(): void {
  state = null;
}
