// `aiotx serve`: the bench's receiver. A control listener speaks control-protocol.ts; a data
// listener on the next port accepts the sender's streams and drops their bytes in a native
// thread each (no JavaScript per chunk), or with `verify` reads them in JavaScript and hashes
// them (sha256) so the sender can check every byte. Bad control input, or any failure while
// answering it, closes that connection with a log line; the server keeps serving. A client that
// sends requests without reading the replies is paused (at most MAX_QUEUED_LINES requests and
// one socket buffer of replies are held for it), so it costs bounded memory.
import { createHash } from 'node:crypto';
import { cpus } from 'node:os';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { discardStream } from '../native/bench-loops.js';
import { cpuSecondsBetween } from './cpu-accounting.js';
import {
  encode,
  LineReader,
  parseClientMessage,
  peerName,
  PROTOCOL_VERSION,
  ProtocolError,
  STREAM_END_TIMEOUT_MS,
  type ServerMessage,
  type StreamReport,
} from './control-protocol.js';

export interface ServeOptions {
  host: string;
  /** Control port; the data port is the next one (both ephemeral when 0). */
  port: number;
  verify: boolean;
  log(line: string): void;
  /** Ends of stream kept for a sender to claim; older ones are forgotten past this. */
  keepStreams?: number;
}

export interface BenchServer {
  host: string;
  controlPort: number;
  dataPort: number;
  close(): Promise<void>;
}

/** Control requests read but not yet answered, per connection; past it the server stops reading. */
const MAX_QUEUED_LINES = 64;

/** Data connections open at once (the bench opens at most 64 per run). */
const MAX_DATA_STREAMS = 512;

