/** The manager.conf editor from Node: ManagerConfig.edit(), settings objects, text results, refusals with their line, atomic writes, generated secrets. */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { inspect } from "node:util";
import { test } from "node:test";

import { ConfigEditError, ConfigEditor, ConfigError, ManagerConfig, Privilege, generateSecret } from "../dist/index.js";
import { CAPTURES } from "./helpers";

const CONFORMANCE = fs.readFileSync(path.join(CAPTURES, "manager.conf"), "utf8");
const ALPHABET = /^[A-Za-z0-9]+$/;

const classes = (...labels: string[]): Privilege => Privilege.parse(labels.join(","));

/** Runs `f`, which must throw a ConfigEditError, and returns it. */
function refusal(f: () => unknown): ConfigEditError {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof ConfigEditError, `not a ConfigEditError: ${String(e)}`);
    assert.ok(e instanceof ConfigError && e instanceof Error);
    assert.equal(e.code, "ERR_AMI_CONFIG_EDIT");
    return e;
  }
  assert.fail("the edit was accepted");
}

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "ami-node-edit-"));
}

test("no edit gives back the conformance manager.conf byte for byte", () => {
  const ed = ManagerConfig.fromText(CONFORMANCE).edit();
  assert.ok(ed instanceof ConfigEditor);
  assert.equal(ed.text, CONFORMANCE);
  assert.deepEqual(ed.changedFiles, {});
  assert.deepEqual(Object.keys(ed.files), ["manager.conf"]);
  // CRLF, comments after values, `=>` and a template survive too.
  const odd = "; top\r\n[general]\r\nenabled => yes ; on\r\n\r\n[t](!)\r\nread = call\r\n[u](t)\r\nsecret = Kq3x9Wm2Lr8Tz5Yp\r\n";
  const ed2 = ManagerConfig.fromText(odd).edit();
  assert.equal(ed2.text, odd);
  ed2.updateUser("u", { write: "cdr" });
  assert.equal(ed2.text, odd + "write = cdr\r\n");
});

test("a user added with a settings object is granted exactly that, the rest unchanged", () => {
  const ed = ManagerConfig.fromText(CONFORMANCE).edit();
  const report = ed.addUser("crm", {
    secret: "Zk4hW9qLr2Vx7Tn3",
    read: "call,cdr",
    write: ["originate"],
    permit: ["10.0.0.0/8"],
    eventFilters: ["Event: Hangup", ["eventfilter(name(DialEnd))", ""]],
    writeTimeout: 250,
    setvars: { CRM: "1" },
  });
  assert.ok(ed.text.startsWith(CONFORMANCE));
  assert.equal(
    ed.text.slice(CONFORMANCE.length),
    "\n[crm]\nsecret = Zk4hW9qLr2Vx7Tn3\nread = call,cdr\nwrite = originate\n" +
      "deny = 0.0.0.0/0\ndeny = ::/0\npermit = 10.0.0.0/8\neventfilter = Event: Hangup\n" +
      "eventfilter(name(DialEnd)) =\nwritetimeout = 250\nsetvar = CRM=1\n",
  );
  assert.deepEqual(report.findings.map((f) => f.code), ["originate-escalation"]);
  assert.equal(report.findings[0]?.severity, "warning");
  assert.equal(report.findings[0]?.user, "crm");
  assert.deepEqual(report.files, ["manager.conf"]);
  assert.equal(report.generatedSecret, undefined);

  // Reloaded by the plain loader: exactly what was asked, the other users as they were.
  const again = ManagerConfig.fromText(ed.text);
  const crm = again.user("CRM");
  assert.ok(crm);
  assert.equal(crm.secret, "Zk4hW9qLr2Vx7Tn3");
  assert.ok(crm.read.equals(classes("call", "cdr")));
  assert.ok(crm.write.equals(classes("originate")));
  assert.ok(crm.permits("10.1.2.3") && !crm.permits("127.0.0.1") && !crm.permits("::1"));
  assert.equal(crm.filters.size, 2);
  const before = ManagerConfig.fromText(CONFORMANCE);
  for (const u of before.users) {
    const after = again.user(u.name);
    assert.ok(after && after.read.equals(u.read) && after.write.equals(u.write) && after.secret === u.secret, u.name);
  }
  // A Privilege, bits and an empty list work as class lists.
  ed.addUser("bits", { secret: "Wm2Lr8Tz5YpKq3x9", read: classes("cdr"), write: classes("reporting").bits });
  ed.addUser("nothing", { secret: "Tz5YpKq3x9Wm2Lr8", read: [] });
  const cfg = ed.config;
  assert.ok(cfg.user("bits")?.read.equals(classes("cdr")) && cfg.user("bits")?.write.equals(classes("reporting")));
  assert.ok(cfg.user("nothing")?.read.isEmpty && cfg.user("nothing")?.write.isEmpty);
});

