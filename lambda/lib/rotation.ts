import {
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { DbCredentials } from './config';
import { parseSecretObject, rdsCredentials } from './credentials';

/**
 * Single-user rotation of a secret in the RDS JSON format: the four steps Secrets Manager calls
 * a rotation function with, as its documentation and its rotation-function template describe them
 * (https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_lambda-functions.html,
 * https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_turn-on-for-other.html).
 * Each step may be called again after a failure, so each first checks whether its work is done.
 *
 * The database side goes through `RotationDatabase`: TLS always, verified against the RDS CA the
 * stack sets, never a plaintext retry (whatever the secret's `ssl` key says).
 */

/** What Secrets Manager sends: https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_lambda-functions.html */
export interface RotationEvent {
  readonly SecretId: string;
  readonly ClientRequestToken: string;
  readonly Step: string;
  readonly RotationToken?: string;
}

/** The database operations of a rotation, each on a connection of its own, closed after. */
export interface RotationDatabase {
  /**
   * Whether the database accepts these credentials. Only "access denied" is false: an unreachable
   * server or a TLS failure throws, so it is never taken for a wrong password.
   */
  canLogIn(credentials: DbCredentials): Promise<boolean>;
  /** Logs in as `as` and sets that account's own password to `password`. */
  changeOwnPassword(as: DbCredentials, password: string): Promise<void>;
}

export interface RotationDependencies {
  readonly secrets: SecretsManagerClient;
  readonly database: RotationDatabase;
  /** Characters no new password contains: the secret's own (lambda/lib/password-policy.ts). */
  readonly excludeCharacters: string;
  readonly passwordLength: number;
  /** @default console.log */
  readonly log?: (message: string) => void;
}

/** What every step works on: the secret, the version being rotated to, and the dependencies. */
interface StepContext {
  readonly secretId: string;
  readonly token: string;
  readonly deps: RotationDependencies;
  readonly log: (message: string) => void;
}

/** A step that cannot go on; Secrets Manager marks the rotation failed and retries it later. */
export class RotationError extends Error {
  override readonly name = 'RotationError';
}

export async function rotateSecret(
  event: RotationEvent,
  deps: RotationDependencies
): Promise<void> {
  const { SecretId: secretId, ClientRequestToken: token, Step: step } = event;
  const log = deps.log ?? ((message: string) => console.log(message));
  const described = await deps.secrets.send(new DescribeSecretCommand({ SecretId: secretId }));
  if (described.RotationEnabled === false) {
    throw new RotationError(`Secret ${secretId} is not enabled for rotation.`);
  }
  const stages = described.VersionIdsToStages ?? {};
  if (!stages[token]) {
    throw new RotationError(
      `Secret ${secretId} has no version ${token} to rotate to: start the rotation again ` +
        `(aws secretsmanager rotate-secret --secret-id ${secretId}).`
    );
  }
  if (stages[token].includes('AWSCURRENT')) {
    log(`${step}: version ${token} of ${secretId} is already AWSCURRENT; nothing to do.`);
    return;
  }
  if (!stages[token].includes('AWSPENDING')) {
    throw new RotationError(
      `Version ${token} of ${secretId} is not labelled AWSPENDING, so it is not being rotated to.`
    );
  }
  const context: StepContext = { secretId, token, deps, log };
  const steps: Record<string, () => Promise<void>> = {
    createSecret: () => createSecret(context),
    setSecret: () => setSecret(context),
    testSecret: () => testSecret(context),
    finishSecret: () => finishSecret(context, stages),
  };
  const run = steps[step];
  if (!run) {
    throw new RotationError(`Unknown rotation step "${step}" for ${secretId}.`);
  }
  await run();
}

/** Puts a new password, with every other field of AWSCURRENT, as AWSPENDING under the token. */
async function createSecret({ secretId, token, deps, log }: StepContext): Promise<void> {
  const current = await readValue(deps.secrets, secretId, { VersionStage: 'AWSCURRENT' });
  rdsCredentials(secretId, current); // refuse a malformed secret before rotating it
  if (
    await readOptionalValue(deps.secrets, secretId, {
      VersionId: token,
      VersionStage: 'AWSPENDING',
    })
  ) {
    log(`createSecret: version ${token} of ${secretId} already holds a password.`);
    return;
  }
  const { RandomPassword: password } = await deps.secrets.send(
    new GetRandomPasswordCommand({
      PasswordLength: deps.passwordLength,
      ExcludeCharacters: deps.excludeCharacters,
    })
  );
  if (!password) {
    throw new RotationError('GetRandomPassword returned no password.');
  }
  await deps.secrets.send(
    new PutSecretValueCommand({
      SecretId: secretId,
      ClientRequestToken: token,
      SecretString: JSON.stringify({ ...current, password }),
      VersionStages: ['AWSPENDING'],
    })
  );
  log(`createSecret: put a new password for ${secretId} as version ${token} (AWSPENDING).`);
}

/** Sets the database user's password to AWSPENDING's, logged in with AWSCURRENT (or AWSPREVIOUS). */
async function setSecret({ secretId, token, deps, log }: StepContext): Promise<void> {
  const pending = await pendingCredentials(deps.secrets, secretId, token);
  if (await deps.database.canLogIn(pending)) {
    // An earlier attempt set it (its answer may have been lost): nothing left to do.
    log(`setSecret: the database already accepts version ${token} of ${secretId}.`);
    return;
  }
  const current = await credentials(deps.secrets, secretId, { VersionStage: 'AWSCURRENT' });
  if (!sameAccount(current, pending)) {
    throw new RotationError(
      `Version ${token} of ${secretId} names ${describe(pending)}, AWSCURRENT ${describe(current)}: ` +
        'a single-user rotation changes one account on one database. Cancel this rotation ' +
        `(aws secretsmanager cancel-rotate-secret --secret-id ${secretId}) and fix the secret.`
    );
  }
  const previous = await optionalCredentials(deps.secrets, secretId, {
    VersionStage: 'AWSPREVIOUS',
  });
  for (const [stage, candidate] of [
    ['AWSCURRENT', current],
    ['AWSPREVIOUS', previous],
  ] as const) {
    if (candidate && sameAccount(candidate, pending) && (await deps.database.canLogIn(candidate))) {
      await deps.database.changeOwnPassword(candidate, pending.password);
      log(
        `setSecret: set the password of "${pending.user}" to version ${token}, logged in with ${stage}.`
      );
      return;
    }
  }
  throw new RotationError(
    `The database at ${pending.host}:${pending.port} denied "${pending.user}" with AWSCURRENT and ` +
      `AWSPREVIOUS of ${secretId}, so its password cannot be changed. Set it to AWSCURRENT's ` +
      'password (for the admin: aws rds modify-db-instance --master-user-password), then rotate ' +
      "again. For the writer or reader: remove this rotation's AWSPENDING label (aws " +
      `secretsmanager update-secret-version-stage --secret-id ${secretId} --version-stage ` +
      `AWSPENDING --remove-from-version-id ${token}) and run the schema migration, which ` +
      'restores the user (docs/rotation.md#running-the-migration-by-hand).'
  );
}

/** Logs in with AWSPENDING: the password works before it becomes AWSCURRENT. */
async function testSecret({ secretId, token, deps, log }: StepContext): Promise<void> {
  const pending = await pendingCredentials(deps.secrets, secretId, token);
  if (!(await deps.database.canLogIn(pending))) {
    throw new RotationError(
      `The database denied "${pending.user}" with version ${token} of ${secretId} after setSecret ` +
        'set it: another client may have changed the password since. Rotate again.'
    );
  }
  log(`testSecret: "${pending.user}" logs in with version ${token} of ${secretId}.`);
}

/** Moves AWSCURRENT to the token's version; Secrets Manager labels the old one AWSPREVIOUS. */
async function finishSecret(
  { secretId, token, deps, log }: StepContext,
  stages: Record<string, string[]>
): Promise<void> {
  const currentVersion = Object.entries(stages).find(([, labels]) =>
    labels.includes('AWSCURRENT')
  )?.[0];
  await deps.secrets.send(
    new UpdateSecretVersionStageCommand({
      SecretId: secretId,
      VersionStage: 'AWSCURRENT',
      MoveToVersionId: token,
      RemoveFromVersionId: currentVersion,
    })
  );
  log(`finishSecret: version ${token} of ${secretId} is now AWSCURRENT (was ${currentVersion}).`);
}

type VersionSelector = { VersionId?: string; VersionStage: string };

/** A version's JSON object. */
async function readValue(
  secrets: SecretsManagerClient,
  secretId: string,
  selector: VersionSelector
): Promise<Record<string, unknown>> {
  const { SecretString } = await secrets.send(
    new GetSecretValueCommand({ SecretId: secretId, ...selector })
  );
  return parseSecretObject(`${secretId} (${selector.VersionStage})`, SecretString);
}

/** A version's JSON object, or undefined when it has none (ResourceNotFoundException). */
async function readOptionalValue(
  secrets: SecretsManagerClient,
  secretId: string,
  selector: VersionSelector
): Promise<Record<string, unknown> | undefined> {
  try {
    return await readValue(secrets, secretId, selector);
  } catch (error) {
    if ((error as Error).name === 'ResourceNotFoundException') return undefined;
    throw error;
  }
}

async function credentials(
  secrets: SecretsManagerClient,
  secretId: string,
  selector: VersionSelector
): Promise<DbCredentials> {
  return rdsCredentials(secretId, await readValue(secrets, secretId, selector));
}

/** The credentials the rotation is moving to: the token's version, labelled AWSPENDING. */
function pendingCredentials(
  secrets: SecretsManagerClient,
  secretId: string,
  token: string
): Promise<DbCredentials> {
  return credentials(secrets, secretId, { VersionId: token, VersionStage: 'AWSPENDING' });
}

/** A version's credentials, or undefined when there is no such version (no AWSPREVIOUS yet). */
async function optionalCredentials(
  secrets: SecretsManagerClient,
  secretId: string,
  selector: VersionSelector
): Promise<DbCredentials | undefined> {
  const value = await readOptionalValue(secrets, secretId, selector);
  return value && rdsCredentials(secretId, value);
}

function sameAccount(a: DbCredentials, b: DbCredentials): boolean {
  return a.user === b.user && a.host === b.host && a.port === b.port;
}

function describe({ user, host, port }: DbCredentials): string {
  return `"${user}" at ${host}:${port}`;
}
