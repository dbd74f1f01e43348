// The zero-copy policy: modes, per-interface settings, environment, the auto rules, demotion.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, it } from 'node:test';
import { zeroCopy } from '../src/index.js';
import { zeroCopyCases } from './helpers/backends.js';
import { Demotion, DEMOTE_AFTER } from '../src/policy/demotion.js';
import { decide, parseEnvironment, resetPolicy, type SocketFacts } from '../src/policy/zero-copy-policy.js';

const nic: SocketFacts = { interface: 'eth9', features: { sg: true, txcsum: true, tso: true }, peerLocal: false };
const indexUrl = new URL('../src/index.js', import.meta.url).href;

describe('zero-copy policy', () => {
  afterEach(() => resetPolicy());

  it('parses AIOTX_ZEROCOPY', () => {
    assert.equal(parseEnvironment(undefined).global, 'auto');
    assert.equal(parseEnvironment('off').global, 'off');
    const p = parseEnvironment(' on , eth0=off,lo = auto ');
    assert.equal(p.global, 'on');
    assert.deepEqual([...p.interfaces], [['eth0', 'off'], ['lo', 'auto']]);
    assert.throws(() => parseEnvironment('sometimes'), { name: 'RangeError', message: /AIOTX_ZEROCOPY/ });
    assert.throws(() => parseEnvironment('eth0=maybe'), { name: 'RangeError', message: /eth0/ });
    assert.throws(() => parseEnvironment('=on'), { name: 'RangeError' });
  });

  it('auto: zero-copy only for large writes through capable interfaces to remote peers', () => {
    assert.equal(zeroCopy.get(), 'auto');
    const t = zeroCopy.getThreshold();
    assert.equal(decide(undefined, nic, false, t), true);
    assert.equal(decide(undefined, nic, false, t - 1), false);
    assert.equal(decide(undefined, { ...nic, peerLocal: true }, false, 1 << 20), false);
    assert.equal(decide(undefined, { ...nic, features: { sg: false, txcsum: true, tso: false } }, false, 1 << 20), false);
    assert.equal(decide(undefined, { ...nic, features: { sg: true, txcsum: false, tso: false } }, false, 1 << 20), false);
    assert.equal(decide(undefined, { ...nic, features: null }, false, 1 << 20), false);
    assert.equal(decide(undefined, nic, true, 1 << 20), false);
    zeroCopy.setThreshold(100);
    assert.equal(decide(undefined, nic, false, 100), true);
  });

  it('on and off override everything; a write option overrides the policy', () => {
    zeroCopy.set('off');
    assert.equal(decide(undefined, nic, false, 1 << 20), false);
    assert.equal(decide('on', { ...nic, peerLocal: true }, false, 1), true);
    zeroCopy.set('on');
    assert.equal(decide(undefined, { ...nic, peerLocal: true }, true, 1), true);
    assert.equal(decide('off', nic, false, 1 << 20), false);
  });

  it('per-interface modes win over the global one and change at run time', () => {
    zeroCopy.set('on', { interface: 'lo' });
    assert.equal(zeroCopy.get({ interface: 'lo' }), 'on');
    assert.equal(zeroCopy.get(), 'auto');
    const lo: SocketFacts = { ...nic, interface: 'lo', peerLocal: true };
    assert.equal(decide(undefined, lo, false, 1), true);
    zeroCopy.set('off', { interface: 'lo' });
    assert.equal(decide(undefined, lo, false, 1 << 20), false);
    zeroCopy.set('on');
    assert.equal(decide(undefined, lo, false, 1 << 20), false, "lo's own 'off' still wins");
  });

  it('demotes a socket after the kernel keeps copying', () => {
    const d = new Demotion();
    for (let i = 0; i < DEMOTE_AFTER - 1; i++) d.note(true);
    d.note(false);
    for (let i = 0; i < DEMOTE_AFTER - 1; i++) d.note(true);
    assert.equal(d.demoted, false, 'a zero-copy completion resets the streak');
    d.note(true);
    assert.equal(d.demoted, true);
  });

  for (const { backend, skip } of zeroCopyCases) {
    it(`AIOTX_ZEROCOPY=lo=on makes plain aioWrite zero-copy on loopback (${backend})`, { skip }, () => {
      const script = `
        import net from 'node:net';
        import { aioWrite, zeroCopy } from ${JSON.stringify(indexUrl)};
        const srv = net.createServer((s) => s.resume()).listen(0, '127.0.0.1', async () => {
          const c = net.connect(srv.address().port, '127.0.0.1');
          await new Promise((r) => c.once('connect', r));
          const r = await aioWrite(c, Buffer.alloc(1 << 20, 1));
          console.log(JSON.stringify({ mode: zeroCopy.get({ interface: 'lo' }), backend: r.backend, copied: r.copiedBytes, zeroCopied: r.zeroCopyBytes }));
          c.destroy(); srv.close();
        });`;
      const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
        env: { ...process.env, AIOTX_ZEROCOPY: 'lo=on', AIOTX_BACKEND: backend },
        encoding: 'utf8',
        cwd: fileURLToPath(new URL('.', import.meta.url)),
      });
      const r = JSON.parse(out) as { mode: string; backend: string; copied: number; zeroCopied: number };
      assert.equal(r.mode, 'on');
      assert.equal(r.backend, backend, 'lo=on overrides auto on loopback: the zero-copy backend sent it');
      assert.equal(r.copied, 1 << 20, 'loopback: the kernel reports every byte COPIED');
      assert.equal(r.zeroCopied, 0);
    });
  }

  it('without AIOTX_ZEROCOPY, auto copies on loopback', () => {
    const script = `
      import net from 'node:net';
      import { aioWrite } from ${JSON.stringify(indexUrl)};
      const srv = net.createServer((s) => s.resume()).listen(0, '127.0.0.1', async () => {
        const c = net.connect(srv.address().port, '127.0.0.1');
        await new Promise((r) => c.once('connect', r));
        const r = await aioWrite(c, Buffer.alloc(1 << 20, 1));
        console.log(JSON.stringify({ backend: r.backend }));
        c.destroy(); srv.close();
      });`;
    const env = { ...process.env };
    delete env.AIOTX_ZEROCOPY;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8' });
    assert.equal((JSON.parse(out) as { backend: string }).backend, 'copy', 'auto never zero-copies toward a local peer');
  });
});
