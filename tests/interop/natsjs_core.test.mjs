// Core NATS with the real nats.js client (@nats-io/transport-node) against the
// broker binary (NATSEDGE_BIN; set it to /usr/sbin/nats-server for the
// reference run). IDs refer to shared/reference/nats-inventory.md.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { connect, headers } from "@nats-io/transport-node";
import { freePort, startProcess } from "./lib/proc.mjs";

const BIN = process.env.NATSEDGE_BIN;
let port;
let broker;
const conns = [];

async function client(opts = {}) {
  const nc = await connect({ servers: `127.0.0.1:${port}`, reconnect: false, ...opts });
  conns.push(nc);
  return nc;
}

function collect(sub, n, ms = 5000) {
  return new Promise((resolve, reject) => {
    const got = [];
    const t = setTimeout(() => reject(new Error(`got ${got.length} of ${n}`)), ms);
    (async () => {
      for await (const m of sub) {
        got.push(m);
        if (got.length === n) { clearTimeout(t); resolve(got); return; }
      }
    })().catch(reject);
  });
}

before(async () => {
  port = await freePort();
  broker = await startProcess(BIN, ["-a", "127.0.0.1", "-p", String(port)], [port]);
});

after(async () => {
  for (const nc of conns) if (!nc.isClosed()) await nc.close();
  await broker.stop();
});

test("INFO carries the fields clients read (CP-10, CP-12)", async () => {
  const nc = await client();
  assert.equal(nc.info.proto, 1);
  assert.equal(nc.info.headers, true);
  assert.ok(nc.info.max_payload > 0);
  assert.ok(nc.info.client_id > 0);
  assert.match(nc.info.version, /^2\.9\./);
  assert.match(nc.info.server_id, /^N[A-Z2-7]{55}$/);
});

test("publish and subscribe with an exact count", async () => {
  const nc = await client();
  const sub = nc.subscribe("core.exact");
  const done = collect(sub, 100);
  await nc.flush();
  for (let i = 0; i < 100; i++) nc.publish("core.exact", String(i));
  const msgs = await done;
  assert.deepEqual(msgs.map((m) => m.string()), [...Array(100).keys()].map(String));
});

test("wildcards: * one token, > one or more, foo.> not foo (CP-54, CP-55)", async () => {
  const nc = await client();
  const star = nc.subscribe("w.*");
  const gt = nc.subscribe("w.>");
  const starDone = collect(star, 1);
  const gtDone = collect(gt, 2);
  await nc.flush();
  nc.publish("w");
  nc.publish("w.a");
  nc.publish("w.a.b");
  assert.deepEqual((await starDone).map((m) => m.subject), ["w.a"]);
  assert.deepEqual((await gtDone).map((m) => m.subject), ["w.a", "w.a.b"]);
});

