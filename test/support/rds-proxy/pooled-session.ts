import { Duplex } from 'node:stream';
import { errPacket } from '../mysql-packets';
import { pinningReason } from './pinning';
import { BorrowTimeout, ConnectionPool, PooledConnection } from './pool';
import { PacketSplitter, QueryReply, SERVER_STATUS } from './responses';

const COM_QUIT = 0x01;

/** The proxy's answer when no database connection frees up in time (rds-proxy.troubleshooting.html). */
export const BORROW_TIMEOUT_ERROR = {
  code: 9501,
  sqlState: 'HY000',
  message: 'Timed-out waiting to acquire database connection',
} as const;

/** The database refused the proxy's login for a new pooled connection; `error` is its ERR. */
export class DatabaseRefused extends Error {
  constructor(readonly error: Buffer) {
    super('the database refused the proxy');
  }
}

export interface PooledSessionOptions {
  readonly pool: ConnectionPool;
  /** Pool key: sessions with the same user, database and protocol settings share connections. */
  readonly key: string;
  /** Opens a database connection for this key; rejects with DatabaseRefused when refused. */
  readonly open: () => Promise<import('./database-connection').DatabaseConnection>;
  /** What the client gets when the database refuses the proxy's login. */
  readonly databaseLoginFailure: 'access-denied' | 'connection-closed';
  /** Closes the client's connection (the TLS stream and the socket under it). */
  readonly hangUp: () => void;
  /** Called once per statement that had to wait for, or gave up on, a connection, and on pins. */
  readonly events: (event: 'borrow-timeout' | 'pinned') => void;
}

/**
 * A client session multiplexed over the pool: each statement outside a transaction borrows a
 * database connection, and the session gives it back when a reply ends with
 * SERVER_STATUS_IN_TRANS clear (include/mysql_com.h); within a transaction it keeps it. What
 * the guide says pins the session (pinning.ts) keeps the connection until the client leaves.
 *
 * As the guide says of RDS Proxy, session state changed inside a stored procedure is not seen:
 * the reply's last status flags decide, and an ERR packet carries none, so after an error the
 * session keeps the state it had before the statement. A CALL killed in the middle of its
 * transaction thus looks finished, and its connection, transaction still open, serves the next
 * client (issue 22). A client that leaves while a reply is still coming, or inside a
 * transaction the proxy saw, has its connection closed: the database rolls back.
 */
export function runPooledSession(
  client: Duplex,
  leftover: Buffer,
  options: PooledSessionOptions
): void {
  const { pool } = options;
  const commands: Buffer[] = [];
  const fromClient = new PacketSplitter();
  let held: PooledConnection | undefined;
  let inTransaction = false;
  let busy = false;
  let gone = false;
  let raw = false;

  /** Gives the connection back, or closes it when its reply is still coming (`replying`). */
  const release = (replying = busy) => {
    if (!held) return;
    const connection = held;
    held = undefined;
    if (replying || inTransaction || connection.connection.stream.destroyed) {
      pool.close(connection);
    } else {
      pool.giveBack(connection);
    }
  };

  const leave = () => {
    if (gone) return;
    gone = true;
    options.hangUp();
    if (!busy) release();
  };

  const pump = () => {
    if (busy || raw || gone || commands.length === 0) return;
    busy = true;
    const packet = commands.shift()!;
    let replied = false;
    handle(packet)
      .then(() => (replied = true))
      .catch(() => leave())
      .finally(() => {
        busy = false;
        if (gone) release(!replied);
        pump();
      });
  };

  const handle = async (packet: Buffer): Promise<void> => {
    const payload = packet.subarray(4);
    if (payload[0] === COM_QUIT) {
      busy = false;
      leave();
      return;
    }
    if (!held) {
      try {
        held = await pool.borrow(options.key, options.open);
      } catch (error) {
        if (error instanceof BorrowTimeout) {
          options.events('borrow-timeout');
          const { code, sqlState, message } = BORROW_TIMEOUT_ERROR;
          client.write(frame(packet[3] + 1, errPacket(code, sqlState, message)));
          return;
        }
        if (error instanceof DatabaseRefused && options.databaseLoginFailure === 'access-denied') {
          client.write(frame(packet[3] + 1, error.error));
          return;
        }
        throw error;
      }
      if (gone) return; // the client left while waiting: release() in pump's finally
    }
    const connection = held;
    const reason = pinningReason(payload);
    if (reason !== undefined) {
      pin(connection, packet);
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const stream = connection.connection.stream;
      const reply = new QueryReply();
      const fromDatabase = new PacketSplitter();
      const onData = (chunk: Buffer) => {
        for (const p of fromDatabase.push(chunk)) {
          if (!gone) client.write(p);
          const end = reply.next(p.subarray(4));
          if (end === undefined) continue;
          stream.off('data', onData);
          stream.off('close', onClose);
          if ('statusFlags' in end)
            inTransaction = (end.statusFlags & SERVER_STATUS.IN_TRANS) !== 0;
          resolve();
          return;
        }
      };
      const onClose = () => {
        stream.off('data', onData);
        reject(new Error('the database closed the connection'));
      };
      if (stream.destroyed) {
        reject(new Error('the database closed the connection'));
        return;
      }
      stream.on('data', onData);
      stream.once('close', onClose);
      stream.write(packet);
    });
    if (!inTransaction && !gone) release(false);
  };

  /** From now on the session and its connection are one, relayed byte for byte. */
  const pin = (connection: PooledConnection, packet: Buffer) => {
    raw = true;
    pool.pin();
    options.events('pinned');
    const stream = connection.connection.stream;
    client.off('data', onClientData);
    const queued = Buffer.concat([packet, ...commands.splice(0), fromClient.rest()]);
    stream.on('data', (chunk: Buffer) => client.write(chunk));
    client.on('data', (chunk: Buffer) => stream.write(chunk));
    stream.write(queued);
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      gone = true;
      held = undefined;
      options.hangUp();
      pool.close(connection, { wasPinned: true });
    };
    client.once('close', end);
    stream.once('close', end);
  };

  const onClientData = (chunk: Buffer) => {
    commands.push(...fromClient.push(chunk));
    pump();
  };
  client.on('data', onClientData);
  client.once('close', () => {
    if (!raw) leave();
  });
  client.on('error', () => options.hangUp());
  if (leftover.length > 0) onClientData(leftover);
}

function frame(seq: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUIntLE(payload.length, 0, 3);
  header[3] = seq & 0xff;
  return Buffer.concat([header, payload]);
}
