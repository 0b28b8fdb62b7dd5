// Shared by the hostile-client suites: the compiled-in limits read from
// config/ (so the tests follow the headers), a raw client that speaks
// verbose NATS, and the monitoring checks that every pool is back to idle.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { startServer, rawConnect, waitFor, kindOf, brokerKind, SMALL_LIMITS, TINY_LIMITS } from "../../interop/lib/harness.mjs";

const CONFIG_DIR = fileURLToPath(new URL("../../../config/", import.meta.url));

// Every `#define NAME value` of a header (continuation lines joined).
function defines(file) {
  const text = readFileSync(file, "utf8").replace(/\\\n/g, " ");
  const out = {};
  for (const m of text.matchAll(/^\s*#define\s+(NE_\w+)\s+(.+?)\s*$/gm)) out[m[1]] = m[2];
  return out;
}

// The numeric value of a knob for a profile ("default" or a file name in
// config/profiles/): the profile's define, else the default's (from
// ne_config_default.h and JetStream's ne_config_js.h), with the knobs it
// names expanded. Only plain arithmetic is evaluated.
export function knob(name, profile = "default") {
  const all = { ...defines(CONFIG_DIR + "ne_config_default.h"), ...defines(CONFIG_DIR + "ne_config_js.h"), ...defines(CONFIG_DIR + "ne_config_mqtt.h") };
  if (profile !== "default") Object.assign(all, defines(`${CONFIG_DIR}profiles/${profile}.h`));
  const expand = (expr, depth) => {
    if (depth > 8) throw new Error(`${name}: definitions nest too deep`);
    return expr.replace(/\bNE_\w+\b/g, (n) => {
      if (!(n in all)) throw new Error(`${n} is not defined in config/`);
      return `(${expand(all[n], depth + 1)})`;
    });
  };
  const expr = expand(all[name] ?? (() => { throw new Error(`${name} is not in config/`); })(), 0);
  if (!/^[0-9+\-*/() ]+$/.test(expr)) throw new Error(`${name} is not plain arithmetic: ${expr}`);
  return Function(`"use strict"; return (${expr});`)();
}

// The profiles the hostile suites run: the default broker (NATSEDGE_BIN),
// the small-limits one (NATSEDGE_SMALL_BIN, config/profiles/test-small.h)
// and the tiny one (NATSEDGE_TINY_BIN, config/profiles/tiny.h: what runs on
// the MCU). In the parity pass each is nats-server with the limits it can be
// configured with (the harness's SMALL_CONFIG and TINY_CONFIG).
export const PROFILES = ["default", "small", "tiny"];

// The header of a profile in config/profiles/ ("default": none).
export function headerOf(profile) {
  return { default: "default", small: "test-small", tiny: "tiny" }[profile] ?? assert.fail(`no profile ${profile}`);
}

// The limits a profile's broker runs with.
export function limitsOf(profile) {
  const header = headerOf(profile);
  return {
    controlLine: knob("NE_MAX_CONTROL_LINE_BYTES", header), // max_control_line too
    maxPayload: knob("NE_MAX_PAYLOAD_BYTES", header),
    subText: knob("NE_SUB_TEXT_BYTES", header),
    outLine: knob("NE_MAX_OUT_LINE_BYTES", header),
    token: knob("NE_TOKEN_BYTES", header),
    tokens: knob("NE_MAX_SUBJECT_TOKENS", header),
    permSubject: knob("NE_PERM_SUBJECT_BYTES", header),
    connections: knob("NE_MAX_CONNECTIONS", header),
  };
}

// The nats-server configurations of the parity pass stand for the headers:
// a knob changed without them fails here, in every hostile suite.
function checkReferenceLimits() {
  const expect = (table, header, knobs) => {
    const want = Object.fromEntries(Object.entries(knobs).map(([k, n]) => [k, knob(n, header)]));
    assert.deepEqual(table, want, `the harness's nats-server limits for ${header} differ from config/profiles/${header}.h`);
  };
  expect(SMALL_LIMITS, "test-small", {
    max_connections: "NE_MAX_CONNECTIONS",
    max_pending: "NE_MAX_PENDING_BYTES",
    max_payload: "NE_MAX_PAYLOAD_BYTES",
    max_subscriptions: "NE_MAX_SUBSCRIPTIONS",
  });
  expect(TINY_LIMITS, "tiny", {
    max_connections: "NE_MAX_CONNECTIONS",
    max_pending: "NE_MAX_PENDING_BYTES",
    max_payload: "NE_MAX_PAYLOAD_BYTES",
    max_control_line: "NE_MAX_CONTROL_LINE_BYTES",
    max_subscriptions: "NE_MAX_SUBSCRIPTIONS_PER_CONN",
  });
}
checkReferenceLimits();

// n bytes of subject: tokens of at most `token` characters of `c` (40
// unless told: under every profile's NE_TOKEN_BYTES but the tiny one's),
// dot-separated, so that a SUB subject keeps its tokens within
// NE_TOKEN_BYTES.
export function subjectOf(n, c = "s", token = 40) {
  let s = "";
  while (s.length < n) {
    const sep = s.length > 0 ? 1 : 0;
    let len = Math.min(token, n - s.length - sep);
    // Never leave one byte: it could only be a dot ending on an empty token.
    if (n - s.length - sep - len === 1) len -= 1;
    s += (sep ? "." : "") + c.repeat(len);
  }
  assert.equal(s.length, n);
  return s;
}

// Removes the server's own PINGs (the first one comes about 2 s after
// CONNECT) so that the rest can be compared byte for byte.
export function stripPings(text) {
  let out = text;
  for (let i = out.indexOf("PING\r\n"); i >= 0; i = out.indexOf("PING\r\n", i)) {
    if (i === 0 || out[i - 1] === "\n") out = out.slice(0, i) + out.slice(i + 6);
    else i += 6;
  }
  return out;
}

// A broker with monitoring (and the further listeners named in `ports`,
// `config` may be a function of them), and what /varz says when it is idle:
// read once /varz has shown the harness's readiness probe gone (a request
// later, so that the probe's teardown, at the end of the loop turn that
// read its close, is behind it too).
export async function startBroker(profile, config = null, ports = []) {
  const server = await startServer({
    small: profile === "small",
    tiny: profile === "tiny",
    ports: ["http", ...ports],
    args: (p) => ["-m", String(p.http)],
    config,
  });
  server.http = server.ports.http;
  server.natsedge = server.kind === "natsedge";
  await waitFor(async () => (await varz(server)).connections === 0, 5000, "the readiness probe gone from /varz");
  server.idle = await varz(server);
  return server;
}

export async function varz(server) {
  const res = await fetch(`http://127.0.0.1:${server.http}/varz?natsedge=1`, {
    signal: AbortSignal.timeout(5000),
  });
  assert.equal(res.status, 200);
  return res.json();
}

// Every pool back to its idle level: no client, no subscription, and for
// natsedge no chunk, reference or trie node in use (natsedge_pools; its
// connection count includes the monitoring request itself).
export async function assertPoolsIdle(server) {
  let last;
  await waitFor(
    async () => {
      last = await varz(server);
      const clientsGone = last.connections === 0 && last.subscriptions === server.idle.subscriptions;
      if (!server.natsedge) return clientsGone;
      // The same as when the broker had just started (then too the /varz
      // request itself held a connection and the chunk its answer is
      // streamed through).
      return clientsGone && JSON.stringify(last.natsedge_pools) === JSON.stringify(server.idle.natsedge_pools);
    },
    10000,
    "pools back to idle",
  ).catch((e) => {
    const seen = { connections: last?.connections, subscriptions: last?.subscriptions, pools: last?.natsedge_pools };
    throw new Error(`${e.message}: ${JSON.stringify(seen)}, idle ${JSON.stringify(server.idle.natsedge_pools)}`);
  });
}

// A raw client that sent CONNECT (verbose unless told otherwise) and read
// its +OK. exchange() sends bytes and a PING and returns what came before
// the PONG; closedWith() waits for the close and returns what came before.
export async function client(server, connect = {}) {
  const c = await rawConnect(server.port);
  await c.readUntil("\r\n"); // INFO
  const opts = { verbose: true, pedantic: false, protocol: 0, headers: true, ...connect };
  await c.send(`CONNECT ${JSON.stringify(opts)}\r\n`);
  if (opts.verbose) assert.equal(stripPings(await c.readUntil("+OK\r\n", 5000)), "+OK\r\n");
  c.exchange = async (bytes, ms = 10000) => {
    await c.send(typeof bytes === "string" ? Buffer.from(bytes + "PING\r\n", "latin1") : Buffer.concat([bytes, Buffer.from("PING\r\n")]));
    const got = stripPings(await c.readUntil("PONG\r\n", ms));
    return got.slice(0, -"PONG\r\n".length);
  };
  c.closedWith = async (bytes, ms = 10000) => {
    if (bytes !== undefined) await c.send(bytes);
    assert.ok(await c.closedWithin(ms), "the server closes the connection");
    return stripPings(await c.readAll(0));
  };
  return c;
}

export { kindOf };

// The skip option of a case that finds a natsedge bug not fixed yet: in the
// natsedge pass it is skipped with `reason` ("todo (bug): ..."), unless
// NATSEDGE_RUN_TODO=1 asks to run it (to see it fail, or pass once fixed);
// in the parity pass it runs.
export function todoOnNatsedge(reason) {
  return brokerKind() === "natsedge" && process.env.NATSEDGE_RUN_TODO !== "1" ? reason : false;
}
