import { connect, createServer, Server, Socket } from 'node:net';
import { AppDatabase } from '../support/app-database';
import { LambdaEnvironment } from '../support/lambda-environment';

/**
 * A connection that the server (or the network) drops in the middle of the TLS handshake, as
 * during a server restart, is a lost connection: retryable. DatabaseTlsError stays for a
 * certificate or protocol the client refuses (tls.test.ts).
 */
describe('a connection dropped during the TLS handshake', () => {
  let db: AppDatabase;
  let proxy: Server;
  const sockets = new Set<Socket>();

  beforeAll(async () => {
    db = await AppDatabase.create('tlsdrop');
    // Forwards the server's greeting and the client's TLS request, then hangs up as soon as
    // the server answers the TLS ClientHello: mid-handshake.
    proxy = createServer((client) => {
      const server = connect(db.server.port, db.server.host);
      sockets.add(client).add(server);
      let clientSpoke = false;
      client.on('data', (chunk) => {
        clientSpoke = true;
        server.write(chunk);
      });
      server.on('data', (chunk) => {
        if (clientSpoke) {
          client.destroy();
          server.destroy();
        } else {
          client.write(chunk);
        }
      });
      for (const socket of [client, server]) {
        socket.on('error', () => undefined);
        socket.on('close', () => {
          sockets.delete(socket);
          client.destroy();
          server.destroy();
        });
      }
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  });

  afterAll(async () => {
    sockets.forEach((socket) => socket.destroy());
    await new Promise((resolve) => proxy?.close(resolve));
    await db?.dispose();
  });

  test('is DatabaseConnectionLostError, not DatabaseTlsError', async () => {
    const port = (proxy.address() as { port: number }).port;
    const reader = await LambdaEnvironment.start('reader', db.env('reader', { port }));
    try {
      await expect(reader.invoke({ email: 'a@example.com' })).rejects.toMatchObject({
        name: 'DatabaseConnectionLostError',
        message: expect.stringContaining('retrying the same event is safe'),
      });
    } finally {
      await reader.stop();
    }
  });
});
