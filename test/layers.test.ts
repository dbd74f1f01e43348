// The layer rule, checked in the imports: surfaces (api, cli, bench, http, stream) reach the C
// addon only through src/engine and src/policy, which never import a surface.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';

const src = resolve(fileURLToPath(new URL('../src', import.meta.url)));
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
    for (const m of readFileSync(file, 'utf8').matchAll(/^\s*(?:import|export)[^'"]*from\s+['"](\.[^'"]+)['"]/gm)) {
      const to = layerOf(resolve(dirname(file), m[1]!));
      if (to === 'native' && !CORE.has(from)) broken.push(`${relative(src, file)} imports the addon (${m[1]})`);
      if ((from === 'engine' || from === 'policy') && !CORE.has(to)) broken.push(`${relative(src, file)} imports the surface ${m[1]}`);
    }
  }
  assert.deepEqual(broken, []);
});
