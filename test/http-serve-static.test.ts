// serveStatic on node:http: no way out of root — `..`, percent-encoded and double-encoded
// traversal, backslashes, NUL, absolute paths and symlinks pointing outside — each refused
// without opening a path outside root; and the middleware's own answers without Express.
import assert from 'node:assert/strict';
import fs, { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { serveStatic } from '../src/index.js';
import { close, listen, rawExchange, sha256 } from './helpers/http.js';
import { randomBytes } from './helpers/sockets.js';

describe('serveStatic: root containment', () => {
  const top = mkdtempSync(join(tmpdir(), 'aiotx-static-'));
  const root = join(top, 'root');
  const outside = join(top, 'outside');
  const secret = Buffer.from('SECRET-OUTSIDE-ROOT-'.repeat(10));
  const inside = randomBytes(300_000);
  const opened: string[] = [];
  const realOpen = fs.open;
  const realOpenSync = fs.openSync;
  let server: Server;
  let strictServer: Server;
  let host = '';
  let strictHost = '';

  before(async () => {
    mkdirSync(join(root, 'sub'), { recursive: true });
    mkdirSync(outside);
    writeFileSync(join(top, 'secret.txt'), secret);
    writeFileSync(join(outside, 'secret.txt'), secret);
    writeFileSync(join(root, 'a.txt'), inside);
    writeFileSync(join(root, 'sub', 'b.txt'), 'b');
    symlinkSync(join(top, 'secret.txt'), join(root, 'link-out'));
    symlinkSync(outside, join(root, 'dir-out'));
    symlinkSync(join(root, 'a.txt'), join(root, 'link-in'));
    // Record every path the server opens by path (the middleware's `open`/`openSync` bindings
    // follow node:fs); its openat2 from the root fd cannot leave root by construction.
    fs.open = ((path: fs.PathLike, ...rest: unknown[]) => {
      opened.push(resolve(String(path)));
      return (realOpen as (...a: unknown[]) => void)(path, ...rest);
    }) as typeof fs.open;
    fs.openSync = ((path: fs.PathLike, ...rest: unknown[]) => {
      opened.push(resolve(String(path)));
      return (realOpenSync as (...a: unknown[]) => number)(path, ...rest);
    }) as typeof fs.openSync;
    syncBuiltinESMExports();
    server = createServer((req, res) => serveStatic(root)(req, res));
    strictServer = createServer((req, res) => serveStatic(root, { fallthrough: false })(req, res));
    host = await listen(server);
    strictHost = await listen(strictServer);
  });
  after(async () => {
    fs.open = realOpen;
    fs.openSync = realOpenSync;
    syncBuiltinESMExports();
    await close(server);
    await close(strictServer);
    rmSync(top, { recursive: true, force: true });
  });

  const attacks = [
    '/../secret.txt',
    '/%2e%2e/secret.txt',
    '/%2e%2e%2fsecret.txt',
    '/..%2fsecret.txt',
    '/.%2e/secret.txt',
    '/..%5csecret.txt',
    '/%2e%2e%5csecret.txt',
    '/sub/..%5c..%5csecret.txt',
    '/%252e%252e%252fsecret.txt',
    '/%252e%252e/secret.txt',
    '/sub/../../secret.txt',
    '/sub/%2e%2e/%2e%2e/secret.txt',
    '/a.txt%00',
    '/%00../secret.txt',
    `//${top.slice(1)}/secret.txt`,
    `/${encodeURIComponent(join(top, 'secret.txt'))}`,
    '/link-out',
    '/dir-out/secret.txt',
    '/%E0%A4%A',
  ];

  it('refuses every traversal form with 400/403/404 and never opens a path outside root', async () => {
    for (const h of [host, strictHost]) {
      opened.length = 0;
      const text = attacks.map((p) => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`).join('');
      const replies = await rawExchange(h, text, attacks.length);
      assert.equal(replies.length, attacks.length);
      replies.forEach((r, i) => {
        assert.ok([400, 403, 404].includes(r.status), `${attacks[i]} -> ${r.status}`);
        assert.equal(r.body.includes(secret.subarray(0, 20)), false, attacks[i]);
      });
      for (const p of opened) assert.ok(p === root || p.startsWith(root + sep), `opened ${p}`);
      // The symlinks are opened (inside root) and refused by what they resolved to.
      assert.ok(opened.includes(join(root, 'link-out')));
    }
  });

  it('answers the expected status for each form', async () => {
    const expected = [403, 403, 403, 403, 403, 403, 403, 403, 404, 404, 403, 403, 400, 400, 404, 404, 404, 404, 400];
    const text = attacks.map((p) => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`).join('');
    const replies = await rawExchange(strictHost, text, attacks.length);
    assert.deepEqual(replies.map((r) => r.status), expected);
  });

  it('serves what lies inside root, through an inside symlink too', async () => {
    const text = ['/a.txt', '/link-in', '/sub/b.txt', '/sub/../a.txt'].map((p) => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`).join('');
    const replies = await rawExchange(host, text, 4);
    assert.deepEqual(replies.map((r) => r.status), [200, 200, 200, 200]);
    assert.equal(sha256(replies[0]!.body), sha256(inside));
    assert.equal(sha256(replies[1]!.body), sha256(inside));
    assert.equal(replies[2]!.body.toString(), 'b');
    assert.equal(sha256(replies[3]!.body), sha256(inside));
  });

  it('follows symlinks out of root only when allowed', async () => {
    const open = createServer((req, res) => serveStatic(root, { followSymlinksOutsideRoot: true })(req, res));
    const h = await listen(open);
    try {
      const [r] = await rawExchange(h, 'GET /link-out HTTP/1.1\r\nHost: x\r\n\r\n', 1);
      assert.equal(r!.status, 200);
      assert.equal(sha256(r!.body), sha256(secret));
    } finally {
      await close(open);
    }
  });

  it('answers 405 with Allow for other methods when not falling through', async () => {
    const [r] = await rawExchange(strictHost, 'POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n', 1);
    assert.equal(r!.status, 405);
    assert.equal(r!.headers['allow'], 'GET, HEAD');
  });

  it('checks its options like serve-static', () => {
    assert.throws(() => serveStatic(''), /root path required/);
    assert.throws(() => serveStatic(1 as unknown as string), /root path must be a string/);
    assert.throws(() => serveStatic(root, { dotfiles: 'maybe' as 'allow' }), /dotfiles option/);
    assert.throws(() => serveStatic(root, { setHeaders: 1 as unknown as () => void }), /setHeaders must be function/);
    assert.throws(() => serveStatic(root, { index: [1 as unknown as string] }), /index option/);
  });
});
