// What a sink sender (sink-sender.ts, a child process) prints on its one stdout line, shared with
// the parent (sink-bench.ts) without the parent loading the sender script itself.

/** What one sender run reports; wall and CPU time cover the send loop only. */
export interface SinkSample {
  /** Bytes of writes that settled successfully. */
  bytes: number;
  zeroCopyBytes: number;
  copiedBytes: number;
  /** Buffers whose writes settled (one GSO super-datagram each; a batch counts its buffers). */
  writes: number;
  /** Send calls they took (WriteResult.segments summed). */
  segments: number;
  /** The backend WriteResult named ('a/b' if it changed mid-run; null if nothing settled). */
  backend: string | null;
  wallSeconds: number;
  /** This process's user + system CPU time over the loop (process.cpuUsage; all its threads). */
  cpuSeconds: number;
}

/** Printed instead of a sample (exit code 1) when the sender could not send. */
export interface SenderFailure {
  error: { code: string | null; message: string };
}

/** The code the sender reports when the uring-pool method gets a pool that is not wired. */
export const POOL_NOT_WIRED = 'ERR_AIOTX_POOL_NOT_WIRED';
