// Permissions and accounts: one configuration file run under nats-server and
// under natsedge, the same client actions, the same outcomes (inventory
// CP-75, CP-78..CP-87, CFG-16, CFG-17).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { startServer, stopAll, rawHandshake, brokerKind, waitFor, within, getJSON } from "./lib/harness.mjs";

const CONFIG = `
authorization {
  # users outside any account are in $G
  users: [
    { user: plain, password: plain }
    { user: limited, password: limited,
      permissions: {
        publish: { allow: ["ok.>", "both.*"], deny: ["both.secret"] }
        subscribe: { allow: ["ok.>", "wide.>", "q.work workers", "_INBOX.>"], deny: ["wide.secret"] }
      } }
    { user: responder, password: responder,
      permissions: { subscribe: "svc.>", allow_responses: true } }
  ]
}
accounts {
  A: {
    users: [ { user: a, password: a } ]
    exports: [
      { stream: "ev.>" }
      { service: "svc.echo" }
      { stream: "private.>", accounts: [C] }
    ]
  }
  B: {
    users: [ { user: b, password: b } ]
    imports: [
      { stream: { account: A, subject: "ev.>" }, prefix: "fromA" }
      { service: { account: A, subject: "svc.echo" }, to: "echo" }
    ]
  }
  C: {
    users: [ { user: c, password: c } ]
    imports: [ { stream: { account: A, subject: "private.>" }, to: "priv.>" } ]
  }
  SYS: { users: [ { user: sys, password: sys } ] }
}
system_account: SYS
`;

let server;
before(async () => {
  server = await startServer({ config: CONFIG });
});
after(async () => {
  await stopAll();
});

const as = (user) => connect({ servers: `127.0.0.1:${server.port}`, user, pass: user, reconnect: false });

// A raw client logged in as `user`, past its first PONG.
async function rawAs(user) {
  const { client } = await rawHandshake(server.port, { verbose: false, pedantic: false, user, pass: user });
  await client.send("PING\r\n");
  await client.readUntil("PONG\r\n");
  return client;
}

// Collects what `sub` (of connection `subscriber`) receives up to a PING/PONG
// barrier: each of `publishers` flushes (the broker has routed what it sent,
// imports included), then `subscriber` flushes (what was routed to it came
// before its PONG). Then the subscription ends.
async function collect(sub, subscriber, publishers = []) {
  const got = [];
  const done = (async () => {
    for await (const m of sub) got.push(m);
  })();
  for (const p of publishers) await within(p.flush(), 5000, "a publisher's flush");
  await within(subscriber.flush(), 5000, "the subscriber's flush");
  sub.unsubscribe();
  await within(done, 5000, "the subscription's end");
  return got;
}

test("publish permissions: allowed subjects pass, others get the exact -ERR and the connection stays open (CP-31, CP-79)", async () => {
  const c = await rawAs("limited");
  await c.send("SUB ok.> 1\r\nPUB ok.1 2\r\nhi\r\nPING\r\n");
  assert.match(await c.readUntil("PONG\r\n"), /MSG ok\.1 1 2\r\nhi\r\n/);
  await c.send("PUB nope 2\r\nhi\r\nPING\r\n");
  assert.match(await c.readUntil("PONG\r\n"), /-ERR 'Permissions Violation for Publish to "nope"'\r\n/);
  // Deny wins over allow: both.* is allowed, both.secret denied.
  await c.send("PUB both.secret 2\r\nhi\r\nPUB both.open 2\r\nhi\r\nPING\r\n");
  const out = await c.readUntil("PONG\r\n");
  assert.match(out, /-ERR 'Permissions Violation for Publish to "both\.secret"'\r\n/);
  assert.doesNotMatch(out, /both\.open/);
  assert.equal(c.isClosed(), false);
  c.destroy();
});

