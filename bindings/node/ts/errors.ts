/**
 * The error classes. Errors thrown by the native core are instances of these too (the classes
 * are registered with it when the package loads), so `instanceof` works for every error.
 *
 * - {@link ProtocolError}: base of the protocol errors.
 *   - {@link LocalProtocolError}: the caller asked for something the protocol or the session
 *     refuses (a value with CR/LF/NUL, an action before login, ...); nothing was sent.
 *   - {@link RemoteProtocolError}: the peer broke the protocol.
 *     - {@link NotAnAmiServer}: the peer's greeting is not an AMI banner.
 *     - {@link ResponseTooLarge}: a list answer broke the client's caps.
 * - {@link ConfigError}: manager.conf, an ACL rule, a filter or a permission list cannot be
 *   loaded.
 *   - {@link ConfigEditError}: the manager.conf editor refused an edit.
 * - The client's: {@link ActionError} (`Response: Error`), {@link LoginError},
 *   {@link ConnectionLost}, {@link AmiTimeoutError}.
 */
import native = require("./native");
import type { Message } from "./message";

/** Details the native core attaches to its errors. */
export interface ErrorDetails {
  /** `ERR_AMI_LOCAL`, `ERR_AMI_REMOTE` or `ERR_AMI_CONFIG`. */
  code?: string;
  /** A stable identifier of what went wrong (`forbidden-byte-in-value`, `not-logged-in`, ...). */
  reason?: string | null;
  /** For an encoding refusal: the index of the field (0 is the first line). */
  field?: number | null;
  /** For an encoding refusal: the byte offset of the fault in the field's name or value. */
  offset?: number | null;
  /** For a refused edit: the configuration file concerned (`"manager.conf"` for the edited file). */
  file?: string | null;
  /** For a refused edit: the line of that file (1-based). */
  line?: number | null;
}

/** Base class of the protocol errors of libami. */
export class ProtocolError extends Error {
  /** `ERR_AMI_LOCAL`, `ERR_AMI_REMOTE`, ... */
  readonly code: string;
  /** A stable identifier of what went wrong, when known. */
  readonly reason: string | undefined;

  constructor(message: string, details: ErrorDetails = {}) {
    super(message);
    this.name = new.target.name;
    this.code = details.code ?? "ERR_AMI_PROTOCOL";
    this.reason = details.reason ?? undefined;
  }
}

/**
 * The caller asked for something the protocol or the session refuses; nothing was queued.
 * For a refused value, `field` and `offset` say where: `encodeAction("Ping", {X: "a\r\nb"})`
 * throws with `reason` `"forbidden-byte-in-value"`, `field` 1, `offset` 1.
 */
export class LocalProtocolError extends ProtocolError {
  /** Index of the refused field (0: the first line), for an encoding refusal. */
  readonly field: number | undefined;
  /** Byte offset of the fault in the refused name or value. */
  readonly offset: number | undefined;

  constructor(message: string, details: ErrorDetails = {}) {
    super(message, { code: "ERR_AMI_LOCAL", ...details });
    this.field = details.field ?? undefined;
    this.offset = details.offset ?? undefined;
  }
}

/** The peer sent something that breaks the protocol. */
export class RemoteProtocolError extends ProtocolError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, { code: "ERR_AMI_REMOTE", ...details });
  }
}

/** manager.conf, an ACL rule, an event filter or a permission list cannot be loaded. */
export class ConfigError extends Error {
  /** `ERR_AMI_CONFIG`. */
  readonly code: string = "ERR_AMI_CONFIG";

  constructor(message: string, _details: ErrorDetails = {}) {
    super(message);
    this.name = "ConfigError";
  }
}

/**
 * The manager.conf editor refused an edit; nothing changed. `reason` is a stable identifier
 * (`unknown-user`, `name-taken`, `inherited`, `invalid-classes`, `check-failed`, ...), and
 * `file` and `line` say where when the refusal concerns a line of the configuration:
 *
 * ```ts
 * try {
 *   editor.addUser("admin", { read: "call" });
 * } catch (e) {
 *   if (e instanceof ConfigEditError) console.error(`${e.file}:${e.line}: ${e.message}`); // manager.conf:13: ...
 * }
 * ```
 */
