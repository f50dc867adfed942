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
import { restartRotation } from './rotation-recovery';

/**
 * Rotation of a secret in the RDS JSON format: the four steps Secrets Manager calls a rotation
 * function with, as its documentation and its rotation-function template describe them
 * (https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_lambda-functions.html,
 * https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_turn-on-for-other.html).
 * Each step may be called again after a failure, so each first checks whether its work is done.
 *
 * Two strategies (https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotation-strategy.html):
 * - **Alternating users** for every secret but the admin's: the secret's user alternates between
 *   `<base>` and `<base>_clone` (both made by the migration with the same grants); each rotation,
 *   logged in as the admin, sets the password of the user that is NOT in AWSCURRENT. The current
 *   user's password never changes, so a client or an RDS Proxy that still holds AWSCURRENT (or,
 *   after finishSecret, AWSPREVIOUS) keeps logging in (docs/rotation.md).
 * - **Single user** for the admin secret: the admin changes its own password (nobody else can).
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
  /** Logs in as `as` and sets that account's own password to `password` (REPLACE `as.password`). */
  changeOwnPassword(as: DbCredentials, password: string): Promise<void>;
  /** Logs in as `admin` and sets `user`'s password to `password`, unlocking the account. */
  setUserPassword(admin: DbCredentials, user: string, password: string): Promise<void>;
}

export interface RotationDependencies {
  readonly secrets: SecretsManagerClient;
  readonly database: RotationDatabase;
  /** Characters no new password contains: the secret's own (lambda/lib/password-policy.ts). */
  readonly excludeCharacters: string;
  readonly passwordLength: number;
  /**
   * The admin secret (ARN): rotated single-user; every other secret alternates users, with the
   * admin's credentials.
   * @default - every secret is rotated single-user
   */
  readonly adminSecretId?: string;
  /** @default console.log */
  readonly log?: (message: string) => void;
}

/** What every step works on: the secret, the version being rotated to, and the dependencies. */
interface StepContext {
  readonly secretId: string;
  readonly token: string;
  readonly deps: RotationDependencies;
  readonly log: (message: string) => void;
  readonly alternating: boolean;
}

/** A step that cannot go on; Secrets Manager marks the rotation failed and retries it later. */
export class RotationError extends Error {
  override readonly name = 'RotationError';
}

/**
 * Appended to a role's user name for its second user. A MySQL user name has at most 32
 * characters (https://dev.mysql.com/doc/refman/8.4/en/user-names.html), so a base name has at
 * most 32 - 6 = 26: the migration refuses longer ones (`alternateUsers`).
 */
export const CLONE_SUFFIX = '_clone';
export const MAX_BASE_USER_LENGTH = 32 - CLONE_SUFFIX.length;

/** The two users of a role whose secret names `user` (either of them): [base, clone]. */
export function alternateUsers(user: string): [string, string] {
  const base = user.endsWith(CLONE_SUFFIX) ? user.slice(0, -CLONE_SUFFIX.length) : user;
  return [base, base + CLONE_SUFFIX];
}

/** The user of the pair that `user` is not. */
export function otherUser(user: string): string {
  const [base, clone] = alternateUsers(user);
  return user === clone ? base : clone;
}

