// Limits against the small-limits broker: natsedge's NATSEDGE_SMALL_BIN
// (config/profiles/test-small.h: 8 connections, 128 KiB max_pending, 64 KiB
// max_payload, 32 subscriptions) or, for the reference run, nats-server with
// the same limits in a config file (harness SMALL_CONFIG). The client that hits
// a limit gets nats-server's answer; everyone else keeps working. A fresh
// broker per test. CP-xx: shared/reference/nats-inventory.md section 1.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { startServer, stopAll, rawConnect, rawHandshake, parseInfo, kindOf, waitFor, getJSON } from "./lib/harness.mjs";

const SMALL_BIN = process.env.NATSEDGE_SMALL_BIN || process.env.NATSEDGE_BIN;
const SMALL_KIND = kindOf(SMALL_BIN);
const conns = [];

async function client(server, opts = {}) {
  const nc = await connect({ servers: server.url, reconnect: false, ...opts });
  conns.push(nc);
  return nc;
}

after(async () => {
  for (const nc of conns) if (!nc.isClosed()) await nc.close().catch(() => {});
  await stopAll();
});

test("connection limit: the 9th client gets INFO, -ERR 'maximum connections exceeded', close; the 8 keep working; a freed slot is reused (CP-69)", async () => {
  const server = await startServer({ small: true, ports: ["http"], args: (p) => ["-m", String(p.http)] });
  try {
    // The harness's readiness probe held a connection: wait until the broker
    // has let it go, so that the count below starts from zero.
    await waitFor(async () => (await getJSON(server.ports.http, "/varz")).connections === 0, 5000, "no connections");
    const pub = await client(server);
    const sub = await client(server);
    const raws = [];
    for (let i = 0; i < 6; i++) {
      const { client: r } = await rawHandshake(server.port);
      raws.push(r);
    }
    // Every one of the 8 is really admitted (answers PING).
    for (const r of raws) {
      await r.send("PING\r\n");
      assert.equal(await r.readUntil("PONG\r\n"), "PONG\r\n");
    }

    const ninth = await rawConnect(server.port);
    assert.ok(await ninth.closedWithin(3000), "the 9th connection is closed");
    const bytes = ninth.received();
    assert.match(bytes, /^INFO \{.*\} ?\r\n-ERR 'maximum connections exceeded'\r\n$/s);
    parseInfo(bytes); // a complete, valid INFO comes first

    // nats.js fails to connect (with the -ERR text, or EPIPE when the close
    // wins the race with its CONNECT).
    await assert.rejects(connect({ servers: server.url, reconnect: false, timeout: 3000 }));

    // The 8 still work: nats.js pub/sub flows, raw clients answer and receive.
    const got = [];
    sub.subscribe("lim.x", { callback: (_e, m) => got.push(m.string()) });
    await sub.flush();
    await raws[0].send("SUB lim.x 1\r\nPING\r\n");
    await raws[0].readUntil("PONG\r\n");
    for (let i = 0; i < 10; i++) pub.publish("lim.x", String(i));
    await pub.flush();
    await waitFor(() => got.length === 10, 3000, "10 messages to the nats.js subscriber");
    assert.deepEqual(got, [...Array(10).keys()].map(String));
    await raws[0].readUntil("MSG lim.x 1 1\r\n9\r\n");

    // One leaves: a new client is accepted (the broker may need a moment to see the close).
    await raws[5].destroy();
    const again = await waitFor(async () => {
      try {
        return await connect({ servers: server.url, reconnect: false, timeout: 2000 });
      } catch {
        return null;
      }
    }, 5000, "a new client after one left");
    conns.push(again);
    await again.flush();
    // ...and the one after it is refused again.
    const tenth = await rawConnect(server.port);
    assert.ok(await tenth.closedWithin(3000));
    assert.match(tenth.received(), /\r\n-ERR 'maximum connections exceeded'\r\n$/);
    for (const r of raws) r.destroy();
  } finally {
    await server.stop();
  }
});

