import { readFileSync } from 'node:fs';
import { AddressInfo } from 'node:net';
import { createServer } from 'node:tls';
import type { EndpointTls } from '../../test/support/secrets-endpoint';
import type { SimulatedEnvironment } from '../../test/support/simulated-environment';

export const TLS_FLOOR_LABEL =
  'floor: TCP connect + resumed TLS 1.3 handshake + one round trip + close, no MySQL';

/**
 * Client CPU per connection of the TLS floor (tls-floor-probe.ts, bundled and running in
 * `probe`, which this stops), against an echo server in this process using the run server's
 * certificate.
 */
export async function measureTlsFloor(
  probe: SimulatedEnvironment,
  tls: EndpointTls,
  connections: number
): Promise<{ cpuMs: number; resumed: number }> {
  const server = createServer({ key: tls.key, cert: tls.cert }, (socket) => {
    socket.on('data', (data) => socket.write(data));
    socket.on('error', () => undefined); // a client's reset is not this bench's failure
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const { result } = await probe.invokeOk({
      port,
      ca: readFileSync(tls.caFile, 'utf8'),
      connections,
    });
    return result as { cpuMs: number; resumed: number };
  } finally {
    await probe.stop();
    await new Promise((resolve) => server.close(resolve));
  }
}
