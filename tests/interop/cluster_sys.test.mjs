// The system account's events across a cluster (docs/cluster.md, "System
// events"): a mixed mesh of Debian's nats-server 2.9.10 (NATS_SERVER_BIN)
// and the broker under test (NATSEDGE_BIN), a system user on every node.
// In the parity pass the broker under test is nats-server itself, so every
// assertion holds for both. What a system user sees from a natsedge node
// and from a nats-server node has the same fields of the same types, and
// the values that must agree (active_servers, cluster, the routes' names)
// agree. Inventory: PR-01 (system requests and events).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { startServer, stopAll, getJSON, waitFor } from "./lib/harness.mjs";

const REF = process.env.NATS_SERVER_BIN || "/usr/sbin/nats-server";
const EDGE = process.env.NATSEDGE_BIN;
const WAIT_MS = 40000; // STATSZ comes at most 30 s apart

const config = `accounts {
  A: { users: [ { user: a, password: a } ] }
  SYS: { users: [ { user: sys, password: sys } ] }
}
system_account: SYS
`;

function node(bin, name, routes = []) {
  return startServer({
    bin,
    ports: ["cluster", "http"],
    config,
    args: (p) => [
      "-n", name, "-m", String(p.http),
      "--cluster", `nats://127.0.0.1:${p.cluster}`, "--cluster_name", "C1",
      ...(routes.length > 0 ? ["--routes", routes.map((r) => `nats://127.0.0.1:${r}`).join(",")] : []),
    ],
  });
}

const serverId = async (s) => (await getJSON(s.ports.http, "/varz")).server_id;

// A system user of node s collecting every message on `subject` as JSON.
async function watch(s, subject) {
  const c = await connect({ servers: s.url, user: "sys", pass: "sys", reconnect: false });
  const got = [];
  c.subscribe(subject, { callback: (err, m) => { if (!err) got.push({ subject: m.subject, doc: JSON.parse(m.string()) }); } });
  await c.flush();
  return { c, got };
}

// The names and JSON types of a document, nested (an array by its first item).
function shape(v) {
  if (Array.isArray(v)) return v.length > 0 ? [shape(v[0])] : [];
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, shape(v[k])]));
  }
  return typeof v;
}

after(async () => {
  await stopAll();
});

test("every node's STATSZ reaches every node's system users: same fields, active_servers 3, cluster and routes agree (PR-01)", async () => {
  const r1 = await node(REF, "y-r1");
  const w1 = await watch(r1, "$SYS.SERVER.*.STATSZ");
  const e1 = await node(EDGE, "y-e1", [r1.ports.cluster]);
  const w2 = await watch(e1, "$SYS.SERVER.*.STATSZ");
  const e2 = await node(EDGE, "y-e2", [r1.ports.cluster]);
  const w3 = await watch(e2, "$SYS.SERVER.*.STATSZ");
  const nodes = [r1, e1, e2];
  const names = ["y-r1", "y-e1", "y-e2"];
  const ids = await Promise.all(nodes.map(serverId));
  const full = (w, id) => w.got.find((m) => m.subject === `$SYS.SERVER.${id}.STATSZ` && m.doc.statsz.active_servers === 3);
  for (const w of [w1, w2, w3]) {
    await waitFor(() => ids.every((id) => full(w, id)), WAIT_MS, "a STATSZ with active_servers 3 from every node");
  }
  const reference = shape(full(w1, ids[0]).doc);
  for (const w of [w1, w2, w3]) {
    ids.forEach((id, i) => {
      const { doc } = full(w, id);
      assert.deepEqual(shape(doc), reference, `the STATSZ of ${names[i]} has nats-server's fields and types`);
      assert.equal(doc.server.id, id);
      assert.equal(doc.server.name, names[i]);
      assert.equal(doc.server.cluster, "C1");
      assert.deepEqual(doc.statsz.routes.map((r) => r.name).sort(), names.filter((n) => n !== names[i]).sort());
    });
  }
  for (const w of [w1, w2, w3]) await w.c.close();
  for (const s of nodes) await s.stop();
});

