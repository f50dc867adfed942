import { AddressInfo, Server, Socket, connect, createServer } from 'node:net';
import { TcpRelay as LatencyProxy } from '../support/tcp-relay';

/** A server that speaks first (like MySQL's greeting) and answers each line; `quit` gets no answer. */
async function lineServer(): Promise<Server> {
  const server = createServer((socket) => {
    socket.write('hello\n');
    socket.on('data', (chunk) => {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        if (line !== 'quit') {
          socket.write(`${line.toUpperCase()}!\n`);
        }
      }
    });
    socket.on('end', () => socket.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/** Resolves with the next complete line the socket receives. */
function nextLine(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    let buffer = '';
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString();
      if (buffer.includes('\n')) {
        socket.off('data', onData);
        resolve(buffer.trimEnd());
      }
    };
    socket.on('data', onData);
  });
}

describe('latency-injecting proxy', () => {
  let server: Server;
  let proxy: LatencyProxy;

  beforeEach(async () => {
    server = await lineServer();
    // 0 ms keeps the test free of timing; the counting does not depend on the delay.
    proxy = await LatencyProxy.start({
      target: { host: '127.0.0.1', port: (server.address() as AddressInfo).port },
      oneWayMs: 0,
    });
  });

  afterEach(async () => {
    await proxy.stop();
    await new Promise((resolve) => server.close(resolve));
  });

  test('counts the handshake, every answered request, and the bytes each way', async () => {
    const client = connect({ host: '127.0.0.1', port: proxy.port });
    expect(await nextLine(client)).toBe('hello');
    for (const word of ['ping', 'pong']) {
      const answer = nextLine(client);
      client.write(`${word}\n`);
      expect(await answer).toBe(`${word.toUpperCase()}!`);
    }
    client.end('quit\n');
    expect(await proxy.drained()).toBe(true);

    expect(proxy.read()).toEqual({
      connections: 1,
      open: 0,
      bytesToServer: 'ping\npong\nquit\n'.length,
      bytesToClient: 'hello\nPING!\nPONG!\n'.length,
      clientFlights: 3,
      serverFlights: 3,
      // TCP handshake + greeting + two answered requests; the unanswered quit costs no wait.
      roundTrips: 4,
    });
  });

  test('a reused connection costs one round trip per request after a reset', async () => {
    const client = connect({ host: '127.0.0.1', port: proxy.port });
    await nextLine(client);
    proxy.reset();
    const answer = nextLine(client);
    client.write('select\n');
    await answer;
    expect(proxy.read()).toMatchObject({
      connections: 0,
      open: 1,
      roundTrips: 1,
      clientFlights: 1,
      serverFlights: 1,
    });
    client.end('quit\n');
    expect(await proxy.drained()).toBe(true);
  });

  test('a negative delay is refused', async () => {
    await expect(
      LatencyProxy.start({ target: { host: '127.0.0.1', port: 1 }, oneWayMs: -1 })
    ).rejects.toThrow('0 or more');
  });
});
