// Core NATS through the real nats.js client (@nats-io/transport-node) against
// the broker binary in NATSEDGE_BIN (set it to /usr/sbin/nats-server for the
// reference run). CP-xx are the client-protocol facts of
// shared/reference/nats-inventory.md section 1.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { connect, headers, createInbox, RequestError, NoRespondersError } from "@nats-io/transport-node";
import { startServer, stopAll, rawHandshake, waitFor } from "./lib/harness.mjs";

let server;
const conns = [];

async function client(opts = {}) {
  const nc = await connect({ servers: server.url, reconnect: false, ...opts });
  conns.push(nc);
  return nc;
}

// Collects messages from an async-iterated subscription until `n` arrived;
// rejects after `ms`.
function collect(sub, n, ms = 5000) {
  return new Promise((resolve, reject) => {
    const got = [];
    const t = setTimeout(() => reject(new Error(`${sub.getSubject()}: got ${got.length} of ${n}`)), ms);
    (async () => {
      for await (const m of sub) {
        got.push(m);
        if (got.length === n) {
          clearTimeout(t);
          resolve(got);
          return;
        }
      }
    })().catch(reject);
  });
}

const sha = (b) => createHash("sha256").update(b).digest("hex");

function pattern(n, seed) {
  const p = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    p[i] = x & 0xff;
  }
  return p;
}

before(async () => {
  server = await startServer();
});

after(async () => {
  for (const nc of conns) if (!nc.isClosed()) await nc.close().catch(() => {});
  await stopAll();
});

test("INFO carries the fields clients read (CP-10, CP-12)", async () => {
  const nc = await client();
  const info = nc.info;
  assert.equal(info.proto, 1);
  assert.equal(info.headers, true);
  assert.ok(Number.isInteger(info.max_payload) && info.max_payload > 0);
  assert.ok(Number.isInteger(info.client_id) && info.client_id > 0);
  assert.equal(info.client_ip, "127.0.0.1");
  assert.match(info.version, /^2\.(9|1\d)\.\d+/);
  assert.match(info.server_id, /^N[A-Z2-7]{55}$/);
});

test("pub/sub: 100 messages arrive once each, in order (CP-25, CP-41)", async () => {
  const nc = await client();
  const pub = await client();
  const sub = nc.subscribe("core.order");
  const done = collect(sub, 100);
  await nc.flush();
  for (let i = 0; i < 100; i++) pub.publish("core.order", String(i));
  const msgs = await done;
  assert.deepEqual(msgs.map((m) => m.string()), [...Array(100).keys()].map(String));
  assert.ok(msgs.every((m) => m.subject === "core.order"));
  await pub.flush();
  await nc.flush();
  assert.equal(sub.getReceived(), 100);
});

test("wildcards: * is one token, > one or more, foo.> does not match foo (CP-54, CP-55)", async () => {
  const nc = await client();
  const star = nc.subscribe("wc.*");
  const gt = nc.subscribe("wc.>");
  const mid = nc.subscribe("wc.*.end");
  const starDone = collect(star, 1);
  const gtDone = collect(gt, 3);
  const midDone = collect(mid, 1);
  await nc.flush();
  for (const s of ["wc", "wc.a", "wc.a.b", "wc.x.end", "other.a"]) nc.publish(s, s);
  assert.deepEqual((await starDone).map((m) => m.subject), ["wc.a"]);
  assert.deepEqual((await gtDone).map((m) => m.subject), ["wc.a", "wc.a.b", "wc.x.end"]);
  assert.deepEqual((await midDone).map((m) => m.subject), ["wc.x.end"]);
  // Nothing more trickles in (foo.> must not have matched foo): the
  // publisher's own PING/PONG comes back after every MSG its PUBs caused.
  await nc.flush();
  assert.deepEqual([star.getReceived(), gt.getReceived(), mid.getReceived()], [1, 3, 1]);
});

test("queue group of 3: each of 300 messages to exactly one member, all members used (CP-58)", async () => {
  const pub = await client();
  const counts = [0, 0, 0];
  const members = [];
  for (let i = 0; i < 3; i++) {
    const nc = await client();
    nc.subscribe("q.work", { queue: "workers", callback: () => counts[i]++ });
    await nc.flush();
    members.push(nc);
  }
  for (let i = 0; i < 300; i++) pub.publish("q.work", String(i));
  await pub.flush();
  const total = () => counts.reduce((a, b) => a + b, 0);
  await waitFor(() => total() >= 300, 5000, "300 queue deliveries");
  // A PING/PONG on each member after the publisher's: any extra delivery
  // would have arrived before its PONG.
  for (const m of members) await m.flush();
  assert.equal(total(), 300, `counts ${counts}`);
  for (const c of counts) assert.ok(c > 0, `every member gets some: ${counts}`);
});

