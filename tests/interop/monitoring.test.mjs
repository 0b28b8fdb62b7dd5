// Monitoring endpoints (inventory MON-01..MON-08): the broker under test
// (NATSEDGE_BIN) and Debian's nats-server run with the same configuration
// and the same client workload; their JSON must have the same keys with the
// same types, and the same values where they must agree: limits in the same
// units, counts after the known workload, the rows of /connz in the same
// order and pages. Values that differ by design are named with their
// differences.md entry. In the nats-server pass both sides are nats-server.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, stopAll, rawConnect, rawHandshake, getJSON, waitFor, brokerKind } from "./lib/harness.mjs";

const NATS_SERVER = process.env.NATS_SERVER_BIN || "/usr/sbin/nats-server";
const isNatsedge = brokerKind() === "natsedge";

// Keys nats-server has and natsedge omits, each listed in differences.md
// ("Monitoring": system_account).
const OMITTED = { varz: new Set(["system_account"]) };

// The same explicit limits on both, so that every limit must read the same.
// No system account: nats-server's own subscriptions and traffic would
// otherwise be counted with the clients'.
const CONFIG =
  "server_name: mon-test\n" +
  "max_connections: 100\nmax_payload: 65536\nmax_pending: 1048576\n" +
  'ping_interval: "30s"\nping_max: 3\nwrite_deadline: "3s"\n' +
  "no_system_account: true\n";

const brokers = {};
const clients = [];

async function start(name, bin) {
  const s = await startServer({ bin, ports: ["http"], args: (p) => ["-m", String(p.http)], config: CONFIG });
  brokers[name] = { port: s.port, http: s.ports.http, server: s };
}

// The same workload on both: one client with a name, two subscriptions
// (one in a queue group), one message to itself, one PING round trip.
async function drive(name) {
  const { client } = await rawHandshake(brokers[name].port, {
    verbose: false, pedantic: false, name: "mon", lang: "node", version: "1", protocol: 1,
  });
  clients.push(client);
  await client.send("SUB a 1\r\nSUB b q 2\r\nPUB a 2\r\nhi\r\nPING\r\n");
  await client.readUntil("PONG\r\n");
  brokers[name].client = client;
}

const get = (name, path) => getJSON(brokers[name].http, path);

function assertSameKeys(endpoint, ref, ours) {
  const omitted = OMITTED[endpoint] ?? new Set();
  const missing = Object.keys(ref).filter((k) => !(k in ours) && !omitted.has(k));
  const extra = Object.keys(ours).filter((k) => !(k in ref) && !/^natsedge_|^tls_memory$/.test(k));
  assert.deepEqual({ missing, extra }, { missing: [], extra: [] }, endpoint);
}

function assertSameTypes(endpoint, ref, ours) {
  for (const k of Object.keys(ours)) {
    if (k in ref) assert.equal(typeof ours[k], typeof ref[k], `${endpoint}.${k}`);
  }
}

// Go's time.Duration text ("0s", "1.5ms", "2m3s") and RFC 3339 times.
const DURATION = /^(\d+h)?(\d+m)?(\d+(\.\d+)?(s|ms|µs|us|ns))?$|^0s$/;
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

before(async () => {
  await start("ref", NATS_SERVER);
  await start("edge", process.env.NATSEDGE_BIN);
  for (const n of ["ref", "edge"]) brokers[n].varzBefore = await get(n, "/varz");
  await drive("ref");
  await drive("edge");
});

after(async () => {
  for (const s of clients) s.destroy();
  await stopAll();
});

