import {
  KeyObject,
  constants,
  generateKeyPairSync,
  privateDecrypt,
  randomInt,
  timingSafeEqual,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AddressInfo, Server, Socket, connect as tcpConnect, createServer } from 'node:net';
import * as path from 'node:path';
import { Duplex } from 'node:stream';
import { TLSSocket, connect as tlsConnect } from 'node:tls';
import {
  CAP,
  Greeting,
  HandshakeResponse,
  PacketReader,
  errPacket,
  greetingPacket,
  handshakeResponsePacket,
  nativePasswordToken,
  parseGreeting,
  parseHandshakeResponse,
  sha256,
  sslRequestPacket,
  writePacket,
  xor,
} from './mysql-packets';
import type { ServerInfo } from './private-server';
import { tieSockets } from './tied-sockets';

/**
 * What MySQL 8.4 does at login, in front of the private MariaDB (which has no
 * caching_sha2_password plugin): a loopback port that greets with `caching_sha2_password`, does
 * TLS with the test CA, and authenticates the way sql/auth/sha2_password.cc
 * (caching_sha2_password_authenticate) does:
 *
 * - an empty response is the empty-password path;
 * - a 32-byte scramble XOR(SHA256(pw), SHA256(SHA256(SHA256(pw)) + nonce)) is checked against the
 *   cache entry SHA256(SHA256(pw)) of the user: a match sends AuthMoreData 0x03
 *   (fast_auth_success) then OK; a miss or a mismatch sends 0x04 (perform_full_authentication);
 * - full authentication takes the password in cleartext over TLS, or, without TLS, answers a
 *   0x02 public-key request with the RSA public key and decrypts the RSA-OAEP reply;
 * - the password is then verified by logging in to MariaDB with it (MySQL compares it with the
 *   account's salted SHA-256 hash); success fills the cache, failure relays MariaDB's 1045;
 * - the cache loses a user's entry on ALTER USER / SET PASSWORD / RENAME USER / DROP USER of that
 *   user sent through the front, and every entry on FLUSH PRIVILEGES
 *   (https://dev.mysql.com/doc/refman/8.4/en/caching-sha2-pluggable-authentication.html,
 *   "Cache Operation for SHA-2 Pluggable Authentication").
 *
 * After the login the session is MariaDB's, relayed byte for byte: the OK packet, the connection
 * id and the status flags are the database session's.
 *
 * Where it is not MySQL: it keeps the password learned in a full authentication next to the
 * cache entry, because after a fast authentication it must still log in to MariaDB as that user
 * (the fast-auth decision itself uses only the hash); a statement evicts when it is sent, not
 * when it succeeds; the cache is keyed by user name (every account here is `user@'%'`).
 * With `mysqlAccounts` it also answers `VERSION()` as MySQL, strips the plugin MariaDB lacks
 * from account statements (recorded in `accountPlugins`) and runs MySQL's `ALTER USER USER()
 * IDENTIFIED BY` as MariaDB's `SET PASSWORD = PASSWORD(…)`: SQL rewriting MySQL would not do.
 */
export class CachingSha2Front {
  /** One entry per login attempt, in order. */
  readonly logins: LoginRecord[] = [];
  /** Every byte each client sent before its session was relayed, as it crossed the wire. */
  readonly wireBytes: Buffer[] = [];
  /**
   * With `mysqlAccounts`: per user, the plugin its last CREATE USER / ALTER USER ... IDENTIFIED
   * named, or `(server default)` when it named none.
   */
  readonly accountPlugins = new Map<string, string>();
  private readonly cache = new Map<string, { hash: Buffer; password: string }>();
  private readonly sockets = new Set<Socket>();
  private rsa?: { privateKey: KeyObject; publicKeyPem: string };

  private constructor(
    private readonly server: Server,
    private readonly backend: ServerInfo,
    private readonly tls: { key: Buffer; cert: Buffer } | undefined,
    private readonly mysqlAccounts: boolean,
    private readonly passwordRequireCurrent: boolean
  ) {}