test("plain and queue subscribers together: plain get all, each queue group one copy (CP-58)", async () => {
  const pub = await client();
  const a = await client();
  const b = await client();
  let plain = 0;
  const g1 = [0, 0];
  const g2 = [0, 0];
  a.subscribe("mix.x", { callback: () => plain++ });
  a.subscribe("mix.x", { queue: "g1", callback: () => g1[0]++ });
  b.subscribe("mix.x", { queue: "g1", callback: () => g1[1]++ });
  a.subscribe("mix.*", { queue: "g2", callback: () => g2[0]++ });
  b.subscribe("mix.x", { queue: "g2", callback: () => g2[1]++ });
  await a.flush();
  await b.flush();
  for (let i = 0; i < 200; i++) pub.publish("mix.x");
  await pub.flush();
  const sum = (v) => v[0] + v[1];
  await waitFor(() => plain >= 200 && sum(g1) >= 200 && sum(g2) >= 200, 5000, "deliveries");
  await a.flush();
  await b.flush();
  assert.deepEqual([plain, sum(g1), sum(g2)], [200, 200, 200]);
  assert.ok(g1.every((c) => c > 0) && g2.every((c) => c > 0), `spread ${g1} ${g2}`);
});

test("request/reply: replies reach the requester, 50 concurrent requests (CP-25, CP-41)", async () => {
  const svc = await client();
  const req = await client();
  svc.subscribe("svc.echo", { callback: (_e, m) => m.respond(`echo:${m.string()}`) });
  await svc.flush();
  const r = await req.request("svc.echo", "hi", { timeout: 2000 });
  assert.equal(r.string(), "echo:hi");
  const many = await Promise.all([...Array(50).keys()].map((i) => req.request("svc.echo", String(i), { timeout: 3000 })));
  assert.deepEqual(many.map((m) => m.string()), [...Array(50).keys()].map((i) => `echo:${i}`));
});

test("headers round trip through HPUB/HMSG, multi-value keys and case kept (CP-26, CP-42, CP-61)", async () => {
  const nc = await client();
  const pub = await client();
  const sub = nc.subscribe("hdr.x");
  const done = collect(sub, 2);
  await nc.flush();
  const h = headers();
  h.set("X-One", "1");
  h.append("X-Multi", "a");
  h.append("X-Multi", "b");
  h.append("X-Multi", "c d");
  pub.publish("hdr.x", "body", { headers: h });
  const empty = headers();
  empty.set("Only-Header", "yes");
  pub.publish("hdr.x", undefined, { headers: empty });
  const [m1, m2] = await done;
  assert.equal(m1.headers.get("X-One"), "1");
  assert.deepEqual(m1.headers.values("X-Multi"), ["a", "b", "c d"]);
  assert.ok([...m1.headers.keys()].includes("X-Multi"));
  assert.equal(m1.string(), "body");
  assert.equal(m2.headers.get("Only-Header"), "yes");
  assert.equal(m2.data.length, 0);
});

test("no responders: a request with no subscriber fails with the 503 status, not a timeout (CP-32, CP-62)", async () => {
  const nc = await client();
  await assert.rejects(nc.request("nobody.home", "x", { timeout: 3000 }), (e) => {
    assert.ok(e instanceof RequestError, `${e}`);
    assert.ok(e.isNoResponders(), `${e}`);
    assert.ok(e.cause instanceof NoRespondersError);
    return true;
  });
  // The status itself, on a reply subscription of our own.
  const inbox = createInbox();
  const sub = nc.subscribe(inbox);
  const done = collect(sub, 1);
  nc.publish("nobody.home.either", "x", { reply: inbox });
  const [m] = await done;
  assert.equal(m.headers.code, 503);
  assert.equal(m.data.length, 0);
});

test("max_payload exactly is accepted and delivered intact (CP-28, CP-65)", async () => {
  const nc = await client();
  const other = await client();
  const max = nc.info.max_payload;
  const payload = pattern(max, 7);
  const s1 = nc.subscribe("maxp.x");
  const s2 = other.subscribe("maxp.x");
  const done = [collect(s1, 1, 10000), collect(s2, 1, 10000)];
  await nc.flush();
  await other.flush();
  nc.publish("maxp.x", payload);
  for (const d of done) {
    const [m] = await d;
    assert.equal(m.data.length, max);
    assert.equal(sha(m.data), sha(payload));
  }
  assert.equal(nc.isClosed(), false);
});

