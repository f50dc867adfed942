import { App, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { LambdaRdsStack, LambdaRdsStackProps } from './lambda-rds-stack';
import { readAppContext } from './app-context';

/**
 * Everything the CDK app does, kept out of bin/app.ts so the tests synthesize exactly what
 * `cdk synth` does. Reads `-c stage=` (default sandbox), `-c proxy=true|false` and
 * `-c readReplicas=N` (defaults: the stage's), `-c replicaEngineVersion=` (an upgrade's first
 * step, docs/upgrades.md) and `-c alarmEmail=` from the context, checked as
 * a whole by readAppContext (an AppContextError names every unknown key and bad value).
 */
export function defineApp(
  app: App,
  /** What a fork's test passes instead of the shipped lists (test/fork/). */
  declared: Pick<LambdaRdsStackProps, 'functions' | 'schemaModules'> = {}
): LambdaRdsStack {
  const { config, alarmEmail } = readAppContext(app.node.getAllContext());

  // Environment-agnostic on purpose: `cdk synth` needs no credentials and makes no lookups;
  // `cdk deploy` takes the account and region from your AWS profile.
  const stack = new LambdaRdsStack(app, `LambdaRdsMysql-${config.name}`, {
    ...declared,
    config,
    alarmEmail,
    terminationProtection: config.terminationProtection,
    description: `Lambda + RDS MySQL reference stack (${config.name}): per-invocation connections, tuned MySQL 8.4`,
  });

  // On every taggable resource, for cost allocation and ownership.
  Tags.of(stack).add('Project', 'lambda-rds-mysql');
  Tags.of(stack).add('Stage', config.name);

  // Unacknowledged AwsSolutions findings fail the synth.
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return stack;
}
