// Limits against the small-limits broker: natsedge's NATSEDGE_SMALL_BIN
// (config/profiles/test-small.h: 8 connections, 128 KiB max_pending, 64 KiB
// max_payload, 32 subscriptions) or, for the reference run, nats-server with
// the same limits in a config file (harness SMALL_CONFIG). The client that hits
// a limit gets nats-server's answer; everyone else keeps working. A fresh
// broker per test. CP-xx: shared/reference/nats-inventory.md section 1.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { startServer, stopAll, rawConnect, rawHandshake, parseInfo, freePort, kindOf, sleep, waitFor } from "./lib/harness.mjs";

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
  const server = await startServer({ small: true });
  try {
    await sleep(100); // let the harness's readiness probe connection go away
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
  const mport = await freePort();
  // nats-server closes a slow consumer's socket only when its blocked write
  // times out (write_deadline, default 10 s): shorten it for the reference run.
  const server = await startServer({
    small: true,
    args: ["-m", String(mport)],
    config: SMALL_KIND === "nats-server" ? 'write_deadline: "2s"\n' : null,
  });
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
    const varz = await (await fetch(`http://127.0.0.1:${mport}/varz`)).json();
    assert.ok(varz.slow_consumers >= 1, `slow_consumers ${varz.slow_consumers}`);
    const closed = await (await fetch(`http://127.0.0.1:${mport}/connz?state=closed`)).json();
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

// natsedge has no ping_interval flag and nats-server none either: this needs a
// config file, which natsedge reads once NATSEDGE_HAS_CONFIG=1 says so.
const staleSkip =
  kindOf(process.env.NATSEDGE_BIN) === "nats-server" || process.env.NATSEDGE_HAS_CONFIG === "1"
    ? false
    : "ping_interval needs a config file; set NATSEDGE_HAS_CONFIG=1 when natsedge reads -c";

test("stale connection: ping_interval 1s, ping_max 2: PING, PING, -ERR 'Stale Connection', close; a client that answers stays (CP-48, CP-49)", { skip: staleSkip }, async () => {
  const server = await startServer({ config: 'ping_interval: "1s"\nping_max: 2\n' });
  try {
    const live = await client(server); // nats.js answers the server's PINGs
    const { client: mute } = await rawHandshake(server.port);
    const t0 = Date.now();
    assert.ok(await mute.closedWithin(8000), "the mute client is closed");
    const elapsed = Date.now() - t0;
    assert.equal(await mute.readAll(0), "PING\r\nPING\r\n-ERR 'Stale Connection'\r\n");
    assert.ok(elapsed > 1500 && elapsed < 6000, `closed after ${elapsed} ms`);
    assert.equal(live.isClosed(), false);
    await live.flush();
  } finally {
    await server.stop();
  }
});
