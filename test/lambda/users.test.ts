import { RowDataPacket } from 'mysql2/promise';
import { migrate } from '../../lambda/migrate';
import { epochToIso } from '../../lambda/lib/users-repository';
import { AppDatabase } from '../support/app-database';
import { LambdaEnvironment } from '../support/lambda-environment';
import { ROUTES, Route, startRoute } from '../support/rds-proxy/routes';

interface User {
  id: number;
  email: string;
  name: string;
  version: number;
  updatedAt: string;
}

// Directly and through the pooling RDS Proxy stand-in, with the environment the template gives
// a function behind the proxy (DB_PROXY_HOST, its secret, the proxy's CA).
describe.each(ROUTES)('writing and reading users (%s)', (routeName) => {
  let db: AppDatabase;
  let route: Route;
  let writer: LambdaEnvironment;
  let reader: LambdaEnvironment;
  const write = (email: string, name: string) =>
    writer.invoke<{ user: User }>({ email, name }).then((r) => r.user);

  beforeAll(async () => {
    db = await AppDatabase.create('users');
    route = await startRoute(routeName, db);
    [writer, reader] = await Promise.all([
      LambdaEnvironment.start('writer', route.env('writer')),
      LambdaEnvironment.start('reader', route.env('reader')),
    ]);
  });

  afterAll(async () => {
    await Promise.all([writer?.stop(), reader?.stop()]);
    await route?.stop();
    await db?.dispose();
  });

  test('a new email creates version 1 with an ISO-8601 timestamp', async () => {
    const user = await write('New.User@Example.com', 'New User');
    expect(user).toEqual({
      id: expect.any(Number),
      email: 'new.user@example.com',
      name: 'New User',
      version: 1,
      updatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/),
    });
    expect(Math.abs(Date.parse(user.updatedAt) - Date.now())).toBeLessThan(60_000); // same clock, UTC
  });

  test('repeating an event changes nothing', async () => {
    const first = await write('repeat@example.com', 'Same');
    const again = await write('repeat@example.com', 'Same');
    expect(again).toEqual(first);
  });

  test('version grows by one only when the name changes, case included', async () => {
    const v1 = await write('grow@example.com', 'Grace');
    const v2 = await write('grow@example.com', 'grace');
    const v2again = await write('GROW@example.com', 'grace');
    const v3 = await write('grow@example.com', 'Grace Hopper');
    expect([v1.version, v2.version, v2again.version, v3.version]).toEqual([1, 2, 2, 3]);
    expect(v2again.updatedAt).toBe(v2.updatedAt);
    expect(v3.updatedAt > v2.updatedAt).toBe(true);
    expect(new Set([v1.id, v2.id, v3.id]).size).toBe(1);
  });

  test('injection attempts are stored as plain text', async () => {
    const name = "Robert'); DROP TABLE users; -- \\' \" ` 😀";
    const user = await write("o'brien+test@example.com", name);
    expect(user.name).toBe(name);
    const [rows] = await db.admin.query<RowDataPacket[]>('SELECT name FROM users WHERE email = ?', [
      user.email,
    ]);
    expect(rows[0].name).toBe(name);
  });

  test('the reader finds a user by email, or null', async () => {
    const written = await write('findme@example.com', 'Find Me');
    expect(await reader.invoke({ email: 'FindMe@example.com' })).toEqual({
      user: written,
      servedBy: 'primary',
    });
    expect(await reader.invoke({ email: 'nobody@example.com' })).toEqual({
      user: null,
      servedBy: 'primary',
    });
  });

  test('the migration is idempotent and leaves data alone', async () => {
    const [before] = await db.admin.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM users');
    await migrate(db.admin);
    await migrate(db.admin, { database: db.database });
    const [after] = await db.admin.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM users');
    expect(after[0].n).toBe(before[0].n);
    expect(await route.settled()).toEqual([]);
  });

  test('timestamps convert exactly, independent of the session time zone', () => {
    expect(epochToIso('1700000000.123456')).toBe('2023-11-14T22:13:20.123456Z');
    expect(epochToIso('0.000001')).toBe('1970-01-01T00:00:00.000001Z');
    expect(epochToIso('1700000000')).toBe('2023-11-14T22:13:20.000000Z');
  });
});