test("a node that shuts down says so ($SYS.SERVER.<id>.SHUTDOWN, the server object) and the others stop counting it (PR-01)", async () => {
  const r1 = await node(REF, "z-r1");
  const e1 = await node(EDGE, "z-e1", [r1.ports.cluster]);
  const e2 = await node(EDGE, "z-e2", [r1.ports.cluster]);
  const nodes = [r1, e1, e2];
  const ids = await Promise.all(nodes.map(serverId));
  const ws = await Promise.all([r1, e1].map((s) => watch(s, "$SYS.SERVER.*.SHUTDOWN")));
  const sys = await connect({ servers: e1.url, user: "sys", pass: "sys", reconnect: false });
  const ping = async (n) => {
    // Every node answers $SYS.REQ.SERVER.PING with its statsz.
    const inbox = sys.subscribe("_INBOX.sys.*");
    const answers = [];
    (async () => { for await (const m of inbox) answers.push(JSON.parse(m.string())); })();
    await sys.flush();
    await waitFor(async () => {
      answers.length = 0;
      sys.publish("$SYS.REQ.SERVER.PING", "", { reply: `_INBOX.sys.${Date.now()}` });
      await new Promise((r) => setTimeout(r, 500));
      return answers.length === n && answers.every((a) => a.statsz.active_servers === n);
    }, WAIT_MS, `${n} nodes each counting ${n}`);
    inbox.unsubscribe();
    return answers;
  };
  await ping(3);
  // A natsedge node stops: both others hear it.
  await e2.stop();
  for (const w of ws) {
    await waitFor(() => w.got.some((m) => m.subject === `$SYS.SERVER.${ids[2]}.SHUTDOWN`), WAIT_MS, "e2's SHUTDOWN");
  }
  const shut = ws[0].got.find((m) => m.subject === `$SYS.SERVER.${ids[2]}.SHUTDOWN`).doc;
  assert.deepEqual(Object.keys(shut).sort(), ["cluster", "host", "id", "jetstream", "name", "seq", "time", "ver"]);
  assert.equal(shut.id, ids[2]);
  assert.equal(shut.name, "z-e2");
  assert.equal(shut.cluster, "C1");
  await ping(2);
  // The nats-server node stops: the natsedge node hears it too.
  await r1.stop();
  await waitFor(() => ws[1].got.some((m) => m.subject === `$SYS.SERVER.${ids[0]}.SHUTDOWN`), WAIT_MS, "r1's SHUTDOWN at e1");
  assert.deepEqual(shape(ws[1].got.find((m) => m.subject === `$SYS.SERVER.${ids[0]}.SHUTDOWN`).doc), shape(shut));
  await ping(1);
  await sys.close();
  for (const w of ws) await w.c.close().catch(() => {});
  await e1.stop();
});

test("a route that comes up sends $G's account_connections on both subjects, with nats-server's fields; clients' ones come every 30 s (PR-01)", async () => {
  const e1 = await node(EDGE, "x-e1");
  const w = await watch(e1, "$SYS.>");
  const id = await serverId(e1);
  const r1 = await node(REF, "x-r1", [e1.ports.cluster]);
  const mine = (subject) => w.got.filter((m) => m.subject === subject && m.doc.server.id === id);
  await waitFor(() => mine("$SYS.ACCOUNT.$G.SERVER.CONNS").length === 1, WAIT_MS, "e1's $G account_connections");
  const old = mine("$SYS.SERVER.ACCOUNT.$G.CONNS");
  assert.equal(old.length, 1, "on the older subject too");
  assert.ok(w.got.indexOf(old[0]) < w.got.indexOf(mine("$SYS.ACCOUNT.$G.SERVER.CONNS")[0]), "the older subject first");
  const doc = old[0].doc;
  assert.deepEqual(Object.keys(doc).sort(), ["acc", "conns", "id", "leafnodes", "received", "sent", "server", "slow_consumers", "timestamp", "total_conns", "type"]);
  assert.equal(doc.type, "io.nats.server.advisory.v1.account_connections");
  assert.equal(doc.acc, "$G");
  assert.equal(doc.conns, 0);
  assert.equal(w.got.filter((m) => /\.(CONNECT|DISCONNECT)$/.test(m.subject) && m.doc.client.acc === "$G").length, 0);
  // A client of A: its account's events, then the same again 30 s later
  // while it stays.
  const a = await connect({ servers: e1.url, user: "a", pass: "a", reconnect: false });
  await waitFor(() => mine("$SYS.ACCOUNT.A.CONNECT").length === 1, WAIT_MS, "A's CONNECT");
  const first = mine("$SYS.ACCOUNT.A.SERVER.CONNS");
  assert.equal(first.length, 1);
  assert.equal(first[0].doc.conns, 1);
  await waitFor(() => mine("$SYS.ACCOUNT.A.SERVER.CONNS").length === 2, WAIT_MS, "A's account_connections 30 s later");
  const gap = Date.parse(mine("$SYS.ACCOUNT.A.SERVER.CONNS")[1].doc.timestamp) - Date.parse(first[0].doc.timestamp);
  assert.ok(gap > 29000 && gap < 31500, `30 s apart (${gap} ms)`);
  assert.equal(mine("$SYS.SERVER.ACCOUNT.A.CONNS").length, 2);
  await a.close();
  await w.c.close();
  await r1.stop();
  await e1.stop();
});