test("slow consumer: a subscriber that never reads is closed without -ERR; a healthy subscriber gets every message; the publisher stays (CP-51, CP-66)", async () => {
  // nats-server closes a slow consumer's socket only when its blocked write
  // times out (write_deadline, default 10 s): shorten it for the reference run.
  const server = await startServer({
    small: true,
    ports: ["http"],
    args: (p) => ["-m", String(p.http)],
    config: SMALL_KIND === "nats-server" ? 'write_deadline: "2s"\n' : null,
  });
  const mport = server.ports.http;
  try {
    const healthy = await client(server);
    const pub = await client(server);
    let got = 0;
    let bad = 0;
    healthy.subscribe("flood", {
      callback: (_e, m) => {
        if (m.data.length !== 16 * 1024 || m.data[0] !== 0x41) bad++;
        got++;
      },
    });
    await healthy.flush();

    const { client: slow } = await rawHandshake(server.port);
    await slow.send("SUB flood 1\r\nPING\r\n");
    await slow.readUntil("PONG\r\n");
    slow.socket.pause(); // never read again: the broker's queue for it grows

    const payload = new Uint8Array(16 * 1024).fill(0x41);
    const total = 640; // 10 MiB
    for (let i = 0; i < total; i++) {
      pub.publish("flood", payload);
      if (i % 16 === 15) await pub.flush();
    }
    await pub.flush();
    await waitFor(() => got >= total, 20000, `${total} messages at the healthy subscriber (got ${got})`);
    await healthy.flush();
    assert.equal(got, total);
    assert.equal(bad, 0);
    assert.equal(pub.isClosed(), false);
    assert.equal(healthy.isClosed(), false);

    // Read what the kernel buffered for the slow one: it ends in a close,
    // with no -ERR, having missed messages.
    slow.socket.resume();
    assert.ok(await slow.closedWithin(15000), "the slow consumer was disconnected");
    const bytes = slow.received();
    assert.doesNotMatch(bytes, /-ERR/);
    assert.ok(bytes.length < total * payload.length, "the slow consumer did not get everything");

    // Counted, with the reason kept for /connz.
    const varz = await getJSON(mport, "/varz");
    assert.ok(varz.slow_consumers >= 1, `slow_consumers ${varz.slow_consumers}`);
    const closed = await getJSON(mport, "/connz?state=closed");
    assert.ok(closed.connections.some((c) => /^Slow Consumer/.test(c.reason)), JSON.stringify(closed.connections.map((c) => c.reason)));

    // The publisher and the healthy subscriber still work.
    const before = got;
    pub.publish("flood", payload);
    await pub.flush();
    await waitFor(() => got === before + 1, 3000, "one more message");
  } finally {
    await server.stop();
  }
});

test("subscription limit: SUBs past it get -ERR 'maximum subscriptions exceeded', the connection and its subscriptions stay (CP-36)", async () => {
  const server = await startServer({ small: true });
  try {
    const { client: r } = await rawHandshake(server.port);
    let cmds = "";
    for (let i = 1; i <= 40; i++) cmds += `SUB s.${i} ${i}\r\n`;
    await r.send(cmds + "PING\r\n");
    const got = await r.readUntil("PONG\r\n");
    const errs = got.match(/-ERR 'maximum subscriptions exceeded'\r\n/g) ?? [];
    assert.ok(errs.length >= 8, got);
    assert.equal(got, errs.join("") + "PONG\r\n");
    const nc = await client(server);
    nc.publish("s.3", "to an existing sub");
    await nc.flush();
    assert.equal(await r.readUntil("existing sub\r\n"), "MSG s.3 3 18\r\nto an existing sub\r\n");
    r.destroy();
  } finally {
    await server.stop();
  }
});

