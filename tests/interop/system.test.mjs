// The system account's requests: $SYS.REQ.SERVER.PING[.<NAME>] and
// $SYS.REQ.SERVER.<id>.<NAME>, answered in nats-server's envelopes, run
// against natsedge and nats-server with the same assertions (inventory PR-01,
// MON-08; the envelopes probed on nats-server 2.9.10).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { startServer, stopAll, freePort } from "./lib/harness.mjs";

const CONFIG = `
server_name: edge1
accounts {
  A: { users: [ { user: a, password: a } ] }
  SYS: { users: [ { user: sys, password: sys } ] }
}
system_account: SYS
`;

let server;
let sys;
let serverId;
before(async () => {
  server = await startServer({ config: CONFIG, args: ["-m", String(await freePort())] });
  sys = await connect({ servers: server.url, user: "sys", pass: "sys", reconnect: false });
  serverId = sys.info.server_id;
});
after(async () => {
  if (sys && !sys.isClosed()) await sys.close();
  await stopAll();
});

async function ask(subject, body = "") {
  const m = await sys.request(subject, body, { timeout: 3000 });
  return JSON.parse(m.string());
}

// Every response starts with the server object (PR-01).
function checkServer(s) {
  assert.equal(s.name, "edge1");
  assert.equal(s.id, serverId);
  assert.equal(typeof s.ver, "string");
  assert.equal(typeof s.seq, "number");
  assert.equal(s.jetstream, false);
  assert.ok(!Number.isNaN(Date.parse(s.time)), `time ${s.time}`);
}

test("$SYS.REQ.SERVER.PING answers with server and statsz (PR-01)", async () => {
  const a = await connect({ servers: server.url, user: "a", pass: "a", reconnect: false });
  await a.flush();
  const r = await ask("$SYS.REQ.SERVER.PING");
  checkServer(r.server);
  assert.deepEqual(Object.keys(r).sort(), ["server", "statsz"]);
  const st = r.statsz;
  for (const k of ["start", "mem", "cores", "cpu", "connections", "total_connections",
                   "active_accounts", "subscriptions", "slow_consumers", "active_servers"]) {
    assert.ok(k in st, `statsz.${k}`);
  }
  assert.equal(st.connections, 2, "the system user and the account user");
  assert.equal(st.active_accounts, 2);
  assert.equal(st.active_servers, 1);
  assert.deepEqual(Object.keys(st.sent).sort(), ["bytes", "msgs"]);
  assert.deepEqual(Object.keys(st.received).sort(), ["bytes", "msgs"]);
  await a.close();
});

test("PING.STATSZ and <id>.STATSZ answer the same shape; seq grows (PR-01, MON-08)", async () => {
  const a = await ask("$SYS.REQ.SERVER.PING.STATSZ");
  const b = await ask(`$SYS.REQ.SERVER.${serverId}.STATSZ`);
  checkServer(a.server);
  checkServer(b.server);
  assert.ok("statsz" in a && "statsz" in b);
  assert.ok(b.server.seq > a.server.seq, `seq ${a.server.seq} then ${b.server.seq}`);
});

test("VARZ, SUBSZ, HEALTHZ, CONNZ come as data with the monitoring documents' fields (MON-08)", async () => {
  const v = await ask("$SYS.REQ.SERVER.PING.VARZ");
  checkServer(v.server);
  assert.equal(v.data.server_id, serverId);
  assert.equal(v.data.server_name, "edge1");
  assert.equal(v.data.port, server.port);
  const s = await ask(`$SYS.REQ.SERVER.${serverId}.SUBSZ`);
  assert.equal(typeof s.data.num_subscriptions, "number");
  const h = await ask("$SYS.REQ.SERVER.PING.HEALTHZ");
  assert.deepEqual(h.data, { status: "ok" });
  const c = await ask("$SYS.REQ.SERVER.PING.CONNZ");
  assert.equal(c.data.server_id, serverId);
  assert.equal(c.data.num_connections, 1);
  assert.equal(c.data.connections[0].subscriptions >= 1, true);
});

test("CONNZ takes nats-server's options in the request body: subscriptions, limit (MON-08)", async () => {
  const a = await connect({ servers: server.url, user: "a", pass: "a", reconnect: false });
  a.subscribe("one.topic");
  await a.flush();
  const c = await ask("$SYS.REQ.SERVER.PING.CONNZ", JSON.stringify({ subscriptions: true, limit: 1, sort: "cid" }));
  assert.equal(c.data.limit, 1);
  assert.equal(c.data.num_connections, 1);
  assert.equal(c.data.total, 2);
  const all = await ask("$SYS.REQ.SERVER.PING.CONNZ", JSON.stringify({ subscriptions: true }));
  const mine = all.data.connections.find((x) => x.subscriptions_list?.includes("one.topic"));
  assert.ok(mine, JSON.stringify(all.data.connections));
  await a.close();
});

test("a malformed request body gets an error object with code 400 (MON-08)", async () => {
  const r = await ask("$SYS.REQ.SERVER.PING.CONNZ", "{bad");
  checkServer(r.server);
  assert.equal(r.error.code, 400);
  assert.equal(typeof r.error.description, "string");
  assert.ok(!("data" in r));
});

test("an unknown request name has no responder: 503 to the requester (MON-08)", async () => {
  await assert.rejects(sys.request("$SYS.REQ.SERVER.PING.NOSUCHZ", "", { timeout: 2000 }),
    (e) => /503|no responders/i.test(String(e.code ?? "") + " " + e.message));
});

test("an account user cannot reach the system account's requests (no responders) (MON-08)", async () => {
  const a = await connect({ servers: server.url, user: "a", pass: "a", reconnect: false });
  await assert.rejects(a.request("$SYS.REQ.SERVER.PING", "", { timeout: 2000 }),
    (e) => /503|no responders/i.test(String(e.code ?? "") + " " + e.message));
  await a.close();
});
