/**
 * The conditions under which RDS Proxy pins a MySQL client session to its database connection
 * (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy-pinning.html, and
 * rds-proxy-managing.html, "Avoiding pinning"): SET statements, user variables, prepared
 * statements (the binary protocol, or PREPARE), multi-statement text, statements longer than
 * 16 KB, LOCK TABLES, GET_LOCK, temporary tables, a change of default database. The same list
 * test/lambda/proxy-pinning.test.ts checks the functions against.
 *
 * Not here: the state that stored procedures change, which the guide says the proxy does not
 * track; so a routine that leaves a transaction open does not pin (see pooled-session.ts).
 */

/** Commands (include/my_command.h) the proxy multiplexes: a text-protocol query and a ping. */
const COM_QUERY = 0x03;
const COM_PING = 0x0e;

/** Why `command` pins the session, or undefined when it does not. */
export function pinningReason(command: Buffer): string | undefined {
  const code = command[0];
  if (code === COM_PING) return undefined;
  if (code !== COM_QUERY) return `command 0x${code.toString(16)}`; // COM_STMT_PREPARE, COM_INIT_DB, ...
  if (command.length - 1 > 16 * 1024) return 'statement longer than 16 KB';
  const text = command.toString('utf8', 1);
  // Literals and comments say nothing about session state: look at the SQL around them.
  const sql = text
    .replace(/'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*"|`(?:[^`]|``)*`/g, "''")
    .replace(/\/\*[\s\S]*?\*\/|--[^\n]*|#[^\n]*/g, ' ');
  if (/;\s*\S/.test(sql)) return 'multiple statements';
  if (/^\s*SET\b/i.test(sql)) return 'SET statement';
  if (/@/.test(sql)) return 'user variable';
  if (/^\s*(PREPARE|EXECUTE|DEALLOCATE)\b/i.test(sql)) return 'prepared statement';
  if (/^\s*(LOCK\s+TABLES?|FLUSH\s+TABLES?\b.*\bWITH\s+READ\s+LOCK)\b/i.test(sql)) {
    return 'table lock';
  }
  if (/\bGET_LOCK\s*\(/i.test(sql)) return 'GET_LOCK';
  if (/\bTEMPORARY\s+TABLE\b/i.test(sql)) return 'temporary table';
  if (/^\s*USE\b/i.test(sql)) return 'change of default database';
  return undefined;
}