test("subscribe permissions: denied subjects and queues get the exact -ERR (CP-38, CP-80)", async () => {
  const c = await rawAs("limited");
  await c.send("SUB other 1\r\nPING\r\n");
  assert.match(await c.readUntil("PONG\r\n"), /-ERR 'Permissions Violation for Subscription to "other"'\r\n/);
  await c.send("SUB q.work strangers 2\r\nPING\r\n");
  assert.match(
    await c.readUntil("PONG\r\n"),
    /-ERR 'Permissions Violation for Subscription to "q\.work" using queue "strangers"'\r\n/,
  );
  await c.send("SUB q.work workers 3\r\nSUB wide.secret 4\r\nPING\r\n");
  const out = await c.readUntil("PONG\r\n");
  assert.doesNotMatch(out, /q\.work/);
  assert.match(out, /-ERR 'Permissions Violation for Subscription to "wide\.secret"'\r\n/);
  assert.equal(c.isClosed(), false);
  c.destroy();
});

test("a wildcard subscription over a denied subject is allowed, the denied messages are withheld (CP-81)", async () => {
  const nc = await as("limited");
  const pub = await as("plain");
  const sub = nc.subscribe("wide.>");
  await nc.flush();
  pub.publish("wide.open", "1");
  pub.publish("wide.secret", "2");
  pub.publish("wide.open", "3");
  const got = await collect(sub, nc, [pub]);
  assert.deepEqual(got.map((m) => `${m.subject}:${m.string()}`), ["wide.open:1", "wide.open:3"]);
  await nc.close();
  await pub.close();
});

test("allow_responses: a responder may answer a request once, not publish elsewhere (CP-82)", async () => {
  const r = await rawAs("responder");
  const requester = await as("plain");
  await r.send("SUB svc.time 1\r\nPING\r\n");
  await r.readUntil("PONG\r\n");
  const inbox = "_INBOX.manual";
  const sub = requester.subscribe(inbox);
  await requester.flush();
  requester.publish("svc.time", "now?", { reply: inbox });
  await requester.flush();
  await r.readUntil(new RegExp(`MSG svc\\.time 1 ${inbox.replace(".", "\\.")} 4\r\nnow\\?\r\n`));
  await r.send(`PUB ${inbox} 4\r\nnoon\r\nPUB ${inbox} 5\r\nagain\r\nPUB elsewhere 1\r\nx\r\nPING\r\n`);
  const out = await r.readUntil("PONG\r\n");
  assert.match(out, new RegExp(`-ERR 'Permissions Violation for Publish to "${inbox.replace(".", "\\.")}"'`));
  assert.match(out, /-ERR 'Permissions Violation for Publish to "elsewhere"'/);
  const got = await collect(sub, requester);
  assert.deepEqual(got.map((m) => m.string()), ["noon"]);
  r.destroy();
  await requester.close();
});

test("accounts are separate subject spaces (CP-84)", async () => {
  const a = await as("a");
  const b = await as("b");
  const g = await as("plain");
  const sa = a.subscribe("iso.x");
  const sb = b.subscribe("iso.x");
  const sg = g.subscribe("iso.x");
  await Promise.all([a.flush(), b.flush(), g.flush()]);
  a.publish("iso.x", "from A");
  b.publish("iso.x", "from B");
  g.publish("iso.x", "from $G");
  const [ga, gb, gg] = await Promise.all([collect(sa, a, [b, g]), collect(sb, b, [a, g]), collect(sg, g, [a, b])]);
  assert.deepEqual(ga.map((m) => m.string()), ["from A"]);
  assert.deepEqual(gb.map((m) => m.string()), ["from B"]);
  assert.deepEqual(gg.map((m) => m.string()), ["from $G"]);
  await Promise.all([a.close(), b.close(), g.close()]);
});

test("a stream import with a prefix delivers the exporter's messages under the prefix (CP-85)", async () => {
  const a = await as("a");
  const b = await as("b");
  const sb = b.subscribe("fromA.ev.>");
  const direct = b.subscribe("ev.>"); // B's own ev.> is not A's
  await b.flush();
  a.publish("ev.temp", "21.5");
  a.publish("other.temp", "not exported");
  const [got, none] = await Promise.all([collect(sb, b, [a]), collect(direct, b, [a])]);
  assert.deepEqual(got.map((m) => `${m.subject}:${m.string()}`), ["fromA.ev.temp:21.5"]);
  assert.equal(none.length, 0);
  await Promise.all([a.close(), b.close()]);
});

