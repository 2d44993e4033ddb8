/** Permissions, ACLs, manager.conf and event filters, as Asterisk decides them. */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";

import { Acl, ConfigError, EventFilter, FilterSet, ManagerConfig, Message, Privilege, actionAuthority, eventCategory } from "../dist/index.js";
import { CAPTURES, MANAGER_CONF } from "./helpers";

const label = (l: string): Privilege => {
  const p = Privilege.fromLabel(l);
  assert.ok(p, l);
  return p;
};

test("privileges parse and render as Asterisk's", () => {
  const p = Privilege.parse("call,cdr");
  assert.equal(p.render(), "call,cdr,all");
  assert.equal(String(p), "call,cdr,all");
  assert.deepEqual(p.labels(), ["call", "cdr"]);
  assert.equal(p.toConfigList(), "call,cdr");
  assert.ok(p.contains(label("call")) && !p.contains(label("system")));
  assert.ok(label("call").union(label("cdr")).equals(p));
  assert.ok(p.intersection(label("call")).equals(label("call")));
  assert.ok(Privilege.parse("none").equals(new Privilege()) && new Privilege().isEmpty);
  assert.ok(Privilege.parse("all").equals(label("all")));
  assert.equal(Privilege.fromLabel("nope"), null);
  assert.ok(Privilege.labelsAll().includes("originate"));
});

test("permission quirks are reported, and strict mode refuses them", () => {
  assert.ok(Privilege.parse(",call").equals(label("all")), "`,call` grants everything in Asterisk");
  assert.ok(Privilege.diagnose(",call").some((d) => d.includes("empty")));
  assert.throws(() => Privilege.parse(",call", true), ConfigError);
});

test("running an action needs one shared write class", () => {
  const write = Privilege.parse("call,reporting");
  assert.ok(write.canRun("Hangup") && write.canRun("CoreShowChannels"));
  assert.ok(!write.canRun("Originate"));
  assert.ok(!write.canRun("NoSuchAction"));
  assert.ok(Privilege.parse("originate").canRun("originate"));
  assert.ok(actionAuthority("Originate")?.equals(label("originate")));
  assert.ok(actionAuthority("Ping")?.isEmpty);
  assert.equal(actionAuthority("NoSuchAction"), null);
});

test("reading an event needs every bit of its category", () => {
  assert.ok(Privilege.parse("call").canRead("Hangup"));
  assert.ok(!Privilege.parse("system").canRead("Hangup"));
  assert.ok(eventCategory("Hangup")?.equals(label("call")));
});

test("ACLs: the last match decides, no rule allows, a lone permit restricts nothing", () => {
  const acl = new Acl();
  acl.addRule("deny", "0.0.0.0/0");
  acl.addRule("permit", "10.0.0.0/8");
  assert.ok(acl.permits("10.1.2.3"));
  assert.ok(!acl.permits("192.0.2.7"));
  assert.equal(acl.size, 2);
  assert.ok(new Acl().permits("192.0.2.7"));
  const lone = new Acl();
  lone.addRule("permit", "10.0.0.0/8");
  assert.ok(lone.permits("192.0.2.7"));
  assert.ok(lone.diagnostics().length > 0);
  assert.throws(() => new Acl().addRule("permit", "10.0.0.0/33"), ConfigError);
  assert.throws(() => new Acl().permits("not-an-ip"), /not an IP address/);
});

test("manager.conf from text", () => {
  const cfg = ManagerConfig.fromText(MANAGER_CONF);
  assert.deepEqual(cfg.users.map((u) => u.name), ["admin", "caller", "reporter"]);
  const caller = cfg.user("CALLER");
  assert.ok(caller);
  assert.ok(caller.read.equals(label("call")));
  assert.ok(caller.write.equals(Privilege.parse("call,reporting")));
  assert.equal(caller.secret, "caller123");
  assert.ok(caller.canRun("Hangup") && !caller.canRun("Originate"));
  assert.equal(cfg.general.enabled, true);
  assert.equal(cfg.general.port, 5038);
  assert.equal(cfg.user("nobody"), null);
});

test("manager.conf quirks that grant more than they seem are reported", () => {
  const cfg = ManagerConfig.fromText("[general]\nenabled=yes\n[m]\nsecret=x\nread=,call\nwrite=system,command\n");
  const text = cfg.diagnostics.join("\n");
  assert.match(text, /empty element/);
  assert.match(text, /shell access/);
  assert.throws(() => ManagerConfig.fromText("[general]\nenabled=yes\n[m]\nsecret=x\nread=,call\n", true), ConfigError);
  assert.throws(() => ManagerConfig.fromText("[general\nenabled=yes\n"), (e: unknown) => e instanceof ConfigError && /manager\.conf/.test(e.message));
});

test("manager.conf from a file, with #include", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ami-conf-"));
  try {
    fs.writeFileSync(path.join(dir, "users.conf"), "[admin]\nsecret=s\nread=all\nwrite=all\npermit=127.0.0.1/32\n");
    fs.writeFileSync(path.join(dir, "manager.conf"), "[general]\nenabled=yes\n#include users.conf\n");
    const admin = ManagerConfig.fromPath(path.join(dir, "manager.conf")).user("admin");
    assert.ok(admin?.permits("127.0.0.1"));
    assert.throws(() => ManagerConfig.fromPath(path.join(dir, "missing.conf")), ConfigError);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("the captures' manager.conf: ACL, write-less and filtered users", () => {
  const cfg = ManagerConfig.fromPath(path.join(CAPTURES, "manager.conf"));
  const denied = cfg.user("denied");
  assert.ok(denied && denied.permits("10.1.2.3") && !denied.permits("127.0.0.1"));
  assert.ok(cfg.user("reader")?.write.isEmpty);
  assert.ok((cfg.user("filtered")?.filters.size ?? 0) > 0);
});

const ev = (text: string): Buffer => Message.parse(text).raw;

test("event filters: include, exclude, structured", () => {
  const include = new EventFilter("Channel: PJSIP/");
  assert.ok(include.matches(ev("Event: Newchannel\r\nChannel: PJSIP/1\r\n\r\n")));
  assert.ok(!include.matches(ev("Event: Newchannel\r\nChannel: IAX2/1\r\n\r\n")));
  assert.ok(!include.isExclude);
  const structured = new EventFilter("", "eventfilter(action(exclude),name(Hangup))");
  assert.ok(structured.isExclude);
  const s = new FilterSet();
  s.add(include);
  s.add(structured);
  assert.equal(s.size, 2);
  assert.ok(s.shouldSend(ev("Event: Newchannel\r\nChannel: PJSIP/1\r\n\r\n")));
  assert.ok(!s.shouldSend(ev("Event: Newchannel\r\nChannel: IAX2/1\r\n\r\n")));
  assert.ok(!s.shouldSend(ev("Event: Hangup\r\nChannel: PJSIP/1\r\n\r\n")));
  const onlyExclude = new FilterSet();
  onlyExclude.add(new EventFilter("!Event: Hangup"));
  assert.ok(onlyExclude.shouldSend(ev("Event: Newchannel\r\n\r\n")));
  assert.ok(!onlyExclude.shouldSend(ev("Event: Hangup\r\n\r\n")));
  assert.throws(() => new EventFilter("(unclosed"), ConfigError);
});
