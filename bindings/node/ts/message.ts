/**
 * Messages: read-only, case-insensitive maps over the bytes the native decoder framed.
 *
 * A call into the native core returns a {@link Batch}: one `Buffer` holding the bytes of every
 * message it completed and one `Uint32Array` saying where each message and line lies (the
 * layout is documented in `src/batch.rs`). A {@link Message} is a small view into a batch: a
 * header's value becomes a string only when it is read, so a loop that reads two headers of
 * each event pays for two strings, not for twenty.
 */
import { isUtf8 } from "node:buffer";
import { RemoteProtocolError } from "./errors";
import native = require("./native");

/** What a message is, judged by its `Action`, `Response` or `Event` line. */
export type MessageKind = "action" | "response" | "event" | "unknown";

/** Who reads: `"client"` reads what a server writes, `"server"` what a client writes. */
export type Role = "client" | "server";

/** What a native call returns (see `src/batch.rs`). @internal */
export interface Batch {
  bytes: Buffer;
  table: Uint32Array;
  texts: string[];
  more: boolean;
  /** The chunk fed, which messages flagged `Chunk` are views of. */
  chunk?: Buffer;
}

/** Words of an item before its lines. @internal */
export const HEADER_WORDS = 11;

/** Item tags (`src/batch.rs`). @internal */
export const enum Tag {
  Banner = 1,
  Message = 2,
  LoggedIn = 10,
  LoginFailed = 11,
  Response = 12,
  ListStart = 13,
  ListItem = 14,
  ListComplete = 15,
  CommandOutput = 16,
  OriginateResponse = 17,
  Event = 18,
  Unsolicited = 19,
  ActionTimedOut = 20,
  ActionAborted = 21,
  Malformed = 22,
  Closed = 23,
  ActionReceived = 30,
  UserLoggedIn = 31,
  UserLoginFailed = 32,
  SecurityNotice = 33,
  SlowConsumer = 34,
  Disconnect = 35,
}

/** Item flags (`src/batch.rs`). @internal */
export const enum Flag {
  Bool = 1,
  Message = 2,
  Error = 16,
  Chunk = 32,
  Wide = 64,
  ServerRole = 128,
}

const KINDS: readonly MessageKind[] = ["unknown", "action", "response", "event"];

/** Words per line of the item whose flags are `flags`. @internal */
export function lineWords(flags: number): number {
  return flags & Flag.Wide ? 2 : 1;
}

/** The first word of the extra ranges of the item at `p`. @internal */
export function itemExtras(table: Uint32Array, p: number): number {
  return p + HEADER_WORDS + lineWords(table[p + 1] as number) * (table[p + 9] as number);
}

/** The word after the last word of the item at `p`. @internal */
export function itemEnd(table: Uint32Array, p: number): number {
  return itemExtras(table, p) + 2 * (table[p + 10] as number);
}

/** Text `i` of an item's word (`0`: none). @internal */
export function itemText(batch: Batch, word: number): string | undefined {
  return word === 0 ? undefined : batch.texts[word - 1];
}

// Node's own Buffer slicer, reached directly: `buf.toString(encoding, start, end)` dispatches
// on the encoding name on every call, which costs as much as the copy for a short value.
type Slicer = (this: Buffer, start: number, end: number) => string;
const utf8Slice: Slicer =
  (Buffer.prototype as unknown as { utf8Slice?: Slicer }).utf8Slice ??
  function (this: Buffer, start: number, end: number): string {
    return this.toString("utf8", start, end);
  };

/** Values from 4 to this many bytes long go through {@link VALUES}. */
const SHORT_VALUE = 32;
/** Slots of {@link VALUES} (a power of two). */
const VALUE_SLOTS = 1024;
/**
 * The strings of recently read short ASCII values, each in the slot its bytes hash to (a
 * bounded, direct-mapped cache): a value's string costs a call into Node's C++ (`utf8Slice`)
 * and an allocation, several times what finding it costs, and AMI repeats its values (event
 * names, channels, states, contexts) from message to message. A slot holds the value's bytes
 * ({@link VALUE_WORDS}, {@link VALUE_LENGTHS}) beside its string, and a value is taken from
 * the cache only when its bytes are the same, byte for byte.
 */
