/**
 * What the client refuses to believe of a server: a greeting that is not an AMI banner, a list
 * answer that would not end; and how it waits before reconnecting.
 */
import { GREETING_SHOWN, NotAnAmiServer, ResponseTooLarge } from "./errors";
import native = require("./native");

/** Default cap on the items of one list answer (more than any real PBX has channels). */
export const MAX_LIST_ITEMS = 100_000;
/** Default cap on the bytes of one list answer (64 MiB). */
export const MAX_LIST_BYTES = 64 << 20;

/** Looks at the first bytes a server sends; throws {@link NotAnAmiServer} as soon as they cannot be an AMI banner. */
export class GreetingCheck {
  #seen: Buffer = Buffer.alloc(0);
  /** True once the greeting is known to be an AMI banner. */
  done = false;

  constructor(readonly target: string) {}

  /** Takes bytes received; throws {@link NotAnAmiServer} if they are not a banner. */
  feed(data: Uint8Array): void {
    if (this.done || data.length === 0) return;
    const room = GREETING_SHOWN - this.#seen.length;
    if (room > 0) this.#seen = Buffer.concat([this.#seen, data.subarray(0, room)]);
    const verdict = native.checkGreeting(this.#seen);
    if (verdict === "ok") this.done = true;
    else if (verdict === "bad") throw new NotAnAmiServer(this.target, this.#seen);
    else if (this.#seen.length >= GREETING_SHOWN) throw new NotAnAmiServer(this.target, this.#seen);
  }
}

/** Counts what one action brought back against the caps. */
export class ListBudget {
  items = 0;
  size = 0;

  constructor(
    readonly action: string,
    readonly maxItems: number,
    readonly maxBytes: number,
  ) {}

  /** Accounts for `items` items of `bytes` bytes; the error to fail the action with if a cap is broken. */
  charge(items: number, bytes: number): ResponseTooLarge | undefined {
    this.items += items;
    this.size += bytes;
    if (this.items > this.maxItems) return new ResponseTooLarge(this.action, this.items, this.size, "items");
    if (this.size > this.maxBytes) return new ResponseTooLarge(this.action, this.items, this.size, "bytes");
    return undefined;
  }
}

/**
 * The reconnection policy: the wait doubles after each failed or short-lived connection, up to
 * `max`, each wait drawn at random from its upper half (so that the clients of one server do
 * not reconnect in step). Only a connection that lived `stableAfter` resets it: a server that
 * accepts the login and drops at once is not hammered.
 */
export interface BackoffOptions {
  /** The first wait in ms (default 250). */
  initial?: number;
  /** The longest wait in ms (default 30000). */
  max?: number;
  /** A connection that lasted this long (ms) resets the waits (default 30000). */
  stableAfter?: number;
}

/** The waits of one {@link BackoffOptions} policy, as connections fail. */
export class Backoff {
  readonly initial: number;
  readonly max: number;
  readonly stableAfter: number;
  #next: number;

  constructor(options: BackoffOptions = {}) {
    this.max = Math.max(0, options.max ?? 30_000);
    this.initial = Math.min(Math.max(0, options.initial ?? 250), this.max);
    this.stableAfter = options.stableAfter ?? 30_000;
    this.#next = this.initial;
  }

  /** The wait before the next attempt: uniform in `[w/2, w]` for the current `w`, which then doubles (up to `max`). */
  nextDelay(): number {
    const w = this.#next;
    this.#next = Math.max(Math.min(w * 2, this.max), this.initial);
    return w / 2 + Math.random() * (w / 2);
  }

  /** A connection ended after `lived` ms: a long one resets the waits. */
  connectionEnded(lived: number): void {
    if (lived >= this.stableAfter) this.#next = this.initial;
  }
}
