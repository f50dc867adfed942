import { APP_CONTEXT_KEYS, AppContextError, readAppContext } from '../../lib/app-context';
import { CliSpec, ParsedOptions, UsageError } from '../lib/cli';

export const PREFLIGHT_CLI: CliSpec = {
  command: 'npm run preflight',
  summary:
    'Before `cdk deploy`, checks with your AWS credentials that the account can take the stack ' +
    'those switches deploy: Lambda concurrency, the RDS engine version and instance classes, ' +
    'and the CDK bootstrap. Exit 0: the deploy can succeed; 1: it cannot (each FAIL says what to do).',
  options: [
    {
      name: 'context',
      short: 'c',
      value: 'KEY=VALUE',
      repeatable: true,
      help: 'The same context as `cdk deploy -c`: stage, proxy, readReplicas, alarmEmail.',
    },
    { name: 'stage', value: 'NAME', help: 'Short for -c stage=NAME (default sandbox).' },
    {
      name: 'region',
      value: 'REGION',
      help: "AWS region (default: AWS_REGION or your profile's).",
    },
  ],
  notes: [
    'Context keys:',
    ...Object.entries(APP_CONTEXT_KEYS).map(([key, help]) => `  ${key}: ${help}`),
    '',
    'Example: npm run preflight -- -c stage=sandbox -c proxy=true --region eu-west-1',
  ],
};

export interface PreflightArgs {
  /** The app's context, exactly as `cdk deploy` would get it from the same switches. */
  readonly context: Record<string, string>;
  /** The switches to repeat to `cdk deploy`: `-c stage=sandbox -c proxy=true`. */
  readonly switches: string;
  readonly region?: string;
}

/**
 * The parsed options as the app's context, checked by the app's own readAppContext() so a
 * misspelled key or bad value is refused here exactly as `cdk deploy` would refuse it.
 */
export function preflightArgs(options: ParsedOptions): PreflightArgs {
  const context: Record<string, string> = {};
  for (const pair of (options.context as string[] | undefined) ?? []) {
    const [key, value] = pair.split(/=(.*)/s, 2);
    if (!key || value === undefined) {
      throw new UsageError(`-c needs KEY=VALUE, got "${pair}" (e.g. -c proxy=true).`);
    }
    context[key] = value;
  }
  if (typeof options.stage === 'string') context.stage = options.stage;
  context.stage ??= 'sandbox';
  try {
    readAppContext(context);
  } catch (error) {
    if (error instanceof AppContextError) throw new UsageError(error.message);
    throw error;
  }
  const switches = Object.entries(context)
    .map(([key, value]) => `-c ${key}=${value}`)
    .join(' ');
  return {
    context,
    switches,
    region: typeof options.region === 'string' ? options.region : undefined,
  };
}
