import { MigrationUser } from '../../lambda/migration-users';
import { AppRole, DATA_FUNCTIONS } from '../../lib/declared-functions';

/**
 * The migration's users as lib/schema-migration.ts configures them (MIGRATION_USERS), one per
 * declared function, with the secret ARNs a test gives them.
 */
export function declaredMigrationUsers(secretArnOf: (role: AppRole) => string): MigrationUser[] {
  return DATA_FUNCTIONS.map(({ name, grants }) => ({
    role: name,
    secretArn: secretArnOf(name),
    grants,
  }));
}

/** The event's `Users` for those users, as the custom resource's properties carry them. */
export function eventUsers(users: readonly MigrationUser[]): { Role: string; SecretArn: string }[] {
  return users.map(({ role, secretArn }) => ({ Role: role, SecretArn: secretArn }));
}
