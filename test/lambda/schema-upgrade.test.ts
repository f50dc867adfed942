import { RowDataPacket } from 'mysql2/promise';
import { migrate, privilegesFor } from '../../lambda/migrate';
import {
  UPSERT_USER_PROCEDURE,
  UPSERT_USER_PROCEDURE_V1,
  UPSERT_USER_PROCEDURE_V2,
} from '../../lambda/lib/users-schema';
import { AppDatabase } from '../support/app-database';
import { LambdaEnvironment } from '../support/lambda-environment';

/**
 * A database migrated before `created_at` and `upsert_user_v2` existed is brought up to date by
 * the same migrate(), idempotently, keeping its rows and v1 (which code deployed before the
 * migration still calls).
 */
describe('migrating a database from before created_at and upsert_user_v2', () => {
  let db: AppDatabase;

  beforeAll(async () => {
    db = await AppDatabase.create('upgrade');
    // GIVEN the schema as it was: no created_at column, no v2 (or later) routine, one user
    await db.admin.query(`DROP PROCEDURE ${UPSERT_USER_PROCEDURE}`);
    await db.admin.query(`DROP PROCEDURE ${UPSERT_USER_PROCEDURE_V2}`);
    await db.admin.query('ALTER TABLE users DROP INDEX users_created_at, DROP COLUMN created_at');
    await db.admin.query(`CALL ${UPSERT_USER_PROCEDURE_V1}('old@example.com', 'Old')`);
  });

  afterAll(async () => {
    await db?.dispose();
  });

  test('adds the column and the routine, keeps the rows, and runs again as a no-op', async () => {
    await migrate(db.admin);
    await migrate(db.admin, { database: db.database });
    // ... and, as the custom resource does after every migration, the grants (now on v2 too)
    for (const privileges of privilegesFor('writer', db.database)) {
      await db.admin.query(`GRANT ${privileges} TO ?@?`, [db.users.writer.user, '%']);
    }
    const [columns] = await db.admin.query<RowDataPacket[]>(
      "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users' AND COLUMN_NAME = 'created_at'"
    );
    expect(columns).toHaveLength(1);
    const [routines] = await db.admin.query<RowDataPacket[]>(
      'SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE() ORDER BY ROUTINE_NAME'
    );
    expect(routines.map((r) => r.ROUTINE_NAME)).toEqual([
      UPSERT_USER_PROCEDURE_V1,
      UPSERT_USER_PROCEDURE_V2,
      UPSERT_USER_PROCEDURE,
    ]);
    const writer = await LambdaEnvironment.start('writer', db.env('writer'));
    try {
      await expect(
        writer.invoke({ email: 'old@example.com', name: 'Renamed' })
      ).resolves.toMatchObject({ user: { name: 'Renamed', version: 2 } });
    } finally {
      await writer.stop();
    }
  });
});
