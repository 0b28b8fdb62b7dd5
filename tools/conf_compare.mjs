#!/usr/bin/env node
// Configuration-file comparison with nats-server: generates configuration
// files from a fixed seed, runs `nats-server -t -c FILE` and `natsedge -t -c
// FILE` on each, and compares what they say: accepted or refused, and where
// both name the line of the error, that line.
//
//   node tools/conf_compare.mjs --natsedge build/default/natsedge
//        [--nats-server /usr/sbin/nats-server] [--count 4800] [--seed 1]
//        [--jobs 2] [--show 20] [--keep DIR]
//
// The files use nats-server's syntax in its variety (separators `:`, `=` and
// white space, trailing `;` and `,`, comments, quoted, single-quoted and bare
// strings, sizes with suffixes, durations, booleans in every spelling, maps,
// arrays, quoted keys, a map around the whole file, variables, includes,
// CRLF line ends) over keys both brokers take, with values inside natsedge's
// compiled-in maxima. A third of them are then damaged (a byte deleted or
// inserted, the file cut short, a line repeated) so that both refuse them for
// many reasons.
//
// Keys natsedge takes that 2.9.10 refuses are left out of the generated
// files: jetstream's sync_interval (alias sync), nats-server 2.10's key
// (differences.md, "Configuration file parsing").
//
// Every disagreement must fall in one of the classes below, each a
// difference differences.md lists ("Configuration file parsing"); any other
// one is printed with both outputs and the tool exits 1. Exit 0 prints the
// counts per class.
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const opts = { natsedge: null, natsServer: "/usr/sbin/nats-server", count: 4800, seed: 1, jobs: 2, show: 20, keep: null };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  const v = process.argv[++i];
  if (a === "--natsedge") opts.natsedge = v;
  else if (a === "--nats-server") opts.natsServer = v;
  else if (a === "--count") opts.count = Number(v);
  else if (a === "--seed") opts.seed = Number(v);
  else if (a === "--jobs") opts.jobs = Number(v);
  else if (a === "--show") opts.show = Number(v);
  else if (a === "--keep") opts.keep = v;
  else {
    console.error(`conf_compare: unknown argument ${a}`);
    process.exit(2);
  }
}
if (!opts.natsedge || !(opts.count > 0)) {
  console.error("usage: conf_compare.mjs --natsedge BIN [--nats-server BIN] [--count N] [--seed S] [--jobs J]");
  process.exit(2);
}

// xorshift32: the same files for the same seed on every machine.
function rng(seed) {
  let x = seed >>> 0 || 0x9e3779b9;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  const r = {
    int: (n) => next() % n,
    pick: (arr) => arr[next() % arr.length],
    chance: (p) => next() / 4294967296 < p,
  };
  return r;
}

// ---- generation --------------------------------------------------------------

const SEPARATORS = [": ", ":", " = ", "=", " ", "\t", " : "];
const BOOLS = ["true", "false", "yes", "no", "on", "off", "TRUE", "False", "On"];

function str(r, text) {
  switch (r.int(4)) {
    case 0:
      return `"${text}"`;
    case 1:
      return `'${text}'`;
    case 2:
      return `"${text.replace(/-/g, "\\u002d")}"`;
    default:
      return text; // bare
  }
}

function size(r, bytes) {
  // `bytes` is a multiple of 1024.
  const forms = [String(bytes), `${bytes / 1024}kb`, `${bytes / 1024}KB`, `${bytes / 1024}Ki`, `${bytes / 1024}KiB`];
  if (bytes % (1024 * 1024) === 0) forms.push(`${bytes / 1048576}MB`, `${bytes / 1048576}mib`, `${bytes / 1048576}M` + "i");
  if (bytes % 1000 === 0) forms.push(`${bytes / 1000}k`, `${bytes / 1000}K`);
  return r.pick(forms);
}

const duration = (r) => r.pick(['"2m"', '"30s"', '"1m30s"', '"90s"', "'45s'", '"1h"', '"2m0s"']);
const word = (r) => r.pick(["edge-1", "gateway_7", "cell.3", "plc-north", "n1"]);

