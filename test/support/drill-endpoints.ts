import { AppDatabase } from './app-database';
import { ServerInfo } from './private-server';
import { startBehindProxy } from './rds-proxy/behind-proxy';
import { RelayTarget, TcpRelay } from './tcp-relay';

/** What the functions connect to: a DNS name (the relay), or RDS Proxy (the stand-in). */
export interface Endpoint {
  env(role: 'writer' | 'reader'): Record<string, string>;
  /** Sends new connections to `next` (every other one to the old target while lagging). */
  moveTo(next: ServerInfo, lag?: { ms: number; connections: number }): Promise<number>;
  stop(): Promise<void>;
}

export async function dnsName(db: AppDatabase, initial: ServerInfo): Promise<Endpoint> {
  const name = await MovableName.start(initial);
  return {
    env: (role) => db.env(role, { port: name.port }),
    moveTo: (next, lag) => name.moveTo(next, lag),
    stop: () => name.stop(),
  };
}

export async function proxyEndpoint(db: AppDatabase, target: MovableServer): Promise<Endpoint> {
  const proxied = await startBehindProxy(db);
  return {
    env: (role) => proxied.env(role),
    moveTo: async (next) => {
      target.moveTo(next);
      return performance.now();
    },
    stop: () => proxied.stop(),
  };
}

/**
 * A server whose address can change: what the proxy stand-in reads at each database login
 * (test/support/rds-proxy/database-connection.ts), so it follows a switchover as RDS Proxy does.
 */
export class MovableServer implements ServerInfo {
  constructor(private current: ServerInfo) {}

  get host(): string {
    return this.current.host;
  }
  get port(): number {
    return this.current.port;
  }
  get adminUser(): string {
    return this.current.adminUser;
  }
  get adminPassword(): string {
    return this.current.adminPassword;
  }
  get caFile(): string | undefined {
    return this.current.caFile;
  }
  get untrustedCaFile(): string | undefined {
    return this.current.untrustedCaFile;
  }
  get pid(): number | undefined {
    return this.current.pid;
  }
  get dir(): string | undefined {
    return this.current.dir;
  }

  moveTo(next: ServerInfo): void {
    this.current = next;
  }
}

/**
 * The endpoint's DNS name: a relay whose target moves. While lagging, every other new
 * connection still resolves to the old target; connections already open stay where they are.
 */
class MovableName {
  private current: RelayTarget;
  private previous: RelayTarget | undefined;
  private lag: { until: number; connections: number; ended: () => void } | undefined;
  private toggle = 0;

  private constructor(
    initial: RelayTarget,
    private relay?: TcpRelay
  ) {
    this.current = initial;
  }

  static async start(initial: ServerInfo): Promise<MovableName> {
    const name = new MovableName({ host: initial.host, port: initial.port });
    name.relay = await TcpRelay.start({ target: () => name.resolve() });
    return name;
  }

  get port(): number {
    return this.relay!.port;
  }

  /**
   * Points the name at `next`. Lagging: every other new connection still goes to the old
   * target until `ms` have passed and `connections` went there. Resolves when the lag ended.
   */
  moveTo(next: ServerInfo, lag = { ms: 0, connections: 0 }): Promise<number> {
    this.previous = this.current;
    this.current = { host: next.host, port: next.port };
    if (lag.ms <= 0 && lag.connections <= 0) return Promise.resolve(performance.now());
    return new Promise((resolve) => {
      const ended = () => {
        this.lag = undefined;
        resolve(performance.now());
      };
      this.lag = { until: performance.now() + lag.ms, connections: lag.connections, ended };
      setTimeout(() => this.lagOver(), lag.ms);
    });
  }

  private lagOver(): void {
    if (this.lag && performance.now() >= this.lag.until && this.lag.connections <= 0) {
      this.lag.ended();
    }
  }

  private resolve(): RelayTarget {
    if (this.lag && this.previous && this.toggle++ % 2 === 0) {
      this.lag.connections--;
      this.lagOver();
      return this.previous;
    }
    return this.current;
  }

  stop(): Promise<void> {
    return this.relay!.stop();
  }
}
