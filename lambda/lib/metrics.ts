/**
 * Per-invocation data-path metrics as one CloudWatch embedded-metric-format (EMF) line, so a
 * user can compare their functions' connect and statement times with the README's figures.
 *
 * Hand-written rather than Powertools Metrics, by measurement (2026-11-27, Node 24, esbuild
 * minified, a handler publishing these five metrics, median of 21 fresh processes at a full CPU):
 * @aws-lambda-powertools/metrics 2.36.0 is 16 KiB of bundle, 5–11 ms of module init and 2 ms
 * for the first publish; this file is 1.5 KiB, 0.6 ms and 0.35 ms. At 256 MB (1/7 of a CPU)
 * that is ~50 ms off every cold start for one JSON.stringify per invocation. Much of
 * Powertools' cost is constructing `process.stdout`, which writeStdout() below avoids.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 */

import { writeSync } from 'node:fs';

/** CloudWatch namespace of the metrics; the dashboard reads the same one. */
export const METRICS_NAMESPACE = 'LambdaRds/DataPath';

/** Metric names, shared with the dashboard (lib/invocation-metrics-widgets.ts). */
export const METRIC = {
  connectTime: 'ConnectTime',
  tlsResumed: 'TlsResumed',
  statementTime: 'StatementTime',
  credentialFetches: 'CredentialFetches',
  connectionRetries: 'ConnectionRetries',
  /** 1 on an environment's first invocation that opened a connection, else 0. */
  coldStart: 'ColdStart',
  /** On those first invocations only: 1 when the init phase's preparation succeeded, else 0. */
  initPreparation: 'InitPreparation',
} as const;

/**
 * Property (and second dimension) that tells cold from warm invocations apart on the dashboard:
 * `cold` on an environment's first invocation, `warm` after it.
 */
export const START_DIMENSION = 'Start';

/** Counts of failed invocations by class, each in a line of its own (failureLine()). */
export const FAILURE_METRIC = {
  failures: 'Failures',
  refusedLogins: 'RefusedLogins',
  rejectedEvents: 'RejectedEvents',
} as const;

/**
 * Failures an invoker causes by sending a bad event: counted apart, never alarmed on (any
 * invoker could page on-call with them).
 */
const REJECTED_INPUT: readonly string[] = ['ValidationError'];
/**
 * The database refused every password we know, or Secrets Manager refused to give one: a broken
 * rotation, a secret changed by hand, or someone else's hand on the credentials.
 */
const REFUSED_LOGIN: readonly string[] = [
  'DatabaseAccessDeniedError',
  'CredentialsUnavailableError',
];

/** Which count a failed invocation adds to, by its error's `name` (lambda/lib/errors.ts). */
export function failureMetric(
  error: unknown
): (typeof FAILURE_METRIC)[keyof typeof FAILURE_METRIC] {
  const name = (error as { name?: unknown } | null)?.name;
  if (typeof name === 'string' && REJECTED_INPUT.includes(name))
    return FAILURE_METRIC.rejectedEvents;
  if (typeof name === 'string' && REFUSED_LOGIN.includes(name)) return FAILURE_METRIC.refusedLogins;
  return FAILURE_METRIC.failures;
}

/** The EMF JSON that counts one failed invocation of `functionName` by its class (one line). */
export function failureLine(error: unknown, functionName: string, timestamp = Date.now()): string {
  const metric = failureMetric(error);
  return JSON.stringify({
    _aws: {
      Timestamp: timestamp,
      CloudWatchMetrics: [
        {
          Namespace: METRICS_NAMESPACE,
          Dimensions: [['FunctionName']],
          Metrics: [{ Name: metric, Unit: 'Count' }],
        },
      ],
    },
    FunctionName: functionName,
    [metric]: 1,
  });
}

/** What one invocation's data path did. */
export interface InvocationMetrics {
  /** TCP + TLS + authentication of the connection that served the invocation, ms; absent when none opened. */
  connectMs?: number;
  /** Whether that connection resumed a TLS session (no certificate chain sent or verified); absent without TLS. */
  tlsResumed?: boolean;
  /** The unit of work on the open connection (its statements), ms; absent when it never ran. */
  statementMs?: number;
  /** Secrets Manager reads during the invocation (0 while the cached credentials are fresh). */
  credentialFetches: number;
  /** Connection attempts retried after "too many connections". */
  connectionRetries: number;
  /** Whether this is the environment's first invocation; absent when not known (not in Lambda). */
  coldStart?: boolean;
  /** On the first invocation: whether the init phase's preparation succeeded (init-preparation.ts). */
  initPreparationSucceeded?: boolean;
}