  /**
   * Listens on a free loopback port in front of `backend` (a private server we started: its
   * certificate, which names 127.0.0.1, is the front's). `tls: false` offers no TLS, like a
   * server without certificates. `mysqlAccounts: true` stands in for MySQL's account statements
   * too: `VERSION()` says 8.4.7, and the plugin a CREATE USER / ALTER USER names is recorded in
   * `accountPlugins` and dropped before MariaDB (which has no caching_sha2_password) runs it.
   * `passwordRequireCurrent: true` (with `mysqlAccounts`) is MySQL's `password_require_current`
   * ON: a user's own `ALTER USER USER()` must name its current password with REPLACE.
   */
  static async start(
    backend: ServerInfo,
    {
      tls = true,
      mysqlAccounts = false,
      passwordRequireCurrent = false,
    }: { tls?: boolean; mysqlAccounts?: boolean; passwordRequireCurrent?: boolean } = {}
  ): Promise<CachingSha2Front> {
    if (!backend.dir || !backend.caFile) {
      throw new Error('The caching_sha2_password front needs a private server with TLS.');
    }
    const read = (name: string) => readFileSync(path.join(backend.dir!, name));
    const material = { key: read('server.key'), cert: read('server.pem') };
    const server = createServer();
    const front = new CachingSha2Front(
      server,
      backend,
      tls ? material : undefined,
      mysqlAccounts,
      passwordRequireCurrent
    );
    server.on('connection', (socket) => front.accept(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return front;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Users with a cache entry (what fast authentication would accept). */
  cachedUsers(): string[] {
    return [...this.cache.keys()];
  }

  async stop(): Promise<void> {
    this.sockets.forEach((socket) => socket.destroy());
    await new Promise((resolve) => this.server.close(resolve));
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.setNoDelay(true);
    // A client that resets its connection ends its session; that is not the test's failure.
    socket.on('error', () => socket.destroy());
    const wire: Buffer[] = [];
    const record = (chunk: Buffer) => wire.push(chunk);
    socket.on('data', record);
    let backend: Backend | undefined;
    this.login(socket, (b) => (backend = b))
      .then(({ client, leftover }) => {
        socket.off('data', record);
        this.wireBytes.push(Buffer.concat(wire));
        relay(client, leftover.client, backend!, leftover.backend, (sql) =>
          this.statement(sql, backend!.user)
        );
      })
      .catch(() => {
        socket.off('data', record);
        this.wireBytes.push(Buffer.concat(wire));
        socket.destroy();
        backend?.socket.destroy();
      });
  }

  /** The connection phase; resolves with the client stream once the backend session is open. */
  private async login(
    socket: Socket,
    onBackend: (backend: Backend) => void
  ): Promise<{ client: Duplex; leftover: { client: Buffer; backend: Buffer } }> {
    const backend = await openBackend(this.backend);
    onBackend(backend);
    const nonce = saltBytes();
    const capabilities =
      ((backend.greeting.capabilities |
        CAP.LONG_PASSWORD |
        CAP.PROTOCOL_41 |
        CAP.SECURE_CONNECTION |
        CAP.PLUGIN_AUTH) &
        ~CAP.COMPRESS &
        ~(this.tls ? 0 : CAP.SSL) &
        0x1fffffff) | // no MariaDB-only or client-side bits
      (this.tls ? CAP.SSL : 0);
    let client: Duplex = socket;
    let reader = new PacketReader(socket);
    writePacket(
      socket,
      0,
      greetingPacket({
        ...backend.greeting,
        serverVersion: '8.4.7-caching-sha2-front',
        capabilities: capabilities >>> 0,
        nonce,
        authPluginName: 'caching_sha2_password',
      })
    );
    let packet = await reader.next();
    let secure = false;
    if (this.tls && packet.payload.length === 32) {
      // SSLRequest: the rest of the connection phase is inside TLS.
      const rest = reader.detach();
      client = serverTls(socket, rest, this.tls);
      await new Promise<void>((resolve, reject) => {
        (client as TLSSocket).once('secure', resolve);
        client.once('error', reject);
      });
      secure = true;
      reader = new PacketReader(client);
      packet = await reader.next();
    } else if (this.tls) {
      // require_secure_transport=ON, as on RDS (the parameter group sets it).
      writePacket(
        client,
        packet.seq + 1,
        errPacket(
          3159,
          'HY000',
          'Connections using insecure transport are prohibited while --require_secure_transport=ON.'
        )
      );
      throw new Error('insecure transport');
    }
    const response = parseHandshakeResponse(packet.payload);
    let seq = packet.seq;
    const send = (payload: Buffer) => writePacket(client, ++seq, payload);
    const receive = async () => {
      const next = await reader.next();
      seq = next.seq;
      return next.payload;
    };
    let token = response.authResponse;
    if (response.authPluginName !== 'caching_sha2_password') {
      // AuthSwitchRequest: 0xFE, plugin name, NUL, nonce, NUL.
      send(
        Buffer.concat([
          Buffer.from([0xfe]),
          Buffer.from('caching_sha2_password\0'),
          nonce,
          Buffer.from([0]),
        ])
      );
      token = await receive();
    }
    const user = response.user;
    const finish = async (password: string, path: LoginRecord['path']) => {
      const answer = await loginBackend(backend, response, password);
      const ok = answer[0] === 0x00;
      this.logins.push({ user, path, ok, secure });
      if (ok && path !== 'empty') {
        const hash = sha256(sha256(Buffer.from(password, 'utf8')));
        this.cache.set(user, { hash, password });
      } else if (!ok) {
        this.cache.delete(user);
      }
      send(answer);
      if (!ok) throw new Error('access denied');
    };

    if (token.length === 0 || (token.length === 1 && token[0] === 0)) {
      await finish('', 'empty');
    } else {
      if (token.length !== 32) throw new Error('malformed caching_sha2_password scramble');
      const cached = this.cache.get(user);
      if (cached && fastAuthenticates(token, nonce, cached.hash)) {
        send(Buffer.from([0x01, 0x03])); // AuthMoreData: fast_auth_success
        await finish(cached.password, 'fast');
      } else {
        send(Buffer.from([0x01, 0x04])); // AuthMoreData: perform_full_authentication
        let reply = await receive();
        let rsa = false;
        if (!secure) {
          const keys = this.rsaKeys();
          if (reply.length === 1 && reply[0] === 0x02) {
            send(Buffer.concat([Buffer.from([0x01]), Buffer.from(keys.publicKeyPem)]));
            reply = await receive();
          }
          const plain = privateDecrypt(
            { key: keys.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
            reply
          );
          reply = xor(plain, nonce);
          rsa = true;
        }
        const end = reply.indexOf(0);
        const password = reply.toString('utf8', 0, end < 0 ? reply.length : end);
        await finish(password, rsa ? 'full-rsa' : 'full');
      }
    }
    return { client, leftover: { client: reader.detach(), backend: backend.reader.detach() } };
  }

  private rsaKeys() {
    if (!this.rsa) {
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      this.rsa = {
        privateKey,
        publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      };
    }
    return this.rsa;
  }

  /** Looks at a statement on its way to MariaDB; returns what MariaDB is to run. */
  private statement(sql: string, sessionUser: string): string {
    const ownPassword = this.cache.get(sessionUser)?.password; // before the eviction below
    this.evict(sql, sessionUser);
    if (!this.mysqlAccounts) return sql;
    const own =
      /^\s*ALTER\s+USER\s+USER\(\)\s+IDENTIFIED\s+BY\s+('(?:[^']|'')*')(?:\s+REPLACE\s+'((?:[^']|'')*)')?\s*$/is.exec(
        sql
      );
    if (own) {
      // MySQL's password_require_current (sql_user.cc, validate_password_require_current()):
      // REPLACE must name the current password; without it an unprivileged account is refused
      // while the policy is on. MariaDB has neither, so the front decides and MariaDB signals.
      const current = own[2]?.replace(/''/g, "'");
      if (current !== undefined && current !== ownPassword) {
        return "SIGNAL SQLSTATE 'HY000' SET MYSQL_ERRNO = 3891, MESSAGE_TEXT = 'Incorrect current password. Specify the correct password which has to be replaced.'";
      }
      if (current === undefined && this.passwordRequireCurrent) {
        return "SIGNAL SQLSTATE 'HY000' SET MYSQL_ERRNO = 3892, MESSAGE_TEXT = 'Current password needs to be specified in the REPLACE clause in order to change it.'";
      }
      return `SET PASSWORD = PASSWORD(${own[1]})`;
    }
    const account =
      /^\s*(?:CREATE|ALTER)\s+USER\b.*?['`"]([^'`"]+)['`"]\s*@\s*\S+\s+IDENTIFIED\s+(?:WITH\s+(\w+)\s+)?BY\b/is.exec(
        sql
      );
    if (account) this.accountPlugins.set(account[1], account[2] ?? '(server default)');
    return sql
      .replace(/\bVERSION\(\)/gi, "'8.4.7'")
      .replace(/\bIDENTIFIED\s+WITH\s+caching_sha2_password\s+BY\b/gi, 'IDENTIFIED BY');
  }

  /** What MySQL does to the cache when a statement changes or reloads accounts. */
  private evict(sql: string, sessionUser: string): void {
    if (/^\s*FLUSH\s+PRIVILEGES/i.test(sql)) {
      this.cache.clear();
      return;
    }
    if (!/^\s*(ALTER\s+USER|SET\s+PASSWORD|RENAME\s+USER|DROP\s+USER)\b/i.test(sql)) return;
    const named = [...sql.matchAll(/['`"]([^'`"]+)['`"]\s*@/g)].map((m) => m[1]);
    const ownAccount = /^\s*(SET\s+PASSWORD\s*=|ALTER\s+USER\s+USER\(\))/i.test(sql);
    const users = named.length > 0 ? named : ownAccount ? [sessionUser] : [];
    if (users.length === 0) this.cache.clear();
    users.forEach((u) => this.cache.delete(u));
  }
}

export interface LoginRecord {
  readonly user: string;
  /** `fast`: cache hit and scramble match; `full`: password over TLS; `full-rsa`: RSA-encrypted. */
  readonly path: 'fast' | 'full' | 'full-rsa' | 'empty';
  readonly ok: boolean;
  /** Whether the client had switched to TLS. */
  readonly secure: boolean;
}

/** sha2_password.cc's fast_authenticate: SHA256(scramble XOR SHA256(hash + nonce)) == hash. */
function fastAuthenticates(token: Buffer, nonce: Buffer, hash: Buffer): boolean {
  const stage1 = xor(token, sha256(Buffer.concat([hash, nonce])));
  return timingSafeEqual(sha256(stage1), hash);
}

/** generate_user_salt(): 20 bytes from 1..127, never NUL or '$'. */
function saltBytes(): Buffer {
  return Buffer.from(
    Array.from({ length: 20 }, () => {
      const byte = randomInt(1, 128);
      return byte === 0x24 ? 0x25 : byte;
    })
  );
}

export interface Backend {
  readonly socket: Socket;
  reader: PacketReader;
  readonly greeting: Greeting;
  stream?: TLSSocket;
  user: string;
  readonly ca: Buffer;
  readonly host: string;
}

export async function openBackend(server: ServerInfo): Promise<Backend> {
  const socket = tcpConnect({ host: server.host, port: server.port });
  socket.setNoDelay(true);
  socket.on('error', () => socket.destroy());
  const reader = new PacketReader(socket);
  const greeting = parseGreeting((await reader.next()).payload);
  return {
    socket,
    reader,
    greeting,
    user: '',
    ca: readFileSync(server.caFile!),
    host: server.host,
  };
}

/** Logs in to MariaDB (TLS, mysql_native_password) as the client; resolves with its OK or ERR. */
export async function loginBackend(
  backend: Backend,
  client: HandshakeResponse,
  password: string
): Promise<Buffer> {
  const capabilities =
    ((client.capabilities & backend.greeting.capabilities) |
      CAP.SSL |
      CAP.PROTOCOL_41 |
      CAP.SECURE_CONNECTION |
      CAP.PLUGIN_AUTH |
      (client.database !== undefined ? CAP.CONNECT_WITH_DB : 0)) &
    ~CAP.PLUGIN_AUTH_LENENC_CLIENT_DATA;
  writePacket(backend.socket, 1, sslRequestPacket(capabilities, client.characterSet));
  backend.reader.detach();
  const stream = tlsConnect({ socket: backend.socket, ca: backend.ca, host: backend.host });
  stream.on('error', () => stream.destroy());
  await new Promise<void>((resolve, reject) => {
    stream.once('secureConnect', resolve);
    stream.once('error', reject);
  });
  backend.stream = stream;
  backend.user = client.user;
  backend.reader = new PacketReader(stream);
  writePacket(
    stream,
    2,
    handshakeResponsePacket({
      ...client,
      capabilities,
      authResponse: nativePasswordToken(password, backend.greeting.nonce),
      authPluginName: 'mysql_native_password',
    })
  );
  for (;;) {
    const { seq, payload } = await backend.reader.next();
    if (payload[0] !== 0xfe) return payload; // OK or ERR
    // AuthSwitchRequest to mysql_native_password with a new nonce.
    const nameEnd = payload.indexOf(0, 1);
    const nonce = payload.subarray(nameEnd + 1, nameEnd + 21);
    writePacket(stream, seq + 1, nativePasswordToken(password, nonce));
  }
}

/** TLS as the server, over a socket whose reader may already hold the ClientHello's first bytes. */
export function serverTls(socket: Socket, alreadyRead: Buffer, tls: { key: Buffer; cert: Buffer }) {
  const carrier = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk, _encoding, callback) {
      socket.write(chunk, callback);
    },
    final(callback) {
      socket.end();
      callback();
    },
  });
  if (alreadyRead.length > 0) carrier.push(alreadyRead);
  socket.on('data', (chunk) => carrier.push(chunk));
  socket.once('end', () => carrier.push(null));
  socket.once('close', () => carrier.destroy());
  carrier.on('error', () => socket.destroy());
  const secure = new TLSSocket(carrier, { isServer: true, key: tls.key, cert: tls.cert });
  secure.on('error', () => secure.destroy());
  return secure;
}

/**
 * Relays the command phase both ways. The client's packets are passed on whole, each statement
 * (COM_QUERY) as `onStatement` returns it.
 */
function relay(
  client: Duplex,
  clientRest: Buffer,
  backend: Backend,
  backendRest: Buffer,
  onStatement: (sql: string) => string
): void {
  const server = backend.stream!;
  let pending = Buffer.alloc(0);
  const forward = (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 4) {
      const length = pending.readUIntLE(0, 3);
      if (pending.length < 4 + length) break;
      const seq = pending[3];
      let payload = pending.subarray(4, 4 + length);
      pending = pending.subarray(4 + length);
      // 0xffffff-long packets continue in the next one: never split a statement across them.
      if (payload[0] === 0x03 && length < 0xffffff) {
        const sql = payload.toString('utf8', 1);
        const sent = onStatement(sql);
        if (sent !== sql) payload = Buffer.concat([Buffer.from([0x03]), Buffer.from(sent)]);
      }
      writePacket(server, seq, payload);
    }
  };
  if (backendRest.length > 0) client.write(backendRest);
  if (clientRest.length > 0) forward(clientRest);
  client.on('data', forward);
  server.on('data', (chunk: Buffer) => client.write(chunk));
  tieSockets(client, server, () => {
    client.destroy();
    server.destroy();
    backend.socket.destroy();
  });
}
