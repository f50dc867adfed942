import { SynthesizedStack, TemplateJson, synthesizeStack } from '../lib/synthesize';

/** What a deploy of a stage would ask of the account, read from its synthesized template. */
export interface StageFacts {
  readonly stackName: string;
  /** Every function with reserved concurrency, by logical id without its hash. */
  readonly reservations: readonly { readonly id: string; readonly reserved: number }[];
  readonly databases: readonly DatabaseFacts[];
  /** Every RDS Proxy of the stack (none unless `-c proxy=true` or a stage turns it on). */
  readonly proxies?: readonly { readonly id: string; readonly engineFamily: string }[];
  readonly bootstrap: SynthesizedStack['bootstrap'];
}

export interface DatabaseFacts {
  readonly id: string;
  readonly engine: string;
  /** As in the template: a full version (8.4.10) or a major one (8.4, RDS picks its default minor). */
  readonly engineVersion: string;
  readonly instanceClass: string;
  readonly multiAz: boolean;
  readonly storageType?: string;
  /** A read replica of the stack's primary (SourceDBInstanceIdentifier set). */
  readonly replica?: boolean;
}

/** What a deploy with `context` (as `cdk deploy -c key=value ...`) would ask of the account. */
export function synthesizeStage(context: Readonly<Record<string, string>>): StageFacts {
  const { stackName, template, bootstrap } = synthesizeStack(context);
  return factsFromTemplate(stackName, template, bootstrap);
}

export function factsFromTemplate(
  stackName: string,
  template: TemplateJson,
  bootstrap: SynthesizedStack['bootstrap']
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
      // A replica's own EngineVersion when it has one (the first step of an upgrade).
      engineVersion: literal(p.EngineVersion ?? source.EngineVersion, `${id}.EngineVersion`),
      instanceClass: literal(p.DBInstanceClass, `${id}.DBInstanceClass`),
      multiAz: p.MultiAZ === true || p.MultiAZ === 'true',
      storageType: typeof p.StorageType === 'string' ? p.StorageType : undefined,
      replica: Boolean(p.SourceDBInstanceIdentifier),
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
