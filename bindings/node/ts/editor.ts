/**
 * The manager.conf editor: `ManagerConfig.fromPath(file).edit()` returns a {@link ConfigEditor}
 * whose methods take a settings object (a missing property keeps the key, `null` removes it)
 * and change the text without losing anything they do not touch — comments, blank lines,
 * order, `#include`s, templates, unknown keys and line endings stay byte for byte. Every edit
 * is re-loaded with Asterisk's semantics and must grant exactly what was asked; `ami check`'s
 * errors refuse it ({@link ConfigEditError}, nothing changed), its warnings come back in the
 * {@link EditReport}. {@link ConfigEditor.write} replaces the files atomically.
 *
 * ```ts
 * const editor = ManagerConfig.fromPath("/etc/asterisk/manager.conf").edit();
 * const report = editor.addUser("crm", {
 *   generateSecret: true,
 *   read: ["call", "cdr"],
 *   write: "originate",
 *   permit: ["10.0.0.0/8"],
 * });
 * for (const f of report.findings) console.warn(`${f.severity} ${f.code}: ${f.message}`);
 * editor.write();
 * storeInVault(report.generatedSecret);   // shown nowhere else
 * ```
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

import native = require("./native");

/**
 * Permission classes for `read`/`write`: exact class names (`"call,cdr"`, `["call", "cdr"]`,
 * `"none"`; an empty list is `none`), a {@link native.Privilege | Privilege} or its bits. A
 * name that is not a class, or an empty item (which Asterisk reads as every class), is refused.
 */
export type Classes = string | readonly string[] | native.Privilege | number;

/** One `permit`/`deny`/`acl` line, as `[key, value]`: `["deny", "0.0.0.0/0"]`. */
export type AclRule = readonly ["permit" | "deny" | "acl", string];

/** One `eventfilter` line: its expression (`eventfilter = ...`), or `[key, value]` for the advanced form. */
export type FilterLine = string | readonly [string, string];

/**
 * What to set in a user. A missing (or `undefined`) property keeps the key as it is; `null`
 * removes the user's own lines of the key, so Asterisk's default applies. For a new user,
 * `read` and `write` are written as `none` when not given.
 */
export interface UserSettings {
  /** `secret` (`null`: nobody can log in as the user). Never shown in errors or reports. */
  secret?: string | null;
  /** Generate the secret from the OS's CSPRNG (ASCII letters and digits); read it back from {@link EditReport.generatedSecret}. */
  generateSecret?: boolean;
  /** The length of a generated secret: 16 to 256, default 32 (190 bits). */
  secretLength?: number;
  /** `read`: the event classes the user receives. */
  read?: Classes;
  /** `write`: the action classes the user may run. */
  write?: Classes;
  /** Only these networks may log in (`deny` everything, then one `permit` each); `[]` lets every address in. */
  permit?: readonly string[];
  /** The exact `permit`/`deny`/`acl` lines, in order (instead of `permit`). */
  acl?: readonly AclRule[];
  /** The `eventfilter` lines; `[]` sends every event the read classes allow. */
  eventFilters?: readonly FilterLine[];
  /** `displayconnects` (`null`: the `[general]` value). */
  displayConnects?: boolean | null;
  /** `allowmultiplelogin` (`null`: the `[general]` value). */
  allowMultipleLogin?: boolean | null;
  /** `writetimeout` in milliseconds, 100 or more (`null`: 100). */
  writeTimeout?: number | null;
  /** The `setvar` lines (channel variables set on every Originate of the user). */
  setvars?: Readonly<Record<string, string>> | readonly (readonly [string, string])[];
}

/** Options of {@link ManagerConfig.edit}. */
export interface EditOptions {
  /** `ami check --strict`: dangerous grants (shell-equivalent write classes, ...) refuse the edit instead of coming back as warnings. */
  strict?: boolean;
}

/** One finding of `ami check` about the edited configuration. */
export type Finding = native.EditFinding;

