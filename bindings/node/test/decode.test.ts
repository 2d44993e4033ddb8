/**
 * Decoding: the real Asterisk 22 captures in random chunks, the map behaviour of messages,
 * bytes that are not UTF-8, bare lines, limits, and detached messages.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";

import { Banner, Decoder, Message, RemoteProtocolError } from "../dist/index.js";
import { CAPTURES, captureFiles, randomChunks } from "./helpers";

const SERVER_OUTPUT = captureFiles("server_to_client.bin");
const CLIENT_OUTPUT = captureFiles("client_to_server.bin");

type Snap = { kind: string; raw?: string; error?: string; lines?: Array<[string | undefined, string]>; version?: string };

function snap(item: Banner | Message): Snap {
  if (item instanceof Banner) return { kind: "banner", version: item.version, raw: item.line };
  return {
    kind: item.kind,
    raw: item.raw.toString("latin1"),
    ...(item.error === undefined ? {} : { error: item.error }),
    lines: item.lines().map((l) => [l.name, l.value]),
  };
}

function decode(role: "client" | "server", chunks: Buffer[]): Array<Banner | Message> {
  const d = new Decoder(role);
  const out: Array<Banner | Message> = [];
  for (const c of chunks) {
    d.feed(c);
    for (const item of d) out.push(item);
  }
  return out;
}

test("there are captures", () => {
  assert.ok(SERVER_OUTPUT.length >= 30, CAPTURES);
  assert.ok(CLIENT_OUTPUT.length >= 30, CAPTURES);
});

test("every server capture decodes the same whole and in random chunks, and no byte is lost", () => {
  for (const file of SERVER_OUTPUT) {
    const data = fs.readFileSync(file);
    const reference = decode("client", [data]);
    const name = path.relative(CAPTURES, file);
    assert.ok(reference.length > 0, `${name}: at least the banner`);
    const first = reference[0];
    assert.ok(first instanceof Banner && first.version === "11.0.0" && first.kind === "banner", name);
    const messages = reference.slice(1) as Message[];
    for (const m of messages) {
      if (m.error === undefined) assert.ok(m.kind === "response" || m.kind === "event", `${name}: ${m.kind}`);
    }
    for (const seed of [1, 2, 3]) {
      assert.deepEqual(decode("client", randomChunks(data, seed)).map(snap), reference.map(snap), `${name}, seed ${seed}`);
    }
    if (messages.every((m) => m.error === undefined)) {
      const rebuilt = Buffer.concat([Buffer.from(first.line + "\r\n", "latin1"), ...messages.map((m) => m.raw)]);
      assert.ok(data.subarray(0, rebuilt.length).equals(rebuilt), `${name}: the raw bytes give back the stream`);
    }
  }
});

test("every client capture decodes the same byte by byte", () => {
  for (const file of CLIENT_OUTPUT) {
    const data = fs.readFileSync(file);
    const reference = decode("server", [data]);
    const bytes = [...data].map((b) => Buffer.from([b]));
    assert.deepEqual(decode("server", bytes).map(snap), reference.map(snap), file);
    for (const m of reference) assert.ok(m.kind === "action" || m.kind === "unknown", `${file}: ${m.kind}`);
  }
});

test("the pipelined capture has its Login and distinct ActionIDs", () => {
  const data = fs.readFileSync(path.join(CAPTURES, "pipelined-actions", "client_to_server.bin"));
  const actions = decode("server", [data]).filter((m): m is Message => m instanceof Message && m.kind === "action");
  assert.equal(actions[0]?.name, "Login");
  const ids = actions.map((m) => m.actionId).filter((id) => id !== undefined);
  assert.equal(new Set(ids).size, ids.length);
});

test("a message is a case-insensitive, read-only map", () => {
  const m = Message.parse("Event: Newchannel\r\nChannel: PJSIP/100\r\nchannel: second\r\nOutput: a\r\n\r\n");
  assert.equal(m.kind, "event");
  assert.equal(m.name, "Newchannel");
  assert.equal(m.get("CHANNEL"), "PJSIP/100");
  assert.deepEqual(m.getAll("channel"), ["PJSIP/100", "second"]);
  assert.equal(m.get("Missing"), undefined);
  assert.ok(m.has("event") && !m.has("Missing"));
  assert.deepEqual([...m.keys()], ["Event", "Channel", "Output"]);
  assert.equal(m.size, 3);
  assert.deepEqual(m.headers(), [
    ["Event", "Newchannel"],
    ["Channel", "PJSIP/100"],
    ["channel", "second"],
    ["Output", "a"],
  ]);
  assert.deepEqual(Object.fromEntries(m), { Event: "Newchannel", Channel: "PJSIP/100", Output: "a" });
  assert.deepEqual(new Map(m), new Map([["Event", "Newchannel"], ["Channel", "PJSIP/100"], ["Output", "a"]]));
  const seen: string[] = [];
  m.forEach((v, k) => seen.push(`${k}=${v}`));
  assert.deepEqual(seen, ["Event=Newchannel", "Channel=PJSIP/100", "Output=a"]);
  assert.ok(m.raw.toString().endsWith("\r\n\r\n"));
  assert.equal((m as unknown as { set?: unknown }).set, undefined, "no setter");
  assert.deepEqual(JSON.parse(JSON.stringify(m)), { Event: "Newchannel", Channel: "PJSIP/100", Output: "a" });
});

test("an empty value is present, not missing", () => {
  const m = Message.parse("Event: Hangup\r\nEmpty: \r\n\r\n");
  assert.equal(m.get("Empty"), "");
  assert.ok(m.has("empty"));
});

test("values that are not UTF-8 are kept as bytes and replaced in strings", () => {
  const raw = Buffer.from("Event: UserEvent\r\nData: caf\xe9 \xff\r\nName: ok\r\n\r\n", "latin1");
  const m = Message.parse(raw);
  assert.equal(m.utf8, false);
  assert.equal(m.get("Data"), "caf\ufffd \ufffd");
  assert.deepEqual(m.getBuffer("data"), Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x20, 0xff]));
  assert.deepEqual(m.raw, raw);
  assert.equal(m.get("Name"), "ok");
  const utf8 = Message.parse("Event: UserEvent\r\nData: café ☎\r\n\r\n");
  assert.equal(utf8.utf8, true);
  assert.equal(utf8.get("data"), "café ☎");
  assert.deepEqual(utf8.getAllBuffers("Data"), [Buffer.from("café ☎")]);
});

test("a multi-byte character split across chunks is decoded whole", () => {
  const text = Buffer.from("Asterisk Call Manager/11.0.0\r\nEvent: UserEvent\r\nData: ☎☎☎\r\n\r\n");
  const out = decode("client", [...text].map((b) => Buffer.from([b])));
  assert.equal((out[1] as Message).get("Data"), "☎☎☎");
});

test("names are compared by their bytes, ASCII case-insensitively only", () => {
  const m = Message.parse("Event: UserEvent\r\nNéme: utf-8\r\n\r\n");
  assert.equal(m.get("Néme"), "utf-8");
  assert.equal(m.get("NÉME"), undefined);
  assert.equal(m.get("nÉme".replace("É", "é").toUpperCase().replace("É", "é")), "utf-8");
});

test("bare lines are visible", () => {
  const m = Message.parse("Response: Success\r\nNo categories found\r\nX: y\r\n\r\n");
  assert.deepEqual(m.lines(), [
    { name: "Response", value: "Success" },
    { name: undefined, value: "No categories found" },
    { name: "X", value: "y" },
  ]);
  assert.equal(m.has("No categories found"), false);
  assert.deepEqual(m.headers(), [["Response", "Success"], ["X", "y"]]);
});

test("the client rule strips exactly one space; the server rule every leading blank", () => {
  assert.equal(Message.parse("Response: Success\r\nMessage:  two spaces \r\n\r\n").get("Message"), " two spaces ");
  assert.equal(Message.parse("Action: Ping\r\nX:   three\r\n\r\n", "server").get("X"), "three");
});

test("parse refuses incomplete or several messages", () => {
  assert.throws(() => Message.parse("Event: X\r\n"), RemoteProtocolError);
  assert.throws(() => Message.parse("Event: X\r\n\r\nEvent: Y\r\n\r\n"), RemoteProtocolError);
});

test("a message over the limits keeps its lines and the stream goes on", () => {
  const d = new Decoder("server");
  const items = d.decode(Buffer.from(`Action: Ping\r\nX: ${"a".repeat(2000)}\r\n\r\nAction: Ping\r\n\r\n`));
  assert.equal(items.length, 2);
  const [first, second] = items as [Message, Message];
  assert.ok(first.error !== undefined && /line/i.test(first.error), first.error);
  assert.equal(first.get("Action"), "Ping");
  assert.equal(second.error, undefined);
  assert.equal(second.name, "Ping");
});

test("decoder limits are options, and bad ones are refused", () => {
  const d = new Decoder("client", { maxHeaders: 2 });
  const [, m] = d.decode(Buffer.from("Asterisk Call Manager/11.0.0\r\nEvent: A\r\nB: 1\r\nC: 2\r\n\r\n")) as [Banner, Message];
  assert.ok(m.error !== undefined);
  assert.throws(() => new Decoder("client", { maxLine: 0 }));
  assert.throws(() => new Decoder("both" as "client"), /role must be/);
});

test("buffered bytes and a cut message are reported", () => {
  const d = new Decoder("client");
  d.feed(Buffer.from("Asterisk Call Manager/11.0.0\r\nEvent: A\r\n"));
  assert.ok(d.next() instanceof Banner);
  assert.equal(d.next(), undefined);
  assert.ok(d.isMidMessage);
  assert.equal(d.buffered, "Event: A\r\n".length);
  d.feed(Buffer.from("\r\n"));
  assert.equal((d.next() as Message).name, "A");
  assert.equal(d.isMidMessage, false);
  assert.equal(d.role, "client");
});

test("a detached message keeps only its bytes and reads the same", () => {
  const d = new Decoder("client");
  const body = Array.from({ length: 50 }, (_, i) => `Event: E${i}\r\nChannel: PJSIP/${i}\r\nBare\r\n\r\n`).join("");
  const items = d.decode(Buffer.from("Asterisk Call Manager/11.0.0\r\n" + body));
  const m = items[25] as Message;
  const kept = m.detach();
  assert.notEqual(kept, m);
  assert.ok(kept.raw.equals(m.raw));
  assert.deepEqual(kept.lines(), m.lines());
  assert.equal(kept.get("channel"), "PJSIP/24");
  assert.equal(kept.detach(), kept, "a small message is already detached");
});

test("a message of 64 KiB or more (four-byte line offsets) reads the same", () => {
  const big = "x".repeat(30_000);
  const text = `Event: Big\r\nA: ${big}\r\nB: ${big}\r\nC: ${big}\r\nChannel: PJSIP/7\r\nBare\r\n\r\n`;
  const d = new Decoder("client");
  const [, m] = d.decode(Buffer.from("Asterisk Call Manager/11.0.0\r\n" + text)) as [Banner, Message];
  assert.ok(m.raw.length >= 1 << 16);
  assert.equal(m.get("channel"), "PJSIP/7");
  assert.equal(m.get("C")?.length, 30_000);
  assert.deepEqual(m.lines().at(-1), { name: undefined, value: "Bare" });
  assert.equal(m.detach().get("Channel"), "PJSIP/7");
});

test("messages are views of the chunk fed; detach() copies", () => {
  const d = new Decoder("client");
  const chunk = new Uint8Array(Buffer.from("Asterisk Call Manager/11.0.0\r\nEvent: A\r\nChannel: one\r\n\r\n"));
  const [, m] = d.decode(chunk) as [Banner, Message];
  const kept = m.detach();
  assert.equal(m.get("Channel"), "one");
  chunk.fill(0x21); // the caller breaks the rule: it writes into a chunk it fed
  assert.notEqual(m.get("Channel"), "one");
  assert.equal(kept.get("Channel"), "one");
});

test("a name with a colon names no header", () => {
  const m = Message.parse("Event: X\r\nA:B: c\r\n\r\n");
  assert.equal(m.get("A"), "B: c");
  assert.equal(m.get("A:B"), undefined);
  assert.equal(m.has("A:B"), false);
});

test("a chunk of many tiny messages (a table larger than the room the decoder reserves) reads the same", () => {
  // 7 bytes a message: 12 table words each, far more than the word per 8 bytes reserved.
  const n = 20_000;
  const wire = Buffer.from("Asterisk Call Manager/11.0.0\r\n" + Array.from({ length: n }, (_, i) => `A:${i % 10}\r\n\r\n`).join(""));
  const whole = new Decoder("client").decode(wire);
  assert.equal(whole.length, n + 1);
  const bytewise: Array<Banner | Message> = [];
  const d = new Decoder("client");
  for (let i = 0; i < wire.length; i += 1000) bytewise.push(...d.decode(wire.subarray(i, i + 1000)));
  assert.deepEqual(whole.map(snap), bytewise.map(snap));
  for (let i = 1; i <= n; i++) assert.equal((whole[i] as Message).get("a"), String((i - 1) % 10));
});

test("short values that share a cache slot read as their own bytes, UTF-8 or not", () => {
  // More distinct values of each length than the value cache has slots (1024), ASCII, UTF-8
  // and not UTF-8, so that many share a slot; each read twice, in two orders.
  const values: Array<[Buffer, string]> = [];
  for (let i = 0; i < 1500; i++) {
    for (const len of [1, 3, 4, 5, 8, 17, 28, 29, 32, 33]) {
      const ascii = `v${i}`.padEnd(len, "x").slice(0, len);
      values.push([Buffer.from(ascii), ascii]);
    }
    if (i % 5 === 0) {
      const utf8 = `é${i}`.padEnd(7, "y"); // 8 bytes
      values.push([Buffer.from(utf8), utf8]);
      const bad = Buffer.from(`z${i}`.padEnd(8, "q"));
      bad[1] = 0xff; // not UTF-8: one U+FFFD for one byte, as long as an ASCII value
      values.push([bad, bad.toString("utf8")]);
    }
  }
  const wire = (order: Array<[Buffer, string]>): Buffer =>
    Buffer.concat(order.flatMap(([v]) => [Buffer.from("Event: V\r\nValue: "), v, Buffer.from("\r\n\r\n")]));
  const d = new Decoder("client");
  d.feed(Buffer.from("Asterisk Call Manager/11.0.0\r\n"));
  [...d];
  for (const order of [values, [...values].reverse(), values]) {
    const items = d.decode(wire(order)) as Message[];
    assert.equal(items.length, order.length);
    items.forEach((m, i) => {
      const [bytes, text] = order[i] as [Buffer, string];
      assert.equal(m.get("Value"), text);
      assert.deepEqual(m.getBuffer("Value"), bytes);
      assert.equal(m.utf8, !bytes.includes(0xff));
    });
  }
});

test("messages stay readable after the decoder has moved on to new table memory", () => {
  const d = new Decoder("client");
  d.feed(Buffer.from("Asterisk Call Manager/11.0.0\r\n"));
  [...d];
  const kept: Message[] = [];
  // About 3 MB of messages in 4 KiB chunks: many times the memory tables are written into.
  const wire = Buffer.from(
    Array.from({ length: 60_000 }, (_, i) => `Event: E${i}\r\nChannel: PJSIP/${i}\r\nUniqueid: ${i}.${i}\r\n\r\n`).join(""),
  );
  for (let i = 0; i < wire.length; i += 4096) {
    d.feed(wire.subarray(i, i + 4096));
    for (const item of d) kept.push(item as Message);
  }
  assert.equal(kept.length, 60_000);
  kept.forEach((m, i) => {
    assert.equal(m.get("Event"), `E${i}`);
    assert.equal(m.get("channel"), `PJSIP/${i}`);
    assert.equal(m.get("Uniqueid"), `${i}.${i}`);
  });
});

test("a message larger than the room reserved for its chunk comes whole", () => {
  // 5,000 lines completed by a 2-byte chunk: the table needs far more than a chunk that small
  // reserves, and the message (fed in pieces) is copied.
  const lines = Array.from({ length: 5000 }, (_, i) => `H${i}: v${i}\r\n`).join("");
  const wire = Buffer.from(`Asterisk Call Manager/11.0.0\r\nEvent: Big\r\n${lines}`);
  const d = new Decoder("client");
  for (let i = 0; i < wire.length; i += 3000) d.feed(wire.subarray(i, i + 3000));
  assert.equal([...d].length, 1, "the banner");
  const [m] = d.decode(Buffer.from("\r\n")) as [Message];
  assert.equal(m.get("Event"), "Big");
  assert.equal(m.lines().length, 5001);
  assert.equal(m.get("H4999"), "v4999");
  assert.equal(m.get("h0"), "v0");
  // Its bytes are a copy: feeding them to a decoder again reads the same message.
  const again = new Decoder("client").decode(Buffer.concat([Buffer.from("Asterisk Call Manager/11.0.0\r\n"), m.raw]));
  assert.equal((again[1] as Message).get("H2500"), "v2500");
});

test("the bytes of a copied message can be fed to a decoder again", () => {
  const d = new Decoder("client");
  d.feed(Buffer.from("Asterisk Call Manager/11.0.0\r\nEvent: A\r\nX: 1"));
  [...d];
  const [m] = d.decode(Buffer.from("2\r\n\r\n")) as [Message]; // in two chunks: copied
  const d2 = new Decoder("client");
  d2.feed(Buffer.from("Asterisk Call Manager/11.0.0\r\n"));
  [...d2];
  const [again] = d2.decode(m.raw) as [Message];
  assert.equal(again.get("X"), "12");
  assert.ok(again.raw.equals(m.raw));
});