interface StreamState {
  report: StreamReport | null;
  waiters: (() => void)[];
  /** A data connection reports into this state (else only a sender waits for it so far). */
  owned: boolean;
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Resolves once the socket's write buffer drained, or it closed. */
function drainedOrClosed(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}

export async function startServer(options: ServeOptions): Promise<BenchServer> {
  const keep = options.keepStreams ?? 1024;
  const streams = new Map<string, StreamState>();
  const open = new Set<Socket>();
  const stops = new Set<() => void>();
  // Read once: os.cpus() parses /proc on every call, too slow to answer a flood of hellos with.
  const cpuCount = cpus().length;
  let dataSockets = 0;

  function stateOf(peer: string): StreamState {
    let s = streams.get(peer);
    if (!s) {
      s = { report: null, waiters: [], owned: false };
      streams.set(peer, s);
      // Unclaimed ends of stream from senders that went away must not pile up.
      if (streams.size > keep) for (const [k, v] of streams) if (v.report && streams.size > keep) streams.delete(k);
    }
    return s;
  }

  /** The end of one connection's stream, into that connection's own state. */
  function finish(s: StreamState, peer: string, bytes: number, sha256: string | null, error: string | null): void {
    s.report = { peer, bytes, sha256, error };
    for (const w of s.waiters.splice(0)) w();
  }

  function acceptData(socket: Socket): void {
    // Each stream costs a thread: a flood of connections must not cost a thread each.
    if (dataSockets >= MAX_DATA_STREAMS) {
      options.log(`aiotx serve: refusing a data connection from ${peerName(socket.remoteAddress, socket.remotePort)}: ${MAX_DATA_STREAMS} streams already open`);
      socket.destroy();
      return;
    }
    dataSockets++;
    socket.once('close', () => dataSockets--);
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    const peer = peerName(socket.remoteAddress, socket.remotePort);
    // A state some sender waits on is this stream's; any other (an earlier connection from the
    // same address and port, ended or still reporting) is not: that one reports into its own.
    const waiting = streams.get(peer);
    if (waiting && (waiting.owned || waiting.report)) streams.delete(peer);
    const state = stateOf(peer);
    state.owned = true;
    if (options.verify) {
      const hash = createHash('sha256');
      let bytes = 0;
      let failure: string | null = null;
      socket.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        bytes += chunk.length;
      });
      socket.on('error', (err) => (failure ??= err.message));
      socket.on('close', () => finish(state, peer, bytes, failure === null ? hash.digest('hex') : null, failure));
      return;
    }
    socket.on('error', () => {});
    const discard = discardStream(socket);
    stops.add(discard.stop);
    discard.done.then(
      (bytes) => finish(state, peer, bytes, null, null),
      (err: Error) => finish(state, peer, 0, null, err.message),
    ).finally(() => {
      stops.delete(discard.stop);
      socket.destroy();
    });
  }

  async function waitForStreams(peers: string[]): Promise<StreamReport[]> {
    const pending = peers.map((peer) => {
      const s = stateOf(peer);
      return s.report ? Promise.resolve() : new Promise<void>((resolve) => s.waiters.push(resolve));
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, STREAM_END_TIMEOUT_MS)));
    await Promise.race([Promise.all(pending), timeout]);
    clearTimeout(timer);
    return peers.map((peer) => {
      const s = streams.get(peer);
      streams.delete(peer);
      return s?.report ?? { peer, bytes: 0, sha256: null, error: `no end of stream within ${STREAM_END_TIMEOUT_MS / 1000} s` };
    });
  }

  function acceptControl(socket: Socket): void {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    const who = peerName(socket.remoteAddress, socket.remotePort);
    const reader = new LineReader();
    let cpuAtStart: NodeJS.CpuUsage | null = null;
    // Requests are answered in order, one at a time; `pending` holds those read but not answered.
    const pending: string[] = [];
    let answering = false;
    let throttled = false;
    let saidSlow = false;
    const closed = () => socket.destroyed || socket.writableEnded;
    const reply = (m: ServerMessage) => {
      if (!socket.destroyed) socket.write(encode(m));
    };
    const reject = (why: string) => {
      options.log(`aiotx serve: control connection from ${who}: ${why}; closing it`);
      pending.length = 0;
      reply({ op: 'error', message: why });
      socket.end();
      socket.destroySoon();
    };
    const answer = async (line: string) => {
      const m = parseClientMessage(line);
      if (m.op === 'hello') {
        const dataPort = (dataServer.address() as AddressInfo).port;
        reply({ op: 'hello', version: PROTOCOL_VERSION, dataPort, verify: options.verify, cpus: cpuCount });
      } else if (m.op === 'start') {
        cpuAtStart = process.cpuUsage();
        reply({ op: 'started' });
      } else {
        const reports = await waitForStreams(m.streams);
        const cpuSeconds = cpuAtStart === null ? 0 : cpuSecondsBetween(cpuAtStart, process.cpuUsage());
        reply({ op: 'stopped', cpuSeconds, streams: reports });
      }
    };
    const pump = async () => {
      if (answering) return;
      answering = true;
      while (pending.length > 0 && !closed()) {
        try {
          await answer(pending.shift()!);
        } catch (err) {
          // Whatever went wrong costs this connection only, never the server.
          reject(err instanceof ProtocolError ? err.message : `internal error: ${(err as Error)?.message ?? String(err)}`);
          break;
        }
        if (socket.writableNeedDrain) {
          // A client that does not read its replies: stop answering (and, below, reading) until it does.
          if (!saidSlow) options.log(`aiotx serve: control connection from ${who}: replies not being read; waiting for them to be`);
          saidSlow = true;
          await drainedOrClosed(socket);
        }
        if (throttled && pending.length <= MAX_QUEUED_LINES / 2) {
          throttled = false;
          socket.resume();
        }
      }
      answering = false;
    };
    socket.setEncoding('utf8');
    socket.on('error', () => {});
    socket.on('data', (chunk: string) => {
      let lines: string[];
      try {
        lines = reader.push(chunk);
      } catch (err) {
        socket.pause();
        return reject((err as Error).message);
      }
      if (closed()) return;
      pending.push(...lines);
      if (pending.length >= MAX_QUEUED_LINES && !throttled) {
        throttled = true;
        socket.pause();
      }
      void pump();
    });
  }

  // pauseOnConnect: a data socket is read by its native discard thread, never by Node.
  const dataServer = createServer({ pauseOnConnect: !options.verify, noDelay: true }, acceptData);
  const controlServer = createServer(acceptControl);
  const controlPort = await listen(controlServer, options.host, options.port);
  let dataPort: number;
  try {
    dataPort = await listen(dataServer, options.host, options.port === 0 ? 0 : options.port + 1);
  } catch (err) {
    controlServer.close();
    throw err;
  }
  return {
    host: options.host,
    controlPort,
    dataPort,
    async close() {
      for (const stop of stops) stop();
      for (const s of open) s.destroy();
      await Promise.all([controlServer, dataServer].map((s) => new Promise((resolve) => s.close(resolve))));
    },
  };
}