// One top-level entry: [key, value text]; `vars` holds defined variables.
function entry(r, vars, depth) {
  const sep = r.pick(SEPARATORS);
  const k = (name) => (r.chance(0.15) ? `"${name}"` : r.chance(0.1) ? name.toUpperCase() : name);
  switch (r.int(14)) {
    case 0:
      return `${k("server_name")}${sep}${str(r, word(r))}`;
    case 1:
      return `${k("max_payload")}${sep}${size(r, r.pick([1024, 4096, 65536, 262144, 1048576]))}`;
    case 2:
      return `${k("max_pending")}${sep}${size(r, r.pick([1048576, 2097152, 4194304]))}`;
    case 3:
      return `${k(r.pick(["max_connections", "max_conn"]))}${sep}${r.pick([1, 8, 100, 256])}`;
    case 4:
      return `${k("ping_interval")}${sep}${duration(r)}`;
    case 5:
      return `${k("ping_max")}${sep}${r.pick([1, 2, 5])}`;
    case 6:
      return `${k(r.pick(["debug", "trace", "logtime"]))}${sep}${r.pick(BOOLS)}`;
    case 7:
      return `${k("write_deadline")}${sep}${duration(r)}`;
    case 8:
      return `${k("max_control_line")}${sep}${r.pick([1024, 2048, 4096, "4KB", "2kb"])}`;
    case 9:
      if (depth > 0) return `${k("ping_max")}${sep}3`;
      return `${k("authorization")}${r.pick([" ", sep])}${authorization(r)}`;
    case 10:
      if (depth > 0) return `${k("debug")}${sep}false`;
      return `${k("accounts")}${r.pick([" ", sep])}${accounts(r)}`;
    case 11: {
      // A variable, used once (nats-server calls an unused one an unknown field).
      const name = `V${vars.length}${r.pick(["", "_X", "b"])}`;
      const [key, value] = r.pick([
        ["ping_max", String(r.pick([2, 4]))],
        ["max_payload", size(r, 65536)],
        ["server_name", str(r, word(r))],
        ["debug", r.pick(BOOLS)],
      ]);
      vars.push(name);
      return `${name}${r.pick(SEPARATORS)}${value}\n${k(key)}${sep}$${name}`;
    }
    case 12:
      return `${k("no_header_support")}${sep}${r.pick(BOOLS)}`;
    default:
      return `${k("lame_duck_duration")}${sep}${r.pick(['"30s"', '"2m"', '"1m"'])}`;
  }
}

function user(r) {
  const u = `u${r.int(100)}`;
  const sep = r.pick(SEPARATORS);
  const fields = [`user${sep}${str(r, u)}`, `password${r.pick(SEPARATORS)}${str(r, `p${r.int(1000)}`)}`];
  if (r.chance(0.3)) {
    fields.push(`permissions${r.pick([" ", ": "])}{ publish${r.pick(SEPARATORS)}${r.pick(['"a.>"', '["a.>", "b.*"]', "[ x.y\n z ]"])} }`);
  }
  return `{ ${fields.join(r.pick([", ", "\n", "; ", " "]))} }`;
}

function authorization(r) {
  const inner = r.chance(0.3)
    ? `token${r.pick(SEPARATORS)}${str(r, `t0k3n${r.int(9)}`)}`
    : `users${r.pick(SEPARATORS)}[\n  ${Array.from({ length: 1 + r.int(3) }, () => user(r)).join(r.pick([",\n  ", "\n  ", ", "]))}\n]`;
  const timeout = r.chance(0.3) ? `${r.pick(["\n", "; ", ", "])}timeout${r.pick(SEPARATORS)}${r.pick([1, 2, 2.5])}` : "";
  return `{\n  ${inner}${timeout}\n}`;
}

function accounts(r) {
  const names = ["A", "B", "C"].slice(0, 1 + r.int(3));
  const body = names
    .map((n, i) => `  ${n}${r.pick([": ", " ", " = "])}{ users${r.pick(SEPARATORS)}[ { user${r.pick(SEPARATORS)}acc${n}${i}, password: x } ] }`)
    .join(r.pick(["\n", ",\n", ";\n"]));
  return `{\n${body}\n}`;
}

function comment(r) {
  return r.pick(["# a comment", "// another", "#", "# key: value inside a comment", "//{ not a map"]);
}

// A whole file: [text, include text or null].
function generate(r) {
  const vars = [];
  const lines = [];
  const n = 1 + r.int(6);
  let include = null;
  for (let i = 0; i < n; i++) {
    if (r.chance(0.15)) lines.push(comment(r));
    if (r.chance(0.1)) lines.push("");
    let e = entry(r, vars, 0);
    if (r.chance(0.2)) e += r.pick([";", ",", " ;", "\t"]);
    if (r.chance(0.15)) e += ` ${r.pick(["# trailing", "// trailing"])}`;
    lines.push(r.chance(0.1) ? `  ${e}` : e);
  }
  if (r.chance(0.1)) {
    include = `${entry(r, [], 1)}\n`;
    lines.splice(r.int(lines.length + 1), 0, r.pick(["include ./inc.conf", 'include "inc.conf"', "include inc.conf"]));
  }
  let text = lines.join("\n") + (r.chance(0.85) ? "\n" : "");
  if (r.chance(0.08)) text = `{\n${text}}\n`;
  if (r.chance(0.08)) text = text.replace(/\n/g, "\r\n");
  return [text, include];
}