test("/varz: nats-server's keys and types; the same limits in the same units; the workload counted the same (MON-01)", async () => {
  const ref = await get("ref", "/varz");
  const ours = await get("edge", "/varz");
  assertSameKeys("varz", ref, ours);
  assertSameTypes("varz", ref, ours);
  // Limits, the configured ones and the defaults both keep (units: bytes,
  // nanoseconds for ping_interval and write_deadline, seconds for the
  // timeouts).
  for (const k of ["server_name", "proto", "host", "max_connections", "ping_interval", "ping_max", "http_host",
    "http_base_path", "https_port", "auth_timeout", "max_control_line", "max_payload", "max_pending",
    "tls_timeout", "write_deadline", "cores"]) {
    assert.deepEqual(ours[k], ref[k], `varz.${k}: ${ours[k]} vs nats-server's ${ref[k]}`);
  }
  assert.equal(ours.ping_interval, 30e9);
  assert.equal(ours.write_deadline, 3e9);
  assert.equal(ours.port, brokers.edge.port);
  assert.equal(ours.http_port, brokers.edge.http);
  // What the workload did: one client, two subscriptions, one message in and
  // one out of two bytes each.
  const delta = (v, before, k) => v[k] - before[k];
  for (const [v, before] of [[ref, brokers.ref.varzBefore], [ours, brokers.edge.varzBefore]]) {
    assert.deepEqual(
      {
        connections: v.connections,
        total: delta(v, before, "total_connections"),
        subscriptions: v.subscriptions,
        in_msgs: delta(v, before, "in_msgs"),
        out_msgs: delta(v, before, "out_msgs"),
        in_bytes: delta(v, before, "in_bytes"),
        out_bytes: delta(v, before, "out_bytes"),
        slow_consumers: v.slow_consumers,
        routes: v.routes,
        remotes: v.remotes,
        leafnodes: v.leafnodes,
      },
      { connections: 1, total: 1, subscriptions: 2, in_msgs: 1, out_msgs: 1, in_bytes: 2, out_bytes: 2,
        slow_consumers: 0, routes: 0, remotes: 0, leafnodes: 0 },
    );
  }
  // Two GET /varz each so far.
  assert.equal(ours.http_req_stats["/varz"], ref.http_req_stats["/varz"]);
  for (const k of ["start", "now", "config_load_time"]) assert.match(ours[k], RFC3339, `varz.${k}`);
  assert.match(ours.uptime, DURATION);
  assert.ok(ours.mem > 0);
  // Values that differ by design (differences.md, "Monitoring"): the
  // advertised version, go, gomaxprocs (one event loop), cpu.
  if (isNatsedge) {
    assert.equal(ours.gomaxprocs, 1);
    assert.match(ours.go, /^natsedge-/);
  }
});

test("/connz: the workload's connection row with nats-server's keys and values (MON-02)", async () => {
  const ref = await get("ref", "/connz?subs=1");
  const ours = await get("edge", "/connz?subs=1");
  assertSameKeys("connz", ref, ours);
  assert.equal(ours.connections.length, 1);
  const [r, o] = [ref.connections[0], ours.connections[0]];
  assertSameKeys("connz.connections", r, o);
  assertSameTypes("connz.connections", r, o);
  const fields = (c) => ({
    kind: c.kind, type: c.type, ip: c.ip, pending_bytes: c.pending_bytes, in_msgs: c.in_msgs,
    out_msgs: c.out_msgs, in_bytes: c.in_bytes, out_bytes: c.out_bytes, subscriptions: c.subscriptions,
    name: c.name, lang: c.lang, version: c.version, subs: [...c.subscriptions_list].sort(),
  });
  assert.deepEqual(fields(o), fields(r));
  assert.deepEqual(fields(o), {
    kind: "Client", type: "nats", ip: "127.0.0.1", pending_bytes: 0, in_msgs: 1, out_msgs: 1, in_bytes: 2,
    out_bytes: 2, subscriptions: 2, name: "mon", lang: "node", version: "1", subs: ["a", "b"],
  });
  assert.equal(o.port, brokers.edge.client.socket.localPort);
  for (const k of ["start", "last_activity"]) assert.match(o[k], RFC3339);
  for (const k of ["rtt", "uptime", "idle"]) assert.match(o[k], DURATION, `${k} ${o[k]}`);
  assert.equal(ours.num_connections, 1);
  assert.equal(ours.total, 1);
  assert.equal(ours.limit, ref.limit);
});

