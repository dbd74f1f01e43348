// The rows of `aiotx bench`: each way of sending a stream, and how its sender process is set up.
// Shared by the parent (run-bench.ts) and the sender child (stream-sender.ts); no heavy imports.

export const METHODS = [
  'write', 'aio-copy', 'aio-copy-batch', 'aio-auto', 'aio-zc-uring', 'aio-zc-pool', 'aio-zc-pool-batch', 'aio-zc-msgzerocopy', 'sendfile', 'reference',
  'iperf3', 'iperf3-sendfile', 'netperf', 'netperf-sendfile',
] as const;
export type Method = (typeof METHODS)[number];

/** Tools of others that measure the same path in the same run: the bench's external rows. */
export type ExternalTool = 'iperf3' | 'netperf';

export interface MethodSetup {
  /** AIOTX_BACKEND for the sender process; undefined leaves it unset (automatic choice). */
  backendEnv: string | undefined;
  /** The backend the method needs to be available, if any. */
  needs: 'uring' | 'msgzerocopy' | null;
  describe: string;
  /** The external tool that runs this row (with its own server), or null for aiotx's own senders. */
  external: ExternalTool | null;
}

export const METHOD_SETUP: Record<Method, MethodSetup> = {
  write: { backendEnv: undefined, needs: null, describe: "net.Socket.write, waiting for each write's callback (what a Node user has today)", external: null },
  'aio-copy': { backendEnv: undefined, needs: null, describe: "aioWrite with { zeroCopy: 'off' }", external: null },
  'aio-copy-batch': { backendEnv: undefined, needs: null, describe: "the batched form: aioWrite(socket, [--batch buffers]) with { zeroCopy: 'off' }", external: null },
  'aio-auto': { backendEnv: undefined, needs: null, describe: 'aioWrite with no zeroCopy option: the policy decides per write (not in the default list)', external: null },
  'aio-zc-uring': { backendEnv: 'uring', needs: 'uring', describe: "aioWrite with { zeroCopy: 'on' }, io_uring SEND_ZC", external: null },
  'aio-zc-pool': { backendEnv: 'uring', needs: 'uring', describe: 'as aio-zc-uring, from createBufferPool buffers (registered, FIXED_BUF)', external: null },
  'aio-zc-pool-batch': { backendEnv: 'uring', needs: 'uring', describe: 'the batched form of aio-zc-pool: aioWrite(socket, [--batch pool buffers])', external: null },
  'aio-zc-msgzerocopy': { backendEnv: 'msgzerocopy', needs: 'msgzerocopy', describe: "aioWrite with { zeroCopy: 'on' }, MSG_ZEROCOPY", external: null },
  sendfile: { backendEnv: undefined, needs: null, describe: 'sendFile from a file in the page cache (sendfile(2))', external: null },
  reference: { backendEnv: undefined, needs: null, describe: 'a C loop of non-blocking send(2) until EAGAIN, then poll(): the floor, no JavaScript per write', external: null },
  iperf3: { backendEnv: undefined, needs: null, external: 'iperf3', describe: 'external: iperf3 -c -l SIZE against its own iperf3 -s (blocking send loop)' },
  'iperf3-sendfile': { backendEnv: undefined, needs: null, external: 'iperf3', describe: 'external: iperf3 -c -Z (sendfile(2)) against its own iperf3 -s' },
  netperf: { backendEnv: undefined, needs: null, external: 'netperf', describe: 'external: netperf TCP_STREAM -m SIZE against its own netserver' },
  'netperf-sendfile': { backendEnv: undefined, needs: null, external: 'netperf', describe: 'external: netperf TCP_SENDFILE against its own netserver' },
};

/** '--method write,aio-zc' → the methods in table order; 'aio-zc' and 'external' stand for their groups. */
export function parseMethodList(text: string): Method[] {
  const wanted = new Set<Method>();
  for (const raw of text.split(',')) {
    const name = raw.trim();
    if (name === '') continue;
    const matches =
      name === 'aio-zc' ? METHODS.filter((m) => m.startsWith('aio-zc-'))
      : name === 'external' ? METHODS.filter((m) => METHOD_SETUP[m].external !== null)
      : METHODS.filter((m) => m === name);
    if (matches.length === 0) {
      throw new RangeError(`unknown method '${name}' (one of ${METHODS.join(', ')}; aio-zc for every aio-zc-*, external for iperf3 and netperf)`);
    }
    for (const m of matches) wanted.add(m);
  }
  if (wanted.size === 0) throw new RangeError('no methods given');
  return METHODS.filter((m) => wanted.has(m));
}

/** What the parent hands a sender process (as --job=JSON). */
export interface SenderJob {
  method: Method;
  host: string;
  port: number;
  size: number;
  depth: number;
  /** Buffers per aioWrite call for the -batch methods (each `size` bytes); 1 for the others. */
  batch: number;
  streams: number;
  durationSeconds: number;
  noDelay: boolean;
  /** Hash every stream as it is sent (sha256), for the server to compare. */
  verify: boolean;
  /** Bytes (hex) each data connection opens with, before the stream: an iperf3 peer's cookie. */
  preamble: string | null;
  /**
   * Wait for the server to close each data connection after our end (aiotx serve does); an
   * iperf3 server keeps them open until the test is over, so then only our side is flushed.
   */
  awaitClose: boolean;
}

export interface SentStream {
  /** "address:port" of this end of the data connection, as the server names it. */
  local: string;
  bytes: number;
  sha256: string | null;
}

/** Buffers per call of a method: --batch for the batched form, else 1. */
export function batchOf(method: string, batch: number): number {
  return method.endsWith('-batch') ? batch : 1;
}

/** A sender's one result line; wall and CPU time cover the send loop only. */
export interface SenderSample {
  bytes: number;
  /** Bytes the kernel reported copying (WriteResult.copiedBytes); null where the method cannot tell. */
  copiedBytes: number | null;
  backend: string | null;
  wallSeconds: number;
  /** The uncounted warm-up before the measured run (WARMUP_SECONDS; 0 for the C loop): the receiver saw it too. */
  warmupSeconds: number;
  /** This process's user + system CPU time (all its threads). */
  cpuSeconds: number;
  /** The whole machine over the same interval, % of one CPU (loopback: the receiver too). */
  systemPercent: number;
  softirqPercent: number;
  streams: SentStream[];
}
