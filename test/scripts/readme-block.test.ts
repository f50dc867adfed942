import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { readmeBlock, BenchReport } from '../../scripts/bench/readme-table';
import { replaceBlock, updateReadmeFile } from '../../scripts/lib/readme-block';

const README =
  '# Title\n\n## Performance\n\n<!-- bench:start -->\nold figures\n<!-- bench:end -->\n\n## Tests\n';

describe('README figures block', () => {
  test('only the text between the markers is replaced', () => {
    expect(replaceBlock(README, '| new | table |\n')).toBe(
      '# Title\n\n## Performance\n\n<!-- bench:start -->\n| new | table |\n<!-- bench:end -->\n\n## Tests\n'
    );
  });

  test('rewriting twice gives the same file', () => {
    const once = replaceBlock(README, 'figures');
    expect(replaceBlock(once, 'figures')).toBe(once);
  });

  test('Windows line endings are kept', () => {
    const crlf = README.replace(/\n/g, '\r\n');
    expect(replaceBlock(crlf, 'a\nb')).toContain(
      '<!-- bench:start -->\r\na\r\nb\r\n<!-- bench:end -->'
    );
  });

  test.each([
    ['no markers', '# Title\n', 'has no <!-- bench:start --> marker'],
    ['no end marker', '<!-- bench:start -->\n', 'has no <!-- bench:end --> marker'],
    ['two pairs', README + README, 'more than one'],
    ['markers out of order', '<!-- bench:end -->\n<!-- bench:start -->\n', 'before'],
  ])('fails clearly with %s', (_, text, message) => {
    expect(() => replaceBlock(text, 'x')).toThrow(message);
  });

  test('a README without markers is left untouched', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'readme-'));
    try {
      const file = path.join(dir, 'README.md');
      writeFileSync(file, '# No markers\n');
      expect(updateReadmeFile(file, 'x')).toEqual({
        updated: false,
        reason: expect.stringContaining('no <!-- bench:start -->'),
      });
      expect(readFileSync(file, 'utf8')).toBe('# No markers\n');
      writeFileSync(file, README);
      expect(updateReadmeFile(file, 'x')).toEqual({ updated: true });
      expect(readFileSync(file, 'utf8')).toContain('<!-- bench:start -->\nx\n<!-- bench:end -->');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('README figures from reports/bench.json', () => {
  const report: BenchReport = {
    measuredAt: '2025-01-02T03:04:05.000Z',
    machine: { node: 'v20.0.0', cpus: 2, cpuModel: 'Test CPU' },
    latency: {
      oneWayMs: 10,
      iterations: 15,
      tls: true,
      baseline: 'reader, module-scope connection',
      rows: [
        {
          label: 'reader, module-scope connection',
          roundTrips: 1,
          bytes: 500,
          medianMs: 22.9,
          ratio: 1,
        },
        {
          label: 'reader, connection per invocation',
          roundTrips: 5,
          bytes: 2100,
          medianMs: 110.3,
          ratio: 4.81,
        },
      ],
    },
    synth: {
      runs: 2,
      app: 'npx tsx bin/app.ts',
      appSeconds: 7.9,
      baseline: 'npx ts-node bin/app.ts',
      baselineSeconds: 14.6,
      ratio: 0.54,
    },
  };

  test('shows each measured figure with its baseline and how to reproduce it', () => {
    const block = readmeBlock(report);
    expect(block).toContain('Measured 2025-01-02 on 2 × Test CPU, Node.js v20.0.0');
    expect(block).toContain('`npm run bench`');
    expect(block).toContain('one round trip = 20 ms');
    expect(block).toContain('| reader, connection per invocation | 5 | 110.3 ms | 4.81× |');
    expect(block).toContain('7.9 s vs. `npx ts-node bin/app.ts` 14.6 s: 0.54×');
  });

  test('sections never measured are left out, not shown as zeros', () => {
    const block = readmeBlock(report);
    expect(block).not.toContain('**Load**');
    expect(block).not.toContain('**Demo**');
    expect(block).not.toContain('**Bundles');
  });
});