/** What an accepted edit reports. */
export class EditReport {
  /** `ami check`'s warnings and information about the edited user, and new ones elsewhere. */
  readonly findings: readonly Finding[];
  /** What a `manager reload` does not do (sessions keep their rights, a removed key keeps its value, ...). */
  readonly notes: readonly string[];
  /** The files the edit changed (`"manager.conf"` is the edited file itself). */
  readonly files: readonly string[];
  readonly #secret: string | undefined;

  /** @internal */
  constructor(r: native.NativeEditReport) {
    this.findings = Object.freeze(r.findings);
    this.notes = Object.freeze(r.notes);
    this.files = Object.freeze(r.files);
    this.#secret = r.generatedSecret ?? undefined;
  }

  /**
   * The secret generated for this edit (`generateSecret: true`), else `undefined`. It is only
   * given when read: `console.log` and `JSON.stringify` of the report do not show it.
   */
  get generatedSecret(): string | undefined {
    return this.#secret;
  }
}

const KEYS = [
  "secret",
  "generateSecret",
  "secretLength",
  "read",
  "write",
  "permit",
  "acl",
  "eventFilters",
  "displayConnects",
  "allowMultipleLogin",
  "writeTimeout",
  "setvars",
] as const;

/** The manager.conf keys that `null` removes, by property. */
const REMOVABLE: Partial<Record<(typeof KEYS)[number], string>> = {
  secret: "secret",
  displayConnects: "displayconnects",
  allowMultipleLogin: "allowmultiplelogin",
  writeTimeout: "writetimeout",
};

function expect(ok: boolean, key: string, what: string, value: unknown): void {
  if (!ok) throw new TypeError(`${key}: expected ${what}, not ${describe(value)}`);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "string" ? JSON.stringify(value) : typeof value;
}

function u32(key: string, value: unknown): number {
  expect(typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= 0xffffffff, key, "an integer from 0 to 2^32-1", value);
  return value as number;
}

function strings(key: string, value: unknown): string[] {
  expect(Array.isArray(value) && value.every((v) => typeof v === "string"), key, "an array of strings", value);
  return [...(value as string[])];
}

function pair(key: string, value: unknown): [string, string] {
  expect(Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === "string"), key, "a [key, value] pair of strings", value);
  return [(value as string[])[0] ?? "", (value as string[])[1] ?? ""];
}

function classes(key: string, value: unknown): string | number {
  if (value instanceof native.Privilege) return value.bits;
  if (typeof value === "number") return u32(key, value);
  if (typeof value === "string") return value;
  const names = strings(key, value);
  return names.length === 0 ? "none" : names.join(",");
}

