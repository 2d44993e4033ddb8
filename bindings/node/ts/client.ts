/**
 * The AMI client over `net`/`tls`, on the sans-IO {@link ClientConnection}.
 *
 * ```ts
 * const ami = await connect({ host: "127.0.0.1", port: 5038, username: "admin", secret: "s3cret" });
 * const pong = await ami.action("Ping");
 * const channels = await ami.actionList("CoreShowChannels");
 * for await (const ev of ami.events({ name: "Hangup" })) console.log(ev.get("Channel"));
 * await ami.close();
 * ```
 *
 * The client logs in (MD5 challenge-response by default), correlates every answer with its
 * action (any number may be in flight), collects lists, and notices a dead server: a keepalive
 * `Ping` after `keepalive` ms of silence (while actions wait too), and `maxConsecutiveTimeouts`
 * timeouts in a row. When the connection drops it reconnects with a jittered exponential
 * backoff that a flapping server cannot reset, and logs in again. Every call returns within
 * its time limit whatever the server does. Event streams are bounded, and a stream that falls
 * behind is told how many events it missed.
 */
import { EventEmitter } from "node:events";
import * as net from "node:net";
import * as tls from "node:tls";

import { Action, TypedEvent } from "./catalog";
import { ClientConnection, ClientEvent } from "./connection";
import { Fields, Value, flatten } from "./encode";
import {
  ActionError,
  AmiTimeoutError,
  ConnectionLost,
  LocalProtocolError,
  LoginError,
  RemoteProtocolError,
} from "./errors";
import { EventName, EventTypes, typed } from "./events";
import { Backoff, BackoffOptions, GreetingCheck, ListBudget, MAX_LIST_BYTES, MAX_LIST_ITEMS } from "./guards";
import { Message } from "./message";
import native = require("./native");

/** How much later than its time limit a call may return (the session's own timer fires first). */
const DEADLINE_MARGIN = 250;
/** How long {@link Client.close} waits for the server's goodbye. */
const LOGOFF_WAIT = 2000;

/** Where and how to connect. Times are in milliseconds. */
export interface ConnectOptions {
  /** The server (default `127.0.0.1`). */
  host?: string;
  /** Its AMI port (default 5038). */
  port?: number;
  /** The manager.conf user. */
  username: string;
  /** Its secret. */
  secret: string;
  /** `"md5"` (challenge-response, the default: the secret never crosses the wire) or `"plain"`. */
  auth?: "md5" | "plain";
  /** AMI over TLS: `true`, or `tls.connect` options (CA, servername, ...). */
  tls?: boolean | tls.ConnectionOptions;
  /** Time for the TCP connection, the TLS handshake, the banner and the login (default 10000). */
  connectTimeout?: number;
  /** Default time limit of an action, from sending to its final answer (default 30000). */
  actionTimeout?: number;
  /** Reconnect (and log in again) when the connection drops (default true). */
  reconnect?: boolean;
  /** The reconnection waits (default: from 250 ms, doubling up to 30 s; reset by a connection that lasted 30 s). */
  backoff?: BackoffOptions;
  /** The `Events:` mask of the login (`"off"`, `"call,system"`; default: the user's `read=`). */
  events?: string;
  /** Silence before a keepalive `Ping` (default 20000; `null`: none). */
  keepalive?: number | null;
  /** How long the keepalive `Ping` may go unanswered (default 10000). */
  keepaliveTimeout?: number;
  /** After this many actions in a row time out, the connection is taken for dead (default 3; `null`: never). */
  maxConsecutiveTimeouts?: number | null;
  /** Events each stream holds before it drops the oldest (default 10000). */
  eventQueueSize?: number;
  /** Most actions awaiting their answer at once; more wait for a slot (default 1024). */
  maxInFlight?: number;
  /** Most items one list answer may bring (default 100000). */
  maxListItems?: number;
  /** Most bytes one list answer may bring (default 64 MiB). */
  maxListBytes?: number;
}

/** Options of one action. */
export interface ActionOptions {
  /** Its time limit in ms (default: the client's `actionTimeout`). */
  timeout?: number;
  /** The ActionID to use (default: a generated one). */
  actionId?: string;
  /** Throw {@link ActionError} for `Response: Error` (default true). */
  check?: boolean;
}