test("/connz?subs=detail: the same subscription details (MON-02)", async () => {
  const ref = await get("ref", "/connz?subs=detail");
  const ours = await get("edge", "/connz?subs=detail");
  const details = (z) =>
    z.connections[0].subscriptions_list_detail
      .map((d) => ({ ...d, cid: d.cid === z.connections[0].cid }))
      .sort((x, y) => x.subject.localeCompare(y.subject));
  assert.deepEqual(details(ours), details(ref));
  assert.deepEqual(details(ours), [
    { subject: "a", sid: "1", msgs: 1, cid: true },
    { subject: "b", qgroup: "q", sid: "2", msgs: 0, cid: true },
  ]);
});

test("/connz sort and paging: five connections ordered by msgs_from, pages of two, the same rows on both (MON-02)", async () => {
  const extra = {};
  for (const n of ["ref", "edge"]) {
    extra[n] = [];
    // Connection i publishes i + 2 messages: msgs_from orders them, and
    // none ties with the workload's connection (one message).
    for (let i = 0; i < 5; i++) {
      const { client } = await rawHandshake(brokers[n].port, { verbose: false, pedantic: false, name: `page-${i}` });
      clients.push(client);
      await client.send(`PUB p.${i} 1\r\nx\r\n`.repeat(i + 2) + "PING\r\n");
      await client.readUntil("PONG\r\n");
      extra[n].push(client);
    }
  }
  const page = async (n, q) => {
    const z = await get(n, `/connz?sort=msgs_from&${q}`);
    return { total: z.total, offset: z.offset, limit: z.limit, num: z.num_connections, names: z.connections.map((c) => c.name) };
  };
  const want = [
    { total: 6, offset: 0, limit: 2, num: 2, names: ["page-4", "page-3"] },
    { total: 6, offset: 2, limit: 2, num: 2, names: ["page-2", "page-1"] },
    { total: 6, offset: 4, limit: 2, num: 2, names: ["page-0", "mon"] },
    { total: 6, offset: 6, limit: 2, num: 0, names: [] },
  ];
  for (const [i, q] of ["limit=2&offset=0", "limit=2&offset=2", "limit=2&offset=4", "limit=2&offset=6"].entries()) {
    assert.deepEqual(await page("ref", q), want[i], `nats-server ${q}`);
    assert.deepEqual(await page("edge", q), want[i], q);
  }
  // The default order is by cid, oldest first.
  const byCid = async (n) => (await get(n, "/connz")).connections.map((c) => c.name);
  assert.deepEqual(await byCid("edge"), await byCid("ref"));
  assert.deepEqual(await byCid("edge"), ["mon", "page-0", "page-1", "page-2", "page-3", "page-4"]);
  for (const n of ["ref", "edge"]) for (const c of extra[n]) c.destroy();
  for (const n of ["ref", "edge"]) await waitFor(async () => (await get(n, "/varz")).connections === 1, 5000, `${n}: back to one connection`);
});

test("/subsz (and /subscriptionsz), /accountz and /healthz: nats-server's keys; the subscription counts agree (MON-03, MON-07, MON-08)", async () => {
  for (const path of ["/subsz", "/accountz", "/healthz"]) {
    assertSameKeys(path.slice(1), await get("ref", path), await get("edge", path));
  }
  const subsz = async (n) => {
    const z = await get(n, "/subsz");
    return { num_subscriptions: z.num_subscriptions, num_inserts: z.num_inserts, max_fanout: z.max_fanout };
  };
  // Both workloads subscribed twice and removed the page connections'
  // nothing; num_cache, cache_hit_rate and avg_fanout differ by design
  // (differences.md, "Monitoring": /subsz).
  assert.deepEqual(await subsz("edge"), await subsz("ref"));
  assert.deepEqual(await subsz("edge"), { num_subscriptions: 2, num_inserts: 2, max_fanout: 1 });
  assert.deepEqual(await get("edge", "/healthz"), { status: "ok" });
  assert.ok((await get("edge", "/accountz")).accounts.includes("$G"));
  // /subscriptionsz is nats-server's other name for /subsz.
  const long = await get("edge", "/subscriptionsz");
  assertSameKeys("subscriptionsz", await get("ref", "/subscriptionsz"), long);
  assert.equal(long.num_subscriptions, 2);
});

