// Builds test/helpers/no-uring.c (a seccomp launcher: io_uring syscalls fail with EPERM, as under
// Docker's default profile) into a private temporary directory, once per process.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// dist/test/helpers/no-uring.js -> test/helpers/no-uring.c
const source = fileURLToPath(new URL('../../../test/helpers/no-uring.c', import.meta.url));

let built: { path: string } | { skip: string } | null = null;

/** The launcher's path, or why it cannot be built or used here. */
export function noUringLauncher(): { path: string } | { skip: string } {
  if (built) return built;
  const dir = mkdtempSync(join(tmpdir(), 'aiotx-no-uring-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'no-uring');
  try {
    execFileSync('gcc', ['-O2', '-Wall', '-Werror', '-o', path, source], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    return (built = { skip: `cannot build the seccomp launcher with gcc: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}` });
  }
  try {
    execFileSync(path, ['true'], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    return (built = { skip: `seccomp filters are not available here: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}` });
  }
  return (built = { path });
}

/** A skip reason for node:test, or false. */
export function noUringSkip(): string | false {
  const l = noUringLauncher();
  return 'skip' in l ? l.skip : false;
}