test("a private export reaches only the accounts it names; `to` maps the subject (CP-85, CP-87)", async () => {
  const a = await as("a");
  const c = await as("c");
  const sc = c.subscribe("priv.>");
  await c.flush();
  a.publish("private.door", "open");
  const got = await collect(sc, c, [a]);
  assert.deepEqual(got.map((m) => `${m.subject}:${m.string()}`), ["priv.door:open"]);
  await Promise.all([a.close(), c.close()]);
});

test("a service import carries requests to the exporter and responses back (CP-86)", async () => {
  const a = await as("a");
  const b = await as("b");
  const svc = a.subscribe("svc.echo");
  (async () => {
    for await (const m of svc) {
      // The reply the exporter sees is not the requester's own inbox.
      assert.ok(!m.reply.startsWith("_INBOX."), `reply ${m.reply}`);
      m.respond(`echo: ${m.string()}`);
    }
  })();
  await a.flush();
  for (let i = 0; i < 3; i++) {
    const r = await b.request("echo", `ping ${i}`, { timeout: 2000 });
    assert.equal(r.string(), `echo: ping ${i}`);
  }
  svc.unsubscribe();
  await a.flush();
  // The import is interest of its own: with no responder behind it the
  // request times out, no 503 status comes back (as nats-server 2.9 does).
  await assert.rejects(b.request("echo", "nobody", { timeout: 500 }), /timeout/i);
  await Promise.all([a.close(), b.close()]);
});

test("the system account hears connect, disconnect and connection-count events (CP-84)", async () => {
  const sys = await as("sys");
  const got = [];
  const sub = sys.subscribe("$SYS.ACCOUNT.A.>");
  const done = (async () => {
    for await (const m of sub) got.push(m);
  })();
  await sys.flush();
  const a = await connect({ servers: `127.0.0.1:${server.port}`, user: "a", pass: "a", name: "edge-a", reconnect: false });
  await within(a.flush(), 5000, "flush");
  await within(a.close(), 5000, "close");
  await waitFor(() => got.length >= 4, 5000, "connect, disconnect and two connection counts");
  sub.unsubscribe();
  await within(done, 5000, "the subscription's end");
  const subjects = got.map((m) => m.subject);
  assert.deepEqual(subjects.filter((s) => !s.endsWith(".SERVER.CONNS")), ["$SYS.ACCOUNT.A.CONNECT", "$SYS.ACCOUNT.A.DISCONNECT"]);
  const conns = got.filter((m) => m.subject === "$SYS.ACCOUNT.A.SERVER.CONNS").map((m) => m.json());
  assert.deepEqual(conns.map((c) => [c.type, c.acc, c.conns]), [
    ["io.nats.server.advisory.v1.account_connections", "A", 1],
    ["io.nats.server.advisory.v1.account_connections", "A", 0],
  ]);
  const on = got.find((m) => m.subject.endsWith(".CONNECT")).json();
  const off = got.find((m) => m.subject.endsWith(".DISCONNECT")).json();
  assert.equal(on.type, "io.nats.server.advisory.v1.client_connect");
  assert.equal(on.client.acc, "A");
  assert.equal(on.client.user, "a");
  assert.equal(on.client.name, "edge-a");
  assert.equal(typeof on.server.id, "string");
  assert.equal(off.type, "io.nats.server.advisory.v1.client_disconnect");
  assert.equal(off.reason, "Client Closed");
  assert.equal(typeof off.sent.msgs, "number");
  assert.equal(typeof off.client.stop, "string");
  await within(sys.close(), 5000, "close");
});

// A client of account A comes and goes; returns once the broker has seen it
// go (only `others` connections left in /varz).
async function comeAndGo(s, others) {
  const a = await connect({ servers: `127.0.0.1:${s.port}`, user: "a", pass: "a", reconnect: false });
  await within(a.flush(), 5000, "flush");
  await within(a.close(), 5000, "close");
  await waitFor(async () => (await getJSON(s.ports.http, "/varz")).connections === others, 5000, "the close seen");
}

const SYS_ACCOUNTS = "accounts {\n  A: { users: [ { user: a, password: a } ] }\n  SYS: { users: [ { user: sys, password: sys } ] }\n}\n";

