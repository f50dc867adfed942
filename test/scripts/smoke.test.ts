import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { checkReadAfterWrite, runSmoke } from '../../scripts/smoke/smoke-test';

const cfn = mockClient(CloudFormationClient);
const lambda = mockClient(LambdaClient);
const clients = () => ({
  cloudFormation: new CloudFormationClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
  }),
  lambda: new LambdaClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
  }),
});
const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value)) as never;
const user = (name: string, version: number) => ({
  id: 7,
  email: 'smoke@example.com',
  name,
  version,
  updatedAt: '2025-01-01T00:00:00.000000Z',
});
const outputs = [
  { OutputKey: 'WriterFunctionName', OutputValue: 'writer-fn' },
  { OutputKey: 'ReaderFunctionName', OutputValue: 'reader-fn' },
];

/** A deployed pair of functions backed by one row, as the real ones behave. */
function deployedFunctions() {
  let stored: ReturnType<typeof user> | null = null;
  lambda.on(InvokeCommand, { FunctionName: 'writer-fn' }).callsFake((input) => {
    const { name } = JSON.parse(new TextDecoder().decode(input.Payload));
    stored = user(name, (stored?.version ?? 0) + 1);
    return { StatusCode: 200, Payload: encode({ user: stored }) };
  });
  lambda
    .on(InvokeCommand, { FunctionName: 'reader-fn' })
    .callsFake(() => ({ StatusCode: 200, Payload: encode({ user: stored }) }));
}

beforeEach(() => {
  cfn.reset();
  lambda.reset();
});

describe('npm run smoke', () => {
  test('finds the functions in the stack outputs, writes, then reads the write back', async () => {
    cfn
      .on(DescribeStacksCommand, { StackName: 'LambdaRdsMysql-prod' })
      .resolves({ Stacks: [{ StackName: 'LambdaRdsMysql-prod', Outputs: outputs } as never] });
    deployedFunctions();
    let t = 0;
    const report = await runSmoke(clients(), {
      stage: 'prod',
      email: 'smoke@example.com',
      now: () => (t += 10),
    });
    expect(report).toMatchObject({
      stackName: 'LambdaRdsMysql-prod',
      writer: 'writer-fn',
      reader: 'reader-fn',
    });
    expect(report.steps.map((s) => s.step)).toEqual(['write #1', 'read #1', 'write #2', 'read #2']);
    expect(report.steps.every((s) => s.ms === 10)).toBe(true);
    const calls = lambda
      .commandCalls(InvokeCommand)
      .map((c) => [
        c.args[0].input.FunctionName,
        JSON.parse(new TextDecoder().decode(c.args[0].input.Payload as Uint8Array)),
      ]);
    expect(calls[0]).toEqual(['writer-fn', { email: 'smoke@example.com', name: 'Smoke Test 1' }]);
    expect(calls[1]).toEqual(['reader-fn', { email: 'smoke@example.com' }]);
  });

  test('says how to deploy when the stack does not exist', async () => {
    cfn.on(DescribeStacksCommand).rejects(
      Object.assign(new Error('Stack with id LambdaRdsMysql-sandbox does not exist'), {
        name: 'ValidationError',
      })
    );
    await expect(runSmoke(clients())).rejects.toThrow(
      'No stack LambdaRdsMysql-sandbox in eu-west-1. Deploy it first (npx cdk deploy -c stage=<stage>)'
    );
  });

  test('says how to get credentials when there are none', async () => {
    cfn.on(DescribeStacksCommand).rejects(
      Object.assign(new Error('Could not load credentials from any providers'), {
        name: 'CredentialsProviderError',
      })
    );
    await expect(runSmoke(clients())).rejects.toThrow(
      /^No AWS credentials found\. Configure them \(aws configure/
    );
  });

  test('expired credentials and missing permissions are told apart', async () => {
    cfn.on(DescribeStacksCommand).rejectsOnce(
      Object.assign(new Error('The security token included in the request is expired'), {
        name: 'ExpiredTokenException',
      })
    );
    await expect(runSmoke(clients())).rejects.toThrow('have expired');
    cfn.reset();
    cfn
      .on(DescribeStacksCommand)
      .rejectsOnce(
        Object.assign(
          new Error('User x is not authorized to perform: cloudformation:DescribeStacks'),
          { name: 'AccessDenied' }
        )
      );
    await expect(runSmoke(clients())).rejects.toThrow(
      'needs cloudformation:DescribeStacks and lambda:InvokeFunction'
    );
  });

  test('names the missing output', async () => {
    cfn.on(DescribeStacksCommand).resolves({ Stacks: [{ Outputs: [outputs[0]] } as never] });
    await expect(runSmoke(clients())).rejects.toThrow(
      'has no ReaderFunctionName output (outputs: WriterFunctionName)'
    );
  });

  test("reports a function's error with its type, message and where its logs are", async () => {
    cfn.on(DescribeStacksCommand).resolves({ Stacks: [{ Outputs: outputs } as never] });
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      FunctionError: 'Unhandled',
      Payload: encode({
        errorType: 'DatabaseUnreachableError',
        errorMessage: 'Cannot reach the database',
      }),
    });
    await expect(runSmoke(clients())).rejects.toThrow(
      'The writer (writer-fn) failed: DatabaseUnreachableError: Cannot reach the database. See its logs: aws logs tail /aws/lambda/writer-fn'
    );
  });

  test('fails when the reader does not return the write it just acknowledged', async () => {
    cfn.on(DescribeStacksCommand).resolves({ Stacks: [{ Outputs: outputs } as never] });
    lambda
      .on(InvokeCommand, { FunctionName: 'writer-fn' })
      .resolves({ Payload: encode({ user: user('Smoke Test 1', 2) }) });
    lambda
      .on(InvokeCommand, { FunctionName: 'reader-fn' })
      .resolves({ Payload: encode({ user: user('old name', 1) }) });
    await expect(runSmoke(clients())).rejects.toThrow(
      'Read-after-write failed: the reader returned name="old name", version=1 but the writer had just stored name="Smoke Test 1", version=2.'
    );
  });

  test('a missing row after the write is a read-after-write failure too', () => {
    expect(() => checkReadAfterWrite(user('a', 1), null)).toThrow(
      'found no user smoke@example.com'
    );
  });
});