test("update keeps comments; null removes a key; rename, remove, enable", () => {
  const text = "[general]\nenabled = yes\n[a]\nsecret = Kq3x9Wm2Lr8Tz5Yp ; rotated\nread = all\ndisplayconnects = no\n";
  const ed = ManagerConfig.fromText(text).edit();
  let report = ed.updateUser("A", { secret: "Wm2Lr8Tz5YpKq3x9", read: classes("call"), displayConnects: null });
  assert.equal(ed.text, "[general]\nenabled = yes\n[a]\nsecret = Wm2Lr8Tz5YpKq3x9 ; rotated\nread = call\n");
  assert.ok(report.notes.some((n) => n.includes("manager reload")));
  report = ed.updateUser("a", { secret: null });
  assert.equal(ed.config.user("a")?.secret, null);
  assert.ok(report.findings.some((f) => f.code === "never-login"));
  ed.renameUser("a", "b");
  ed.setEnabled(false);
  assert.equal(ed.text, "[general]\nenabled = no\n[b]\nread = call\n");
  assert.equal(ed.config.general.enabled, false);
  ed.removeUser("b");
  assert.deepEqual(ed.config.users, []);
  assert.deepEqual(Object.keys(ed.changedFiles), ["manager.conf"]);
});

test("refusals say why and where, and change nothing", () => {
  const ed = ManagerConfig.fromText(CONFORMANCE).edit();
  let e = refusal(() => ed.addUser("admin"));
  assert.equal(e.reason, "name-taken");
  assert.equal(e.file, "manager.conf");
  assert.equal(e.line, 13);
  assert.match(e.message, /already used/);
  e = refusal(() => ed.updateUser("nobody", { read: "call" }));
  assert.equal(e.reason, "unknown-user");
  assert.equal(e.line, undefined);
  e = refusal(() => ed.updateUser("reader", { secret: "" }));
  assert.equal(e.reason, "invalid-value");
  assert.match(e.message, /empty secret/);
  // Unknown classes, and the quirks that grant more than they seem, are refused.
  for (const bad of [",call", "sys,call", "Call", "call,,cdr", "bogus"]) {
    e = refusal(() => ed.updateUser("reader", { read: bad }));
    assert.equal(e.reason, "invalid-classes", bad);
    assert.ok(e.message.includes(JSON.stringify(bad)), e.message);
  }
  e = refusal(() => ed.updateUser("reader", { acl: [["permit", "10.0.0.1:5038"]] }));
  assert.equal(e.reason, "invalid-acl-rule");
  e = refusal(() => ed.addUser("bad name"));
  assert.equal(e.reason, "invalid-name");
  // Settings of the wrong shape are TypeErrors.
  assert.throws(() => ed.updateUser("reader", { colour: "blue" } as never), /unknown setting "colour"/);
  assert.throws(() => ed.updateUser("reader", { permit: ["10.0.0.0/8"], acl: [] }), TypeError);
  assert.throws(() => ed.updateUser("reader", { read: null } as never), /cannot be removed/);
  assert.throws(() => ed.updateUser("reader", { writeTimeout: -1 }), TypeError);
  assert.throws(() => ed.updateUser("reader", { secret: "Kq3x9Wm2Lr8Tz5Yp", generateSecret: true }), TypeError);
  assert.equal(ed.text, CONFORMANCE);
});

test("a user defined through a template or an include is edited where its values come from, or refused", () => {
  const text = "[general]\nenabled = yes\n[base](!)\nread = call\neventfilter = Event: Hangup\n[u](base)\nsecret = Kq3x9Wm2Lr8Tz5Yp\n";
  const ed = ManagerConfig.fromText(text).edit();
  // A single value is overridden in the user's own section; the template is untouched.
  const report = ed.updateUser("u", { read: "cdr" });
  assert.equal(ed.text, text + "read = cdr\n");
  assert.ok(report.notes.some((n) => n.includes("[base]")), report.notes.join("\n"));
  // A list inherited from the template cannot be changed for this user alone.
  const e = refusal(() => ed.updateUser("u", { eventFilters: [] }));
  assert.equal(e.reason, "inherited");
  assert.equal(e.line, 5);
  assert.match(e.message, /inherits `eventfilter` from `\[base\]`/);
  // Inherited by another section: neither renamed nor removed.
  assert.equal(refusal(() => ed.removeUser("base")).reason, "unknown-user");
  const shared = ManagerConfig.fromText("[general]\nenabled = yes\n[a]\nsecret = Kq3x9Wm2Lr8Tz5Yp\n[b](a)\n").edit();
  assert.equal(refusal(() => shared.removeUser("a")).reason, "inherited-by");
  // Defined twice: only removed.
  const twice = ManagerConfig.fromText("[general]\nenabled = yes\n[a]\nsecret = Kq3x9Wm2Lr8Tz5Yp\n[a](+)\nread = call\n").edit();
  const several = refusal(() => twice.updateUser("a", { read: "cdr" }));
  assert.equal(several.reason, "several-sections");
  assert.equal(several.line, 3);
});

