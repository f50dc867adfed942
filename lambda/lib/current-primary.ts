import { DatabaseNotPrimaryError } from './errors';
import { PrimaryRead } from './users-repository';
import { ReadUsersInput } from './validation';

/**
 * Refuses an answer from the primary's endpoint that a current primary could not have given:
 *
 * - The server is read-only. An RDS blue/green switchover sets blue read-only before it moves
 *   the endpoint names, and green is read-only until then
 *   (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy-blue-green.html; best
 *   practices: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/blue-green-deployments-best-practices.html);
 *   a function whose DNS still resolves the name to the old blue reaches a server that no
 *   longer receives writes. A read replica is read-only too. For the second or so in which
 *   blue is read-only but still current, its answers would be fresh, but nothing in the
 *   statement tells that second from the minutes after it: the read is refused as the writes
 *   are (DatabaseReadOnlyError), and both succeed once the names have moved. Behind RDS Proxy,
 *   which routes to blue until it sees green promoted, the same holds: the flag is read in the
 *   database session that ran the statement.
 * - A `{ email, minVersion }` answer below `minVersion`: the writer already returned that
 *   version from the primary, and versions only grow, so this server is behind it (a stale
 *   server), not a write that is missing.
 *
 * The statement was a SELECT: nothing was written, nothing is left running. The next
 * invocation opens a new connection, which resolves the endpoint again.
 */
export function confirmCurrentPrimary(read: PrimaryRead, input: ReadUsersInput): void {
  const retry =
    'Nothing was written; retry: the next invocation resolves the endpoint again and reaches ' +
    'the current primary once the switchover or failover has moved it (on RDS a switchover ' +
    'typically takes under a minute, a Multi-AZ failover one to two).';
  if (read.serverReadOnly) {
    throw new DatabaseNotPrimaryError(
      "The server reached through the primary's endpoint is read-only (read_only or " +
        'innodb_read_only is ON), so it is not, or no longer, the writable primary: a ' +
        'blue/green switchover in progress, or one whose endpoint change has not reached ' +
        "this function's DNS yet, or an endpoint that names a replica. Its answer could be " +
        `older than writes already acknowledged, so it was not returned. ${retry} If it ` +
        'persists, check that the secret or DATABASE_URL names the writer endpoint.'
    );
  }
  if (input.kind === 'byEmail' && input.minVersion !== undefined) {
    const user = 'user' in read.result ? read.result.user : null;
    if (user === null || user.version < input.minVersion) {
      throw new DatabaseNotPrimaryError(
        "The server reached through the primary's endpoint answered " +
          (user === null ? 'no user' : `version ${user.version}`) +
          ` for this email, below the minVersion ${input.minVersion} the writer already ` +
          'returned: it is behind the current primary (an old primary still reachable under ' +
          `its name), so its answer was not returned. ${retry} If it persists, the row was ` +
          'deleted or its version reset by another client since: read without minVersion.'
      );
    }
  }
}
