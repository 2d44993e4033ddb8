/**
 * The client against a real Asterisk 22 (tests/live/asterisk.sh). Calls are real:
 * `Local/simple@amitest` answers, sets a variable, sends a UserEvent, waits a second and hangs
 * up; `Local/park@amitest` stays up for 30 s. Each test follows only its own call (by its
 * Linkedid), since the Asterisk is shared.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";

import * as fs from "node:fs";

import { ActionError, LoginError, ManagerConfig, Message, Privilege, actions, connect, events } from "../dist/index.js";
import { LiveAsterisk } from "./helpers";

let ast: LiveAsterisk;
let failed = false;

before(() => {
  ast = new LiveAsterisk();
});
after(() => {
  ast.stop(failed);
});

/** Runs a test body, remembering a failure so that the Asterisk log tail is printed. */
function live(name: string, body: () => Promise<void>): void {
  test(name, async () => {
    try {
      await body();
    } catch (e) {
      failed = true;
      throw e;
    }
  });
}

/**
 * The events of one call, known by the Uniqueid of its first channel (from the
 * OriginateResponse): those that carry the call's Linkedid in any header (LocalBridge has
 * `LocalOneLinkedid`), and those that name one of its channels (Cdr has no Linkedid).
 */
class CallEvents {
  readonly all: Message[] = [];

  names(uniqueid: string): string[] {
    const linkedid = this.all.find((e) => e.get("Uniqueid") === uniqueid)?.get("Linkedid");
    if (linkedid === undefined) return [];
    const channels = new Set(this.all.filter((e) => e.get("Linkedid") === linkedid).map((e) => e.get("Channel")));
    return this.all
      .filter((e) => e.headers().some(([, v]) => v === linkedid) || (e.name === "Cdr" && channels.has(e.get("Channel"))))
      .map((e) => e.name ?? "");
  }

  done(uniqueid: string): boolean {
    const n = this.names(uniqueid);
    return n.filter((x) => x === "Hangup").length === 2 && n.filter((x) => x === "Cdr").length === 2;
  }
}

live("logins both ways, and the refusals as Asterisk makes them", async () => {
  for (const auth of ["md5", "plain"] as const) {
    const ami = await connect({ port: ast.port, username: "admin", secret: "admin123", auth });
    try {
      assert.equal(ami.banner, "Asterisk Call Manager/11.0.0");
      assert.equal((await ami.action("Ping")).get("Ping"), "Pong");
    } finally {
      await ami.close();
    }
  }
  for (const [user, secret] of [["admin", "wrong"], ["denied", "denied123"]] as const) {
    const started = performance.now();
    await assert.rejects(connect({ port: ast.port, username: user, secret, reconnect: false }), (e: unknown) => {
      return e instanceof LoginError && e.response?.get("Message") === "Authentication failed";
    });
    assert.ok(performance.now() - started >= 900, "Asterisk sleeps 1 s before refusing");
  }
});

