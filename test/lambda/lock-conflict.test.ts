import { Connection } from 'mysql2/promise';
import { AppDatabase } from '../support/app-database';
import { LambdaEnvironment } from '../support/lambda-environment';
import { adminConnect } from '../support/private-server';

// The parameter group sets innodb_lock_wait_timeout below the functions' statement timeout, so a
// write stuck behind another transaction's row lock ends on the server, rolled back, with a
// named error; not abandoned by the client and committed later. The test server runs with the
// parameter group's values (server-bounds.ts).
describe('a write blocked past innodb_lock_wait_timeout', () => {
  const email = 'contended@example.com';
  let db: AppDatabase;
  let locker: Connection;
  let writer: LambdaEnvironment;

  beforeAll(async () => {
    db = await AppDatabase.create('lockwait');
    await db.admin.query("INSERT INTO users (email, name) VALUES (?, 'Before')", [email]);
    locker = await adminConnect(db.server, db.database);
    writer = await LambdaEnvironment.start('writer', db.env('writer'));
  });

  afterAll(async () => {
    await writer?.stop();
    await locker?.end();
    await db?.dispose();
  });

  test('is DatabaseLockConflictError, writes nothing, leaks nothing, and the next write works', async () => {
    await locker.query('START TRANSACTION');
    await locker.query('SELECT * FROM users WHERE email = ? FOR UPDATE', [email]);

    await expect(writer.invoke({ email, name: 'Blocked' })).rejects.toMatchObject({
      name: 'DatabaseLockConflictError',
      message: expect.stringContaining('nothing was written and retrying is safe'),
    });
    await locker.query('ROLLBACK');

    const [[row]] = await db.admin.query<import('mysql2').RowDataPacket[]>(
      'SELECT name, version FROM users WHERE email = ?',
      [email]
    );
    expect(row).toMatchObject({ name: 'Before', version: 1 });
    expect(await db.waitForNoSessions()).toEqual([]);
    await expect(writer.invoke({ email, name: 'After' })).resolves.toMatchObject({
      user: { name: 'After', version: 2 },
    });
  });
});