const VALUES: string[] = new Array<string>(VALUE_SLOTS).fill("");
/**
 * The bytes of slot `i`'s value, as little-endian words: `VALUE_WORDS[8 * i + k]` holds bytes
 * `4k .. 4k + 3`, and `VALUE_WORDS[8 * i + 7]`, past the last whole word of a value of at most
 * 28 bytes, its last four bytes (for 29 to 32 bytes the last whole word is those bytes).
 */
const VALUE_WORDS = new Uint32Array(VALUE_SLOTS * 8);
/** The length of slot `i`'s value, or 0 for an empty slot (or one whose value is not ASCII). */
const VALUE_LENGTHS = new Uint8Array(VALUE_SLOTS);

/** The bytes last decoded from, and a `DataView` of them (values are read four bytes at a time). */
let viewed: Buffer = Buffer.alloc(0);
let view = new DataView(viewed.buffer, viewed.byteOffset, 0);

/**
 * `b[start..end]` decoded as UTF-8 (invalid sequences replaced by U+FFFD), through
 * {@link VALUES} when it is short: only ASCII values are kept there, so a string found there
 * is exactly the decoding of the bytes it was found for.
 */
function decodeValue(b: Buffer, start: number, end: number): string {
  const n = end - start;
  if (n > SHORT_VALUE || n < 4) return n === 0 ? "" : utf8Slice.call(b, start, end);
  if (b !== viewed) {
    viewed = b;
    view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
  const v = view;
  const head = v.getUint32(start, true);
  const tail = v.getUint32(end - 4, true);
  const slot = Math.imul(head ^ Math.imul(tail ^ n, 0x9e3779b1), 0x85ebca6b) >>> 22; // 10 bits
  const at = slot << 3;
  const last = n - 4;
  if (VALUE_LENGTHS[slot] === n && VALUE_WORDS[at + 7] === tail) {
    let k = 0;
    while (4 * k < last && VALUE_WORDS[at + k] === v.getUint32(start + 4 * k, true)) k++;
    if (4 * k >= last) return VALUES[slot] as string;
  }
  let high = tail;
  for (let k = 0; 4 * k < last; k++) {
    const w = v.getUint32(start + 4 * k, true);
    VALUE_WORDS[at + k] = w;
    high |= w;
  }
  VALUE_WORDS[at + 7] = tail;
  const s = utf8Slice.call(b, start, end);
  VALUES[slot] = s;
  VALUE_LENGTHS[slot] = (high & 0x80808080) === 0 ? n : 0;
  return s;
}

/** How many header names {@link keyBytes} remembers before it starts over. */
const KEY_CACHE_SIZE = 512;
const keyCache = new Map<string, Uint8Array>();

/**
 * The UTF-8 bytes of a header name with ASCII letters lower-cased (names compare
 * ASCII-case-insensitively, as Asterisk compares them). Names are usually literals in the
 * caller's code, so the bytes are remembered (a bounded cache).
 */
let name0 = "";
let key0: Uint8Array | null = new Uint8Array(0);
let name1 = "";
let key1: Uint8Array | null = new Uint8Array(0);
/** Which of the two entries a miss replaces. */
let older = 0;

function keyBytes(name: string): Uint8Array | null {
  // A loop reads the same few names message after message: remember two by identity (string
  // literals are interned, so `===` is a pointer comparison) before the map. A hit writes
  // nothing (a write of a module variable costs a write barrier).
  if (name === name0) return key0;
  if (name === name1) return key1;
  const found = keyBytesSlow(name);
  if (older === 0) {
    name0 = name;
    key0 = found;
  } else {
    name1 = name;
    key1 = found;
  }
  older ^= 1;
  return found;
}

function keyBytesSlow(name: string): Uint8Array | null {
  let key = keyCache.get(name);
  if (key === undefined) {
    const b = Buffer.from(name, "utf8");
    // A name is everything before the first colon: one with a colon names no header.
    if (b.includes(58)) return null;
    key = new Uint8Array(b.length);
    for (let i = 0; i < b.length; i++) {
      const c = b[i] as number;
      key[i] = c >= 65 && c <= 90 ? c | 32 : c;
    }
    if (keyCache.size >= KEY_CACHE_SIZE) keyCache.clear();
    keyCache.set(name, key);
  }
  return key;
}

/** Whether `b[at..]` equals the lower-cased `key` (ASCII case-insensitively). */
function same(b: Buffer, at: number, key: Uint8Array, klen: number): boolean {
  for (let i = 0; i < klen; i++) {
    let c = b[at + i] as number;
    if (c >= 65 && c <= 90) c |= 32;
    if (c !== key[i]) return false;
  }
  return true;
}

/** One line of a message: a `Name: value` header, or a bare line (no colon: `name` undefined). */
export interface Line {
  /** The header name as sent, or `undefined` for a bare line. */
  readonly name: string | undefined;
  /** The value (for a bare line, the whole line). */
  readonly value: string;
}

/**
 * One AMI message (an action, a response or an event), as a read-only map from header names
 * (ASCII case-insensitive) to their first value.
 *
 * ```ts
 * msg.get("channel");          // the first Channel header, or undefined
 * msg.getAll("Variable");      // every value, in order
 * msg.getBuffer("Data");       // the exact bytes of the value
 * for (const [name, value] of msg) ...   // distinct names, first values
 * msg.headers();               // every header line, duplicates included
 * msg.lines();                 // every line, bare lines (without a colon) included
 * msg.raw;                     // the message's bytes as framed
 * ```
 *
 * Values are strings decoded as UTF-8: exact when the bytes are valid UTF-8 (`msg.utf8`),
 * with U+FFFD for invalid sequences otherwise; `getBuffer` and `raw` always give the bytes.
 *
 * A message is a view (no copy) of the bytes it was decoded from: the chunk given to
 * {@link Decoder.feed} (which must not be written to afterwards), or the batch of a session;
 * it keeps them alive, and with them the memory its table lies in (a decoder's tables share
 * arrays of 256 KiB). Call {@link Message.detach} before keeping one message for long.
 */
export class Message implements ReadonlyMap<string, string> {
  /** `"action"`, `"response"`, `"event"` or `"unknown"`. */
  readonly kind: MessageKind;
  /** `undefined`, or why the decoder rejected the message (it broke a limit; the lines kept are readable). */
  readonly error: string | undefined;
  #bytes: Buffer;
  #table: Uint32Array;
  #at: number;
  #flags: number;
  /** The message's first byte in `#bytes`. */
  #base: number;

  /** @internal */
  constructor(batch: Batch, at: number) {
    const t = batch.table;
    const flags = t[at + 1] as number;
    this.#bytes = flags & Flag.Chunk ? (batch.chunk as Buffer) : batch.bytes;
    this.#table = t;
    this.#at = at;
    this.#flags = flags;
    this.#base = t[at + 7] as number;
    this.kind = KINDS[(flags >> 8) & 3] as MessageKind;
    this.error = flags & Flag.Error ? itemText(batch, t[at + 3] as number) : undefined;
  }

  /**
   * Parses exactly one complete message (ending with its empty line), read by `role`
   * (`"client"`, the default, reads what a server writes). Throws {@link RemoteProtocolError}
   * for anything else.
   */
  static parse(data: Uint8Array | string, role: Role = "client"): Message {
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    const batch = native.parseMessage(bytes, role) as Batch;
    if (batch.table.length === 0) throw new RemoteProtocolError("not a message");
    return new Message(batch, 0);
  }

  #decode(start: number, end: number): string {
    return decodeValue(this.#bytes, start, end);
  }

  /** Where line `p` (a table word) starts and ends in `#bytes`. */
  #lineStart(p: number): number {
    const w = this.#table[p] as number;
    return this.#base + (this.#flags & Flag.Wide ? w : w & 0xffff);
  }

  #lineEnd(p: number): number {
    const t = this.#table;
    return this.#base + (this.#flags & Flag.Wide ? (t[p + 1] as number) : (t[p] as number) >>> 16);
  }

  /**
   * The table word of the first line named `key` after line word `after` (-1: from the first
   * line), or -1. A line is named `key` when it starts with it (ASCII case-insensitively)
   * followed by a colon: the name is everything before the first colon, and `key` has none.
   */
  #find(key: Uint8Array, after: number): number {
    const klen = key.length;
    const t = this.#table;
    const b = this.#bytes;
    const base = this.#base;
    const first = this.#at + HEADER_WORDS;
    if (this.#flags & Flag.Wide) {
      const end = first + 2 * (t[this.#at + 9] as number);
      for (let p = after < 0 ? first : after + 2; p < end; p += 2) {
        const s = base + (t[p] as number);
        if (base + (t[p + 1] as number) - s > klen && b[s + klen] === 58 && same(b, s, key, klen)) return p;
      }
      return -1;
    }
    const end = first + (t[this.#at + 9] as number);
    for (let p = after < 0 ? first : after + 1; p < end; p++) {
      const w = t[p] as number;
      const s = base + (w & 0xffff);
      if (base + (w >>> 16) - s > klen && b[s + klen] === 58 && same(b, s, key, klen)) return p;
    }
    return -1;
  }

  /** Where the value of line `p`, whose name is `nameLength` bytes long, starts (by the role's rule). */
  #valueStart(p: number, nameLength: number): number {
    const b = this.#bytes;
    const end = this.#lineEnd(p);
    let v = this.#lineStart(p) + nameLength + 1;
    if (this.#flags & Flag.ServerRole) {
      while (v < end && (b[v] as number) >= 1 && (b[v] as number) <= 32) v++;
    } else if (v < end && b[v] === 32) {
      v++;
    }
    return v;
  }

  /** The first value of header `name` (ASCII case-insensitive), or `undefined`. */
  get(name: string): string | undefined {
    const key = keyBytes(name);
    if (key === null) return undefined;
    const p = this.#find(key, -1);
    if (p < 0) return undefined;
    return this.#decode(this.#valueStart(p, key.length), this.#lineEnd(p));
  }

  /** The first value of header `name` as its exact bytes (a view, not a copy), or `undefined`. */
  getBuffer(name: string): Buffer | undefined {
    const key = keyBytes(name);
    if (key === null) return undefined;
    const p = this.#find(key, -1);
    if (p < 0) return undefined;
    return this.#bytes.subarray(this.#valueStart(p, key.length), this.#lineEnd(p));
  }

  /** Every value of header `name`, in order. */
  getAll(name: string): string[] {
    const out: string[] = [];
    const key = keyBytes(name);
    if (key === null) return out;
    for (let p = this.#find(key, -1); p >= 0; p = this.#find(key, p)) {
      out.push(this.#decode(this.#valueStart(p, key.length), this.#lineEnd(p)));
    }
    return out;
  }

  /** Every value of header `name` as bytes, in order. */
  getAllBuffers(name: string): Buffer[] {
    const out: Buffer[] = [];
    const key = keyBytes(name);
    if (key === null) return out;
    for (let p = this.#find(key, -1); p >= 0; p = this.#find(key, p)) {
      out.push(this.#bytes.subarray(this.#valueStart(p, key.length), this.#lineEnd(p)));
    }
    return out;
  }

  /** Whether a header `name` is present. */
  has(name: string): boolean {
    const key = keyBytes(name);
    return key !== null && this.#find(key, -1) >= 0;
  }

  /** The value of the `Action`, `Response` or `Event` header (by `kind`), or `undefined`. */
  get name(): string | undefined {
    switch (this.kind) {
      case "event":
        return this.get("Event");
      case "response":
        return this.get("Response");
      case "action":
        return this.get("Action");
      default:
        return undefined;
    }
  }

  /** The first `ActionID` value, or `undefined`. */
  get actionId(): string | undefined {
    return this.get("ActionID");
  }

  /** The message's bytes as framed (a view, not a copy). */
  get raw(): Buffer {
    return this.#bytes.subarray(this.#base, this.#table[this.#at + 8]);
  }

  /** Whether every byte of the message is valid UTF-8 (then every string value is exact). */
  get utf8(): boolean {
    return isUtf8(this.raw);
  }

  /** Every line, in order: headers and bare lines (those without a colon). */
  lines(): Line[] {
    const out: Line[] = [];
    const b = this.#bytes;
    const stride = lineWords(this.#flags);
    const first = this.#at + HEADER_WORDS;
    const end = first + stride * (this.#table[this.#at + 9] as number);
    for (let p = first; p < end; p += stride) {
      const s = this.#lineStart(p);
      const e = this.#lineEnd(p);
      let colon = s;
      while (colon < e && b[colon] !== 58) colon++;
      if (colon === e) {
        out.push({ name: undefined, value: this.#decode(s, e) });
      } else {
        out.push({ name: this.#decode(s, colon), value: this.#decode(this.#valueStart(p, colon - s), e) });
      }
    }
    return out;
  }

  /** Every header line as a `[name, value]` pair, in order, duplicates included (bare lines left out: see {@link lines}). */
  headers(): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    for (const l of this.lines()) if (l.name !== undefined) out.push([l.name, l.value]);
    return out;
  }

  #distinct(): Array<[string, string]> {
    const seen = new Set<string>();
    const out: Array<[string, string]> = [];
    for (const [n, v] of this.headers()) {
      const folded = n.replace(/[A-Z]+/g, (s) => s.toLowerCase());
      if (!seen.has(folded)) {
        seen.add(folded);
        out.push([n, v]);
      }
    }
    return out;
  }

  /** The number of distinct header names. */
  get size(): number {
    return this.#distinct().length;
  }

  /** The distinct header names (spelled as first sent) with their first value. */
  entries(): MapIterator<[string, string]> {
    return this.#distinct()[Symbol.iterator]() as MapIterator<[string, string]>;
  }

  /** The distinct header names, in order of first appearance. */
  keys(): MapIterator<string> {
    return this.#distinct()
      .map(([n]) => n)
      [Symbol.iterator]() as MapIterator<string>;
  }

  /** The first value of each distinct header name, in the order of `keys()`. */
  values(): MapIterator<string> {
    return this.#distinct()
      .map(([, v]) => v)
      [Symbol.iterator]() as MapIterator<string>;
  }

  /** Same as {@link entries}. */
  [Symbol.iterator](): MapIterator<[string, string]> {
    return this.entries();
  }

  /** Calls `callback(value, name, this)` for each distinct header name. */
  forEach(callback: (value: string, key: string, map: ReadonlyMap<string, string>) => void, thisArg?: unknown): void {
    for (const [n, v] of this.#distinct()) callback.call(thisArg, v, n, this);
  }

  /**
   * This message over a copy of its own bytes: independent of the chunk it was decoded from
   * (which the caller may then reuse) and of the rest of its batch (which it no longer keeps
   * alive). Returns the message itself when it already is.
   */
  detach(): Message {
    const t = this.#table;
    const at = this.#at;
    const end = itemEnd(t, at);
    const ms = this.#base;
    const me = t[at + 8] as number;
    const own = !(this.#flags & Flag.Chunk);
    if (own && this.#bytes.length <= 2 * (me - ms) + 256 && t.length <= 2 * (end - at) + 64) return this;
    const table = t.slice(at, end);
    // Line offsets are relative to the message; the message's range and the extra ranges move.
    table[7] = 0;
    table[8] = me - ms;
    for (let p = itemExtras(table, 0); p < table.length; p++) table[p] = (table[p] as number) - ms;
    const texts: string[] = [];
    table[2] = 0;
    table[3] = 0;
    if (this.error !== undefined) {
      texts.push(this.error);
      table[3] = 1;
    }
    table[1] = (table[1] as number) & ~Flag.Chunk;
    return new Message({ bytes: Buffer.from(this.#bytes.subarray(ms, me)), table, texts, more: false }, 0);
  }

  /** The headers as a plain object: the first value of each distinct name. */
  toJSON(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [n, v] of this.#distinct()) out[n] = v;
    return out;
  }

  /** The message's text (as framed, invalid UTF-8 replaced). */
  toString(): string {
    return this.raw.toString("utf8");
  }

  get [Symbol.toStringTag](): string {
    return "Message";
  }
}

/** The server's greeting line, `Asterisk Call Manager/<version>`. */
export class Banner {
  /** Always `"banner"`, so that a decode loop can test `item.kind` alone. */
  readonly kind = "banner" as const;

  /** @internal */
  constructor(
    /** The whole line, without its line end. */
    readonly line: string,
    /** The text after the first `/` (e.g. `11.0.0`), or empty. */
    readonly version: string,
  ) {}
}
