// Hostile route peers: raw TCP peers on the cluster port of the broker under
// test, at each limit a route has and one past it (docs/cluster.md,
// "Limits"; differences.md, "Clusters (routes)"). Every case runs against the
// broker under test; in the parity pass that is nats-server 2.9.10, and the
// cases that test a bound nats-server does not have say natsedge-only and
// skip themselves there. After each case a client of the broker must still
// publish and receive: a route's trouble is never its clients'.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, stopAll, rawConnect, getJSON, waitFor, brokerKind } from "../interop/lib/harness.mjs";
import { knob } from "./lib/limits.mjs";

const isNatsedge = brokerKind() === "natsedge";
const NATSEDGE_ONLY = !isNatsedge && "natsedge-only: nats-server 2.9.10 has no such bound";
const NATS_SERVER = process.env.NATS_SERVER_BIN || "/usr/sbin/nats-server";

after(async () => {
  await stopAll();
});

// The broker under test with a cluster listener (small: the small-pool build).
// nats-server 2.9.10 says it is ready once its client port listens and opens
// the route port after: the cases start once it logged that port listening
// (natsedge logs the same line, before it is ready).
async function broker({ small = false, config = null } = {}) {
  const s = await startServer({
    small,
    ports: ["cluster", "http"],
    config,
    args: (p) => ["-n", "target", "-m", String(p.http), "--cluster", `nats://127.0.0.1:${p.cluster}`, "--cluster_name", "C1"],
  });
  await waitFor(() => /Listening for route connections/.test(s.logs()), 5000, "the route listener");
  return s;
}

// A raw route peer that completed the handshake (its INFO sent and the
// broker's interest and PING read).
let peers = 0;
async function peer(s, { id = `NPEER${++peers}`, headers = true } = {}) {
  const p = await rawConnect(s.ports.cluster);
  const info = JSON.parse(/^INFO\s+(\{.*\})/.exec(await p.readUntil("\r\n", 5000))[1]);
  await p.send(`CONNECT ${JSON.stringify({ echo: true, verbose: false, pedantic: false, name: id, cluster: "C1", headers })}\r\n`);
  await p.send(`INFO ${JSON.stringify({ server_id: id, server_name: id, cluster: "C1", host: "127.0.0.1", port: 1, headers })}\r\n`);
  await p.readUntil(/(^|\n)PING\r\n/, 5000); // the line, not a subject ending in PING
  return { p, info, id };
}

async function pong(p) {
  await p.send("PING\r\n");
  return p.readUntil("PONG\r\n", 5000);
}

// A client of the broker still has its messages.
async function clientsStillWork(s) {
  const c = await rawConnect(s.port);
  await c.readUntil("\r\n", 5000);
  await c.send('CONNECT {"verbose":false}\r\nSUB still.ok 1\r\nPUB still.ok 2\r\nok\r\n');
  await c.readUntil("MSG still.ok 1 2\r\nok\r\n", 5000);
  c.destroy();
}

const natsedgeRoutes = async (s) => (await getJSON(s.ports.http, "/varz?natsedge=1")).natsedge_routes;

test("natsedge-only (bounded peer interest, NE_ROUTE_MAX_REMOTE_SUBS): a peer announcing more interest than its share closes its route, which is tried again; clients keep working", { skip: NATSEDGE_ONLY }, async () => {
  const share = knob("NE_MAX_SUBSCRIPTIONS", "test-small") / 2;
  const s = await broker({ small: true });
  const { p } = await peer(s);
  let lines = "";
  for (let i = 0; i <= share; i++) lines += `RS+ $G flood.${i}\r\n`;
  await p.send(lines);
  assert.match(await p.readUntil("\r\n", 5000), /^-ERR 'maximum subscriptions exceeded'\r\n$/);
  assert.ok(await p.closedWithin(5000));
  assert.equal((await natsedgeRoutes(s)).interest_exhausted, 1);
  await clientsStillWork(s);
  // A nats-server node it solicits brings its system account's interest,
  // more than the small build's share: the route is closed and tried again,
  // by the broker (its backoff), while clients keep working.
  const ref = await startServer({ bin: NATS_SERVER, ports: ["cluster"], args: (q) => ["--cluster", `nats://127.0.0.1:${q.cluster}`, "--cluster_name", "C1"] });
  const solicitor = await startServer({
    small: true,
    ports: ["cluster", "http"],
    args: (q) => ["-m", String(q.http), "--cluster", `nats://127.0.0.1:${q.cluster}`, "--cluster_name", "C1", "--routes", `nats://127.0.0.1:${ref.ports.cluster}`],
  });
  await waitFor(async () => (await natsedgeRoutes(solicitor)).interest_exhausted >= 2, 15000, "the route closed and tried again");
  await clientsStillWork(solicitor);
  await solicitor.stop();
  await ref.stop();
  await s.stop();
});

