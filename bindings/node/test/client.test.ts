/** The net/tls client against the package's own server (serve) and against `ami mock`. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";

import {
  ActionError,
  AmiServer,
  AmiTimeoutError,
  ConnectionLost,
  LocalProtocolError,
  LoginError,
  Message,
  Request,
  actions,
  connect,
  events,
  serve,
} from "../dist/index.js";
import { MANAGER_CONF, Mock, sleep } from "./helpers";

/** A handler standing in for a PBX. */
class Backend {
  hold: Promise<void> | undefined;

  handle = async (request: Request): Promise<void | Record<string, string>> => {
    switch (request.name) {
      case "Getvar":
        if (this.hold !== undefined) await this.hold;
        return { Variable: request.get("Variable") ?? "", Value: (request.get("Variable") ?? "").toLowerCase() };
      case "CoreShowChannels":
        request.sendList(
          Array.from({ length: 5 }, (_, n) => ["CoreShowChannel", { Channel: `PJSIP/${n}`, Context: "default" }] as const),
          "CoreShowChannelsComplete",
        );
        return;
      case "Hangup":
        throw new Error("no such channel");
      case "Command":
        request.commandOutput("Asterisk 22.10.1 (a test double)\nsecond line");
        return;
      default:
        request.error("Not supported here");
    }
  };
}

async function start(backend = new Backend()): Promise<AmiServer> {
  return serve(MANAGER_CONF, backend.handle, { loginFailureDelay: 50 });
}

