// Cluster routes (docs/cluster.md): meshes of the broker under test
// (NATSEDGE_BIN) and Debian's nats-server 2.9.10 (NATS_SERVER_BIN). In the
// parity pass the broker under test is nats-server itself, so every test
// here runs against both and asserts the same behaviour. Inventory: CP-11,
// CP-13 (connect_urls), CP-58, CP-59, PR-03 (queue groups), MON-01, MON-04
// (/varz cluster, /routez), CFG-05 (cluster flags); the route protocol's
// facts probed against nats-server are listed in docs/cluster.md.
//
// Synchronisation: interest has crossed when the route shows it in /routez
// ?subs=1; messages on one route are in order, so a marker published after
// a batch on the same route, once received, means the batch has arrived.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { connect, headers } from "@nats-io/transport-node";
import { startServer, stopAll, rawConnect, getJSON, waitFor, within, freePort, brokerKind, isListening } from "./lib/harness.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const REF = process.env.NATS_SERVER_BIN || "/usr/sbin/nats-server";
const EDGE = process.env.NATSEDGE_BIN;
const isNatsedge = brokerKind() === "natsedge";
const ROUTES_MS = 20000;

// One node: its cluster listener and monitoring on free ports, the
// cluster's name, routes to the given cluster ports.
async function node(bin, name, { routes = [], cluster = "C1", args = [], config = null, routeUser = null } = {}) {
  const creds = routeUser ? `${routeUser}@` : "";
  const s = await startServer({
    bin,
    ports: ["cluster", "http"],
    config,
    args: (p) => [
      "-n", name, "-m", String(p.http),
      "--cluster", `nats://127.0.0.1:${p.cluster}`, "--cluster_name", cluster,
      ...(routes.length > 0 ? ["--routes", routes.map((r) => `nats://${creds}127.0.0.1:${r}`).join(",")] : []),
      ...args,
    ],
  });
  // Ready is its client port: nats-server opens its route port after it.
  await waitFor(() => isListening(s.ports.cluster), 5000, `${name}'s route port listening`);
  return s;
}

const routez = (s, q = "") => getJSON(s.ports.http, `/routez${q}`);
const varz = (s) => getJSON(s.ports.http, "/varz");

async function waitRoutes(nodes, n, what = `${n} routes on every node`) {
  await waitFor(async () => {
    for (const s of nodes) {
      if ((await routez(s)).num_routes !== n) return false;
    }
    return true;
  }, ROUTES_MS, what);
}

// `at` holds a route peer's interest in `subject` from each of `from`.
async function waitInterest(at, subject, from) {
  const ids = await Promise.all(from.map(async (s) => (await varz(s)).server_id));
  await waitFor(async () => {
    const z = await routez(at, "?subs=1");
    return ids.every((id) => z.routes.some((r) => r.remote_id === id && (r.subscriptions_list ?? []).includes(subject)));
  }, ROUTES_MS, `interest in ${subject} at ${at.url}`);
}

async function client(s, opts = {}) {
  return connect({ servers: s.url, reconnect: false, ...opts });
}

// Collects a subscription's messages as the client reads them: a callback
// runs in the order the messages arrived on the connection, across its
// subscriptions (async iterators do not), so a marker seen means what came
// before it on the route is in too.
function collect(c, subject, opts = {}) {
  const got = [];
  c.subscribe(subject, { ...opts, callback: (err, m) => { if (!err) got.push(m); } });
  return got;
}

after(async () => {
  await stopAll();
});

// ---- A mixed mesh from one seed ------------------------------------------------

let mesh = null; // { nodes: [R1, E1, E2, R2], ids, clients }