test("natsedge-only (the route pool, NE_MAX_ROUTES): a route beyond it is closed at once, the others and the clients keep working", { skip: NATSEDGE_ONLY }, async () => {
  const pool = knob("NE_MAX_ROUTES", "test-small");
  const s = await broker({ small: true });
  const held = [];
  for (let i = 0; i < pool; i++) held.push(await peer(s));
  const extra = await rawConnect(s.ports.cluster);
  assert.ok(await extra.closedWithin(5000));
  assert.equal(extra.received(), "");
  assert.ok((await natsedgeRoutes(s)).links_refused >= 1);
  for (const h of held) await pong(h.p);
  await clientsStillWork(s);
  await s.stop();
});

test("natsedge-only (max_payload on routes): an RMSG larger than max_payload closes the route with -ERR 'Maximum Payload Violation'", { skip: NATSEDGE_ONLY }, async () => {
  const s = await broker({ small: true });
  const max = knob("NE_MAX_PAYLOAD_BYTES", "test-small");
  const { p } = await peer(s);
  await p.send(`RMSG $G big ${max + 1}\r\n`);
  assert.equal(await p.readUntil("\r\n", 5000), "-ERR 'Maximum Payload Violation'\r\n");
  assert.ok(await p.closedWithin(5000));
  await clientsStillWork(s);
  await s.stop();
});

test("natsedge-only (max_control_line on routes): a control line beyond it closes the route", { skip: NATSEDGE_ONLY }, async () => {
  const s = await broker();
  const { p } = await peer(s);
  const line = knob("NE_MAX_CONTROL_LINE_BYTES");
  await p.send(`RS+ $G ${"a".repeat(line + 10)}\r\n`);
  assert.equal(await p.readUntil("\r\n", 5000), "-ERR 'maximum control line exceeded'\r\n");
  assert.ok(await p.closedWithin(5000));
  await clientsStillWork(s);
  await s.stop();
});

test("natsedge-only (route handshake deadline, NE_ROUTE_HANDSHAKE_TIMEOUT_MS): a peer that never sends CONNECT is closed", { skip: NATSEDGE_ONLY }, async () => {
  const s = await broker();
  const p = await rawConnect(s.ports.cluster);
  await p.readUntil("\r\n", 5000);
  assert.ok(await p.closedWithin(knob("NE_ROUTE_HANDSHAKE_TIMEOUT_MS") + 3000));
  await clientsStillWork(s);
  await s.stop();
});

test("natsedge-only (a slow route is cut like a slow client): a peer that stops reading is closed when max_pending is reached; clients keep working", { skip: NATSEDGE_ONLY }, async () => {
  const s = await broker({ small: true });
  const { p } = await peer(s);
  await p.send("RS+ $G slow.>\r\n");
  await pong(p);
  p.socket.pause(); // reads no more
  const c = await rawConnect(s.port);
  await c.readUntil("\r\n", 5000);
  await c.send('CONNECT {"verbose":false}\r\n');
  const chunk = `PUB slow.x 8000\r\n${"x".repeat(8000)}\r\n`.repeat(8);
  await waitFor(async () => {
    await c.send(chunk);
    const v = await getJSON(s.ports.http, "/varz");
    return v.routes === 0;
  }, 20000, "the slow route closed");
  c.destroy();
  p.destroy();
  await clientsStillWork(s);
  await s.stop();
});

