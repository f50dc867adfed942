import { StaticCredentials } from '../../lambda/lib/credentials';
import { readReplicaConfig, ReplicaCredentials } from '../../lambda/lib/replica-config';

describe('replica configuration', () => {
  test('none set: no replica, every read goes to the primary', () => {
    expect(readReplicaConfig({})).toBeUndefined();
    expect(readReplicaConfig({ DB_REPLICA_HOSTS: ' ' })).toBeUndefined();
  });

  test('DB_REPLICA_HOSTS: comma-separated endpoints, blanks ignored', () => {
    expect(readReplicaConfig({ DB_REPLICA_HOSTS: 'a.example.com, b.example.com,' })).toEqual({
      kind: 'hosts',
      hosts: ['a.example.com', 'b.example.com'],
    });
  });

  test('DB_REPLICA_HOSTS with something that is not a host name is a ConfigurationError', () => {
    expect(() => readReplicaConfig({ DB_REPLICA_HOSTS: 'a.example.com,mysql://x' })).toThrow(
      expect.objectContaining({ name: 'ConfigurationError' })
    );
  });

  test('DATABASE_REPLICA_URL: read like DATABASE_URL, the password never in the error', () => {
    expect(
      readReplicaConfig({ DATABASE_REPLICA_URL: 'mysql://reader:pw@127.0.0.1:3307/app' })
    ).toEqual({
      kind: 'urls',
      replicas: [
        {
          credentials: {
            host: '127.0.0.1',
            port: 3307,
            user: 'reader',
            password: 'pw',
            database: 'app',
          },
          tls: undefined,
        },
      ],
    });
    expect(() => readReplicaConfig({ DATABASE_REPLICA_URL: 'http://reader:secret@x/app' })).toThrow(
      expect.objectContaining({
        name: 'ConfigurationError',
        message: expect.not.stringContaining('secret'),
      })
    );
  });

  test("a replica uses the primary's user, password, port and database on its own host", async () => {
    const primary = new StaticCredentials({
      host: 'primary.example.com',
      port: 3306,
      user: 'reader',
      password: 'pw',
      database: 'app',
    });
    const replica = new ReplicaCredentials(primary, 'replica-1.example.com');
    expect(await replica.current()).toEqual({
      host: 'replica-1.example.com',
      port: 3306,
      user: 'reader',
      password: 'pw',
      database: 'app',
    });
    // The replica's host comes from the environment: re-reading the secret cannot fix it.
    expect(await replica.reread()).toBeUndefined();
  });
});