before(async () => {
  const r1 = await node(REF, "r1");
  const seed = [r1.ports.cluster];
  const e1 = await node(EDGE, "e1", { routes: seed });
  const e2 = await node(EDGE, "e2", { routes: seed });
  const r2 = await node(REF, "r2", { routes: seed });
  const nodes = [r1, e1, e2, r2];
  await waitRoutes(nodes, 3, "a full mesh of four from one seed");
  const ids = await Promise.all(nodes.map(async (s) => (await varz(s)).server_id));
  const clients = await Promise.all(nodes.map((s) => client(s)));
  mesh = { nodes, ids, clients };
});

after(async () => {
  if (mesh) await Promise.all(mesh.clients.map((c) => c.close().catch(() => {})));
});

test("two nats-server and two broker nodes given one seed find each other (gossip): a full mesh (MON-04)", async () => {
  for (let i = 0; i < 4; i++) {
    const z = await routez(mesh.nodes[i]);
    assert.equal(z.num_routes, 3);
    const remotes = z.routes.map((r) => r.remote_id).sort();
    assert.deepEqual(remotes, mesh.ids.filter((_, k) => k !== i).sort());
    assert.equal(z.server_id, mesh.ids[i]);
  }
  // The seed was solicited by the others and solicits no one.
  const seed = await routez(mesh.nodes[0]);
  assert.ok(seed.routes.every((r) => r.did_solicit === false));
  const e1 = await routez(mesh.nodes[1]);
  const toSeed = e1.routes.find((r) => r.remote_id === mesh.ids[0]);
  assert.equal(toSeed.did_solicit, true);
  assert.equal(toSeed.is_configured, true);
});

test("clients are told every node's URL in INFO connect_urls (CP-11)", async () => {
  const ports = mesh.nodes.map((s) => `127.0.0.1:${s.port}`).sort();
  for (const s of mesh.nodes) {
    const c = await rawConnect(s.port);
    const info = JSON.parse(/^INFO\s+(\{.*\})\s*\r\n/.exec(await c.readUntil("\r\n", 5000))[1]);
    c.destroy();
    assert.equal(info.cluster, "C1");
    assert.deepEqual([...info.connect_urls].sort(), ports);
  }
});

test("messages cross every pair of nodes once: plain, wildcard and header messages", async () => {
  const n = mesh.nodes.length;
  const subs = [];
  for (let j = 0; j < n; j++) {
    const c = mesh.clients[j];
    subs.push({ exact: collect(c, `pair.to.${j}`), wild: collect(c, `pair.*.${j}`), mark: collect(c, `pair.mark.${j}`) });
    await within(c.flush(), 5000, "flush");
  }
  for (let j = 0; j < n; j++) {
    const others = mesh.nodes.filter((_, k) => k !== j);
    for (const s of others) {
      await waitInterest(s, `pair.*.${j}`, [mesh.nodes[j]]);
      await waitInterest(s, `pair.mark.${j}`, [mesh.nodes[j]]);
    }
  }
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      const h = headers();
      h.set("X-From", String(i));
      mesh.clients[i].publish(`pair.to.${j}`, `from ${i}`, { headers: h });
      mesh.clients[i].publish(`pair.mark.${j}`, String(i));
    }
    await within(mesh.clients[i].flush(), 5000, "flush");
  }
  await waitFor(() => subs.every((s) => s.mark.length === n - 1), 10000, "every marker");
  for (let j = 0; j < n; j++) {
    const exact = subs[j].exact.map((m) => m.string()).sort();
    assert.deepEqual(exact, [...Array(n).keys()].filter((i) => i !== j).map((i) => `from ${i}`).sort());
    for (const m of subs[j].exact) {
      assert.equal(m.headers.get("X-From"), m.string().slice(5));
    }
    // The wildcard subscription matched the same messages and the markers.
    assert.equal(subs[j].wild.length, 2 * (n - 1));
  }
});

