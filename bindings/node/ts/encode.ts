/**
 * Building messages: every name and value goes through the native encoder, which refuses
 * anything that could inject a line (CR, LF, NUL) or change a header name (`:`, blanks around
 * it) with a {@link LocalProtocolError} saying which field and byte.
 */
import native = require("./native");

/** A header value: text (sent as UTF-8), bytes, or a number (sent as its decimal text). */
export type Value = string | number | bigint | boolean | Uint8Array;

/** Header fields: an object, a `Map`, or `[name, value]` pairs (repeat a name with pairs or an array value). */
export type Fields =
  | Readonly<Record<string, Value | readonly Value[] | undefined | null>>
  | ReadonlyMap<string, Value | readonly Value[]>
  | Iterable<readonly [string, Value]>
  | null
  | undefined;

type Wire = string | Buffer;

function wire(v: Value): Wire {
  if (typeof v === "string") return v;
  if (v instanceof Uint8Array) return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (typeof v === "boolean") return v ? "yes" : "no";
  return String(v);
}

function push(out: Wire[], name: string, value: Value | readonly Value[] | undefined | null): void {
  if (value === undefined || value === null) return;
  if (Array.isArray(value)) {
    for (const v of value as readonly Value[]) out.push(name, wire(v));
  } else {
    out.push(name, wire(value as Value));
  }
}

/** Fields as the flat `[name, value, ...]` list the native encoder takes. @internal */
export function flatten(fields: Fields): Wire[] {
  const out: Wire[] = [];
  if (fields === null || fields === undefined) return out;
  if (fields instanceof Map) {
    for (const [n, v] of fields as ReadonlyMap<string, Value | readonly Value[]>) push(out, n, v);
  } else if (typeof (fields as Iterable<unknown>)[Symbol.iterator] === "function") {
    for (const [n, v] of fields as Iterable<readonly [string, Value]>) push(out, n, v);
  } else {
    for (const [n, v] of Object.entries(fields as Record<string, Value | readonly Value[] | undefined | null>)) {
      push(out, n, v);
    }
  }
  return out;
}

/**
 * Encodes an action: `Action: <name>`, `ActionID: <actionId>` if given, then `fields`.
 *
 * ```ts
 * encodeAction("Originate", { Channel: "PJSIP/100", Exten: 200, Variable: ["A=1", "B=2"] }, "call-1");
 * encodeAction("Ping", { X: "a\r\nAction: Logoff" });   // throws LocalProtocolError
 * ```
 */
export function encodeAction(name: string, fields?: Fields, actionId?: string): Buffer {
  return native.encodeAction(name, flatten(fields), actionId);
}

/** Encodes a response: `Response: <status>`, then `fields`; refuses injection like {@link encodeAction}. */
export function encodeResponse(status: string, fields?: Fields): Buffer {
  return native.encodeResponse(status, flatten(fields));
}

/** Encodes an event: `Event: <name>`, then `fields`; refuses injection like {@link encodeAction}. */
export function encodeEvent(name: string, fields?: Fields): Buffer {
  return native.encodeEvent(name, flatten(fields));
}
