import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { Database } from '../../lambda/lib/database';
import { ownPasswordChange, passwordClause } from '../../lambda/lib/password-clause';
import { accountText } from '../../lambda/lib/sql-literals';
import { parseReadEvent, parseWriteEvent } from '../../lambda/lib/validation';
import { AppDatabase } from '../support/app-database';

// What an error can tell whoever reads it whole: a fork's logger that prints every error with
// util.inspect, every property, hidden ones and the whole cause chain (docs/data-path.md,
// "What an error tells its reader").
const printWhole = (error: unknown) => inspect(error, { depth: Infinity, showHidden: true });

/** Runs one statement on the shipped data path and returns the error it rejects with. */
async function failureOf(database: Database, sql: string, values: unknown[]): Promise<unknown> {
  try {
    await database.run(async (connection) => {
      const [{ version }] = await connection.query<{ version: string }[]>(
        'SELECT VERSION() AS `version`',
        []
      );
      await connection.query(sql.replace('$CLAUSE', passwordClause(version)), values);
    });
  } catch (error) {
    return error;
  }
  throw new Error(`expected ${sql} to fail`);
}

describe('an error never carries a password it was sent with', () => {
  let db: AppDatabase;
  const password = `Pw-${randomBytes(12).toString('hex')}`;
  // Every form the password takes in a statement: as sent, doubled quotes, and as hex.
  const forms = [password, Buffer.from(password).toString('hex')];

  beforeAll(async () => {
    db = await AppDatabase.create('disclosure');
  });
  afterAll(async () => {
    await db?.dispose();
  });

  test("the migration's CREATE USER, refused for want of privilege", async () => {
    // The writer lacks CREATE USER: the server refuses the statement the migration sends.
    const error = await failureOf(
      db.inProcess('writer'),
      "CREATE USER IF NOT EXISTS ?@'%' $CLAUSE REQUIRE SSL",
      [accountText(`u_${randomBytes(3).toString('hex')}`), accountText(password)]
    );
    const printed = printWhole(error);
    expect(printed).toMatch(/DatabaseError|CREATE USER/);
    for (const form of forms) expect(printed).not.toContain(form);
  });

  test("the migration's ALTER USER, with the server quoting the statement back", async () => {
    // A syntax error makes the server quote the statement from the error on ("near '…'").
    const error = await failureOf(db.inProcess('writer'), "ALTER USER ?@'%' IDENTIFIED BY BY ?", [
      accountText(db.users.writer.user),
      accountText(password),
    ]);
    const printed = printWhole(error);
    expect(printed).toContain('ER_PARSE_ERROR');
    expect(printed).toContain('[redacted]');
    for (const form of forms) expect(printed).not.toContain(form);
  });

  test("rotation's own-password statement, refused", async () => {
    const database = db.inProcess('reader');
    const error = await database
      .run(async (connection) => {
        const [{ version }] = await connection.query<{ version: string }[]>(
          'SELECT VERSION() AS `version`',
          []
        );
        // The statement rotation sends, made to fail the way a server refuses it.
        const change = ownPasswordChange(version, accountText(password), accountText(password));
        await connection.query(`${change.sql} garbage ?`, [...change.values, password]);
      })
      .catch((e: unknown) => e);
    const printed = printWhole(error);
    expect(printed).toContain('ER_PARSE_ERROR');
    for (const form of forms) expect(printed).not.toContain(form);
  });
});

describe('a validation error repeats at most a bounded part of the event', () => {
  test('a 100,000-character unknown key', () => {
    const key = 'k'.repeat(100_000);
    for (const parse of [parseWriteEvent, parseReadEvent]) {
      let error: unknown;
      try {
        parse({ [key]: 1 });
      } catch (e) {
        error = e;
      }
      expect(error).toMatchObject({ name: 'ValidationError' });
      expect((error as Error).message).toMatch(/100000 characters/);
      expect((error as Error).message.length).toBeLessThan(300);
      // Neither the message, nor the stack, nor a property holds more of the key.
      expect(printWhole(error)).not.toContain('k'.repeat(65));
    }
  });

  test('a key with a line break cannot forge a log line', () => {
    expect(() => parseWriteEvent({ 'a\n{"level":"INFO"}': 1 })).toThrow(
      'Invalid field "a\\n{\\"level\\":\\"INFO\\"}": is not allowed'
    );
  });
});
