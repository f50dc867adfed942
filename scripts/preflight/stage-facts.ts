import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { defineApp } from '../../lib/app';

/** What a deploy of a stage would ask of the account, read from its synthesized template. */
export interface StageFacts {
  readonly stackName: string;
  /** Every function with reserved concurrency, by logical id without its hash. */
  readonly reservations: readonly { readonly id: string; readonly reserved: number }[];
  readonly databases: readonly DatabaseFacts[];
  /** Every RDS Proxy of the stack (none unless `-c proxy=true` or a stage turns it on). */
  readonly proxies?: readonly { readonly id: string; readonly engineFamily: string }[];
  /** The SSM parameter the deploy reads the bootstrap version from, and the least it accepts. */
  readonly bootstrap: { readonly parameter: string; readonly minVersion: number };
}

export interface DatabaseFacts {
  readonly id: string;
  readonly engine: string;
  /** As in the template: a full version (8.4.10) or a major one (8.4, RDS picks its default minor). */
  readonly engineVersion: string;
  readonly instanceClass: string;
  readonly multiAz: boolean;
  readonly storageType?: string;
}

interface Template {
  Resources?: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
}

/**
 * Synthesizes the stack in-process, exactly as `cdk synth -c key=value ...` with the same
 * `context` (bin/app.ts's defineApp, cdk.json's context under it) but without bundling the
 * handlers: the template is the same.
 */
export function synthesizeStage(
  context: Readonly<Record<string, string>>,
  projectRoot = path.join(__dirname, '..', '..')
) {
  const cdkJson = JSON.parse(fs.readFileSync(path.join(projectRoot, 'cdk.json'), 'utf8'));
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'preflight-'));
  try {
    const app = new App({
      outdir,
      context: { ...cdkJson.context, ...context, 'aws:cdk:bundling-stacks': [] },
    });
    const stack = defineApp(app);
    const artifact = app.synth().getStackByName(stack.stackName);
    return factsFromTemplate(stack.stackName, artifact.template, {
      parameter: artifact.bootstrapStackVersionSsmParameter ?? '/cdk-bootstrap/hnb659fds/version',
      minVersion: artifact.requiresBootstrapStackVersion ?? 6,
    });
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

export function factsFromTemplate(
  stackName: string,
  template: Template,
  bootstrap: StageFacts['bootstrap']
): StageFacts {
  const resources = Object.entries(template.Resources ?? {});
  const reservations = resources
    .filter(([, r]) => r.Type === 'AWS::Lambda::Function')
    .map(([id, r]) => ({
      id: id.replace(/[0-9A-F]{8}$/, ''),
      reserved: Number(r.Properties?.ReservedConcurrentExecutions ?? 0),
    }))
    .filter((f) => f.reserved > 0);
  const instances = resources.filter(([, r]) => r.Type === 'AWS::RDS::DBInstance');
  // A read replica names no engine: it runs its source's, the (one) primary of the stack.
  const primary = instances.find(([, r]) => !r.Properties?.SourceDBInstanceIdentifier)?.[1];
  const databases = instances
    .map(([id, { Properties: p = {} }]) => ({
      id,
      p,
      source: p.SourceDBInstanceIdentifier ? (primary?.Properties ?? {}) : p,
    }))
    .map(({ id, p, source }) => ({
      id,
      engine: literal(source.Engine, `${id}.Engine`),
      engineVersion: literal(source.EngineVersion, `${id}.EngineVersion`),
      instanceClass: literal(p.DBInstanceClass, `${id}.DBInstanceClass`),
      multiAz: p.MultiAZ === true || p.MultiAZ === 'true',
      storageType: typeof p.StorageType === 'string' ? p.StorageType : undefined,
    }));
  const proxies = resources
    .filter(([, r]) => r.Type === 'AWS::RDS::DBProxy')
    .map(([id, r]) => ({
      id,
      engineFamily: literal(r.Properties?.EngineFamily, `${id}.EngineFamily`),
    }));
  return { stackName, reservations, databases, proxies, bootstrap };
}

/** The checks compare plain values; a token here would mean the template changed shape. */
function literal(value: unknown, what: string): string {
  if (typeof value !== 'string') {
    throw new Error(
      `The template's ${what} is ${JSON.stringify(value)}, not a plain string: preflight cannot check it.`
    );
  }
  return value;
}
