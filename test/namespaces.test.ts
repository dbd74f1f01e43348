// Behaviour that needs a peer on another (virtual) host or a namespace of its own: the auto
// policy choosing zero-copy for a remote peer and demoting the socket when the kernel keeps
// copying, and ENOBUFS from a tiny optmem_max never losing data.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { aioWrite, probe } from '../src/index.js';
import { DEMOTE_AFTER } from '../src/policy/demotion.js';
import { hashingReceiverScript, jsonLines, namespaceSkipReason, withPeerNamespace } from './helpers/netns.js';
import { Expected, randomBytes } from './helpers/sockets.js';

const nsSkip = namespaceSkipReason();
const zcSkip = probe().zeroCopyBackend !== 'copy' ? null : 'no zero-copy backend available here';
const skip = nsSkip ?? zcSkip ?? false;
const indexUrl = new URL('../src/index.js', import.meta.url).href;
const addonUrl = new URL('../src/native/addon.js', import.meta.url).href;

describe('across network namespaces', { skip }, () => {
  it('auto uses zero-copy toward a peer on another host, and demotes the socket when the kernel copies', async () => {
    await withPeerNamespace(async (ns) => {
      const receiver = ns.spawnNode(hashingReceiverScript(ns.peerAddress));
      const next = jsonLines(receiver);
      const { port } = (await next()) as { port: number };
      const socket = connect(port, ns.peerAddress);
      await once(socket, 'connect');
      const expected = new Expected();
      const backends: string[] = [];
      for (let i = 0; i < DEMOTE_AFTER + 8; i++) {
        const data = randomBytes(256 << 10);
        expected.add(data);
        const r = await aioWrite(socket, data);
        assert.equal(r.bytes, data.length);
        assert.equal(r.zeroCopyBytes + r.copiedBytes, data.length);
        backends.push(r.backend);
      }
      socket.end();
      assert.deepEqual(await next(), expected.digest());
      assert.notEqual(backends[0], 'copy', 'a 256 KiB write to a remote peer through a capable veth goes zero-copy');
      assert.equal(backends.at(-1), 'copy', `demoted after the kernel kept copying: ${backends.join(' ')}`);
      socket.destroy();
      await once(receiver, 'exit');
    });
  });

  for (const optmem of [0, 2048]) {
    it(`never loses data when MSG_ZEROCOPY hits ENOBUFS (optmem_max=${optmem})`, () => {
      // A namespace of the child's own: optmem_max is per network namespace, and goes with it.
      const script = `
        import net from 'node:net';
        import { createHash } from 'node:crypto';
        import { aioWrite } from ${JSON.stringify(indexUrl)};
        import { addon } from ${JSON.stringify(addonUrl)};
        const got = createHash('sha256'), want = createHash('sha256');
        let received = 0;
        let connections = 0;
        const server = net.createServer((s) => {
          if (connections++ > 0) return s.resume(); // the probe socket
          s.on('data', (d) => { got.update(d); received += d.length; });
          s.on('end', () => {
            console.log(JSON.stringify({ enobufs, received, same: got.digest('hex') === want.digest('hex') }));
            server.close();
          });
        });
        let enobufs = false;
        server.listen(0, '127.0.0.1', async () => {
          const c = net.connect(server.address().port, '127.0.0.1');
          await new Promise((r) => c.once('connect', r));
          const probeSocket = net.connect(server.address().port, '127.0.0.1');
          await new Promise((r) => probeSocket.once('connect', r));
          addon.enableZerocopy(probeSocket._handle.fd);
          // Zero-copy sends in a row, nothing reaped: each holds a notification in optmem.
          for (let k = 0; k < 16 && !enobufs; k++) enobufs = addon.send(probeSocket._handle.fd, Buffer.alloc(4096), 0, 4096, true) === -105;
          probeSocket.destroy();
          const jobs = [];
          for (let i = 0; i < 300; i++) {
            const b = Buffer.alloc(1 + Math.floor(Math.random() * 400000), i & 255);
            want.update(b);
            jobs.push(aioWrite(c, b, { zeroCopy: 'on' }));
          }
          await Promise.all(jobs);
          c.end();
        });`;
      const out = execFileSync(
        'unshare',
        ['-n', 'sh', '-c', `ip link set lo up && sysctl -q -w net.core.optmem_max=${optmem} && exec "$0" --input-type=module -e "$1"`, process.execPath, script],
        { encoding: 'utf8', timeout: 120_000, env: { ...process.env, AIOTX_BACKEND: 'msgzerocopy' } },
      );
      const r = JSON.parse(out) as { enobufs: boolean; received: number; same: boolean };
      assert.equal(r.enobufs, true, 'the kernel refused a zero-copy send with ENOBUFS');
      assert.equal(r.same, true, `byte-exact after ENOBUFS (${r.received} bytes received)`);
    });
  }
});
