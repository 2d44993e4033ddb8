/** The sans-IO ClientConnection against the sans-IO Server, in memory: no socket, no timer. */
import assert from "node:assert/strict";
import { test } from "node:test";

import { ClientConnection, ClientEvent, LocalProtocolError, Server, ServerAction, ServerEvent } from "../dist/index.js";
import { MANAGER_CONF } from "./helpers";

/** Moves bytes both ways until nothing moves; returns what each side reported. */
function exchange(client: ClientConnection, server: Server, session: number, now: number, handle?: (a: ServerAction) => void) {
  const clientEvents: ClientEvent[] = [];
  const serverEvents: ServerEvent[] = [];
  for (let moved = true; moved; ) {
    moved = false;
    const up = client.dataToSend();
    if (up !== undefined) {
      server.receiveData(session, up, now);
      moved = true;
    }
    for (const ev of server.events()) {
      serverEvents.push(ev);
      if (ev.type === "actionReceived" && handle !== undefined) handle(ev.action);
    }
    const down = server.dataToSend(session);
    if (down !== undefined) {
      client.receiveData(down);
      moved = true;
    }
    clientEvents.push(...client.events());
  }
  return { clientEvents, serverEvents };
}

test("MD5 login, pipelined actions, a list and an event, all correlated", () => {
  const server = new Server(MANAGER_CONF, { loginFailureDelay: 0 });
  const session = server.accept("127.0.0.1:40000", 0);
  const client = new ClientConnection({ username: "admin", secret: "admin123", now: 0 });
  let r = exchange(client, server, session, 0);
  const types = r.clientEvents.map((e) => e.type);
  assert.deepEqual(types.slice(0, 2), ["banner", "loggedIn"]);
  assert.equal(client.state, "ready");
  assert.equal(client.banner, "Asterisk Call Manager/11.0.0");
  assert.ok(r.serverEvents.some((e) => e.type === "userLoggedIn" && e.username === "admin"));
  assert.ok(r.clientEvents.some((e) => e.type === "event" && e.message.name === "FullyBooted"));

  const ids = ["Getvar", "Getvar", "CoreShowChannels"].map((name, i) =>
    client.sendAction(name, { Variable: `V${i}` }, { now: 1 }),
  );
  assert.equal(client.pendingActions, 3);
  r = exchange(client, server, session, 1, (a) => {
    if (a.name === "Getvar") server.respond(a, { Variable: a.get("Variable") ?? "", Value: "42" });
    else {
      server.listStart(a);
      server.listItem(a, "CoreShowChannel", { Channel: "PJSIP/1" });
      server.listItem(a, "CoreShowChannel", { Channel: "PJSIP/2" });
      server.listComplete(a, "CoreShowChannelsComplete", 2);
    }
  });
  const answers = r.clientEvents.filter((e) => e.type === "response" && e.complete);
  assert.deepEqual(answers.map((e) => (e.type === "response" ? [e.actionId, e.message.get("Variable"), e.message.get("Value")] : [])), [
    [ids[0], "V0", "42"],
    [ids[1], "V1", "42"],
  ]);
  const items = r.clientEvents.filter((e) => e.type === "listItem");
  assert.deepEqual(items.map((e) => (e.type === "listItem" ? [e.actionId, e.message.get("Channel")] : [])), [
    [ids[2], "PJSIP/1"],
    [ids[2], "PJSIP/2"],
  ]);
  assert.ok(r.clientEvents.some((e) => e.type === "listComplete" && e.actionId === ids[2]));
  assert.equal(client.pendingActions, 0);

  assert.equal(server.publish("Hangup", { Channel: "PJSIP/1", Cause: 16 }, "call"), 1);
  r = exchange(client, server, session, 2);
  const hangup = r.clientEvents.find((e) => e.type === "event" && e.message.name === "Hangup");
  assert.ok(hangup?.type === "event" && hangup.message.get("cause") === "16");

  client.logoff();
  r = exchange(client, server, session, 3);
  assert.ok(r.serverEvents.some((e) => e.type === "disconnect" && e.reason === "logoff"));
  client.receiveData(Buffer.alloc(0));
  const closed = client.events().find((e) => e.type === "closed");
  assert.ok(closed?.type === "closed" && closed.reason === "logoff");
  assert.ok(server.remove(session));
});

