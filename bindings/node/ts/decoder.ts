/**
 * The AMI stream decoder: bytes in any chunks, {@link Banner}s and {@link Message}s out.
 */
import { Banner, Batch, HEADER_WORDS, Message, Role, Tag, itemEnd, itemText } from "./message";
import native = require("./native");
import { room, roomAt, use } from "./slab";

/** Limits of a decoder (absent: the role's defaults, Asterisk's own for `"server"`). */
export interface DecoderOptions {
  /** Longest line, in bytes. */
  maxLine?: number;
  /** Most lines in one message. */
  maxHeaders?: number;
  /** Longest message, in bytes. */
  maxMessage?: number;
}

/**
 * What the native `feed` and `drain` return: `used * 4 + flags` (see `written` in
 * `src/decoder.rs`). At the word given they wrote the table's length, the table, then the
 * bytes of the messages they copied.
 */
const MORE = 1;
const TEXTS = 2;
const NO_TEXTS: string[] = [];

/**
 * The AMI stream decoder.
 *
 * ```ts
 * const decoder = new Decoder("client");     // reads what a server writes
 * socket.on("data", (chunk) => {
 *   decoder.feed(chunk);
 *   for (const item of decoder) {
 *     if (item.kind === "event") console.log(item.get("Event"), item.get("Channel"));
 *   }
 * });
 * ```
 *
 * `"client"` reads what a server writes (the banner first, then responses and events);
 * `"server"` reads what a client writes, with Asterisk's line limits and value rule. Iterating
 * yields every complete item and stops when more data is needed; feeding more and iterating
 * again continues. A message that breaks a limit comes out with `error` set (the lines kept
 * are readable) and the stream goes on.
 */
export class Decoder implements Iterable<Banner | Message> {
  #native: native.NativeDecoder;
  #batches: Batch[] = [];
  #batch: Batch | undefined;
  #p = 0;

  constructor(role: Role = "client", options: DecoderOptions = {}) {
    this.#native = new native.NativeDecoder(role, options);
  }

  /**
   * Adds received bytes (an empty chunk is not an end of file here).
   *
   * The messages that lie wholly in `data` are views of it, not copies: do not write into
   * `data` afterwards (a socket's chunks are never reused; copy a buffer you reuse, or
   * {@link Message.detach} what you keep).
   */
  feed(data: Uint8Array): void {
    let chunk = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    // About one word per 8 bytes is plenty for AMI traffic (a line is rarely under 16 bytes);
    // an item that does not fit comes with the next call, given the room it needs.
    let slab = room((chunk.length >>> 3) + 256);
    // The bytes of a message copied by a decoder lie in the memory tables are written into:
    // fed again, they are copied first.
    if (chunk.buffer === slab.bytes.buffer) chunk = Buffer.from(chunk);
    let at = roomAt();
    let r = this.#native.feed(chunk, slab.bytes, at);
    for (;;) {
      const used = Math.floor(r / 4);
      if (used > 0) {
        use(used);
        const texts = r & TEXTS ? this.#native.takeTexts() : NO_TEXTS;
        const w = slab.words;
        const table = new Uint32Array(w.buffer, w.byteOffset + 4 * (at + 1), w[at] as number);
        this.#batches.push({ bytes: slab.bytes, table, texts, more: false, chunk });
      }
      if (!(r & MORE)) return;
      slab = room(Math.max(this.#native.pendingWords, (chunk.length >>> 3) + 256));
      at = roomAt();
      r = this.#native.drain(slab.bytes, at);
    }
  }

  /** The next complete item, or `undefined` when more data is needed. */
  next(): Banner | Message | undefined {
    let b = this.#batch;
    while (b === undefined || this.#p >= b.table.length) {
      b = this.#batches.shift();
      if (b === undefined) {
        this.#batch = undefined;
        return undefined;
      }
      this.#batch = b;
      this.#p = 0;
    }
    const t = b.table;
    const p = this.#p;
    this.#p = itemEnd(t, p);
    if (t[p] === Tag.Message) return new Message(b, p);
    return new Banner(itemText(b, t[p + 2] as number) ?? "", itemText(b, t[p + 3] as number) ?? "");
  }

  /** Feeds `data` and returns every item it completes. */
  decode(data: Uint8Array): Array<Banner | Message> {
    this.feed(data);
    return [...this];
  }

  [Symbol.iterator](): Iterator<Banner | Message> {
    return {
      next: (): IteratorResult<Banner | Message> => {
        const value = this.next();
        return value === undefined ? { done: true, value: undefined } : { done: false, value };
      },
    };
  }

  /** Bytes buffered and not yet returned as items. */
  get buffered(): number {
    return this.#native.buffered;
  }

  /** True when the buffered bytes hold part of a message (an end of file now would cut it). */
  get isMidMessage(): boolean {
    return this.#native.isMidMessage;
  }

  /** `"client"` or `"server"`. */
  get role(): Role {
    return this.#native.role as Role;
  }
}

void HEADER_WORDS;
