// `aiotx bench --host H --peer iperf3`: a stock `iperf3 -s` as the receiver, driven through
// iperf3's own control protocol as its client does (esnet/iperf src/iperf_api.c,
// iperf_client_api.c; state numbers from iperf.h):
//
//   → cookie (36 characters + NUL)          ← PARAM_EXCHANGE
//   → parameters (4-byte length, JSON)      ← CREATE_STREAMS
//   data connections, each opening with the cookie; their bytes are the stream
//                                           ← TEST_START, TEST_RUNNING
//   → TEST_END once the sender is done      ← EXCHANGE_RESULTS
//   → our results (length, JSON)            ← the server's results (length, JSON): its CPU, bytes
//                                           ← DISPLAY_RESULTS
//   → IPERF_DONE
//
// Everything read from the peer is capped (iperf3 itself had CVE-2023-38403 for an uncapped
// length) and every read has a deadline: a broken peer is an error that names what it sent.
import { randomInt } from 'node:crypto';
import { connect, type Socket } from 'node:net';

export const STATE = {
  TEST_START: 1,
  TEST_RUNNING: 2,
  TEST_END: 4,
  PARAM_EXCHANGE: 9,
  CREATE_STREAMS: 10,
  SERVER_TERMINATE: 11,
  CLIENT_TERMINATE: 12,
  EXCHANGE_RESULTS: 13,
  DISPLAY_RESULTS: 14,
  IPERF_DONE: 16,
  ACCESS_DENIED: -1,
  SERVER_ERROR: -2,
} as const;

const COOKIE_CHARS = 'abcdefghijklmnopqrstuvwxyz234567';
const COOKIE_LENGTH = 36;
/** The server's results for a handful of streams are a few hundred bytes; this is generous. */
export const MAX_RESULTS_BYTES = 64 * 1024;
/** How long the peer may take to answer a step of the exchange (the test itself aside). */
const STEP_MS = 10_000;

export class PeerError extends Error {}

/** A fresh cookie as iperf3 makes one, with its NUL: the bytes that open every connection of a test. */
export function makeCookie(): Buffer {
  let s = '';
  for (let i = 0; i < COOKIE_LENGTH; i++) s += COOKIE_CHARS[randomInt(COOKIE_CHARS.length)];
  return Buffer.from(`${s}\0`, 'latin1');
}

/** iperf3's stream ids: 1 for the first, then the count of streams before it + 2 (1, 3, 4, ...). */
export const streamId = (index: number) => (index === 0 ? 1 : index + 2);

/** Bytes from the control socket, read in exact amounts against a deadline, never more than asked. */
class Reader {
  /** Bytes the peer ever sent on this connection. */
  private received = 0;
  /** The peer reset the connection before sending a byte (an iperf3 -s still ending its last test). */
  resetBeforeAnswer = false;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private wake: (() => void) | null = null;
  private ended: string | null = null;

