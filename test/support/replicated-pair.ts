import { HANG_MS } from './poll';
import { randomBytes } from 'node:crypto';
import { RowDataPacket } from 'mysql2/promise';
import { adminConnect, ServerInfo, startPrivateServer, stopPrivateServer } from './private-server';

/** A primary and a read replica: two private servers, GTID replication over TLS on loopback. */
export interface ReplicatedPair {
  readonly primary: ServerInfo;
  readonly replica: ServerInfo;
  readonly delaySeconds: number;
}

/**
 * Starts the pair. The replica applies each transaction `delaySeconds` after the primary
 * committed it (MASTER_DELAY), so it is measurably behind, like an RDS replica under ReplicaLag.
 * Both servers share one CA, so one DB_TLS_CA_FILE trusts both (as the RDS CA does).
 */
export async function startReplicatedPair({ delaySeconds = 2 } = {}): Promise<ReplicatedPair> {
  const primary = await startPrivateServer({ replication: { role: 'primary', serverId: 1 } });
  let replica: ServerInfo | undefined;
  try {
    replica = await startPrivateServer({
      replication: { role: 'replica', serverId: 2 },
      certificatesFrom: primary.dir,
    });
    const password = randomBytes(12).toString('hex');
    const onPrimary = await adminConnect(primary);
    try {
      await onPrimary.query("CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY ?", [password]);
      await onPrimary.query("GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1'");
    } finally {
      await onPrimary.end();
    }
    const onReplica = await adminConnect(replica);
    try {
      // The primary requires TLS (require_secure_transport), so the replica verifies it too.
      await onReplica.query(
        `CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = ${primary.port},
           MASTER_USER = 'repl', MASTER_PASSWORD = ?, MASTER_SSL = 1, MASTER_SSL_CA = ?,
           MASTER_SSL_VERIFY_SERVER_CERT = 1, MASTER_USE_GTID = slave_pos,
           MASTER_DELAY = ${Number(delaySeconds)}`,
        [password, primary.caFile]
      );
      await onReplica.query('START SLAVE');
    } finally {
      await onReplica.end();
    }
    const pair = { primary, replica, delaySeconds };
    await waitForReplica(pair);
    return pair;
  } catch (error) {
    await Promise.all([stopPrivateServer(primary), replica && stopPrivateServer(replica)]);
    throw error;
  }
}

/** Waits until the replica has applied everything the primary has committed so far (bounded). */
export async function waitForReplica(
  pair: ReplicatedPair,
  timeoutSeconds = HANG_MS / 1000
): Promise<void> {
  const onPrimary = await adminConnect(pair.primary);
  const onReplica = await adminConnect(pair.replica);
  try {
    const [[{ position }]] = await onPrimary.query<RowDataPacket[]>(
      'SELECT @@gtid_binlog_pos AS position'
    );
    const [[{ waited }]] = await onReplica.query<RowDataPacket[]>(
      'SELECT MASTER_GTID_WAIT(?, ?) AS waited',
      [position, timeoutSeconds]
    );
    if (Number(waited) !== 0) {
      const [status] = await onReplica.query<RowDataPacket[]>('SHOW SLAVE STATUS');
      throw new Error(
        `The replica did not reach ${position} within ${timeoutSeconds} s: ` +
          `${status[0]?.Last_IO_Error || status[0]?.Last_SQL_Error || 'no error reported'}`
      );
    }
  } finally {
    await Promise.all([onPrimary.end(), onReplica.end()]);
  }
}

/** Runs one admin statement on the replica, e.g. 'STOP SLAVE' / 'START SLAVE'. */
export async function onReplica(pair: ReplicatedPair, sql: string): Promise<void> {
  const connection = await adminConnect(pair.replica);
  try {
    await connection.query(sql);
  } finally {
    await connection.end();
  }
}

export async function stopReplicatedPair(pair: ReplicatedPair | undefined): Promise<void> {
  if (pair) {
    await Promise.all([stopPrivateServer(pair.replica), stopPrivateServer(pair.primary)]);
  }
}
