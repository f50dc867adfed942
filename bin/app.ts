#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { LambdaRdsStack } from '../lib/lambda-rds-stack';
import { stageConfig } from '../lib/stage-config';

const app = new App();
const config = stageConfig(app.node.tryGetContext('stage') ?? 'sandbox');
const alarmEmail: string | undefined = app.node.tryGetContext('alarmEmail') || undefined;

// Environment-agnostic on purpose: `cdk synth` needs no credentials and makes no lookups;
// `cdk deploy` takes the account and region from your AWS profile.
new LambdaRdsStack(app, `LambdaRdsMysql-${config.name}`, {
  config,
  alarmEmail,
  description: `Lambda + RDS MySQL reference stack (${config.name}): per-invocation connections, tuned MySQL 8.4`,
});

// Unacknowledged AwsSolutions findings fail the synth.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
