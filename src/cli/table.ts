// Plain aligned text tables for terminal output; no dependencies.

export type Align = 'left' | 'right';

/** Pads every column to its widest cell; `align` per column (default left). */
export function formatTable(header: string[], rows: string[][], align: Align[] = [], indent = ''): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    indent +
    cells
      .map((c, i) => (align[i] === 'right' ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
