/**
 * What the tests share: where the Asterisk 22 captures are, a scripted TCP server for hostile
 * peers, the `ami mock` binary, and the live Asterisk (a thin wrapper around the repository's
 * tests/live/asterisk.sh, as bindings/python/tests/conftest.py is).
 */
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

/** The repository root (tests run from bindings/node/dist-test). */
export const REPO = path.resolve(__dirname, "../../..");

/** The Asterisk 22 captures: $LIBAMI_CAPTURES, or their place in the source tree. */
export const CAPTURES = process.env.LIBAMI_CAPTURES ?? path.join(REPO, "crates/ami-proto/tests/data/asterisk-22");

/** Every `name` file (`server_to_client.bin`, `client_to_server.bin`) of the captures. */
export function captureFiles(name: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const d of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, d.name);
      if (d.isDirectory()) walk(p);
      else if (d.name === name) out.push(p);
    }
  };
  walk(CAPTURES);
  return out.sort();
}

/** A deterministic pseudo-random generator (mulberry32), so that a failing split can be replayed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `data` cut in random pieces of 1 to 97 bytes. */
export function randomChunks(data: Buffer, seed: number): Buffer[] {
  const next = rng(seed);
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; ) {
    const n = 1 + Math.floor(next() * 97);
    out.push(data.subarray(i, i + n));
    i += n;
  }
  return out;
}

export const MANAGER_CONF = `[general]
enabled = yes

[admin]
secret = admin123
read = all
write = all

[caller]
secret = caller123
read = call
write = call,reporting

[reporter]
secret = reporter123
read = reporting,system
write = reporting
`;

/** A TCP server whose every connection runs `script` (for hostile or broken servers). */
export class Scripted {
  readonly server: net.Server;
  connections = 0;
  readonly sockets = new Set<net.Socket>();

  private constructor(script: (socket: net.Socket) => void) {
    this.server = net.createServer((socket) => {
      this.connections++;
      this.sockets.add(socket);
      socket.on("error", () => socket.destroy());
      socket.on("close", () => this.sockets.delete(socket));
      script(socket);
    });
  }

  static async start(script: (socket: net.Socket) => void): Promise<Scripted> {
    const s = new Scripted(script);
    await new Promise<void>((resolve) => s.server.listen(0, "127.0.0.1", resolve));
    return s;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Reads whole messages (up to their blank line) from a socket, calling `onMessage` with each one's ActionID. */
export function onActions(socket: net.Socket, onMessage: (actionId: string | undefined, text: string) => void): void {
  let buf = "";
  socket.on("data", (d: Buffer) => {
    buf += d.toString("latin1");
    for (let end = buf.indexOf("\r\n\r\n"); end >= 0; end = buf.indexOf("\r\n\r\n")) {
      const text = buf.slice(0, end);
      buf = buf.slice(end + 4);
      const id = /^ActionID: (.*)$/m.exec(text)?.[1];
      onMessage(id, text);
    }
  });
}

/** The banner, then `Authentication accepted` for the first message; `then` runs for each later one. */
export function loggedIn(socket: net.Socket, then: (actionId: string | undefined, text: string) => void = () => {}): void {
  socket.write("Asterisk Call Manager/11.0.0\r\n");
  let first = true;
  onActions(socket, (id, text) => {
    if (first) {
      first = false;
      socket.write(`Response: Success\r\nActionID: ${id}\r\nMessage: Authentication accepted\r\n\r\n`);
    } else {
      then(id, text);
    }
  });
}

/** The `ami` tool: $LIBAMI_AMI_BIN, or the workspace's build. */
export function amiBinary(): string {
  const candidates = [
    process.env.LIBAMI_AMI_BIN,
    path.join(REPO, "target/release/ami"),
    path.join(REPO, "target/debug/ami"),
  ].filter((p): p is string => p !== undefined);
  const found = candidates.find((p) => fs.existsSync(p));
  if (found === undefined) {
    throw new Error(`the ami tool is not built (looked at ${candidates.join(", ")}): cargo build -p ami-cli`);
  }
  return found;
}

/** `ami mock` on a free loopback port, stopped by its PID. */
export class Mock {
  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
  ) {}

  static async start(...args: string[]): Promise<Mock> {
    const child = spawn(amiBinary(), ["mock", "--listen", "127.0.0.1:0", "-q", ...args], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const port = await new Promise<number>((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error(`ami mock said nothing in 10 s: ${out}`)), 10_000);
      child.stdout?.on("data", (d: Buffer) => {
        out += d.toString();
        const m = /127\.0\.0\.1:(\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      child.once("exit", (code) => reject(new Error(`ami mock exited (${code}): ${out}`)));
    });
    return new Mock(child, port);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const gone = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.kill("SIGTERM");
    await gone;
  }
}

/** The live harness: $LIBAMI_LIVE_HARNESS, or the repository's tests/live/asterisk.sh. */
const LIVE_HARNESS = process.env.LIBAMI_LIVE_HARNESS ?? path.join(REPO, "tests/live/asterisk.sh");

/** A private real Asterisk 22 on loopback (the conformance users and dialplan). Nothing is skipped: without Asterisk the start fails, saying why. */
export class LiveAsterisk {
  readonly host = "127.0.0.1";
  readonly dir: string;
  readonly port: number;
  pid: number;

  constructor() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "ami-node-"));
    const [port, pid] = this.harness("start", path.join(this.dir, "ast")).trim().split(/\s+/);
    this.port = Number(port);
    this.pid = Number(pid);
  }

  harness(...args: string[]): string {
    try {
      return execFileSync("bash", [LIVE_HARNESS, ...args], {
        encoding: "utf8",
        env: { ...process.env, LIBAMI_OWNER_PID: String(process.pid) },
        timeout: 120_000,
        stdio: ["ignore", "pipe", "pipe"],
      });
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`${LIVE_HARNESS} ${args.join(" ")} failed: ${err.stderr ?? err.message}`);
    }
  }

  /** Its manager.conf (the editor's live test changes it, then `manager reload`). */
  get managerConf(): string {
    return path.join(this.dir, "ast", "etc", "manager.conf");
  }

  /** Runs an Asterisk CLI command in this instance. */
  cli(command: string): string {
    return this.harness("cli", path.join(this.dir, "ast"), command);
  }

  /** Stops it and starts it again on the same port (connections are cut). */
  restart(): void {
    const [, pid] = this.harness("restart", path.join(this.dir, "ast")).trim().split(/\s+/);
    this.pid = Number(pid);
  }

  logTail(lines = 60): string {
    try {
      return this.harness("log", path.join(this.dir, "ast"), String(lines));
    } catch (e) {
      return (e as Error).message;
    }
  }

  /** Stops it (printing its log tail first if the tests failed). */
  stop(failed: boolean): void {
    if (failed) console.log(`---- the live Asterisk (port ${this.port}), its log tail:\n${this.logTail()}`);
    this.harness("stop", path.join(this.dir, "ast"));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