test("a queue group with a member on every node: each message reaches exactly one member (CP-58, CP-59)", async () => {
  const n = mesh.nodes.length;
  const members = [];
  const marks = [];
  for (let j = 0; j < n; j++) {
    const c = mesh.clients[j];
    members.push(collect(c, "qg.work", { queue: "workers" }));
    marks.push(collect(c, "qg.mark"));
    await within(c.flush(), 5000, "flush");
  }
  for (let j = 0; j < n; j++) {
    await waitInterest(mesh.nodes[j], "qg.work", mesh.nodes.filter((_, k) => k !== j));
    await waitInterest(mesh.nodes[j], "qg.mark", mesh.nodes.filter((_, k) => k !== j));
  }
  const per = 50;
  for (let i = 0; i < n; i++) {
    for (let m = 0; m < per; m++) mesh.clients[i].publish("qg.work", `${i}:${m}`);
    mesh.clients[i].publish("qg.mark", String(i));
    await within(mesh.clients[i].flush(), 5000, "flush");
  }
  await waitFor(() => marks.every((m) => m.length === n), 10000, "every marker at every node");
  const all = members.flat().map((m) => m.string());
  assert.equal(all.length, n * per);
  assert.equal(new Set(all).size, n * per);
});

test("a node's own member gets about its share of the node's publishes (PR-03: a quarter in a 4-node mesh)", async () => {
  const n = mesh.nodes.length;
  const members = [];
  for (let j = 0; j < n; j++) {
    members.push(collect(mesh.clients[j], "qs.work", { queue: "share" }));
    await within(mesh.clients[j].flush(), 5000, "flush");
  }
  const marks = mesh.clients.map((c) => collect(c, "qs.mark"));
  await Promise.all(mesh.clients.map((c) => within(c.flush(), 5000, "flush")));
  for (const at of [1, 2]) {
    await waitInterest(mesh.nodes[at], "qs.work", mesh.nodes.filter((_, k) => k !== at));
    await waitInterest(mesh.nodes[at], "qs.mark", mesh.nodes.filter((_, k) => k !== at));
  }
  // Publishes from each broker-under-test node.
  for (const at of [1, 2]) {
    const before = members.map((m) => m.length);
    const count = 400;
    for (let m = 0; m < count; m++) mesh.clients[at].publish("qs.work", String(m));
    mesh.clients[at].publish("qs.mark", "x");
    await within(mesh.clients[at].flush(), 5000, "flush");
    await waitFor(() => marks.every((mk) => mk.length >= (at === 1 ? 1 : 2)), 10000, "markers");
    const got = members.map((m, k) => m.length - before[k]);
    assert.equal(got.reduce((a, b) => a + b, 0), count);
    // Expected 100 (sd 8.7); local-first would give 400.
    assert.ok(got[at] > 50 && got[at] < 160, `own member got ${got[at]} of ${count}: ${got}`);
  }
});

test("a request on one node is answered on another, for every pair", async () => {
  const n = mesh.nodes.length;
  const services = [];
  for (let j = 0; j < n; j++) {
    const sub = mesh.clients[j].subscribe(`svc.${j}`);
    (async () => {
      for await (const m of sub) m.respond(`${j} answers ${m.string()}`);
    })().catch(() => {});
    services.push(sub);
    await within(mesh.clients[j].flush(), 5000, "flush");
  }
  for (let j = 0; j < n; j++) {
    await waitInterest(mesh.nodes[j === 0 ? 1 : 0], `svc.${j}`, [mesh.nodes[j]]);
    for (let i = 0; i < n; i++) {
      if (i === j) continue;
      await waitInterest(mesh.nodes[i], `svc.${j}`, [mesh.nodes[j]]);
      const r = await mesh.clients[i].request(`svc.${j}`, `${i}`, { timeout: 5000 });
      assert.equal(r.string(), `${j} answers ${i}`);
    }
  }
});

