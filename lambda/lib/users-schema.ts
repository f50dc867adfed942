/**
 * The `users` schema: the table and the routine the writer calls. Applied by `migrate()`.
 *
 * The routine exists so that "upsert, then return the row" is ONE statement round trip:
 * MySQL has no INSERT ... RETURNING (MariaDB does), and multi-statement queries would open the
 * door to stacked-query injection. Its name carries a version: a changed body gets a new name,
 * so code deployed before or after the migration always finds the routine it expects, and
 * `CREATE PROCEDURE IF NOT EXISTS` never has to drop a routine that running functions call.
 */
export const UPSERT_USER_PROCEDURE = 'upsert_user_v1';

/** Columns every read returns, with the timestamp as UTC epoch seconds (see toUser). */
export const USER_COLUMNS = 'id, email, name, version, UNIX_TIMESTAMP(updated_at) AS updated_epoch';

/**
 * DDL statements, in order, each idempotent. `schema` is an already escaped identifier
 * prefix such as "`app`." or '' for the connection's default database.
 */
export function usersSchemaStatements(schema: string): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${schema}users (
      id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
      -- Binary collation: validation lower-cases emails, and an accent- or case-insensitive
      -- unique index would merge addresses that differ.
      email VARCHAR(254) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
      name VARCHAR(200) NOT NULL,
      version INT NOT NULL DEFAULT 1,
      updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
      UNIQUE KEY users_email (email)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,

    // SQL SECURITY INVOKER: the writer's own grants apply (SELECT, INSERT, UPDATE on users),
    // not those of whoever ran the migration.
    `CREATE PROCEDURE IF NOT EXISTS ${schema}${UPSERT_USER_PROCEDURE}(
      IN p_email VARCHAR(254) CHARACTER SET utf8mb4,
      IN p_name VARCHAR(200) CHARACTER SET utf8mb4
    )
    MODIFIES SQL DATA
    SQL SECURITY INVOKER
    COMMENT 'Upsert a user by email; version grows only when the name changes'
    BEGIN
      -- One atomic statement, so a concurrent writer cannot slip in between a read and a write.
      -- Assignments run left to right: compare with the old name before overwriting it; the
      -- binary comparison makes a change of case or accents count as a change.
      INSERT INTO users (email, name, version, updated_at)
      VALUES (p_email, p_name, 1, CURRENT_TIMESTAMP(6))
      ON DUPLICATE KEY UPDATE
        version = IF(CAST(name AS BINARY) = CAST(p_name AS BINARY), version, version + 1),
        updated_at = IF(CAST(name AS BINARY) = CAST(p_name AS BINARY), updated_at, CURRENT_TIMESTAMP(6)),
        name = p_name;
      SELECT ${USER_COLUMNS} FROM users WHERE email = p_email COLLATE utf8mb4_bin;
    END`,
  ];
}