// Damages a file: a byte deleted or inserted, the file cut short, a line
// repeated.
function damage(r, text) {
  const at = r.int(text.length + 1);
  switch (r.int(4)) {
    case 0:
      return text.slice(0, at) + text.slice(at + 1);
    case 1:
      return text.slice(0, at) + r.pick(["{", "}", "[", "]", ":", "=", '"', "'", "#", "$", ",", ";", "\n", "x", "1", " "]) + text.slice(at);
    case 2:
      return text.slice(0, at);
    default: {
      const lines = text.split("\n");
      const i = r.int(lines.length);
      lines.splice(i, 0, lines[i]);
      return lines.join("\n");
    }
  }
}

// ---- running -----------------------------------------------------------------

function run(bin, file) {
  return new Promise((resolve) => {
    const child = spawn(bin, ["-t", "-c", file], { stdio: ["ignore", "pipe", "pipe"], env: { PATH: process.env.PATH } });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const t = setTimeout(() => child.kill("SIGKILL"), 10000);
    child.once("close", (code, signal) => {
      clearTimeout(t);
      resolve({ code: signal ? `signal ${signal}` : code, out: out.trim() });
    });
  });
}

// The lines an error output names: natsedge `file:L:C: msg` (one per
// refused key, then the first wrong value);
// nats-server the same for its checks (every one it found, one per line),
// `Parse error on line L: ...` for the parser's.
function errorLines(out) {
  return [...out.matchAll(/\.conf:(\d+):\d+:|Parse error on line (\d+)/g)].map((m) => Number(m[1] ?? m[2]));
}

// ---- the known differences (differences.md, "Configuration file parsing") -----