test("queue group of 3 members: each message to exactly one, spread (CP-58)", async () => {
  const pub = await client();
  const counts = [0, 0, 0];
  const members = [];
  for (let i = 0; i < 3; i++) {
    const nc = await client();
    members.push(nc);
    nc.subscribe("q.work", { queue: "workers", callback: () => counts[i]++ });
    await nc.flush();
  }
  let plain = 0;
  pub.subscribe("q.work", { callback: () => plain++ });
  await pub.flush();
  for (let i = 0; i < 300; i++) pub.publish("q.work", "x");
  await pub.flush();
  for (const m of members) await m.flush();
  const deadline = Date.now() + 5000;
  while (counts.reduce((a, b) => a + b) < 300 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(counts.reduce((a, b) => a + b), 300);
  assert.equal(plain, 300);
  for (const c of counts) assert.ok(c > 30, `spread ${counts}`);
});

test("request/reply", async () => {
  const nc = await client();
  nc.subscribe("svc.echo", { callback: (_e, m) => m.respond(`echo:${m.string()}`) });
  await nc.flush();
  const r = await nc.request("svc.echo", "hi", { timeout: 2000 });
  assert.equal(r.string(), "echo:hi");
});

test("headers round trip, repeated keys kept (CP-42, CP-61)", async () => {
  const nc = await client();
  const sub = nc.subscribe("h.x");
  const done = collect(sub, 1);
  await nc.flush();
  const h = headers();
  h.set("X-One", "1");
  h.append("X-Multi", "a");
  h.append("X-Multi", "b");
  nc.publish("h.x", "body", { headers: h });
  const [m] = await done;
  assert.equal(m.headers.get("X-One"), "1");
  assert.deepEqual(m.headers.values("X-Multi"), ["a", "b"]);
  assert.equal(m.string(), "body");
});

test("no responders: a request nobody serves fails at once with 503 (CP-32)", async () => {
  const nc = await client();
  const t0 = Date.now();
  await assert.rejects(nc.request("nobody.home", "x", { timeout: 3000 }), /no responders/i);
  assert.ok(Date.now() - t0 < 2000);
});

test("max_payload exactly is delivered intact to several subscribers", async () => {
  const nc = await client();
  const max = nc.info.max_payload;
  const payload = new Uint8Array(max);
  for (let i = 0; i < max; i++) payload[i] = (i * 31) & 0xff;
  const want = createHash("sha256").update(payload).digest("hex");
  const subs = [nc.subscribe("big.x"), (await client()).subscribe("big.x")];
  const done = subs.map((s) => collect(s, 1, 10000));
  await Promise.all(conns.map((c) => c.flush()));
  nc.publish("big.x", payload);
  for (const d of done) {
    const [m] = await d;
    assert.equal(m.data.length, max);
    assert.equal(createHash("sha256").update(m.data).digest("hex"), want);
  }
});

test("max_payload + 1 is refused by the client before sending", async () => {
  const nc = await client();
  assert.throws(() => nc.publish("big.y", new Uint8Array(nc.info.max_payload + 1)), /payload/i);
});

test("unsubscribe with max delivers exactly max (CP-39)", async () => {
  const nc = await client();
  let n = 0;
  const sub = nc.subscribe("u.max", { callback: () => n++ });
  sub.unsubscribe(2);
  await nc.flush();
  for (let i = 0; i < 5; i++) nc.publish("u.max");
  await nc.flush();
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(n, 2);
});

test("echo off suppresses the connection's own messages (CP-44)", async () => {
  const nc = await client({ noEcho: true });
  const other = await client();
  let mine = 0;
  nc.subscribe("e.x", { callback: () => mine++ });
  await nc.flush();
  nc.publish("e.x");
  await nc.flush();
  other.publish("e.x");
  await other.flush();
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(mine, 1);
});

test("one connection with two matching subscriptions gets two copies (CP-44)", async () => {
  const nc = await client();
  let a = 0, b = 0;
  nc.subscribe("two.x", { callback: () => a++ });
  nc.subscribe(">", { callback: (_e, m) => { if (m.subject === "two.x") b++; } });
  await nc.flush();
  nc.publish("two.x");
  await nc.flush();
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual([a, b], [1, 1]);
});

test("drain delivers what is in flight, then closes", async () => {
  const nc = await client();
  const pub = await client();
  let n = 0;
  nc.subscribe("d.x", { callback: () => n++ });
  await nc.flush();
  for (let i = 0; i < 1000; i++) pub.publish("d.x");
  await pub.flush();
  await nc.drain();
  assert.equal(n, 1000);
  assert.ok(nc.isClosed());
});

test("large payloads (256 KiB .. 1 MiB) split across reads arrive intact", async () => {
  const nc = await client();
  const sub = nc.subscribe("l.x");
  const sizes = [256 * 1024, 512 * 1024 + 7, nc.info.max_payload];
  const done = collect(sub, sizes.length, 10000);
  await nc.flush();
  const sent = sizes.map((n) => {
    const p = new Uint8Array(n);
    for (let i = 0; i < n; i++) p[i] = (i ^ n) & 0xff;
    nc.publish("l.x", p);
    return createHash("sha256").update(p).digest("hex");
  });
  const got = (await done).map((m) => createHash("sha256").update(m.data).digest("hex"));
  assert.deepEqual(got, sent);
});

test("rtt and flush round trips", async () => {
  const nc = await client();
  const rtt = await nc.rtt();
  assert.ok(rtt >= 0 && rtt < 1000);
  await nc.flush();
});
