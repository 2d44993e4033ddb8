/**
 * The hand-written half of the catalog: what every generated class of `events.ts` and every
 * generated factory of `actions.ts` is made of.
 *
 * Events are views of their message: a documented field is a getter reading its header
 * (`undefined` when absent), so a typed event costs one object and no copy. Actions check their
 * parameters against the documented ones; encoding goes through the native encoder, which
 * refuses anything that could inject a header.
 */
import { Fields, Value, flatten } from "./encode";
import { Message } from "./message";

/** A documented event, typed: the base of every class of `events`. */
export class TypedEvent {
  /** The event's name as emitted in `Event:`. */
  static readonly NAME: string = "";
  /** The classes a session must be allowed to read to receive it (every one), as a `read=` list. */
  static readonly READ_CLASS: string = "";
  /** The documented header names (a numbered family with `{}` for the number). */
  static readonly FIELDS: readonly string[] = [];

  constructor(
    /** The message itself. */
    readonly message: Message,
  ) {}

  /** The `Event` header as received. */
  get name(): string | undefined {
    return this.message.name;
  }

  /** The first value of any header `name` (case-insensitive), documented or not. */
  get(name: string): string | undefined {
    return this.message.get(name);
  }

  toJSON(): Record<string, string> {
    return this.message.toJSON();
  }
}

/** An event the catalog does not document (a newer Asterisk's, a `UserEvent` name, ...). */
export class UnknownEvent extends TypedEvent {}

/** A typed event class. */
export type TypedEventClass<T extends TypedEvent = TypedEvent> = (new (message: Message) => T) & {
  readonly NAME: string;
  readonly READ_CLASS: string;
  readonly FIELDS: readonly string[];
};

/**
 * Defines the field getters of a generated class: `[property, header]` pairs; a header with
 * `{}` (a numbered family) becomes a method taking the number.
 * @internal
 */
export function defineFields(cls: TypedEventClass, fields: ReadonlyArray<readonly [string, string]>): void {
  for (const [prop, header] of fields) {
    if (header.includes("{")) {
      const pad = header.includes("{:06}");
      Object.defineProperty(cls.prototype, prop, {
        value: function (this: TypedEvent, index: number): string | undefined {
          const n = pad ? String(index).padStart(6, "0") : String(index);
          return this.message.get(header.replace(/\{(:06)?\}/, n));
        },
        enumerable: false,
      });
    } else {
      Object.defineProperty(cls.prototype, prop, {
        get(this: TypedEvent): string | undefined {
          return this.message.get(header);
        },
        enumerable: true,
      });
    }
  }
}

/** The typed event for `message` from `registry` (lower-case names), or an {@link UnknownEvent}. @internal */
export function typedFrom(registry: ReadonlyMap<string, TypedEventClass>, message: Message): TypedEvent {
  if (message.kind !== "event") throw new TypeError(`not an event but a ${message.kind} message`);
  const cls = registry.get((message.name ?? "").toLowerCase()) ?? UnknownEvent;
  return new cls(message);
}

/** An action ready to send: its name and its header fields in order. */
export interface Action {
  /** The action's name (`Action:`). */
  readonly name: string;
  /** The headers after `Action:`, in order. */
  readonly fields: ReadonlyArray<readonly [string, Value]>;
}

/** How a documented parameter is given: `r` required, `o` optional, `m` repeatable (an array), `i` a numbered family (an object from numbers to values). */
export type ParameterKind = "r" | "o" | "m" | "i";

/** A generated action factory: call it with the parameters to get an {@link Action}. */
export interface ActionFactory<P> {
  (params: P): Action;
  /** The action's canonical name. */
  readonly NAME: string;
  /** The write classes Asterisk requires (any one; empty: every session), as a `write=` list. */
  readonly AUTHORITY: string;
  /** `[keyword, header, kind]` per documented parameter. */
  readonly PARAMETERS: ReadonlyArray<readonly [string, string, ParameterKind]>;
}

/** Parameters every action factory takes besides the documented ones. */
export interface ExtraHeaders {
  /** Any other header, after the documented ones. */
  readonly headers?: Fields;
}

/** Builds a generated action factory. @internal */
export function actionFactory<P extends ExtraHeaders>(
  name: string,
  authority: string,
  parameters: ReadonlyArray<readonly [string, string, ParameterKind]>,
): ActionFactory<P> {
  const make = (params: P): Action => {
    const given = params as unknown as Record<string, unknown>;
    const known = new Set(parameters.map(([k]) => k));
    for (const k of Object.keys(given)) {
      if (k !== "headers" && !known.has(k)) throw new TypeError(`${name}: unknown parameter ${JSON.stringify(k)}`);
    }
    const fields: Array<readonly [string, Value]> = [];
    for (const [keyword, header, kind] of parameters) {
      const v = given[keyword];
      if (v === undefined || v === null) {
        if (kind === "r") throw new TypeError(`${name} requires ${keyword} (header ${header})`);
        continue;
      }
      if (kind === "m") {
        if (!Array.isArray(v)) throw new TypeError(`${name}: ${keyword} takes an array (header ${header} repeats)`);
        for (const one of v as Value[]) fields.push([header, one]);
      } else if (kind === "i") {
        if (typeof v !== "object") throw new TypeError(`${name}: ${keyword} takes an object from numbers to values (${header})`);
        const entries = Object.entries(v as Record<string, Value>).sort(([a], [b]) => Number(a) - Number(b));
        for (const [i, one] of entries) {
          const n = header.includes("{:06}") ? String(Number(i)).padStart(6, "0") : String(Number(i));
          fields.push([header.replace(/\{(:06)?\}/, n), one]);
        }
      } else {
        fields.push([header, v as Value]);
      }
    }
    const extra = flatten(params.headers);
    for (let i = 0; i + 1 < extra.length; i += 2) {
      fields.push([String(extra[i]), extra[i + 1] as Value]);
    }
    return { name, fields };
  };
  return Object.assign(make, { NAME: name, AUTHORITY: authority, PARAMETERS: parameters });
}
