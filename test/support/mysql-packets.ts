import { createHash } from 'node:crypto';
import { Duplex } from 'node:stream';

// The few pieces of the MySQL client/server protocol the caching_sha2_password stand-in needs:
// packet framing, the Handshake V10 greeting and the HandshakeResponse41, as documented in
// https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase.html

/** Capability flags (include/mysql_com.h). */
export const CAP = {
  LONG_PASSWORD: 1,
  CONNECT_WITH_DB: 1 << 3,
  COMPRESS: 1 << 5,
  PROTOCOL_41: 1 << 9,
  SSL: 1 << 11,
  SECURE_CONNECTION: 1 << 15,
  PLUGIN_AUTH: 1 << 19,
  CONNECT_ATTRS: 1 << 20,
  PLUGIN_AUTH_LENENC_CLIENT_DATA: 1 << 21,
} as const;

export interface Packet {
  readonly seq: number;
  readonly payload: Buffer;
}

/** Writes one packet: 3-byte little-endian length, sequence id, payload. */
export function writePacket(stream: Duplex, seq: number, payload: Buffer): void {
  const header = Buffer.alloc(4);
  header.writeUIntLE(payload.length, 0, 3);
  header[3] = seq & 0xff;
  stream.write(Buffer.concat([header, payload]));
}

/** Reads whole packets from a stream; `detach()` hands back what was read past the last one. */
export class PacketReader {
  private buffer = Buffer.alloc(0);
  private waiting?: { resolve: (p: Packet) => void; reject: (e: Error) => void };
  private failure?: Error;

  constructor(private readonly stream: Duplex) {
    stream.on('data', this.onData);
    stream.once('end', this.onEnd);
    stream.once('close', this.onEnd);
    stream.once('error', this.onError);
  }

  next(): Promise<Packet> {
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.flush();
    });
  }

  /** Stops reading; returns the bytes already received beyond the packets read. */
  detach(): Buffer {
    this.stream.off('data', this.onData);
    this.stream.off('end', this.onEnd);
    this.stream.off('close', this.onEnd);
    this.stream.off('error', this.onError);
    const rest = this.buffer;
    this.buffer = Buffer.alloc(0);
    return rest;
  }

  private readonly onData = (chunk: Buffer) => {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    this.flush();
  };
  private readonly onEnd = () => this.fail(new Error('connection closed during the handshake'));
  private readonly onError = (error: Error) => this.fail(error);

  private fail(error: Error) {
    this.failure ??= error;
    this.flush();
  }

  private flush() {
    if (!this.waiting) return;
    if (this.buffer.length >= 4) {
      const length = this.buffer.readUIntLE(0, 3);
      if (this.buffer.length >= 4 + length) {
        const packet = { seq: this.buffer[3], payload: this.buffer.subarray(4, 4 + length) };
        this.buffer = this.buffer.subarray(4 + length);
        const { resolve } = this.waiting;
        this.waiting = undefined;
        resolve(packet);
        return;
      }
    }
    if (this.failure) {
      const { reject } = this.waiting;
      this.waiting = undefined;
      reject(this.failure);
    }
  }
}

/** The fields of a Handshake V10 greeting the stand-in reuses or replaces. */
export interface Greeting {
  readonly serverVersion: string;
  readonly connectionId: number;
  readonly capabilities: number;
  readonly characterSet: number;
  readonly statusFlags: number;
  /** The 20-byte nonce (auth-plugin-data parts 1 and 2, without the trailing NUL). */
  readonly nonce: Buffer;
  readonly authPluginName: string;
}

export function parseGreeting(payload: Buffer): Greeting {
  let pos = 1; // protocol version 10
  const versionEnd = payload.indexOf(0, pos);
  const serverVersion = payload.toString('latin1', pos, versionEnd);
  pos = versionEnd + 1;
  const connectionId = payload.readUInt32LE(pos);
  pos += 4;
  const part1 = payload.subarray(pos, pos + 8);
  pos += 9; // + filler
  const low = payload.readUInt16LE(pos);
  const characterSet = payload[pos + 2];
  const statusFlags = payload.readUInt16LE(pos + 3);
  const high = payload.readUInt16LE(pos + 5);
  const authDataLength = payload[pos + 7];
  pos += 8 + 10; // + reserved (MariaDB keeps its extended capabilities in the last 4)
  const part2Length = Math.max(13, authDataLength - 8);
  const part2 = payload.subarray(pos, pos + part2Length - 1); // without its NUL
  pos += part2Length;
  const nameEnd = payload.indexOf(0, pos);
  return {
    serverVersion,
    connectionId,
    capabilities: (low | (high << 16)) >>> 0,
    characterSet,
    statusFlags,
    nonce: Buffer.concat([part1, part2]).subarray(0, 20),
    authPluginName: payload.toString('latin1', pos, nameEnd < 0 ? undefined : nameEnd),
  };
}

