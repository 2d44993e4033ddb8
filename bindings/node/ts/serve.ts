/**
 * An AMI server over `net`/`tls` on the sans-IO {@link Server}: for test doubles and small
 * gateways.
 *
 * ```ts
 * const server = await serve(managerConf, async (request) => {
 *   if (request.name === "Getvar") return { Variable: request.get("Variable") ?? "", Value: "42" };
 *   request.error("not here");
 * });
 * console.log(server.port);
 * server.publish("Hangup", { Channel: "PJSIP/100-00000001", Cause: 16 }, "call");
 * await server.close();
 * ```
 *
 * Login, permissions, event fan-out and everything Asterisk answers itself are done by the
 * native core; the handler sees only the actions the session's user may run.
 */
import * as net from "node:net";
import * as tls from "node:tls";

import { Fields } from "./encode";
import { LocalProtocolError } from "./errors";
import { Message } from "./message";
import native = require("./native");
import { Server, ServerAction, ServerEvent, ServerOptions } from "./server";

/** An action for the handler of {@link serve}, with the ways to answer it. */
export class Request {
  /** Whether a final answer was given. */
  answered = false;

  /** @internal */
  constructor(
    /** The server. */
    readonly server: AmiServer,
    /** The action. */
    readonly action: ServerAction,
  ) {}

  /** The canonical action name. */
  get name(): string {
    return this.action.name;
  }

  /** The session id. */
  get session(): number {
    return this.action.session;
  }

  /** The request. */
  get message(): Message {
    return this.action.message;
  }

  /** The first value of header `name`, or `undefined`. */
  get(name: string): string | undefined {
    return this.action.get(name);
  }

  #done(): void {
    this.answered = true;
    this.server.pump();
  }

  /** Answers `Response: <status>` (default `Success`) with `fields`. */
  respond(fields?: Fields, status = "Success"): void {
    this.server.core.respond(this.action, fields, status);
    this.#done();
  }

  /** Answers `Response: Success` with `Message: <message>`. */
  ack(message = "Success"): void {
    this.server.core.ack(this.action, message);
    this.#done();
  }

  /** Answers `Response: Error` with `Message: <message>`. */
  error(message: string): void {
    this.server.core.error(this.action, message);
    this.#done();
  }

  /**
   * Answers with an event list: the start response, one `Event: <name>` per `[name, fields]`
   * item, and `Event: <completeEvent>` with `EventList: Complete`.
   */
  sendList(items: Iterable<readonly [string, Fields]>, completeEvent: string, message = "Events will follow", fields?: Fields): void {
    const core = this.server.core;
    core.listStart(this.action, message);
    let n = 0;
    for (const [name, itemFields] of items) {
      core.listItem(this.action, name, itemFields);
      n++;
    }
    core.listComplete(this.action, completeEvent, n, fields);
    this.#done();
  }

  /** Answers a `Command` action with its output text. */
  commandOutput(text: string, success = true): void {
    this.server.core.commandOutput(this.action, text, success);
    this.#done();
  }
}

/**
 * What the handler returns: nothing (an unanswered request is acked), or fields to answer
 * `Success` with. A thrown error answers `Error` with its message.
 */
export type Handler = (request: Request) => void | Fields | Promise<void | Fields>;

/** Where {@link serve} listens, and the core's options. */
export interface ServeOptions extends ServerOptions {
  /** The address (default `127.0.0.1`). */
  host?: string;
  /** The port (default 0: any free port; see {@link AmiServer.port}). */
  port?: number;
  /** Serve AMI over TLS with these options (key, cert, ...). */
  tls?: tls.TlsOptions;
}

/** A running AMI server (from {@link serve}). */
export class AmiServer {
  /** The sans-IO core. */
  readonly core: Server;
  /** The latest server events other than actions (logins, security events, ...), at most 1000. */
  readonly notices: ServerEvent[] = [];
  #listener: net.Server | undefined;
  #sockets = new Map<number, net.Socket>();
  #timer: NodeJS.Timeout | undefined;
  #handler: Handler | undefined;

  /** @internal */
  constructor(config: native.ManagerConfig | string, handler: Handler | undefined, options: ServerOptions) {
    this.core = new Server(config, options);
    this.#handler = handler;
  }

  /** @internal */
  listen(host: string, port: number, tlsOptions: tls.TlsOptions | undefined): Promise<void> {
    const onSocket = (socket: net.Socket): void => this.#accept(socket);
    const listener = tlsOptions ? tls.createServer(tlsOptions, onSocket) : net.createServer(onSocket);
    this.#listener = listener;
    return new Promise((resolve, reject) => {
      listener.once("error", reject);
      listener.listen(port, host, () => {
        listener.off("error", reject);
        resolve();
      });
    });
  }

