// serveStatic's one-open root check (openat2 beneath the root, RESOLVE_BENEATH | NO_MAGICLINKS)
// and its slow fallback decide exactly as the real-path check did: symlinks that stay inside are
// served (absolute, or relative through a `..` above root and back), ones that lead out are not;
// the native openBeneath refuses bad input with an errno, never a crash; and sendfile in one
// native call per wake-up delivers every byte of large bodies over keep-alive.
import assert from 'node:assert/strict';
import { closeSync, fstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openBeneath } from '../src/engine/file-source.js';
import { serveStatic } from '../src/index.js';
import { close, fdsBackTo, listen, openFds, rawExchange, sha256 } from './helpers/http.js';
import { randomBytes } from './helpers/sockets.js';

const errno = constants.errno;

// openat2(2) came with Linux 5.6; without it serveStatic takes its real-path check (tested below).
const probe = openBeneath(tmpdir(), '.');
if (probe >= 0) closeSync(probe);
const noOpenat2 = probe === -errno.ENOSYS ? 'openat2(2) is not available on this kernel (Linux >= 5.6)' : false;

describe('openBeneath (native)', { skip: noOpenat2 }, () => {
  const top = mkdtempSync(join(tmpdir(), 'aiotx-beneath-'));
  const root = join(top, 'root');
  before(() => {
    mkdirSync(join(root, 'sub'), { recursive: true });
    writeFileSync(join(root, 'sub', 'f'), 'f');
    writeFileSync(join(top, 'out'), 'out');
    symlinkSync('../../out', join(root, 'sub', 'up'));
  });
  after(() => rmSync(top, { recursive: true, force: true }));

  it('opens a regular file beneath root, read-only and non-blocking', () => {
    const fd = openBeneath(root, 'sub/f');
    assert.ok(fd >= 0, `fd ${fd}`);
    try {
      assert.equal(fstatSync(fd).size, 1);
    } finally {
      closeSync(fd);
    }
  });

  it('refuses a way out and bad paths with an errno', () => {
    assert.equal(openBeneath(root, '../out'), -errno.EXDEV);
    assert.equal(openBeneath(root, join(top, 'out')), -errno.EXDEV);
    assert.equal(openBeneath(root, 'sub/up'), -errno.EXDEV);
    assert.equal(openBeneath(root, 'sub/f\0x'), -errno.EINVAL);
    assert.equal(openBeneath(`${root}\0`, 'sub/f'), -errno.EINVAL);
    assert.equal(openBeneath(root, 'a'.repeat(5000)), -errno.ENAMETOOLONG);
    assert.equal(openBeneath(root, 'missing'), -errno.ENOENT);
    assert.equal(openBeneath(join(root, 'sub', 'f'), 'x'), -errno.ENOTDIR);
    assert.throws(() => openBeneath(root, 3 as unknown as string), TypeError);
    assert.throws(() => (openBeneath as (r: unknown) => number)(root), TypeError);
  });
});

describe('serveStatic: symlinks decided as by their real path', () => {
  const top = mkdtempSync(join(tmpdir(), 'aiotx-links-'));
  const root = join(top, 'root');
  const secret = Buffer.from('SECRET-OUTSIDE-ROOT-'.repeat(10));
  const inside = randomBytes(2 * 1024 * 1024);
  let server: Server;
  let followServer: Server;
  let host = '';
  let followHost = '';

  before(async () => {
    mkdirSync(join(root, 'sub'), { recursive: true });
    writeFileSync(join(top, 'secret.txt'), secret);
    writeFileSync(join(root, 'a.bin'), inside);
    symlinkSync(join(root, 'a.bin'), join(root, 'abs-in'));
    symlinkSync('../../root/a.bin', join(root, 'sub', 'round'));
    symlinkSync('../secret.txt', join(root, 'rel-out'));
    symlinkSync('sub', join(root, 'dir-in'));
    symlinkSync('/proc/self/cwd', join(root, 'magic'));
    server = createServer((req, res) => serveStatic(root)(req, res));
    followServer = createServer((req, res) => serveStatic(root, { followSymlinksOutsideRoot: true })(req, res));
    host = await listen(server);
    followHost = await listen(followServer);
  });
  after(async () => {
    await close(server);
    await close(followServer);
    rmSync(top, { recursive: true, force: true });
  });

  const get = (paths: string[]) => paths.map((p) => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`).join('');

  it('serves inside targets (absolute, through `..` above root and back, a dir link) with every byte', async () => {
    writeFileSync(join(root, 'sub', 'b.txt'), 'b');
    const replies = await rawExchange(host, get(['/a.bin', '/abs-in', '/sub/round', '/dir-in/b.txt']), 4);
    assert.deepEqual(replies.map((r) => r.status), [200, 200, 200, 200]);
    for (const r of replies.slice(0, 3)) assert.equal(sha256(r.body), sha256(inside));
    assert.equal(replies[3]!.body.toString(), 'b');
  });

  it('refuses targets outside root (relative link, magic link) unless allowed', async () => {
    const replies = await rawExchange(host, get(['/rel-out', '/magic/package.json']), 2);
    assert.deepEqual(replies.map((r) => r.status), [404, 404]);
    for (const r of replies) assert.equal(r.body.includes(secret.subarray(0, 20)), false);
    const allowed = await rawExchange(followHost, get(['/rel-out']), 1);
    assert.equal(allowed[0]!.status, 200);
    assert.equal(sha256(allowed[0]!.body), sha256(secret));
  });

  it('20 large bodies on one keep-alive connection: all bytes, no fd left open', async () => {
    const before = openFds();
    const replies = await rawExchange(host, get(Array.from({ length: 20 }, () => '/a.bin')), 20);
    assert.equal(replies.length, 20);
    for (const r of replies) {
      assert.equal(r.status, 200);
      assert.equal(sha256(r.body), sha256(inside));
    }
    assert.ok((await fdsBackTo(before)) <= before);
  });
});
