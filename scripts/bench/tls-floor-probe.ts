/**
 * Bundled by the bench and loaded in a fresh environment: the least client CPU any connection
 * per invocation can cost with TLS. Each connection is a TCP connect, a TLS handshake resuming
 * the previous session (as the functions' second and later invocations do), one byte there and
 * back and a close, against a local TLS echo server: no MySQL, no driver, no handler.
 */
import { connect, createSecureContext } from 'node:tls';

export interface TlsFloorEvent {
  readonly port: number;
  /** PEM of the CA that signed the server's certificate for 127.0.0.1. */
  readonly ca: string;
  readonly connections: number;
}

export async function handler(event: TlsFloorEvent) {
  // One context for all connections, as the functions keep one per environment (config.ts).
  const secureContext = createSecureContext({ ca: event.ca, minVersion: 'TLSv1.2' });
  let session: Buffer | undefined;
  const once = () =>
    new Promise<boolean>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: event.port, secureContext, session });
      let resumed = false;
      socket.on('session', (ticket: Buffer) => (session = ticket));
      socket.once('secureConnect', () => {
        resumed = socket.isSessionReused();
        socket.write('x');
      });
      socket.once('data', () => socket.end());
      socket.once('close', () => resolve(resumed));
      socket.once('error', reject);
    });
  for (let i = 0; i < 50; i++) {
    await once(); // a session to resume, and the JIT warm
  }
  const cpu = process.cpuUsage();
  let resumed = 0;
  for (let i = 0; i < event.connections; i++) {
    resumed += (await once()) ? 1 : 0;
  }
  const used = process.cpuUsage(cpu);
  return { cpuMs: (used.user + used.system) / 1000 / event.connections, resumed };
}
