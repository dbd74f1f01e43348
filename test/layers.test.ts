// The layer rule, checked in the imports: surfaces (api, cli, http, stream) reach the C addon only
// through src/engine and src/policy, which never import a surface. The bench (packages/bench, the
// aiotx-bench package) reaches the library only through its public entry, 'aiotx', and the library
// imports nothing but Node and its own dependencies.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';

const src = resolve(fileURLToPath(new URL('../src', import.meta.url)));
const benchDist = resolve(fileURLToPath(new URL('../../packages/bench/dist', import.meta.url)));
const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const IMPORT = /^\s*(?:import|export)[^'"]*from\s+['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;

function specifiers(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(IMPORT)].map((m) => (m[1] ?? m[2])!);
}

function dependenciesOf(packageJson: string): Set<string> {
  return new Set(Object.keys((JSON.parse(readFileSync(packageJson, 'utf8')) as { dependencies?: object }).dependencies ?? {}));
}

/** 'cli-table3' -> 'cli-table3', '@scope/x/y' -> '@scope/x'. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}
const CORE = new Set(['engine', 'policy', 'native']);

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.js') ? [path] : [];
  });
}

/** The top folder under src/ a file or import lies in ('' for src/index.js). */
function layerOf(path: string): string {
  const rel = relative(src, path).split('/');
  return rel.length > 1 ? rel[0]! : '';
}

it('surfaces never import the addon; engine and policy never import a surface', () => {
  const broken: string[] = [];
  for (const file of files(src)) {
    const from = layerOf(file);
    for (const spec of specifiers(file).filter((s) => s.startsWith('.'))) {
      const to = layerOf(resolve(dirname(file), spec));
      if (to === 'native' && !CORE.has(from)) broken.push(`${relative(src, file)} imports the addon (${spec})`);
      if ((from === 'engine' || from === 'policy') && !CORE.has(to)) broken.push(`${relative(src, file)} imports the surface ${spec}`);
    }
  }
  assert.deepEqual(broken, []);
});

it('the library imports only Node, its own files and its own dependencies (never aiotx-bench), and needs each of them', () => {
  const deps = dependenciesOf(join(root, 'package.json'));
  const broken: string[] = [];
  const used = new Set<string>();
  for (const file of files(src)) {
    for (const spec of specifiers(file)) {
      if (spec.startsWith('node:') || spec.startsWith('.')) continue;
      used.add(packageOf(spec));
      if (!deps.has(packageOf(spec))) broken.push(`${relative(src, file)} imports ${spec}`);
    }
  }
  assert.deepEqual(broken, []);
  // What `npm install aiotx` brings: nothing the library's code does not load.
  assert.deepEqual([...deps].filter((d) => !used.has(d)), [], 'dependencies the library never imports');
});

it("the bench reaches the library only through 'aiotx', its public entry", () => {
  const deps = dependenciesOf(join(root, 'packages/bench/package.json'));
  const broken: string[] = [];
  for (const file of files(benchDist)) {
    for (const spec of specifiers(file)) {
      if (spec.startsWith('node:')) continue;
      if (spec.startsWith('.')) {
        if (relative(benchDist, resolve(dirname(file), spec)).startsWith('..')) broken.push(`${relative(benchDist, file)} reaches outside its package: ${spec}`);
      } else if (spec === 'aiotx' || packageOf(spec) !== 'aiotx') {
        if (!deps.has(packageOf(spec))) broken.push(`${relative(benchDist, file)} imports ${spec}, not a dependency`);
      } else {
        broken.push(`${relative(benchDist, file)} imports ${spec}: only 'aiotx' itself is public`);
      }
    }
  }
  assert.deepEqual(broken, []);
});