test("garbage on a route gets -ERR 'Unknown Protocol Operation' and closes it", async () => {
  const s = await broker();
  const { p } = await peer(s);
  await p.send("\x00\x01garbage\r\n");
  assert.equal(await p.readUntil("\r\n", 5000), "-ERR 'Unknown Protocol Operation'\r\n");
  assert.ok(await p.closedWithin(5000));
  await clientsStillWork(s);
  await s.stop();
});

test("a client's MSG on a route gets -ERR 'Unknown Protocol Operation' (CP-05)", async () => {
  const s = await broker();
  const { p } = await peer(s);
  await p.send("MSG foo 1 2\r\nhi\r\n");
  assert.equal(await p.readUntil("\r\n", 5000), "-ERR 'Unknown Protocol Operation'\r\n");
  assert.ok(await p.closedWithin(5000));
  await s.stop();
});

test("malformed CONNECT or INFO JSON on a route closes it without a word", async () => {
  const s = await broker();
  const a = await rawConnect(s.ports.cluster);
  await a.readUntil("\r\n", 5000);
  await a.send("CONNECT {bad json\r\n");
  assert.ok(await a.closedWithin(5000));
  const b = await rawConnect(s.ports.cluster);
  await b.readUntil("\r\n", 5000);
  await b.send('CONNECT {"name":"NBAD","cluster":"C1"}\r\nINFO {bad json\r\n');
  assert.ok(await b.closedWithin(5000));
  assert.doesNotMatch(a.received() + b.received(), /-ERR/);
  await clientsStillWork(s);
  await s.stop();
});

test("RS+ of an invalid subject gets -ERR 'Invalid Subscription' and the route stays", async () => {
  const s = await broker();
  const { p } = await peer(s);
  await p.send("RS+ $G foo..bar\r\n");
  assert.equal(await p.readUntil("\r\n", 5000), "-ERR 'Invalid Subscription'\r\n");
  await pong(p);
  await s.stop();
});

test("RS+ with the wrong number of arguments closes the route without -ERR", async () => {
  const s = await broker();
  const { p } = await peer(s);
  await p.send("RS+ $G\r\n");
  assert.ok(await p.closedWithin(5000));
  assert.doesNotMatch(p.received(), /-ERR/);
  await s.stop();
});

test("RS+ and RMSG naming an account the node has not are ignored; the route stays; a large queue weight is taken", async () => {
  const s = await broker();
  const { p } = await peer(s);
  await p.send("RS+ NOACC foo\r\nRMSG NOACC foo 2\r\nhi\r\nRS+ $G w q 999999\r\n");
  await pong(p);
  // The weighted member gets messages published here.
  const c = await rawConnect(s.port);
  await c.readUntil("\r\n", 5000);
  await c.send('CONNECT {"verbose":false}\r\nPUB w 1\r\nx\r\nPING\r\n');
  await c.readUntil("PONG\r\n", 5000);
  await p.readUntil("RMSG $G w | q 1\r\nx\r\n", 5000);
  c.destroy();
  await s.stop();
});

test("a route to the node itself (its own server_id) is closed", async () => {
  const s = await broker();
  const p = await rawConnect(s.ports.cluster);
  const info = JSON.parse(/^INFO\s+(\{.*\})/.exec(await p.readUntil("\r\n", 5000))[1]);
  await p.send(`CONNECT ${JSON.stringify({ name: info.server_id, cluster: "C1" })}\r\n`);
  await p.send(`INFO ${JSON.stringify({ server_id: info.server_id, server_name: "me", cluster: "C1", host: "127.0.0.1", port: 1 })}\r\n`);
  assert.ok(await p.closedWithin(5000));
  assert.equal((await getJSON(s.ports.http, "/routez")).num_routes, 0);
  await s.stop();
});
