// The aiotx command line, run as a user would run it, plus the bench's pure arithmetic.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  copiedShare,
  cpuPercentOfOneCore,
  cpuSecondsBetween,
  cpuSecondsPerGB,
  gigabitsPerSecond,
  median,
} from 'aiotx-bench/internal/bench/cpu-accounting.js';
import { formatSize, parseSize, parseSizeList } from 'aiotx-bench/internal/bench/sizes.js';

// dist/test/cli.test.js → the repository root.
const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = fileURLToPath(new URL('../../bin/aiotx.js', import.meta.url));

function aiotx(...args: string[]): string {
  return execFileSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
}

test('probe --json prints the probe() object', () => {
  const caps = JSON.parse(aiotx('probe', '--json')) as {
    kernel: unknown;
    backends: { copy: { available: unknown } };
    interfaces: { name: string }[];
  };
  assert.equal(typeof caps.kernel, 'string');
  assert.equal(caps.backends.copy.available, true);
  assert.ok(caps.interfaces.some((i) => i.name === 'lo'), 'interfaces include lo');
});

test('probe in words names every backend', () => {
  const text = aiotx('probe');
  assert.match(text, /msgzerocopy/);
  assert.match(text, /RLIMIT_MEMLOCK/);
  assert.match(text, /^\s+lo\s/m);
});

test('an unknown command exits 2 with a message on stderr', () => {
  const r = spawnSync(process.execPath, [bin, 'frobnicate'], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown command 'frobnicate'/);
  assert.equal(r.stdout, '');
});

test('an unknown option or bad value exits 2 with a message on stderr', () => {
  const flag = spawnSync(process.execPath, [bin, 'probe', '--frob'], { cwd: root, encoding: 'utf8' });
  assert.equal(flag.status, 2);
  assert.match(flag.stderr, /unknown option '--frob'/);
  const size = spawnSync(process.execPath, [bin, 'bench', '--sizes', '3X'], { cwd: root, encoding: 'utf8' });
  assert.equal(size.status, 2);
  assert.match(size.stderr, /--sizes/);
});

test('--help prints a command’s usage and exits 0', () => {
  assert.match(aiotx('bench', '--help'), /^Usage: aiotx bench/);
  assert.match(aiotx('--help'), /probe/);
});

test('parseSize reads bytes with K/M/G suffixes', () => {
  assert.equal(parseSize('32K'), 32768);
  assert.equal(parseSize('1M'), 1048576);
  assert.equal(parseSize('256k'), 262144);
  assert.equal(parseSize('4096'), 4096);
  assert.equal(parseSize('1G'), 1073741824);
  for (const bad of ['', 'K', '3X', '1.5M', '-1K', '0', '32 KB']) {
    assert.throws(() => parseSize(bad), RangeError, `'${bad}' is rejected`);
  }
  assert.deepEqual(parseSizeList('32K,256K,1M'), [32768, 262144, 1048576]);
  assert.throws(() => parseSizeList(','), RangeError);
  assert.equal(formatSize(32768), '32K');
  assert.equal(formatSize(1048576), '1M');
  assert.equal(formatSize(1000), '1000');
});

test('CPU accounting arithmetic', () => {
  // 0.75 s user + 0.5 s system.
  assert.equal(cpuSecondsBetween({ user: 1_000_000, system: 500_000 }, { user: 1_750_000, system: 1_000_000 }), 1.25);
  // 0.5 CPU seconds for 2 GB.
  assert.equal(cpuSecondsPerGB(0.5, 2e9), 0.25);
  assert.ok(Number.isNaN(cpuSecondsPerGB(1, 0)));
  // 1.5 CPU seconds in 2 s of wall time: three quarters of one core.
  assert.equal(cpuPercentOfOneCore(1.5, 2), 75);
  assert.equal(cpuPercentOfOneCore(3, 1), 300);
  // 1.25 GB in 2 s = 10 Gbit in 2 s.
  assert.equal(gigabitsPerSecond(1.25e9, 2), 5);
  assert.equal(copiedShare(25, 100), 0.25);
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
});

test('without aiotx-bench installed, probe works and bench, serve, report say how to install it', (t) => {
  // The library as `npm install aiotx` lays it out: its files and mime-types, no aiotx-bench.
  const app = mkdtempSync(join(tmpdir(), 'aiotx-nobench-'));
  t.after(() => rmSync(app, { recursive: true, force: true }));
  const lib = join(app, 'node_modules', 'aiotx');
  for (const part of ['bin', 'dist/src', 'package.json']) cpSync(join(root, part), join(lib, part), { recursive: true });
  symlinkSync(join(root, 'build'), join(lib, 'build'));
  for (const dep of ['mime-types', 'mime-db']) symlinkSync(join(root, 'node_modules', dep), join(app, 'node_modules', dep));
  const run = (...args: string[]) => spawnSync(process.execPath, [join(lib, 'bin', 'aiotx.js'), ...args], { cwd: app, encoding: 'utf8', timeout: 60_000 });

  const probe = run('probe', '--json');
  assert.equal(probe.status, 0, probe.stderr);
  assert.equal((JSON.parse(probe.stdout) as { backends: { copy: { available: boolean } } }).backends.copy.available, true);
  const help = run('--help');
  assert.match(help.stdout, /bench\s+\(needs the aiotx-bench package: npm install aiotx-bench\)/);
  for (const args of [['bench'], ['bench', '--sink', 'tcp', '--method', 'aio-copy'], ['serve', '--listen', '127.0.0.1:0'], ['report', 'run.json']]) {
    const command = args[0]!;
    const r = run(...args);
    assert.equal(r.status, 1, `aiotx ${command}`);
    assert.match(r.stderr, new RegExp(`^aiotx ${command}: .*npm install aiotx-bench`));
  }
});
