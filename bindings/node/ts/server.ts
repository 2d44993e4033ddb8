/**
 * `Server`: the sans-IO AMI server over every connection of one listener, with Asterisk 22's
 * behaviour. {@link serve} is built on it.
 */
import { flatten, Fields, Value } from "./encode";
import { Batch, Message, Tag, itemEnd, itemText } from "./message";
import native = require("./native");

/** Settings of a {@link Server} (times in milliseconds). */
export interface ServerOptions {
  /** The AMI version in the banner (default `11.0.0`, Asterisk 22's). */
  amiVersion?: string;
  /** Delay before a failed login is answered (default 1000, as Asterisk). */
  loginFailureDelay?: number;
  /** Whether `FullyBooted` is sent at login (default true). */
  fullyBooted?: boolean;
  /** The `SystemName`, if any. */
  systemName?: string;
  /** Most bytes queued for one client before its events are dropped (default 1 MiB). */
  maxOutbound?: number;
  /** Most unprocessed bytes from one client (default 1 MiB). */
  maxInbound?: number;
  /** The Asterisk modules whose actions the server registers (default: the core's). */
  modules?: string[];
}

/** An action the application must answer (from {@link ServerEvent} `actionReceived`). */
export class ServerAction {
  /** @internal */
  constructor(
    /** @internal */ readonly token: number,
    /** The session that sent it. */
    readonly session: number,
    /** The canonical action name (`Getvar` for `Action: GETVAR`). */
    readonly name: string,
    /** The classes a user needs in `write=` to run it (`Privilege:` text). */
    readonly authority: string,
    /** The request. */
    readonly message: Message,
  ) {}

  /** The first value of header `name` (case-insensitive), or `undefined`. */
  get(name: string): string | undefined {
    return this.message.get(name);
  }

  /** The ActionID the answer echoes, or `undefined`. */
  get actionId(): string | undefined {
    return this.message.actionId;
  }
}

/** What a {@link Server} reports. */
export type ServerEvent =
  | { readonly type: "actionReceived"; readonly session: number; readonly action: ServerAction }
  | { readonly type: "userLoggedIn"; readonly session: number; readonly username: string }
  | { readonly type: "userLoginFailed"; readonly session: number; readonly username: string; readonly reason: string }
  | { readonly type: "securityNotice"; readonly session: number; readonly kind: string; readonly accountId: string }
  | { readonly type: "slowConsumer"; readonly session: number; readonly queued: number }
  | { readonly type: "disconnect"; readonly session: number; readonly reason: string };

/** A session snapshot. */
export type SessionInfo = native.SessionInfo;

function serverEvents(batch: Batch, out: ServerEvent[]): void {
  const t = batch.table;
  for (let p = 0; p < t.length; p = itemEnd(t, p)) {
    const session = (t[p + 4] as number) + (t[p + 5] as number) * 2 ** 32;
    const a = itemText(batch, t[p + 2] as number) ?? "";
    const b = itemText(batch, t[p + 3] as number) ?? "";
    switch (t[p]) {
      case Tag.ActionReceived: {
        const message = new Message(batch, p).detach();
        out.push({ type: "actionReceived", session, action: new ServerAction(t[p + 6] as number, session, a, b, message) });
        break;
      }
      case Tag.UserLoggedIn:
        out.push({ type: "userLoggedIn", session, username: a });
        break;
      case Tag.UserLoginFailed:
        out.push({ type: "userLoginFailed", session, username: a, reason: b });
        break;
      case Tag.SecurityNotice:
        out.push({ type: "securityNotice", session, kind: b, accountId: a });
        break;
      case Tag.SlowConsumer:
        out.push({ type: "slowConsumer", session, queued: t[p + 6] as number });
        break;
      case Tag.Disconnect:
        out.push({ type: "disconnect", session, reason: b });
        break;
      default:
        break;
    }
  }
}

/**
 * A sans-IO AMI server: it answers Login (plain and MD5, ACLs), Challenge, Logoff, Events,
 * Filter, Ping, ListCommands and WaitEvent itself, enforces `write=` permissions and the
 * escalation checks, and fans events out to the sessions whose `read=` classes and filters let
 * them through. Every other permitted action comes out as `actionReceived` for the application.
 *
 * Run loop: {@link accept} a connection, {@link receiveData} its bytes, drain {@link events}
 * (answer `actionReceived`; on `disconnect` send what is left, close and {@link remove}),
 * send {@link dataToSend} of every session, and call {@link handleTimeout} at
 * {@link nextTimeout}. Times are milliseconds of `performance.now()`.
 */
export class Server {
  #native: native.NativeServer;