test("stale connection: ping_interval 1s, ping_max 2: PING, PING, -ERR 'Stale Connection', close; a client that answers stays (CP-48, CP-49)", async () => {
  const server = await startServer({ config: 'ping_interval: "1s"\nping_max: 2\n' });
  try {
    const live = await client(server); // nats.js answers the server's PINGs
    const { client: mute } = await rawHandshake(server.port);
    const t0 = Date.now();
    assert.ok(await mute.closedWithin(8000), "the mute client is closed");
    // Two unanswered intervals at least (a lower bound: never a speed check).
    assert.ok(Date.now() - t0 >= 1500, `closed after ${Date.now() - t0} ms`);
    assert.equal(await mute.readAll(0), "PING\r\nPING\r\n-ERR 'Stale Connection'\r\n");
    assert.equal(live.isClosed(), false);
    await live.flush();
  } finally {
    await server.stop();
  }
});

// A subscriber that reads nothing while what it was sent is still under
// max_pending: once the kernel's buffers are full the broker's write makes no
// progress, and after write_deadline the subscriber is closed (nats-server's
// SlowConsumerWriteDeadline). Both brokers in their default builds.
test("write deadline: a subscriber that takes no bytes for write_deadline is closed as 'Slow Consumer (Write Deadline)' below max_pending; the others keep working (CP-67)", async () => {
  const server = await startServer({ ports: ["http"], args: (p) => ["-m", String(p.http)], config: 'write_deadline: "1s"\n' });
  try {
    const http = server.ports.http;
    const healthy = await client(server);
    const pub = await client(server);
    let got = 0;
    healthy.subscribe("wd.flood", { callback: () => got++ });
    await healthy.flush();
    const { client: slow, info } = await rawHandshake(server.port);
    await slow.send("SUB wd.flood 1\r\nPING\r\n");
    await slow.readUntil("PONG\r\n");
    slow.socket.pause(); // reads nothing from here on
    const maxPending = (await getJSON(http, "/varz")).max_pending;
    const payload = new Uint8Array(16 * 1024).fill(0x57);
    // Publish until the broker holds bytes for the slow subscriber that the
    // kernel would not take (its pending_bytes), then stop: well below
    // max_pending, so only the write deadline can close it. Bytes seen
    // pending once may only mean the broker's writer had not run yet (a
    // loaded machine): they count when half a second later, with nothing
    // new published, they are still there, i.e. the kernel's buffers are
    // full and every further write stalls.
    let sent = 0;
    let pending = 0;
    const pendingNow = async () => {
      const row = (await getJSON(http, `/connz?cid=${info.client_id}`)).connections.find((c) => c.cid === info.client_id);
      assert.ok(row, "the slow subscriber is still open while the kernel takes its bytes");
      return row.pending_bytes;
    };
    while (pending === 0) {
      for (let i = 0; i < 16; i++) pub.publish("wd.flood", payload);
      sent += 16;
      await pub.flush();
      assert.ok(sent * payload.length < 256 * 1024 * 1024, "the kernel took 256 MiB without the broker holding any");
      if ((await pendingNow()) === 0) continue;
      await new Promise((r) => setTimeout(r, 500));
      pending = await pendingNow();
    }
    assert.ok(pending < maxPending, `pending ${pending} of max_pending ${maxPending}`);
    // Closed as a slow consumer by the deadline, counted, with that reason.
    // A message every half second meanwhile (16 KiB: at most 1 MiB in the
    // 30 s, far below max_pending) gives a broker that writes only when it
    // has something new to write (nats-server's flusher) an attempt to see
    // its deadline passed, however late a loaded machine runs it.
    const trickle = setInterval(() => {
      pub.publish("wd.flood", payload);
      sent++;
    }, 500);
    let closedRow;
    try {
      closedRow = await waitFor(async () => {
        const z = await getJSON(http, "/connz?state=closed");
        return z.connections.find((c) => c.cid === info.client_id);
      }, 30000, "the slow subscriber in the closed connections (each write that makes no progress may wait write_deadline; a loaded machine delays it)");
    } finally {
      clearInterval(trickle);
    }
    await pub.flush();
    assert.equal(closedRow.reason, "Slow Consumer (Write Deadline)");
    assert.ok((await getJSON(http, "/varz")).slow_consumers >= 1);
    slow.socket.resume();
    assert.ok(await slow.closedWithin(5000), "the socket is closed");
    assert.doesNotMatch(slow.received(), /-ERR/);
    // The healthy subscriber got everything; the publisher is still there.
    await waitFor(() => got === sent, 10000, `${sent} messages at the healthy subscriber (got ${got})`);
    pub.publish("wd.flood", payload);
    await pub.flush();
    await waitFor(() => got === sent + 1, 3000, "one more message");
  } finally {
    await server.stop();
  }
});