live("actions, a command, variables, errors, and a real call with its events", async () => {
  const ami = await connect({ port: ast.port, username: "admin", secret: "admin123" });
  try {
    assert.equal((await ami.action("CoreSettings")).get("AsteriskVersion"), "22.10.1");
    assert.ok(Number((await ami.action("CoreStatus")).get("CoreCurrentCalls")) >= 0);
    assert.match((await ami.command("core show version"))[0] ?? "", /^Asterisk 22\.10\.1/);
    const v = `NODE_${randomBytes(4).toString("hex").toUpperCase()}`;
    await ami.action("Setvar", { Variable: v, Value: "a b=c" });
    assert.equal((await ami.action("Getvar", { Variable: v })).get("Value"), "a b=c");
    await assert.rejects(ami.action("Getvar", { Channel: "Local/none@nowhere-1", Variable: "X" }), (e: unknown) => {
      return e instanceof ActionError && e.response.get("Message") === "No such channel";
    });

    // An async Originate: its final answer is the OriginateResponse; the call's events
    // (Newchannel ... Hangup, Cdr) arrive on the stream.
    const stream = ami.events();
    const answer = await ami.action(
      actions.Originate({ channel: "Local/simple@amitest", application: "Wait", data: 1, async: true }),
      undefined,
      { timeout: 30_000 },
    );
    assert.equal(answer.name, "OriginateResponse");
    assert.equal(answer.get("Response"), "Success");
    const uniqueid = answer.get("Uniqueid") ?? "";
    const call = new CallEvents();
    while (!call.done(uniqueid)) call.all.push(await stream.get(20_000));
    stream.close();
    const seen = call.names(uniqueid);
    for (const name of ["Newchannel", "LocalBridge", "VarSet", "UserEvent", "Hangup", "Cdr"]) {
      assert.ok(seen.includes(name), `${name} in ${seen.join(" ")}`);
    }
    const hangup = call.all.find((e) => e.name === "Hangup" && e.get("Linkedid") === uniqueid);
    assert.ok(hangup);
    const typed = events.typed(hangup);
    assert.ok(typed instanceof events.Hangup && typed.channel?.startsWith("Local/simple@amitest-"));
  } finally {
    await ami.close();
  }
});

live("lists while a call is up, and the reader's Permission denied", async () => {
  const ami = await connect({ port: ast.port, username: "admin", secret: "admin123" });
  const names: string[] = [];
  try {
    const stream = ami.events({ name: "VarSet", filter: (e) => e.get("Variable") === "PARKVAR" });
    const answer = await ami.action("Originate", { Channel: "Local/park@amitest", Application: "Wait", Data: 30, Async: "true" }, { timeout: 30_000 });
    assert.equal(answer.get("Response"), "Success");
    let varset: Message;
    do varset = await stream.get(20_000);
    while (varset.get("Linkedid") !== answer.get("Uniqueid"));
    stream.close();
    const channels = await ami.actionList("CoreShowChannels");
    names.push(...channels.map((c) => c.get("Channel") ?? ""));
    assert.ok(names.includes(varset.get("Channel") ?? "?"), names.join(" "));
    const status = await ami.actionList("Status");
    const inStatus = new Set(status.map((s) => s.get("Channel")));
    for (const n of names.filter((x) => x.startsWith("Local/park@"))) assert.ok(inStatus.has(n), n);
    assert.equal((await ami.action("Getvar", { Channel: varset.get("Channel") ?? "", Variable: "PARKVAR" })).get("Value"), "parked");
  } finally {
    for (const n of names.filter((x) => x.startsWith("Local/park@amitest-"))) {
      await ami.action("Hangup", { Channel: n }, { check: false });
    }
    await ami.close();
  }
  const reader = await connect({ port: ast.port, username: "reader", secret: "reader123" });
  try {
    await assert.rejects(reader.action("Originate", { Channel: "Local/simple@amitest", Application: "Wait" }), (e: unknown) => {
      return e instanceof ActionError && e.response.get("Message") === "Permission denied";
    });
  } finally {
    await reader.close();
  }
});

/** The classes of a `Privilege:` or `(Priv: ...)` text (`call,cdr,all`, `<none>`), without `all`. */
function privClasses(text: string): Privilege {
  let p = new Privilege();
  for (const label of text.split(",")) {
    const c = label === "all" ? null : Privilege.fromLabel(label);
    if (c !== null) p = p.union(c);
  }
  return p;
}

