/**
 * `ClientConnection`: the sans-IO AMI client session (h11 style). It does no I/O: feed it what
 * the socket received, take its events, send what it queued, call it back at its timeout.
 * {@link connect} is built on it; use it directly to drive AMI over any transport.
 */
import { flatten, Fields } from "./encode";
import { Batch, Flag, Message, Tag, itemEnd, itemExtras, itemText } from "./message";
import native = require("./native");

/** Why a session ended. */
export type CloseReason = "logoff" | "login-failed" | "peer-closed" | "keepalive-timeout" | "unresponsive" | "closed";

/** Where a session stands. */
export type ClientState = "awaiting-banner" | "connected" | "authenticating" | "ready" | "logging-off" | "closed";

/**
 * What a {@link ClientConnection} reports. Every action gets exactly one final event: its
 * response (`complete`), list completion, command output, OriginateResponse, `actionTimedOut`,
 * `actionAborted` or `malformed` with its `actionId`.
 */
export type ClientEvent =
  | { readonly type: "banner"; readonly line: string; readonly version: string }
  | { readonly type: "loggedIn"; readonly actionId: string; readonly message: Message }
  | { readonly type: "loginFailed"; readonly actionId: string; readonly message: Message }
  | { readonly type: "response"; readonly actionId: string; readonly message: Message; readonly complete: boolean }
  | { readonly type: "listStart"; readonly actionId: string; readonly message: Message }
  | { readonly type: "listItem"; readonly actionId: string; readonly message: Message }
  | { readonly type: "listComplete"; readonly actionId: string; readonly message: Message }
  | {
      readonly type: "commandOutput";
      readonly actionId: string;
      readonly message: Message;
      readonly lines: string[];
      readonly success: boolean;
    }
  | { readonly type: "originateResponse"; readonly actionId: string; readonly message: Message }
  | { readonly type: "event"; readonly message: Message }
  | { readonly type: "unsolicited"; readonly message: Message }
  | { readonly type: "actionTimedOut"; readonly actionId: string }
  | { readonly type: "actionAborted"; readonly actionId: string; readonly reason: CloseReason }
  | { readonly type: "malformed"; readonly actionId: string | undefined; readonly error: string; readonly message: Message }
  | { readonly type: "closed"; readonly reason: CloseReason; readonly truncated: boolean };

/** Settings of a {@link ClientConnection} (times in milliseconds). */
export interface ClientConnectionOptions {
  /** Log in at once as this user (with `secret`). */
  username?: string;
  /** The user's secret. */
  secret?: string;
  /** `"md5"` (challenge-response, the default: the secret never crosses the wire) or `"plain"`. */
  auth?: "md5" | "plain";
  /** The `Events:` mask sent with the login (`"off"`, `"call,system"`; default: the user's `read=`). */
  events?: string;
  /** Prefix of generated ActionIDs (default `ami-`). */
  actionIdPrefix?: string;
  /** Default time limit of an action (default 30000; `Infinity`: none). */
  actionTimeout?: number;
  /** Silence before a keepalive `Ping` (default: none). It runs while actions wait too. */
  keepaliveInterval?: number;
  /** How long the keepalive `Ping` may go unanswered (default 10000). */
  keepaliveTimeout?: number;
  /** Most actions pending at once (default 1024). */
  maxInFlight?: number;
  /** After this many actions in a row time out, the session closes as `"unresponsive"`. */
  maxConsecutiveTimeouts?: number;
  /** Refuse actions before a login (default true). */
  requireLogin?: boolean;
  /** The time now (default `performance.now()`). */
  now?: number;
}

/** Options of {@link ClientConnection.sendAction}. */
export interface SendOptions {
  /** The ActionID to use (default: a generated one). */
  actionId?: string;
  /** This action's time limit in ms (default: the connection's; `Infinity`: none). */
  timeout?: number;
  /** The time now (default `performance.now()`). */
  now?: number;
}

/** Decodes the client events of a batch. @internal */
export function clientEvents(batch: Batch, out: ClientEvent[]): void {
  const t = batch.table;
  for (let p = 0; p < t.length; p = itemEnd(t, p)) {
    const tag = t[p] as number;
    const flags = t[p + 1] as number;
    const id = itemText(batch, t[p + 2] as number) ?? "";
    const text = itemText(batch, t[p + 3] as number) ?? "";
    const msg = (): Message => new Message(batch, p);
    switch (tag) {
      case Tag.Event:
        out.push({ type: "event", message: msg() });
        break;
      case Tag.Banner:
        out.push({ type: "banner", line: id, version: text });
        break;
      case Tag.LoggedIn:
        out.push({ type: "loggedIn", actionId: id, message: msg() });
        break;
      case Tag.LoginFailed:
        out.push({ type: "loginFailed", actionId: id, message: msg() });
        break;
      case Tag.Response:
        out.push({ type: "response", actionId: id, message: msg(), complete: (flags & Flag.Bool) !== 0 });
        break;
      case Tag.ListStart:
        out.push({ type: "listStart", actionId: id, message: msg() });
        break;
      case Tag.ListItem:
        out.push({ type: "listItem", actionId: id, message: msg() });
        break;
      case Tag.ListComplete:
        out.push({ type: "listComplete", actionId: id, message: msg() });
        break;
      case Tag.CommandOutput: {
        const lines: string[] = [];
        const x = itemExtras(t, p);
        for (let i = 0; i < (t[p + 10] as number); i++) {
          lines.push(batch.bytes.toString("utf8", t[x + 2 * i] as number, t[x + 2 * i + 1] as number));
        }
        out.push({ type: "commandOutput", actionId: id, message: msg(), lines, success: (flags & Flag.Bool) !== 0 });
        break;
      }
      case Tag.OriginateResponse:
        out.push({ type: "originateResponse", actionId: id, message: msg() });
        break;
      case Tag.Unsolicited:
        out.push({ type: "unsolicited", message: msg() });
        break;
      case Tag.ActionTimedOut:
        out.push({ type: "actionTimedOut", actionId: id });
        break;
      case Tag.ActionAborted:
        out.push({ type: "actionAborted", actionId: id, reason: text as CloseReason });
        break;
      case Tag.Malformed:
        out.push({
          type: "malformed",
          actionId: (t[p + 2] as number) === 0 ? undefined : id,
          error: text,
          message: msg(),
        });
        break;
      case Tag.Closed:
        out.push({ type: "closed", reason: text as CloseReason, truncated: (flags & Flag.Bool) !== 0 });
        break;
      default:
        break;
    }
  }
}

