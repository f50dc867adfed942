import { RowDataPacket } from 'mysql2/promise';
import { AppDatabase } from '../support/app-database';
import { LambdaEnvironment } from '../support/lambda-environment';

interface User {
  id: number;
  email: string;
  name: string;
  version: number;
}

const ENVIRONMENTS = 40;
const ROUNDS = 5;

/**
 * The writer's response is the row exactly as THIS write left it: the routine upserts and reads
 * the row in one transaction, with the row still locked, so another writer of the same email
 * cannot slip in between.
 */
describe('40 environments writing one email at once', () => {
  let db: AppDatabase;
  let writers: LambdaEnvironment[];

  beforeAll(async () => {
    db = await AppDatabase.create('ownrow');
    writers = await Promise.all(
      Array.from({ length: ENVIRONMENTS }, () =>
        LambdaEnvironment.start('writer', db.env('writer'))
      )
    );
  }, 60_000);

  afterAll(async () => {
    await Promise.all((writers ?? []).map((env) => env.stop()));
    await db?.dispose();
  });

  test('each response carries its own name, and no two responses share a version', async () => {
    const email = 'contended@example.com';
    // Every environment writes ROUNDS times back to back, all at once: each write changes the
    // name, so each takes the next version, and its response must be the row it left.
    const users = (
      await Promise.all(
        writers.map(async (env, i) => {
          const mine: { expected: string; user: User }[] = [];
          for (let round = 0; round < ROUNDS; round++) {
            const name = `Writer ${i} round ${round}`;
            const { user } = await env.invoke<{ user: User }>({ email, name });
            mine.push({ expected: name, user });
          }
          return mine;
        })
      )
    ).flat();
    const foreign = users.filter(({ expected, user }) => user.name !== expected);
    expect(foreign).toEqual([]);
    const versions = users.map(({ user }) => user.version).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: versions.length }, (_, i) => i + 1));
    expect(new Set(users.map(({ user }) => user.id)).size).toBe(1);
    // The stored row is the response with the highest version.
    const [[row]] = await db.admin.query<RowDataPacket[]>(
      'SELECT name, version FROM users WHERE email = ?',
      [email]
    );
    expect(row).toEqual({
      name: users.find(({ user }) => user.version === versions.length)!.expected,
      version: versions.length,
    });
  });
});