  constructor(config: native.ManagerConfig | string, options: ServerOptions = {}) {
    const conf = typeof config === "string" ? native.ManagerConfig.fromText(config) : config;
    this.#native = new native.NativeServer(conf, options, performance.now(), Date.now());
  }

  /**
   * A new connection from `peer` (`"ip:port"`, `"[v6]:port"`); returns its session id and
   * queues the banner. Throws {@link LocalProtocolError} when `authlimit` unauthenticated
   * sessions are open (close the connection without sending anything).
   */
  accept(peer: string, now: number = performance.now()): number {
    return this.#native.accept(peer, now);
  }

  /** Bytes received from a session's client; an empty chunk means the client closed its side. */
  receiveData(session: number, data: Uint8Array, now: number = performance.now()): void {
    if (data.length === 0) this.#native.receiveEof(session, now);
    else this.#native.receiveData(session, data, now);
  }

  /** Every server event now. */
  events(): ServerEvent[] {
    const out: ServerEvent[] = [];
    for (;;) {
      const batch = this.#native.poll() as Batch;
      serverEvents(batch, out);
      if (!batch.more) return out;
    }
  }

  /** The bytes queued for a session's client (they count as sent), or `undefined`. */
  dataToSend(session: number): Buffer | undefined {
    return this.#native.takeTransmit(session) ?? undefined;
  }

  /** Whether to keep reading the session's socket (false while its action is with the application, or its queue is full). */
  wantsInput(session: number): boolean {
    return this.#native.wantsInput(session);
  }

  /** Forgets a session (after `disconnect`, or when its connection broke). */
  remove(session: number): boolean {
    return this.#native.remove(session);
  }

  /** When {@link handleTimeout} must be called next (ms of `performance.now()`), or `undefined`. */
  nextTimeout(): number | undefined {
    return this.#native.nextTimeout() ?? undefined;
  }

  /** Fires the timers due at `now`: delayed login failures, `authtimeout`, WaitEvent. */
  handleTimeout(now: number = performance.now()): void {
    this.#native.handleTimeout(now);
  }

  /**
   * Publishes an event of `category` (a class list such as `"call"`, a `Privilege`, or bits;
   * default `user`) to every logged-in session allowed to read it; returns how many got it.
   */
  publish(name: string, fields?: Fields, category?: string | number | native.Privilege): number {
    const c = category instanceof native.Privilege ? category.bits : category;
    return this.#native.publish(name, flatten(fields), c);
  }

  /** Answers with `Response: <status>` (default `Success`), the echoed ActionID and `fields`. */
  respond(action: ServerAction, fields?: Fields, status = "Success"): void {
    this.#native.respond(action.token, flatten(fields), status);
  }

  /** Answers `Response: Success` with `Message: <message>`. */
  ack(action: ServerAction, message = "Success"): void {
    this.#native.ack(action.token, message);
  }

  /** Answers `Response: Error` with `Message: <message>`. */
  error(action: ServerAction, message: string): void {
    this.#native.error(action.token, message);
  }

  /** Starts a list answer (`EventList: start`); the action stays pending. */
  listStart(action: ServerAction, message = "Events will follow"): void {
    this.#native.listStart(action.token, message);
  }

  /** One list item `Event: <name>` with the echoed ActionID and `fields`. */
  listItem(action: ServerAction, name: string, fields?: Fields): void {
    this.#native.listItem(action.token, name, flatten(fields));
  }

  /** Ends a list answer: `Event: <eventName>`, `EventList: Complete`, `ListItems: <items>`, `fields`. */
  listComplete(action: ServerAction, eventName: string, items: number, fields?: Fields): void {
    const flat = flatten(fields).map((v) => (typeof v === "string" ? v : v.toString("utf8")));
    this.#native.listComplete(action.token, eventName, items, flat);
  }

  /** Answers a `Command` action with its output (one `Output:` line per line of `text`). */
  commandOutput(action: ServerAction, text: string | Uint8Array, success = true): void {
    this.#native.commandOutput(action.token, typeof text === "string" ? text : Buffer.from(text), success);
  }

  /** Answers with bytes written exactly as given (empty, or ending with an empty line). */
  respondRaw(action: ServerAction, data: Uint8Array): void {
    this.#native.respondRaw(action.token, data);
  }

  /** Enters or leaves the state where every request gets `Asterisk is shutting down`. */
  setShuttingDown(shuttingDown: boolean): void {
    this.#native.setShuttingDown(shuttingDown);
  }

  /** The sessions not yet removed. */
  get sessions(): number[] {
    return this.#native.sessions;
  }

  /** A snapshot of a session, or `undefined`. */
  sessionInfo(session: number): SessionInfo | undefined {
    return this.#native.sessionInfo(session) ?? undefined;
  }
}

/** @internal */
export type { Value };
