/**
 * `npm run smoke -- [--stage sandbox] [--region eu-west-1]`: after `cdk deploy`, invokes the
 * deployed writer then reader with your AWS credentials and checks read-after-write.
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { CliSpec, Io, processIo, runCli, exitWith } from '../lib/cli';
import { formatTable } from '../lib/table';
import { runSmoke } from './smoke-test';

export const SMOKE_CLI: CliSpec = {
  command: 'npm run smoke',
  summary:
    'After `cdk deploy`: invokes the deployed writer, then the reader, with your AWS credentials ' +
    'and checks that every read returns the write before it. Exit 0: it did; 1: it did not.',
  options: [
    { name: 'stage', value: 'NAME', help: 'Stage of the deployed stack (default sandbox).' },
    {
      name: 'region',
      value: 'REGION',
      help: "AWS region (default: AWS_REGION or your profile's).",
    },
  ],
};

export function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  return runCli(
    SMOKE_CLI,
    argv,
    async (options) => {
      process.env.AWS_EC2_METADATA_DISABLED ??= 'true';
      const stage = (options.stage as string | undefined) ?? 'sandbox';
      const config = { region: options.region as string | undefined, maxAttempts: 2 };
      const report = await runSmoke(
        { cloudFormation: new CloudFormationClient(config), lambda: new LambdaClient(config) },
        { stage }
      );
      io.out(
        `${report.stackName}: writer ${report.writer}, reader ${report.reader}, user ${report.email}\n`
      );
      io.out(
        formatTable(
          ['step', 'time (client side)'],
          report.steps.map((s) => [s.step, `${s.ms} ms`])
        )
      );
      io.out('\nRead-after-write: ok (every read returned the write before it).');
    },
    io
  );
}

if (require.main === module) {
  exitWith('smoke test', main(process.argv.slice(2)), ['SmokeError']);
}
