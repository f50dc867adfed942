import { TcpRelay } from './tcp-relay';

/**
 * A TCP relay in front of a MySQL-protocol server that rewrites the status flags of the server
 * greeting and passes every other byte through untouched, TLS included. It stands in for what a
 * proxy such as RDS Proxy does: the client sees the proxy's greeting, not the database session's.
 *
 * Greeting layout (protocol 10): protocol version (1), server version (NUL-terminated),
 * connection id (4), auth-plugin-data part 1 (8), filler (1), capability flags, lower (2),
 * character set (1), status flags (2), ...
 * https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_packets_protocol_handshake_v10.html
 */
export type GreetingRelay = TcpRelay;
export const GreetingRelay = {
  /** Starts a relay to `target` that clears `clearFlags` in the greeting's status flags. */
  start: (target: { host: string; port: number }, clearFlags: number): Promise<GreetingRelay> =>
    TcpRelay.start({ target, rewriteGreeting: (packet) => clearStatusFlags(packet, clearFlags) }),
};

/** Clears `flags` in the status flags of a handshake v10 packet (header included) in place. */
export function clearStatusFlags(packet: Buffer, flags: number): void {
  if (packet[4] !== 10) return; // an error packet (e.g. too many connections): as is
  const status = statusOffset(packet);
  packet.writeUInt16LE(packet.readUInt16LE(status) & ~flags, status);
}

/** Reads the status flags of a handshake v10 packet (header included). */
export function greetingStatusFlags(packet: Buffer): number {
  return packet.readUInt16LE(statusOffset(packet));
}

function statusOffset(packet: Buffer): number {
  const versionEnd = packet.indexOf(0, 5);
  return versionEnd + 1 + 4 + 8 + 1 + 2 + 1;
}
