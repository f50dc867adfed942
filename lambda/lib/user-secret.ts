import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  GetSecretValueCommandInput,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { DbCredentials, TlsSettings } from './config';
import { StaticCredentials, parseRdsSecret } from './credentials';
import { Database, InvocationContext } from './database';
import { DatabaseAccessDeniedError } from './errors';

/** What the schema migration needs to know about a function user's secret. */
export interface UserSecretState {
  /** AWSCURRENT: the credentials the function uses. */
  readonly current: DbCredentials;
  /** The version labelled AWSPENDING but not AWSCURRENT: a rotation has started and not finished. */
  readonly pendingVersionId?: string;
  /** That version's credentials, when it holds any (a failed rotation can leave it empty). */
  readonly pending?: DbCredentials;
}

/**
 * The version a rotation in progress is working on, if any. Secrets Manager itself treats an
 * AWSPENDING label on a version other than AWSCURRENT's as "a previous rotation is still in
 * progress"; after a successful rotation AWSPENDING is gone or sits on the AWSCURRENT version.
 * https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_RotateSecret.html
 */
export function pendingRotationVersion(
  versionIdsToStages: Record<string, string[]> | undefined
): string | undefined {
  return Object.entries(versionIdsToStages ?? {}).find(
    ([, stages]) => stages.includes('AWSPENDING') && !stages.includes('AWSCURRENT')
  )?.[0];
}

/** Reads AWSCURRENT and, while a rotation is in progress, its pending version (DescribeSecret + GetSecretValue). */
export async function readUserSecretState(
  client: SecretsManagerClient,
  secretArn: string
): Promise<UserSecretState> {
  const described = await client.send(new DescribeSecretCommand({ SecretId: secretArn }));
  const pendingVersionId = pendingRotationVersion(described.VersionIdsToStages);
  const current = await readVersion(client, { SecretId: secretArn, VersionStage: 'AWSCURRENT' });
  const pending = pendingVersionId
    ? await readVersion(client, { SecretId: secretArn, VersionId: pendingVersionId }).catch(
        () => undefined // an empty or malformed pending version cannot log in anyway
      )
    : undefined;
  return { current, pendingVersionId, pending };
}

async function readVersion(
  client: SecretsManagerClient,
  input: GetSecretValueCommandInput
): Promise<DbCredentials> {
  const { SecretString } = await client.send(new GetSecretValueCommand(input));
  return parseRdsSecret(input.SecretId!, SecretString);
}

/**
 * Whether the database accepts these credentials, tried the way the functions connect (TLS
 * verified, to the secret's host and schema). Only "access denied" means no: anything else
 * (unreachable, TLS) is thrown, so a network fault is never mistaken for a wrong password.
 */
export async function canLogIn(
  credentials: DbCredentials,
  tls: TlsSettings | undefined,
  context?: InvocationContext
): Promise<boolean> {
  const database = new Database({
    credentials: new StaticCredentials(credentials),
    tls,
    connectTimeoutMs: 5_000,
    defaultBudgetMs: 15_000,
  });
  try {
    // Bounded by the invocation's remaining time when there is one (the rotation's steps).
    await database.run(async () => undefined, context);
    return true;
  } catch (error) {
    if (error instanceof DatabaseAccessDeniedError) return false;
    throw error;
  }
}
