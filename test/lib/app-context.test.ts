import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { AppContextError, readAppContext } from '../../lib/app-context';
import { STAGES } from '../../lib/stage-config';

const ROOT = path.join(__dirname, '..', '..');

describe('the CDK context is checked as a whole', () => {
  test('the app reads its own keys and leaves feature flags and CLI keys alone', () => {
    const settings = readAppContext({
      stage: 'prod',
      proxy: 'false',
      readReplicas: '2',
      alarmEmail: 'ops@example.com',
      '@aws-cdk/core:checkSecretUsage': true,
      'aws:cdk:bundling-stacks': [],
      'availability-zones:account=1:region=eu-west-1': ['a'],
      'acknowledged-issue-numbers': [1],
    });
    expect(settings.config).toMatchObject({ name: 'prod', proxy: false, readReplicas: 2 });
    expect(settings.alarmEmail).toBe('ops@example.com');
    expect(readAppContext({}).config).toBe(STAGES.sandbox);
  });

  test('fails on a misspelled key, naming the keys there are', () => {
    expect(() => readAppContext({ readReplica: '1' })).toThrow(
      new AppContextError(
        'Unknown context key "readReplica" (did you mean readReplicas?). ' +
          'This app reads: stage, proxy, readReplicas, replicaEngineVersion, alarmEmail.'
      )
    );
  });

  test('fails with one message listing every bad key and value, each saying what to pass', () => {
    let error: unknown;
    try {
      readAppContext({ Stage: 'prod', stage: 'production', readReplicas: '-1', alarmEmail: 'ops' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(AppContextError);
    const lines = (error as Error).message.split('\n');
    expect(lines[0]).toBe('The CDK context has 4 problems:');
    expect(lines.slice(1)).toEqual([
      expect.stringMatching(/^ {2}- Unknown context key "Stage" \(did you mean stage\?\)/),
      expect.stringMatching(/Unknown stage "production". Use one of: sandbox, prod/),
      expect.stringMatching(/-c readReplicas=-1 is not a whole number from 0 to 15.*Pass e\.g\./),
      expect.stringMatching(/-c alarmEmail=ops is not an email address\. Pass -c alarmEmail=/),
    ]);
  });

  test('`cdk synth` with a bad key prints the message alone: no stack trace, exit 1', () => {
    // bin/app.ts as the CLI runs it: the context arrives in CDK_CONTEXT_JSON.
    const run = spawnSync(process.execPath, [require.resolve('tsx/cli'), 'bin/app.ts'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify({ readReplica: '1' }) },
      timeout: 60_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr.trim()).toBe(
      'Unknown context key "readReplica" (did you mean readReplicas?). ' +
        'This app reads: stage, proxy, readReplicas, replicaEngineVersion, alarmEmail.'
    );
  });
});
