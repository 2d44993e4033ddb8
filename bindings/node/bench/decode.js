'use strict';
/**
 * Events/s decoding the same AMI bytes with libami and with the parsers of the npm AMI clients
 * `yana` and `asterisk-manager` (their own code paths, fed the same chunks), in one process.
 *
 * Usage: node bench/decode.js CORPUS [--rounds N]
 *
 * Every side reads `Event` and `Channel` from every event:
 * - libami: `Decoder` fed 64 KiB chunks, items read with `for...of` and `get`.
 * - yana: its `LineSocket` 'data' handler (string split on CRLF) and `AMI._processMessage`
 *   (a regex per line, an object per message), on an unconnected socket fed the same chunks.
 * - asterisk-manager: its `ManagerReader` (split, shift, an object per message, lower-cased
 *   keys) and `ManagerEvent` ('managerevent', emitted on the next tick), on a stand-in
 *   connection fed the same chunks.
 *
 * The sides run in turns, `--rounds` times each (default 7), after one warm-up round each.
 * Time is the process's CPU time (user + system), so that other jobs on a busy machine count
 * as little as possible. The result is min / median / max events/s per side, and the ratios of
 * the medians.
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

async function timed(fn, parts) {
  const start = cpuSeconds();
  const [count] = await fn(parts);
  return [count, cpuSeconds() - start];
}

function stats(rates) {
  const s = [...rates].sort((a, b) => a - b);
  return { min: s[0], median: s[Math.floor(s.length / 2)], max: s[s.length - 1] };
}

const fmt = (n) => Math.round(n).toLocaleString('en-US').padStart(12);

async function main() {
  const args = process.argv.slice(2);
  const corpus = args.find((a) => !a.startsWith('--'));
  const roundsAt = args.indexOf('--rounds');
  const rounds = roundsAt >= 0 ? Number(args[roundsAt + 1]) : 7;
  if (!corpus) {
    console.error('usage: node bench/decode.js CORPUS [--rounds N]');
    return 2;
  }
  const data = fs.readFileSync(corpus);
  const parts = chunks(data);
  const sides = [
    ['libami', runLibami],
    ['yana', runYana],
    ['asterisk-manager', runAsteriskManager],
  ];
  const results = new Map(sides.map(([name]) => [name, []]));
  const counts = new Map();
  for (const [, fn] of sides) await fn(parts); // warm-up
  for (let r = 0; r < rounds; r++) {
    for (const [name, fn] of sides) {
      global.gc?.();
      const [count, secs] = await timed(fn, parts);
      counts.set(name, count);
      results.get(name).push(count / secs);
    }
  }
  const reference = counts.get('libami');
  for (const [name, count] of counts) {
    if (count !== reference) console.log(`note: ${name} counted ${count} events, libami ${reference}`);
  }
  console.log(`corpus: ${data.length} bytes, ${reference} events, ${rounds} rounds per side (CPU time), Node ${process.version}`);
  console.log(`${'side'.padEnd(18)}${'min'.padStart(12)}${'median'.padStart(12)}${'max'.padStart(12)}  events/s`);
  const med = new Map();
  for (const [name] of sides) {
    const s = stats(results.get(name));
    med.set(name, s.median);
    console.log(`${name.padEnd(18)}${fmt(s.min)}${fmt(s.median)}${fmt(s.max)}`);
  }
  for (const [name] of sides.slice(1)) {
    const r = results.get(name);
    const l = results.get('libami');
    const ratios = l.map((v, i) => v / r[i]);
    const s = stats(ratios);
    console.log(`libami / ${name}: ${s.median.toFixed(1)}x median (min ${s.min.toFixed(1)}x, max ${s.max.toFixed(1)}x, per round)`);
  }
  return 0;
}

main().then((code) => process.exit(code), (e) => {
  console.error(e);
  process.exit(1);
});
