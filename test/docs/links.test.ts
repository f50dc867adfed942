import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { anchorsOf, brokenLinks } from './links';

const ROOT = path.join(__dirname, '..', '..');

/** README.md and every page under docs/. */
function documentation(): string[] {
  const docs = fs
    .readdirSync(path.join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`);
  return ['README.md', ...docs];
}

test('every relative link and anchor in README.md and docs/*.md resolves', () => {
  expect(brokenLinks(ROOT, documentation())).toEqual([]);
});

describe('the link check', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'links-'));
    fs.mkdirSync(path.join(dir, 'docs'));
    fs.writeFileSync(
      path.join(dir, 'docs', 'page.md'),
      "# A page\n\n## The data path's guarantees\n"
    );
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const check = (readme: string) => {
    fs.writeFileSync(path.join(dir, 'README.md'), readme);
    return brokenLinks(dir, ['README.md']);
  };

  test('passes links to files, headings and explicit anchors', () => {
    expect(
      check(
        '# Title\n\n<a id="here"></a>See [page](docs/page.md), [g](docs/page.md#the-data-paths-guarantees), ' +
          '[t](#title), [h](#here), [web](https://example.com/x.md).\n'
      )
    ).toEqual([]);
  });

  test('fails on a link to a file that does not exist', () => {
    expect(check('See [design](DESIGN.md).\n')).toEqual([
      'README.md: DESIGN.md: no file DESIGN.md',
    ]);
  });

  test('fails on an anchor no heading makes', () => {
    expect(check('See [gone](docs/page.md#read-replicas) and [here](#nowhere).\n')).toEqual([
      'README.md: docs/page.md#read-replicas: no heading or anchor #read-replicas in docs/page.md',
      'README.md: #nowhere: no heading or anchor #nowhere in README.md',
    ]);
  });

  test('ignores links inside code', () => {
    expect(check('```sh\necho "[x](missing.md)"\n```\n`[y](missing.md)`\n')).toEqual([]);
  });

  test('numbers repeated headings as GitHub does', () => {
    expect([...anchorsOf('## Errors\n## Errors\n## `max_connections` & more\n')]).toEqual([
      'errors',
      'errors-1',
      'max_connections--more',
    ]);
  });
});