test("/routez and /varz's cluster have nats-server's keys (MON-01, MON-04)", async () => {
  const [r1, e1] = mesh.nodes;
  const ref = await routez(r1, "?subs=1");
  const edge = await routez(e1, "?subs=1");
  assert.deepEqual(Object.keys(edge).sort(), Object.keys(ref).sort());
  const keys = (r) => Object.keys(r).filter((k) => k !== "subscriptions_list").sort();
  assert.deepEqual(keys(edge.routes[0]), keys(ref.routes[0]));
  for (const r of edge.routes) {
    assert.equal(typeof r.rtt, "string");
    assert.ok(Array.isArray(r.subscriptions_list));
  }
  const rv = await varz(r1);
  const ev = await varz(e1);
  assert.deepEqual(Object.keys(ev.cluster).sort(), Object.keys(rv.cluster).filter((k) => k !== "urls").concat("urls").sort());
  assert.equal(ev.cluster.name, "C1");
  assert.equal(ev.cluster.cluster_port, e1.ports.cluster);
  assert.deepEqual(ev.cluster.urls, [`127.0.0.1:${r1.ports.cluster}`]);
  assert.equal(ev.routes, 3);
  assert.equal(ev.remotes, 3);
  const detail = await routez(e1, "?subs=detail");
  const one = detail.routes.find((r) => (r.subscriptions_list_detail ?? []).length > 0);
  assert.deepEqual(Object.keys(one.subscriptions_list_detail[0]).sort().filter((k) => k !== "qgroup"), ["cid", "msgs", "sid", "subject"]);
});

// ---- The system account across the cluster --------------------------------------------

test("$SYS.REQ.SERVER.PING from a node's system user is answered by every node of the mixed mesh (PR-01)", async () => {
  const config = `accounts {
  A: { users: [ { user: a, password: a } ] }
  SYS: { users: [ { user: sys, password: sys } ] }
}
system_account: SYS
`;
  const r1 = await node(REF, "s-r1", { config });
  const e1 = await node(EDGE, "s-e1", { config, routes: [r1.ports.cluster] });
  const e2 = await node(EDGE, "s-e2", { config, routes: [r1.ports.cluster] });
  const nodes = [r1, e1, e2];
  await waitRoutes(nodes, 2, "a mesh of three with a system account");
  const ids = await Promise.all(nodes.map(async (s) => (await varz(s)).server_id));
  for (const at of nodes) {
    const sys = await connect({ servers: at.url, user: "sys", pass: "sys", reconnect: false });
    const inbox = `_INBOX.ping.${at.port}`;
    const answers = collect(sys, inbox);
    await within(sys.flush(), 5000, "flush");
    for (const other of nodes.filter((o) => o !== at)) await waitInterest(other, inbox, [at]);
    sys.publish("$SYS.REQ.SERVER.PING", "", { reply: inbox });
    await waitFor(() => ids.every((id) => answers.some((m) => JSON.parse(m.string()).server.id === id)), 10000, "an answer from every node");
    for (const m of answers) assert.ok(JSON.parse(m.string()).statsz, "a STATSZ answer");
    await sys.close();
  }
  for (const s of nodes) await s.stop();
});

// ---- Refusals ---------------------------------------------------------------------

test("a route of another cluster name is refused with nats-server's words, and no route forms", async () => {
  const s = await node(EDGE, "named", { cluster: "C1" });
  const c = await rawConnect(s.ports.cluster);
  await c.readUntil("\r\n", 5000);
  await c.send('CONNECT {"echo":true,"verbose":false,"pedantic":false,"name":"NFAKE","cluster":"C2"}\r\n');
  assert.equal(await c.readUntil("\r\n", 5000), `-ERR 'Rejecting connection, cluster name "C2" does not match "C1"'\r\n`);
  assert.ok(await c.closedWithin(5000));
  const other = await node(REF, "other", { cluster: "C2", routes: [s.ports.cluster] });
  await waitFor(() => /cluster name "C2" does not match "C1"/.test(s.logs()), 10000, "the refusal in the log");
  assert.equal((await routez(s)).num_routes, 0);
  assert.equal((await routez(other)).num_routes, 0);
  await other.stop();
  await s.stop();
});

