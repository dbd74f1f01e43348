// serveFile over real HTTP clients (curl and fetch), every body hashed: ranges, 416, HEAD, 304,
// keep-alive, pipelining, client abort, truncation, and the fallbacks (TLS, compression), each
// response saying which path its body took.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { Agent, createServer, get, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createGzip } from 'node:zlib';
import { serveFile, type ServeResult } from '../src/index.js';
import { close, curl, curlMissing, fdsBackTo, fetchReply, listen, openFds, rawExchange, sha256, TLS_CERT, TLS_KEY } from './helpers/http.js';
import { randomBytes } from './helpers/sockets.js';

/** A stand-in for compression middleware: patches write/end and announces gzip, like `compression`. */
function gzipResponses(res: ServerResponse): void {
  const gz = createGzip();
  const write = res.write.bind(res) as (chunk: Buffer) => boolean;
  const end = res.end.bind(res) as () => ServerResponse;
  let headed = false;
  const head = () => {
    if (headed) return;
    headed = true;
    res.removeHeader('Content-Length');
    res.setHeader('Content-Encoding', 'gzip');
  };
  gz.on('data', (c: Buffer) => write(c));
  gz.on('end', () => end());
  Object.assign(res, {
    write(chunk: Buffer) {
      head();
      gz.write(chunk);
      return true;
    },
    end(chunk?: Buffer) {
      head();
      if (chunk && chunk.length) gz.write(chunk);
      gz.end();
      return res;
    },
  });
}