  /** The port listened on. */
  get port(): number {
    const a = this.#listener?.address();
    if (a === null || a === undefined || typeof a === "string") throw new Error("the server is not listening");
    return a.port;
  }

  /** Publishes an event to every session allowed to read `category` (default `user`); returns how many got it. */
  publish(name: string, fields?: Fields, category?: string | number | native.Privilege): number {
    const n = this.core.publish(name, fields, category);
    this.pump();
    return n;
  }

  /** Closes every connection abruptly (to test clients' reconnection). */
  dropConnections(): void {
    for (const [sid, socket] of this.#sockets) {
      socket.destroy();
      this.#sockets.delete(sid);
      this.core.remove(sid);
    }
  }

  #accept(socket: net.Socket): void {
    const host = socket.remoteAddress ?? "0.0.0.0";
    const peer = host.includes(":") ? `[${host}]:${socket.remotePort ?? 0}` : `${host}:${socket.remotePort ?? 0}`;
    let sid: number;
    try {
      sid = this.core.accept(peer);
    } catch (e) {
      if (e instanceof LocalProtocolError) {
        socket.destroy();
        return;
      }
      throw e;
    }
    socket.setNoDelay(true);
    this.#sockets.set(sid, socket);
    socket.on("data", (data: Buffer) => {
      if (!this.#sockets.has(sid)) return;
      this.core.receiveData(sid, data);
      this.pump();
    });
    socket.on("error", () => socket.destroy());
    socket.on("close", () => {
      if (this.#sockets.delete(sid)) {
        this.core.receiveData(sid, Buffer.alloc(0));
        this.pump();
        this.core.remove(sid);
      }
    });
    this.pump();
  }

  /** The drain rule: events, then every session's bytes and read state, then the timer. @internal */
  pump(): void {
    const disconnects: number[] = [];
    for (const ev of this.core.events()) {
      if (ev.type === "actionReceived") void this.#handle(ev.action);
      else if (ev.type === "disconnect") disconnects.push(ev.session);
      else {
        this.notices.push(ev);
        if (this.notices.length > 1000) this.notices.shift();
      }
    }
    for (const [sid, socket] of this.#sockets) {
      const out = this.core.dataToSend(sid);
      if (out !== undefined) socket.write(out);
      // Backpressure: stop reading a session whose action is with the handler or whose queue is full.
      if (this.core.wantsInput(sid)) socket.resume();
      else socket.pause();
    }
    for (const sid of disconnects) {
      const socket = this.#sockets.get(sid);
      this.#sockets.delete(sid);
      socket?.end();
      this.core.remove(sid);
    }
    this.#arm();
  }

  #arm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const at = this.core.nextTimeout();
    if (at === undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.core.handleTimeout();
      this.pump();
    }, Math.min(Math.max(0, at - performance.now()), 2 ** 31 - 1));
  }

  async #handle(action: ServerAction): Promise<void> {
    const request = new Request(this, action);
    try {
      if (this.#handler === undefined) {
        request.error(`${action.name} is not implemented by this server`);
        return;
      }
      const result = await this.#handler(request);
      if (!request.answered) {
        if (result === undefined || result === null) request.ack();
        else request.respond(result as Fields);
      }
    } catch (e) {
      if (!request.answered && this.#sockets.has(action.session)) {
        try {
          request.error(e instanceof Error ? `${e.name}: ${e.message}` : String(e));
        } catch {
          // the session went away while the handler ran
        }
      }
    }
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    clearTimeout(this.#timer);
    const listener = this.#listener;
    for (const [sid, socket] of this.#sockets) {
      socket.destroy();
      this.core.remove(sid);
    }
    this.#sockets.clear();
    if (listener !== undefined) await new Promise<void>((resolve) => listener.close(() => resolve()));
  }
}

/**
 * Starts an AMI server: `const server = await serve(config, handler)`. `config` is a
 * `ManagerConfig` or manager.conf text; `handler` gets a {@link Request} for every action the
 * core does not answer itself.
 */
export async function serve(config: native.ManagerConfig | string, handler?: Handler, options: ServeOptions = {}): Promise<AmiServer> {
  const { host = "127.0.0.1", port = 0, tls: tlsOptions, ...core } = options;
  const server = new AmiServer(config, handler, core);
  await server.listen(host, port, tlsOptions);
  return server;
}
