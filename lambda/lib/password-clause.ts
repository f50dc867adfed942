import type { AccountText } from './sql-literals';

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
 * The statement with which a user changes its own password (the admin's single-user rotation),
 * with its values: the new password, and on MySQL the current one. Neither form needs a privilege
 * the user lacks, and neither changes the account's authentication plugin.
 *
 * MySQL 8.4 (production): `ALTER USER USER() IDENTIFIED BY 'new' REPLACE 'current'`, the form
 * for one's own account (https://dev.mysql.com/doc/refman/8.4/en/alter-user.html,
 * `user_func_auth_option`; https://dev.mysql.com/doc/refman/8.4/en/assigning-passwords.html).
 * The account keeps its plugin: "In password-assigning statements, the authentication plugin
 * associated with an account performs any hashing required of a cleartext password specified"
 * (that page). REPLACE names the current password: without it, an account that is not privileged
 * is refused (ER_MISSING_CURRENT_PASSWORD, 3892) whenever `password_require_current` is ON (an
 * RDS parameter) or the account has PASSWORD REQUIRE CURRENT; with it, a wrong current password
 * is ER_INCORRECT_CURRENT_PASSWORD (3891), and REPLACE is allowed for one's own account only
 * (validate_password_require_current(), sql/auth/sql_user.cc;
 * https://dev.mysql.com/doc/refman/8.4/en/password-management.html#password-reverification-policy).
 * This branch runs only in production.
 *
 * MariaDB 10.11 (the tests' server) refuses `USER()` there (a syntax error), `ALTER USER
 * CURRENT_USER()` without the CREATE USER privilege, and REPLACE; `SET PASSWORD = PASSWORD('…')`
 * is its form for one's own password (a bare string would be taken as a ready hash). Measured on 10.11.
 */
export function ownPasswordChange(
  serverVersion: string,
  password: AccountText,
  current: AccountText
): { sql: string; values: AccountText[] } {
  return isMariaDb(serverVersion)
    ? { sql: 'SET PASSWORD = PASSWORD(?)', values: [password] }
    : { sql: 'ALTER USER USER() IDENTIFIED BY ? REPLACE ?', values: [password, current] };
}

/** Whether `VERSION()` is MariaDB's (`10.11.6-MariaDB-…`): the tests' server, never production. */
function isMariaDb(serverVersion: string): boolean {
  return /mariadb/i.test(serverVersion);
}
