import { AppDatabase } from '../support/app-database';
import { pollUntil } from '../support/poll';
import { adminConnect } from '../support/private-server';

// The demo polls sessions through AppDatabase while the server's wait_timeout is 6 s: a pause
// longer than that (a loaded machine) let the server close the idle admin connection, and the
// next poll failed with "Can't add new command when connection is in closed state".
test('reading sessions and cleaning up survive the server closing the idle admin connection', async () => {
  const db = await AppDatabase.create('monitor');
  try {
    const [[{ id }]] = (await db.admin.query('SELECT CONNECTION_ID() AS id')) as unknown as [
      { id: number }[],
    ];
    const other = await adminConnect(db.server);
    await other.query(`KILL ${Number(id)}`); // what wait_timeout does to an idle session
    // KILL takes effect asynchronously: wait until the server has ended that session.
    await pollUntil(
      async () =>
        (await other.query('SELECT ID FROM information_schema.PROCESSLIST WHERE ID = ?', [
          id,
        ])) as unknown as [unknown[]],
      ([rows]) => rows.length === 0
    );
    await other.end();
    expect(await db.sessions()).toEqual([]);
    // The new admin connection is the app schema's, as the first was.
    const [[{ schema }]] = (await db.admin.query('SELECT DATABASE() AS `schema`')) as unknown as [
      { schema: string }[],
    ];
    expect(schema).toBe(db.database);
  } finally {
    await db.dispose();
  }
});
