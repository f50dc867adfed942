import * as fs from 'node:fs';
import * as path from 'node:path';
import { Stack } from 'aws-cdk-lib';
import * as sns from 'aws-cdk-lib/aws-sns';
import { synthesize } from './synthesize';

function validationReport(outdir: string) {
  return JSON.parse(fs.readFileSync(path.join(outdir, 'validation-report.json'), 'utf8'));
}

describe.each(['sandbox', 'prod'])('%s stage', (stage) => {
  test('passes cdk-nag AwsSolutions and CloudFormation validation with no unacknowledged finding', () => {
    const { outdir } = synthesize(stage);
    const report = validationReport(outdir);
    const violations = report.pluginReports.flatMap(
      (r: { violations?: unknown[] }) => r.violations ?? []
    );
    expect(violations).toEqual([]);
  });
});

test('an unacknowledged finding fails the synth (the checks are live)', () => {
  // A topic without enforceSSL breaks AwsSolutions-SNS3.
  expect(() =>
    synthesize('sandbox', {
      amend: (stack: Stack) => {
        new sns.Topic(stack, 'PlainTopic');
      },
    })
  ).toThrow(/AwsSolutions-SNS3/);
});