export async function rotateSecret(
  event: RotationEvent,
  deps: RotationDependencies
): Promise<void> {
  const { SecretId: secretId, ClientRequestToken: token, Step: step } = event;
  const log = deps.log ?? ((message: string) => console.log(message));
  const described = await deps.secrets.send(new DescribeSecretCommand({ SecretId: secretId }));
  if (described.RotationEnabled === false) {
    throw new RotationError(
      `Secret ${secretId} is not enabled for rotation: ${restartRotation(secretId)} turns it on again.`
    );
  }
  const stages = described.VersionIdsToStages ?? {};
  if (!stages[token]) {
    throw new RotationError(
      `Secret ${secretId} has no version ${token} to rotate to: start the rotation again ` +
        `(${restartRotation(secretId)}).`
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
  const alternating =
    deps.adminSecretId !== undefined &&
    deps.adminSecretId !== secretId &&
    deps.adminSecretId !== described.ARN;
  const context: StepContext = { secretId, token, deps, log, alternating };
  const steps: Record<string, () => Promise<void>> = {
    createSecret: () => createSecret(context),
    setSecret: () => (alternating ? setOtherUser(context) : setOwnPassword(context)),
    testSecret: () => testSecret(context),
    finishSecret: () => finishSecret(context, stages),
  };
  const run = steps[step];
  if (!run) {
    throw new RotationError(`Unknown rotation step "${step}" for ${secretId}.`);
  }
  await run();
}

/**
 * Puts a new password, with every other field of AWSCURRENT, as AWSPENDING under the token; when
 * alternating, for the other user of the pair.
 */
async function createSecret({
  secretId,
  token,
  deps,
  log,
  alternating,
}: StepContext): Promise<void> {
  const current = await readValue(deps.secrets, secretId, { VersionStage: 'AWSCURRENT' });
  const { user } = rdsCredentials(secretId, current); // refuse a malformed secret before rotating it
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
  const username = alternating ? otherUser(user) : user;
  await deps.secrets.send(
    new PutSecretValueCommand({
      SecretId: secretId,
      ClientRequestToken: token,
      SecretString: JSON.stringify({ ...current, username, password }),
      VersionStages: ['AWSPENDING'],
    })
  );
  log(
    `createSecret: put a new password for "${username}" of ${secretId} as version ${token} (AWSPENDING).`
  );
}

/**
 * Alternating users: logged in as the admin, sets the password of AWSPENDING's user, which is
 * not AWSCURRENT's. AWSCURRENT's user (the one every client and the proxy use now) is never
 * touched; AWSPREVIOUS's is the one changed, a whole rotation interval after it stopped being
 * current.
 */
async function setOtherUser({ secretId, token, deps, log }: StepContext): Promise<void> {
  const pending = await pendingCredentials(deps.secrets, secretId, token);
  const current = await credentials(deps.secrets, secretId, { VersionStage: 'AWSCURRENT' });
  if (pending.user === current.user || otherUser(current.user) !== pending.user) {
    // A single-user rotation's leftover (before the move to alternating users), or a secret
    // edited by hand: changing this user's password would lock out every client of AWSCURRENT.
    throw new RotationError(
      `Version ${token} of ${secretId} names "${pending.user}" and AWSCURRENT "${current.user}": ` +
        `an alternating-users rotation sets the password of "${otherUser(current.user)}" only, ` +
        "never the current user's, so this pending version is left alone. Remove its label and " +
        `rotate again: ${restartRotation(secretId, token)}.`
    );
  }
  if (!sameServer(current, pending)) {
    throw new RotationError(
      `Version ${token} of ${secretId} names ${describe(pending)}, AWSCURRENT ${describe(current)}: ` +
        'a rotation changes a user on one database. Put the right host and port in AWSCURRENT ' +
        `(aws secretsmanager put-secret-value), then: ${restartRotation(secretId, token)}.`
    );
  }
  if (await deps.database.canLogIn(pending)) {
    // An earlier attempt set it (its answer may have been lost): nothing left to do.
    log(`setSecret: the database already accepts version ${token} of ${secretId}.`);
    return;
  }
  const admin = await adminThatLogsIn(deps, pending);
  try {
    await deps.database.setUserPassword(admin, pending.user, pending.password);
  } catch (error) {
    if (serverErrno(error) === ER_CANNOT_USER) {
      throw new RotationError(
        `User "${pending.user}" does not exist on ${pending.host}:${pending.port}: the schema ` +
          'migration creates both users of each role (docs/rotation.md#running-the-migration-by-hand). ' +
          `Run it, then: ${restartRotation(secretId, token)}.`,
        { cause: error }
      );
    }
    throw error;
  }
  log(`setSecret: set the password of "${pending.user}" to version ${token}, as the admin.`);
}

/**
 * MySQL's "Operation ALTER USER failed" for an account that does not exist (ER_CANNOT_USER,
 * https://dev.mysql.com/doc/mysql-errors/8.4/en/server-error-reference.html); MariaDB's too.
 */
const ER_CANNOT_USER = 1396;

/** The server's error number, on the error or the driver error it wraps (error-mapping.ts). */
function serverErrno(error: unknown): number | undefined {
  const { errno, cause } = error as { errno?: number; cause?: unknown };
  return errno ?? (cause === undefined ? undefined : serverErrno(cause));
}

/** The admin's credentials that open `pending`'s database: AWSCURRENT, or a rotation's others. */
async function adminThatLogsIn(
  deps: RotationDependencies,
  pending: DbCredentials
): Promise<DbCredentials> {
  const adminId = deps.adminSecretId!;
  // The admin's own rotation may be between its setSecret and finishSecret (AWSPENDING), or a
  // client may have read AWSCURRENT just before it moved (AWSPREVIOUS).
  for (const stage of ['AWSCURRENT', 'AWSPENDING', 'AWSPREVIOUS']) {
    const admin = await optionalCredentials(deps.secrets, adminId, { VersionStage: stage });
    if (admin && sameServer(admin, pending) && (await deps.database.canLogIn(admin))) {
      return admin;
    }
  }
  throw new RotationError(
    `No version of the admin secret ${adminId} logs in to ${pending.host}:${pending.port}, so ` +
      `"${pending.user}"'s password cannot be set. Set the admin password to AWSCURRENT's (aws rds ` +
      `modify-db-instance --master-user-password), then: ${restartRotation(adminId)}, and ` +
      'rotate this secret again (Secrets Manager retries it).'
  );
}

/** Single user: sets the user's own password to AWSPENDING's, logged in with AWSCURRENT (or AWSPREVIOUS). */
async function setOwnPassword({ secretId, token, deps, log }: StepContext): Promise<void> {
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
        'a single-user rotation changes one account on one database. Fix AWSCURRENT (aws ' +
        `secretsmanager put-secret-value), then: ${restartRotation(secretId, token)}.`
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
      'password (for the admin: aws rds modify-db-instance --master-user-password; for a ' +
      'function user: run the schema migration, docs/rotation.md#running-the-migration-by-hand), ' +
      `then: ${restartRotation(secretId, token)}.`
  );
}

/**
 * Logs in with AWSPENDING: the password works before it becomes AWSCURRENT. A pending version
 * without a value is Secrets Manager testing the configuration (RotateSecret with
 * RotateImmediately false "tests the rotation configuration by running the testSecret step ...
 * The test creates an AWSPENDING version of the secret and then removes it":
 * https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_RotateSecret.html); what
 * that version holds is not documented, so then AWSCURRENT must log in instead.
 */
async function testSecret({ secretId, token, deps, log }: StepContext): Promise<void> {
  const value = await readOptionalValue(deps.secrets, secretId, {
    VersionId: token,
    VersionStage: 'AWSPENDING',
  });
  const [label, tested] = value
    ? [`version ${token}`, rdsCredentials(secretId, value)]
    : [
        'AWSCURRENT (the pending version is empty: a configuration test)',
        await credentials(deps.secrets, secretId, { VersionStage: 'AWSCURRENT' }),
      ];
  if (!(await deps.database.canLogIn(tested))) {
    throw new RotationError(
      `The database denied "${tested.user}" with ${label} of ${secretId}` +
        (value
          ? ' after setSecret set it: another client may have changed the password since. '
          : '. ') +
        `Rotate again: ${restartRotation(secretId, value ? token : undefined)}.`
    );
  }
  log(`testSecret: "${tested.user}" logs in with ${label} of ${secretId}.`);
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

function sameServer(a: DbCredentials, b: DbCredentials): boolean {
  return a.host === b.host && a.port === b.port;
}

function sameAccount(a: DbCredentials, b: DbCredentials): boolean {
  return a.user === b.user && sameServer(a, b);
}

function describe({ user, host, port }: DbCredentials): string {
  return `"${user}" at ${host}:${port}`;
}
