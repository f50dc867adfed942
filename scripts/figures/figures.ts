/**
 * `npm run docs:figures`: synthesizes the stage defaults (as `cdk synth -c stage=…`, handlers
 * not bundled: the template is the same) and rewrites the stack-figure blocks of README.md and
 * docs/ from them. Run it after changing anything that moves a budget, a threshold or a price;
 * test/lib/snapshot.test.ts fails until you do.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { defineApp } from '../../lib/app';
import { replaceBlock } from '../lib/readme-block';
import {
  DOCUMENTED_STAGES,
  FIGURE_BLOCKS,
  StackFigures,
  TemplateJson,
  markers,
  stackFigures,
} from './stack-figures';

const ROOT = path.join(__dirname, '..', '..');

/** The template `cdk synth -c stage=<stage>` writes, without bundling the handlers. */
export function synthesizeTemplate(stage: string): TemplateJson {
  const cdkJson = JSON.parse(fs.readFileSync(path.join(ROOT, 'cdk.json'), 'utf8'));
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), `figures-${stage}-`));
  try {
    const app = new App({
      outdir,
      // The CLI's own switch for skipping asset bundling.
      context: { ...cdkJson.context, stage, 'aws:cdk:bundling-stacks': [] },
    });
    const stack = defineApp(app);
    return app.synth().getStackByName(stack.stackName).template as TemplateJson;
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

function main(): void {
  if (process.argv.slice(2).some((a) => a === '--help' || a === '-h')) {
    console.log(
      'Usage: npm run docs:figures\n\nRewrites the stack-figure blocks (budgets, reservations, alarms, costs) of\n' +
        `${[...new Set(FIGURE_BLOCKS.map((b) => b.file))].join(', ')} from the synthesized ${DOCUMENTED_STAGES.join(' and ')} templates.`
    );
    return;
  }
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  const stages: StackFigures[] = DOCUMENTED_STAGES.map((stage) =>
    stackFigures(stage, synthesizeTemplate(stage))
  );
  for (const block of FIGURE_BLOCKS) {
    const file = path.join(ROOT, block.file);
    const text = fs.readFileSync(file, 'utf8');
    const next = replaceBlock(text, block.render(stages), ...markers(block.name));
    if (next !== text) fs.writeFileSync(file, next);
    console.log(`${next === text ? 'Unchanged' : 'Updated'}: ${block.file} (${block.name})`);
  }
}

if (require.main === module) {
  try {
    main();
  } catch (error) {
    console.error(`docs:figures failed: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}
