// Cache-Control for a served file, with serve-static's maxAge forms: milliseconds or an `ms`
// string ('1d', '2 hours'), clamped to a year.

const MAX_AGE_LIMIT = 365 * 24 * 3600 * 1000;
const DURATION = /^(-?(?:\d+)?\.?\d+) *(milliseconds?|msecs?|ms|seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|w|years?|yrs?|y)?$/i;
const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_557_600_000 };

function durationMs(text: string): number {
  const m = text.length <= 100 ? DURATION.exec(text) : null;
  if (!m) return NaN;
  const n = Number.parseFloat(m[1]!);
  const unit = (m[2] ?? 'ms').toLowerCase();
  if (unit === 'ms' || unit.startsWith('msec') || unit.startsWith('milli')) return n;
  if (unit === 's' || unit.startsWith('sec')) return n * 1000;
  if (unit.startsWith('mi') || unit === 'm') return n * UNIT_MS.m!;
  return n * UNIT_MS[unit[0]!]!;
}

/** maxAge in milliseconds, as `send` reads it (bad values mean 0). */
export function maxAgeMs(value: unknown): number {
  const ms = typeof value === 'string' ? durationMs(value) : Number(value ?? 0);
  return Number.isNaN(ms) ? 0 : Math.min(Math.max(0, ms), MAX_AGE_LIMIT);
}

export function cacheControlValue(maxAge: number, immutable: boolean): string {
  return `public, max-age=${Math.floor(maxAge / 1000)}${immutable ? ', immutable' : ''}`;
}
