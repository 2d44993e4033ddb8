/**
 * The AMI stream decoder: bytes in any chunks, {@link Banner}s and {@link Message}s out.
 */
import { Banner, Batch, HEADER_WORDS, Message, Role, Tag, itemEnd, itemText } from "./message";
import native = require("./native");

/** Limits of a decoder (absent: the role's defaults, Asterisk's own for `"server"`). */
export interface DecoderOptions {
  /** Longest line, in bytes. */
  maxLine?: number;
  /** Most lines in one message. */
  maxHeaders?: number;
  /** Longest message, in bytes. */
  maxMessage?: number;
}

/** The `bytes` of a batch whose messages all lie in the chunk fed. */
const EMPTY = Buffer.alloc(0);

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
    // The table is written into memory allocated here, which V8's collector frees and hands
    // out again (see NativeFeedBatch in src/decoder.rs): about one word per 8 bytes is plenty
    // for AMI traffic (a line is rarely under 16 bytes); a larger table comes back on its own.
    const room = Buffer.allocUnsafeSlow(4 * (((data.byteLength + this.#native.buffered) >>> 3) + 256));
    const r = this.#native.feed(data, room);
    const table = r.table ?? new Uint32Array(room.buffer, room.byteOffset, r.used);
    if (table.length > 0 || r.more) {
      const chunk = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      this.#batches.push({ bytes: r.bytes ?? EMPTY, table, texts: r.texts, more: r.more, chunk });
    }
  }

  /** The next complete item, or `undefined` when more data is needed. */
  next(): Banner | Message | undefined {
    let b = this.#batch;
    while (b === undefined || this.#p >= b.table.length) {
      if (b !== undefined && b.more) {
        b = this.#native.drain() as Batch;
      } else {
        b = this.#batches.shift();
        if (b === undefined) {
          this.#batch = undefined;
          return undefined;
        }
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
