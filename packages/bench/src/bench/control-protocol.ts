// The bench's control exchange between `aiotx bench` and `aiotx serve`: one JSON object per line,
// each line at most MAX_LINE bytes. The sender asks; the server answers each request once.
//
//   → {"op":"hello","version":1}       ← {"op":"hello","version":1,"dataPort":P,"verify":bool,"cpus":N}
//   → {"op":"start"}                   ← {"op":"started"}     (the server notes its CPU time)
//   → {"op":"stop","streams":[PEER…]}  ← {"op":"stopped","cpuSeconds":S,"streams":[{peer,bytes,sha256,error}…]}
//   ← {"op":"error","message":M}       the server then closes the control connection
//
// PEER is the sender's "address:port" of a data connection; the server answers once each has
// reached end of stream (or after STREAM_END_TIMEOUT_MS, with an error for that stream).

export const PROTOCOL_VERSION = 1;
export const MAX_LINE = 4096;
export const MAX_STREAMS = 256;
export const STREAM_END_TIMEOUT_MS = 30_000;

export type ClientMessage = { op: 'hello'; version: number } | { op: 'start' } | { op: 'stop'; streams: string[] };

export interface Hello {
  op: 'hello';
  version: number;
  dataPort: number;
  verify: boolean;
  cpus: number;
}

export interface StreamReport {
  peer: string;
  /** Bytes the server received on that connection. */
  bytes: number;
  /** sha256 (hex) of the stream when the server verifies, else null. */
  sha256: string | null;
  /** Why the stream did not end cleanly, or null. */
  error: string | null;
}

export interface Stopped {
  op: 'stopped';
  /** The server process's CPU time (user+sys, all threads) since "start". */
  cpuSeconds: number;
  streams: StreamReport[];
}

export type ServerMessage = Hello | { op: 'started' } | Stopped | { op: 'error'; message: string };

/** A control message that breaks the protocol; the server says why and closes that connection. */
export class ProtocolError extends Error {}

const PEER = /^[0-9A-Fa-f.:[\]]{3,60}:\d{1,5}$/;

function objectOf(line: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new ProtocolError('not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ProtocolError('not a JSON object');
  return value as Record<string, unknown>;
}

/** Validates one line from a sender; throws ProtocolError with the reason. */
export function parseClientMessage(line: string): ClientMessage {
  const m = objectOf(line);
  switch (m.op) {
    case 'hello':
      if (m.version !== PROTOCOL_VERSION) throw new ProtocolError(`unsupported protocol version ${JSON.stringify(m.version)} (this server speaks ${PROTOCOL_VERSION})`);
      return { op: 'hello', version: PROTOCOL_VERSION };
    case 'start':
      return { op: 'start' };
    case 'stop': {
      const streams = m.streams;
      if (!Array.isArray(streams) || streams.length > MAX_STREAMS) throw new ProtocolError(`"streams" must be an array of at most ${MAX_STREAMS} peers`);
      for (const s of streams) if (typeof s !== 'string' || !PEER.test(s)) throw new ProtocolError(`"streams" holds a bad peer ${JSON.stringify(s).slice(0, 80)}`);
      return { op: 'stop', streams: streams as string[] };
    }
    default:
      throw new ProtocolError(`unknown op ${JSON.stringify(m.op ?? null).slice(0, 40)}`);
  }
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0;
}

/** Validates one line from a server; throws ProtocolError with the reason. */
export function parseServerMessage(line: string): ServerMessage {
  const m = objectOf(line);
  switch (m.op) {
    case 'hello':
      if (m.version !== PROTOCOL_VERSION) throw new ProtocolError(`the server speaks protocol version ${JSON.stringify(m.version)}, not ${PROTOCOL_VERSION}`);
      if (!Number.isInteger(m.dataPort) || (m.dataPort as number) < 1 || (m.dataPort as number) > 65535) throw new ProtocolError('hello without a data port');
      if (typeof m.verify !== 'boolean' || !isCount(m.cpus)) throw new ProtocolError('malformed hello');
      return { op: 'hello', version: PROTOCOL_VERSION, dataPort: m.dataPort as number, verify: m.verify, cpus: m.cpus };
    case 'started':
      return { op: 'started' };
    case 'stopped': {
      if (!isCount(m.cpuSeconds) || !Array.isArray(m.streams)) throw new ProtocolError('malformed stopped');
      const streams = (m.streams as unknown[]).map((s) => {
        const r = s as Record<string, unknown>;
        const ok = typeof r === 'object' && r !== null && typeof r.peer === 'string' && isCount(r.bytes) &&
          (r.sha256 === null || typeof r.sha256 === 'string') && (r.error === null || typeof r.error === 'string');
        if (!ok) throw new ProtocolError('malformed stream report');
        return { peer: r.peer, bytes: r.bytes, sha256: r.sha256, error: r.error } as StreamReport;
      });
      return { op: 'stopped', cpuSeconds: m.cpuSeconds, streams };
    }
    case 'error':
      return { op: 'error', message: typeof m.message === 'string' ? m.message.slice(0, 500) : 'unspecified error' };
    default:
      throw new ProtocolError(`unknown op ${JSON.stringify(m.op ?? null).slice(0, 40)}`);
  }
}

/**
 * Cuts a byte stream into lines of at most MAX_LINE bytes. push() returns the complete lines so
 * far and throws ProtocolError as soon as a line grows past the cap, before buffering more.
 */
export class LineReader {
  private pending = '';

  push(chunk: Buffer | string): string[] {
    const parts = (this.pending + chunk.toString()).split('\n');
    this.pending = parts.pop()!;
    if (Buffer.byteLength(this.pending) > MAX_LINE) throw new ProtocolError(`control line longer than ${MAX_LINE} bytes`);
    for (const line of parts) if (Buffer.byteLength(line) > MAX_LINE) throw new ProtocolError(`control line longer than ${MAX_LINE} bytes`);
    return parts.filter((l) => l.trim() !== '');
  }
}

/** "address:port" the way both ends name a connection (IPv4-mapped IPv6 written as IPv4). */
export function peerName(address: string | undefined, port: number | undefined): string {
  return `${(address ?? '?').replace(/^::ffff:/, '')}:${port ?? 0}`;
}

export function encode(message: ClientMessage | ServerMessage): string {
  return `${JSON.stringify(message)}\n`;
}
