/**
 * `npm run docs:figures`: synthesizes the stage defaults (as `cdk synth -c stage=…`, handlers
 * not bundled: the template is the same) and rewrites the stack-figure blocks of README.md and
 * docs/ from them. Run it after changing anything that moves a budget, a threshold or a price;
 * test/lib/snapshot.test.ts fails until you do.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CliSpec, Io, exitWith, processIo, runCli } from '../lib/cli';
import { replaceBlock } from '../lib/readme-block';
import { ROOT } from '../lib/report';
import { synthesizeStack } from '../lib/synthesize';
import { DOCUMENTED_STAGES, FIGURE_BLOCKS, stackFigures } from './stack-figures';

export const FIGURES_CLI: CliSpec = {
  command: 'npm run docs:figures',
  summary:
    'Rewrites the stack-figure blocks (budgets, reservations, alarms, costs) of ' +
    `${[...new Set(FIGURE_BLOCKS.map((b) => b.file))].join(', ')} from the synthesized ` +
    `${DOCUMENTED_STAGES.join(' and ')} templates.`,
  options: [],
};

export function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  return runCli(
    FIGURES_CLI,
    argv,
    async () => {
      process.env.AWS_EC2_METADATA_DISABLED = 'true';
      const stages = DOCUMENTED_STAGES.map((stage) =>
        stackFigures(stage, synthesizeStack({ stage }).template)
      );
      for (const block of FIGURE_BLOCKS) {
        const file = path.join(ROOT, block.file);
        const text = fs.readFileSync(file, 'utf8');
        const next = replaceBlock(text, block.render(stages), block.name);
        if (next !== text) fs.writeFileSync(file, next);
        io.out(`${next === text ? 'Unchanged' : 'Updated'}: ${block.file} (${block.name})`);
      }
    },
    io
  );
}

if (require.main === module) {
  exitWith('docs:figures', main(process.argv.slice(2)));
}
