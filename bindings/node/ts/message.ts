/**
 * Messages: read-only, case-insensitive maps over the bytes the native decoder framed.
 *
 * A call into the native core returns a {@link Batch}: one `Buffer` holding the bytes of every
 * message it completed and one `Uint32Array` saying where each message and line lies (the
 * layout is documented in `src/batch.rs`). A {@link Message} is a small view into a batch: a
 * header's value becomes a string only when it is read, so a loop that reads two headers of
 * each event pays for two strings, not for twenty.
 */
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
  Ascii = 4,
  Utf8 = 8,
  Error = 16,
}

const KINDS: readonly MessageKind[] = ["unknown", "action", "response", "event"];

/** The word after the last word of the item at `p`. @internal */
export function itemEnd(table: Uint32Array, p: number): number {
  return p + HEADER_WORDS + 4 * (table[p + 9] as number) + 2 * (table[p + 10] as number);
}

/** Text `i` of an item's word (`0`: none). @internal */
export function itemText(batch: Batch, word: number): string | undefined {
  return word === 0 ? undefined : batch.texts[word - 1];
}

// Node's own Buffer slicers, reached directly: `buf.toString(encoding, start, end)` dispatches
// on the encoding name on every call, which costs as much as the copy for a short value.
type Slicer = (this: Buffer, start: number, end: number) => string;
const proto = Buffer.prototype as unknown as { latin1Slice?: Slicer; utf8Slice?: Slicer };
const latin1Slice: Slicer =
  proto.latin1Slice ??
  function (this: Buffer, start: number, end: number): string {
    return this.toString("latin1", start, end);
  };
const utf8Slice: Slicer =
  proto.utf8Slice ??
  function (this: Buffer, start: number, end: number): string {
    return this.toString("utf8", start, end);
  };

/** How many header names {@link keyBytes} remembers before it starts over. */
const KEY_CACHE_SIZE = 512;
const keyCache = new Map<string, Uint8Array>();

/**
 * The UTF-8 bytes of a header name with ASCII letters lower-cased (names compare
 * ASCII-case-insensitively, as Asterisk compares them). Names are usually literals in the
 * caller's code, so the bytes are remembered (a bounded cache).
 */
function keyBytes(name: string): Uint8Array {
  let key = keyCache.get(name);
  if (key === undefined) {
    const b = Buffer.from(name, "utf8");
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
 * A message is a view into the batch of bytes it was decoded with, which it keeps alive; call
 * {@link Message.detach} before keeping one message of a large batch for long.
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

  /** @internal */
  constructor(batch: Batch, at: number) {
    const t = batch.table;
    const flags = t[at + 1] as number;
    this.#bytes = batch.bytes;
    this.#table = t;
    this.#at = at;
    this.#flags = flags;
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
    return this.#flags & Flag.Ascii
      ? latin1Slice.call(this.#bytes, start, end)
      : utf8Slice.call(this.#bytes, start, end);
  }

  /** The table word of the first line named `name` at or after `from`, or -1. */
  #find(name: string, from: number): number {
    const key = keyBytes(name);
    const klen = key.length;
    const t = this.#table;
    const b = this.#bytes;
    const end = this.#at + HEADER_WORDS + 4 * (t[this.#at + 9] as number);
    for (let p = from; p < end; p += 4) {
      const ns = t[p] as number;
      if ((t[p + 1] as number) - ns !== klen) continue;
      let i = 0;
      for (; i < klen; i++) {
        let c = b[ns + i] as number;
        if (c >= 65 && c <= 90) c |= 32;
        if (c !== key[i]) break;
      }
      if (i === klen) return p;
    }
    return -1;
  }

  get #first(): number {
    return this.#at + HEADER_WORDS;
  }

  /** The first value of header `name` (ASCII case-insensitive), or `undefined`. */
  get(name: string): string | undefined {
    const p = this.#find(name, this.#first);
    if (p < 0) return undefined;
    const t = this.#table;
    return this.#decode(t[p + 2] as number, t[p + 3] as number);
  }

  /** The first value of header `name` as its exact bytes (a view, not a copy), or `undefined`. */
  getBuffer(name: string): Buffer | undefined {
    const p = this.#find(name, this.#first);
    if (p < 0) return undefined;
    return this.#bytes.subarray(this.#table[p + 2], this.#table[p + 3]);
  }

  /** Every value of header `name`, in order. */
  getAll(name: string): string[] {
    const out: string[] = [];
    const t = this.#table;
    for (let p = this.#find(name, this.#first); p >= 0; p = this.#find(name, p + 4)) {
      out.push(this.#decode(t[p + 2] as number, t[p + 3] as number));
    }
    return out;
  }

  /** Every value of header `name` as bytes, in order. */
  getAllBuffers(name: string): Buffer[] {
    const out: Buffer[] = [];
    const t = this.#table;
    for (let p = this.#find(name, this.#first); p >= 0; p = this.#find(name, p + 4)) {
      out.push(this.#bytes.subarray(t[p + 2], t[p + 3]));
    }
    return out;
  }

  /** Whether a header `name` is present. */
  has(name: string): boolean {
    return this.#find(name, this.#first) >= 0;
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

  /** The message's bytes as framed (a view into its batch). */
  get raw(): Buffer {
    const t = this.#table;
    return this.#bytes.subarray(t[this.#at + 7], t[this.#at + 8]);
  }

  /** Whether every byte of the message is valid UTF-8 (then every string value is exact). */
  get utf8(): boolean {
    return (this.#flags & Flag.Utf8) !== 0;
  }

  /** Every line, in order: headers and bare lines (those without a colon). */
  lines(): Line[] {
    const out: Line[] = [];
    const t = this.#table;
    const end = this.#first + 4 * (t[this.#at + 9] as number);
    for (let p = this.#first; p < end; p += 4) {
      const ns = t[p] as number;
      const ne = t[p + 1] as number;
      const value = this.#decode(t[p + 2] as number, t[p + 3] as number);
      out.push({ name: ne < ns ? undefined : this.#decode(ns, ne), value });
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
   * A copy of this message that keeps only its own bytes (a message otherwise keeps the whole
   * batch it was decoded with alive). Cheap when the batch holds little more than it.
   */
  detach(): Message {
    const t = this.#table;
    const at = this.#at;
    const end = itemEnd(t, at);
    const ms = t[at + 7] as number;
    const me = t[at + 8] as number;
    if (this.#bytes.length <= 2 * (me - ms) + 256 && t.length <= 2 * (end - at) + 64) return this;
    const table = t.slice(at, end);
    // Offsets become relative to the copy (a bare line's name marker, 1 then 0, stays).
    let p = HEADER_WORDS;
    for (let i = 0; i < (table[9] as number); i++, p += 4) {
      if ((table[p + 1] as number) >= (table[p] as number)) {
        table[p] = (table[p] as number) - ms;
        table[p + 1] = (table[p + 1] as number) - ms;
      }
      table[p + 2] = (table[p + 2] as number) - ms;
      table[p + 3] = (table[p + 3] as number) - ms;
    }
    for (let i = 0; i < (table[10] as number); i++, p += 2) {
      table[p] = (table[p] as number) - ms;
      table[p + 1] = (table[p + 1] as number) - ms;
    }
    table[7] = 0;
    table[8] = me - ms;
    const texts: string[] = [];
    if (this.error !== undefined) {
      texts.push(this.error);
      table[3] = 1;
    }
    table[2] = 0;
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
