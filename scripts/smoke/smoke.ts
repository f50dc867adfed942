/**
 * `npm run smoke -- [--stage sandbox] [--region eu-west-1]`: after `cdk deploy`, invokes the
 * deployed writer then reader with your AWS credentials and checks read-after-write.
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { formatTable } from '../lib/table';
import { parseArgs, runSmoke } from './smoke-test';

async function main(): Promise<void> {
  process.env.AWS_EC2_METADATA_DISABLED ??= 'true';
  const { stage, region } = parseArgs(process.argv.slice(2));
  const config = { region, maxAttempts: 2 };
  const report = await runSmoke(
    { cloudFormation: new CloudFormationClient(config), lambda: new LambdaClient(config) },
    { stage }
  );
  console.log(
    `${report.stackName}: writer ${report.writer}, reader ${report.reader}, user ${report.email}\n`
  );
  console.log(
    formatTable(
      ['step', 'time (client side)'],
      report.steps.map((s) => [s.step, `${s.ms} ms`])
    )
  );
  console.log('\nRead-after-write: ok (every read returned the write before it).');
}

main().catch((error: Error) => {
  console.error(
    error.name === 'SmokeError'
      ? `smoke test failed: ${error.message}`
      : `smoke test failed: ${error.stack ?? error.message}`
  );
  process.exitCode = 1;
});