test("cluster authorization: wrong credentials get 'Authorization Violation', right ones a route", async () => {
  const auth = (p) => `cluster { name: C1, listen: "127.0.0.1:${p.cluster}", authorization { user: ru, password: rp, timeout: 2 } }\n`;
  const s = await startServer({ bin: EDGE, ports: ["cluster", "http"], config: auth, args: (p) => ["-n", "guarded", "-m", String(p.http)] });
  const c = await rawConnect(s.ports.cluster);
  const info = JSON.parse(/^INFO\s+(\{.*\})/.exec(await c.readUntil("\r\n", 5000))[1]);
  assert.equal(info.auth_required, true);
  await c.send('CONNECT {"user":"ru","pass":"bad","name":"NFAKE","cluster":"C1"}\r\n');
  assert.equal(await c.readUntil("\r\n", 5000), "-ERR 'Authorization Violation'\r\n");
  assert.ok(await c.closedWithin(5000));
  const wrong = await node(REF, "wrong", { routes: [s.ports.cluster], routeUser: "ru:bad" });
  await waitFor(() => /authentication error/.test(s.logs()), 10000, "the refusal in the log");
  assert.equal((await routez(s)).num_routes, 0);
  await wrong.stop();
  const right = await node(REF, "right", { routes: [s.ports.cluster], routeUser: "ru:rp" });
  await waitRoutes([s, right], 1, "an authorized route");
  await right.stop();
  await s.stop();
});

test("a client on the route port is told so and closed", async () => {
  const s = await node(EDGE, "port");
  const c = await rawConnect(s.ports.cluster);
  await c.readUntil("\r\n", 5000);
  await c.send('CONNECT {"lang":"node","version":"1","verbose":false,"cluster":"C1"}\r\n');
  assert.equal(await c.readUntil("\r\n", 5000), "-ERR 'attempted to connect to route port'\r\n");
  assert.ok(await c.closedWithin(5000));
  await s.stop();
});

// ---- TLS ----------------------------------------------------------------------------