describe('serveFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aiotx-http-'));
  const big = randomBytes(24 << 20);
  const mid = randomBytes((2 << 20) + 7);
  const small = Buffer.from('hello, small file\n'.repeat(50));
  const results: ServeResult[] = [];
  const served: Promise<ServeResult>[] = [];
  const controllers: AbortController[] = [];
  let connections = 0;
  let server: Server;
  let host = '';
  const files: Record<string, string> = {
    '/big': join(dir, 'big.bin'),
    '/mid': join(dir, 'mid.bin'),
    '/small.txt': join(dir, 'small.txt'),
    '/missing': join(dir, 'missing'),
    '/dir': dir,
    '/shrink': join(dir, 'shrink.bin'),
  };
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url!, 'http://x');
    if (url.searchParams.has('gzip')) gzipResponses(res);
    const latin1 = url.searchParams.has('latin1') ? (r: ServerResponse) => void r.setHeader('X-Name', 'caf\u00e9 \u00ff') : undefined;
    const signal = url.searchParams.has('signal') ? controllers[controllers.push(new AbortController()) - 1]!.signal : undefined;
    const job = serveFile(req, res, files[url.pathname] ?? files['/missing']!, { debug: true, setHeaders: latin1, signal });
    served.push(job);
    void job.then((r) => results.push(r));
  };

  before(async () => {
    writeFileSync(files['/big']!, big);
    writeFileSync(files['/mid']!, mid);
    writeFileSync(files['/small.txt']!, small);
    server = createServer(handler);
    server.on('connection', () => connections++);
    host = await listen(server);
  });
  after(async () => {
    await close(server);
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends the whole file by sendfile, with send-compatible headers (curl and fetch)', { skip: curlMissing }, async () => {
    for (const r of [await curl(`http://${host}/big`), await fetchReply(`http://${host}/big`)]) {
      assert.equal(r.status, 200);
      assert.equal(sha256(r.body), sha256(big));
      assert.equal(r.headers['content-length'], String(big.length));
      assert.equal(r.headers['accept-ranges'], 'bytes');
      assert.equal(r.headers['content-type'], 'application/octet-stream');
      assert.equal(r.headers['cache-control'], 'public, max-age=0');
      assert.match(r.headers['etag']!, /^W\/"1800000-[0-9a-f]+"$/);
      assert.ok(r.headers['last-modified']);
      assert.equal(r.headers['x-aiotx-body'], 'sendfile');
    }
    assert.deepEqual(results.at(-1), { status: 200, body: 'sendfile', bytes: big.length });
  });

  it('sends a small file in one write with its MIME type, and says why', async () => {
    const r = await fetchReply(`http://${host}/small.txt`);
    assert.equal(r.status, 200);
    assert.equal(sha256(r.body), sha256(small));
    assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(r.headers['x-aiotx-body'], 'buffer; small');
    assert.deepEqual(results.at(-1), { status: 200, body: 'buffer', fallback: 'small', bytes: small.length });
  });

  it('answers each Range form with 206 and exactly those bytes', { skip: curlMissing }, async () => {
    const n = mid.length;
    const cases: [string, number, number][] = [
      ['bytes=0-99', 0, 99],
      ['bytes=1000-', 1000, n - 1],
      ['bytes=-500', n - 500, n - 1],
      ['bytes=5-5', 5, 5],
      ['bytes=100-99999999999', 100, n - 1],
      ['bytes=0-10,5-200000', 0, 200000],
      ['bytes= 70000-1500000', 70000, 1500000],
    ];
    for (const [range, start, end] of cases) {
      for (const r of [await curl(`http://${host}/mid`, '-H', `Range: ${range}`), await fetchReply(`http://${host}/mid`, { headers: { range } })]) {
        assert.equal(r.status, 206, range);
        assert.equal(r.headers['content-range'], `bytes ${start}-${end}/${n}`, range);
        assert.equal(r.headers['content-length'], String(end - start + 1), range);
        assert.equal(sha256(r.body), sha256(mid.subarray(start, end + 1)), range);
        assert.equal(r.headers['x-aiotx-body'], end - start + 1 < 64 * 1024 ? 'buffer; small' : 'sendfile', range);
      }
    }
  });

  it('answers the whole file for several ranges, a malformed one, or a stale If-Range', async () => {
    const variants: Record<string, string>[] = [{ range: 'bytes=0-1,10-20' }, { range: 'bytes=abc' }, { range: 'items=0-5' }, { range: 'bytes=0-5', 'if-range': '"stale"' }];
    for (const headers of variants) {
      const r = await fetchReply(`http://${host}/mid`, { headers });
      assert.equal(r.status, 200, JSON.stringify(headers));
      assert.equal(sha256(r.body), sha256(mid));
    }
  });

  it('answers 416 with Content-Range for an unsatisfiable range, sending no file byte', { skip: curlMissing }, async () => {
    for (const range of [`bytes=${mid.length}-`, `bytes=${mid.length + 10}-${mid.length + 20}`]) {
      const r = await curl(`http://${host}/mid`, '-H', `Range: ${range}`);
      assert.equal(r.status, 416);
      assert.equal(r.headers['content-range'], `bytes */${mid.length}`);
      assert.match(r.body.toString(), /Range Not Satisfiable/);
    }
  });

  it('answers HEAD with the headers only', { skip: curlMissing }, async () => {
    const r = await curl(`http://${host}/big`, '-I');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-length'], String(big.length));
    assert.equal(r.body.length, 0);
    assert.equal(r.headers['x-aiotx-body'], 'none');
  });

  it('answers 304 by ETag and by date, 412 when If-Match fails', { skip: curlMissing }, async () => {
    const first = await fetchReply(`http://${host}/mid`);
    const byEtag = await curl(`http://${host}/mid`, '-H', `If-None-Match: ${first.headers['etag']}`);
    assert.equal(byEtag.status, 304);
    assert.equal(byEtag.body.length, 0);
    // (fetch adds Cache-Control: no-cache to conditional requests, which rightly forbids a 304.)
    const byDate = await curl(`http://${host}/mid`, '-H', `If-Modified-Since: ${first.headers['last-modified']}`);
    assert.equal(byDate.status, 304);
    const older = new Date(Date.parse(first.headers['last-modified']!) - 60_000).toUTCString();
    const modified = await fetchReply(`http://${host}/mid`, { headers: { 'if-modified-since': older } });
    assert.equal(modified.status, 200);
    assert.equal(sha256(modified.body), sha256(mid));
    const noCache = await fetchReply(`http://${host}/mid`, { headers: { 'if-none-match': first.headers['etag']!, 'cache-control': 'no-cache' } });
    assert.equal(noCache.status, 200);
    const failed = await fetchReply(`http://${host}/mid`, { headers: { 'if-match': '"other"' } });
    assert.equal(failed.status, 412);
  });

  it('answers 404 for a missing file and for a directory', async () => {
    assert.equal((await fetchReply(`http://${host}/missing`)).status, 404);
    assert.equal((await fetchReply(`http://${host}/dir`)).status, 404);
  });

  it('serves 100 requests on one keep-alive connection, each body intact', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const before = connections;
    for (let i = 0; i < 100; i++) {
      const res = await new Promise<IncomingMessage>((resolve) => get(`http://${host}/mid`, { agent }, resolve));
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      assert.equal(res.headers['x-aiotx-body'], 'sendfile');
      assert.equal(sha256(Buffer.concat(chunks)), sha256(mid), `request ${i}`);
    }
    agent.destroy();
    assert.equal(connections - before, 1);
  });

  it('answers 10 pipelined requests, written at once, in order', async () => {
    const reqs = [
      'GET /mid', 'GET /small.txt', 'HEAD /mid', 'GET /mid', 'GET /missing',
      'GET /big', 'GET /mid', 'GET /small.txt', 'GET /mid', 'GET /big',
    ];
    const ranged = 3;
    const text = reqs.map((r, i) => `${r} HTTP/1.1\r\nHost: x\r\n${i === ranged ? 'Range: bytes=1000-99999\r\n' : ''}\r\n`).join('');
    const replies = await rawExchange(host, text, reqs.length, new Set([2]));
    assert.equal(replies.length, reqs.length);
    const expected: [number, Buffer | null][] = [
      [200, mid], [200, small], [200, Buffer.alloc(0)], [206, mid.subarray(1000, 100000)], [404, null],
      [200, big], [200, mid], [200, small], [200, mid], [200, big],
    ];
    replies.forEach((r, i) => {
      assert.equal(r.status, expected[i]![0], `reply ${i}`);
      if (expected[i]![1]) assert.equal(sha256(r.body), sha256(expected[i]![1]!), `reply ${i}`);
    });
    assert.deepEqual(replies.map((r) => r.headers['x-aiotx-body']), ['sendfile', 'buffer; small', 'none', 'sendfile', undefined, 'sendfile', 'sendfile', 'buffer; small', 'sendfile', 'sendfile']);
  });

  it('sends the headers with the body exactly as Node writes them (latin1 values), once, on every path', async () => {
    const reqs = ['GET /mid?latin1', 'GET /small.txt?latin1', 'HEAD /mid?latin1', 'GET /mid?latin1', 'GET /big?latin1'];
    const text = reqs.map((r) => `${r} HTTP/1.1\r\nHost: x\r\n\r\n`).join('');
    const replies = await rawExchange(host, text, reqs.length, new Set([2]));
    assert.deepEqual(replies.map((r) => r.headers['x-aiotx-body']), ['sendfile', 'buffer; small', 'none', 'sendfile', 'sendfile']);
    for (const [i, r] of replies.entries()) {
      assert.equal(r.status, 200, `reply ${i}`);
      assert.equal(r.headers['x-name'], 'caf\u00e9 \u00ff', `reply ${i}: the latin1 bytes Node would write`);
      assert.ok(r.headers['date'] && r.headers['connection'] === 'keep-alive', `reply ${i}: Node's own headers`);
    }
    // A head sent twice would show up as body bytes here.
    assert.deepEqual(replies.map((r) => sha256(r.body)), [mid, small, Buffer.alloc(0), mid, big].map(sha256));
  });

  it('aborts the body when the client goes away: the file is closed, no fd leaks', async () => {
    await fetchReply(`http://${host}/mid`); // the transmitter machinery exists from here on
    await new Promise((r) => setTimeout(r, 100));
    const baseline = openFds();
    served.length = 0;
    const socket = connect(Number(host.split(':')[1]), '127.0.0.1');
    await once(socket, 'connect');
    socket.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
    await once(socket, 'data');
    socket.destroy();
    const r = await served[0]!;
    assert.equal(r.body, 'sendfile');
    assert.ok(r.error, 'the body did not complete');
    assert.ok(r.bytes < big.length);
    assert.equal(await fdsBackTo(baseline), baseline);
  });

  it("the caller's signal aborts the body mid-send: the connection closes, the file too", async () => {
    await fetchReply(`http://${host}/mid`);
    await new Promise((r) => setTimeout(r, 100));
    const baseline = openFds();
    served.length = 0;
    const socket = connect(Number(host.split(':')[1]), '127.0.0.1');
    await once(socket, 'connect');
    socket.write('GET /big?signal HTTP/1.1\r\nHost: x\r\n\r\n');
    const [first] = (await once(socket, 'data')) as [Buffer];
    assert.match(first.toString('latin1'), /^HTTP\/1\.1 200 OK\r\n/);
    socket.pause(); // the body cannot finish before the abort
    controllers.at(-1)!.abort();
    const r = await served[0]!;
    assert.equal(r.body, 'sendfile');
    assert.equal(r.error?.name, 'AbortError');
    socket.resume();
    await once(socket, 'close');
    assert.equal(await fdsBackTo(baseline), baseline);
  });

  it('closes the connection when the file shrinks mid-send (never a wrong Content-Length)', async () => {
    writeFileSync(files['/shrink']!, big);
    served.length = 0;
    const socket = connect(Number(host.split(':')[1]), '127.0.0.1');
    await once(socket, 'connect');
    socket.write('GET /shrink HTTP/1.1\r\nHost: x\r\n\r\n');
    const [first] = (await once(socket, 'data')) as [Buffer];
    socket.pause(); // the socket buffers fill, the job waits
    await new Promise((r) => setTimeout(r, 100));
    truncateSync(files['/shrink']!, 1 << 20);
    let received = first.length - first.indexOf('\r\n\r\n') - 4;
    socket.on('data', (c: Buffer) => (received += c.length));
    socket.resume();
    await once(socket, 'close');
    const r = await served[0]!;
    assert.equal((r.error as { code?: string } | undefined)?.code, 'ERR_AIOTX_FILE_TRUNCATED');
    assert.ok(received < big.length, `received ${received} of ${big.length}`);
    assert.match(first.toString('latin1'), /content-length: 25165824/i);
  });

  it('falls back to a read stream under TLS, same headers, exact bytes', { skip: curlMissing }, async () => {
    const tls = createTlsServer({ key: TLS_KEY, cert: TLS_CERT }, handler);
    const tlsHost = await listen(tls as unknown as Server);
    try {
      const r = await curl(`https://${tlsHost}/big`, '-k');
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-length'], String(big.length));
      assert.equal(r.headers['x-aiotx-body'], 'stream; tls');
      assert.equal(sha256(r.body), sha256(big));
      const ranged = await curl(`https://${tlsHost}/mid`, '-k', '-r', '100-200099');
      assert.equal(ranged.status, 206);
      assert.equal(sha256(ranged.body), sha256(mid.subarray(100, 200100)));
      // A stream body's result comes at the stream's 'close', which may follow the next response.
      const settledBoth = () => results.filter((x) => x.fallback === 'tls').length >= 2;
      for (let i = 0; i < 200 && !settledBoth(); i++) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(results.find((x) => x.fallback === 'tls' && x.status === 206), { status: 206, body: 'stream', fallback: 'tls', bytes: 200000 });
    } finally {
      await close(tls as unknown as Server);
    }
  });

  it('falls back when compression middleware patched the response: exact decompressed bytes', { skip: curlMissing }, async () => {
    for (const r of [await fetchReply(`http://${host}/mid?gzip`), await curl(`http://${host}/mid?gzip`, '--compressed')]) {
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-encoding'], 'gzip');
      assert.equal(r.headers['x-aiotx-body'], 'stream; patched-write');
      assert.equal(sha256(r.body), sha256(mid));
    }
    assert.deepEqual(results.at(-1), { status: 200, body: 'stream', fallback: 'patched-write', bytes: mid.length });
  });

  it('rejects bad arguments synchronously', async () => {
    const res = {} as ServerResponse;
    await assert.rejects(serveFile({} as IncomingMessage, res, ''), TypeError);
    await assert.rejects(serveFile({} as IncomingMessage, res, 'x', { sendFileThreshold: -1 }), RangeError);
  });
});