export class ConfigEditError extends ConfigError {
  /** `ERR_AMI_CONFIG_EDIT`. */
  override readonly code: string = "ERR_AMI_CONFIG_EDIT";
  /** A stable identifier of the refusal. */
  readonly reason: string;
  /** The configuration file concerned, when the refusal names one. */
  readonly file: string | undefined;
  /** The line of that file (1-based), when the refusal names one. */
  readonly line: number | undefined;

  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details);
    this.name = "ConfigEditError";
    this.reason = details.reason ?? "refused";
    this.file = details.file ?? undefined;
    this.line = details.line ?? undefined;
  }
}

native.registerErrorClasses(LocalProtocolError, RemoteProtocolError, ConfigError, ConfigEditError);

/** How many bytes of a wrong greeting {@link NotAnAmiServer} shows. */
export const GREETING_SHOWN = 120;

/** The peer greeted with something other than `Asterisk Call Manager/...`. */
export class NotAnAmiServer extends RemoteProtocolError {
  /** The first bytes received (at most {@link GREETING_SHOWN}). */
  readonly received: Buffer;

  constructor(target: string, received: Buffer) {
    let hint = "";
    if (received[0] === 0x15 || received[0] === 0x16) hint = " (a TLS record: connect with tls)";
    else if (received.subarray(0, 5).toString("latin1") === "HTTP/") hint = " (an HTTP server)";
    super(
      `${target} is not an AMI server: it sent ${JSON.stringify(received.toString("latin1"))} ` +
        `instead of 'Asterisk Call Manager/...'${hint}`,
      { reason: "not-ami" },
    );
    this.received = received;
  }
}

/** A list answer broke the caps (`maxListItems`, `maxListBytes`); the rest of it is read and dropped. */
export class ResponseTooLarge extends RemoteProtocolError {
  /** Items received when the cap was reached. */
  readonly items: number;
  /** Bytes received when the cap was reached. */
  readonly size: number;
  /** Which cap: `"items"` or `"bytes"`. */
  readonly limit: "items" | "bytes";

  constructor(action: string, items: number, size: number, limit: "items" | "bytes") {
    super(
      `the answer to ${action} is too large: ${items} items, ${size} bytes when the ${limit} ` +
        `limit was reached (raise maxList${limit === "items" ? "Items" : "Bytes"} if the server is trusted)`,
      { reason: "too-large" },
    );
    this.items = items;
    this.size = size;
    this.limit = limit;
  }
}

/** The server answered an action with `Response: Error`; `response` is its answer. */
export class ActionError extends Error {
  /** The server's answer. */
  readonly response: Message;

  constructor(action: string, response: Message, text?: string) {
    super(`${action} failed: ${text ?? response.get("Message") ?? response.get("Response") ?? "error"}`);
    this.name = "ActionError";
    this.response = response;
  }
}

/** The server refused the login; `response` is its answer when there was one. */
export class LoginError extends Error {
  /** The server's answer. */
  readonly response: Message | undefined;

  constructor(target: string, user: string, response: Message | undefined) {
    const text = response?.get("Message") ?? "login failed";
    super(
      `login as ${JSON.stringify(user)} at ${target} refused: ${text} (check the user name, the ` +
        `secret, and the user's permit/deny lines in manager.conf)`,
    );
    this.name = "LoginError";
    this.response = response;
  }
}

/** The connection ended before the answer (or the client was closed). */
export class ConnectionLost extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConnectionLost";
  }
}

/** Nothing came in time: `what` was awaited for `after` milliseconds. */
export class AmiTimeoutError extends Error {
  /** What was awaited. */
  readonly what: string;
  /** How long, in milliseconds. */
  readonly after: number;

  constructor(target: string, what: string, after: number) {
    super(`no answer from ${target} to ${what} within ${(after / 1000).toFixed(1)} s`);
    this.name = "AmiTimeoutError";
    this.what = what;
    this.after = after;
  }
}
