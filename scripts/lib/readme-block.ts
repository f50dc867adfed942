import { readFileSync, writeFileSync } from 'node:fs';

/** The marker lines of a generated block: `<!-- bench:start -->` … `<!-- bench:end -->`. */
export const markers = (name: string) =>
  [`<!-- ${name}:start -->`, `<!-- ${name}:end -->`] as const;

/**
 * Replaces what lies between the block's two marker lines with `body`, keeping the markers and
 * everything outside them byte for byte. Throws when the markers are missing, duplicated or
 * out of order, rather than guessing where the table belongs.
 */
export function replaceBlock(text: string, body: string, name = 'bench'): string {
  const [start, end] = markers(name);
  const first = text.indexOf(start);
  const last = text.indexOf(end);
  if (first < 0 || last < 0) {
    throw new Error(
      `README has no ${first < 0 ? start : end} marker line; add "${start}" and "${end}" where the figures go.`
    );
  }
  if (text.indexOf(start, first + 1) >= 0 || text.indexOf(end, last + 1) >= 0) {
    throw new Error(`README has more than one ${start} / ${end} pair.`);
  }
  if (last < first) {
    throw new Error(`README has ${end} before ${start}.`);
  }
  const head = text.slice(0, first + start.length);
  const tail = text.slice(last);
  const newline = text.includes('\r\n') ? '\r\n' : '\n';
  const inner = body.trim().split(/\r?\n/).join(newline);
  return `${head}${newline}${inner}${newline}${tail}`;
}

/** What lies between a block's markers in `text` (trimmed), or an error naming the markers. */
export function blockIn(text: string, name: string): string {
  const [start, end] = markers(name);
  const first = text.indexOf(start);
  const last = text.indexOf(end);
  if (first < 0 || last < first) {
    throw new Error(
      `no ${start} … ${end} block: add the two marker lines, then run npm run docs:figures.`
    );
  }
  return text.slice(first + start.length, last).trim();
}

/**
 * Rewrites the block `name` in `file` (unchanged files are not touched); returns false with the
 * reason, and leaves the file alone, when the markers are missing.
 */
export function updateReadmeFile(
  file: string,
  body: string,
  name = 'bench'
): { updated: boolean; reason?: string } {
  const text = readFileSync(file, 'utf8');
  let next: string;
  try {
    next = replaceBlock(text, body, name);
  } catch (error) {
    return { updated: false, reason: (error as Error).message };
  }
  if (next !== text) {
    writeFileSync(file, next);
  }
  return { updated: true };
}
