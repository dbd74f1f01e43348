// The Range header (RFC 9110 §14): byte ranges, combined where they overlap or touch, with the
// same results as `range-parser` (used by `send`).

export interface ByteRange {
  start: number;
  end: number; // inclusive
}

/** Not a byte-range request we understand: serve the whole file. */
export const IGNORE = -2;
/** No range overlaps the file: 416. */
export const UNSATISFIABLE = -1;

const BYTES = /^ *bytes=/;
const DIGITS = /^\d+$/;

function position(s: string): number {
  return DIGITS.test(s) ? Number(s) : NaN;
}

export function parseRange(size: number, header: string): ByteRange[] | typeof IGNORE | typeof UNSATISFIABLE {
  if (!BYTES.test(header)) return IGNORE;
  const ranges: ByteRange[] = [];
  for (const spec of header.slice(header.indexOf('=') + 1).split(',')) {
    const dash = spec.indexOf('-');
    if (dash === -1) return IGNORE;
    const startText = spec.slice(0, dash).trim();
    const endText = spec.slice(dash + 1).trim();
    let start = position(startText);
    let end = position(endText);
    if (startText === '') {
      start = size - end;
      end = size - 1;
    } else if (endText === '') {
      end = size - 1;
    }
    if (end > size - 1) end = size - 1;
    if (Number.isNaN(start) || Number.isNaN(end)) return IGNORE;
    if (start > end || start < 0) continue;
    ranges.push({ start, end });
  }
  if (ranges.length === 0) return UNSATISFIABLE;
  return combine(ranges);
}

/** Overlapping or adjacent ranges merge; the result keeps the order of first appearance. */
function combine(ranges: ByteRange[]): ByteRange[] {
  const ordered = ranges.map((r, index) => ({ ...r, index })).sort((a, b) => a.start - b.start);
  let j = 0;
  for (let i = 1; i < ordered.length; i++) {
    const range = ordered[i]!;
    const current = ordered[j]!;
    if (range.start > current.end + 1) {
      ordered[++j] = range;
    } else if (range.end > current.end) {
      current.end = range.end;
      current.index = Math.min(current.index, range.index);
    }
  }
  ordered.length = j + 1;
  return ordered.sort((a, b) => a.index - b.index).map(({ start, end }) => ({ start, end }));
}
