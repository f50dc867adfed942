import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, AppProps } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { defineApp } from '../../lib/app';
import { LambdaRdsStack, LambdaRdsStackProps } from '../../lib/lambda-rds-stack';
import { STATE_ENV } from '../support/state';

export interface SynthesizeOptions {
  /** Extra context, as with `cdk synth -c key=value`. */
  readonly context?: Record<string, string>;
  /** Changes the stack before synthesis (to prove a check catches something). */
  readonly amend?: (stack: LambdaRdsStack) => void;
  /**
   * Run esbuild for the handlers. Off by default: the template does not depend on the bundle
   * (asset hashes are masked), and skipping it keeps the infra tests fast.
   */
  readonly bundle?: boolean;
  /**
   * Data functions and schema modules instead of the shipped lists (a fork's fixture).
   * @default - lib/declared-functions.ts and lambda/schema-modules.ts
   */
  readonly declared?: Pick<LambdaRdsStackProps, 'functions' | 'schemaModules'>;
}

export interface Synthesized {
  readonly stack: LambdaRdsStack;
  readonly template: Template;
  /** The cloud assembly folder (holds validation-report.json and the assets). */
  readonly outdir: string;
}

/** The feature flags and defaults `cdk synth` runs with, so tests see what the CLI sees. */
const CDK_JSON_CONTEXT: Record<string, unknown> = JSON.parse(
  fs.readFileSync(path.join(__dirname, '..', '..', 'cdk.json'), 'utf8')
).context;

/**
 * Where cloud assemblies go: under a jest run, its own folder (globalTeardown removes it with the
 * rest of the run); in a script, the system's, removed when the process exits. A suite
 * synthesizes several, each about half a megabyte, so none may outlive the run.
 */
function assemblyFolder(stage: string): string {
  const runState = process.env[STATE_ENV];
  if (runState) {
    return fs.mkdtempSync(path.join(path.dirname(runState), `cdk-${stage}-`));
  }
  if (scriptAssemblies.length === 0) {
    process.once('exit', () => {
      for (const dir of scriptAssemblies) fs.rmSync(dir, { recursive: true, force: true });
    });
  }
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), `cdk-${stage}-`));
  scriptAssemblies.push(outdir);
  return outdir;
}
const scriptAssemblies: string[] = [];

/**
 * An App for a test that builds its own stack, its assembly in assemblyFolder() (CDK would
 * otherwise leave a cdk.out* folder in the system's temporary directory at each synthesis).
 */
export function testApp(props: AppProps = {}): App {
  return new App({ outdir: assemblyFolder('test'), ...props });
}

/** Synthesizes the stack of a stage with bin/app.ts's own defineApp(), cdk-nag included. */
export function synthesize(stage: string, options: SynthesizeOptions = {}): Synthesized {
  const outdir = assemblyFolder(stage);
  const context: Record<string, unknown> = { ...CDK_JSON_CONTEXT, ...options.context };
  // The CLI's own switch for skipping asset bundling (used by `cdk synth --exclusively`).
  if (!options.bundle) context['aws:cdk:bundling-stacks'] = [];
  const app = new App({ outdir, context: { ...context, stage } });
  const stack = defineApp(app, options.declared);
  options.amend?.(stack);
  app.synth();
  return { stack, template: Template.fromStack(stack), outdir };
}

/** A synthesized resource: CloudFormation JSON, untyped by nature. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type CfnResource = { Properties: Record<string, any> };

/** Resources of a type, as [logicalId, resource] pairs. */
export function resourcesOf(template: Template, type: string): [string, CfnResource][] {
  return Object.entries(template.findResources(type)) as [string, CfnResource][];
}
