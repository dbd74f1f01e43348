// The rows of `aiotx bench`: each way of sending a stream, and how its sender process is set up.
// Shared by the parent (run-bench.ts) and the sender child (stream-sender.ts); no heavy imports.

export const METHODS = ['write', 'aio-copy', 'aio-zc-uring', 'aio-zc-pool', 'aio-zc-msgzerocopy', 'sendfile', 'reference'] as const;
export type Method = (typeof METHODS)[number];

export interface MethodSetup {
  /** AIOTX_BACKEND for the sender process; undefined leaves it unset (automatic choice). */
  backendEnv: string | undefined;
  /** The backend the method needs to be available, if any. */
  needs: 'uring' | 'msgzerocopy' | null;
  describe: string;
}

export const METHOD_SETUP: Record<Method, MethodSetup> = {
  write: { backendEnv: undefined, needs: null, describe: "net.Socket.write, waiting for each write's callback (what a Node user has today)" },
  'aio-copy': { backendEnv: undefined, needs: null, describe: "aioWrite with { zeroCopy: 'off' }" },
  'aio-zc-uring': { backendEnv: 'uring', needs: 'uring', describe: "aioWrite with { zeroCopy: 'on' }, io_uring SEND_ZC" },
  'aio-zc-pool': { backendEnv: 'uring', needs: 'uring', describe: 'as aio-zc-uring, from createBufferPool buffers (registered, FIXED_BUF)' },
  'aio-zc-msgzerocopy': { backendEnv: 'msgzerocopy', needs: 'msgzerocopy', describe: "aioWrite with { zeroCopy: 'on' }, MSG_ZEROCOPY" },
  sendfile: { backendEnv: undefined, needs: null, describe: 'sendFile from a file in the page cache (sendfile(2))' },
  reference: { backendEnv: undefined, needs: null, describe: 'a tight C loop of send(2) in the addon: the floor, no JavaScript per write' },
};

/** '--method write,aio-zc' → the methods in table order; 'aio-zc' stands for its three backends. */
export function parseMethodList(text: string): Method[] {
  const wanted = new Set<Method>();
  for (const raw of text.split(',')) {
    const name = raw.trim();
    if (name === '') continue;
    const matches = name === 'aio-zc' ? METHODS.filter((m) => m.startsWith('aio-zc-')) : METHODS.filter((m) => m === name);
    if (matches.length === 0) throw new RangeError(`unknown method '${name}' (one of ${METHODS.join(', ')}, or aio-zc for all three aio-zc-*)`);
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
  streams: number;
  durationSeconds: number;
  noDelay: boolean;
  /** Hash every stream as it is sent (sha256), for the server to compare. */
  verify: boolean;
}

export interface SentStream {
  /** "address:port" of this end of the data connection, as the server names it. */
  local: string;
  bytes: number;
  sha256: string | null;
}

/** A sender's one result line; wall and CPU time cover the send loop only. */
export interface SenderSample {
  bytes: number;
  /** Bytes the kernel reported copying (WriteResult.copiedBytes); null where the method cannot tell. */
  copiedBytes: number | null;
  backend: string | null;
  wallSeconds: number;
  /** This process's user + system CPU time (all its threads). */
  cpuSeconds: number;
  /** The whole machine over the same interval, % of one CPU (loopback: the receiver too). */
  systemPercent: number;
  softirqPercent: number;
  streams: SentStream[];
}
