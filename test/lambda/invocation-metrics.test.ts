import { ChildProcess, fork } from 'node:child_process';
import * as path from 'node:path';
import {
  countingFailures,
  emfLine,
  emfSink,
  FAILURE_METRIC,
  METRIC,
  METRICS_NAMESPACE,
  START_DIMENSION,
} from '../../lambda/lib/metrics';
import {
  DatabaseAccessDeniedError,
  DatabaseUnreachableError,
  ValidationError,
} from '../../lambda/lib/errors';
import { PREPARATION_BUDGET_ENV } from '../../lambda/lib/init-preparation';
import { AppDatabase } from '../support/app-database';
import { HANG_MS } from '../support/poll';
import { SecretsEndpoint } from '../support/secrets-endpoint';
import { readState } from '../support/state';
import { externalServer } from '../support/prerequisites';

const RUNTIME = path.join(__dirname, '..', 'support', 'lambda-runtime.mjs');

/** The reader bundle in its own process, with its stdout (where EMF goes) captured. */
class CapturedEnvironment {
  private nextId = 0;
  readonly lines: string[] = [];
  private buffered = '';

  private constructor(private readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (this.buffered + chunk).split('\n');
      this.buffered = parts.pop()!;
      this.lines.push(...parts.filter((line) => line.trim()));
    });
  }

  static async start(env: Record<string, string>): Promise<CapturedEnvironment> {
    const child = fork(RUNTIME, [readState().bundles.reader.file], {
      execArgv: [], // a plain node, as Lambda starts it
      env: {
        PATH: process.env.PATH,
        AWS_EC2_METADATA_DISABLED: 'true',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    });
    await new Promise((resolve) => child.once('message', resolve));
    return new CapturedEnvironment(child);
  }

  /** Invokes the handler and returns the EMF documents it printed for that invocation. */
  async invoke(event: unknown): Promise<Record<string, unknown>[]> {
    const before = this.lines.length;
    const id = this.nextId++;
    const reply = await new Promise<{ error?: { message: string } }>((resolve) => {
      const onMessage = (message: { id?: number; error?: { message: string } }) => {
        if (message.id === id) {
          this.child.off('message', onMessage);
          resolve(message);
        }
      };
      this.child.on('message', onMessage);
      this.child.send({ id, event, remainingMs: 10_000 });
    });
    if (reply.error) {
      throw new Error(reply.error.message);
    }
    // The line is written synchronously before the handler returns, so it is in the pipe; wait
    // for it to be read, bounded.
    for (let i = 0; i < 200 && this.lines.length === before; i++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return this.lines.slice(before).map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  /** Invokes the handler, expecting it to reject; returns the error's name and the EMF documents. */
  async invokeFailing(event: unknown): Promise<Record<string, unknown>[]> {
    const before = this.lines.length;
    await expect(this.invoke(event)).rejects.toThrow();
    for (let i = 0; i < 200 && this.lines.length === before; i++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return this.lines.slice(before).map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  stop(): void {
    this.child.kill('SIGKILL');
  }
}

describe('per-invocation metrics (CloudWatch embedded metric format)', () => {
  let db: AppDatabase;
  let secrets: SecretsEndpoint;

  beforeAll(async () => {
    db = await AppDatabase.create('metrics');
    secrets = await SecretsEndpoint.start();
    secrets.set('AWSCURRENT', db.secret('reader'));
  });

  afterAll(async () => {
    await secrets?.stop();
    await db?.dispose();
  });

  const skipWithoutTls = db_hasNoTls() ? test.skip : test;

  skipWithoutTls(
    'each invocation reports connect and statement time, credential reads and retries, and whether it is the cold start; TLS resumes from the first invocation on',
    async () => {
      // GIVEN a deployed-like environment: secret, TLS, and the name Lambda sets
      const env = await CapturedEnvironment.start({
        ...secrets.env(),
        DB_TLS_CA_FILE: db.server.caFile!,
        AWS_LAMBDA_FUNCTION_NAME: 'reader-fn',
        // The preparation must succeed here, however busy the machine: no 1 s budget.
        [PREPARATION_BUDGET_ENV]: String(HANG_MS),
      });
      try {
        // (the init phase already read the secret and ran the data path: prepareForFirstInvocation())
        expect(secrets.reads).toEqual(['AWSCURRENT']);

        // WHEN it serves three invocations
        const documents = [];
        for (let i = 0; i < 3; i++) {
          documents.push(await env.invoke({ email: 'nobody@example.com' }));
        }

        // THEN each printed exactly one EMF document with every metric (the init preparation's
        // on the first only), per function and per function and start
        expect(documents.every((d) => d.length === 1)).toBe(true);
        for (const [i, [doc]] of documents.entries()) {
          const names = Object.values(METRIC).filter(
            (name) => i === 0 || name !== METRIC.initPreparation
          );
          expect(doc).toMatchObject({
            _aws: {
              Timestamp: expect.any(Number),
              CloudWatchMetrics: [
                {
                  Namespace: METRICS_NAMESPACE,
                  Dimensions: [['FunctionName'], ['FunctionName', START_DIMENSION]],
                  Metrics: expect.arrayContaining(
                    names.map((Name) => expect.objectContaining({ Name }))
                  ),
                },
              ],
            },
            FunctionName: 'reader-fn',
            [START_DIMENSION]: i === 0 ? 'cold' : 'warm',
            [METRIC.connectTime]: expect.any(Number),
            [METRIC.statementTime]: expect.any(Number),
            [METRIC.connectionRetries]: 0,
          });
          expect(doc[METRIC.connectTime]).toBeGreaterThan(0);
        }
        // the secret was read once per environment, at init, and no invocation read it again
        expect(documents.map(([d]) => d[METRIC.credentialFetches])).toEqual([0, 0, 0]);
        expect(secrets.reads).toEqual(['AWSCURRENT']);
        // the first invocation is the cold start, and the init's preparation succeeded
        expect(documents.map(([d]) => d[METRIC.coldStart])).toEqual([1, 0, 0]);
        expect(documents.map(([d]) => d[METRIC.initPreparation])).toEqual([
          1,
          undefined,
          undefined,
        ]);
        // the init's preparation left a TLS session: even the first invocation resumes it
        expect(documents.map(([d]) => d[METRIC.tlsResumed])).toEqual([1, 1, 1]);
      } finally {
        env.stop();
      }
    }
  );

  skipWithoutTls('a failed init preparation is reported on the first invocation', async () => {
    // GIVEN an environment whose init could not read the secret (so prepared nothing)
    secrets.stages.delete('AWSCURRENT');
    const env = await CapturedEnvironment.start({
      ...secrets.env(),
      DB_TLS_CA_FILE: db.server.caFile!,
      AWS_LAMBDA_FUNCTION_NAME: 'reader-fn',
    });
    try {
      secrets.set('AWSCURRENT', db.secret('reader'));
      // WHEN it serves two invocations THEN the first says so, and does the full handshake
      const [[first], [second]] = [
        await env.invoke({ email: 'nobody@example.com' }),
        await env.invoke({ email: 'nobody@example.com' }),
      ];
      expect(first).toMatchObject({
        [START_DIMENSION]: 'cold',
        [METRIC.coldStart]: 1,
        [METRIC.initPreparation]: 0,
        [METRIC.tlsResumed]: 0,
      });
      expect(second).toMatchObject({ [START_DIMENSION]: 'warm', [METRIC.coldStart]: 0 });
      expect(second).not.toHaveProperty(METRIC.initPreparation);
    } finally {
      env.stop();
    }
  });

  skipWithoutTls(
    "a failed invocation is counted by class: a rejected event and a refused login apart from the stack's own failures",
    async () => {
      const start = () =>
        CapturedEnvironment.start({
          ...secrets.env(),
          DB_TLS_CA_FILE: db.server.caFile!,
          AWS_LAMBDA_FUNCTION_NAME: 'reader-fn',
        });
      const counted = (docs: Record<string, unknown>[]) =>
        docs.flatMap((d) => Object.values(FAILURE_METRIC).filter((name) => d[name] === 1));
      const env = await start();
      try {
        // A bad event: counted as rejected, nothing else (no connection was opened).
        expect(counted(await env.invokeFailing({ emial: 'typo@example.com' }))).toEqual([
          FAILURE_METRIC.rejectedEvents,
        ]);
      } finally {
        env.stop();
      }
      // A secret whose every version the database refuses: a refused login.
      secrets.set('AWSCURRENT', db.secret('reader', { password: 'not-the-password' }));
      const denied = await start();
      try {
        expect(counted(await denied.invokeFailing({ email: 'nobody@example.com' }))).toEqual([
          FAILURE_METRIC.refusedLogins,
        ]);
      } finally {
        secrets.set('AWSCURRENT', db.secret('reader'));
        denied.stop();
      }
    }
  );

  test('each class of failure adds to its own count, and success to none', async () => {
    const written: string[] = [];
    const fail = (error: Error) =>
      countingFailures(
        async () => {
          throw error;
        },
        { AWS_LAMBDA_FUNCTION_NAME: 'f' },
        (line) => written.push(line)
      )();
    await expect(fail(new ValidationError('emial', 'is not allowed'))).rejects.toThrow();
    await expect(fail(new DatabaseAccessDeniedError('denied'))).rejects.toThrow();
    await expect(fail(new DatabaseUnreachableError('unreachable'))).rejects.toThrow();
    await countingFailures(
      async () => 1,
      { AWS_LAMBDA_FUNCTION_NAME: 'f' },
      (line) => written.push(line)
    )();
    expect(written.map((line) => Object.keys(JSON.parse(line)).pop())).toEqual([
      FAILURE_METRIC.rejectedEvents,
      FAILURE_METRIC.refusedLogins,
      FAILURE_METRIC.failures,
    ]);
  });

  test('without TLS or a connection, the metrics that do not apply are left out', () => {
    const doc = JSON.parse(
      emfLine({ credentialFetches: 1, connectionRetries: 2 }, 'writer-fn', 1_700_000_000_000)
    );
    expect(doc._aws.CloudWatchMetrics[0].Metrics.map((m: { Name: string }) => m.Name)).toEqual([
      METRIC.credentialFetches,
      METRIC.connectionRetries,
    ]);
    expect(doc).not.toHaveProperty(METRIC.tlsResumed);
    expect(doc).not.toHaveProperty(METRIC.connectTime);
    expect(doc).toMatchObject({ CredentialFetches: 1, ConnectionRetries: 2 });
  });

  test('outside Lambda (no AWS_LAMBDA_FUNCTION_NAME) nothing is written', () => {
    const written: string[] = [];
    expect(emfSink({}, (line) => written.push(line))).toBeUndefined();
    emfSink({ AWS_LAMBDA_FUNCTION_NAME: 'f' }, (line) => written.push(line))!({
      credentialFetches: 0,
      connectionRetries: 0,
    });
    expect(written).toHaveLength(1);
    expect(written[0].endsWith('\n')).toBe(true);
  });
});

function db_hasNoTls(): boolean {
  const given = externalServer();
  return given !== undefined && !given.caFile;
}
