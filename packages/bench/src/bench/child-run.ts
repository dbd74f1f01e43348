// Runs one bench sender as a child process (a process picks its zero-copy backend once, so each
// method and run gets a fresh one) and reads the one JSON line it prints last on stdout.
import { spawn } from 'node:child_process';
import type { SenderFailure } from './sink-protocol.js';

/** Codes that mean "this machine cannot run the method": shown as a reason, not a failure. */
const UNAVAILABLE_CODES = new Set(['ERR_AIOTX_BACKEND_UNAVAILABLE', 'ERR_AIOTX_POOL_NOT_WIRED']);

export type ChildOutcome<T> = { ok: true; sample: T } | { ok: false; unavailable: boolean; reason: string };

/**
 * `node script ...args` with AIOTX_BACKEND set to `backendEnv` (unset when undefined). A child
 * still running after `limitMs` is killed and the run fails.
 */
export function runChild<T>(script: string, args: string[], backendEnv: string | undefined, limitMs: number): Promise<ChildOutcome<T>> {
  const env = { ...process.env };
  if (backendEnv === undefined) delete env.AIOTX_BACKEND;
  else env.AIOTX_BACKEND = backendEnv;
  const child = spawn(process.execPath, [script, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
  return new Promise((resolve) => {
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve({ ok: false, unavailable: false, reason: `cannot start the sender: ${err.message}` });
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const last = stdout.trim().split('\n').at(-1) ?? '';
      let parsed: (T & Partial<SenderFailure>) | null = null;
      try {
        parsed = JSON.parse(last) as T & Partial<SenderFailure>;
      } catch {
        // reported below
      }
      if (parsed?.error) {
        const { code: errCode, message } = parsed.error;
        return resolve({ ok: false, unavailable: errCode !== null && UNAVAILABLE_CODES.has(errCode), reason: message });
      }
      if (parsed && code === 0) return resolve({ ok: true, sample: parsed });
      const how = signal ? `killed by ${signal}${signal === 'SIGKILL' ? ` (no result within ${limitMs / 1000} s?)` : ''}` : `exit code ${code}`;
      const detail = stderr.trim().split('\n').find((l) => l.trim() !== '') ?? 'no output';
      resolve({ ok: false, unavailable: false, reason: `sender ${how}: ${detail}` });
    });
  });
}

/** Prints a sender's failure as its last stdout line (exit code 1), for runChild to read. */
export function reportFailure(err: unknown): void {
  const e = err as { code?: unknown; message?: unknown };
  const report: SenderFailure = {
    error: { code: typeof e?.code === 'string' ? e.code : null, message: typeof e?.message === 'string' ? e.message : String(err) },
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
  process.exitCode = 1;
}
