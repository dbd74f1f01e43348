// express.static (serve-static) and serveStatic side by side in two Express apps: for every
// option and a request set covering it, the same status, body and meaningful headers.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request, type IncomingHttpHeaders, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { serveStatic, type ServeStaticOptions } from '../src/index.js';
import { close, listen, sha256 } from './helpers/http.js';
import { randomBytes } from './helpers/sockets.js';

type Middleware = (...args: never[]) => void;
interface App extends RequestListener {
  use(path: string, mw: Middleware): void;
  set(key: string, value: unknown): void;
}
interface Express {
  (): App;
  static(root: string, options?: object): Middleware;
}
const express = createRequire(import.meta.url)('express') as Express;

const COMPARED = [
  'content-type', 'content-length', 'content-range', 'accept-ranges', 'cache-control', 'etag', 'last-modified',
  'location', 'allow', 'x-file', 'content-security-policy', 'x-content-type-options', 'vary', 'transfer-encoding',
];

interface Answer {
  status: number;
  headers: Record<string, string | undefined>;
  body: string;
}

function ask(host: string, method: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  const [hostname, port] = host.split(':');
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port: Number(port), method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const h: IncomingHttpHeaders = res.headers;
        resolve({ status: res.statusCode!, headers: Object.fromEntries(COMPARED.map((k) => [k, h[k] as string | undefined])), body: sha256(Buffer.concat(chunks)) });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('serveStatic vs express.static, side by side', () => {
  const root = mkdtempSync(join(tmpdir(), 'aiotx-express-'));
  const big = randomBytes((1 << 20) + 3);

  before(() => {
    mkdirSync(join(root, 'sub'));
    mkdirSync(join(root, 'empty'));
    mkdirSync(join(root, '.dotdir'));
    mkdirSync(join(root, 'alt'));
    writeFileSync(join(root, 'index.html'), '<h1>root index</h1>\n');
    writeFileSync(join(root, 'sub', 'index.html'), '<h1>sub index</h1>\n');
    writeFileSync(join(root, 'alt', 'default.htm'), 'alt default\n');
    writeFileSync(join(root, 'a.txt'), 'alpha '.repeat(1000));
    writeFileSync(join(root, 'big.bin'), big);
    writeFileSync(join(root, 'page.html'), '<p>page</p>\n');
    writeFileSync(join(root, 'data.json'), '{"a":1}\n');
    writeFileSync(join(root, 'style.css'), 'p{}\n');
    writeFileSync(join(root, 'noext'), 'no extension\n');
    writeFileSync(join(root, '.hidden'), 'hidden\n');
    writeFileSync(join(root, '.dotdir', 'f.txt'), 'in dotdir\n');
    writeFileSync(join(root, 'with space.txt'), 'space\n');
    writeFileSync(join(root, 'ünï.txt'), 'unicode\n');
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  const setHeaders = (res: ServerResponse, path: string) => res.setHeader('X-File', basename(path));
  const optionSets: [string, ServeStaticOptions][] = [
    ['defaults', {}],
    ['index: false', { index: false }],
    ['index: list', { index: ['default.htm', 'index.html'] }],
    ['dotfiles: allow', { dotfiles: 'allow' }],
    ['dotfiles: deny', { dotfiles: 'deny' }],
    ['dotfiles: ignore', { dotfiles: 'ignore' }],
    ['etag: false', { etag: false }],
    ['lastModified: false', { lastModified: false }],
    ['maxAge: ms', { maxAge: 3_600_000 }],
    ['maxAge: string + immutable', { maxAge: '1d', immutable: true }],
    ['maxage alias', { maxage: '2h' }],
    ['cacheControl: false', { cacheControl: false, maxAge: 1000 }],
    ['acceptRanges: false', { acceptRanges: false }],
    ['fallthrough: false', { fallthrough: false }],
    ['redirect: false', { redirect: false }],
    ['setHeaders', { setHeaders }],
    ['extensions', { extensions: ['html', 'json'] }],
  ];

  const requests: [string, string, Record<string, string>?][] = [
    ['GET', '/s/'],
    ['GET', '/s'],
    ['GET', '/s?q=1'],
    ['GET', '/s/a.txt'],
    ['GET', '/s/big.bin'],
    ['HEAD', '/s/big.bin'],
    ['GET', '/s/data.json'],
    ['GET', '/s/style.css'],
    ['GET', '/s/noext'],
    ['GET', '/s/sub'],
    ['GET', '/s/sub?x=1&y=2'],
    ['GET', '/s/sub/'],
    ['GET', '/s/empty/'],
    ['GET', '/s/empty'],
    ['GET', '/s/alt/'],
    ['GET', '/s/missing'],
    ['GET', '/s/missing.txt'],
    ['GET', '/s/page'],
    ['GET', '/s/data'],
    ['GET', '/s/a.txt/'],
    ['GET', '/s/.hidden'],
    ['GET', '/s/.dotdir/f.txt'],
    ['GET', '/s/with%20space.txt'],
    ['GET', '/s/%C3%BCn%C3%AF.txt'],
    ['GET', '/s/%2e%2e/secret'],
    ['GET', '/s/a.txt%00'],
    ['GET', '/s/%E0%A4%A'],
    ['POST', '/s/a.txt'],
    ['DELETE', '/s/'],
    ['GET', '/s/big.bin', { range: 'bytes=100-70000' }],
    ['GET', '/s/big.bin', { range: 'bytes=-10' }],
    ['GET', '/s/big.bin', { range: 'bytes=0-1,5-9' }],
    ['GET', '/s/big.bin', { range: 'bytes=99999999-' }],
    ['GET', '/s/a.txt', { range: 'bytes=abc' }],
    ['GET', '/s/a.txt', { 'if-none-match': '*' }],
    ['GET', '/s/a.txt', { 'if-match': '"nope"' }],
    ['GET', '/s/a.txt', { 'if-unmodified-since': 'Thu, 01 Jan 1970 00:00:00 GMT' }],
    ['GET', '/s/a.txt', { 'if-modified-since': new Date(Date.now() + 86_400_000).toUTCString() }],
    ['GET', '/s/a.txt', { 'if-modified-since': 'Thu, 01 Jan 1970 00:00:00 GMT' }],
    ['GET', '/s/a.txt', { 'if-none-match': '*', 'cache-control': 'no-cache' }],
    ['GET', '/s/big.bin', { range: 'bytes=0-9', 'if-range': '"stale"' }],
    ['GET', '/s/big.bin', { range: 'bytes=0-9', 'if-range': new Date(Date.now() + 86_400_000).toUTCString() }],
  ];

  async function pair(options: ServeStaticOptions): Promise<{ hosts: [string, string]; servers: Server[] }> {
    const servers: Server[] = [];
    const hosts: string[] = [];
    for (const mw of [express.static(root, options), serveStatic(root, options)]) {
      const app = express();
      app.set('env', 'production'); // error pages without stacks, so bodies compare
      app.set('etag', false);
      app.use('/s', mw as Middleware);
      const server = createServer(app);
      servers.push(server);
      hosts.push(await listen(server));
    }
    return { hosts: hosts as [string, string], servers };
  }

  for (const [name, options] of optionSets) {
    it(`gives the same answers with ${name}`, async () => {
      const { hosts, servers } = await pair(options);
      try {
        // Conditional requests that must match use the file's own validators.
        const first = await ask(hosts[0], 'GET', '/s/a.txt');
        const extra: [string, string, Record<string, string>][] = [];
        if (first.headers['etag']) extra.push(['GET', '/s/a.txt', { 'if-none-match': first.headers['etag'] }]);
        if (first.headers['etag']) extra.push(['GET', '/s/big.bin', { range: 'bytes=0-9', 'if-range': (await ask(hosts[0], 'HEAD', '/s/big.bin')).headers['etag']! }]);
        if (first.headers['last-modified']) extra.push(['GET', '/s/a.txt', { 'if-modified-since': first.headers['last-modified'] }]);
        for (const [method, path, headers] of [...requests, ...extra]) {
          const [theirs, ours] = await Promise.all(hosts.map((h) => ask(h, method, path, headers)));
          assert.deepEqual(ours, theirs, `${name}: ${method} ${path} ${JSON.stringify(headers ?? {})}`);
        }
      } finally {
        for (const s of servers) await close(s);
      }
    });
  }
});
