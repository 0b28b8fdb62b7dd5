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
import { startServer, stopAll, rawHandshake, kindOf, sleep, freePort } from "./lib/harness.mjs";

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

// Collects what a subscription receives for `ms`.
async function collect(sub, ms = 300) {
  const got = [];
  const done = (async () => {
    for await (const m of sub) got.push(m);
  })();
  await sleep(ms);
  sub.unsubscribe();
  await done;
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
  await pub.flush();
  const got = await collect(sub);
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
  const got = await collect(sub);
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
  await Promise.all([a.flush(), b.flush(), g.flush()]);
  const [ga, gb, gg] = await Promise.all([collect(sa), collect(sb), collect(sg)]);
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
  await a.flush();
  const [got, none] = await Promise.all([collect(sb), collect(direct)]);
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
  await a.flush();
  const got = await collect(sc);
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
  await a.flush();
  await a.close();
  const deadline = Date.now() + 3000;
  while (got.length < 4 && Date.now() < deadline) await sleep(20);
  sub.unsubscribe();
  await done;
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
  await sys.close();
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

test("service requests beyond the reply-map pool go out without a reply; the pool recovers (natsedge, NE_MAX_SERVICE_REPLIES)", async (t) => {
  if (kindOf(process.env.NATSEDGE_BIN) === "nats-server") return t.skip("natsedge's static reply-map pool");
  const monitor = await freePort();
  const s = await startServer({
    small: true,
    args: ["-m", String(monitor)],
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
  const deadline = Date.now() + 3000;
  while (held.length < 3 && Date.now() < deadline) await sleep(20);
  assert.equal(held.length, 3);
  assert.deepEqual(held.map((m) => Boolean(m.reply)), [true, true, false]);
  for (const m of held) if (m.reply) m.respond(`done ${m.string()}`);
  const results = await Promise.all(pending);
  assert.equal(results[0].string(), "done r0");
  assert.equal(results[1].string(), "done r1");
  assert.ok(results[2] instanceof Error);
  // Singleton responses free their maps: the pool serves again.
  held.length = 0;
  const again = b.request("svc.slow", "r3", { timeout: 2000 });
  while (held.length < 1 && Date.now() < deadline + 2000) await sleep(20);
  held[0].respond("done r3");
  assert.equal((await again).string(), "done r3");
  const varz = await (await fetch(`http://127.0.0.1:${monitor}/varz`, { signal: AbortSignal.timeout(5000) })).json();
  assert.equal(varz.natsedge_auth.service_replies_refused, 1);
  await Promise.all([a.close(), b.close()]);
  await s.stop();
});

test("response permissions beyond the table forget the one nearest to expiring (natsedge, NE_MAX_RESPONSE_PERMS)", async (t) => {
  if (kindOf(process.env.NATSEDGE_BIN) === "nats-server") return t.skip("natsedge's static response-permission table");
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
  const got = await Promise.all(subs.map((sub) => collect(sub, 200)));
  assert.deepEqual(got.map((g) => g.map((m) => m.string())), [[], ["2"], ["3"]]);
  r.destroy();
  await q.close();
  await s.stop();
});
