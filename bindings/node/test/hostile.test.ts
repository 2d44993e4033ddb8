/** The client against scripted hostile or broken servers on loopback. */
import assert from "node:assert/strict";
import { test } from "node:test";

import { AmiTimeoutError, ConnectionLost, NotAnAmiServer, ResponseTooLarge, connect } from "../dist/index.js";
import { Scripted, loggedIn, sleep } from "./helpers";

test("an endless list is capped and memory stays bounded", async () => {
  const server = await Scripted.start((socket) => {
    loggedIn(socket, (id) => {
      socket.write(`Response: Success\r\nActionID: ${id}\r\nEventList: start\r\nMessage: Channels will follow\r\n\r\n`);
      const item = Buffer.from(`Event: CoreShowChannel\r\nActionID: ${id}\r\nChannel: PJSIP/1\r\nPad: ${"x".repeat(900)}\r\n\r\n`);
      const chunk = Buffer.concat(Array.from({ length: 100 }, () => item));
      let sent = 0;
      const pump = (): void => {
        while (sent < 200 << 20 && !socket.destroyed) {
          sent += chunk.length;
          if (!socket.write(chunk)) {
            socket.once("drain", pump);
            return;
          }
        }
      };
      pump();
    });
  });
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  try {
    const ami = await connect({ port: server.port, username: "u", secret: "s", auth: "plain", reconnect: false, maxListBytes: 8 << 20 });
    try {
      await assert.rejects(ami.actionList("CoreShowChannels"), (e: unknown) => {
        assert.ok(e instanceof ResponseTooLarge, String(e));
        assert.equal(e.limit, "bytes");
        assert.ok(e.size > 8 << 20);
        assert.match(e.message, /too large/);
        return true;
      });
    } finally {
      await ami.close();
    }
  } finally {
    clearInterval(sampler);
    await server.close();
  }
  // The cap is 8 MiB of messages; the server had up to 200 MiB to send.
  const grew = (peak - before) / (1 << 20);
  assert.ok(grew < 150, `peak RSS grew by ${grew.toFixed(0)} MiB`);
});

test("a list past the item cap fails with the items limit", async () => {
  const server = await Scripted.start((socket) => {
    loggedIn(socket, (id) => {
      let out = `Response: Success\r\nActionID: ${id}\r\nEventList: start\r\n\r\n`;
      for (let i = 0; i < 50; i++) out += `Event: Item\r\nActionID: ${id}\r\nN: ${i}\r\n\r\n`;
      out += `Event: ItemsComplete\r\nActionID: ${id}\r\nEventList: Complete\r\nListItems: 50\r\n\r\n`;
      socket.write(out);
    });
  });
  try {
    const ami = await connect({ port: server.port, username: "u", secret: "s", auth: "plain", reconnect: false, maxListItems: 10 });
    try {
      await assert.rejects(ami.actionList("Items"), (e: unknown) => e instanceof ResponseTooLarge && e.limit === "items" && e.items === 11);
      // The rest of the list was read and dropped: the connection still works.
      assert.ok(ami.connected);
    } finally {
      await ami.close();
    }
  } finally {
    await server.close();
  }
});

test("a greeting that is not AMI fails at once, with what was received", async () => {
  const http = await Scripted.start((socket) => socket.write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"));
  const tlsLike = await Scripted.start((socket) => socket.write(Buffer.from([0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x50])));
  try {
    const started = performance.now();
    await assert.rejects(connect({ port: http.port, username: "u", secret: "s", reconnect: false, connectTimeout: 8000 }), (e: unknown) => {
      return e instanceof NotAnAmiServer && /is not an AMI server/.test(e.message) && /HTTP server/.test(e.message) && e.received.toString().startsWith("HTTP/1.1 400");
    });
    await assert.rejects(connect({ port: tlsLike.port, username: "u", secret: "s", reconnect: false, connectTimeout: 8000 }), (e: unknown) => {
      return e instanceof NotAnAmiServer && /TLS record/.test(e.message);
    });
    assert.ok(performance.now() - started < 4000, "at once, not after the connect timeout");
  } finally {
    await http.close();
    await tlsLike.close();
  }
});

test("a silent peer: the connect timeout says what was awaited", async () => {
  const silent = await Scripted.start(() => {});
  try {
    await assert.rejects(connect({ port: silent.port, username: "u", secret: "s", reconnect: false, connectTimeout: 300 }), (e: unknown) => {
      return e instanceof AmiTimeoutError && /greeting/.test(e.message) && e.message.includes(`127.0.0.1:${silent.port}`);
    });
  } finally {
    await silent.close();
  }
});

test("a server that goes silent is noticed while an action waits, and the client reconnects", async () => {
  const mute = await Scripted.start((socket) => loggedIn(socket));
  try {
    const ami = await connect({ port: mute.port, username: "u", secret: "s", auth: "plain", keepalive: 300, keepaliveTimeout: 300, backoff: { initial: 50, max: 100 } });
    try {
      const started = performance.now();
      await assert.rejects(ami.action("Getvar", { Variable: "X" }, { timeout: 60_000 }), ConnectionLost);
      assert.ok(performance.now() - started < 5000, "the keepalive, not the action's 60 s");
      await ami.waitConnected(10_000);
      assert.ok(ami.connections >= 2);
    } finally {
      await ami.close();
    }
  } finally {
    await mute.close();
  }
});

test("consecutive timeouts declare the server dead", async () => {
  const deaf = await Scripted.start((socket) => loggedIn(socket));
  try {
    const ami = await connect({ port: deaf.port, username: "u", secret: "s", auth: "plain", keepalive: null, maxConsecutiveTimeouts: 2, backoff: { initial: 50, max: 100 } });
    try {
      await assert.rejects(ami.action("Ping", undefined, { timeout: 100 }), AmiTimeoutError);
      await assert.rejects(ami.action("Ping", undefined, { timeout: 100 }), AmiTimeoutError);
      await ami.waitConnected(5000);
      assert.ok(ami.connections >= 2, "dropped and made again");
    } finally {
      await ami.close();
    }
  } finally {
    await deaf.close();
  }
});

test("a flapping server is not hammered", async () => {
  const flap = await Scripted.start((socket) => loggedIn(socket, () => {}));
  // Drop every connection right after its login.
  flap.server.on("connection", (socket) => setTimeout(() => socket.destroy(), 20));
  try {
    const ami = await connect({ port: flap.port, username: "u", secret: "s", auth: "plain", backoff: { initial: 50, max: 400 } });
    await sleep(2000);
    await ami.close();
    // Waits of at least 25, 50, 100, 200, then 200 ms: at most about 13 connections in 2 s (a
    // reset after every login would allow about 40).
    assert.ok(flap.connections >= 3 && flap.connections <= 13, String(flap.connections));
  } finally {
    await flap.close();
  }
});