/** Options of an event stream. */
export interface EventsOptions {
  /** Only events with this name, or one of these names (case-insensitive). */
  name?: string | readonly string[];
  /** Only events this predicate accepts. */
  filter?: (event: Message) => boolean;
  /** Events held before the oldest is dropped (default: the client's `eventQueueSize`). */
  maxQueue?: number;
  /**
   * Called with the number of events missed when the consumer reads again after the stream
   * fell behind. Without it a process warning (`AmiEventLag`) says so: a lag is never silent.
   */
  onLag?: (missed: number) => void;
}

/** What {@link Client.events} yields with `typed: true` and a `name`. */
type TypedFor<N> = N extends keyof EventTypes ? EventTypes[N] : TypedEvent;

/** An action's final answer and, for a list, its items. */
interface Outcome {
  message: Message;
  items: Message[];
  lines: string[] | undefined;
}

interface Pending {
  name: string;
  resolve: (o: Outcome) => void;
  reject: (e: Error) => void;
  items: Message[];
  budget: ListBudget;
  failed: boolean;
}

/**
 * The events of one subscriber (from {@link Client.events}), as an async iterator. Bounded: when
 * `maxQueue` events wait, the oldest is dropped and counted in {@link dropped}, and the consumer
 * is told at its next read (see {@link EventsOptions.onLag}). The stream ends when the client is
 * closed or {@link close} is called.
 */
export class EventStream<T = Message> implements AsyncIterableIterator<T> {
  /** Events dropped because the consumer did not keep up. */
  dropped = 0;
  #queue: Message[] = [];
  #head = 0;
  #missed = 0;
  #waiter: ((r: IteratorResult<T>) => void) | undefined;
  #closed = false;
  readonly #names: Set<string> | undefined;

  /** @internal */
  constructor(
    private readonly client: Client,
    options: EventsOptions,
    private readonly maxQueue: number,
    private readonly convert: (m: Message) => T,
  ) {
    const names = options.name === undefined ? undefined : typeof options.name === "string" ? [options.name] : options.name;
    this.#names = names === undefined ? undefined : new Set(names.map((n) => n.toLowerCase()));
    this.filter = options.filter;
    this.onLag = options.onLag;
  }

  private readonly filter: ((e: Message) => boolean) | undefined;
  private readonly onLag: ((missed: number) => void) | undefined;

  /** Whether the stream wants `event` (name and filter). @internal */
  wants(event: Message): boolean {
    if (this.#closed) return false;
    if (this.#names !== undefined) {
      const name = event.name;
      if (name === undefined || !this.#names.has(name.toLowerCase())) return false;
    }
    return this.filter === undefined || this.filter(event);
  }

  /** Takes an event it wants. @internal */
  offer(event: Message): void {
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      this.#report();
      waiter({ done: false, value: this.convert(event) });
      return;
    }
    if (this.#queue.length - this.#head >= this.maxQueue) {
      this.#head++;
      this.dropped++;
      this.#missed++;
    }
    this.#queue.push(event);
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }

  #report(): void {
    if (this.#missed === 0) return;
    const missed = this.#missed;
    this.#missed = 0;
    if (this.onLag !== undefined) this.onLag(missed);
    else {
      process.emitWarning(
        `an AMI event stream fell behind: ${missed} events were dropped (read faster, raise maxQueue, or pass onLag)`,
        { type: "AmiEventLag", code: "AMI_EVENT_LAG" },
      );
    }
  }

  /** Events waiting to be read. */
  get queued(): number {
    return this.#queue.length - this.#head;
  }

  /** The next event (`done` once the stream is closed and empty). */
  next(): Promise<IteratorResult<T>> {
    if (this.#head < this.#queue.length) {
      this.#report();
      const m = this.#queue[this.#head] as Message;
      this.#queue[this.#head++] = undefined as unknown as Message;
      if (this.#head === this.#queue.length) {
        this.#queue = [];
        this.#head = 0;
      }
      return Promise.resolve({ done: false, value: this.convert(m) });
    }
    if (this.#closed) return Promise.resolve({ done: true, value: undefined });
    if (this.#waiter !== undefined) return Promise.reject(new Error("an event stream is read by one consumer at a time"));
    return new Promise((resolve) => {
      this.#waiter = resolve;
    });
  }

  /** The next event; rejects with {@link AmiTimeoutError} after `timeout` ms, with {@link ConnectionLost} if the stream ended. */
  async get(timeout: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.#waiter = undefined;
        reject(new AmiTimeoutError(this.client.target, "an event", timeout));
      }, delay(timeout));
    });
    try {
      const r = await Promise.race([this.next(), limit]);
      if (r.done) throw new ConnectionLost("the event stream is closed");
      return r.value;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops the stream (iteration ends once the queued events are read). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.client.unsubscribe(this);
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.({ done: true, value: undefined });
  }