live("a user added by the editor gets exactly its rights from Asterisk; removed, it cannot log in", async () => {
  const original = fs.readFileSync(ast.managerConf, "utf8");
  const editor = ManagerConfig.fromPath(ast.managerConf).edit();
  const report = editor.addUser("nodecrm", { generateSecret: true, read: ["call", "cdr"], write: "originate", permit: ["127.0.0.1"] });
  const secret = report.generatedSecret ?? "";
  assert.equal(secret.length, 32);
  assert.deepEqual(editor.write(), [ast.managerConf]);
  assert.match(ast.cli("manager reload"), /^$|reload/i);
  const shown = ast.cli("manager show user nodecrm");
  assert.ok(privClasses(/read perm: *(\S+)/.exec(shown)?.[1] ?? "").equals(Privilege.parse("call,cdr")), shown);
  assert.ok(privClasses(/write perm: *(\S+)/.exec(shown)?.[1] ?? "").equals(Privilege.parse("originate")), shown);

  const crm = await connect({ port: ast.port, username: "nodecrm", secret, reconnect: false });
  const admin = await connect({ port: ast.port, username: "admin", secret: "admin123" });
  try {
    // ListCommands: exactly the actions whose authority is none or shares a class with originate.
    const listed = (await crm.action("ListCommands")).headers().filter(([, v]) => v.includes("(Priv: "));
    const originate = Privilege.parse("originate");
    for (const [name, v] of listed) {
      const authority = privClasses(v.slice(v.lastIndexOf("(Priv: ") + 7, -1));
      assert.ok(authority.isEmpty || !authority.intersection(originate).isEmpty, `${name} listed: ${v}`);
    }
    const names = listed.map(([n]) => n);
    assert.ok(names.includes("Originate") && !names.includes("Command") && !names.includes("Hangup"), names.join(" "));
    // An action of another class is refused.
    await assert.rejects(crm.action("Command", { Command: "core show version" }), (e: unknown) => {
      return e instanceof ActionError && e.response.get("Message") === "Permission denied";
    });
    // A call placed by the admin: crm receives its call and cdr events, and nothing else.
    const stream = crm.events();
    const answer = await admin.action("Originate", { Channel: "Local/simple@amitest", Application: "Wait", Data: 1, Async: "true" }, { timeout: 30_000 });
    const call = new CallEvents();
    while (!call.done(answer.get("Uniqueid") ?? "")) call.all.push(await stream.get(20_000));
    stream.close();
    for (const e of call.all) {
      const classes = privClasses(e.get("Privilege") ?? "");
      assert.ok(Privilege.parse("call,cdr").contains(classes), `crm received ${e.name} (${e.get("Privilege")})`);
    }
    const seen = call.names(answer.get("Uniqueid") ?? "");
    assert.ok(seen.includes("Newchannel") && seen.includes("Hangup") && seen.includes("Cdr"), seen.join(" "));
    assert.ok(!seen.includes("VarSet") && !seen.includes("Newexten") && !seen.includes("UserEvent"), seen.join(" "));
  } finally {
    await crm.close();
    await admin.close();
  }

  // Removed and reloaded: the file is as it was, and the login fails.
  const remover = ManagerConfig.fromPath(ast.managerConf).edit();
  remover.removeUser("nodecrm");
  remover.write();
  assert.equal(fs.readFileSync(ast.managerConf, "utf8"), original);
  ast.cli("manager reload");
  await assert.rejects(connect({ port: ast.port, username: "nodecrm", secret, reconnect: false }), (e: unknown) => {
    return e instanceof LoginError && e.response?.get("Message") === "Authentication failed";
  });
  assert.match(ast.cli("manager show user nodecrm"), /There is no manager called nodecrm/);
});

live("it recovers after Asterisk restarts", async () => {
  const ami = await connect({ port: ast.port, username: "admin", secret: "admin123", backoff: { initial: 100, max: 500 } });
  try {
    assert.equal((await ami.action("Ping")).get("Ping"), "Pong");
    const down = new Promise<string>((resolve) => ami.once("disconnected", resolve));
    ast.restart();
    assert.ok((await down).length > 0);
    await ami.waitConnected(30_000);
    assert.equal((await ami.action("Ping")).get("Ping"), "Pong");
    assert.equal(ami.connections, 2);
  } finally {
    await ami.close();
  }
});