test("strict refuses dangerous grants", () => {
  const ed = ManagerConfig.fromText("[general]\nenabled = yes\n").edit({ strict: true });
  const e = refusal(() => ed.addUser("root", { secret: "Kq3x9Wm2Lr8Tz5Yp", write: "system", permit: ["127.0.0.1"] }));
  assert.equal(e.reason, "check-failed");
  assert.match(e.message, /shell-write/);
  // Not strict: the same edit is accepted, the danger comes back as a warning.
  const lax = ManagerConfig.fromText("[general]\nenabled = yes\n").edit();
  const report = lax.addUser("root", { secret: "Kq3x9Wm2Lr8Tz5Yp", write: "system", permit: ["127.0.0.1"] });
  assert.ok(report.findings.some((f) => f.code === "shell-write"));
});

test("generated secrets: CSPRNG, letters and digits, length asked, never shown unless read", () => {
  const a = generateSecret();
  const b = generateSecret(20);
  assert.equal(a.length, 32);
  assert.equal(b.length, 20);
  assert.notEqual(a, generateSecret());
  assert.match(a, ALPHABET);
  assert.match(b, ALPHABET);
  for (const bad of [15, 257]) {
    assert.equal(refusal(() => generateSecret(bad)).reason, "invalid-secret-length");
  }
  assert.throws(() => generateSecret(1.5), TypeError);
  // Every character is used: 62 symbols over a few thousand draws.
  const seen = new Set([...Array.from({ length: 40 }, () => generateSecret(256)).join("")]);
  assert.equal(seen.size, 62);

  const ed = ManagerConfig.fromText("[general]\nenabled = yes\n").edit();
  const report = ed.addUser("crm", { generateSecret: true, secretLength: 24, read: "call" });
  const secret = report.generatedSecret;
  assert.ok(secret !== undefined);
  assert.equal(secret.length, 24);
  assert.match(secret, ALPHABET);
  assert.equal(ed.config.user("crm")?.secret, secret);
  assert.ok(!inspect(report).includes(secret) && !JSON.stringify(report).includes(secret));
  assert.ok(!inspect(ed).includes(secret));
  // A refused edit never shows the secret given.
  const e = refusal(() => ed.addUser("crm", { secret: "Zk4hW9qLr2Vx7Tn3" }));
  assert.ok(!e.message.includes("Zk4hW9qLr2Vx7Tn3"));
  assert.equal(refusal(() => ed.addUser("x", { generateSecret: true, secretLength: 8 })).reason, "invalid-secret-length");
});

test("write() is atomic, keeps the mode, and edits the included file where the user is", () => {
  const dir = tempDir();
  try {
    const conf = path.join(dir, "manager.conf");
    const users = path.join(dir, "users.conf");
    fs.writeFileSync(conf, "[general]\nenabled = yes\n#include users.conf\n");
    fs.writeFileSync(users, "[bob]\r\nsecret = B0b-Secret-2024x\r\nread = all\r\n");
    fs.chmodSync(conf, 0o640);
    const ed = ManagerConfig.fromPath(conf).edit();
    assert.deepEqual(Object.keys(ed.files), ["manager.conf", users]);
    ed.updateUser("bob", { read: "call" });
    ed.addUser("crm", { secret: generateSecret(), read: "cdr", permit: ["10.0.0.0/8"] });
    assert.deepEqual(ed.write(), [users, conf]);
    assert.equal(fs.readFileSync(users, "utf8"), "[bob]\r\nsecret = B0b-Secret-2024x\r\nread = call\r\n");
    assert.ok(fs.readFileSync(conf, "utf8").startsWith("[general]\nenabled = yes\n#include users.conf\n\n[crm]\n"));
    assert.equal(fs.statSync(conf).mode & 0o777, 0o640);
    assert.deepEqual(fs.readdirSync(dir).sort(), ["manager.conf", "users.conf"]);
    // Reloaded from disk: what the editor said.
    assert.ok(ManagerConfig.fromPath(conf).user("bob")?.read.equals(classes("call")));

    // Loaded from text: written where asked; a new file is private.
    const fromText = ManagerConfig.fromText("[general]\nenabled = no\n").edit();
    fromText.setEnabled(true);
    assert.throws(() => fromText.write(), TypeError);
    const fresh = path.join(dir, "new.conf");
    assert.deepEqual(fromText.write(fresh), [fresh]);
    assert.equal(fs.statSync(fresh).mode & 0o777, 0o600);
    assert.equal(fs.readFileSync(fresh, "utf8"), "[general]\nenabled = yes\n");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a file that is not UTF-8, or a configuration an editor made, is not edited", () => {
  const dir = tempDir();
  try {
    const conf = path.join(dir, "manager.conf");
    fs.writeFileSync(conf, Buffer.from("; caf\xe9\n[general]\nenabled = yes\n", "latin1"));
    const e = refusal(() => ManagerConfig.fromPath(conf).edit());
    assert.equal(e.reason, "not-editable");
    assert.match(e.message, /UTF-8/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const ed = ManagerConfig.fromText(CONFORMANCE).edit();
  assert.equal(refusal(() => ed.config.edit()).reason, "not-editable");
});
