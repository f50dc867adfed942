/**
 * `npm run preflight -- [--stage sandbox] [--region eu-west-1]`: before `cdk deploy`, checks with
 * your AWS credentials that the account can take what the stage's template asks for: Lambda
 * concurrency, the RDS engine version and instance class, and the CDK bootstrap. Exits 0 when
 * the deploy can succeed, 1 when it cannot (each FAIL says what to do).
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { RDSClient } from '@aws-sdk/client-rds';
import { SSMClient } from '@aws-sdk/client-ssm';
import { PreflightError, formatReport, requireRegionAndCredentials, runPreflight } from './checks';
import { parseArgs } from './args';
import { synthesizeStage } from './stage-facts';

async function main(): Promise<void> {
  process.env.AWS_EC2_METADATA_DISABLED ??= 'true';
  const { stage, region } = parseArgs(process.argv.slice(2));
  const config = { region, maxAttempts: 3 };
  const clients = {
    lambda: new LambdaClient(config),
    cloudFormation: new CloudFormationClient(config),
    rds: new RDSClient(config),
    ssm: new SSMClient(config),
  };
  // Before the synth (seconds): a missing region or credentials is reported at once.
  await requireRegionAndCredentials(clients.lambda);
  let facts;
  try {
    facts = synthesizeStage(stage);
  } catch (error) {
    throw new PreflightError(`Cannot synthesize stage "${stage}": ${(error as Error).message}`);
  }
  const report = await runPreflight(clients, facts);
  console.log(formatReport(stage, facts.stackName, report.region, report.results));
  process.exitCode = report.results.every((r) => r.ok) ? 0 : 1;
}

main().catch((error: Error) => {
  console.error(
    error.name === 'PreflightError' ? error.message : `preflight failed: ${error.stack ?? error}`
  );
  process.exitCode = 1;
});
