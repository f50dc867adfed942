/**
 * The `users` schema: the table and the routine the writer calls. Applied by `migrate()`.
 *
 * The routine exists so that "upsert, then return the row" is ONE statement round trip:
 * MySQL has no INSERT ... RETURNING (MariaDB does), and multi-statement queries would open the
 * door to stacked-query injection. Its name carries a version: a changed body gets a new name,
 * so code deployed before or after the migration always finds the routine it expects, and
 * `CREATE PROCEDURE IF NOT EXISTS` never has to drop a routine that running functions call.
 */
export const UPSERT_USER_PROCEDURE = 'upsert_user_v3';

/** v3 without its check for an inherited transaction; kept for code deployed before v3. */
export const UPSERT_USER_PROCEDURE_V2 = 'upsert_user_v2';

/** The routine of code deployed before v2; kept so that code keeps working during a deploy. */
export const UPSERT_USER_PROCEDURE_V1 = 'upsert_user_v1';

/** Columns every read returns, with the timestamp as UTC epoch seconds (see toUser). */
export const USER_COLUMNS = 'id, email, name, version, UNIX_TIMESTAMP(updated_at) AS updated_epoch';

/** The largest id a JSON number carries exactly (Number.MAX_SAFE_INTEGER, 2^53 - 1). */
export const MAX_USER_ID = '9007199254740991';

/** One idempotent migration step. */
export interface SchemaStep {
  /** The statement that applies the step. */
  readonly sql: string;
  /**
   * A query that returns a row when the step is already applied, for DDL that has no
   * `IF NOT EXISTS` on MySQL 8.4 (ADD COLUMN): checked first, the step is skipped if it does.
   * @default - the statement is idempotent itself
   */
  readonly appliedIf?: string;
}

/**
 * The steps, in order, each idempotent on MySQL 8.4 and MariaDB 10.11. `schema` is an already
 * escaped identifier prefix such as "`app`." or '' for the connection's default database;
 * `schemaName` the same schema as an SQL string expression, for information_schema.
 */