  constructor(
    private readonly socket: Socket,
    private readonly where: string,
  ) {
    socket.on('data', (c: Buffer) => {
      this.received += c.length;
      this.chunks.push(c);
      this.buffered += c.length;
      // The protocol never has the peer send ahead by more than one results message.
      if (this.buffered > MAX_RESULTS_BYTES + 64) socket.pause();
      this.wake?.();
    });
    socket.on('end', () => this.finish('the peer closed the control connection'));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET' && this.received === 0 && this.ended === null) this.resetBeforeAnswer = true;
      this.finish(err.message);
    });
    socket.on('close', () => this.finish('the control connection closed'));
  }

  private finish(why: string): void {
    this.ended ??= why;
    this.wake?.();
  }

  async read(n: number, what: string, ms: number): Promise<Buffer> {
    const deadline = Date.now() + ms;
    while (this.buffered < n) {
      if (this.ended !== null) throw new PeerError(`${this.where}: ${this.ended} while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new PeerError(`${this.where}: no ${what} within ${Math.round(ms / 1000)} s`);
      this.socket.resume();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
    const all = Buffer.concat(this.chunks);
    this.chunks = [all.subarray(n)];
    this.buffered = all.length - n;
    return all.subarray(0, n);
  }
}

/**
 * iperf3 -s closes its listener while a test runs and reopens it shortly after: a connection
 * right after the previous test is refused, or reset when it was queued on the listener being
 * closed; either is retried for STEP_MS.
 */
async function connectRetrying(host: string, port: number, where: string): Promise<Socket> {
  const until = Date.now() + STEP_MS;
  for (;;) {
    const socket = connect({ host, port });
    const error = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
      socket.once('connect', () => resolve(null));
      socket.once('error', resolve);
    });
    if (error === null) return socket;
    socket.destroy();
    if ((error.code !== 'ECONNREFUSED' && error.code !== 'ECONNRESET') || Date.now() > until) throw new PeerError(`cannot reach ${where}: ${error.message}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const STATE_NAMES = new Map<number, string>(Object.entries(STATE).map(([k, v]) => [v, k]));

export interface PeerResults {
  /** The server's CPU over the test, % of one CPU, as iperf3 reports it (cpu_util_total). */
  cpuPercent: number;
  /** Bytes the server counted per stream, in stream order. */
  streamBytes: number[];
}

export interface TestParameters {
  streams: number;
  size: number;
  durationSeconds: number;
}

/** One iperf3 test from the client's side; see the exchange at the top of this file. */
export class Iperf3Test {
  readonly cookie = makeCookie();
  private readonly reader: Reader;

  private constructor(
    private readonly socket: Socket,
    readonly where: string,
  ) {
    this.reader = new Reader(socket, where);
  }

  static async open(host: string, port: number, p: TestParameters): Promise<Iperf3Test> {
    const where = `iperf3 server at ${host}:${port}`;
    const until = Date.now() + STEP_MS;
    for (;;) {
      const t = new Iperf3Test(await connectRetrying(host, port, where), where);
      t.socket.write(t.cookie);
      let first: number;
      try {
        first = await t.readState(STEP_MS, 'PARAM_EXCHANGE', false);
      } catch (err) {
        t.close();
        // A stock iperf3 -s that is still tearing down the previous test can reset a new control
        // connection before answering it: that one is tried again, like ACCESS_DENIED below.
        if (t.reader.resetBeforeAnswer && Date.now() < until) {
          await new Promise((r) => setTimeout(r, 100));
          continue;
        }
        throw err;
      }
      // Still busy with the previous test (ours, a moment ago): ask again shortly.
      if (first === STATE.ACCESS_DENIED && Date.now() < until) {
        t.close();
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      return t.exchangeParameters(first, p);
    }
  }

  private async exchangeParameters(first: number, p: TestParameters): Promise<Iperf3Test> {
    try {
      this.check(first, STATE.PARAM_EXCHANGE);
      // The server ends a test on its own after its duration plus a grace period: give it ours.
      this.writeJson({
        tcp: true, omit: 0, time: Math.ceil(p.durationSeconds) + 5, num: 0, blockcount: 0, parallel: p.streams,
        len: p.size, pacing_timer: 1000, client_version: '3.12',
      });
      await this.expect(STATE.CREATE_STREAMS, STEP_MS);
      return this;
    } catch (err) {
      this.close();
      throw err;
    }
  }

  private writeJson(value: unknown): void {
    const body = Buffer.from(JSON.stringify(value));
    const head = Buffer.alloc(4);
    head.writeUInt32BE(body.length);
    this.socket.write(Buffer.concat([head, body]));
  }

  /** The next state byte; the peer's error states become errors (ACCESS_DENIED too, unless asked for). */
  private async readState(ms: number, what: string, deniedIsError = true): Promise<number> {
    const s = (await this.reader.read(1, what, ms)).readInt8(0);
    if (s === STATE.SERVER_ERROR) {
      const codes = await this.reader.read(8, 'the error codes after SERVER_ERROR', STEP_MS);
      throw new PeerError(`${this.where}: server error (iperf3 i_errno ${codes.readInt32BE(0)}, errno ${codes.readInt32BE(4)})`);
    }
    if (s === STATE.ACCESS_DENIED && deniedIsError) throw new PeerError(`${this.where}: access denied (the server is busy with another test)`);
    if (s === STATE.SERVER_TERMINATE) throw new PeerError(`${this.where}: the server terminated the test`);
    return s;
  }

  private check(got: number, want: number): void {
    if (got === STATE.ACCESS_DENIED) throw new PeerError(`${this.where}: access denied (the server is busy with another test)`);
    if (got !== want) throw new PeerError(`${this.where}: sent state ${got} (${STATE_NAMES.get(got) ?? 'unknown'}) where ${STATE_NAMES.get(want)} belongs`);
  }

  private async expect(want: number, ms: number): Promise<void> {
    this.check(await this.readState(ms, STATE_NAMES.get(want)!), want);
  }

  /** After the data connections opened: TEST_START and TEST_RUNNING, within `ms`. */
  async running(ms: number): Promise<void> {
    await this.expect(STATE.TEST_START, ms);
    await this.expect(STATE.TEST_RUNNING, ms);
  }

  /** Ends the test with what we sent per stream; returns what the server counted and its CPU. */
  async end(sentBytes: number[], seconds: number, cpuPercent: number): Promise<PeerResults> {
    this.socket.write(Buffer.from([STATE.TEST_END]));
    await this.expect(STATE.EXCHANGE_RESULTS, STEP_MS);
    this.writeJson({
      cpu_util_total: cpuPercent, cpu_util_user: cpuPercent, cpu_util_system: 0, sender_has_retransmits: 0,
      streams: sentBytes.map((bytes, i) => ({
        id: streamId(i), bytes, retransmits: 0, jitter: 0, errors: 0, packets: 0, start_time: 0, end_time: seconds,
      })),
    });
    const length = (await this.reader.read(4, "the length of the server's results", STEP_MS)).readUInt32BE(0);
    if (length === 0 || length > MAX_RESULTS_BYTES) throw new PeerError(`${this.where}: results of ${length} bytes (at most ${MAX_RESULTS_BYTES} accepted)`);
    const results = parseServerResults((await this.reader.read(length, "the server's results", STEP_MS)).toString('utf8'), sentBytes.length, this.where);
    await this.expect(STATE.DISPLAY_RESULTS, STEP_MS);
    this.socket.write(Buffer.from([STATE.IPERF_DONE]));
    return results;
  }

  /** Tells the server the test is off (CLIENT_TERMINATE) where it was not finished, and closes. */
  close(): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.end(Buffer.from([STATE.CLIENT_TERMINATE]));
    this.socket.destroySoon();
  }
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** The server's results message, checked field by field: its CPU and one count per stream. */
export function parseServerResults(text: string, streams: number, where: string): PeerResults {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    throw new PeerError(`${where}: results that are not JSON`);
  }
  const r = j as { cpu_util_total?: unknown; streams?: unknown };
  if (typeof r !== 'object' || r === null || !isCount(r.cpu_util_total) || !Array.isArray(r.streams)) {
    throw new PeerError(`${where}: results without cpu_util_total and streams`);
  }
  if (r.streams.length !== streams) throw new PeerError(`${where}: results for ${r.streams.length} streams, not ${streams}`);
  const byId = new Map<number, number>();
  for (const s of r.streams as { id?: unknown; bytes?: unknown }[]) {
    if (typeof s !== 'object' || s === null || !Number.isInteger(s.id) || !isCount(s.bytes)) throw new PeerError(`${where}: a stream result without id and bytes`);
    byId.set(s.id as number, s.bytes);
  }
  const streamBytes = Array.from({ length: streams }, (_, i) => {
    const b = byId.get(streamId(i));
    if (b === undefined) throw new PeerError(`${where}: no result for stream id ${streamId(i)}`);
    return b;
  });
  return { cpuPercent: r.cpu_util_total, streamBytes };
}
