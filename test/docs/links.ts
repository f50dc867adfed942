import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * GitHub's heading anchor: lower-cased, punctuation other than `-` and `_` dropped, spaces to
 * hyphens; a repeated heading gets `-1`, `-2`, …
 */
export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of withoutFences(markdown).split('\n')) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      const base = heading[1]
        .replace(/<[^>]*>/g, '')
        .replace(/`/g, '')
        .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s_-]/gu, '')
        .replace(/\s/g, '-');
      const count = seen.get(base) ?? 0;
      seen.set(base, count + 1);
      anchors.add(count ? `${base}-${count}` : base);
    }
    for (const explicit of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(explicit[1]);
  }
  return anchors;
}

function withoutFences(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, '');
}

/** Fenced code blocks and inline code spans hold no links. */
function withoutCode(markdown: string): string {
  return withoutFences(markdown).replace(/`[^`\n]*`/g, '');
}

/** Every broken relative link or anchor in `files` (paths relative to `root`), one line each. */
export function brokenLinks(root: string, files: readonly string[]): string[] {
  const problems: string[] = [];
  const anchorCache = new Map<string, Set<string>>();
  const anchorsIn = (file: string) => {
    if (!anchorCache.has(file)) anchorCache.set(file, anchorsOf(fs.readFileSync(file, 'utf8')));
    return anchorCache.get(file)!;
  };
  for (const file of files) {
    const absolute = path.join(root, file);
    const text = withoutCode(fs.readFileSync(absolute, 'utf8'));
    for (const [, target] of text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
      const [rawPath, anchor] = target.split('#');
      const linked = rawPath
        ? path.resolve(path.dirname(absolute), decodeURIComponent(rawPath))
        : absolute;
      if (!fs.existsSync(linked)) {
        problems.push(`${file}: ${target}: no file ${path.relative(root, linked)}`);
        continue;
      }
      if (anchor !== undefined && linked.endsWith('.md') && !anchorsIn(linked).has(anchor)) {
        problems.push(
          `${file}: ${target}: no heading or anchor #${anchor} in ${path.relative(root, linked)}`
        );
      }
    }
  }
  return problems;
}