/** The EMF JSON for one invocation of `functionName` (one line, no newline). */
export function emfLine(
  metrics: InvocationMetrics,
  functionName: string,
  timestamp = Date.now()
): string {
  const values: Record<string, number> = {};
  const definitions: { Name: string; Unit: string }[] = [];
  const add = (name: string, value: number | undefined, unit: string) => {
    if (value !== undefined && Number.isFinite(value)) {
      values[name] = Math.round(value * 100) / 100;
      definitions.push({ Name: name, Unit: unit });
    }
  };
  add(METRIC.connectTime, metrics.connectMs, 'Milliseconds');
  add(
    METRIC.tlsResumed,
    metrics.tlsResumed === undefined ? undefined : Number(metrics.tlsResumed),
    'Count'
  );
  add(METRIC.statementTime, metrics.statementMs, 'Milliseconds');
  add(METRIC.credentialFetches, metrics.credentialFetches, 'Count');
  add(METRIC.connectionRetries, metrics.connectionRetries, 'Count');
  const flag = (value: boolean | undefined) => (value === undefined ? undefined : Number(value));
  add(METRIC.coldStart, flag(metrics.coldStart), 'Count');
  add(METRIC.initPreparation, flag(metrics.initPreparationSucceeded), 'Count');
  // The second dimension set costs one more custom metric per metric and function, for cold and
  // warm graphs apart; the first keeps the per-function totals the alarms and graphs use.
  const start =
    metrics.coldStart === undefined
      ? {}
      : { [START_DIMENSION]: metrics.coldStart ? 'cold' : 'warm' };
  const dimensions =
    metrics.coldStart === undefined
      ? [['FunctionName']]
      : [['FunctionName'], ['FunctionName', START_DIMENSION]];
  return JSON.stringify({
    _aws: {
      Timestamp: timestamp,
      CloudWatchMetrics: [
        { Namespace: METRICS_NAMESPACE, Dimensions: dimensions, Metrics: definitions },
      ],
    },
    FunctionName: functionName,
    ...start,
    ...values,
  });
}

/**
 * One synchronous write(2) to fd 1. Constructing `process.stdout` (a stream over a pipe) costs
 * about 5 ms of CPU on first use, more than the rest of the metrics code; a pipe that is full
 * (EAGAIN) falls back to the stream, which queues the line.
 */
function writeStdout(line: string): void {
  try {
    writeSync(1, line);
  } catch {
    process.stdout.write(line);
  }
}

/**
 * A sink that writes each invocation's EMF line to stdout, or undefined outside Lambda (no
 * AWS_LAMBDA_FUNCTION_NAME), so local runs and tests print nothing unless they ask.
 *
 * process.stdout.write, not console.log: with the JSON log format the functions use, Lambda
 * wraps console output in its own JSON record and CloudWatch would not see the EMF document.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Libraries.html
 */
export function emfSink(
  env: NodeJS.ProcessEnv = process.env,
  write: (line: string) => void = writeStdout
): ((metrics: InvocationMetrics) => void) | undefined {
  const functionName = env.AWS_LAMBDA_FUNCTION_NAME;
  if (!functionName) {
    return undefined;
  }
  return (metrics) => write(`${emfLine(metrics, functionName)}\n`);
}

/**
 * Wraps a handler so each failed invocation writes one failureLine() before it rejects (outside
 * Lambda, or with no AWS_LAMBDA_FUNCTION_NAME, it only rejects): the alarms page on failures that
 * are the stack's own and on refused logins, not on rejected events (lib/function-alarms.ts).
 */
export function countingFailures<A extends unknown[], R>(
  handler: (...args: A) => Promise<R>,
  env: NodeJS.ProcessEnv = process.env,
  write: (line: string) => void = writeStdout
): (...args: A) => Promise<R> {
  const functionName = env.AWS_LAMBDA_FUNCTION_NAME;
  if (!functionName) return handler;
  return async (...args: A) => {
    try {
      return await handler(...args);
    } catch (error) {
      write(`${failureLine(error, functionName)}\n`);
      throw error;
    }
  };
}