// natsedge builds and publishes a system event only while a connection of
// the system account has a subscription (differences.md, "System events");
// nats-server publishes them always. Both deliver them to a listener.
test("system events only while someone in the system account subscribes: natsedge publishes none before (natsedge_auth.system_events) and none after; both deliver them meanwhile (CP-84)", async () => {
  const s = await startServer({ ports: ["http"], args: (p) => ["-m", String(p.http)], config: SYS_ACCOUNTS + "system_account: SYS\n" });
  const events = async () => (await getJSON(s.ports.http, "/varz")).natsedge_auth?.system_events;
  const sys = await connect({ servers: `127.0.0.1:${s.port}`, user: "sys", pass: "sys", reconnect: false });
  await comeAndGo(s, 1);
  if (s.kind === "natsedge") assert.equal(await events(), 0);
  const got = [];
  // account_connections goes out on two subjects (docs/cluster.md, "System events").
  const sub = sys.subscribe("$SYS.ACCOUNT.A.>", { callback: (_e, m) => got.push(m.subject) });
  const older = sys.subscribe("$SYS.SERVER.ACCOUNT.A.>", { callback: (_e, m) => got.push(m.subject) });
  await within(sys.flush(), 5000, "flush");
  await comeAndGo(s, 1);
  await waitFor(() => got.includes("$SYS.ACCOUNT.A.DISCONNECT"), 5000, "the disconnect event");
  assert.ok(got.includes("$SYS.ACCOUNT.A.CONNECT"));
  await waitFor(() => got.filter((g) => g === "$SYS.SERVER.ACCOUNT.A.CONNS").length === 2, 5000, "the older subject's");
  const counted = s.kind === "natsedge" ? await events() : 0;
  if (s.kind === "natsedge") assert.equal(counted, got.length);
  sub.unsubscribe();
  older.unsubscribe();
  await within(sys.flush(), 5000, "flush");
  await comeAndGo(s, 1);
  if (s.kind === "natsedge") assert.equal(await events(), counted);
  await within(sys.close(), 5000, "close");
  await s.stop();
});

test("no_system_account: no events reach a subscriber of the would-be system account; /accountz names no system account (CFG-15)", async () => {
  const s = await startServer({ ports: ["http"], args: (p) => ["-m", String(p.http)], config: SYS_ACCOUNTS + "no_system_account: true\n" });
  const sys = await connect({ servers: `127.0.0.1:${s.port}`, user: "sys", pass: "sys", reconnect: false });
  const got = [];
  sys.subscribe("$SYS.>", { callback: (_e, m) => got.push(m.subject) });
  await within(sys.flush(), 5000, "flush");
  await comeAndGo(s, 1);
  await within(sys.flush(), 5000, "flush");
  assert.deepEqual(got, []);
  const accountz = await getJSON(s.ports.http, "/accountz");
  assert.equal("system_account" in accountz, false, JSON.stringify(accountz));
  await within(sys.close(), 5000, "close");
  await s.stop();
});

// What reaches an account through an import goes to that account's own
// subscribers and no further (differences.md, "One hop"). nats-server 2.9
// does not chain stream imports either, but it follows a service import of
// a service import; natsedge does not.
test("the one-hop import rule: through A -> B -> C stream imports C gets B's own messages only, on both; a request from C through B's re-export of A's service is answered on nats-server only (CP-85, CP-86)", async () => {
  const s = await startServer({
    config:
      "accounts {\n" +
      '  A: { users: [ { user: a, password: a } ], exports: [ { stream: "ev.>" }, { service: "svc.a" } ] }\n' +
      '  B: { users: [ { user: b, password: b } ],\n' +
      '       imports: [ { stream: { account: A, subject: "ev.>" } }, { service: { account: A, subject: "svc.a" } } ],\n' +
      '       exports: [ { stream: "ev.>" }, { service: "svc.a" } ] }\n' +
      '  C: { users: [ { user: c, password: c } ],\n' +
      '       imports: [ { stream: { account: B, subject: "ev.>" } }, { service: { account: B, subject: "svc.a" } } ] }\n' +
      "}\n",
  });
  const login = (user) => connect({ servers: `127.0.0.1:${s.port}`, user, pass: user, reconnect: false });
  const [a, b, c] = [await login("a"), await login("b"), await login("c")];
  const sb = b.subscribe("ev.>");
  const sc = c.subscribe("ev.>");
  a.subscribe("svc.a", { callback: (_e, m) => m.respond("from A") });
  await within(Promise.all([a.flush(), b.flush(), c.flush()]), 5000, "flush");
  a.publish("ev.from-a", "1");
  b.publish("ev.from-b", "2");
  const [gotB, gotC] = await Promise.all([collect(sb, b, [a]), collect(sc, c, [a, b])]);
  assert.deepEqual(gotB.map((m) => m.subject).sort(), ["ev.from-a", "ev.from-b"]);
  assert.deepEqual(gotC.map((m) => m.subject), ["ev.from-b"]);
  // One service hop works on both.
  assert.equal((await b.request("svc.a", "?", { timeout: 2000 })).string(), "from A");
  // Two hops: nats-server follows them, natsedge does not (the request is
  // not answered).
  const two = await c.request("svc.a", "?", { timeout: 1000 }).then((m) => m.string(), (e) => e);
  if (s.kind === "natsedge") assert.ok(two instanceof Error, `answered: ${two}`);
  else assert.equal(two, "from A");
  await within(Promise.all([a.close(), b.close(), c.close()]), 5000, "close");
  await s.stop();
});

