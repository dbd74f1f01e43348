// Before each measured run, one GET over a raw socket: the server must answer 200 with the file's
// Content-Length and exactly the file's bytes (sha256). The exact length of its head then bounds
// what wrk may have read during the run (see bytesFitResponses): wrk counts only status >= 400 as
// errors, so a 3xx, a short body or a wrong length would otherwise pass unseen.
import { createHash } from 'node:crypto';
import { connect } from 'node:net';

export interface ResponseCheck {
  /** Bytes of the status line and headers, the blank line included. */
  headBytes: number;
  bodySha256: string;
}

const MAX_HEAD = 16 << 10;

/** GET `path` on 127.0.0.1:port; rejects unless 200, Content-Length = size and the body hashes to `sha256`. */
export function checkResponse(port: number, path: string, size: number, sha256: string, limitMs: number): Promise<ResponseCheck> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const hash = createHash('sha256');
    let head: Buffer | null = null;
    let pending = Buffer.alloc(0);
    let bodyBytes = 0;
    let headBytes = 0;
    let done = false;
    const finish = (err: Error | null, result?: ResponseCheck) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(result!);
    };
    const timer = setTimeout(() => finish(new Error(`GET ${path}: no complete response within ${limitMs / 1000} s`)), limitMs);
    socket.once('connect', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`));
    socket.on('error', (e) => finish(new Error(`GET ${path}: ${e.message}`)));
    socket.on('end', () => finish(new Error(`GET ${path}: the server closed after ${head ? `${bodyBytes} of ${size} body bytes` : 'no complete head'}`)));
    socket.on('data', (chunk: Buffer) => {
      let body = chunk;
      if (head === null) {
        pending = Buffer.concat([pending, chunk]);
        const end = pending.indexOf('\r\n\r\n');
        if (end === -1) {
          if (pending.length > MAX_HEAD) finish(new Error(`GET ${path}: a response head over ${MAX_HEAD} bytes`));
          return;
        }
        headBytes = end + 4;
        head = pending.subarray(0, end);
        const problem = headProblem(head.toString('latin1'), size);
        if (problem !== null) return finish(new Error(`GET ${path}: ${problem}`));
        body = pending.subarray(headBytes);
      }
      bodyBytes += body.length;
      if (bodyBytes > size) return finish(new Error(`GET ${path}: ${bodyBytes} body bytes for Content-Length ${size}`));
      hash.update(body);
      if (bodyBytes === size) {
        const digest = hash.digest('hex');
        if (digest !== sha256) return finish(new Error(`GET ${path}: the body's sha256 is ${digest}, the file's ${sha256}`));
        finish(null, { headBytes, bodySha256: digest });
      }
    });
  });
}

/** What is wrong with a response head for a GET of a `size`-byte file, or null. */
export function headProblem(text: string, size: number): string | null {
  const [status, ...lines] = text.split('\r\n');
  const m = /^HTTP\/1\.1 (\d{3})/.exec(status ?? '');
  if (!m) return `status line '${(status ?? '').slice(0, 80)}'`;
  if (m[1] !== '200') return `status ${m[1]}, not 200`;
  const header = (name: string) =>
    lines.filter((l) => l.toLowerCase().startsWith(`${name}:`)).map((l) => l.slice(name.length + 1).trim());
  if (header('transfer-encoding').length > 0) return `Transfer-Encoding ${header('transfer-encoding').join(', ')}, not a Content-Length body`;
  const lengths = header('content-length');
  if (lengths.length !== 1 || lengths[0] !== String(size)) return `Content-Length ${lengths.join(', ') || 'missing'}, not ${size}`;
  return null;
}

/**
 * Whether wrk's byte count fits `requests` complete responses of head + body bytes, plus at most
 * one unfinished response per connection. `slack` bytes per response allow a head that varies
 * a little (a date, a connection header); a wrong body length cannot hide in it for files of
 * more than a few hundred bytes.
 */
export function bytesFitResponses(bytes: number, requests: number, connections: number, headBytes: number, size: number, slack = 64): boolean {
  const low = requests * (headBytes + size - slack);
  const high = (requests + connections) * (headBytes + size + slack);
  return bytes >= low && bytes <= high;
}
