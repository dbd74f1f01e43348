// The receiving end of a bench run: an `aiotx serve` (our control protocol, every byte counted,
// optionally hashed) or a stock `iperf3 -s` (its protocol, iperf3-peer.ts). Each run of a
// sender goes: begin() → the sender child runs → finish() with what it sent, or abort().
import { ControlClient } from './control-client.js';
import type { SenderSample, SentStream } from './bench-methods.js';
import type { StreamReport } from './control-protocol.js';
import { Iperf3Test } from './iperf3-peer.js';

export type PeerKind = 'aiotx' | 'iperf3';

export interface PeerRun {
  /** Bytes (hex) each data connection opens with, or null. */
  preamble: string | null;
  awaitClose: boolean;
  /** The receiver's CPU seconds over the run; throws when what it received does not match. */
  finish(sample: SenderSample): Promise<number>;
  abort(): void;
}

export interface Peer {
  host: string;
  /** Where the sender's data connections go. */
  dataPort: number;
  begin(run: { size: number; streams: number; durationSeconds: number }): Promise<PeerRun>;
  close(): void;
}

/** Compares what the sender sent with what the server received, stream by stream. */
function checkStreams(sent: SentStream[], received: StreamReport[], verify: boolean): string | null {
  for (const s of sent) {
    const got = received.find((r) => r.peer === s.local);
    if (!got) return `the server has no report for stream ${s.local}`;
    if (got.error) return `stream ${s.local}: ${got.error}`;
    if (got.bytes !== s.bytes) return `stream ${s.local}: sent ${s.bytes} bytes, the server received ${got.bytes}`;
    if (verify && got.sha256 !== s.sha256) return `stream ${s.local}: sha256 differs (sent ${s.sha256}, received ${got.sha256})`;
  }
  return null;
}

export async function aiotxPeer(host: string, port: number, verify: boolean): Promise<Peer> {
  const { client, hello } = await ControlClient.connect(host, port);
  if (verify && !hello.verify) {
    client.close();
    throw new Error(`--verify: the server at ${host}:${port} does not hash streams; start it with 'aiotx serve --verify'`);
  }
  return {
    host,
    dataPort: hello.dataPort,
    async begin() {
      await client.start();
      return {
        preamble: null,
        awaitClose: true,
        async finish(sample) {
          const stopped = await client.stop(sample.streams.map((s) => s.local));
          const mismatch = checkStreams(sample.streams, stopped.streams, verify);
          if (mismatch) throw new Error(mismatch);
          return stopped.cpuSeconds;
        },
        // The server forgets streams nobody claims; nothing to collect for a failed run.
        abort() {},
      };
    },
    close: () => client.close(),
  };
}

/**
 * A stock iperf3 server. It stops counting at TEST_END, so bytes still in flight then are not
 * in its figures: it may count less than was sent, never more.
 */
export function iperf3Peer(host: string, port: number): Peer {
  return {
    host,
    dataPort: port,
    async begin(run) {
      const test = await Iperf3Test.open(host, port, run);
      const running = test.running(run.durationSeconds * 1000 + 30_000);
      running.catch(() => {});
      return {
        preamble: test.cookie.toString('hex'),
        awaitClose: false,
        async finish(sample) {
          try {
            await running;
            const cpuPercent = sample.wallSeconds > 0 ? (sample.cpuSeconds / sample.wallSeconds) * 100 : 0;
            const results = await test.end(sample.streams.map((s) => s.bytes), sample.wallSeconds + sample.warmupSeconds, cpuPercent);
            results.streamBytes.forEach((got, i) => {
              if (got > sample.streams[i]!.bytes) throw new Error(`${test.where}: counted ${got} bytes on stream ${i + 1}, ${sample.streams[i]!.bytes} were sent`);
            });
            return (results.cpuPercent / 100) * (sample.wallSeconds + sample.warmupSeconds);
          } finally {
            test.close();
          }
        },
        abort: () => test.close(),
      };
    },
    close() {},
  };
}
