import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { restartRotation } from '../../lambda/lib/rotation-recovery';

// Every recovery text (errors, warnings, docs) ends with commands that leave rotation enabled:
// `cancel-rotate-secret` turns rotation off until RotateSecret is called again and leaves
// AWSPENDING behind (API_CancelRotateSecret), so it is never advised; removing a stuck
// AWSPENDING label is always followed by `rotate-secret`.

const ROOT = path.join(__dirname, '..', '..');
const LAST_COMMAND = /aws secretsmanager rotate-secret --secret-id \S+$/;

function filesUnder(dir: string, extension: string): string[] {
  return readdirSync(path.join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith(extension))
    .map((f) => path.join(dir, f));
}

describe('recovery texts leave rotation enabled', () => {
  test.each([
    ['nothing to remove', undefined, undefined],
    ['a stuck AWSPENDING', 'version-1', undefined],
    ['a stuck AWSPENDING and a step between', 'version-1', 'run the migration again'],
  ])('restartRotation with %s ends with rotate-secret', (_, version, between) => {
    const text = restartRotation('arn:secret', version, between);
    expect(text).toMatch(LAST_COMMAND);
    expect(text).not.toMatch(/cancel-rotate-secret/);
    if (version) {
      expect(text.indexOf('--remove-from-version-id version-1')).toBeLessThan(
        text.indexOf('rotate-secret --secret-id')
      );
    }
  });

  test('the functions build every recovery command with restartRotation', () => {
    const sources = [...filesUnder('lambda', '.ts')].filter(
      (f) => !f.endsWith(path.join('lib', 'rotation-recovery.ts'))
    );
    expect(sources.length).toBeGreaterThan(0);
    const offenders = sources.filter((f) =>
      /cancel-rotate-secret|update-secret-version-stage/.test(
        readFileSync(path.join(ROOT, f), 'utf8')
      )
    );
    expect(offenders).toEqual([]);
  });

  test('no page advises cancel-rotate-secret, and every label removal is followed by rotate-secret', () => {
    const pages = ['README.md', ...filesUnder('docs', '.md')];
    const problems: string[] = [];
    for (const page of pages) {
      // Paragraphs and code blocks: blank-line separated.
      for (const paragraph of readFileSync(path.join(ROOT, page), 'utf8').split(/\n\s*\n/)) {
        if (/cancel-rotate-secret/.test(paragraph)) problems.push(`${page}: ${paragraph}`);
        const removal = paragraph.search(/update-secret-version-stage/);
        if (removal >= 0 && !/rotate-secret --secret-id/.test(paragraph.slice(removal))) {
          problems.push(`${page}: ${paragraph}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });
});
