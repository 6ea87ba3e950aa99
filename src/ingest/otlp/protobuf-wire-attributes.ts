import { isUtf8 } from 'node:buffer';
import { TextBytes, type AttrMap, type AttrValue } from '../../domain/span.ts';
import { NESTED_TOO_DEEP_MARK, OTLP_LIMITS, truncate } from './limits.ts';
import type { WireReader } from './protobuf-wire-reader.ts';
import { lineageRefusal, NOT_LINEAGE, storedDouble, type LineageKeys } from './span-rules.ts';

// Attributes (repeated KeyValue) and their AnyValues, read off the wire for decode-protobuf.ts
// into the maps convert.ts would make of protobufjs's objects: the same members win, the same
// limits cut, and a value nested past OTLP_LIMITS.maxValueDepth is skipped by its length and
// replaced by the marker, its strings not checked.

const KEY_MAX = OTLP_LIMITS.maxAttributeKeyChars;
const VALUE_MAX = OTLP_LIMITS.maxAttributeValueChars;
const MAX_ITEMS = OTLP_LIMITS.maxAttributesPerItem;
/**
 * The shortest string value kept as TextBytes: ids, names and short arguments stay strings, which
 * are cheap; message content and tool results, most of a GenAI span's bytes, do not.
 */
const TEXT_BYTES_MIN = 128;

/** The members of one AnyValue's oneof as read so far (protobufjs keeps each, and merges a repeated message). */
interface AnyState {
  s: string | undefined;
  text: TextBytes | undefined;
  bool: boolean | undefined;
  int: number | bigint | undefined;
  dbl: number | undefined;
  bytes: Uint8Array | undefined;
  arr: AttrValue[] | undefined;
  arrDeep: boolean;
  kv: AttrMap | undefined;
  kvDeep: boolean;
}

const newState = (): AnyState => ({ s: undefined, text: undefined, bool: undefined, int: undefined, dbl: undefined, bytes: undefined, arr: undefined, arrDeep: false, kv: undefined, kvDeep: false });
/** One state per nesting depth, reused: values nest at most OTLP_LIMITS.maxValueDepth deep before they are cut. */
const STATES: AnyState[] = Array.from({ length: OTLP_LIMITS.maxValueDepth + 2 }, newState);

function resetState(st: AnyState): AnyState {
  st.s = undefined;
  st.text = undefined;
  st.bool = undefined;
  st.int = undefined;
  st.dbl = undefined;
  st.bytes = undefined;
  st.arr = undefined;
  st.arrDeep = false;
  st.kv = undefined;
  st.kvDeep = false;
  return st;
}

/**
 * A string value's bytes as TextBytes, when they are long enough, within the value limit (so never
 * cut) and well-formed UTF-8 (so their text is what the string would be); else undefined, the
 * reader where it was.
 */
function textBytesAt(w: WireReader, end: number): TextBytes | undefined {
  const at = w.pos;
  const e = w.lengthEnd(end);
  const n = e - w.pos;
  if (n >= TEXT_BYTES_MIN && n <= VALUE_MAX && isUtf8(w.buf.subarray(w.pos, e))) {
    const text = new TextBytes(w.buf, w.pos, e);
    w.pos = e;
    return text;
  }
  w.pos = at;
  return undefined;
}

/**
 * Reads an AnyValue body into `st` (several bodies of one value merge, as protobuf says). With
 * `textBytes`, a long string value may stay bytes (textBytesAt).
 */
function readAnyValue(w: WireReader, end: number, depth: number, st: AnyState, textBytes = false): void {
  while (w.pos < end) {
    const tag = w.tag(end);
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field === 1 && wt === 2) {
      const text = textBytes ? textBytesAt(w, end) : undefined;
      st.text = text;
      st.s = text === undefined ? w.limitedString(end, VALUE_MAX) : undefined;
    } else if (field === 2 && wt === 0) st.bool = w.uint32(end) !== 0;
    else if (field === 3 && wt === 0) st.int = w.int64(end);
    else if (field === 4 && wt === 1) st.dbl = w.double(end);
    else if (field === 7 && wt === 2) {
      const e = w.lengthEnd(end);
      st.bytes = new Uint8Array(w.buf.subarray(w.pos, e));
      w.pos = e;
    } else if (field === 5 && wt === 2) {
      const e = w.lengthEnd(end);
      if (depth >= OTLP_LIMITS.maxValueDepth) {
        st.arrDeep = true;
        w.pos = e;
        continue;
      }
      const values = (st.arr ??= []);
      while (w.pos < e) {
        const t = w.tag(e);
        if (t >>> 3 === 1 && (t & 7) === 2) {
          const ve = w.lengthEnd(e);
          const inner = resetState(STATES[depth + 1]!);
          readAnyValue(w, ve, depth + 1, inner);
          const v = valueOf(inner);
          if (values.length < MAX_ITEMS) values.push(v);
          w.pos = ve;
        } else w.skip(t, e);
      }
    } else if (field === 6 && wt === 2) {
      const e = w.lengthEnd(end);
      if (depth >= OTLP_LIMITS.maxValueDepth) {
        st.kvDeep = true;
        w.pos = e;
        continue;
      }
      const map = (st.kv ??= new Map<string, AttrValue>());
      while (w.pos < e) {
        const t = w.tag(e);
        if (t >>> 3 === 1 && (t & 7) === 2) {
          const ke = w.lengthEnd(e);
          readKeyValue(w, ke, depth + 1, map, true, null, false);
          w.pos = ke;
        } else w.skip(t, e);
      }
    } else w.skip(tag, end);
  }
}

