import {
  CloudFormationClient,
  DescribeStacksCommand,
  Output,
} from '@aws-sdk/client-cloudformation';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { User as LambdaUser } from '../../lambda/lib/users-repository';

/** A failure the smoke test explains; `npm run smoke` prints its message and exits 1. */
export class SmokeError extends Error {
  readonly name = 'SmokeError';
}

export interface SmokeClients {
  readonly cloudFormation: CloudFormationClient;
  readonly lambda: LambdaClient;
}

export interface SmokeOptions {
  /** Stage of the deployed stack (`LambdaRdsMysql-<stage>`). @default 'sandbox' */
  readonly stage?: string;
  /** Write-then-read rounds; the first meets cold environments. @default 2 */
  readonly rounds?: number;
  /** @default - smoke+<time>@example.com */
  readonly email?: string;
  /** @default Date.now */
  readonly now?: () => number;
}

export interface SmokeStep {
  readonly step: string;
  readonly ms: number;
}

export interface SmokeReport {
  readonly stackName: string;
  readonly writer: string;
  readonly reader: string;
  readonly email: string;
  readonly steps: SmokeStep[];
}

/** What the smoke test compares of a user the functions return. */
type User = Pick<LambdaUser, 'id' | 'email' | 'name' | 'version'>;

export function stackNameFor(stage: string): string {
  return `LambdaRdsMysql-${stage}`;
}

/** Turns the SDK's failures at the AWS boundary into messages that say what to do. */
export function explainAwsError(
  error: unknown,
  stackName: string,
  region: string | undefined
): Error {
  const e = error as Error & { Code?: string };
  const name = e?.name ?? '';
  const message = e?.message ?? String(error);
  const where = region ? ` in ${region}` : '';
  if (
    name === 'CredentialsProviderError' ||
    (/could not load credentials|credential/i.test(message) && !/expired/i.test(message))
  ) {
    return new SmokeError(
      'No AWS credentials found. Configure them (aws configure, aws sso login, AWS_PROFILE, or ' +
        'AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) for the account the stack is deployed to, then run `npm run smoke` again.'
    );
  }
  if (/region is missing/i.test(message)) {
    return new SmokeError(
      'No AWS region set. Pass --region eu-west-1, or set AWS_REGION (or a region in your profile).'
    );
  }
  if (/ExpiredToken|expired/i.test(name + message)) {
    return new SmokeError(
      `Your AWS credentials have expired (${message}). Refresh them (e.g. aws sso login) and run again.`
    );
  }
  if (name === 'ValidationError' && /does not exist/i.test(message)) {
    return new SmokeError(
      `No stack ${stackName}${where}. Deploy it first (npx cdk deploy -c stage=<stage>), or pass the stage ` +
        'and region it was deployed with: npm run smoke -- --stage <stage> --region <region>.'
    );
  }
  if (
    name === 'AccessDeniedException' ||
    name === 'AccessDenied' ||
    /not authorized/i.test(message)
  ) {
    return new SmokeError(
      `Access denied${where}: ${message}. The smoke test needs cloudformation:DescribeStacks and lambda:InvokeFunction.`
    );
  }
  return new SmokeError(`AWS call failed${where}: ${name}: ${message}`);
}

function output(outputs: readonly Output[], key: string, stackName: string): string {
  const value = outputs.find((o) => o.OutputKey === key)?.OutputValue;
  if (!value) {
    const keys = outputs.map((o) => o.OutputKey).join(', ') || 'none';
    throw new SmokeError(
      `Stack ${stackName} has no ${key} output (outputs: ${keys}). Is it this project's stack, and fully deployed?`
    );
  }
  return value;
}

async function invoke<T>(
  lambda: LambdaClient,
  functionName: string,
  event: unknown,
  what: string
): Promise<T> {
  const response = await lambda.send(
    new InvokeCommand({
      FunctionName: functionName,
      Payload: new TextEncoder().encode(JSON.stringify(event)),
    })
  );
  const text = response.Payload ? new TextDecoder().decode(response.Payload) : '';
  let payload: unknown;
  try {
    payload = text ? JSON.parse(text) : undefined;
  } catch {
    throw new SmokeError(
      `${what} (${functionName}) returned a payload that is not JSON: ${text.slice(0, 200)}`
    );
  }
  if (response.FunctionError) {
    const { errorType, errorMessage } = (payload ?? {}) as {
      errorType?: string;
      errorMessage?: string;
    };
    throw new SmokeError(
      `${what} (${functionName}) failed: ${errorType ?? response.FunctionError}: ${errorMessage ?? text}. ` +
        `See its logs: aws logs tail /aws/lambda/${functionName} --since 10m`
    );
  }
  return payload as T;
}

/**
 * Reads the stack outputs, then writes a user with the writer and reads it back with the reader,
 * `rounds` times: each read must return exactly what the write before it acknowledged.
 */
export async function runSmoke(
  clients: SmokeClients,
  options: SmokeOptions = {}
): Promise<SmokeReport> {
  const now = options.now ?? Date.now;
  const stackName = stackNameFor(options.stage ?? 'sandbox');
  let region: string | undefined;
  try {
    region = await clients.cloudFormation.config.region();
  } catch {
    region = undefined;
  }
  let outputs: Output[];
  try {
    const described = await clients.cloudFormation.send(
      new DescribeStacksCommand({ StackName: stackName })
    );
    outputs = described.Stacks?.[0]?.Outputs ?? [];
  } catch (error) {
    throw explainAwsError(error, stackName, region);
  }
  const writer = output(outputs, 'WriterFunctionName', stackName);
  const reader = output(outputs, 'ReaderFunctionName', stackName);
  const email = options.email ?? `smoke+${now()}@example.com`;
  const steps: SmokeStep[] = [];
  const timed = async <T>(step: string, fn: () => Promise<T>): Promise<T> => {
    const started = now();
    try {
      return await fn();
    } catch (error) {
      throw error instanceof SmokeError ? error : explainAwsError(error, stackName, region);
    } finally {
      steps.push({ step, ms: now() - started });
    }
  };

  const rounds = options.rounds ?? 2;
  for (let round = 1; round <= rounds; round++) {
    const name = `Smoke Test ${round}`;
    const written = await timed(`write #${round}`, () =>
      invoke<{ user?: User }>(clients.lambda, writer, { email, name }, 'The writer')
    );
    if (!written?.user || written.user.name !== name) {
      throw new SmokeError(
        `The writer returned ${JSON.stringify(written)}; expected { user } with name "${name}".`
      );
    }
    const read = await timed(`read #${round}`, () =>
      invoke<{ user?: User | null }>(clients.lambda, reader, { email }, 'The reader')
    );
    checkReadAfterWrite(written.user, read?.user ?? null);
  }
  return { stackName, writer, reader, email, steps };
}

/** The reader must return the row the writer just acknowledged: same id, name and version. */
export function checkReadAfterWrite(written: User, read: User | null): void {
  if (!read) {
    throw new SmokeError(
      `Read-after-write failed: the reader found no user ${written.email} right after the writer stored it.`
    );
  }
  const differs = (['id', 'name', 'version'] as const).filter((k) => read[k] !== written[k]);
  if (differs.length > 0) {
    throw new SmokeError(
      `Read-after-write failed: the reader returned ${differs.map((k) => `${k}=${JSON.stringify(read[k])}`).join(', ')} ` +
        `but the writer had just stored ${differs.map((k) => `${k}=${JSON.stringify(written[k])}`).join(', ')}.`
    );
  }
}