/** The native form of a settings object: types checked, removals listed in `unset`. */
function toNative(settings: UserSettings): native.NativeUserSettings {
  expect(typeof settings === "object" && settings !== null && !Array.isArray(settings), "settings", "an object", settings);
  const out: native.NativeUserSettings = {};
  const unset: string[] = [];
  for (const [key, value] of Object.entries(settings) as [string, unknown][]) {
    if (value === undefined) continue;
    if (!(KEYS as readonly string[]).includes(key)) {
      throw new TypeError(`unknown setting ${JSON.stringify(key)} (known: ${KEYS.join(", ")})`);
    }
    const removable = REMOVABLE[key as (typeof KEYS)[number]];
    if (value === null) {
      if (removable === undefined) throw new TypeError(`${key} cannot be removed with null (only ${Object.keys(REMOVABLE).join(", ")} can)`);
      unset.push(removable);
      continue;
    }
    switch (key) {
      case "secret":
        expect(typeof value === "string", key, "a string or null", value);
        out.secret = value as string;
        break;
      case "generateSecret":
        expect(typeof value === "boolean", key, "a boolean", value);
        out.generateSecret = value as boolean;
        break;
      case "secretLength":
        out.secretLength = u32(key, value);
        break;
      case "read":
        out.read = classes(key, value);
        break;
      case "write":
        out.write = classes(key, value);
        break;
      case "permit":
        out.permit = strings(key, value);
        break;
      case "acl":
        expect(Array.isArray(value), key, "an array of [key, value] pairs", value);
        out.acl = (value as unknown[]).map((r) => {
          const [kind, v] = pair(key, r);
          return { kind, value: v };
        });
        break;
      case "eventFilters":
        expect(Array.isArray(value), key, "an array of expressions or [key, value] pairs", value);
        out.eventFilters = (value as unknown[]).map((f) => {
          if (typeof f === "string") return { key: "eventfilter", value: f };
          const [k, v] = pair(key, f);
          return { key: k, value: v };
        });
        break;
      case "displayConnects":
      case "allowMultipleLogin":
        expect(typeof value === "boolean", key, "a boolean or null", value);
        if (key === "displayConnects") out.displayConnects = value as boolean;
        else out.allowMultipleLogin = value as boolean;
        break;
      case "writeTimeout":
        out.writeTimeout = u32(key, value);
        break;
      case "setvars": {
        const pairs = Array.isArray(value) ? value.map((p) => pair(key, p)) : typeof value === "object" ? Object.entries(value as object) : undefined;
        expect(pairs !== undefined && pairs.every(([, v]) => typeof v === "string"), key, "an object of strings or [name, value] pairs", value);
        out.setvars = (pairs as [string, string][]).map(([name, v]) => ({ name, value: v }));
        break;
      }
    }
  }
  if (out.secret !== undefined && out.generateSecret === true) throw new TypeError("give either secret or generateSecret, not both");
  if (out.secretLength !== undefined && out.generateSecret !== true) throw new TypeError("secretLength is the length of a generated secret: add generateSecret: true");
  if (out.permit !== undefined && out.acl !== undefined) throw new TypeError("give either permit or acl, not both");
  if (unset.includes("secret") && out.generateSecret === true) throw new TypeError("give either secret: null or generateSecret, not both");
  if (unset.length > 0) out.unset = unset;
  return out;
}

/**
 * An editor of one manager.conf and the files it includes (made by
 * {@link ManagerConfig.edit}). Each method applies one edit whole, or throws and changes
 * nothing: {@link ConfigEditError} for an edit the editor refuses, `TypeError` for a settings
 * object of the wrong shape.
 */
export class ConfigEditor {
  readonly #native: native.NativeConfigEditor;

  /** @internal */
  constructor(editor: native.NativeConfigEditor) {
    this.#native = editor;
  }

