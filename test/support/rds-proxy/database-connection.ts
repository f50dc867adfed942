import { Duplex } from 'node:stream';
import { loginBackend, openBackend } from '../caching-sha2-front';
import { HandshakeResponse } from '../mysql-packets';
import type { ServerInfo } from '../private-server';

/** One connection from the proxy to the database, logged in as a secret's user. */
export interface DatabaseConnection {
  /** The TLS stream to the database; the proxy reads and writes the command phase on it. */
  readonly stream: Duplex;
  /** The database's thread id for this session (its greeting's connection id). */
  readonly threadId: number;
  /** Bytes the database sent past its login reply. */
  readonly leftover: Buffer;
  close(): void;
}

/** The database's answer to a login: the session, or its ERR packet (payload). */
export type DatabaseLogin =
  | { readonly ok: true; readonly connection: DatabaseConnection }
  | { readonly ok: false; readonly error: Buffer };

/**
 * Logs in to the target as `user` with the proxy's cached `password` (the proxy uses the
 * secret's credentials for its own database connections: rds-proxy-secrets-arns.html), over TLS,
 * asking for the client's database, character set and capabilities.
 */
export async function loginToDatabase(
  target: ServerInfo,
  client: HandshakeResponse,
  password: string
): Promise<DatabaseLogin> {
  const backend = await openBackend(target);
  let answer: Buffer;
  try {
    answer = await loginBackend(backend, client, password);
  } catch (error) {
    backend.socket.destroy();
    throw error;
  }
  if (answer[0] !== 0x00) {
    backend.stream?.destroy();
    backend.socket.destroy();
    return { ok: false, error: answer };
  }
  const stream = backend.stream!;
  return {
    ok: true,
    connection: {
      stream,
      threadId: backend.greeting.connectionId,
      leftover: backend.reader.detach(),
      close: () => {
        stream.destroy();
        backend.socket.destroy();
      },
    },
  };
}

/** The error code of an ERR packet's payload. */
export function errorCode(payload: Buffer): number {
  return payload.readUInt16LE(1);
}
