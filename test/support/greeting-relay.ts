import { AddressInfo, Server, Socket, connect, createServer } from 'node:net';

/**
 * A TCP relay in front of a MySQL-protocol server that rewrites the status flags of the server
 * greeting (the first packet, sent in plaintext before any TLS upgrade) and passes every other
 * byte through untouched, TLS included. It stands in for what a proxy such as RDS Proxy does:
 * the client sees the proxy's greeting, not the database session's.
 *
 * Greeting layout (protocol 10): protocol version (1), server version (NUL-terminated),
 * connection id (4), auth-plugin-data part 1 (8), filler (1), capability flags, lower (2),
 * character set (1), status flags (2), ...
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_packets_protocol_handshake_v10.html
 */
export class GreetingRelay {
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;
  /** The port clients connect to instead of the server's. */
  port = 0;

  private constructor(
    private readonly target: { host: string; port: number },
    private readonly clearFlags: number
  ) {
    this.server = createServer((client) => this.relay(client));
  }

  /** Starts a relay to `target` that clears `clearFlags` in the greeting's status flags. */
  static async start(
    target: { host: string; port: number },
    clearFlags: number
  ): Promise<GreetingRelay> {
    const relay = new GreetingRelay(target, clearFlags);
    await new Promise<void>((resolve) => relay.server.listen(0, '127.0.0.1', resolve));
    relay.port = (relay.server.address() as AddressInfo).port;
    return relay;
  }

  private relay(client: Socket): void {
    const upstream = connect({ host: this.target.host, port: this.target.port });
    for (const [socket, other] of [
      [client, upstream],
      [upstream, client],
    ]) {
      this.sockets.add(socket);
      socket.on('close', () => {
        this.sockets.delete(socket);
        other.destroy();
      });
      socket.on('error', () => other.destroy());
    }
    client.pipe(upstream);
    let greeting = Buffer.alloc(0);
    const onGreeting = (chunk: Buffer) => {
      greeting = Buffer.concat([greeting, chunk]);
      if (greeting.length < 4 || greeting.length < 4 + greeting.readUIntLE(0, 3)) return;
      upstream.off('data', onGreeting);
      clearStatusFlags(greeting, this.clearFlags);
      client.write(greeting);
      upstream.pipe(client);
    };
    upstream.on('data', onGreeting);
  }

  async stop(): Promise<void> {
    this.sockets.forEach((socket) => socket.destroy());
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** Clears `flags` in the status flags of a handshake v10 packet (header included) in place. */
export function clearStatusFlags(packet: Buffer, flags: number): void {
  const payload = 4;
  if (packet[payload] !== 10) return; // an error packet (e.g. too many connections): as is
  const versionEnd = packet.indexOf(0, payload + 1);
  const status = versionEnd + 1 + 4 + 8 + 1 + 2 + 1;
  packet.writeUInt16LE(packet.readUInt16LE(status) & ~flags, status);
}

/** Reads the status flags of a handshake v10 packet (header included). */
export function greetingStatusFlags(packet: Buffer): number {
  const versionEnd = packet.indexOf(0, 5);
  return packet.readUInt16LE(versionEnd + 1 + 4 + 8 + 1 + 2 + 1);
}