test("max_subscriptions per connection: SUBs past it get -ERR 'maximum subscriptions exceeded', the connection and its other subscriptions stay, an UNSUB makes room, other connections have their own (CP-36, CFG-15)", async () => {
  const server = await startServer({ config: "max_subscriptions: 3\n" });
  try {
    const { client: a } = await rawHandshake(server.port);
    const got = await roundTripRaw(a, "SUB ms.a 1\r\nSUB ms.b 2\r\nSUB ms.c 3\r\nSUB ms.d 4\r\nSUB ms.e 5\r\n");
    assert.equal(got, "-ERR 'maximum subscriptions exceeded'\r\n".repeat(2));
    assert.equal(await roundTripRaw(a, "UNSUB 1\r\nSUB ms.f 6\r\nPUB ms.d 1\r\nd\r\nPUB ms.f 1\r\nf\r\nPUB ms.c 1\r\nc\r\n"),
      "MSG ms.f 6 1\r\nf\r\nMSG ms.c 3 1\r\nc\r\n");
    const { client: b } = await rawHandshake(server.port);
    assert.equal(await roundTripRaw(b, "SUB ms.x 1\r\nSUB ms.y 2\r\nSUB ms.z 3\r\n"), "");
    assert.equal(a.isClosed() || b.isClosed(), false);
    a.destroy();
    b.destroy();
  } finally {
    await server.stop();
  }
});

// natsedge delivers a message to at most NE_MAX_FANOUT (1024) matching
// subscriptions and counts the rest (differences.md, "Static limits");
// nats-server delivers to every one.
test("fan-out overflow at the server: a message matching 1025 subscriptions reaches 1024 on natsedge (NE_MAX_FANOUT), 1025 on nats-server; the next message is delivered as usual", async () => {
  const server = await startServer();
  try {
    const { client: c } = await rawHandshake(server.port);
    let subs = "";
    for (let i = 1; i <= 1025; i++) subs += `SUB fan.x ${i}\r\n`;
    assert.equal(await roundTripRaw(c, subs), "");
    const out = await roundTripRaw(c, "PUB fan.x 1\r\nz\r\n");
    const sids = [...out.matchAll(/MSG fan\.x (\d+) 1\r\nz\r\n/g)].map((m) => Number(m[1]));
    assert.equal(sids.length, server.kind === "natsedge" ? 1024 : 1025);
    assert.equal(new Set(sids).size, sids.length, "no subscription got two copies");
    // At the bound (1024 subscriptions) everything is delivered on both.
    const again = await roundTripRaw(c, "UNSUB 1\r\nPUB fan.x 1\r\ny\r\n");
    assert.equal((again.match(/MSG fan\.x \d+ 1\r\ny\r\n/g) ?? []).length, 1024);
    c.destroy();
  } finally {
    await server.stop();
  }
});

// Sends `data` then PING on a raw client and returns what came before the PONG.
async function roundTripRaw(c, data, ms = 5000) {
  await c.send(data + "PING\r\n");
  const got = await c.readUntil("PONG\r\n", ms);
  return got.slice(0, -"PONG\r\n".length);
}