/** The value convert.ts makes of an AnyValue: the first member present, in its order. */
function valueOf(st: AnyState): AttrValue {
  if (st.s !== undefined) return st.s;
  if (st.text !== undefined) return st.text;
  if (st.bool !== undefined) return st.bool;
  if (st.int !== undefined) return st.int;
  if (st.dbl !== undefined) return storedDouble(st.dbl);
  if (st.bytes !== undefined) return st.bytes;
  if (st.arrDeep || st.arr !== undefined) return st.arrDeep ? NESTED_TOO_DEEP_MARK : st.arr!;
  if (st.kvDeep || st.kv !== undefined) return st.kvDeep ? NESTED_TOO_DEEP_MARK : st.kv!;
  return null;
}

/**
 * One KeyValue message into `map` (unless the map is full or the key is missing). Top-level
 * attributes skip an empty key; a kvlist value keeps it (as convert.ts does). With `textBytes`, a
 * long string value of a key the collector does not read (w.textBytesExcept) stays bytes. With `lineageKeys`,
 * an entry whose key is one of them is checked against the lineage bounds whether or not the map
 * takes it (as convert.ts and the scanner check every entry): the answer is why it refuses its span.
 */
function readKeyValue(w: WireReader, end: number, depth: number, map: AttrMap, keepEmptyKey: boolean, lineageKeys: LineageKeys | null, textBytes: boolean): string | null {
  let key: string | undefined;
  let st: AnyState | undefined;
  while (w.pos < end) {
    const tag = w.tag(end);
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field === 1 && wt === 2) key = w.string(end);
    else if (field === 2 && wt === 2) {
      const e = w.lengthEnd(end);
      st ??= resetState(STATES[depth]!);
      readAnyValue(w, e, depth, st, textBytes);
      w.pos = e;
    } else w.skip(tag, end);
  }
  const kind = lineageKeys !== null && key !== undefined ? (lineageKeys.get(key) ?? NOT_LINEAGE) : NOT_LINEAGE;
  let value = st ? valueOf(st) : null;
  // The key may come after its value on the wire: a value the collector reads is made a string here.
  if (value instanceof TextBytes && (key === undefined || w.textBytesExcept!.has(key))) value = value.toString();
  const refusal = kind === NOT_LINEAGE ? null : lineageRefusal(key!, kind, value);
  if (map.size >= MAX_ITEMS) return refusal;
  if (key === undefined || key === '') {
    if (!keepEmptyKey) return refusal;
    key = '';
  }
  map.set(key.length > KEY_MAX ? truncate(key, KEY_MAX) : key, value);
  return refusal;
}

/**
 * Adds one entry of an attributes field (repeated KeyValue) that starts here; its caller walks the
 * rest of the message. Answers why the entry refuses its span when its key is one of `lineageKeys`
 * and its value is over a lineage bound, else null. `textBytes` (span and event attributes) lets a
 * long value stay bytes when the reader keeps them (WireReader.textBytesExcept).
 */
export function addAttribute(w: WireReader, end: number, map: AttrMap, lineageKeys: LineageKeys | null = null, textBytes = false): string | null {
  const e = w.lengthEnd(end);
  const refusal = readKeyValue(w, e, 0, map, false, lineageKeys, textBytes && w.textBytesExcept !== null);
  w.pos = e;
  return refusal;
}

const SCRATCH: AttrMap = new Map();

/** The lineage check of one attributes entry that starts here, read exactly as addAttribute reads it (the receipt-time scanner's slow path). */
export function attributeLineageRefusal(w: WireReader, end: number, lineageKeys: LineageKeys): string | null {
  const refusal = addAttribute(w, end, SCRATCH, lineageKeys);
  SCRATCH.clear();
  return refusal;
}
