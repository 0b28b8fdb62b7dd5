// Shared by the hostile-client suites: the compiled-in limits read from
// config/ (so the tests follow the headers), a raw client that speaks
// verbose NATS, and the monitoring checks that every pool is back to idle.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { startServer, rawConnect, waitFor, kindOf } from "../../interop/lib/harness.mjs";

const CONFIG_DIR = fileURLToPath(new URL("../../../config/", import.meta.url));

// Every `#define NAME value` of a header (continuation lines joined).
function defines(file) {
  const text = readFileSync(file, "utf8").replace(/\\\n/g, " ");
  const out = {};
  for (const m of text.matchAll(/^\s*#define\s+(NE_\w+)\s+(.+?)\s*$/gm)) out[m[1]] = m[2];
  return out;
}

// The numeric value of a knob for a profile ("default" or a file name in
// config/profiles/): the profile's define, else the default's, with the
// knobs it names expanded. Only plain arithmetic is evaluated.
export function knob(name, profile = "default") {
  const all = { ...defines(CONFIG_DIR + "ne_config_default.h") };
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

// The limits a profile's broker runs with. With nats-server the harness
// passes test-small's max_payload in a config file (SMALL_CONFIG).
export function limitsOf(profile) {
  const header = profile === "small" ? "test-small" : "default";
  return {
    controlLine: knob("NE_MAX_CONTROL_LINE_BYTES", header), // max_control_line's default too
    maxPayload: knob("NE_MAX_PAYLOAD_BYTES", header),
    subText: knob("NE_SUB_TEXT_BYTES", header),
    outLine: knob("NE_MAX_OUT_LINE_BYTES", header),
  };
}

// n bytes of subject: tokens of at most 40 characters of `c`, dot-separated
// (a SUB subject must keep its tokens under NE_TOKEN_BYTES).
export function subjectOf(n, c = "s") {
  let s = "";
  while (s.length < n) {
    const room = n - s.length - (s.length > 0 ? 1 : 0);
    if (room <= 0) {
      s += c; // a dot would end the subject on an empty token
      continue;
    }
    s += (s.length > 0 ? "." : "") + c.repeat(Math.min(40, room));
  }
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
