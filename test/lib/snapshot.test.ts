import { DATA_FUNCTIONS } from '../../lib/declared-functions';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  DOCUMENTED_STAGES,
  FIGURE_BLOCKS,
  TemplateJson,
  blockIn,
  stackFigures,
} from '../../scripts/figures/stack-figures';
import { synthesize } from './synthesize';

const ROOT = path.join(__dirname, '..', '..');

/** Each stage synthesized once, for its snapshot and for the figures the docs state. */
const templates = new Map<string, TemplateJson>();
function templateOf(stage: string): TemplateJson {
  if (!templates.has(stage)) templates.set(stage, synthesize(stage).template.toJSON());
  return templates.get(stage)!;
}

// One snapshot per stage catches any unreviewed template change; asset hashes are masked by
// test/setup/asset-hash-serializer.ts. Requirements are asserted one by one in stack.test.ts.
test.each(['sandbox', 'prod'])('%s template matches the snapshot', (stage) => {
  expect(templateOf(stage)).toMatchSnapshot();
});

// The README and docs/ state budgets, reservations, thresholds and costs; they must be what the
// stack synthesizes now. When this fails after a deliberate change, run `npm run docs:figures`.
describe('the figures the docs state come from the synthesized stage defaults', () => {
  const stages = () => DOCUMENTED_STAGES.map((stage) => stackFigures(stage, templateOf(stage)));

  test.each(FIGURE_BLOCKS.map((b) => [`${b.file} (${b.name})`, b] as const))('%s', (_, block) => {
    const text = fs.readFileSync(path.join(ROOT, block.file), 'utf8');
    expect(blockIn(text, block.name)).toBe(block.render(stages()).trim());
  });

  // Read from the README itself, not through the renderer the block test above compares with:
  // a renderer that dropped or merged a function's row would pass that test.
  test('the README states a reservation row for every declared function, and the rows add up', () => {
    const block = blockIn(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'), 'stack-figures');
    const row = (label: string) => {
      const line = block.split('\n').find((l) => l.startsWith(`| ${label} |`));
      if (!line) throw new Error(`README figures have no row "${label}"`);
      return line
        .split('|')
        .slice(2, -1)
        .map((cell) => Number(cell.trim()));
    };
    const rows = ['migration', ...DATA_FUNCTIONS.map(({ name }) => name)].map((label) =>
      row(`reserved concurrency: ${label}`)
    );
    const total = row('reserved concurrency in all');
    total.forEach((sum, stage) => {
      expect(rows.reduce((acc, r) => acc + r[stage], 0)).toBe(sum);
    });
  });

  test('a changed reservation changes the figures block', () => {
    const template = structuredClone(templateOf('sandbox')) as {
      Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
    };
    const writer = Object.entries(template.Resources).find(
      ([id, r]) => r.Type === 'AWS::Lambda::Function' && id.startsWith('FunctionsWriterFunction')
    )![1];
    const reserved = Number(writer.Properties.ReservedConcurrentExecutions) + 1;
    writer.Properties.ReservedConcurrentExecutions = reserved;
    const figures = stackFigures('sandbox', template);
    expect(figures.reservations.find((r) => r.label === 'writer')?.reserved).toBe(reserved);
    const block = FIGURE_BLOCKS.find((b) => b.name === 'stack-figures')!;
    expect(block.render([figures])).not.toBe(
      block.render([stackFigures('sandbox', templateOf('sandbox'))])
    );
  });
});
