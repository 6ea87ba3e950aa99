import { isUtf8 } from 'node:buffer';
import protobuf from 'protobufjs';
import { MalformedRequestError } from './convert.ts';
import { truncate } from './limits.ts';
import { storedInteger } from './span-rules.ts';

// Protobuf wire primitives over one request body, for the OTLP decoder (decode-protobuf.ts) and
// the receipt-time scanner (scan-protobuf.ts). Every read is bounded by the end of the message it
// is in, so a length that runs past its message is refused, not read from the next one; anything
// malformed throws MalformedRequestError (a 400).

const MAX_GROUP_DEPTH = 100;
const TWO_32 = 4294967296;

export class WireReader {
  readonly buf: Buffer;
  readonly view: DataView;
  pos = 0;
  /**
   * When set, large string values of span and event attributes whose keys are not in it are kept
   * as TextBytes over this body (protobuf-wire-attributes.ts); null keeps every value a string.
   */
  readonly textBytesExcept: ReadonlySet<string> | null;

  constructor(body: Uint8Array, textBytesExcept: ReadonlySet<string> | null = null) {
    this.textBytesExcept = textBytesExcept;
    this.buf = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  fail(what: string): never {
    throw new MalformedRequestError(`the body is not a valid OTLP protobuf ExportTraceServiceRequest: ${what}`);
  }

  /** A varint's low 32 bits, unsigned (tags, lengths, enums, bools). */
  uint32(end: number): number {
    const b = this.buf;
    let pos = this.pos;
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 10; i++) {
      if (pos >= end) this.fail('truncated varint');
      const byte = b[pos++]!;
      if (shift < 32) result += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if (byte < 0x80) {
        this.pos = pos;
        return result % TWO_32;
      }
    }
    return this.fail('varint longer than 10 bytes');
  }

  /** A varint as a signed 64-bit integer, kept as span-rules.ts's storedInteger keeps it. */
  int64(end: number): number | bigint {
    const b = this.buf;
    let pos = this.pos;
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      if (pos >= end) this.fail('truncated varint');
      const byte = b[pos++]!;
      const bits = byte & 0x7f;
      if (i < 4) lo += bits * 2 ** (7 * i);
      else if (i === 4) {
        lo += (bits & 0x0f) * 2 ** 28;
        hi += bits >>> 4;
      } else hi += bits * 2 ** (7 * i - 32);
      if (byte < 0x80) {
        this.pos = pos;
        hi %= TWO_32;
        // Non-negative and below 2^53: a number without going through a bigint.
        if (hi < 0x200000) return hi * TWO_32 + lo;
        return storedInteger(BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo)));
      }
    }
    return this.fail('varint longer than 10 bytes');
  }

  /** The end of a length-delimited field that starts here. */
  lengthEnd(end: number): number {
    const len = this.uint32(end);
    const e = this.pos + len;
    if (e > end) this.fail('a length runs past the end of its message');
    return e;
  }

  fixed64(end: number): bigint {
    if (this.pos + 8 > end) this.fail('truncated fixed64');
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }

  double(end: number): number {
    if (this.pos + 8 > end) this.fail('truncated double');
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /**
   * A length-delimited UTF-8 string. Invalid UTF-8 is not refused (some SDKs send it): it is read
   * as protobufjs reads it, then made well-formed as convert.ts does.
   */
  string(end: number): string {
    const e = this.lengthEnd(end);
    let s = this.buf.toString('utf8', this.pos, e);
    // Node's decoder marks invalid sequences with U+FFFD: only then is the slow path needed.
    if (s.includes('\uFFFD') && !isUtf8(this.buf.subarray(this.pos, e))) {
      s = protobuf.util.utf8.read(this.buf, this.pos, e);
      if (!s.isWellFormed()) s = s.toWellFormed();
    }
    this.pos = e;
    return s;
  }

  /** A string cut to `max` characters (limits.ts). */
  limitedString(end: number, max: number): string {
    const s = this.string(end);
    return s.length > max ? truncate(s, max) : s;
  }

  /** Bytes [start, end) of the body as lower-case hex: how ids are kept. */
  hex(start: number, end: number): string {
    return this.buf.toString('hex', start, end);
  }

  /** Whether bytes [start, end) of the body are all zero (an empty range is). */
  allZero(start: number, end: number): boolean {
    const b = this.buf;
    for (let i = start; i < end; i++) if (b[i] !== 0) return false;
    return true;
  }

  /**
   * A field's tag; field number 0 is illegal. A tag is a 32-bit varint of at most five bytes, the
   * fifth carrying only the top four bits (as protobufjs reads tags): a longer one is refused.
   */
  tag(end: number): number {
    const b = this.buf;
    let pos = this.pos;
    let t = 0;
    for (let i = 0; i < 5; i++) {
      if (pos >= end) this.fail('truncated varint');
      const byte = b[pos++]!;
      if (i === 4 && byte > 0x0f) this.fail('invalid tag encoding');
      t += (byte & 0x7f) * 2 ** (7 * i);
      if (byte < 0x80) break;
    }
    this.pos = pos;
    if (t < 8) this.fail('illegal tag: field number 0');
    return t >>> 0;
  }

  /** Skips the value of a field with the given tag (a group up to its matching end tag). */
  skip(tag: number, end: number, depth = 0): void {
    const wireType = tag & 7;
    switch (wireType) {
      case 0:
        this.uint32(end);
        return;
      case 1:
        if (this.pos + 8 > end) this.fail('truncated fixed64');
        this.pos += 8;
        return;
      case 2:
        this.pos = this.lengthEnd(end);
        return;
      case 5:
        if (this.pos + 4 > end) this.fail('truncated fixed32');
        this.pos += 4;
        return;
      case 3: {
        if (depth >= MAX_GROUP_DEPTH) this.fail('groups nested too deeply');
        for (;;) {
          const t = this.tag(end);
          if ((t & 7) === 4) {
            if (t >>> 3 !== tag >>> 3) this.fail('invalid end group tag');
            return;
          }
          this.skip(t, end, depth + 1);
        }
      }
      default:
        this.fail(`invalid wire type ${wireType}`);
    }
  }
}