export function usersSchemaSteps(schema: string, schemaName = 'DATABASE()'): SchemaStep[] {
  const columnExists = (column: string) =>
    'SELECT 1 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ' +
    `${schemaName} AND TABLE_NAME = 'users' AND COLUMN_NAME = '${column}'`;
  return [
    {
      sql: `CREATE TABLE IF NOT EXISTS ${schema}users (
      id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
      -- Binary collation: validation lower-cases emails, and an accent- or case-insensitive
      -- unique index would merge addresses that differ.
      email VARCHAR(254) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
      name VARCHAR(200) NOT NULL,
      version INT NOT NULL DEFAULT 1,
      updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
      UNIQUE KEY users_email (email)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
    },
    {
      // When the inserting statement started; never updated. The list reader hands out only
      // rows old enough that no smaller id can still commit (users-repository.ts). Rows that
      // exist when this runs get the migration's time: held back a few seconds, never skipped.
      sql: `ALTER TABLE ${schema}users
      ADD COLUMN created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
      ADD KEY users_created_at (created_at)`,
      appliedIf: columnExists('created_at'),
    },
    // v1, unchanged: functions deployed before v2 call it until they are replaced.
    {
      sql: `CREATE PROCEDURE IF NOT EXISTS ${schema}${UPSERT_USER_PROCEDURE_V1}(
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
    },
    // SQL SECURITY INVOKER: the writer's own grants apply (SELECT, INSERT, UPDATE on users),
    // not those of whoever ran the migration.
    // v2, unchanged: functions deployed before v3 call it until they are replaced.
    { sql: upsertUserRoutine(schema, UPSERT_USER_PROCEDURE_V2, '') },
    { sql: upsertUserRoutine(schema, UPSERT_USER_PROCEDURE, REFUSE_OPEN_TRANSACTION) },
  ];
}

/**
 * v3's first statement. START TRANSACTION commits a transaction already open on the session, and
 * behind RDS Proxy a session can inherit one: a CALL killed inside its transaction skips the
 * routine's handlers on MySQL (sp_head::execute(), sql/sp_head.cc), its ERR reply carries no
 * status flags, and the proxy, which does not track state changed inside routines
 * (rds-proxy-pinning.html), lends that connection to the next client. So the routine first
 * makes sure no transaction is open: a one-shot SET TRANSACTION "is not permitted while there
 * is an active transaction" (1568, ER_CANT_CHANGE_TX_CHARACTERISTICS:
 * https://dev.mysql.com/doc/refman/8.4/en/set-transaction.html; MySQL Shell tests for an open
 * transaction the same way); MySQL has no @@in_transaction. The exit handler then rolls the
 * inherited transaction back and reports 1568: nothing is committed, neither the inherited
 * writes nor this call's. REPEATABLE READ is InnoDB's default, so the transaction that follows
 * runs as v2's did.
 */
const REFUSE_OPEN_TRANSACTION = `      SET TRANSACTION ISOLATION LEVEL REPEATABLE READ;
`;

/** The upsert routine `name`; `guard` is SQL run first inside its handlers (v3: REFUSE_OPEN_TRANSACTION). */
function upsertUserRoutine(schema: string, name: string, guard: string): string {
  return `CREATE PROCEDURE IF NOT EXISTS ${schema}${name}(
      IN p_email VARCHAR(254) CHARACTER SET utf8mb4,
      IN p_name VARCHAR(200) CHARACTER SET utf8mb4
    )
    MODIFIES SQL DATA
    SQL SECURITY INVOKER
    COMMENT 'Upsert a user by email and return the row as this call left it'
    BEGIN
      DECLARE v_id BIGINT;
      -- version INT would overflow: a named limit instead of a generic out-of-range error.
      DECLARE EXIT HANDLER FOR 1264
      BEGIN
        ROLLBACK;
        SIGNAL SQLSTATE '22003'
          SET MYSQL_ERRNO = 1264, MESSAGE_TEXT = 'users.version limit: version is at 2147483647';
      END;
      -- Any other error (a lock wait timeout, the id limit below): undo, then report it as is.
      DECLARE EXIT HANDLER FOR SQLEXCEPTION
      BEGIN
        ROLLBACK;
        RESIGNAL;
      END;
${guard}      -- One transaction: the upsert locks the row, and the SELECT returns it as THIS call left
      -- it; no other writer can change it before the COMMIT. Assignments run left to right:
      -- compare with the old name before overwriting it; the binary comparison makes a change
      -- of case or accents count as a change.
      START TRANSACTION;
      INSERT INTO users (email, name, version, updated_at)
      VALUES (p_email, p_name, 1, CURRENT_TIMESTAMP(6))
      ON DUPLICATE KEY UPDATE
        version = IF(CAST(name AS BINARY) = CAST(p_name AS BINARY), version, version + 1),
        updated_at = IF(CAST(name AS BINARY) = CAST(p_name AS BINARY), updated_at, CURRENT_TIMESTAMP(6)),
        name = p_name;
      SELECT id INTO v_id FROM users WHERE email = p_email COLLATE utf8mb4_bin;
      -- JSON numbers carry ids exactly only up to 2^53 - 1: never hand out a larger one.
      IF v_id > ${MAX_USER_ID} THEN
        SIGNAL SQLSTATE '22003'
          SET MYSQL_ERRNO = 1690, MESSAGE_TEXT = 'users.id limit: the new id is above 2^53 - 1';
      END IF;
      SELECT ${USER_COLUMNS} FROM users WHERE id = v_id;
      COMMIT;
    END`;
}

/** Every statement of the steps, in order: what `schemaVersion()` hashes. */
export function usersSchemaStatements(schema: string, schemaName?: string): string[] {
  return usersSchemaSteps(schema, schemaName).flatMap((step) =>
    step.appliedIf ? [step.appliedIf, step.sql] : [step.sql]
  );
}
