/** Encoding: exact bytes, and refusal of every way to inject a line or change a name. */
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  ClientConnection,
  LocalProtocolError,
  ProtocolError,
  actions,
  encodeAction,
  encodeEvent,
  encodeResponse,
} from "../dist/index.js";

test("actions, responses and events have the exact bytes", () => {
  assert.equal(
    encodeAction("Originate", [["Channel", "Local/1@x"], ["Timeout", 30000]], "a1").toString(),
    "Action: Originate\r\nActionID: a1\r\nChannel: Local/1@x\r\nTimeout: 30000\r\n\r\n",
  );
  assert.equal(encodeAction("Ping").toString(), "Action: Ping\r\n\r\n");
  assert.deepEqual(encodeAction("Setvar", { Value: Buffer.from([0xff]) }), Buffer.from("Action: Setvar\r\nValue: \xff\r\n\r\n", "latin1"));
  assert.equal(encodeAction("Setvar", { Value: "☎" }).toString(), "Action: Setvar\r\nValue: ☎\r\n\r\n");
  assert.equal(encodeAction("Originate", { Variable: ["A=1", "B=2"], Async: true, Skip: undefined }).toString(),
    "Action: Originate\r\nVariable: A=1\r\nVariable: B=2\r\nAsync: yes\r\n\r\n");
  assert.equal(encodeAction("X", new Map([["A", 1n]])).toString(), "Action: X\r\nA: 1\r\n\r\n");
  assert.equal(encodeResponse("Success", { Ping: "Pong" }).toString(), "Response: Success\r\nPing: Pong\r\n\r\n");
  assert.equal(encodeEvent("Hangup", [["Channel", "X"]]).toString(), "Event: Hangup\r\nChannel: X\r\n\r\n");
});

const INJECTIONS: Array<[Record<string, string>, string, number, number]> = [
  [{ Channel: "x\r\nAction: Originate" }, "forbidden-byte-in-value", 1, 1],
  [{ Channel: "x\nAction: Originate" }, "forbidden-byte-in-value", 1, 1],
  [{ Channel: "x\rAction: Originate" }, "forbidden-byte-in-value", 1, 1],
  [{ Channel: "x\u0000y" }, "forbidden-byte-in-value", 1, 1],
  [{ "Chan:nel": "x" }, "colon-in-name", 1, 4],
  [{ "Chan\r\nnel": "x" }, "forbidden-byte-in-name", 1, 4],
  [{ " Channel": "x" }, "blank-around-name", 1, 0],
  [{ "": "x" }, "empty-name", 1, 0],
];

test("every way to inject a line or change a name is refused, saying where", () => {
  for (const [fields, reason, field, offset] of INJECTIONS) {
    assert.throws(
      () => encodeAction("Ping", fields),
      (e: unknown) => {
        assert.ok(e instanceof LocalProtocolError && e instanceof ProtocolError && e instanceof Error, String(e));
        assert.equal(e.code, "ERR_AMI_LOCAL");
        assert.equal(e.reason, reason, JSON.stringify(fields));
        assert.equal(e.field, field);
        assert.equal(e.offset, offset, JSON.stringify(fields));
        assert.equal(e.name, "LocalProtocolError");
        return true;
      },
    );
    assert.throws(() => encodeEvent("X", fields), LocalProtocolError);
    assert.throws(() => encodeResponse("Success", fields), LocalProtocolError);
  }
});

test("injection in the name and the ActionID is refused", () => {
  assert.throws(() => encodeAction("Ping\r\nAction: Originate"), (e: unknown) => e instanceof LocalProtocolError && e.field === 0);
  assert.throws(() => encodeAction("Ping", undefined, "1\r\nAction: Originate"), LocalProtocolError);
  assert.throws(() => encodeAction("Ping", { X: " leading blank" }), (e: unknown) => e instanceof LocalProtocolError && e.reason === "leading-blank-in-value");
});

test("the client session refuses injection and queues nothing", () => {
  const c = new ClientConnection({ requireLogin: false });
  assert.throws(() => c.sendAction("Ping", { X: "a\r\nAction: Originate" }), LocalProtocolError);
  assert.equal(c.dataToSend(), undefined);
  assert.equal(c.pendingActions, 0);
});

test("catalog action factories check their parameters and encode safely", () => {
  const a = actions.Originate({ channel: "PJSIP/100", exten: 200, context: "default", priority: 1, variable: ["A=1", "B=2"], async: true, headers: { X: "y" } });
  assert.equal(a.name, "Originate");
  assert.deepEqual(a.fields, [["Channel", "PJSIP/100"], ["Exten", 200], ["Context", "default"], ["Priority", 1], ["Variable", "A=1"], ["Variable", "B=2"], ["Async", true], ["X", "y"]]);
  assert.equal(actions.Originate.NAME, "Originate");
  assert.equal(actions.Originate.AUTHORITY, "originate");
  assert.throws(() => actions.Originate({} as unknown as actions.OriginateParams), /requires channel/);
  assert.throws(() => actions.Originate({ channel: "x", nope: 1 } as unknown as actions.OriginateParams), /unknown parameter "nope"/);
  assert.throws(() => actions.Originate({ channel: "x", variable: "A=1" } as unknown as actions.OriginateParams), /takes an array/);
  assert.throws(() => encodeAction(a.name, [...a.fields, ["Bad", "x\r\ny"]]), LocalProtocolError);
  const numbered = actions.UpdateConfig({ srcFilename: "a.conf", dstFilename: "b.conf", action: { 1: "NewCat", 0: "Append" } });
  assert.deepEqual(numbered.fields.slice(2), [["Action-000000", "Append"], ["Action-000001", "NewCat"]]);
  assert.equal(actions.ACTIONS.get("originate"), actions.Originate);
});
