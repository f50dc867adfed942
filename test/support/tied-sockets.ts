import { Duplex } from 'node:stream';

/**
 * Two ends of a relayed session, closed together: a half-close (FIN) of one ends the other, and
 * `close` runs once when either closes or fails, as a proxy drops both sides of a session.
 */
export function tieSockets(client: Duplex, server: Duplex, close: () => void): void {
  let closed = false;
  const closeOnce = () => {
    if (closed) return;
    closed = true;
    close();
  };
  client.once('close', closeOnce);
  client.on('error', closeOnce);
  server.once('close', closeOnce);
  server.on('error', closeOnce);
  client.once('end', () => server.end());
  server.once('end', () => client.end());
}
