import { RowDataPacket } from 'mysql2/promise';
import { AppDatabase } from '../support/app-database';
import { LambdaEnvironment } from '../support/lambda-environment';
import { stopPrivateServer } from '../support/private-server';
import {
  onReplica,
  ReplicatedPair,
  startReplicatedPair,
  stopReplicatedPair,
  waitForReplica,
} from '../support/replicated-pair';

interface User {
  id: number;
  email: string;
  name: string;
  version: number;
}
type ServedBy = 'primary' | 'replica';
type UserRead = { user: User | null; servedBy: ServedBy };
type PageRead = { users: User[]; next: number | null; servedBy: ServedBy };

const DELAY_SECONDS = 1;

/**
 * A real primary and replica (two private MariaDB servers, GTID replication, the replica
 * applying every transaction DELAY_SECONDS late), one writer and two reader environments.
 * The pair is started once for this file; the "server down" test runs last.
 */
describe('reads from a replica that is behind', () => {
  let pair: ReplicatedPair;
  let db: AppDatabase;
  let writer: LambdaEnvironment;
  let readers: LambdaEnvironment[];

  beforeAll(async () => {
    pair = await startReplicatedPair({ delaySeconds: DELAY_SECONDS });
    db = await AppDatabase.create('replicas', pair.primary);
    await waitForReplica(pair); // schema, users and grants are on the replica too
    const readerEnv = {
      ...db.env('reader'),
      DATABASE_REPLICA_URL: db.env('reader', { port: pair.replica.port }).DATABASE_URL,
    };
    [writer, ...readers] = await Promise.all([
      LambdaEnvironment.start('writer', db.env('writer')),
      LambdaEnvironment.start('reader', readerEnv),
      LambdaEnvironment.start('reader', readerEnv),
    ]);
  });

  afterAll(async () => {
    await Promise.all([writer?.stop(), ...(readers ?? []).map((r) => r.stop())]);
    await db?.dispose();
    await stopReplicatedPair(pair);
  });

  /** Connections the primary has accepted so far (db.admin's query opens none). */
  const primaryConnections = async () => {
    const [[row]] = await db.admin.query<RowDataPacket[]>("SHOW GLOBAL STATUS LIKE 'Connections'");
    return Number(row.Value);
  };

  const write = (email: string, name: string) =>
    writer.invoke<{ user: User }>({ email, name }).then((r) => r.user);

  test('minVersion never returns an older version; eventual reads show the replica is behind', async () => {
    const older: string[] = [];
    let staleEventual = 0;
    const servedBy: Record<ServedBy, number> = { primary: 0, replica: 0 };
    for (let round = 1; round <= 6; round++) {
      const email = `chain${round % 2}@example.com`; // two users, each updated three times
      const written = await write(email, `round ${round}`);
      for (const [index, reader] of readers.entries()) {
        const read = await reader.invoke<UserRead>({ email, minVersion: written.version });
        servedBy[read.servedBy]++;
        if (read.user === null || read.user.version < written.version) {
          older.push(`round ${round}, reader ${index}: ${JSON.stringify(read)}`);
        }
        const eventual = await reader.invoke<UserRead>({ email, consistency: 'eventual' });
        expect(eventual.servedBy).toBe('replica');
        if (eventual.user === null || eventual.user.version < written.version) {
          staleEventual++;
        }
      }
    }
    expect(older).toEqual([]);
    // The same chains without minVersion did read old rows: the replica really was behind...
    expect(staleEventual).toBeGreaterThan(0);
    // ...so read-your-writes had to go to the primary.
    expect(servedBy.primary).toBeGreaterThan(0);
    expect(await db.waitForNoSessions()).toEqual([]);
  });

  test('once the replica has the write, minVersion reads are served by the replica', async () => {
    const written = await write('caught-up@example.com', 'Ann');
    await waitForReplica(pair);
    const before = await primaryConnections();
    for (const reader of readers) {
      expect(
        await reader.invoke<UserRead>({ email: written.email, minVersion: written.version })
      ).toEqual({ user: written, servedBy: 'replica' });
    }
    // Served by the replica: not a single connection was opened on the primary.
    expect(await primaryConnections()).toBe(before);
    // Without minVersion or consistency a read stays on the primary.
    expect(await readers[0].invoke<UserRead>({ email: written.email })).toEqual({
      user: written,
      servedBy: 'primary',
    });
  });

  test('list reads use the replica only when asked for eventual consistency', async () => {
    await write('listed@example.com', 'Listed');
    const strong = await readers[0].invoke<PageRead>({ limit: 100 });
    const eventual = await readers[0].invoke<PageRead>({ limit: 100, consistency: 'eventual' });
    expect(strong.servedBy).toBe('primary');
    expect(eventual.servedBy).toBe('replica');
  });

  test('with replication stopped, minVersion reads go to the primary', async () => {
    await onReplica(pair, 'STOP SLAVE');
    try {
      const written = await write('stopped@example.com', 'Before');
      // Longer than the delay: only the stopped replication keeps the replica behind now.
      await new Promise((resolve) => setTimeout(resolve, (DELAY_SECONDS + 1) * 1000));
      for (const reader of readers) {
        const before = await primaryConnections();
        expect(
          await reader.invoke<UserRead>({ email: written.email, minVersion: written.version })
        ).toEqual({ user: written, servedBy: 'primary' });
        expect(await primaryConnections()).toBe(before + 1); // the one extra connection
        expect(
          await reader.invoke<UserRead>({ email: written.email, consistency: 'eventual' })
        ).toEqual({ user: null, servedBy: 'replica' });
      }
    } finally {
      await onReplica(pair, 'START SLAVE');
    }
  });

  test('with the replica server down, every read falls back to the primary', async () => {
    const written = await write('down@example.com', 'Down');
    await stopPrivateServer(pair.replica);
    for (const reader of readers) {
      expect(
        await reader.invoke<UserRead>({ email: written.email, minVersion: written.version })
      ).toEqual({ user: written, servedBy: 'primary' });
      expect(
        await reader.invoke<UserRead>({ email: written.email, consistency: 'eventual' })
      ).toEqual({ user: written, servedBy: 'primary' });
      const page = await reader.invoke<PageRead>({ limit: 100, consistency: 'eventual' });
      expect(page.servedBy).toBe('primary');
    }
  });
});