/** A Handshake V10 greeting, laid out as sql_authentication.cc's send_server_handshake_packet(). */
export function greetingPacket(g: Greeting): Buffer {
  const fixed = Buffer.alloc(4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10);
  let pos = 0;
  fixed.writeUInt32LE(g.connectionId, pos);
  pos += 4;
  g.nonce.copy(fixed, pos, 0, 8);
  pos += 8 + 1;
  fixed.writeUInt16LE(g.capabilities & 0xffff, pos);
  fixed[pos + 2] = g.characterSet;
  fixed.writeUInt16LE(g.statusFlags, pos + 3);
  fixed.writeUInt16LE(g.capabilities >>> 16, pos + 5);
  fixed[pos + 7] = 21; // 20-byte nonce + NUL
  return Buffer.concat([
    Buffer.from([10]),
    Buffer.from(`${g.serverVersion}\0`, 'latin1'),
    fixed,
    g.nonce.subarray(8, 20),
    Buffer.from([0]),
    Buffer.from(`${g.authPluginName}\0`, 'latin1'),
  ]);
}

/** What a client's HandshakeResponse41 says. */
export interface HandshakeResponse {
  readonly capabilities: number;
  readonly characterSet: number;
  readonly user: string;
  readonly authResponse: Buffer;
  readonly database?: string;
  readonly authPluginName?: string;
  /** The connection attributes, still length-encoded, passed on as they came. */
  readonly connectAttributes?: Buffer;
}

export function parseHandshakeResponse(payload: Buffer): HandshakeResponse {
  const capabilities = payload.readUInt32LE(0) >>> 0;
  const characterSet = payload[8];
  let pos = 32;
  const cString = () => {
    const end = payload.indexOf(0, pos);
    const value = payload.toString('utf8', pos, end < 0 ? payload.length : end);
    pos = end < 0 ? payload.length : end + 1;
    return value;
  };
  const user = cString();
  let authResponse: Buffer;
  if (capabilities & CAP.PLUGIN_AUTH_LENENC_CLIENT_DATA) {
    const [length, size] = readLenenc(payload, pos);
    authResponse = payload.subarray(pos + size, pos + size + length);
    pos += size + length;
  } else {
    authResponse = payload.subarray(pos + 1, pos + 1 + payload[pos]);
    pos += 1 + payload[pos];
  }
  const database = capabilities & CAP.CONNECT_WITH_DB ? cString() : undefined;
  const authPluginName = capabilities & CAP.PLUGIN_AUTH ? cString() : undefined;
  let connectAttributes: Buffer | undefined;
  if (capabilities & CAP.CONNECT_ATTRS && pos < payload.length) {
    const [length, size] = readLenenc(payload, pos);
    connectAttributes = payload.subarray(pos, pos + size + length);
  }
  return {
    capabilities,
    characterSet,
    user,
    authResponse,
    database,
    authPluginName,
    connectAttributes,
  };
}

export function handshakeResponsePacket(r: HandshakeResponse): Buffer {
  const head = Buffer.alloc(32);
  head.writeUInt32LE(r.capabilities >>> 0, 0);
  head.writeUInt32LE(16 * 1024 * 1024, 4);
  head[8] = r.characterSet;
  return Buffer.concat([
    head,
    Buffer.from(`${r.user}\0`, 'utf8'),
    Buffer.from([r.authResponse.length]),
    r.authResponse,
    r.database !== undefined ? Buffer.from(`${r.database}\0`, 'utf8') : Buffer.alloc(0),
    Buffer.from(`${r.authPluginName ?? ''}\0`, 'latin1'),
    r.connectAttributes ?? Buffer.alloc(0),
  ]);
}

/** SSLRequest: the first 32 bytes of a HandshakeResponse41, with CLIENT_SSL set. */
export function sslRequestPacket(capabilities: number, characterSet: number): Buffer {
  const packet = Buffer.alloc(32);
  packet.writeUInt32LE((capabilities | CAP.SSL) >>> 0, 0);
  packet.writeUInt32LE(16 * 1024 * 1024, 4);
  packet[8] = characterSet;
  return packet;
}

/** ERR_Packet with SQL state. */
export function errPacket(code: number, sqlState: string, message: string): Buffer {
  const head = Buffer.alloc(3);
  head[0] = 0xff;
  head.writeUInt16LE(code, 1);
  return Buffer.concat([head, Buffer.from(`#${sqlState}${message}`, 'utf8')]);
}

/** mysql_native_password's token: SHA1(pw) XOR SHA1(nonce + SHA1(SHA1(pw))); empty for no password. */
export function nativePasswordToken(password: string, nonce: Buffer): Buffer {
  if (!password) return Buffer.alloc(0);
  const stage1 = sha1(Buffer.from(password, 'utf8'));
  return xor(stage1, sha1(Buffer.concat([nonce.subarray(0, 20), sha1(stage1)])));
}

export function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

function sha1(data: Buffer): Buffer {
  return createHash('sha1').update(data).digest();
}

export function xor(a: Buffer, b: Buffer): Buffer {
  return Buffer.from(a.map((byte, i) => byte ^ b[i % b.length]));
}

function readLenenc(buffer: Buffer, pos: number): [value: number, size: number] {
  const first = buffer[pos];
  if (first < 0xfb) return [first, 1];
  if (first === 0xfc) return [buffer.readUInt16LE(pos + 1), 3];
  if (first === 0xfd) return [buffer.readUIntLE(pos + 1, 3), 4];
  return [Number(buffer.readBigUInt64LE(pos + 1)), 9];
}
