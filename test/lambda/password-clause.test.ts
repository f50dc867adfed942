import { RowDataPacket } from 'mysql2/promise';
import { passwordClause } from '../../lambda/lib/password-clause';
import { adminConnect } from '../support/private-server';
import { readState } from '../support/state';

describe('the account clause of the migration (passwordClause)', () => {
  test('MySQL 8.4 (production only): the plugin is named', () => {
    expect(passwordClause('8.4.7')).toBe('IDENTIFIED WITH caching_sha2_password BY ?');
  });

  test("the tests' MariaDB, as its VERSION() says: the server's default plugin", async () => {
    const admin = await adminConnect(readState().server);
    try {
      const [rows] = await admin.query<RowDataPacket[]>('SELECT VERSION() AS version');
      const clause = passwordClause(String(rows[0].version));
      expect(clause).toBe('IDENTIFIED BY ?');
      // and MariaDB runs it: no plugin MariaDB lacks slips through
      await admin.query(`CREATE USER 'clause_probe'@'%' ${clause}`, ['probe-pw']);
      await admin.query("DROP USER 'clause_probe'@'%'");
    } finally {
      await admin.end();
    }
  });
});
