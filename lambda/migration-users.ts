import { assertGrant, Grant } from './lib/grants';
import { ConfigurationError } from './lib/errors';

/**
 * One database user the migration makes: a declared function's role, the secret holding its
 * credentials, and its grants. lib/schema-migration.ts writes the list into the migration
 * function's MIGRATION_USERS at synth; only a deploy changes it.
 */
export interface MigrationUser {
  readonly role: string;
  readonly secretArn: string;
  readonly grants: readonly Grant[];
}

/** MIGRATION_USERS, checked: a ConfigurationError says what is wrong with it. */
export function readMigrationUsers(json: string | undefined): MigrationUser[] {
  const fail = (problem: string) =>
    new ConfigurationError(
      `MIGRATION_USERS ${problem}: it must be the JSON list of { role, secretArn, grants } that ` +
        'lib/schema-migration.ts sets. Deploy the stack again to restore it.'
    );
  let users: unknown;
  try {
    users = JSON.parse(json ?? '');
  } catch {
    throw fail(json === undefined ? 'is not set' : 'is not JSON');
  }
  if (!Array.isArray(users) || users.length === 0) throw fail('is not a non-empty list');
  for (const user of users) {
    if (
      typeof user?.role !== 'string' ||
      typeof user?.secretArn !== 'string' ||
      !Array.isArray(user?.grants)
    ) {
      throw fail('has an entry without a role, secretArn and grants');
    }
    try {
      (user.grants as unknown[]).forEach((grant) => assertGrant(grant));
    } catch (error) {
      throw fail(`has a bad grant for ${user.role} (${(error as Error).message})`);
    }
  }
  return users as MigrationUser[];
}

/**
 * Whether an event's `Users` (absent, or [{ Role, SecretArn }] as lib/schema-migration.ts passes
 * them) names exactly the configured users: absent is fine (a run by hand), anything else must
 * match entry for entry.
 */
export function sameUsers(eventUsers: unknown, users: readonly MigrationUser[]): boolean {
  if (eventUsers === undefined) return true;
  return (
    Array.isArray(eventUsers) &&
    eventUsers.length === users.length &&
    eventUsers.every((u, i) => u?.Role === users[i].role && u?.SecretArn === users[i].secretArn)
  );
}