test("closed connections: the workload's connection with its stop and reason, as on nats-server (MON-02)", async () => {
  for (const n of ["ref", "edge"]) brokers[n].client.destroy();
  const closedMon = async (n) => {
    const z = await get(n, "/connz?state=closed");
    return z.connections.find((c) => c.name === "mon");
  };
  const [r, o] = [
    await waitFor(() => closedMon("ref"), 5000, "nats-server's closed row"),
    await waitFor(() => closedMon("edge"), 5000, "the closed row"),
  ];
  assertSameKeys("connz.closed", r, o);
  assertSameTypes("connz.closed", r, o);
  assert.equal(o.reason, r.reason);
  assert.equal(o.reason, "Client Closed");
  assert.match(o.stop, RFC3339);
  assert.deepEqual([o.in_msgs, o.out_msgs, o.subscriptions], [r.in_msgs, r.out_msgs, r.subscriptions]);
});

// natsedge remembers NE_CLOSED_CONN_RING (16) closed connections, nats-server
// 10,000 (differences.md, "Closed-connection memory").
test("the closed-connection ring: after 20 closes natsedge shows the newest 16 (NE_CLOSED_CONN_RING), oldest first; nats-server all 20 (MON-02)", async () => {
  const s = await startServer({ ports: ["http"], args: (p) => ["-m", String(p.http)] });
  try {
    for (let i = 0; i < 20; i++) {
      const { client } = await rawHandshake(s.port, { verbose: false, pedantic: false, name: `ring-${i}` });
      await client.send("PING\r\n");
      await client.readUntil("PONG\r\n");
      await client.destroy();
    }
    const names = async () =>
      (await getJSON(s.ports.http, "/connz?state=closed&limit=100")).connections
        .map((c) => c.name)
        .filter((n) => (n ?? "").startsWith("ring-"));
    const want = Array.from({ length: 20 }, (_, i) => `ring-${i}`).slice(isNatsedge ? 4 : 0);
    await waitFor(async () => (await names()).at(-1) === "ring-19", 5000, "the last close");
    assert.deepEqual(await names(), want);
  } finally {
    await s.stop();
  }
});

// natsedge drops a monitoring connection that sends no complete request
// within write_deadline; nats-server keeps it (differences.md, "Monitoring").
test("an idle HTTP connection: natsedge closes it at the request deadline (5 s), with or without half a request; nats-server 2.9 keeps it (MON-01)", async () => {
  const s = await startServer({ ports: ["http"], args: (p) => ["-m", String(p.http)] });
  try {
    const idle = await rawConnect(s.ports.http);
    const half = await rawConnect(s.ports.http);
    await half.send("GET /varz HTTP/1.1\r\nHost: x\r\n");
    // Open for the first seconds on both brokers.
    const early = await Promise.all([idle.closedWithin(3000), half.closedWithin(10)]);
    assert.deepEqual(early, [false, false]);
    // By the deadline (NE_HTTP_REQUEST_TIMEOUT_MS) and a margin natsedge has
    // closed both, without a reply; nats-server 2.9 has closed neither.
    const closed = await Promise.all([idle.closedWithin(4500), half.closedWithin(4500)]);
    assert.deepEqual(closed, isNatsedge ? [true, true] : [false, false]);
    assert.equal(idle.received() + half.received(), "");
    // The monitor still serves.
    assert.equal((await getJSON(s.ports.http, "/healthz")).status, "ok");
    idle.destroy();
    half.destroy();
  } finally {
    await s.stop();
  }
});

test("bad requests get HTTP errors, not a crash: 404 for an unknown path, 400 for a bad sort; a POST gets 405 from natsedge, 200 from nats-server (MON-01)", async () => {
  const base = `http://127.0.0.1:${brokers.edge.http}`;
  const status = async (path, method = "GET") =>
    (await fetch(`${base}${path}`, { method, signal: AbortSignal.timeout(5000) })).status;
  assert.equal(await status("/nope"), 404);
  assert.equal(await status("/connz?sort=bogus"), 400);
  assert.equal(await status("/connz?sort=stop"), 400); // stop and reason: closed connections only
  // differences.md, "Monitoring": only GET is served.
  assert.equal(await status("/varz", "POST"), isNatsedge ? 405 : 200);
  assert.equal(await status("/healthz"), 200);
});
