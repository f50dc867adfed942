/**
 * `npm run preflight -- [-c stage=sandbox] [-c proxy=true] [--region eu-west-1]`: before
 * `cdk deploy`, checks with your AWS credentials that the account can take what the stack those
 * switches deploy asks for. `npm run preflight -- --help` lists the options.
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { RDSClient } from '@aws-sdk/client-rds';
import { SSMClient } from '@aws-sdk/client-ssm';
import { Io, processIo, runCli, exitWith } from '../lib/cli';
import { PreflightError, formatReport, requireRegionAndCredentials, runPreflight } from './checks';
import { PREFLIGHT_CLI, preflightArgs } from './args';
import { synthesizeStage } from './stage-facts';

export function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  return runCli(
    PREFLIGHT_CLI,
    argv,
    async (options) => {
      const { context, switches, region } = preflightArgs(options);
      process.env.AWS_EC2_METADATA_DISABLED ??= 'true';
      const config = { region, maxAttempts: 3 };
      const clients = {
        lambda: new LambdaClient(config),
        cloudFormation: new CloudFormationClient(config),
        rds: new RDSClient(config),
        ssm: new SSMClient(config),
      };
      try {
        // Before the synth (seconds): a missing region or credentials is reported at once.
        await requireRegionAndCredentials(clients.lambda);
        const facts = synthesizeStage(context);
        const report = await runPreflight(clients, facts);
        io.out(formatReport(switches, facts.stackName, report.region, report.results));
        return report.results.every((r) => r.ok) ? 0 : 1;
      } catch (error) {
        if (!(error instanceof PreflightError)) throw error;
        io.err(error.message);
        return 1;
      }
    },
    io
  );
}

if (require.main === module) {
  exitWith('preflight', main(process.argv.slice(2)));
}
