'use strict';
/**
 * Events/s decoding the same AMI bytes with libami and with the parsers of the npm AMI clients
 * `yana` and `asterisk-manager` (their own code paths, fed the same chunks), in one process.
 *
 * Usage: node bench/decode.js CORPUS [--rounds N] [--runs N]
 *
 * Every side reads `Event` and `Channel` from every event:
 * - libami: `Decoder` fed 64 KiB chunks, items read with `for...of` and `get`.
 * - yana: its `LineSocket` 'data' handler (string split on CRLF) and `AMI._processMessage`
 *   (a regex per line, an object per message), on an unconnected socket fed the same chunks.
 * - asterisk-manager: its `ManagerReader` (split, shift, an object per message, lower-cased
 *   keys) and `ManagerEvent` ('managerevent', emitted on the next tick), on a stand-in
 *   connection fed the same chunks.
 *
 * Each side runs in its own process (so that no side pays for another's garbage, and each is
 * measured in the steady state of a long-running program): five warm-up rounds, then
 * `--rounds` timed rounds (default 5); the sides take turns, `--runs` times (default 5). Time is
 * the process's CPU time (user + system), so that other jobs on a busy machine count as little
 * as possible. The result is min / median / max events/s per side over every round; the ratio
 * of each run's medians (the sides of one run ran back to back, under the same load of the
 * machine), min / median / max over the runs; and the ratio of the best rounds.
 */
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const libami = require(path.join(__dirname, '..', 'dist', 'index.js'));

const CHUNK = 64 * 1024;

function chunks(data) {
  const out = [];
  for (let i = 0; i < data.length; i += CHUNK) out.push(data.subarray(i, i + CHUNK));
  return out;
}

async function runLibami(parts) {
  const decoder = new libami.Decoder('client');
  let events = 0;
  let sink;
  for (const part of parts) {
    decoder.feed(part);
    for (const item of decoder) {
      if (item.kind === 'event') {
        sink = [item.get('Event'), item.get('Channel')];
        events++;
      }
    }
  }
  return [events, sink];
}

async function runYana(parts) {
  const AMI = require('yana');
  const LineSocket = require('yana/line-socket');
  const ami = new AMI({ reconnect: false });
  ami.socket = new LineSocket();
  ami._setupMessageBuffering();
  let events = 0;
  let sink;
  ami.on('event', (ev) => {
    sink = [ev.Event, ev.Channel];
    events++;
  });
  for (const part of parts) ami.socket.emit('data', part);
  ami.socket.destroy();
  return [events, sink];
}

async function runAsteriskManager(parts) {
  const Manager = require('asterisk-manager');
  // A stand-in connection: the library's own reader is attached to it by `connect`.
  const { EventEmitter } = require('node:events');
  const fake = new EventEmitter();
  fake.readyState = 'open';
  fake.setKeepAlive = () => fake;
  fake.setNoDelay = () => fake;
  fake.setEncoding = () => fake;
  const real = net.createConnection;
  net.createConnection = () => fake;
  const ami = new Manager();
  try {
    ami.connect(5038, 'localhost');
  } finally {
    net.createConnection = real;
  }
  let events = 0;
  let sink;
  ami.on('managerevent', (ev) => {
    sink = [ev.event, ev.channel];
    events++;
  });
  for (const part of parts) fake.emit('data', part);
  // Its events are emitted on the next tick.
  await new Promise((resolve) => setImmediate(resolve));
  return [events, sink];
}

function cpuSeconds() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

const SIDES = {
  libami: runLibami,
  yana: runYana,
  'asterisk-manager': runAsteriskManager,
};

/** In a child process: warm up, then time `rounds` rounds of one side; prints JSON. */
async function child(side, parts, rounds) {
  const fn = SIDES[side];
  for (let w = 0; w < 5; w++) await fn(parts);
  const rates = [];
  let count = 0;
  for (let r = 0; r < rounds; r++) {
    const start = cpuSeconds();
    [count] = await fn(parts);
    rates.push(count / (cpuSeconds() - start));
  }
  process.stdout.write(JSON.stringify({ count, rates }));
}

function stats(rates) {
  const s = [...rates].sort((a, b) => a - b);
  return { min: s[0], median: s[Math.floor(s.length / 2)], max: s[s.length - 1] };
}

const fmt = (n) => Math.round(n).toLocaleString('en-US').padStart(12);

async function main() {
  const args = process.argv.slice(2);
  const corpus = args.find((a) => !a.startsWith('--') && !(a in SIDES));
  const option = (name, fallback) => {
    const at = args.indexOf(name);
    return at >= 0 ? args[at + 1] : fallback;
  };
  const rounds = Number(option('--rounds', 5));
  const runs = Number(option('--runs', 5));
  if (!corpus) {
    console.error('usage: node bench/decode.js CORPUS [--rounds N] [--runs N]');
    return 2;
  }
  const data = fs.readFileSync(corpus);
  const parts = chunks(data);
  const side = option('--side', undefined);
  if (side !== undefined) {
    await child(side, parts, rounds);
    return 0;
  }
  const { execFileSync } = require('node:child_process');
  const names = Object.keys(SIDES);
  const rates = new Map(names.map((n) => [n, []]));
  // Per run, each side's median: a run's sides ran one after the other, under the same load.
  const runMedians = new Map(names.map((n) => [n, []]));
  const counts = new Map();
  for (let run = 0; run < runs; run++) {
    for (const name of names) {
      const out = execFileSync(process.execPath, [__filename, corpus, '--side', name, '--rounds', String(rounds)], {
        encoding: 'utf8',
        maxBuffer: 1 << 20,
      });
      const r = JSON.parse(out);
      counts.set(name, r.count);
      rates.get(name).push(...r.rates);
      runMedians.get(name).push(stats(r.rates).median);
    }
  }
  const reference = counts.get('libami');
  for (const [name, count] of counts) {
    if (count !== reference) console.log(`note: ${name} counted ${count} events, libami ${reference}`);
  }
  console.log(
    `corpus: ${data.length} bytes, ${reference} events; ${runs} runs x ${rounds} rounds per side, ` +
      `each side in its own process, turn by turn (CPU time); Node ${process.version}`,
  );
  console.log(`${'side'.padEnd(18)}${'min'.padStart(12)}${'median'.padStart(12)}${'max'.padStart(12)}  events/s`);
  const med = new Map();
  for (const name of names) {
    const s = stats(rates.get(name));
    med.set(name, s);
    console.log(`${name.padEnd(18)}${fmt(s.min)}${fmt(s.median)}${fmt(s.max)}`);
  }
  const l = med.get('libami');
  for (const name of names.slice(1)) {
    const o = med.get(name);
    const perRun = stats(runMedians.get('libami').map((v, i) => v / runMedians.get(name)[i]));
    console.log(
      `libami / ${name}: ${perRun.median.toFixed(1)}x median of the runs' ratios ` +
        `(min ${perRun.min.toFixed(1)}x, max ${perRun.max.toFixed(1)}x); best round against best round ` +
        `${(l.max / o.max).toFixed(1)}x`,
    );
  }
  return 0;
}

main().then((code) => process.exit(code), (e) => {
  console.error(e);
  process.exit(1);
});
