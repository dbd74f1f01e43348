// Behaviour that needs a peer on another (virtual) host: the auto policy choosing zero-copy for a
// remote peer and demoting the socket when the kernel keeps copying. (ENOBUFS from a tiny
// optmem_max, in a namespace of its own: fault-enobufs.test.ts.)
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { aioWrite, probe } from '../src/index.js';
import { DEMOTE_AFTER } from '../src/policy/demotion.js';
import { addTbf, datagramHashingReceiverScript, datagramsToPeer, hashingReceiverScript, jsonLines, namespaceSkipReason, withPeerNamespace } from './helpers/netns.js';
import { Expected, randomBytes } from './helpers/sockets.js';

const indexUrl = new URL('../src/index.js', import.meta.url).href;
const nsSkip = namespaceSkipReason();
const zcSkip = probe().zeroCopyBackend !== 'copy' ? null : 'no zero-copy backend available here';
const skip = nsSkip ?? zcSkip ?? false;

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
});

// A datagram socket is watched by epoll only while it needs to be (a watched UDP socket pays a
// wakeup per freed datagram): a send that meets a full socket must start the watch, or nothing
// says when the socket has room again. A rate-limited qdisc on the veth holds the datagrams, and
// with them the socket's send buffer; its queue outgrows the buffer, so none is dropped.
describe('datagrams meeting a full socket buffer', { skip: nsSkip ?? false }, () => {
  for (const zeroCopy of ['off', 'on'] as const) {
    it(`zeroCopy '${zeroCopy}': every datagram arrives, in order, byte-exact`, { skip: zeroCopy === 'on' ? (zcSkip ?? false) : false }, async (t) => {
      await withPeerNamespace(async (ns) => {
        const tbf = addTbf(ns, 'rate', '50mbit', 'burst', '16kb', 'limit', '16mb');
        if (tbf) return t.skip(tbf);
        const count = 1500;
        const { receiver, next, socket } = await datagramsToPeer(ns, count, 64 << 10);
        const receiverExit = once(receiver, 'exit');
        try {
          const expected = new Expected();
          const jobs: Promise<unknown>[] = [];
          for (let i = 0; i < count; i++) {
            const data = randomBytes(1400);
            expected.add(data);
            jobs.push(aioWrite(socket, data, { zeroCopy }).then((r) => assert.equal(r.bytes, data.length)));
          }
          await Promise.all(jobs);
          assert.deepEqual(await next(), expected.digest());
          await receiverExit;
        } finally {
          // A failure must not leave the socket's transmitter (and this file) waiting.
          socket.close();
          receiver.kill();
        }
      });
    });
  }

  // A datagram socket is first watched (and the poller, which starts unreferenced, started) when
  // a send meets a full socket; from then until the last job settles the poller must hold the
  // event loop, or a process whose socket is unref'd exits with jobs unsettled.
  it('pending datagram jobs keep the process alive through a full socket (its socket unref’d)', async (t) => {
    await withPeerNamespace(async (ns) => {
      const tbf = addTbf(ns, 'rate', '50mbit', 'burst', '16kb', 'limit', '16mb');
      if (tbf) return t.skip(tbf);
      const count = 1500;
      const receiver = ns.spawnNode(datagramHashingReceiverScript(ns.peerAddress, count));
      const receiverExit = once(receiver, 'exit'); // it may exit before the sender has
      const next = jsonLines(receiver);
      const { port } = (await next()) as { port: number };
      const script = `
        import dgram from 'node:dgram';
        import { createHash, randomBytes } from 'node:crypto';
        import { aioWrite } from ${JSON.stringify(indexUrl)};
        const s = dgram.createSocket({ type: 'udp4', sendBufferSize: 64 << 10 });
        s.connect(${port}, ${JSON.stringify(ns.peerAddress)}, () => {
          s.unref();
          const h = createHash('sha256'); let bytes = 0; const jobs = [];
          for (let i = 0; i < ${count}; i++) {
            const d = randomBytes(1400); h.update(d); bytes += d.length;
            jobs.push(aioWrite(s, d, { zeroCopy: 'off' }));
          }
          Promise.all(jobs).then(() => console.log(JSON.stringify({ bytes, sha256: h.digest('hex') })));
        });`;
      try {
        const sender = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
        const sent = jsonLines(sender);
        const [code] = await once(sender, 'close'); // its output read to the end
        assert.equal(code, 0);
        const line = await sent(); // rejects when it exited with jobs unsettled
        assert.deepEqual(await next(), line);
        await receiverExit;
      } finally {
        receiver.kill();
      }
    });
  });
});