/**
 * A sans-IO AMI client session.
 *
 * ```ts
 * const conn = new ClientConnection({ username: "admin", secret: "s3cret" }); // MD5 login queued
 * socket.on("data", (d) => { conn.receiveData(d); pump(); });
 * function pump() {
 *   for (const ev of conn.events()) { ... }          // banner, loggedIn, response, event, ...
 *   const out = conn.dataToSend(); if (out) socket.write(out);
 *   // and call conn.handleTimeout() at conn.nextTimeout()
 * }
 * const id = conn.sendAction("Ping");                // its final event carries this actionId
 * ```
 *
 * Times are milliseconds of `performance.now()` (the default of every `now` argument).
 */
export class ClientConnection {
  #native: native.NativeClient;

  constructor(options: ClientConnectionOptions = {}) {
    const now = options.now ?? performance.now();
    this.#native = new native.NativeClient(
      {
        events: options.events,
        actionIdPrefix: options.actionIdPrefix,
        actionTimeout: options.actionTimeout,
        keepaliveInterval: options.keepaliveInterval,
        keepaliveTimeout: options.keepaliveTimeout,
        maxInFlight: options.maxInFlight,
        maxConsecutiveTimeouts: options.maxConsecutiveTimeouts,
        requireLogin: options.requireLogin,
      },
      now,
    );
    if (options.username !== undefined || options.secret !== undefined) {
      if (options.username === undefined || options.secret === undefined) {
        throw new TypeError("give both username and secret, or neither");
      }
      this.login(options.username, options.secret, options.auth);
    }
  }

  /** Bytes received from the server, in any chunks; an empty chunk means the server closed the connection. */
  receiveData(data: Uint8Array): void {
    if (data.length === 0) this.#native.receiveEof();
    else this.#native.receiveData(data);
  }

  /** Every event the session has now (empty when nothing happens until more data, a command or a timeout). */
  events(): ClientEvent[] {
    const out: ClientEvent[] = [];
    for (;;) {
      const batch = this.#native.poll() as Batch;
      clientEvents(batch, out);
      if (!batch.more) return out;
    }
  }

  /** Starts a login; returns the Login's (or Challenge's) ActionID. */
  login(username: string, secret: string, auth: "md5" | "plain" = "md5"): string {
    return this.#native.login(username, secret, auth);
  }

  /**
   * Queues an action and returns its ActionID. Throws {@link LocalProtocolError} when the
   * session refuses (not logged in, closed, too many pending, a value that could inject a
   * line, ...); nothing is queued then.
   */
  sendAction(name: string, fields?: Fields, options: SendOptions = {}): string {
    return this.#native.sendAction(
      name,
      flatten(fields),
      options.now ?? performance.now(),
      options.actionId,
      options.timeout,
    );
  }

  /** {@link sendAction} with fields already flattened. @internal */
  sendFlat(name: string, flat: Array<string | Buffer>, options: SendOptions = {}): string {
    return this.#native.sendAction(name, flat, options.now ?? performance.now(), options.actionId, options.timeout);
  }

  /** Sends `Logoff`; returns its ActionID. */
  logoff(): string {
    return this.#native.logoff();
  }

  /** The bytes to send to the server (they count as sent), or `undefined` when there are none. */
  dataToSend(): Buffer | undefined {
    return this.#native.takeTransmit() ?? undefined;
  }

  /** When {@link handleTimeout} should be called next (ms of `performance.now()`), or `undefined`. */
  nextTimeout(): number | undefined {
    return this.#native.nextTimeout() ?? undefined;
  }

  /** The timer fired (early or late is harmless): times out overdue actions, sends a keepalive `Ping` when due. */
  handleTimeout(now: number = performance.now()): void {
    this.#native.handleTimeout(now);
  }

  /** Where the session stands. */
  get state(): ClientState {
    return this.#native.state as ClientState;
  }

  /** The server's banner line, once received. */
  get banner(): string | undefined {
    return this.#native.banner ?? undefined;
  }

  /** The caller's actions still waiting for their final event. */
  get pendingActions(): number {
    return this.#native.pendingActions;
  }

  /** Whether action `actionId` is still waiting for its final event. */
  isPending(actionId: string): boolean {
    return this.#native.isPending(actionId);
  }
}
