// Aligned columns without borders for `aiotx probe` (plain padding: the library carries no table package).

export type Align = 'left' | 'right';

/** Aligned columns without borders, each line prefixed by `indent`; two spaces between columns. */
export function formatTable(header: string[], rows: string[][], align: Align[] = [], indent = ''): string {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) =>
    widths.map((w, c) => (align[c] === 'right' ? (r[c] ?? '').padStart(w) : (r[c] ?? '').padEnd(w))).join('  ');
  return all.map((r) => (indent + line(r)).trimEnd()).join('\n');
}