test("no_auth_user binds clients without credentials to that user (CP-75)", async () => {
  const s = await startServer({
    config:
      "accounts { A: { users: [ { user: guest, password: x, permissions: { publish: \"open.>\" } } ] } }\n" +
      "no_auth_user: guest\n",
  });
  const { client } = await rawHandshake(s.port, { verbose: false, pedantic: false });
  await client.send("PUB open.door 1\r\nx\r\nPUB closed 1\r\nx\r\nPING\r\n");
  const out = await client.readUntil("PONG\r\n");
  assert.match(out, /-ERR 'Permissions Violation for Publish to "closed"'/);
  assert.doesNotMatch(out, /open\.door/);
  client.destroy();
  // A wrong password is still refused.
  await assert.rejects(
    connect({ servers: `127.0.0.1:${s.port}`, user: "guest", pass: "wrong", reconnect: false }),
    /authorization violation/i,
  );
  await s.stop();
});

// `-t -c`: the configuration check of either broker.
function check(config) {
  const dir = mkdtempSync(join(tmpdir(), "ne-acc-"));
  const file = join(dir, "server.conf");
  writeFileSync(file, config);
  const r = spawnSync(process.env.NATSEDGE_BIN, ["-t", "-c", file], { encoding: "utf8", timeout: 10000 });
  return { status: r.status, text: r.stdout + r.stderr };
}

test("imports that no export allows are configuration errors, as in nats-server (CP-87)", () => {
  const base = 'A: { users: [{user: a, password: a}], exports: [{stream: "ev.>"}, {service: "svc.*", accounts: [C]}] }\nC: {}\n';
  let r = check(`accounts {\n${base}B: { imports: [{stream: {account: A, subject: "other.>"}}] }\n}\n`);
  assert.equal(r.status, 1, r.text);
  assert.match(r.text, /Error adding stream import "other\.>": stream import not authorized/);
  r = check(`accounts {\n${base}B: { imports: [{service: {account: A, subject: "svc.x"}}] }\n}\n`);
  assert.equal(r.status, 1, r.text);
  assert.match(r.text, /Error adding service import "svc\.x": service import not authorized/);
  r = check(`accounts {\n${base}B: { imports: [{stream: {account: Z, subject: "ev.>"}}] }\n}\n`);
  assert.equal(r.status, 1, r.text);
  assert.match(r.text, /"Z" account not defined for stream import/);
  r = check(`accounts {\n${base}C2: { imports: [{service: {account: A, subject: "svc.x"}}] }\n}\n`);
  assert.equal(r.status, 1, r.text);
  r = check(`accounts {\n${base}B: { imports: [{stream: {account: A, subject: "ev.x"}, prefix: "p"}] }\n}\n`);
  assert.equal(r.status, 0, r.text);
});

test("a bad permissions value names its position (CFG-16)", () => {
  const r = check("authorization { users: [ { user: u, password: p, permissions: { publish: { allow: 5 } } } ] }\n");
  assert.equal(r.status, 1, r.text);
  assert.match(r.text, /Expected subject permissions to be a subject, or array of subjects, got int/);
});

