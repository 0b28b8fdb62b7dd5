// JetStream and KV from C, with Debian's nats.c (libnats-dev): js_Publish,
// pull and push subscriptions, kvStore_* (inventory section 4, issue 16),
// against the broker binary started with -js (NATSEDGE_BIN;
// /usr/sbin/nats-server for the reference run).
//
// The programs come from tests/interop/c: `make interop` builds them into
// NATSEDGE_INTEROP_C (sanitized on the ASan run). Without that variable this
// file builds them itself into tests/interop/c/build. Each case runs as its own
// process: `natsc_js <url> <case>`; it must exit 0 within the time limit.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startJs } from "./lib/js.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const SRC_DIR = join(HERE, "c");
const CASE_TIMEOUT_MS = 60000; // the program's own watchdog fires at 90 s; this is tighter
const BUILD_TIMEOUT_MS = 120000;

// Runs a command with a time limit (SIGKILL when it runs over) and returns
// { code, signal, out, timedOut }; stdout and stderr are interleaved in `out`.
function run(cmd, args, { timeoutMs, cwd } = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let timedOut = false;
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const t = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.once("error", (e) => {
      clearTimeout(t);
      resolve({ code: -1, signal: null, out: `${out}\nspawn error: ${e.message}`, timedOut });
    });
    child.once("close", (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal, out, timedOut });
    });
  });
}

function describe(r) {
  if (r.timedOut) return "killed after the time limit";
  return r.signal ? `signal ${r.signal}` : `exit ${r.code}`;
}

// The directory holding the built programs, building them when needed.
async function programDir() {
  if (process.env.NATSEDGE_INTEROP_C) return process.env.NATSEDGE_INTEROP_C;
  const dir = join(SRC_DIR, "build");
  const r = await run("make", ["-s", "-C", SRC_DIR, `BUILD=${dir}`], { timeoutMs: BUILD_TIMEOUT_MS });
  if (r.code !== 0) throw new Error(`building the nats.c programs failed (${describe(r)}):\n${r.out}`);
  return dir;
}

// Case names come from the program itself, so the two cannot drift apart.
let prog = null;
let cases = [];
let setupError = null;
try {
  prog = join(await programDir(), "natsc_js");
  if (!existsSync(prog)) throw new Error(`${prog} is missing (is NATSEDGE_INTEROP_C right?)`);
  const r = await run(prog, ["--list"], { timeoutMs: 10000 });
  if (r.code !== 0) throw new Error(`${prog} --list: ${describe(r)}\n${r.out}`);
  cases = r.out.split("\n").map((s) => s.trim()).filter(Boolean);
  if (cases.length === 0) throw new Error(`${prog} --list printed no cases`);
} catch (e) {
  setupError = e;
}

let server;

before(async () => {
  if (!setupError) server = await startJs();
});

after(async () => {
  if (server) await server.stop();
});

if (setupError) {
  test("nats.c programs are built", () => {
    throw setupError;
  });
}

for (const name of cases) {
  test(`nats.c JetStream: ${name}`, async () => {
    const r = await run(prog, [server.url, name], { timeoutMs: CASE_TIMEOUT_MS });
    const logs = server.logs();
    const context =
      `\n--- ${prog} ${server.url} ${name}: ${describe(r)} ---\n${r.out}` +
      `\n--- broker (${server.kind}, pid ${server.pid}) log tail ---\n${logs.slice(-3000)}`;
    assert.ok(server.alive(), `the broker died during the case${context}`);
    assert.ok(r.code === 0 && !r.signal && !r.timedOut, `nats.c case failed${context}`);
    assert.match(r.out, new RegExp(`^ok ${name}$`, "m"), `no "ok ${name}" line${context}`);
  });
}
