import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { defineApp } from '../../lib/app';

/** A CloudFormation template as JSON: untyped by nature. */
export interface TemplateJson {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly Resources?: Record<string, { Type: string; Properties?: Record<string, any> }>;
}

export interface SynthesizedStack {
  readonly stackName: string;
  readonly template: TemplateJson;
  /** The SSM parameter a deploy reads the bootstrap version from, and the least it accepts. */
  readonly bootstrap: { readonly parameter: string; readonly minVersion: number };
}

/**
 * Synthesizes the stack in-process, exactly as `cdk synth -c key=value ...` with the same
 * `context` (bin/app.ts's defineApp, cdk.json's context under it) but without bundling the
 * handlers (the CLI's own switch for that): the template is the same.
 */
export function synthesizeStack(context: Readonly<Record<string, string>>): SynthesizedStack {
  const root = path.join(__dirname, '..', '..');
  const cdkJson = JSON.parse(fs.readFileSync(path.join(root, 'cdk.json'), 'utf8'));
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'synth-'));
  try {
    const app = new App({
      outdir,
      context: { ...cdkJson.context, ...context, 'aws:cdk:bundling-stacks': [] },
    });
    const stack = defineApp(app);
    const artifact = app.synth().getStackByName(stack.stackName);
    return {
      stackName: stack.stackName,
      template: artifact.template as TemplateJson,
      bootstrap: {
        parameter: artifact.bootstrapStackVersionSsmParameter ?? '/cdk-bootstrap/hnb659fds/version',
        minVersion: artifact.requiresBootstrapStackVersion ?? 6,
      },
    };
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}
