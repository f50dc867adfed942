import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { RowDataPacket } from 'mysql2/promise';
import { constructIdOf } from '../../lib/data-function-declaration';
import { figuresBlock, stackFigures } from '../../scripts/figures/stack-figures';
import { CONFIGURATIONS, synthesizeConfiguration } from '../lib/configurations';
import { functionOf } from '../lib/declared';
import { loadInvariants } from '../lib/load-invariants';
import { AppDatabase } from '../support/app-database';
import { bundleHandler } from '../support/bundle';
import { LambdaEnvironment } from '../support/lambda-environment';
import { adminConnect } from '../support/private-server';
import { FORK, ORDER_WRITER } from './order-writer/declaration';

// A fork adds a function by adding its handler, its schema module, its repository and one
// declaration (README "Fork it"); test/fork/order-writer/ holds exactly those, and everything
// else (user, secret, rotation, grants, budget, proxy auth, alarms, widgets, outputs, figures,
// test support) must follow from the declaration alone.

const ROOT = path.join(__dirname, '..', '..');

describe('a fork with a third function, declared once', () => {
  const invariants = loadInvariants();

  test.each(CONFIGURATIONS.map((c) => [c.label, c] as const))(
    '%s: synthesizes with every invariant holding',
    (_label, configuration) => {
      const synthesized = synthesizeConfiguration(configuration, { declared: FORK });
      const [, fn] = functionOf(synthesized.template, ORDER_WRITER.name);
      expect(fn.Properties.ReservedConcurrentExecutions).toBeGreaterThanOrEqual(1);
      expect(fn.Properties.Environment.Variables.DB_WRITES_IDEMPOTENT).toBe('false');
      expect(Object.keys(synthesized.template.findOutputs('*'))).toEqual(
        expect.arrayContaining(['OrderWriterFunctionName', 'OrderWriterSecretArn'])
      );
      const users = Object.values(synthesized.template.findResources('Custom::SchemaMigration'))[0]
        .Properties.Users;
      expect(users).toContainEqual(expect.objectContaining({ Role: ORDER_WRITER.name }));
      for (const invariant of invariants) {
        expect([invariant.name, invariant.check(synthesized)]).toEqual([invariant.name, []]);
      }
      // The figures have its row, and the rows add up to the total.
      if (configuration.context.readReplicas === '0') {
        const figures = stackFigures(
          configuration.stage,
          synthesized.template.toJSON(),
          FORK.functions
        );
        const block = figuresBlock([figures]);
        expect(block).toMatch(
          new RegExp(
            `\\| reserved concurrency: ${ORDER_WRITER.name} \\| ${fn.Properties.ReservedConcurrentExecutions} \\|`
          )
        );
        const rows = figures.reservations.map((r) => r.label);
        expect(rows).toEqual(
          expect.arrayContaining(['migration', ...FORK.functions.map((f) => f.name)])
        );
        expect(new Set(rows).size).toBe(rows.length);
      }
    }
  );

  describe('its bundled handler against the test server', () => {
    let db: AppDatabase<(typeof FORK.functions)[number]['name']>;
    let bundleDir: string;
    let orderWriter: LambdaEnvironment;

    beforeAll(async () => {
      bundleDir = mkdtempSync(path.join(tmpdir(), 'fork-bundle-'));
      const [created, built] = await Promise.all([
        // The shipped migrate() with the fork's modules; its users get their declared grants.
        AppDatabase.create('fork', undefined, FORK),
        bundleHandler(path.join(ROOT, ORDER_WRITER.entry), bundleDir),
      ]);
      db = created;
      orderWriter = await LambdaEnvironment.startBundle(
        constructIdOf(ORDER_WRITER.name),
        built.file,
        db.env(ORDER_WRITER.name)
      );
    });

    afterAll(async () => {
      await orderWriter?.stop();
      await db?.dispose();
      rmSync(bundleDir, { recursive: true, force: true });
    });

    test('records an order per invocation: the same event twice is two orders', async () => {
      const event = { email: 'Buyer@example.com', item: 'tea', quantity: 2 };
      const first = await orderWriter.invoke<{ order: { id: number } }>(event);
      const second = await orderWriter.invoke<{ order: { id: number } }>(event);
      expect(second.order.id).toBeGreaterThan(first.order.id);
      const [rows] = await db.admin.query<RowDataPacket[]>(
        'SELECT email, item, quantity FROM orders ORDER BY id'
      );
      expect(rows).toEqual([
        { email: 'buyer@example.com', item: 'tea', quantity: 2 },
        { email: 'buyer@example.com', item: 'tea', quantity: 2 },
      ]);
      expect(await db.waitForNoSessions()).toEqual([]);
    });

    test('its user may insert orders and nothing else', async () => {
      const [grants] = await db.admin.query<RowDataPacket[]>("SHOW GRANTS FOR ?@'%'", [
        db.users[ORDER_WRITER.name].user,
      ]);
      const text = grants.map((row) => String(Object.values(row)[0])).join('\n');
      expect(text).toMatch(/GRANT INSERT ON `t_fork_\w+`\.`orders`/);
      expect(text).not.toMatch(/SELECT|UPDATE|DELETE|EXECUTE|`users`/);
    });

    test('a bad event is a ValidationError and writes nothing', async () => {
      await expect(
        orderWriter.invoke({ email: 'x@example.com', item: 'tea' })
      ).rejects.toMatchObject({
        name: 'ValidationError',
        message: expect.stringContaining('quantity'),
      });
    });

    test('a write of unknown outcome is not called safe to retry: it is not idempotent', async () => {
      // The INSERT waits behind a table lock; the connection is killed mid-statement.
      const locker = await adminConnect(db.server, db.database);
      await locker.query('LOCK TABLES orders WRITE');
      try {
        const invocation = orderWriter.invoke({
          email: 'late@example.com',
          item: 'tea',
          quantity: 1,
        });
        const [running] = await db.waitForSessions((s) => s.some((x) => x.command === 'Query'));
        await db.admin.query(`KILL ${Number(running.id)}`);
        await expect(invocation).rejects.toMatchObject({
          name: 'DatabaseConnectionLostError',
          message: expect.stringContaining(
            'check whether the write took effect before sending it again'
          ),
        });
      } finally {
        await locker.query('UNLOCK TABLES');
        await locker.end();
      }
      expect(await db.waitForNoSessions()).toEqual([]);
    });
  });
});