// Top-level keys that differ only in case (nats-server keeps both, natsedge
// the last one).
function caseTwins(text) {
  const keys = [...text.matchAll(/^[{\s]*"?([A-Za-z_][A-Za-z0-9_]*)"?\s*[:= \t{]/gm)].map((m) => m[1]);
  const seen = new Map();
  for (const k of keys) {
    const low = k.toLowerCase();
    if (seen.has(low) && seen.get(low) !== k) return true;
    seen.set(low, k);
  }
  return false;
}

const refuses = (c, re) => c.ref.code === 1 && re.test(c.ref.out);
const edgeRefuses = (c, re) => c.edge.code === 1 && re.test(c.edge.out);

const CLASSES = [
  {
    name: "size suffix nats-server ignores (natsedge refuses an unknown suffix)",
    match: (c) => c.ref.code === 0 && edgeRefuses(c, /expected a size suffix/),
  },
  {
    name: "key with no value (natsedge refuses it where the value should be; nats-server drops it or reports what follows)",
    match: (c) => edgeRefuses(c, /expected a value for "[^"]*"/),
  },
  {
    name: "string or key opened at the last byte (natsedge refuses, nats-server takes it)",
    match: (c) => c.ref.code === 0 && edgeRefuses(c, /to end the (string|key) started here/),
  },
  {
    name: "unterminated construct: natsedge names where it opened, nats-server the end of the file",
    match: (c) =>
      c.edge.code === 1 && c.ref.code === 1 && c.edgeLine !== null && c.refLine !== null && c.edgeLine < c.refLine &&
      /(EOF|end of file)/i.test(c.ref.out + c.edge.out),
  },
  {
    name: "a zero duration (natsedge refuses, nats-server takes its default)",
    match: (c) => c.ref.code === 0 && edgeRefuses(c, /duration out of range/) && /"0s"|'0s'|: ?0\b/.test(c.text),
  },
  {
    name: "keys that differ only in case (natsedge keeps the last, nats-server both)",
    match: (c) => caseTwins(c.text),
  },
  {
    name: "a second top-level '}': natsedge names it (or what follows it), nats-server an earlier line",
    match: (c) =>
      c.ref.code === 1 && edgeRefuses(c, /expected the end of the file after the closing '\}'/) &&
      c.refLine !== null && c.edgeLine > c.refLine,
  },
  {
    name: "a lone '/' after a value (nats-server reads a comment, natsedge refuses)",
    match: (c) => c.ref.code === 0 && edgeRefuses(c, /after the value of "[^"]*", found '\/'/),
  },
  {
    name: "a limit above natsedge's compiled-in maximum (refused by natsedge, naming the knob)",
    match: (c) => c.ref.code === 0 && edgeRefuses(c, /above the compiled-in maximum/),
  },
  {
    name: "a max_control_line under 32 (natsedge refuses: no command fits)",
    match: (c) => c.ref.code === 0 && edgeRefuses(c, /max_control_line \d+ is too small/),
  },
  {
    name: "max_pending below the default max_payload (natsedge refuses; nats-server checks only a max_payload set in the file)",
    match: (c) => c.ref.code === 0 && edgeRefuses(c, /max_payload \(\d+\) cannot be higher than max_pending/) && !/max_payload/i.test(c.text),
  },
  {
    name: "a quoted key across lines: nats-server names the line where it ends, natsedge where it starts",
    match: (c) =>
      c.ref.code === 1 && c.edge.code === 1 && c.edgeLine !== null && c.refLine > c.edgeLine &&
      /unknown field "[^"]*\n/.test(c.ref.out.replace(/\\n/g, "\n")),
  },
  {
    name: "same reason, another position: nats-server names the enclosing key (duplicate user, token or single user with users; its map order picks which)",
    match: (c) =>
      (refuses(c, /Duplicate user/) && edgeRefuses(c, /Duplicate user/)) ||
      (refuses(c, /Can not have a (token|single user\/pass) and/) && edgeRefuses(c, /Can not have a (token|single user\/pass) and/)),
  },
];

// ---- main ----------------------------------------------------------------------

const dir = opts.keep ?? mkdtempSync(join(tmpdir(), "conf-compare-"));
if (opts.keep) mkdirSync(dir, { recursive: true });
const r = rng(opts.seed);
const cases = [];
for (let i = 0; i < opts.count; i++) {
  let [text, include] = generate(r);
  const damaged = r.chance(1 / 3);
  if (damaged) text = damage(r, text);
  cases.push({ i, text, include, damaged });
}

const counts = { agree_accept: 0, agree_refuse_same_line: 0, agree_refuse_one_without_line: 0 };
const classCounts = Object.fromEntries(CLASSES.map((c) => [c.name, 0]));
const unexplained = [];

async function check(c) {
  const sub = join(dir, String(c.i));
  mkdirSync(sub, { recursive: true });
  const file = join(sub, "t.conf");
  writeFileSync(file, c.text);
  if (c.include !== null) writeFileSync(join(sub, "inc.conf"), c.include);
  c.ref = await run(opts.natsServer, file);
  c.edge = await run(opts.natsedge, file);
  c.refLines = errorLines(c.ref.out);
  c.refLine = c.refLines[0] ?? null;
  c.edgeLine = errorLines(c.edge.out)[0] ?? null;
  if (c.ref.code === 0 && c.edge.code === 0) {
    counts.agree_accept++;
  } else if (c.ref.code === 1 && c.edge.code === 1 && c.edgeLine !== null && c.refLines.includes(c.edgeLine)) {
    // Both list what they found (natsedge every refused key, then the
    // first wrong value): the first line of natsedge's is among
    // nats-server's.
    counts.agree_refuse_same_line++;
  } else if (c.ref.code === 1 && c.edge.code === 1 && (c.refLine === null || c.edgeLine === null)) {
    counts.agree_refuse_one_without_line++;
  } else {
    const cls = CLASSES.find((k) => k.match(c));
    if (cls) classCounts[cls.name]++;
    else unexplained.push(c);
  }
  if (!opts.keep) rmSync(sub, { recursive: true, force: true });
}

let next = 0;
await Promise.all(
  Array.from({ length: Math.max(1, opts.jobs) }, async () => {
    while (next < cases.length) await check(cases[next++]);
  }),
);
if (!opts.keep) rmSync(dir, { recursive: true, force: true });

const damagedCount = cases.filter((c) => c.damaged).length;
console.log(`conf_compare: ${cases.length} files (seed ${opts.seed}, ${damagedCount} damaged)`);
for (const [k, v] of Object.entries(counts)) console.log(`  ${v.toString().padStart(5)}  ${k.replace(/_/g, " ")}`);
for (const [k, v] of Object.entries(classCounts)) console.log(`  ${v.toString().padStart(5)}  known difference: ${k}`);
if (unexplained.length > 0) {
  console.log(`  ${unexplained.length.toString().padStart(5)}  UNEXPLAINED`);
  for (const c of unexplained.slice(0, opts.show)) {
    console.log(`\n--- file ${c.i}${c.damaged ? " (damaged)" : ""}:\n${c.text}\n--- nats-server (exit ${c.ref.code}): ${c.ref.out}\n--- natsedge (exit ${c.edge.code}): ${c.edge.out}`);
  }
  process.exit(1);
}
