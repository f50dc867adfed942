import { readFileSync, writeFileSync } from 'node:fs';

export const BENCH_START = '<!-- bench:start -->';
export const BENCH_END = '<!-- bench:end -->';

/**
 * Replaces what lies between the two marker lines with `body`, keeping the markers and
 * everything outside them byte for byte. Throws when the markers are missing, duplicated or
 * out of order, rather than guessing where the table belongs.
 */
export function replaceBlock(
  text: string,
  body: string,
  start = BENCH_START,
  end = BENCH_END
): string {
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

/** Rewrites the block in `file`; returns false (and leaves the file alone) when the markers are missing. */
export function updateReadmeFile(
  file: string,
  body: string
): { updated: boolean; reason?: string } {
  const text = readFileSync(file, 'utf8');
  let next: string;
  try {
    next = replaceBlock(text, body);
  } catch (error) {
    return { updated: false, reason: (error as Error).message };
  }
  if (next !== text) {
    writeFileSync(file, next);
  }
  return { updated: true };
}