  /** Ends the iteration (a `break` out of `for await`). */
  return(): Promise<IteratorResult<T>> {
    this.close();
    return Promise.resolve({ done: true, value: undefined });
  }

  [Symbol.asyncIterator](): EventStream<T> {
    return this;
  }
}

/** `ms` as a timer delay: Node's timers take at most 2^31 - 1 ms (longer ones fire at once). */
function delay(ms: number): number {
  return Math.min(Math.max(0, Number.isNaN(ms) ? 0 : ms), 2 ** 31 - 1);
}

/** What the client hands events to. */
interface Subscriber {
  wants(event: Message): boolean;
  offer(event: Message): void;
  close(): void;
}

/** One connection's state. */
interface Conn {
  socket: net.Socket;
  session: ClientConnection;
  greeting: GreetingCheck;
  timer: NodeJS.Timeout | undefined;
  loggedIn: boolean;
  since: number;
  login: { resolve: () => void; reject: (e: Error) => void } | undefined;
}

/**
 * An AMI connection (made by {@link connect}). Emits `"connected"` (the banner) after every
 * login, `"disconnected"` (the reason) when a connection drops, and `"error"` never: failures
 * are reported through the calls that fail and through `"disconnected"`.
 */
export class Client extends EventEmitter {
  /** How many times a connection was established and logged in (1 + reconnects). */
  connections = 0;
  /** The server's banner line of the current (or last) connection. */
  banner: string | undefined;
  /** Why the last connection ended, or the last attempt failed. */
  lastError: string | undefined;
  readonly #o: Required<Omit<ConnectOptions, "tls" | "events" | "backoff" | "keepalive" | "maxConsecutiveTimeouts">> &
    Pick<ConnectOptions, "tls" | "events" | "keepalive" | "maxConsecutiveTimeouts">;
  readonly #backoff: Backoff;
  #conn: Conn | undefined;
  #pending = new Map<string, Pending>();
  #streams = new Set<Subscriber>();
  #closing = false;
  #ready = false;
  #readyWaiters = new Set<() => void>();
  #inFlight = 0;
  #slotWaiters: Array<() => void> = [];
  #reconnectTimer: NodeJS.Timeout | undefined;

