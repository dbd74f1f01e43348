// A progress bar on stderr while bench cells run: only for a person at a terminal, never in
// output piped to a file or another program.
import { Presets, SingleBar } from 'cli-progress';

export interface Progress {
  /** Step `index` (1-based) of `total` is starting. */
  step(index: number, total: number, label: string): void;
  stop(): void;
}

export function startProgress(name: string): Progress {
  if (!process.stderr.isTTY) return { step() {}, stop() {} };
  const bar = new SingleBar(
    { format: `${name} {bar} {value}/{total} | {label}`, stream: process.stderr, hideCursor: true, clearOnComplete: true },
    Presets.shades_classic,
  );
  let started = false;
  return {
    step(index, total, label) {
      if (!started) bar.start(total, 0, { label });
      started = true;
      bar.update(index - 1, { label });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
