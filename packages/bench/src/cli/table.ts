// Boxed tables for the bench's figures in the terminal, drawn by cli-table3; cells may span columns.
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