test("a wrong secret is refused after the failure delay, and the server says why", () => {
  const server = new Server(MANAGER_CONF, { loginFailureDelay: 1000 });
  const session = server.accept("127.0.0.1:40001", 0);
  const client = new ClientConnection({ username: "admin", secret: "wrong", auth: "plain", now: 0 });
  let r = exchange(client, server, session, 0);
  assert.ok(r.serverEvents.some((e) => e.type === "userLoginFailed"));
  assert.ok(!r.clientEvents.some((e) => e.type === "loginFailed"), "not before the delay");
  assert.equal(server.nextTimeout(), 1000);
  server.handleTimeout(1000);
  r = exchange(client, server, session, 1000);
  const failed = r.clientEvents.find((e) => e.type === "loginFailed");
  assert.ok(failed?.type === "loginFailed" && failed.message.get("Message") === "Authentication failed");
});

test("permissions: a user without the write class gets Permission denied, the handler never sees it", () => {
  const server = new Server(MANAGER_CONF, { loginFailureDelay: 0 });
  const session = server.accept("127.0.0.1:40002", 0);
  const client = new ClientConnection({ username: "caller", secret: "caller123", now: 0 });
  exchange(client, server, session, 0);
  const id = client.sendAction("Originate", { Channel: "Local/1@x", Exten: "1", Context: "x", Priority: 1 }, { now: 1 });
  let seen = 0;
  const r = exchange(client, server, session, 1, () => seen++);
  assert.equal(seen, 0);
  const resp = r.clientEvents.find((e) => e.type === "response");
  assert.ok(resp?.type === "response" && resp.actionId === id && resp.message.get("Message") === "Permission denied");
  assert.deepEqual(server.sessionInfo(session)?.username, "caller");
});

test("timeouts, keepalive and a dead server are decided by the session", () => {
  const client = new ClientConnection({ requireLogin: false, actionTimeout: 100, keepaliveInterval: 1000, keepaliveTimeout: 500, maxConsecutiveTimeouts: 2, now: 0 });
  client.receiveData(Buffer.from("Asterisk Call Manager/11.0.0\r\n"));
  client.events();
  const a = client.sendAction("Ping", undefined, { now: 0 });
  assert.equal(client.nextTimeout(), 100);
  client.handleTimeout(100);
  const timedOut = client.events();
  assert.ok(timedOut.some((e) => e.type === "actionTimedOut" && e.actionId === a));
  client.sendAction("Ping", undefined, { now: 100 });
  client.handleTimeout(200);
  const events = client.events();
  assert.ok(events.some((e) => e.type === "closed" && e.reason === "unresponsive"), JSON.stringify(events.map((e) => e.type)));
  assert.throws(() => client.sendAction("Ping"), (e: unknown) => e instanceof LocalProtocolError && e.reason === "closed");
});

test("an async Originate ends with its OriginateResponse; a Command with its lines", () => {
  const server = new Server(MANAGER_CONF, { loginFailureDelay: 0 });
  const session = server.accept("127.0.0.1:40003", 0);
  const client = new ClientConnection({ username: "admin", secret: "admin123", now: 0 });
  exchange(client, server, session, 0);
  const call = client.sendAction("Originate", { Channel: "Local/1@x", Application: "Wait", Async: "true" }, { now: 1 });
  const cmd = client.sendAction("Command", { Command: "core show version" }, { now: 1 });
  const handled: ServerAction[] = [];
  let r = exchange(client, server, session, 1, (a) => {
    handled.push(a);
    if (a.name === "Originate") server.ack(a, "Originate successfully queued");
    else server.commandOutput(a, "line one\nline two");
  });
  assert.deepEqual(handled.map((a) => a.name), ["Originate", "Command"]);
  const first = r.clientEvents.find((e) => e.type === "response" && e.actionId === call);
  assert.ok(first?.type === "response" && !first.complete, "the accepting response is not final");
  const out = r.clientEvents.find((e) => e.type === "commandOutput");
  assert.ok(out?.type === "commandOutput" && out.actionId === cmd && out.success);
  assert.deepEqual(out.lines, ["line one", "line two"]);
  server.publish("OriginateResponse", { ActionID: call, Response: "Success", Channel: "Local/1@x-1" }, "call");
  r = exchange(client, server, session, 2);
  assert.ok(r.clientEvents.some((e) => e.type === "originateResponse" && e.actionId === call));
  assert.equal(client.isPending(call), false);
});
