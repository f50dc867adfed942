/** Tables a person reads at a glance: aligned plain text for the terminal, GFM for the README. */

export type Cell = string | number;

export interface TableOptions {
  /** Columns aligned right (numbers). @default - every column but the first */
  readonly alignRight?: readonly number[];
}

function cells(rows: readonly (readonly Cell[])[]): string[][] {
  return rows.map((row) => row.map((cell) => String(cell)));
}

function checkWidths(header: readonly Cell[], rows: readonly (readonly Cell[])[]): void {
  rows.forEach((row, i) => {
    if (row.length !== header.length) {
      throw new Error(`row ${i} has ${row.length} cells, the header has ${header.length}`);
    }
  });
}

function rightAligned(index: number, options: TableOptions): boolean {
  return options.alignRight ? options.alignRight.includes(index) : index > 0;
}

/** An aligned text table with a rule under the header. */
export function formatTable(
  header: readonly Cell[],
  rows: readonly (readonly Cell[])[],
  options: TableOptions = {}
): string {
  checkWidths(header, rows);
  const all = cells([header, ...rows]);
  const widths = header.map((_, c) => Math.max(...all.map((row) => [...row[c]].length)));
  const line = (row: string[]) =>
    row
      .map((cell, c) => {
        const pad = ' '.repeat(widths[c] - [...cell].length);
        return rightAligned(c, options) ? pad + cell : cell + pad;
      })
      .join('  ')
      .trimEnd();
  return [
    line(all[0]),
    widths.map((w) => '─'.repeat(w)).join('  '),
    ...all.slice(1).map(line),
  ].join('\n');
}

/** A GitHub-flavoured markdown table; `|` in cells is escaped. */
export function formatMarkdownTable(
  header: readonly Cell[],
  rows: readonly (readonly Cell[])[],
  options: TableOptions = {}
): string {
  checkWidths(header, rows);
  const escape = (cell: string) => cell.replace(/\|/g, '\\|');
  const line = (row: string[]) => `| ${row.map(escape).join(' | ')} |`;
  const rule = `|${header.map((_, c) => (rightAligned(c, options) ? '---:' : ':---')).join('|')}|`;
  const [head, ...body] = cells([header, ...rows]);
  return [line(head), rule, ...body.map(line)].join('\n');
}
