import { randomInt, timingSafeEqual } from 'node:crypto';
import { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import { serverTls } from '../caching-sha2-front';
import {
  CAP,
  HandshakeResponse,
  PacketReader,
  errPacket,
  greetingPacket,
  nativePasswordToken,
  parseHandshakeResponse,
  sha256,
  writePacket,
  xor,
} from '../mysql-packets';
import { ProxySecret, SecretCache } from './secret-cache';

/**
 * How the proxy checks a client's password, per secret: the auth list's `ClientPasswordAuthType`
 * (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_UserAuthConfig.html).
 */
export type ClientPasswordAuthType = 'MYSQL_NATIVE_PASSWORD' | 'MYSQL_CACHING_SHA2_PASSWORD';

const PLUGIN: Record<ClientPasswordAuthType, string> = {
  MYSQL_NATIVE_PASSWORD: 'mysql_native_password',
  MYSQL_CACHING_SHA2_PASSWORD: 'caching_sha2_password',
};

/**
 * What the proxy offers a client (include/mysql_com.h): the protocol the stand-in relays. Not
 * CLIENT_DEPRECATE_EOF, CLIENT_SESSION_TRACK or compression, so every database connection of a
 * pool frames its replies the same way whatever the client asked for.
 */
export const PROXY_CAPABILITIES =
  CAP.LONG_PASSWORD |
  2 | // CLIENT_FOUND_ROWS
  4 | // CLIENT_LONG_FLAG
  CAP.CONNECT_WITH_DB |
  CAP.PROTOCOL_41 |
  (1 << 13) | // CLIENT_TRANSACTIONS
  CAP.SECURE_CONNECTION |
  (1 << 16) | // CLIENT_MULTI_STATEMENTS
  (1 << 17) | // CLIENT_MULTI_RESULTS
  (1 << 18) | // CLIENT_PS_MULTI_RESULTS
  CAP.PLUGIN_AUTH |
  CAP.CONNECT_ATTRS |
  CAP.PLUGIN_AUTH_LENENC_CLIENT_DATA;

/** A client the proxy has authenticated; its OK (or the database's refusal) is still to send. */
export interface AuthenticatedClient {
  /** The client's stream: the socket, or TLS over it. */
  readonly stream: Duplex;
  /** What the client asked for (user, database, character set, capabilities as granted). */
  readonly response: HandshakeResponse;
  /** The cached secret the password matched: what the proxy logs in to the database with. */
  readonly secret: ProxySecret;
  readonly secure: boolean;
  /** Sequence id of the client's last packet: the proxy's answer takes the next one. */
  readonly seq: number;
  /** Bytes the client sent past its last login packet. */
  readonly leftover: Buffer;
}

export interface ClientLoginOptions {
  readonly tls?: { key: Buffer; cert: Buffer };
  /** `RequireTLS` of the proxy. */
  readonly requireTls: boolean;
  readonly authTypeOf: (user: string) => ClientPasswordAuthType | undefined;
  readonly secrets: SecretCache;
  readonly connectionId: number;
  readonly serverVersion: string;
  /** Called with every client login's outcome. */
  readonly record: (login: ClientLoginRecord) => void;
}

export interface ClientLoginRecord {
  readonly user: string;
  readonly ok: boolean;
  /** What refused it, when it was refused. */
  readonly error?: 'no-tls' | 'unknown-user' | 'wrong-password';
  readonly plugin?: string;
  readonly secure: boolean;
}

/**
 * The connection phase on the client's side, as the RDS Proxy guide describes it: TLS with the
 * proxy's certificate (required when `RequireTLS`: rds-proxy.howitworks.html#rds-proxy-security.tls),
 * then the client's password checked against the proxy's cached secret for that user with the
 * secret's `ClientPasswordAuthType` (rds-proxy-secrets-arns.html). The checks are the servers'
 * own: mysql_native_password's SHA1 scramble, caching_sha2_password's SHA-256 scramble
 * (sql/auth/sha2_password.cc; the proxy holds the cleartext, so it answers fast_auth_success
 * whenever the scramble matches). Refusals are MySQL's errors: 3159 without TLS, 1045 for an
 * unknown user or a wrong password. Throws after sending a refusal.
 */
export async function authenticateClient(
  socket: Socket,
  options: ClientLoginOptions
): Promise<AuthenticatedClient> {
  const nonce = saltBytes();
  const firstPlugin = 'mysql_native_password';
  const capabilities = (PROXY_CAPABILITIES | (options.tls ? CAP.SSL : 0)) >>> 0;
  writePacket(
    socket,
    0,
    greetingPacket({
      serverVersion: options.serverVersion,
      connectionId: options.connectionId,
      capabilities,
      characterSet: 255, // utf8mb4_0900_ai_ci, MySQL 8.4's default
      statusFlags: 0x0002, // SERVER_STATUS_AUTOCOMMIT
      nonce,
      authPluginName: firstPlugin,
    })
  );
  let stream: Duplex = socket;
  let reader = new PacketReader(socket);
  let packet = await reader.next();
  let secure = false;
  const refuse = (code: number, state: string, message: string) => {
    writePacket(stream, packet.seq + 1, errPacket(code, state, message));
    throw new LoginRefused(message, stream);
  };
  if (options.tls && packet.payload.length === 32) {
    const rest = reader.detach();
    stream = serverTls(socket, rest, options.tls);
    await new Promise<void>((resolve, reject) => {
      (stream as TLSSocket).once('secure', resolve);
      stream.once('error', reject);
    });
    secure = true;
    reader = new PacketReader(stream);
    packet = await reader.next();
  }
  const parsed = parseHandshakeResponse(packet.payload);
  const response = { ...parsed, capabilities: (parsed.capabilities & capabilities) >>> 0 };
  const user = response.user;
  if (options.requireTls && !secure) {
    options.record({ user, ok: false, error: 'no-tls', secure });
    // MySQL's ER_SECURE_TRANSPORT_REQUIRED, which the guide's TLS requirement amounts to.
    refuse(
      3159,
      'HY000',
      'Connections using insecure transport are prohibited while --require_secure_transport=ON.'
    );
  }
  const denied = (error: ClientLoginRecord['error'], plugin?: string) => {
    options.record({ user, ok: false, error, plugin, secure });
    const host = (socket.remoteAddress ?? 'localhost').replace(/^::ffff:/, '');
    refuse(1045, '28000', `Access denied for user '${user}'@'${host}' (using password: YES)`);
  };
  const authType = options.authTypeOf(user);
  let secret = authType && (await options.secrets.secretFor(user));
  if (!authType || !secret) return denied('unknown-user') as never;
  const plugin = PLUGIN[authType];
  let seq = packet.seq;
  let token = response.authResponse;
  if (response.authPluginName !== plugin) {
    // AuthSwitchRequest: 0xFE, plugin name, NUL, nonce, NUL.
    writePacket(
      stream,
      ++seq,
      Buffer.concat([Buffer.from([0xfe]), Buffer.from(`${plugin}\0`), nonce, Buffer.from([0])])
    );
    packet = await reader.next();
    seq = packet.seq;
    token = packet.payload;
  }
  const matches = (password: string) => tokenMatches(plugin, token, password, nonce);
  if (!matches(secret.password)) {
    const fresh = await options.secrets.afterFailedLogin(user);
    if (!fresh || !matches(fresh.password)) return denied('wrong-password', plugin) as never;
    secret = fresh;
  }
  if (plugin === 'caching_sha2_password' && secret.password !== '') {
    writePacket(stream, ++seq, Buffer.from([0x01, 0x03])); // AuthMoreData: fast_auth_success
  }
  options.record({ user, ok: true, plugin, secure });
  return { stream, response, secret, secure, seq, leftover: reader.detach() };
}

/** A login the proxy refused, having sent its ERR on `stream` (to be ended, not destroyed). */
export class LoginRefused extends Error {
  constructor(
    message: string,
    readonly stream: Duplex
  ) {
    super(message);
  }
}

function tokenMatches(plugin: string, token: Buffer, password: string, nonce: Buffer): boolean {
  const empty = token.length === 0 || (token.length === 1 && token[0] === 0);
  if (password === '' || empty) return password === '' && empty;
  const expected =
    plugin === 'caching_sha2_password'
      ? // XOR(SHA256(pw), SHA256(SHA256(SHA256(pw)) + nonce)), sha2_password.cc
        xor(
          sha256(Buffer.from(password, 'utf8')),
          sha256(Buffer.concat([sha256(sha256(Buffer.from(password, 'utf8'))), nonce]))
        )
      : nativePasswordToken(password, nonce);
  return expected.length === token.length && timingSafeEqual(expected, token);
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