test("HPUB of max_payload bytes (headers included) is delivered; one more: -ERR 'Maximum Payload Violation' and close (CP-26, CP-28)", async () => {
  const hdrs = { verbose: false, pedantic: false, headers: true };
  const { client: sub } = await rawHandshake(server.port, hdrs);
  await sub.send("SUB maxh.x 1\r\nPING\r\n");
  await sub.readUntil("PONG\r\n");
  const { client: raw, info } = await rawHandshake(server.port, hdrs);
  const hdr = "NATS/1.0\r\n\r\n";
  const body = "h".repeat(info.max_payload - hdr.length);
  await raw.send(`HPUB maxh.x ${hdr.length} ${info.max_payload}\r\n${hdr}${body}\r\nPING\r\n`);
  assert.equal(await raw.readUntil("\r\n", 10000), "PONG\r\n");
  const want = `HMSG maxh.x 1 ${hdr.length} ${info.max_payload}\r\n${hdr}${body}\r\n`;
  assert.equal(await sub.readUntil(want, 10000), want);
  await raw.send(`HPUB maxh.x ${hdr.length} ${info.max_payload + 1}\r\n`);
  assert.equal(await raw.readUntil("\r\n"), "-ERR 'Maximum Payload Violation'\r\n");
  assert.ok(await raw.closedWithin(2000), "connection closed");
  sub.destroy();
});

test("max_payload + 1 on the wire: -ERR 'Maximum Payload Violation' and close (CP-28)", async () => {
  const { client: raw, info } = await rawHandshake(server.port);
  await raw.send(`PUB maxp.z ${info.max_payload + 1}\r\n`);
  const got = await raw.readUntil("\r\n");
  assert.equal(got, "-ERR 'Maximum Payload Violation'\r\n");
  assert.ok(await raw.closedWithin(2000), "connection closed");
});

test("unsubscribe with max: exactly 2 of 5 delivered (CP-39)", async () => {
  const nc = await client();
  const pub = await client();
  let n = 0;
  const sub = nc.subscribe("umax.x", { callback: () => n++ });
  sub.unsubscribe(2);
  await nc.flush();
  for (let i = 0; i < 5; i++) pub.publish("umax.x");
  await pub.flush();
  await waitFor(() => n >= 2, 3000, "2 deliveries");
  await nc.flush();
  assert.equal(n, 2);
  assert.equal(sub.isClosed(), true);
});

test("drain delivers what is in flight, then closes", async () => {
  const nc = await client();
  const pub = await client();
  let n = 0;
  nc.subscribe("drain.x", { callback: () => n++ });
  await nc.flush();
  for (let i = 0; i < 1000; i++) pub.publish("drain.x");
  await pub.flush();
  await nc.drain();
  assert.equal(n, 1000);
  assert.ok(nc.isClosed());
});

test("noEcho: a connection does not get its own messages, others' still arrive (CP-44)", async () => {
  const nc = await client({ noEcho: true });
  const other = await client();
  const got = [];
  nc.subscribe("echo.x", { callback: (_e, m) => got.push(m.string()) });
  await nc.flush();
  nc.publish("echo.x", "mine");
  await nc.flush();
  other.publish("echo.x", "theirs");
  await other.flush();
  await waitFor(() => got.length >= 1, 3000, "the other's message");
  await nc.flush();
  assert.deepEqual(got, ["theirs"]);
});

test("a connection subscribed to foo.* and > gets two copies (CP-44)", async () => {
  const nc = await client();
  const pub = await client();
  let a = 0;
  let b = 0;
  nc.subscribe("two.*", { callback: () => a++ });
  nc.subscribe(">", { callback: (_e, m) => m.subject === "two.x" && b++ });
  await nc.flush();
  pub.publish("two.x");
  await pub.flush();
  await waitFor(() => a + b >= 2, 3000, "two copies");
  await nc.flush();
  assert.deepEqual([a, b], [1, 1]);
});

test("100 KB .. max_payload payloads arrive intact at several subscribers (CP-08)", async () => {
  const pub = await client();
  const max = pub.info.max_payload;
  const sizes = [100 * 1024, 256 * 1024 + 3, 512 * 1024 + 7, max].filter((n) => n <= max);
  const s1 = await client();
  const s2 = await client();
  const subs = [s1.subscribe("big.x"), s2.subscribe("big.x"), s2.subscribe("big.*"), pub.subscribe("big.x")];
  const done = subs.map((s) => collect(s, sizes.length, 20000));
  for (const c of [s1, s2, pub]) await c.flush();
  const want = sizes.map((n, i) => {
    const p = pattern(n, 1000 + i);
    pub.publish("big.x", p);
    return { len: n, hash: sha(p) };
  });
  for (const d of done) {
    const got = (await d).map((m) => ({ len: m.data.length, hash: sha(m.data) }));
    assert.deepEqual(got, want);
  }
});

test("rtt and flush round trips (CP-46)", async () => {
  const nc = await client();
  const rtt = await nc.rtt();
  assert.ok(Number.isFinite(rtt) && rtt >= 0, `rtt ${rtt}`);
  await nc.flush();
});
