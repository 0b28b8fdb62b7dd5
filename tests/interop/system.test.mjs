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

// The cloud side: a nats-server hub whose system user queries the edge box
// (the broker under test, as a leaf whose remote is bound to its system
// account) by the edge's server id, over the leaf link (MON-08, LN-05).
test("over a leaf link bound to the system account, the hub's system user queries the edge by id (MON-08)", async () => {
  const leafPort = await freePort();
  const hub = await startServer({
    bin: process.env.NATS_SERVER_BIN || "/usr/sbin/nats-server",
    config: `server_name: cloud
accounts {
  SYS: { users: [ { user: sys, password: sys }, { user: edge, password: edge } ] }
}
system_account: SYS
leafnodes { listen: 127.0.0.1:${leafPort} }
`,
  });
  const edge = await startServer({
    config: `server_name: edgebox
accounts { SYS: { users: [ { user: esys, password: esys } ] } }
system_account: SYS
leafnodes { remotes: [ { url: "nats-leaf://edge:edge@127.0.0.1:${leafPort}", account: SYS } ], reconnect: 1 }
`,
  });
  const local = await connect({ servers: edge.url, user: "esys", pass: "esys", reconnect: false });
  const edgeId = local.info.server_id;
  await local.close();
  const op = await connect({ servers: hub.url, user: "sys", pass: "sys", reconnect: false });
  try {
    // Until the edge's interest has crossed the link, the hub has no responder.
    let answer;
    for (let i = 0; i < 100 && answer === undefined; i++) {
      try {
        answer = JSON.parse((await op.request(`$SYS.REQ.SERVER.${edgeId}.VARZ`, "", { timeout: 1000 })).string());
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.ok(answer, "the edge answered over the leaf link");
    assert.equal(answer.server.id, edgeId);
    assert.equal(answer.server.name, "edgebox");
    assert.equal(answer.data.server_name, "edgebox");
    const statsz = JSON.parse((await op.request(`$SYS.REQ.SERVER.${edgeId}.STATSZ`, "", { timeout: 2000 })).string());
    assert.equal(statsz.server.id, edgeId);
    assert.ok("statsz" in statsz);
  } finally {
    await op.close();
    await edge.stop();
    await hub.stop();
  }
});