  /**
   * Adds a user: a new section at the end of manager.conf (`read` and `write` are written as
   * `none` when not given). The name must be new (any case), made of ASCII letters, digits and
   * `-_.@+`.
   */
  addUser(name: string, settings: UserSettings = {}): EditReport {
    return new EditReport(this.#native.addUser(name, toNative(settings)));
  }

  /**
   * Changes the settings given of the user `name` (any case), where their values come from:
   * the user's own line, or a new line in its section that overrides a template's value.
   */
  updateUser(name: string, settings: UserSettings): EditReport {
    return new EditReport(this.#native.updateUser(name, toNative(settings)));
  }

  /** Renames the user `from` (any case) to `to`; only the `[name]` header changes. */
  renameUser(from: string, to: string): EditReport {
    return new EditReport(this.#native.renameUser(from, to));
  }

  /** Removes the user `name` (any case): its section, the comments right above it and its trailing blank lines. */
  removeUser(name: string): EditReport {
    return new EditReport(this.#native.removeUser(name));
  }

  /** `enabled = yes|no` in `[general]`: AMI on or off. */
  setEnabled(enabled: boolean): EditReport {
    expect(typeof enabled === "boolean", "enabled", "a boolean", enabled);
    return new EditReport(this.#native.setEnabled(enabled));
  }

  /** The text of manager.conf now. */
  get text(): string {
    return this.#native.text;
  }

  /** Every file's text now, by name: `"manager.conf"` first, then the included files. */
  get files(): Record<string, string> {
    return Object.fromEntries(this.#native.files().map((f) => [f.name, f.text]));
  }

  /** The files whose text differs from the original, by name. */
  get changedFiles(): Record<string, string> {
    return Object.fromEntries(this.#native.files().filter((f) => f.changed).map((f) => [f.name, f.text]));
  }

  /** The configuration as Asterisk loads the current texts. */
  get config(): native.ManagerConfig {
    return this.#native.config;
  }

  /**
   * Writes every changed file atomically (a temporary file in the same directory, fsync,
   * rename, the directory fsynced; the old file's mode kept — and its owner when allowed —,
   * 0600 for a new file). manager.conf goes to `file`, else to the file it was loaded from;
   * included files go back where they were read. Returns the paths written.
   */
  write(file?: string): string[] {
    // manager.conf is the first file; the included files go first, manager.conf (which
    // includes them) last.
    const [main, ...included] = this.#native.files();
    const target = file ?? this.#native.path ?? undefined;
    if (main?.changed === true && target === undefined) {
      throw new TypeError("the configuration was loaded from text: pass write(path)");
    }
    const writes: [string, string][] = included.filter((f) => f.changed).map((f) => [f.name, f.text]);
    if (main?.changed === true && target !== undefined) writes.push([target, main.text]);
    for (const [to, text] of writes) writeAtomic(to, text);
    return writes.map(([to]) => to);
  }

  /** For `console.log`: the user count and changed files, never a secret. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    const changed = this.#native.files().filter((f) => f.changed).length;
    return `ConfigEditor <${this.#native.config.users.length} users, ${changed} changed files>`;
  }
}

/** The mode of a file the editor creates. */
const NEW_FILE_MODE = 0o600;

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException).code;
}

/**
 * Replaces (or creates) `file` with `text` (UTF-8), atomically: readers see the old file or
 * the new one, never half of one. A symbolic link is followed: its target is replaced.
 */
function writeAtomic(file: string, text: string): void {
  let target: string;
  try {
    target = fs.realpathSync(file);
  } catch (e) {
    if (errno(e) !== "ENOENT") throw e;
    target = path.join(fs.realpathSync(path.dirname(file)), path.basename(file));
  }
  const dir = path.dirname(target);
  let old: fs.Stats | undefined;
  try {
    old = fs.statSync(target);
  } catch (e) {
    if (errno(e) !== "ENOENT") throw e;
  }
  const temp = path.join(dir, `.${path.basename(target)}.ami-${randomBytes(6).toString("hex")}`);
  const fd = fs.openSync(temp, "wx", NEW_FILE_MODE);
  try {
    try {
      fs.writeFileSync(fd, text, "utf8");
      fs.fchmodSync(fd, old === undefined ? NEW_FILE_MODE : old.mode & 0o7777);
      if (old !== undefined) {
        try {
          fs.fchownSync(fd, old.uid, old.gid);
        } catch (e) {
          // Keeping the owner needs privileges; the file stays ours.
          if (errno(e) !== "EPERM") throw e;
        }
      }
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temp, target);
  } catch (e) {
    fs.rmSync(temp, { force: true });
    throw e;
  }
  const dirFd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(dirFd);
  } finally {
    fs.closeSync(dirFd);
  }
}

/**
 * A secret of `length` characters (16 to 256, default 32) of ASCII letters and digits, each
 * drawn uniformly from the operating system's CSPRNG. Throws {@link ConfigEditError} for
 * another length.
 */
export function generateSecret(length?: number): string {
  if (length !== undefined) u32("length", length);
  return native.generateSecret(length);
}

declare module "../native/index.js" {
  interface ManagerConfig {
    /**
     * An editor of this configuration (its text, and the files it includes as they are now):
     * `edit().addUser("crm", {read: "call,cdr"})`, then `.text` or `.write()`. Throws
     * {@link ConfigEditError} for a configuration the editor cannot edit (one read from a
     * file that is not UTF-8, one an editor made, one Asterisk would refuse).
     */
    edit(options?: EditOptions): ConfigEditor;
  }
}

native.ManagerConfig.prototype.edit = function edit(this: native.ManagerConfig, options: EditOptions = {}): ConfigEditor {
  return new ConfigEditor(this.nativeEditor(options.strict ?? false));
};
