// The examples run as their own processes (the Express one as CommonJS, through require('aiotx')),
// each answered over curl and fetch with hashed bodies, its body sent by sendfile.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { curl, curlMissing, fetchReply, sha256 } from './helpers/http.js';
import { randomBytes } from './helpers/sockets.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));

interface Running {
  child: ChildProcess;
  url: string;
  stderr: () => string;
}

async function start(example: string, dir: string): Promise<Running> {
  const child = spawn(process.execPath, [join(repo, 'examples', example), dir, '0'], {
    cwd: repo,
    env: { ...process.env, AIOTX_HTTP_DEBUG: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c));
  let out = '';
  for await (const chunk of child.stdout!) {
    out += chunk;
    const m = /listening on (http:\/\/\S+)/.exec(out);
    if (m) return { child, url: m[1]!, stderr: () => err };
  }
  throw new Error(`${example} did not start: ${err}`);
}

async function stop(r: Running): Promise<void> {
  if (r.child.exitCode !== null) return;
  r.child.kill('SIGTERM');
  await once(r.child, 'exit');
}

describe('examples', { skip: curlMissing }, () => {
  const top = mkdtempSync(join(tmpdir(), 'aiotx-examples-'));
  const root = join(top, 'public');
  const big = randomBytes((8 << 20) + 5);

  before(() => {
    mkdirSync(join(root, 'docs'), { recursive: true });
    writeFileSync(join(root, 'big.bin'), big);
    writeFileSync(join(root, 'docs', 'index.html'), '<h1>docs</h1>\n');
    writeFileSync(join(top, 'secret.txt'), 'SECRET');
  });
  after(() => rmSync(top, { recursive: true, force: true }));

  const cases: [string, string][] = [
    ['node-http.mjs', ''],
    ['express.cjs', '/static'],
    ['fastify.mjs', '/static'],
  ];
  for (const [example, prefix] of cases) {
    it(`${example} serves the directory`, async () => {
      const r = await start(example, root);
      try {
        const base = `${r.url}${prefix}`;
        for (const reply of [await curl(`${base}/big.bin`), await fetchReply(`${base}/big.bin`)]) {
          assert.equal(reply.status, 200);
          assert.equal(sha256(reply.body), sha256(big));
          assert.equal(reply.headers['x-aiotx-body'], 'sendfile');
          assert.equal(reply.headers['cache-control'], 'public, max-age=3600');
        }
        const ranged = await curl(`${base}/big.bin`, '-r', '1000-2000000');
        assert.equal(ranged.status, 206);
        assert.equal(sha256(ranged.body), sha256(big.subarray(1000, 2000001)));
        const head = await curl(`${base}/big.bin`, '-I');
        assert.equal(head.headers['content-length'], String(big.length));
        const index = await fetchReply(`${base}/docs/`);
        assert.equal(index.body.toString(), '<h1>docs</h1>\n');
        const redirect = await fetchReply(`${base}/docs`, { redirect: 'manual' });
        assert.equal(redirect.status, 301);
        assert.equal(redirect.headers['location'], `${prefix}/docs/`);
        assert.equal((await fetchReply(`${base}/missing`)).status, 404);
        const traversal = await curl(`${base}/%2e%2e/secret.txt`);
        assert.ok([403, 404].includes(traversal.status));
        assert.equal(traversal.body.includes('SECRET'), false);
        if (prefix) assert.match((await fetchReply(`${r.url}/`)).body.toString(), /^hello from/);
        assert.equal(r.stderr(), '', 'no warning (require() of the package included)');
      } finally {
        await stop(r);
      }
    });
  }
});
