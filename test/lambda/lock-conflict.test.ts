import { Connection } from 'mysql2/promise';
import { AppDatabase } from '../support/app-database';
import { LambdaEnvironment } from '../support/lambda-environment';
import {
  adminConnect,
  ServerInfo,
  startPrivateServer,
  stopPrivateServer,
} from '../support/private-server';

// The parameter group sets innodb_lock_wait_timeout below the functions' statement timeout, so a
// write stuck behind another transaction's row lock ends on the server, rolled back, with a
// named error; not abandoned by the client and committed later. A private server plays RDS here.
describe('a write blocked past innodb_lock_wait_timeout', () => {
  const email = 'contended@example.com';
  let server: ServerInfo;
  let db: AppDatabase;
  let locker: Connection;
  let writer: LambdaEnvironment;

  beforeAll(async () => {
    server = await startPrivateServer({ lockWaitTimeout: 1 });
    db = await AppDatabase.create('lockwait', server);
    await db.admin.query("INSERT INTO users (email, name) VALUES (?, 'Before')", [email]);
    locker = await adminConnect(server, db.database);
    writer = await LambdaEnvironment.start('writer', db.env('writer'));
  });

  afterAll(async () => {
    await writer?.stop();
    await locker?.end();
    await db?.dispose();
    if (server) await stopPrivateServer(server);
  });

  test('is DatabaseLockConflictError, writes nothing, leaks nothing, and the next write works', async () => {
    await locker.query('START TRANSACTION');
    await locker.query('SELECT * FROM users WHERE email = ? FOR UPDATE', [email]);

    await expect(
      writer.invoke({ email, name: 'Blocked' }, { remainingMs: 5000 })
    ).rejects.toMatchObject({
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
