import { RowDataPacket } from 'mysql2/promise';
import { AppDatabase } from '../support/app-database';
import { LambdaEnvironment } from '../support/lambda-environment';
import { ROUTES, Route, startRoute } from '../support/rds-proxy/routes';
import { ServerInfo, startPrivateServer, stopPrivateServer } from '../support/private-server';

/**
 * RDS Proxy multiplexes a client connection over pooled server connections only while nothing
 * pins it (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy-pinning.html).
 * For MySQL, the page names: SET statements, user variables, prepared statements (binary or
 * text PREPARE), multi-statement packets, statements longer than 16 KB, LOCK TABLES, GET_LOCK,
 * temporary tables, and a change of default database. This suite records, with the server's
 * general log, every command the SHIPPED handlers send and fails on any of them.
 *
 * The writer's `CALL upsert_user_v3(?, ?)`: the pinning page says stored procedures and
 * functions do not pin, and that the proxy does not see session changes made inside them; the
 * routine changes no session state (it is checked here that it sets no user variable).
 */
/** Why each recorded command would pin a proxy session; empty when none would. */
function pinningProblems(commands: { command: string; text: string }[]): string[] {
  const problems: string[] = [];
  for (const { command, text } of commands) {
    if (!['Connect', 'Query', 'Quit'].includes(command)) {
      problems.push(`${command}: ${text}`); // Prepare, Execute, Init DB, Change user, ...
    } else if (command === 'Query') {
      if (!/^\s*(CALL upsert_user_v\d+\(|SELECT )/.test(text)) {
        problems.push(`not a CALL or SELECT: ${text}`);
      }
      // Values arrive as escaped string literals (an e-mail has an @): look at the SQL around them.
      // Reading a global system variable (@@global.read_only, current-primary.ts) sets nothing.
      const sql = text.replace(/'(?:[^'\\]|\\.)*'/g, "''").replace(/@@global\.\w+/g, '');
      if (/@|\bSET\b|\bPREPARE\b|\bLOCK\b|GET_LOCK|TEMPORARY|;\s*\S/i.test(sql)) {
        problems.push(
          `session state (SET, user variable, PREPARE, lock, temp table, multi-statement): ${text}`
        );
      }
      if (Buffer.byteLength(text) >= 16 * 1024) {
        problems.push(`longer than 16 KB: ${text.slice(0, 80)}`);
      }
    }
  }
  return problems;
}

// Directly, and through the pooling RDS Proxy stand-in, whose own pinning rules (from the same
// page) must not fire either.
describe.each(ROUTES)(
  'the data path never sends what pins an RDS Proxy session (%s)',
  (routeName) => {
    let server: ServerInfo;
    let db: AppDatabase;
    let route: Route;
    let writer: LambdaEnvironment;
    let reader: LambdaEnvironment;

    beforeAll(async () => {
      server = await startPrivateServer();
      db = await AppDatabase.create('pin', server);
      route = await startRoute(routeName, db);
      [writer, reader] = await Promise.all([
        LambdaEnvironment.start('writer', route.env('writer')),
        LambdaEnvironment.start('reader', route.env('reader')),
      ]);
      await db.admin.query("SET GLOBAL log_output = 'TABLE'");
      await db.admin.query('TRUNCATE TABLE mysql.general_log');
      await db.admin.query('SET GLOBAL general_log = 1');
    });

    afterAll(async () => {
      await db?.admin.query('SET GLOBAL general_log = 0').catch(() => undefined);
      await Promise.all([writer?.stop(), reader?.stop()]);
      await route?.stop();
      await db?.dispose();
      await stopPrivateServer(server);
    });

    /** Commands the function users sent, in order (the admin's own are left out). */
    async function commandsOfFunctions(): Promise<{ command: string; text: string }[]> {
      const users = [db.users.writer.user, db.users.reader.user];
      const [rows] = await db.admin.query<RowDataPacket[]>(
        'SELECT user_host, command_type, CONVERT(argument USING utf8mb4) AS text FROM mysql.general_log ORDER BY event_time'
      );
      return rows
        .filter((row) => users.some((user) => String(row.user_host).startsWith(`${user}[`)))
        .map((row) => ({ command: String(row.command_type), text: String(row.text) }));
    }

    test('writes, updates, reads by email and list pages: text-protocol single statements only', async () => {
      // WHEN every shipped operation runs, cold and warm
      const { user } = await writer.invoke<{ user: { id: number } }>({
        email: 'pin@example.com',
        name: 'Pin',
      });
      await writer.invoke({ email: 'pin@example.com', name: 'Pin Two' });
      await writer.invoke({ email: 'pin@example.com', name: 'Pin Two' });
      await reader.invoke({ email: 'pin@example.com' });
      await reader.invoke({ email: 'nobody@example.com' });
      await reader.invoke({ limit: 1 });
      await reader.invoke({ limit: 5, after: user.id });
      expect(await route.settled()).toEqual([]);
      // The stand-in pinned no session either (it applies the same page's rules).
      expect(route.proxy?.counters().pins ?? 0).toBe(0);

      // THEN the functions sent one plain statement per invocation, and nothing that pins
      const commands = await commandsOfFunctions();
      expect(commands.filter((c) => c.command === 'Query')).toHaveLength(7);
      expect(pinningProblems(commands)).toEqual([]);
    });

    test('the check reports a user variable and a prepared statement when a client sends them', async () => {
      // GIVEN a connection as the reader that does what the proxy pins on
      const { createConnection } = await import('mysql2/promise');
      const { user, password } = db.users.reader;
      const conn = await createConnection({
        host: server.host,
        port: server.port,
        user,
        password,
        database: db.database,
        ssl: server.caFile
          ? { ca: (await import('node:fs')).readFileSync(server.caFile, 'utf8') }
          : undefined,
      });
      await conn.query('SET @pinned = 1');
      await conn.execute('SELECT ? AS one', [1]); // a binary-protocol prepared statement
      await conn.end();
      expect(await route.settled()).toEqual([]);
      // THEN the same check reports both
      const problems = pinningProblems(await commandsOfFunctions());
      expect(problems).toEqual(
        expect.arrayContaining([
          expect.stringContaining('SET @pinned = 1'),
          expect.stringMatching(/^Prepare/),
        ])
      );
    });
  }
);
