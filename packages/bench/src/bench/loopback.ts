// Loopback servers the bench starts (iperf3 -s, netserver, nginx): a free port to give them, and
// waiting until they accept connections.
import { connect, createServer, type AddressInfo } from 'node:net';

/** A port free on 127.0.0.1 a moment ago (the server given it may still lose a race for it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Until something accepts on 127.0.0.1:port, `gone()` says why the server died, or `limitMs`
 * passed (the error then names `who`).
 */
export async function waitListening(port: number, limitMs: number, who: string, gone: () => string | null = () => null): Promise<void> {
  const until = Date.now() + limitMs;
  for (;;) {
    const why = gone();
    if (why !== null) throw new Error(why);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok && gone() === null) return;
    if (Date.now() > until) throw new Error(`${who} did not listen on 127.0.0.1:${port} within ${limitMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