  /** Use {@link connect}. */
  constructor(options: ConnectOptions) {
    super();
    this.#o = {
      host: options.host ?? "127.0.0.1",
      port: options.port ?? 5038,
      username: options.username,
      secret: options.secret,
      auth: options.auth ?? "md5",
      tls: options.tls,
      connectTimeout: options.connectTimeout ?? 10_000,
      actionTimeout: options.actionTimeout ?? 30_000,
      reconnect: options.reconnect ?? true,
      events: options.events,
      keepalive: options.keepalive === undefined ? 20_000 : options.keepalive,
      keepaliveTimeout: options.keepaliveTimeout ?? 10_000,
      maxConsecutiveTimeouts: options.maxConsecutiveTimeouts === undefined ? 3 : options.maxConsecutiveTimeouts,
      eventQueueSize: Math.max(1, options.eventQueueSize ?? 10_000),
      maxInFlight: Math.max(1, options.maxInFlight ?? 1024),
      maxListItems: options.maxListItems ?? MAX_LIST_ITEMS,
      maxListBytes: options.maxListBytes ?? MAX_LIST_BYTES,
    };
    this.#backoff = new Backoff(options.backoff);
  }

  /** `host:port`. */
  get target(): string {
    return `${this.#o.host}:${this.#o.port}`;
  }

  /** Whether the client is connected and logged in now. */
  get connected(): boolean {
    return this.#ready;
  }

  // ---- connection management ------------------------------------------------------------------

  /** Connects and logs in once; rejects on any failure within `connectTimeout`. @internal */
  open(): Promise<void> {
    const o = this.#o;
    const target = this.target;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const socket = o.tls
        ? tls.connect({ host: o.host, port: o.port, servername: net.isIP(o.host) ? undefined : o.host, ...(o.tls === true ? {} : o.tls) })
        : net.connect({ host: o.host, port: o.port });
      socket.setNoDelay(true);
      const session = new ClientConnection({
        username: o.username,
        secret: o.secret,
        auth: o.auth,
        events: o.events,
        actionTimeout: o.actionTimeout,
        keepaliveInterval: o.keepalive ?? undefined,
        keepaliveTimeout: o.keepaliveTimeout,
        maxConsecutiveTimeouts: o.maxConsecutiveTimeouts ?? undefined,
        maxInFlight: o.maxInFlight,
      });
      const conn: Conn = {
        socket,
        session,
        greeting: new GreetingCheck(target),
        timer: undefined,
        loggedIn: false,
        since: 0,
        login: undefined,
      };
      const fail = (e: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        socket.destroy();
        this.lastError = e.message;
        reject(e);
      };
      const deadline = setTimeout(() => {
        const what = conn.greeting.done
          ? "the login"
          : socket.connecting
            ? "the connection"
            : "the greeting (connected, but nothing was received: is it an AMI port? TLS needs tls)";
        fail(new AmiTimeoutError(target, what, o.connectTimeout));
      }, delay(o.connectTimeout));
      conn.login = {
        resolve: () => {
          if (settled) return;
          settled = true;
          clearTimeout(deadline);
          resolve();
        },
        reject: fail,
      };
      this.#conn = conn;
      socket.on(o.tls ? "secureConnect" : "connect", () => this.#flush(conn));
      socket.on("data", (data: Buffer) => {
        if (this.#conn !== conn) return;
        try {
          conn.greeting.feed(data);
        } catch (e) {
          fail(e as Error);
          return;
        }
        session.receiveData(data);
        this.#process(conn);
      });
      socket.on("error", (e: Error) => {
        if (!settled && !conn.loggedIn) {
          const hint = (e as NodeJS.ErrnoException).code === "ECONNREFUSED"
            ? " (is Asterisk running, with `enabled = yes` in manager.conf's [general], on this port?)"
            : "";
          fail(new ConnectionLost(`cannot connect to ${target}: ${e.message}${hint}`));
        }
      });
      socket.on("close", () => this.#closed(conn));
    });
  }

  #closed(conn: Conn): void {
    if (this.#conn !== conn) return;
    conn.session.receiveData(Buffer.alloc(0));
    this.#process(conn);
    if (conn.timer !== undefined) clearTimeout(conn.timer);
    this.#conn = undefined;
    const wasReady = conn.loggedIn;
    this.#setReady(false);
    conn.login?.reject(new ConnectionLost(`connection to ${this.target} closed during login`));
    // Every action still pending ended with the connection (the session has aborted them).
    for (const [id, p] of this.#pending) {
      this.#pending.delete(id);
      p.reject(new ConnectionLost(`connection to ${this.target} ended before the answer`));
    }
    if (wasReady) {
      this.#backoff.connectionEnded(performance.now() - conn.since);
      const reason = this.lastError ?? "the server closed the connection";
      this.emit("disconnected", reason);
      if (!this.#closing && this.#o.reconnect) this.#scheduleReconnect();
    }
  }

  #scheduleReconnect(): void {
    if (this.#closing || this.#reconnectTimer !== undefined) return;
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (this.#closing) return;
      this.open().catch(() => this.#scheduleReconnect());
    }, this.#backoff.nextDelay());
  }

  #setReady(ready: boolean): void {
    this.#ready = ready;
    if (ready) {
      for (const w of this.#readyWaiters) w();
      this.#readyWaiters.clear();
    }
  }

  #flush(conn: Conn): void {
    const out = conn.session.dataToSend();
    if (out !== undefined && this.#conn === conn && !conn.socket.destroyed) conn.socket.write(out);
  }

  #arm(conn: Conn): void {
    if (conn.timer !== undefined) clearTimeout(conn.timer);
    conn.timer = undefined;
    const at = conn.session.nextTimeout();
    if (at === undefined || this.#conn !== conn) return;
    conn.timer = setTimeout(() => {
      conn.timer = undefined;
      conn.session.handleTimeout();
      this.#process(conn);
    }, delay(at - performance.now()));
  }

  /** The drain rule: every event, then the bytes to send, then the timer. */
  #process(conn: Conn): void {
    for (const ev of conn.session.events()) this.#dispatch(conn, ev);
    this.#flush(conn);
    this.#arm(conn);
  }

  #settle(id: string, outcome: Outcome | Error): void {
    const p = this.#pending.get(id);
    if (p === undefined) return;
    this.#pending.delete(id);
    if (outcome instanceof Error) p.reject(outcome);
    else if (!p.failed) p.resolve(outcome);
  }

  #dispatch(conn: Conn, ev: ClientEvent): void {
    switch (ev.type) {
      case "event": {
        let kept: Message | undefined;
        for (const s of this.#streams) {
          if (s.wants(ev.message)) {
            kept ??= ev.message.detach();
            s.offer(kept);
          }
        }
        break;
      }
      case "response":
        if (ev.complete) this.#settle(ev.actionId, { message: ev.message.detach(), items: [], lines: undefined });
        break;
      case "listItem": {
        const p = this.#pending.get(ev.actionId);
        if (p === undefined || p.failed) break;
        const tooLarge = p.budget.charge(1, ev.message.raw.length);
        if (tooLarge !== undefined) {
          // Fail it now; the rest of the list is read and dropped as it comes.
          p.failed = true;
          p.items = [];
          p.reject(tooLarge);
        } else {
          p.items.push(ev.message.detach());
        }
        break;
      }
      case "listComplete": {
        const p = this.#pending.get(ev.actionId);
        this.#settle(ev.actionId, { message: ev.message.detach(), items: p?.items ?? [], lines: undefined });
        break;
      }
      case "commandOutput": {
        const p = this.#pending.get(ev.actionId);
        const tooLarge = p?.budget.charge(ev.lines.length, ev.message.raw.length);
        this.#settle(ev.actionId, tooLarge ?? { message: ev.message.detach(), items: [], lines: ev.lines });
        break;
      }
      case "originateResponse":
        this.#settle(ev.actionId, { message: ev.message.detach(), items: [], lines: undefined });
        break;
      case "actionTimedOut": {
        const p = this.#pending.get(ev.actionId);
        this.#settle(ev.actionId, new AmiTimeoutError(this.target, `the action ${p?.name ?? ev.actionId}`, this.#o.actionTimeout));
        break;
      }
      case "actionAborted":
        this.#settle(ev.actionId, new ConnectionLost(`connection to ${this.target} ended before the answer (${ev.reason})`));
        break;
      case "malformed":
        if (ev.actionId !== undefined) this.#settle(ev.actionId, new RemoteProtocolError(`malformed answer: ${ev.error}`));
        break;
      case "loggedIn":
        conn.loggedIn = true;
        conn.since = performance.now();
        this.connections++;
        this.lastError = undefined;
        this.#setReady(true);
        conn.login?.resolve();
        conn.login = undefined;
        this.emit("connected", this.banner);
        break;
      case "loginFailed":
        conn.login?.reject(new LoginError(this.target, this.#o.username, ev.message.detach()));
        conn.login = undefined;
        break;
      case "banner":
        this.banner = ev.line;
        break;
      case "closed":
        // The session is over (the server closed, or it was declared dead): drop the socket,
        // which ends this connection and starts the reconnection.
        if (ev.reason === "keepalive-timeout" || ev.reason === "unresponsive") {
          this.lastError = `the server stopped answering (${ev.reason})`;
        }
        this.#setReady(false);
        conn.socket.destroy();
        break;
      default:
        break;
    }
  }

  /** @internal */
  unsubscribe(stream: Subscriber): void {
    this.#streams.delete(stream);
  }

  // ---- actions --------------------------------------------------------------------------------

  async #waitReady(limit: number): Promise<Conn> {
    if (this.#closing) throw new ConnectionLost("the client is closed");
    if (!this.#ready) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.#readyWaiters.delete(done);
          reject(new ConnectionLost(`not connected to ${this.target} (reconnecting; last: ${this.lastError ?? "unknown"})`));
        }, delay(Math.min(limit, this.#o.connectTimeout)));
        const done = (): void => {
          clearTimeout(timer);
          resolve();
        };
        this.#readyWaiters.add(done);
      });
    }
    const conn = this.#conn;
    if (this.#closing || conn === undefined) throw new ConnectionLost("the client is closed");
    return conn;
  }

  async #slot(): Promise<void> {
    if (this.#inFlight < this.#o.maxInFlight) {
      this.#inFlight++;
      return;
    }
    await new Promise<void>((resolve) => this.#slotWaiters.push(resolve));
  }

  #release(): void {
    const next = this.#slotWaiters.shift();
    if (next !== undefined) next();
    else this.#inFlight--;
  }

  async #send(name: string, fields: Fields, options: ActionOptions): Promise<Outcome> {
    const timeout = options.timeout ?? this.#o.actionTimeout;
    const flat = flatten(fields);
    const limit = native.actionTimeLimit(name, flat, timeout) + DEADLINE_MARGIN;
    let timer: NodeJS.Timeout | undefined;
    let id: string | undefined;
    let gaveUp = false;
    // No time limit (Infinity) means no deadline of the call's own either.
    const deadline = new Promise<never>((_, reject) => {
      if (!Number.isFinite(limit)) return;
      timer = setTimeout(() => {
        gaveUp = true;
        if (id !== undefined) this.#pending.delete(id);
        const state = this.#ready ? "" : ` (not connected: ${this.lastError ?? "reconnecting"})`;
        reject(new AmiTimeoutError(this.target, `the action ${name}${state}`, timeout));
      }, delay(limit));
    });
    const run = async (): Promise<Outcome> => {
      await this.#slot();
      try {
        const conn = await this.#waitReady(limit);
        if (gaveUp) throw new ConnectionLost("gave up");
        const result = new Promise<Outcome>((resolve, reject) => {
          id = conn.session.sendFlat(name, flat, { actionId: options.actionId, timeout });
          this.#pending.set(id, {
            name,
            resolve,
            reject,
            items: [],
            budget: new ListBudget(name, this.#o.maxListItems, this.#o.maxListBytes),
            failed: false,
          });
        });
        this.#process(conn);
        return await result;
      } finally {
        this.#release();
      }
    };
    try {
      return await Promise.race([run(), deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Sends an action and returns its final answer: the response; for an async `Originate` the
   * `OriginateResponse` event; for a list the completion event (use {@link actionList} for the
   * items). `name` is an action name with its `fields`, or an {@link Action} from `actions`.
   *
   * Rejects with {@link ActionError} for `Response: Error` or a failed async `Originate`
   * (unless `check: false`), {@link AmiTimeoutError} after the time limit,
   * {@link ConnectionLost} if the connection ends first, {@link LocalProtocolError} for a
   * value that cannot be sent.
   */
  async action(name: string | Action, fields?: Fields, options: ActionOptions = {}): Promise<Message> {
    const [n, f] = unpack(name, fields);
    const { message } = await this.#send(n, f, options);
    if (options.check !== false) check(n, message);
    return message;
  }

  /** Sends a list action (`CoreShowChannels`, `Status`, ...) and returns its items, collected until the list completes (within `maxListItems`/`maxListBytes`). */
  async actionList(name: string | Action, fields?: Fields, options: ActionOptions = {}): Promise<Message[]> {
    const [n, f] = unpack(name, fields);
    const { message, items } = await this.#send(n, f, options);
    if (options.check !== false) check(n, message);
    return items;
  }

  /** Runs a CLI command (`Action: Command`) and returns its output lines. */
  async command(command: string, options: Omit<ActionOptions, "check"> = {}): Promise<string[]> {
    const { message, lines } = await this.#send("Command", { Command: command }, options);
    check("Command", message);
    return lines ?? message.getAll("Output");
  }

  /**
   * Subscribes to events (all, or those named `name`, accepted by `filter`), from now on.
   * With `typed: true` the stream yields instances of the generated `events` classes (the
   * class of `name` when it is one documented name).
   */
  events(options?: EventsOptions & { typed?: false }): EventStream<Message>;
  events<N extends string>(options: EventsOptions & { name: N; typed: true }): EventStream<TypedFor<N>>;
  events(options: EventsOptions & { typed: true }): EventStream<TypedEvent>;
  events(options: EventsOptions & { typed?: boolean } = {}): EventStream<Message> | EventStream<TypedEvent> {
    const size = Math.max(1, options.maxQueue ?? this.#o.eventQueueSize);
    const stream = options.typed
      ? new EventStream<TypedEvent>(this, options, size, typed)
      : new EventStream<Message>(this, options, size, (m) => m);
    this.#streams.add(stream);
    return stream;
  }

  /** Waits until the client is connected and logged in (after a reconnect), up to `timeout` ms. */
  async waitConnected(timeout: number): Promise<void> {
    if (this.#ready) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#readyWaiters.delete(done);
        reject(new AmiTimeoutError(this.target, `the reconnection (last: ${this.lastError ?? "unknown"})`, timeout));
      }, delay(timeout));
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.#readyWaiters.add(done);
    });
  }

  /** Logs off (waiting briefly for the server's goodbye) and closes; pending actions fail with {@link ConnectionLost}, streams end. */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    clearTimeout(this.#reconnectTimer);
    const conn = this.#conn;
    if (conn !== undefined) {
      const gone = new Promise<void>((resolve) => {
        if (conn.socket.destroyed) resolve();
        else conn.socket.once("close", () => resolve());
      });
      if (this.#ready) {
        try {
          conn.session.logoff();
          this.#process(conn);
        } catch (e) {
          if (!(e instanceof LocalProtocolError)) throw e;
        }
        const timer = setTimeout(() => conn.socket.destroy(), LOGOFF_WAIT);
        await gone;
        clearTimeout(timer);
      } else {
        conn.socket.destroy();
        await gone;
      }
    }
    this.#setReady(false);
    for (const [id, p] of this.#pending) {
      this.#pending.delete(id);
      p.reject(new ConnectionLost("the client is closed"));
    }
    for (const s of [...this.#streams]) s.close();
  }
}

function unpack(name: string | Action, fields: Fields): [string, Fields] {
  if (typeof name === "string") return [name, fields];
  const extra = flatten(fields);
  const pairs: Array<readonly [string, Value]> = [...name.fields];
  for (let i = 0; i + 1 < extra.length; i += 2) pairs.push([String(extra[i]), extra[i + 1] as Value]);
  return [name.name, pairs];
}

function check(action: string, message: Message): void {
  const status = message.get("Response")?.toLowerCase();
  if (message.kind === "response" && (status === "error" || status === "failure")) throw new ActionError(action, message);
  if (message.name === "OriginateResponse" && status === "failure") {
    throw new ActionError(action, message, `the call failed (OriginateResponse Failure, Reason ${message.get("Reason") ?? "?"})`);
  }
}

/**
 * Connects and logs in: `const ami = await connect({ host, port, username, secret })`. Rejects
 * with {@link LoginError}, {@link NotAnAmiServer}, {@link AmiTimeoutError} or
 * {@link ConnectionLost} if the first connection fails; later losses are handled in the
 * background (see {@link ConnectOptions.reconnect}).
 */
export async function connect(options: ConnectOptions): Promise<Client> {
  const client = new Client(options);
  await client.open();
  return client;
}

/** @internal */
export type { EventName };
