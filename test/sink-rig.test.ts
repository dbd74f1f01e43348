// The sink rig (packages/bench/src/bench/sink-rig.ts): a veth pair with its far end down, where zero-copy sends
// are dropped without a copy. Checks that it exists only while in use, is removed even when the
// caller throws, and takes UDP datagrams. Zero-copy itself is proven by scripts/sink-check.sh.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { sinkRigSkipReason, withSinkRig, type SinkRig } from 'aiotx-bench/internal/bench/sink-rig.js';

const skip = sinkRigSkipReason() ?? false;

function links(): string[] {
  return (JSON.parse(execFileSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8' })) as { ifname: string }[]).map((l) => l.ifname);
}

function linkState(name: string): { flags: string[]; operstate: string } {
  const [l] = JSON.parse(execFileSync('ip', ['-j', 'link', 'show', 'dev', name], { encoding: 'utf8' })) as { flags: string[]; operstate: string }[];
  return l!;
}

describe('sink rig', { skip }, () => {
  it('exists only while in use: near end up with its address and a permanent neighbour, far end down', async () => {
    let seen: SinkRig | undefined;
    const result = await withSinkRig(async (rig) => {
      seen = rig;
      assert.ok(rig.interface.length <= 15 && rig.peerInterface.length <= 15, 'names fit IFNAMSIZ');
      assert.match(rig.sinkAddress, /^198\.18\.1\.\d+$/);
      assert.ok(links().includes(rig.interface) && links().includes(rig.peerInterface));
      assert.ok(linkState(rig.interface).flags.includes('UP'), 'near end up');
      assert.ok(!linkState(rig.peerInterface).flags.includes('UP'), 'far end down');
      const addrs = execFileSync('ip', ['-4', '-o', 'addr', 'show', 'dev', rig.interface], { encoding: 'utf8' });
      assert.match(addrs, new RegExp(`inet ${rig.localAddress.replaceAll('.', '\\.')}/30`));
      const neigh = execFileSync('ip', ['neigh', 'show', rig.sinkAddress, 'dev', rig.interface], { encoding: 'utf8' });
      assert.match(neigh, /PERMANENT/);
      const route = JSON.parse(execFileSync('ip', ['-j', 'route', 'get', rig.sinkAddress], { encoding: 'utf8' })) as { dev: string }[];
      assert.equal(route[0]!.dev, rig.interface);
      if (rig.offloads) {
        assert.equal(rig.offloads.scatterGather, true, 'veth has scatter-gather');
        assert.equal(rig.offloads.txChecksum, true, 'veth has TX checksum offload');
      } else {
        console.log(`# sink rig: ${rig.offloadsNote}`);
      }
      return 42;
    });
    assert.equal(result, 42, 'fn\'s value comes back');
    assert.ok(seen);
    assert.ok(!links().includes(seen.interface) && !links().includes(seen.peerInterface), 'both ends removed');
  });

  it('is removed even when fn throws', async () => {
    let seen: SinkRig | undefined;
    await assert.rejects(
      withSinkRig(async (rig) => {
        seen = rig;
        assert.ok(links().includes(rig.interface));
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.ok(seen);
    const after = links();
    assert.ok(!after.includes(seen.interface) && !after.includes(seen.peerInterface), `still listed: ${after.join(' ')}`);
  });

  it('takes datagrams from a connected udp4 socket without error', async () => {
    await withSinkRig(async (rig) => {
      const socket = createSocket('udp4');
      try {
        socket.bind(0, rig.localAddress);
        await once(socket, 'listening');
        socket.connect(rig.port, rig.sinkAddress);
        await once(socket, 'connect');
        for (const size of [1, 1472, 60000]) {
          await new Promise<void>((resolve, reject) => socket.send(Buffer.alloc(size, 7), (err) => (err ? reject(err) : resolve())));
        }
      } finally {
        socket.close();
      }
      const stats = JSON.parse(execFileSync('ip', ['-j', '-s', 'link', 'show', 'dev', rig.interface], { encoding: 'utf8' })) as {
        stats64: { tx: { packets: number; dropped: number } };
      }[];
      const tx = stats[0]!.stats64.tx;
      assert.ok(tx.packets + tx.dropped >= 3, `the rig saw the datagrams (tx ${JSON.stringify(tx)})`);
    });
  });

  it('two rigs at once get distinct names and subnets', async () => {
    await withSinkRig(async (a) =>
      withSinkRig(async (b) => {
        assert.notEqual(a.interface, b.interface);
        assert.notEqual(a.sinkAddress, b.sinkAddress);
      }),
    );
  });
});
