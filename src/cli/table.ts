// Tables for the terminal, drawn by cli-table3: boxed for bench figures, borderless for lists.
import Table from 'cli-table3';

export type Align = 'left' | 'right';

/** A boxed table; cells may span columns ({ colSpan, content }). */
export function boxedTable(head: string[], rows: (string | { colSpan: number; content: string })[][], align: Align[] = []): string {
  const table = new Table({ head, chars: NO_ROW_LINES, style: { head: [], border: [] }, colAligns: align });
  table.push(...rows);
  return table.toString();
}

// Only the line under the header separates rows.
const NO_ROW_LINES = { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' };

const NO_BORDER = {
  top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
  left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '  ',
};

/** Aligned columns without borders, each line prefixed by `indent`. */
export function formatTable(header: string[], rows: string[][], align: Align[] = [], indent = ''): string {
  const table = new Table({ head: header, chars: NO_BORDER, style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 }, colAligns: align });
  table.push(...rows);
  return table.toString().split('\n').map((l) => indent + l.trimEnd()).join('\n');
}
