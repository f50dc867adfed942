import { AddressInfo, Server, Socket, connect, createServer } from 'node:net';

export interface RelayTarget {
  readonly host: string;
  readonly port: number;
}

export interface RelayOptions {
  /**
   * Where the real server listens, or a function asked once per new connection (a DNS name
   * that moves: switchover-drill.ts). Connections already open stay where they are.
   */
  readonly target: RelayTarget | (() => RelayTarget);
  /** Delay added to every byte in each direction, like half a network round trip. @default 0 */
  readonly oneWayMs?: number;
  /**
   * Rewrites the server's first MySQL packet (its greeting, header included, sent in plaintext
   * before any TLS upgrade) in place before the client sees it, as a proxy such as RDS Proxy
   * shows the client its own greeting. @default - every byte passes as is
   */
  readonly rewriteGreeting?: (packet: Buffer) => void;
}

/** What crossed the proxy since the last reset. */
export interface ProxyStats {
  /** TCP connections accepted. */
  readonly connections: number;
  /** Connections still open. */
  readonly open: number;
  readonly bytesToServer: number;
  readonly bytesToClient: number;
  /** Runs of bytes in one direction (a direction change starts a new flight). */
  readonly clientFlights: number;
  readonly serverFlights: number;
  /**
   * Round trips the client waited for: one per TCP handshake (SYN, SYN-ACK) plus one per
   * server flight (MySQL's greeting answers the handshake's final ACK; every other server
   * flight answers the client flight before it). A client flight nobody answers (COM_QUIT)
   * costs no wait.
   */
  readonly roundTrips: number;
}

type Direction = 'toServer' | 'toClient';

/**
 * A TCP relay on 127.0.0.1 that delays every chunk by `oneWayMs` in each direction and counts
 * bytes and flights (the bench's latency proxy), and may rewrite the server greeting (the
 * handler tests' stand-in for a proxy's greeting). Opening a connection costs what a real one does before the server can
 * speak: SYN, SYN-ACK and the final ACK (three one-way delays), then the greeting's own delay.
 * Order is preserved because every chunk of one direction waits the same time.
 */
export class TcpRelay {
  private stats = emptyStats();
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly lastDirection = new Map<Socket, Direction>();

  private constructor(
    private readonly server: Server,
    private readonly options: RelayOptions
  ) {
    server.on('connection', (client) => this.accept(client));
  }

  static async start(options: RelayOptions): Promise<TcpRelay> {
    if (!((options.oneWayMs ?? 0) >= 0)) {
      throw new Error(`oneWayMs must be 0 or more, got ${options.oneWayMs}`);
    }
    const server = createServer({ pauseOnConnect: true, noDelay: true });
    const proxy = new TcpRelay(server, options);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** A copy of the counters since the last reset. */
  read(): ProxyStats {
    const { connections, open, bytesToServer, bytesToClient, clientFlights, serverFlights } =
      this.stats;
    return {
      connections,
      open,
      bytesToServer,
      bytesToClient,
      clientFlights,
      serverFlights,
      roundTrips: connections + serverFlights,
    };
  }

  /** Zeroes the counters (open connections stay counted as open). */
  reset(): void {
    const open = this.stats.open;
    this.stats = { ...emptyStats(), open };
    this.lastDirection.clear();
  }

  /** Resolves once no connection is open (bounded by `timeoutMs`); returns whether that happened. */
  async drained(timeoutMs = 2000): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (this.stats.open > 0 && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return this.stats.open === 0;
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) {
      clearTimeout(timer);
    }
    for (const socket of this.sockets) {
      socket.destroy();
    }
    await new Promise((resolve) => this.server.close(resolve));
  }

  private later(fn: () => void, ms: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }

  private accept(client: Socket): void {
    const d = this.options.oneWayMs ?? 0;
    this.stats.connections++;
    this.stats.open++;
    this.sockets.add(client);
    client.once('close', () => {
      this.stats.open--;
      this.sockets.delete(client);
      this.lastDirection.delete(client);
    });
    const count = (direction: Direction, bytes: number) => {
      if (direction === 'toServer') {
        this.stats.bytesToServer += bytes;
      } else {
        this.stats.bytesToClient += bytes;
      }
      if (this.lastDirection.get(client) !== direction) {
        this.lastDirection.set(client, direction);
        if (direction === 'toServer') {
          this.stats.clientFlights++;
        } else {
          this.stats.serverFlights++;
        }
      }
    };

    const target =
      typeof this.options.target === 'function' ? this.options.target() : this.options.target;
    // The server accepts once SYN, SYN-ACK and ACK have crossed: three one-way delays.
    this.later(() => {
      if (client.destroyed) {
        return;
      }
      const upstream = connect({ host: target.host, port: target.port, noDelay: true });
      this.sockets.add(upstream);
      upstream.once('close', () => this.sockets.delete(upstream));
      const pipe = (from: Socket, to: Socket, direction: Direction) => {
        const rewrite = direction === 'toClient' ? this.options.rewriteGreeting : undefined;
        let greeting = rewrite ? Buffer.alloc(0) : undefined;
        from.on('data', (chunk: Buffer) => {
          count(direction, chunk.length);
          if (greeting) {
            // Held until the whole first packet (3-byte length, sequence, payload) is in.
            greeting = Buffer.concat([greeting, chunk]);
            if (greeting.length < 4 || greeting.length < 4 + greeting.readUIntLE(0, 3)) return;
            rewrite!(greeting);
            [chunk, greeting] = [greeting, undefined];
          }
          this.later(() => to.write(chunk), d);
        });
        from.on('end', () => this.later(() => to.end(), d));
        from.on('error', () => undefined); // the 'close' below tears the other side down
        from.on('close', () => this.later(() => to.destroy(), d));
      };
      pipe(client, upstream, 'toServer');
      pipe(upstream, client, 'toClient');
      client.resume();
    }, 3 * d);
  }
}

function emptyStats() {
  return {
    connections: 0,
    open: 0,
    bytesToServer: 0,
    bytesToClient: 0,
    clientFlights: 0,
    serverFlights: 0,
  };
}