describe("against serve()", () => {
  test("MD5 login and pipelined actions are correlated", async () => {
    const server = await start();
    const ami = await connect({ port: server.port, username: "admin", secret: "admin123" });
    try {
      assert.ok(ami.connected);
      assert.equal(ami.banner, "Asterisk Call Manager/11.0.0");
      const names = Array.from({ length: 40 }, (_, n) => `VAR${n}`);
      const answers = await Promise.all(names.map((v) => ami.action("Getvar", { Variable: v })));
      assert.deepEqual(answers.map((a) => a.get("Variable")), names);
      assert.deepEqual(answers.map((a) => a.get("Value")), names.map((v) => v.toLowerCase()));
      assert.equal(new Set(answers.map((a) => a.actionId)).size, 40);
      assert.equal((await ami.action("Ping")).get("Ping"), "Pong");
      assert.deepEqual(await ami.command("core show version"), ["Asterisk 22.10.1 (a test double)", "second line"]);
    } finally {
      await ami.close();
      await server.close();
    }
    assert.ok(server.notices.some((n) => n.type === "userLoggedIn" && n.username === "admin"));
    assert.ok(server.notices.some((n) => n.type === "securityNotice" && n.kind === "SuccessfulAuth"));
  });

  test("plain login and a collected list", async () => {
    const server = await start();
    const ami = await connect({ port: server.port, username: "admin", secret: "admin123", auth: "plain" });
    try {
      const items = await ami.actionList("CoreShowChannels");
      assert.deepEqual(items.map((i) => i.get("Channel")), ["PJSIP/0", "PJSIP/1", "PJSIP/2", "PJSIP/3", "PJSIP/4"]);
      assert.ok(items.every((i) => i.name === "CoreShowChannel"));
    } finally {
      await ami.close();
      await server.close();
    }
  });

  test("refusals and errors are ActionErrors; check: false returns them", async () => {
    const server = await start();
    const ami = await connect({ port: server.port, username: "caller", secret: "caller123" });
    try {
      await assert.rejects(ami.action("Originate", { Channel: "Local/1@default", Exten: 1, Context: "default", Priority: 1 }), (e: unknown) => {
        return e instanceof ActionError && e.response.get("Message") === "Permission denied";
      });
      await assert.rejects(ami.action("Hangup", { Channel: "PJSIP/9" }), (e: unknown) => e instanceof ActionError && /no such channel/.test(e.message));
      const unchecked = await ami.action("Hangup", { Channel: "PJSIP/9" }, { check: false });
      assert.equal(unchecked.get("Response"), "Error");
      await assert.rejects(ami.action("Getvar", { Variable: "a\r\nAction: Originate" }), LocalProtocolError);
    } finally {
      await ami.close();
      await server.close();
    }
  });

  test("a wrong secret is a LoginError, within the failure delay", async () => {
    const server = await start();
    try {
      await assert.rejects(connect({ port: server.port, username: "admin", secret: "wrong", reconnect: false }), (e: unknown) => {
        return e instanceof LoginError && e.response?.get("Message") === "Authentication failed";
      });
    } finally {
      await server.close();
    }
  });

  test("events: by name, filtered, typed; a slow stream is told what it missed", async () => {
    const server = await start();
    const ami = await connect({ port: server.port, username: "admin", secret: "admin123" });
    try {
      const hangups = ami.events({ name: "Hangup" });
      const pjsip = ami.events({ filter: (e) => e.get("Channel")?.startsWith("PJSIP/") ?? false });
      const typedHangups = ami.events({ name: "Hangup", typed: true });
      const lags: number[] = [];
      const small = ami.events({ name: "UserEvent", maxQueue: 3, onLag: (n) => lags.push(n) });
      server.publish("Newchannel", { Channel: "IAX2/1" }, "call");
      server.publish("Hangup", { Channel: "PJSIP/7", "Cause-txt": "Normal Clearing" }, "call");
      for (let i = 0; i < 10; i++) server.publish("UserEvent", { UserEvent: `n${i}` }, "user");
      const h = await hangups.get(5000);
      assert.equal(h.get("Channel"), "PJSIP/7");
      const p = await pjsip.get(5000);
      assert.equal(p.name, "Hangup");
      const t = await typedHangups.get(5000);
      assert.ok(t instanceof events.Hangup);
      assert.equal(t.channel, "PJSIP/7");
      assert.equal(t.causeTxt, "Normal Clearing");
      await sleep(100);
      assert.equal(small.queued, 3);
      assert.equal(small.dropped, 7);
      const first = await small.get(1000);
      assert.equal(first.get("UserEvent"), "n7", "the stream goes on with the oldest event still held");
      assert.deepEqual(lags, [7]);
      let n = 0;
      for await (const ev of small) {
        assert.ok(ev instanceof Message);
        if (++n === 2) break;
      }
      assert.equal(small.queued, 0);
    } finally {
      await ami.close();
      await server.close();
    }
  });

  test("a lag without onLag is a process warning, never silent", async () => {
    const server = await start();
    const ami = await connect({ port: server.port, username: "admin", secret: "admin123" });
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => {
      if (w.name === "AmiEventLag") warnings.push(w);
    };
    process.on("warning", onWarning);
    try {
      const stream = ami.events({ name: "UserEvent", maxQueue: 1 });
      server.publish("UserEvent", { UserEvent: "a" }, "user");
      server.publish("UserEvent", { UserEvent: "b" }, "user");
      await sleep(100);
      assert.equal((await stream.get(1000)).get("UserEvent"), "b");
      await sleep(10);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]?.message ?? "", /1 events were dropped/);
    } finally {
      process.off("warning", onWarning);
      await ami.close();
      await server.close();
    }
  });

  test("it reconnects after the server drops it, and logs in again", async () => {
    const server = await start();
    const ami = await connect({ port: server.port, username: "admin", secret: "admin123", backoff: { initial: 50, max: 200 } });
    const seen: string[] = [];
    ami.on("disconnected", (why: string) => seen.push(`down: ${why}`));
    ami.on("connected", () => seen.push("up"));
    try {
      assert.equal((await ami.action("Ping")).get("Ping"), "Pong");
      server.dropConnections();
      await sleep(20);
      await ami.waitConnected(5000);
      assert.equal((await ami.action("Ping")).get("Ping"), "Pong");
      assert.equal(ami.connections, 2);
      assert.deepEqual(seen.map((s) => s.split(":")[0]), ["down", "up"]);
    } finally {
      await ami.close();
      await server.close();
    }
  });

  test("an action the server holds times out within its limit, saying what was awaited", async () => {
    const backend = new Backend();
    let release: () => void = () => {};
    backend.hold = new Promise((resolve) => (release = resolve));
    const server = await start(backend);
    const ami = await connect({ port: server.port, username: "admin", secret: "admin123", maxConsecutiveTimeouts: null });
    try {
      const started = performance.now();
      await assert.rejects(ami.action("Getvar", { Variable: "X" }, { timeout: 200 }), (e: unknown) => {
        return e instanceof AmiTimeoutError && /the action Getvar/.test(e.message) && e.message.includes(`127.0.0.1:${server.port}`);
      });
      const took = performance.now() - started;
      assert.ok(took >= 190 && took < 200 + 250 + 200, `took ${took} ms`);
      release();
    } finally {
      await ami.close();
      await server.close();
    }
  });

  test("an action without a time limit waits as long as it takes", async () => {
    const backend = new Backend();
    let release: () => void = () => {};
    backend.hold = new Promise((resolve) => (release = resolve));
    const server = await start(backend);
    const ami = await connect({ port: server.port, username: "admin", secret: "admin123", actionTimeout: 100 });
    try {
      const answer = ami.action("Getvar", { Variable: "SLOW" }, { timeout: Infinity });
      await sleep(400);
      release();
      assert.equal((await answer).get("Value"), "slow");
    } finally {
      await ami.close();
      await server.close();
    }
  });

  test("close rejects what waits and ends the streams", async () => {
    const backend = new Backend();
    backend.hold = new Promise(() => {});
    const server = await start(backend);
    const ami = await connect({ port: server.port, username: "admin", secret: "admin123" });
    const stream = ami.events();
    const waiting = ami.action("Getvar", { Variable: "X" });
    await sleep(50);
    await ami.close();
    await assert.rejects(waiting, ConnectionLost);
    assert.deepEqual(await stream.next(), { done: true, value: undefined });
    await assert.rejects(ami.action("Ping"), ConnectionLost);
    await server.close();
  });

  test("AMI over TLS", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ami-tls-"));
    try {
      const key = path.join(dir, "key.pem");
      const cert = path.join(dir, "cert.pem");
      execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost", "-days", "1", "-keyout", key, "-out", cert], { stdio: "ignore" });
      const server = await serve(MANAGER_CONF, new Backend().handle, { tls: { key: fs.readFileSync(key), cert: fs.readFileSync(cert) } });
      try {
        const ami = await connect({ host: "localhost", port: server.port, username: "admin", secret: "admin123", tls: { ca: fs.readFileSync(cert) } });
        assert.equal((await ami.action("Ping")).get("Ping"), "Pong");
        await ami.close();
        // Plain TCP to a TLS port: the greeting is not AMI (or nothing comes); it fails fast either way.
        await assert.rejects(connect({ host: "localhost", port: server.port, username: "admin", secret: "admin123", reconnect: false, connectTimeout: 1000 }));
      } finally {
        await server.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("against ami mock", () => {
  let mock: Mock;
  before(async () => {
    mock = await Mock.start("--calls-per-second", "20");
  });
  after(async () => {
    await mock.stop();
  });

  test("logins both ways, actions, a list, a command and call events", async () => {
    for (const auth of ["md5", "plain"] as const) {
      const ami = await connect({ port: mock.port, username: "operator", secret: "operator-secret", auth });
      try {
        assert.equal((await ami.action("Ping")).get("Ping"), "Pong");
        assert.equal((await ami.action("CoreSettings")).get("AsteriskVersion"), "22.10.1");
        const channels = await ami.actionList("CoreShowChannels");
        assert.ok(channels.every((c) => c.name === "CoreShowChannel"));
        assert.match((await ami.command("core show version"))[0] ?? "", /^Asterisk 22/);
        const hangups = ami.events({ name: "Hangup", typed: true });
        const h = await hangups.get(10_000);
        assert.ok(h instanceof events.Hangup && h.channel !== undefined);
        const answer = await ami.action(actions.Originate({ channel: "PJSIP/100", application: "Wait", data: 1, async: true }));
        assert.equal(answer.name, "OriginateResponse");
        assert.equal(answer.get("Response"), "Success");
        await assert.rejects(ami.action("Originate", { Channel: "PJSIP/busy-1", Application: "Wait", Async: "true" }), ActionError);
      } finally {
        await ami.close();
      }
    }
  });

  test("the monitor user may not originate; wrong secrets are refused", async () => {
    const ami = await connect({ port: mock.port, username: "monitor", secret: "monitor-secret" });
    try {
      await assert.rejects(ami.action("Originate", { Channel: "PJSIP/1", Application: "Wait" }), (e: unknown) => {
        return e instanceof ActionError && e.response.get("Message") === "Permission denied";
      });
    } finally {
      await ami.close();
    }
    await assert.rejects(connect({ port: mock.port, username: "operator", secret: "nope", reconnect: false }), LoginError);
  });
});
