// Byte sizes as people type them on the command line: 32K, 256K, 1M.

const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/** '32K' → 32768, '1M' → 1048576, '4096' → 4096; binary units, as buffer sizes usually are. */
export function parseSize(text: string): number {
  const m = /^\s*(\d+)\s*([KMG]?)\s*$/i.exec(text);
  if (!m) throw new RangeError(`not a size: '${text}' (use bytes or a K/M/G suffix, e.g. 32K or 1M)`);
  const bytes = Number(m[1]) * UNITS[m[2]!.toUpperCase()]!;
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new RangeError(`size must be a positive byte count: '${text}'`);
  return bytes;
}

/** '32K,256K,1M' → [32768, 262144, 1048576]. */
export function parseSizeList(text: string): number[] {
  const parts = text.split(',').filter((p) => p.trim() !== '');
  if (parts.length === 0) throw new RangeError('no sizes given');
  return parts.map(parseSize);
}

/** The short form parseSize accepts: 32768 → '32K', 1000 → '1000'. */
export function formatSize(bytes: number): string {
  for (const unit of ['G', 'M', 'K']) {
    const scale = UNITS[unit]!;
    if (bytes >= scale && bytes % scale === 0) return `${bytes / scale}${unit}`;
  }
  return String(bytes);
}
