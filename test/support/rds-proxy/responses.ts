/**
 * Where a reply to COM_QUERY ends, and the session state it ends in, read from the packets the
 * database sends (https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_com_query_response.html):
 * an OK or ERR packet, or result sets (column count, column definitions, EOF, rows, EOF), each
 * followed by another while SERVER_MORE_RESULTS_EXISTS is set (a CALL's result sets, then its
 * OK). The proxy offers no CLIENT_DEPRECATE_EOF (client-login.ts), so result sets keep their EOFs.
 */

/** Server status flags (include/mysql_com.h, enum SERVER_STATUS_flags_enum). */
export const SERVER_STATUS = {
  IN_TRANS: 0x0001,
  AUTOCOMMIT: 0x0002,
  MORE_RESULTS_EXISTS: 0x0008,
  IN_TRANS_READONLY: 0x2000,
} as const;

const MAX_PAYLOAD = 0xffffff;

export type ReplyEnd =
  /** The reply continues. */
  | undefined
  /** An OK or EOF ended it: the status flags it carried. */
  | { readonly statusFlags: number }
  /** An ERR ended it: an ERR packet carries no status flags. */
  | { readonly error: number };

/** Follows one reply, packet by packet; `next()` says when the last packet has been seen. */
export class QueryReply {
  private state: 'first' | 'columns' | 'rows' = 'first';
  private columnsLeft = 0;
  private continuing = false;

  next(payload: Buffer): ReplyEnd {
    // A payload of 0xffffff bytes continues in the next packet: only the first one is read.
    const continuation = this.continuing;
    this.continuing = payload.length === MAX_PAYLOAD;
    if (continuation) return undefined;
    const first = payload[0];
    if (this.state === 'columns') {
      // Column definitions, then the EOF that ends them.
      if (this.columnsLeft > 0) {
        this.columnsLeft -= 1;
      } else {
        this.state = 'rows';
      }
      return undefined;
    }
    if (first === 0xff) return { error: payload.readUInt16LE(1) };
    if (this.state === 'rows') {
      if (first !== 0xfe || payload.length >= 9) return undefined; // a row
      return this.ended(payload.readUInt16LE(3)); // EOF: 0xFE, warnings, status flags
    }
    if (first === 0x00) return this.ended(okStatusFlags(payload));
    // A result set: its column count, then that many column definitions and an EOF.
    this.columnsLeft = lengthEncoded(payload, 0)[0];
    this.state = 'columns';
    return undefined;
  }

  private ended(statusFlags: number): ReplyEnd {
    if (statusFlags & SERVER_STATUS.MORE_RESULTS_EXISTS) {
      this.state = 'first';
      return undefined;
    }
    return { statusFlags };
  }
}

/** OK_Packet: 0x00, affected rows, last insert id (length-encoded), status flags. */
function okStatusFlags(payload: Buffer): number {
  let pos = 1;
  pos += lengthEncoded(payload, pos)[1];
  pos += lengthEncoded(payload, pos)[1];
  return payload.readUInt16LE(pos);
}

function lengthEncoded(buffer: Buffer, pos: number): [value: number, size: number] {
  const first = buffer[pos];
  if (first < 0xfb) return [first, 1];
  if (first === 0xfc) return [buffer.readUInt16LE(pos + 1), 3];
  if (first === 0xfd) return [buffer.readUIntLE(pos + 1, 3), 4];
  return [Number(buffer.readBigUInt64LE(pos + 1)), 9];
}

/** Splits a byte stream into whole packets (header included), keeping what is incomplete. */
export class PacketSplitter {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const packets: Buffer[] = [];
    while (this.pending.length >= 4) {
      const length = this.pending.readUIntLE(0, 3);
      if (this.pending.length < 4 + length) break;
      packets.push(this.pending.subarray(0, 4 + length));
      this.pending = this.pending.subarray(4 + length);
    }
    return packets;
  }

  /** What was received past the last whole packet. */
  rest(): Buffer {
    const rest = this.pending;
    this.pending = Buffer.alloc(0);
    return rest;
  }
}
