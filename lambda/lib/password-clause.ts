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
  return isMariaDb(serverVersion)
    ? 'IDENTIFIED BY ?'
    : 'IDENTIFIED WITH caching_sha2_password BY ?';
}

/**
 * The statement with which a user changes its own password (rotation's setSecret), with a `?`
 * for the new password, chosen from the server's `VERSION()`. Neither form needs a privilege
 * the function users lack, and neither changes the account's authentication plugin.
 *
 * MySQL 8.4 (production): `ALTER USER USER() IDENTIFIED BY 'auth_string'`, the form for one's
 * own account (https://dev.mysql.com/doc/refman/8.4/en/alter-user.html, `user_func_auth_option`;
 * https://dev.mysql.com/doc/refman/8.4/en/assigning-passwords.html). The account keeps its plugin
 * (`caching_sha2_password`, set by the migration): "In password-assigning statements, the
 * authentication plugin associated with an account performs any hashing required of a cleartext
 * password specified" (that page). `password_require_current` is OFF (MySQL's default; the parameter group leaves it), so no
 * REPLACE clause is needed. This branch runs only in production.
 *
 * MariaDB 10.11 (the tests' server) refuses `USER()` there (a syntax error) and `ALTER USER
 * CURRENT_USER()` without the CREATE USER privilege; `SET PASSWORD = PASSWORD('…')` is its form
 * for one's own password (a bare string would be taken as a ready hash). Measured on 10.11.
 */
export function ownPasswordStatement(serverVersion: string): string {
  return isMariaDb(serverVersion)
    ? 'SET PASSWORD = PASSWORD(?)'
    : 'ALTER USER USER() IDENTIFIED BY ?';
}

/** Whether `VERSION()` is MariaDB's (`10.11.6-MariaDB-…`): the tests' server, never production. */
function isMariaDb(serverVersion: string): boolean {
  return /mariadb/i.test(serverVersion);
}
