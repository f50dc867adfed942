import { Duplex } from 'node:stream';
import { DatabaseConnection } from './database-connection';
import { tieSockets } from '../tied-sockets';

/**
 * A 1:1 session: the client's command phase relayed byte for byte to its own database
 * connection, both ends closed together.
 */
export function relayOneToOne(
  client: Duplex,
  clientLeftover: Buffer,
  database: DatabaseConnection,
  hangUp: () => void,
  onClose: () => void
): void {
  const server = database.stream;
  if (database.leftover.length > 0) client.write(database.leftover);
  if (clientLeftover.length > 0) server.write(clientLeftover);
  client.on('data', (chunk: Buffer) => server.write(chunk));
  server.on('data', (chunk: Buffer) => client.write(chunk));
  tieSockets(client, server, () => {
    hangUp();
    database.close();
    onClose();
  });
}
