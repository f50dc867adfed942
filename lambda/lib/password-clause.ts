/**
 * The authentication clause of the migration's CREATE USER / ALTER USER, with a `?` for the
 * password, chosen from the server's `VERSION()`.
 *
 * MySQL 8.4 (production): the plugin is named, so the account is `caching_sha2_password`
 * whatever the server's `authentication_policy` says (8.4 removed `default_authentication_plugin`
 * and ships `mysql_native_password` disabled), and it matches the RDS Proxy's
 * `ClientPasswordAuthType` (lib/database-proxy.ts). Syntax: `IDENTIFIED WITH auth_plugin BY
 * 'auth_string'`, https://dev.mysql.com/doc/refman/8.4/en/create-user.html and
 * https://dev.mysql.com/doc/refman/8.4/en/alter-user.html. This branch runs only in production.
 *
 * MariaDB (the tests' server, `VERSION()` like `10.11.6-MariaDB-…`) has no such plugin and would
 * refuse the clause: its accounts keep the server's default (`mysql_native_password`).
 */
export function passwordClause(serverVersion: string): string {
  return /mariadb/i.test(serverVersion)
    ? 'IDENTIFIED BY ?'
    : 'IDENTIFIED WITH caching_sha2_password BY ?';
}
