// Fault: load. 1,000 loopback connections with 4 zero-copy jobs in flight on each, three rounds.
// A receiver in a process of its own hashes every connection; after each round the sender holds
// nothing (transmitters, ring tags, fds, pinned and locked pages at baseline) and its RSS, after a
// GC, does not grow from round to round.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { assertCleanExit, figures, runScenario } from './helpers/fault.js';
import type { Leaks } from './helpers/leaks.js';
import { jsonLines } from './helpers/netns.js';
import { prefixDigest, streamBytes } from './helpers/pattern.js';

const SOCKETS = 1000;
const JOBS = 4;
const SIZE = 16 << 10;
const ROUNDS = 3;

function skipReason(): string | false {
  const hard = /^Max open files\s+\S+\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
  const limit = hard === 'unlimited' ? Infinity : Number(hard);
  // The sender holds a socket and aiotx's duplicate per connection; Node raises its soft limit.
  return limit >= 4 * SOCKETS ? false : `needs a hard RLIMIT_NOFILE of at least ${4 * SOCKETS} (have ${hard})`;
}

const receiverScript = `
  import net from 'node:net';
  import { createHash } from 'node:crypto';
  const server = net.createServer((s) => {
    const h = createHash('sha256'); let bytes = 0; let head = null;
    s.on('data', (d) => { head ??= d.subarray(0, 8).toString('hex'); h.update(d); bytes += d.length; });
    s.on('end', () => { console.log(JSON.stringify({ head, bytes, sha256: h.digest('hex') })); s.end(); });
  });
  server.listen(0, '127.0.0.1', 2048, () => console.log(JSON.stringify({ port: server.address().port })));
  process.stdin.on('end', () => server.close()).resume();`;

describe('fault: 1,000 sockets x 4 jobs in flight', { skip: skipReason() }, () => {
  it(`${ROUNDS} rounds of ${SOCKETS} connections x ${JOBS} zero-copy jobs: exact, then nothing held`, async (t) => {
    const receiver = spawn(process.execPath, ['--input-type=module', '-e', receiverScript], { stdio: ['pipe', 'pipe', 'inherit'] });
    const next = jsonLines(receiver);
    const { port } = (await next()) as { port: number };
    const run = runScenario(
      `
      const rounds = [];
      for (let round = 0; round < ${ROUNDS}; round++) {
        const sockets = [];
        for (let i = 0; i < ${SOCKETS}; i += 100) sockets.push(...(await Promise.all(Array.from({ length: 100 }, () => connect(${port})))));
        const jobs = sockets.flatMap((c, i) => jobsOf(c, round * ${SOCKETS} + i + 1, ${JOBS}, ${SIZE}, { zeroCopy: 'on' }));
        const res = await outcomes(jobs);
        await Promise.all(sockets.map((c) => { c.end(); return c.closed ? null : new Promise((r) => c.once('close', r)); }));
        const held = await leaks();
        globalThis.gc();
        rounds.push({ jobs: res.length, failed: res.filter((o) => !o.ok).length, backend: res[0].backend, leaks: held, rssKb: Math.round(process.memoryUsage().rss / 1024) });
      }
      report({ rounds });`,
      { nodeArgs: ['--expose-gc'] },
    );
    const { rounds } = (await run.next()) as { rounds: { jobs: number; failed: number; backend: string; leaks: Leaks; rssKb: number }[] };
    await assertCleanExit(run);
    const expected = new Map<string, string>();
    for (let seed = 1; seed <= ROUNDS * SOCKETS; seed++) expected.set(streamBytes(seed, 0, 8).toString('hex'), prefixDigest(seed, JOBS * SIZE));
    let exact = 0;
    for (let i = 0; i < ROUNDS * SOCKETS; i++) {
      const c = (await next()) as { head: string; bytes: number; sha256: string };
      assert.equal(c.bytes, JOBS * SIZE, `a connection received ${c.bytes} bytes`);
      assert.equal(c.sha256, expected.get(c.head), `connection ${c.head}: not the stream that was sent`);
      expected.delete(c.head);
      exact++;
    }
    const receiverExit = once(receiver, 'exit');
    receiver.stdin!.end();
    assert.deepEqual(await receiverExit, [0, null], 'the receiver exited cleanly');
    for (const r of rounds) {
      assert.equal(r.jobs, SOCKETS * JOBS);
      assert.equal(r.failed, 0);
      assert.deepEqual(r.leaks, { transmitters: 0, ringTags: 0, fds: [], vmPinKb: 0, vmLckKb: 0 }, 'nothing held after the round');
    }
    // The first round warms heaps and caches; later rounds must not add to it (16 MiB of slack
    // for allocator and V8 heap noise, seen up to 8.1 MiB: a leak of one round's buffers alone
    // would be 64 MiB).
    const growth = rounds[ROUNDS - 1]!.rssKb - rounds[1]!.rssKb;
    // Under AddressSanitizer (scripts/asan-test.sh) freed memory sits in its quarantine by design:
    // RSS says nothing there, so it is only reported.
    const sanitized = (process.env.LD_PRELOAD ?? '').includes('libasan');
    if (sanitized) t.diagnostic(`RSS under ASan (not checked): ${rounds.map((r) => r.rssKb).join(', ')} KiB`);
    else assert.ok(growth < 16 << 10, `RSS grew ${growth} KiB from round 2 to round ${ROUNDS}: ${rounds.map((r) => r.rssKb).join(', ')} KiB`);
    figures(t, 'thousand-sockets', {
      backend: rounds[0]!.backend,
      sockets: SOCKETS,
      jobs: ROUNDS * SOCKETS * JOBS,
      bytesExact: ROUNDS * SOCKETS * JOBS * SIZE,
      connectionsExact: exact,
      allSettled: true,
      rssKbPerRound: rounds.map((r) => r.rssKb),
      exit: 0,
      leaks: 0,
    });
  });
});