test("routes over TLS with a CA: the broker and nats-server verify each other's certificate", async () => {
  const dir = mkdtempSync(join(tmpdir(), "natsedge-cluster-tls-"));
  const ossl = (...a) => execFileSync("openssl", a, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  try {
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    ossl("req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "30", "-subj", "/CN=cluster CA");
    ossl("req", "-x509", ...ec, "-keyout", "other.key", "-out", "other.pem", "-days", "30", "-subj", "/CN=other CA");
    const issue = (name, ca) => {
      ossl("req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", "/CN=localhost");
      execFileSync("sh", ["-c", `printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nextendedKeyUsage=serverAuth,clientAuth\\n' > ${name}.ext`], { cwd: dir });
      ossl("x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.pem`, "-CAkey", `${ca}.key`, "-CAcreateserial", "-out", `${name}.pem`, "-days", "30", "-extfile", `${name}.ext`);
    };
    issue("route", "ca");
    issue("stranger", "other");
    const tls = (cert) => `tls { cert_file: "${join(dir, `${cert}.pem`)}", key_file: "${join(dir, `${cert}.key`)}", ca_file: "${join(dir, "ca.pem")}", timeout: 2 }`;
    const conf = (cert, routes) => (p) =>
      `cluster { name: C1, listen: "127.0.0.1:${p.cluster}", ${routes ? `routes: ["nats-route://localhost:${routes}"], ` : ""}${tls(cert)} }\n`;
    const s = await startServer({ bin: EDGE, ports: ["cluster", "http"], config: conf("route", null), args: (p) => ["-n", "tls-a", "-m", String(p.http)] });
    const v = await varz(s);
    assert.equal(v.cluster.tls_required, true);
    assert.equal(v.cluster.tls_verify, true);
    const peer = await startServer({ bin: REF, ports: ["cluster", "http"], config: conf("route", s.ports.cluster), args: (p) => ["-n", "tls-b", "-m", String(p.http)] });
    await waitRoutes([s, peer], 1, "a TLS route");
    const a = await client(s);
    const b = await client(peer);
    const got = collect(a, "tls.x");
    await within(a.flush(), 5000, "flush");
    await waitInterest(peer, "tls.x", [s]);
    b.publish("tls.x", "sealed");
    await waitFor(() => got.length === 1, 5000, "the message over TLS");
    assert.equal(got[0].string(), "sealed");
    await a.close();
    await b.close();
    // A node whose certificate another CA signed gets no route.
    const stranger = await startServer({ bin: REF, ports: ["cluster", "http"], config: conf("stranger", s.ports.cluster), args: (p) => ["-n", "tls-c", "-m", String(p.http)] });
    await waitFor(() => /TLS handshake (error|failure)|handshake error|certificate/i.test(s.logs() + stranger.logs()), 10000, "a refused handshake");
    assert.equal((await routez(stranger)).num_routes, 0);
    await stranger.stop();
    await peer.stop();
    await s.stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- Duplicates, three broker nodes ------------------------------------------------------

test("two nodes configured with each other end with one route between them (duplicates closed)", async () => {
  const pa = await freePort();
  const pb = await freePort();
  const start = (name, own, other) =>
    startServer({ bin: EDGE, ports: ["http"], args: (p) => ["-n", name, "-m", String(p.http), "--cluster", `nats://127.0.0.1:${own}`, "--cluster_name", "C1", "--routes", `nats://127.0.0.1:${other}`] });
  const a = await start("dup-a", pa, pb);
  const b = await start("dup-b", pb, pa);
  await waitRoutes([a, b], 1, "one route each");
  // One TCP connection: one side solicited it, the other accepted it.
  await waitFor(async () => {
    const [za, zb] = [await routez(a), await routez(b)];
    return za.num_routes === 1 && zb.num_routes === 1 && za.routes[0].did_solicit !== zb.routes[0].did_solicit;
  }, ROUTES_MS, "a single connection");
  const ca = await client(a);
  const cb = await client(b);
  const got = collect(cb, "dup.x");
  await within(cb.flush(), 5000, "flush");
  await waitInterest(a, "dup.x", [b]);
  ca.publish("dup.x", "once");
  ca.publish("dup.x", "twice");
  await waitFor(() => got.length === 2, 5000, "both messages");
  assert.deepEqual(got.map((m) => m.string()), ["once", "twice"]);
  await ca.close();
  await cb.close();
  await a.stop();
  await b.stop();
});

test("three broker nodes over TCP from one seed: a full mesh, a message from each reaches the others once", async () => {
  const a = await node(EDGE, "t1");
  const b = await node(EDGE, "t2", { routes: [a.ports.cluster] });
  const c = await node(EDGE, "t3", { routes: [a.ports.cluster] });
  const nodes = [a, b, c];
  await waitRoutes(nodes, 2, "a full mesh of three");
  const clients = await Promise.all(nodes.map((s) => client(s)));
  const got = clients.map((cl) => collect(cl, "three.>"));
  await Promise.all(clients.map((cl) => within(cl.flush(), 5000, "flush")));
  for (const s of nodes) await waitInterest(s, "three.>", nodes.filter((o) => o !== s));
  clients.forEach((cl, i) => cl.publish(`three.${i}`, String(i)));
  await Promise.all(clients.map((cl) => within(cl.flush(), 5000, "flush")));
  await waitFor(() => got.every((g) => g.length >= 3), 10000, "three messages each");
  for (const g of got) assert.deepEqual(g.map((m) => m.string()).sort(), ["0", "1", "2"]);
  await Promise.all(clients.map((cl) => cl.close()));
  for (const s of nodes) await s.stop();
});

// ---- A node killed while traffic flows -------------------------------------------------

test("a node killed while traffic flows: nats.js fails over, interest re-syncs when it returns, nothing is duplicated (CP-13)", async () => {
  const r1 = await node(REF, "f-r1");
  const e1 = await node(EDGE, "f-e1", { routes: [r1.ports.cluster] });
  const r2 = await node(REF, "f-r2", { routes: [r1.ports.cluster] });
  await waitRoutes([r1, e1, r2], 2, "a mesh of three");
  // The subscriber knows only e1; the others come in INFO connect_urls.
  const sub = await connect({ servers: e1.url, reconnectTimeWait: 100, maxReconnectAttempts: -1, reconnectJitter: 0, pingInterval: 1000 });
  await waitFor(() => (sub.info?.connect_urls ?? []).length === 3, 10000, "every node's URL");
  const seen = [];
  const s1 = sub.subscribe("ft.seq");
  (async () => {
    for await (const m of s1) seen.push(Number(m.string()));
  })().catch(() => {});
  await within(sub.flush(), 5000, "flush");
  await waitInterest(r2, "ft.seq", [e1]);
  const pub = await client(r2);
  let seq = 0;
  let publishing = true;
  const pump = (async () => {
    while (publishing) {
      pub.publish("ft.seq", String(++seq));
      await within(pub.flush(), 5000, "flush");
    }
  })();
  await waitFor(() => seen.length >= 20, 10000, "traffic before the kill");
  const reconnected = (async () => {
    for await (const s of sub.status()) if (s.type === "reconnect") return s;
  })();
  e1.signal("SIGKILL");
  await within(reconnected, 20000, "the subscriber's reconnect");
  const atKill = seq;
  await waitFor(() => seen.some((v) => v > atKill), 10000, "traffic after the failover");
  // The node comes back (new ports), routed to the seed: its interest
  // re-syncs both ways.
  const back = await node(EDGE, "f-e1b", { routes: [r1.ports.cluster] });
  await waitRoutes([r1, back, r2], 2, "the mesh again");
  const late = await client(back);
  const lateSeen = collect(late, "ft.seq");
  await within(late.flush(), 5000, "flush");
  await waitFor(() => lateSeen.length > 5, 10000, "traffic to the returned node");
  publishing = false;
  await pump;
  const dups = seen.filter((v, i) => seen.indexOf(v) !== i);
  assert.deepEqual(dups, []);
  assert.ok(seen.every((v, i) => i === 0 || v > seen[i - 1]), "in order");
  await late.close();
  await pub.close();
  await sub.close();
  for (const s of [back, r2, r1]) await s.stop();
});

test("nats.c learns the cluster from INFO and fails over when its node is killed (CP-11)", async () => {
  let prog = process.env.NATSEDGE_INTEROP_C ? join(process.env.NATSEDGE_INTEROP_C, "natsc_cluster") : null;
  if (!prog || !existsSync(prog)) {
    const dir = join(HERE, "c", "build");
    execFileSync("make", ["-s", "-C", join(HERE, "c"), `BUILD=${dir}`], { stdio: "ignore", timeout: 120000 });
    prog = join(dir, "natsc_cluster");
  }
  const r1 = await node(REF, "c-r1");
  const e1 = await node(EDGE, "c-e1", { routes: [r1.ports.cluster] });
  const r2 = await node(REF, "c-r2", { routes: [r1.ports.cluster] });
  await waitRoutes([r1, e1, r2], 2, "a mesh of three");
  const child = spawn(prog, [e1.url, "3", "natsc.failover"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  const exited = new Promise((r) => child.once("close", (code) => r(code)));
  try {
    await waitFor(() => /^ready \d+$/m.test(out) || /^FAIL/m.test(out), 15000, "nats.c ready");
    assert.match(out, /^ready \d+$/m, out);
    e1.signal("SIGKILL");
    const code = await within(exited, 45000, "nats.c's failover");
    assert.equal(code, 0, out);
    assert.match(out, /^ok /m);
  } finally {
    child.kill("SIGKILL");
  }
  for (const s of [r2, r1]) await s.stop();
});