test("natsedge-only (static reply-map pool, NE_MAX_SERVICE_REPLIES; differences.md: Bounded tables): service requests beyond the pool go out without a reply; the pool recovers", { skip: brokerKind() === "nats-server" && "natsedge-only: nats-server's reply maps grow" }, async () => {
  const s = await startServer({
    small: true,
    ports: ["http"],
    args: (p) => ["-m", String(p.http)],
    config:
      "accounts {\n" +
      ' A: { users: [{user: a, password: a}], exports: [{service: "svc.slow"}] }\n' +
      ' B: { users: [{user: b, password: b}], imports: [{service: {account: A, subject: "svc.slow"}}] }\n' +
      "}\n",
  });
  const url = `127.0.0.1:${s.port}`;
  const a = await connect({ servers: url, user: "a", pass: "a", reconnect: false });
  const b = await connect({ servers: url, user: "b", pass: "b", reconnect: false });
  const held = [];
  const svc = a.subscribe("svc.slow");
  (async () => {
    for await (const m of svc) held.push(m);
  })();
  await a.flush();
  // The small build keeps 2 reply maps: the third request in flight arrives
  // without a reply subject.
  const pending = [0, 1, 2].map((i) => b.request("svc.slow", `r${i}`, { timeout: 3000, noMux: true }).catch((e) => e));
  await waitFor(() => held.length >= 3, 5000, "three requests at the service");
  assert.equal(held.length, 3);
  assert.deepEqual(held.map((m) => Boolean(m.reply)), [true, true, false]);
  for (const m of held) if (m.reply) m.respond(`done ${m.string()}`);
  const results = await within(Promise.all(pending), 10000, "the three requests");
  assert.equal(results[0].string(), "done r0");
  assert.equal(results[1].string(), "done r1");
  assert.ok(results[2] instanceof Error);
  // Singleton responses free their maps: the pool serves again.
  held.length = 0;
  const again = b.request("svc.slow", "r3", { timeout: 2000 });
  await waitFor(() => held.length >= 1, 5000, "the fourth request at the service");
  held[0].respond("done r3");
  assert.equal((await again).string(), "done r3");
  const varz = await getJSON(s.ports.http, "/varz");
  assert.equal(varz.natsedge_auth.service_replies_refused, 1);
  await Promise.all([a.close(), b.close()]);
  await s.stop();
});

test("natsedge-only (static response-permission table, NE_MAX_RESPONSE_PERMS; differences.md: Bounded tables): response permissions beyond the table forget the one nearest to expiring", { skip: brokerKind() === "nats-server" && "natsedge-only: nats-server's table grows" }, async () => {
  const s = await startServer({
    small: true,
    config:
      "authorization { users: [\n" +
      "  { user: r, password: r, permissions: { subscribe: \"svc.>\", allow_responses: true } }\n" +
      "  { user: q, password: q }\n] }\n",
  });
  const { client: r } = await rawHandshake(s.port, { verbose: false, pedantic: false, user: "r", pass: "r" });
  await r.send("SUB svc.a 1\r\nPING\r\n");
  await r.readUntil("PONG\r\n");
  const q = await connect({ servers: `127.0.0.1:${s.port}`, user: "q", pass: "q", reconnect: false });
  const inboxes = ["_INBOX.r1", "_INBOX.r2", "_INBOX.r3"];
  const subs = inboxes.map((i) => q.subscribe(i));
  await q.flush();
  // The small build keeps 2 response permissions: the third request pushes
  // out the first one's.
  for (const i of inboxes) q.publish("svc.a", "?", { reply: i });
  await q.flush();
  await r.readUntil(/MSG svc\.a 1 _INBOX\.r3 1\r\n\?\r\n/);
  await r.send("PUB _INBOX.r1 1\r\n1\r\nPUB _INBOX.r2 1\r\n2\r\nPUB _INBOX.r3 1\r\n3\r\nPING\r\n");
  const out = await r.readUntil("PONG\r\n");
  assert.match(out, /-ERR 'Permissions Violation for Publish to "_INBOX\.r1"'/);
  assert.doesNotMatch(out, /r2|r3/);
  const got = await Promise.all(subs.map((sub) => collect(sub, q)));
  assert.deepEqual(got.map((g) => g.map((m) => m.string())), [[], ["2"], ["3"]]);
  r.destroy();
  await q.close();
  await s.stop();
});
