// Idle MQTT connections. natsedge parks an idle MQTT connection
// (NE_CONN_PARKING, docs/mqtt.md "Idle connections"): its header, I/O part,
// client and session go back to their pools and a 152 B record keeps what
// it needs until input, its keep-alive deadline, a takeover or monitoring
// brings it back. None of that may show: these assertions hold on every
// broker of the pass (nats-server 2.9.10 or mosquitto 2.0.11 in the parity
// pass); that the clients were parked is checked on natsedge only
// (/varz natsedge_pools.parked_connections). IDs: mqtt-inventory.md (M3-,
// MB-) and nats-inventory.md (MQ-, MON-).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { stopAll, getJSON, waitFor } from "./lib/harness.mjs";
import {
  startMqtt, connectMqtt, endAllMqtt, inbox, rawMqtt, connectPacket, packet, str, hex,
} from "./lib/mqtt.mjs";

const brokers = [];
async function broker(opts = {}) {
  const b = await startMqtt(opts);
  brokers.push(b);
  return b;
}

after(async () => {
  await endAllMqtt();
  for (const b of brokers) await b.stop();
  await stopAll();
});

// Parked connections now (natsedge), null on the other brokers.
async function parked(b) {
  if (b.kind !== "natsedge") return null;
  return (await getJSON(b.httpPort, "/varz?natsedge=1")).natsedge_pools.parked_connections;
}

// Waits until at least n connections are parked (natsedge only).
async function untilParked(b, n) {
  if (b.kind !== "natsedge") return;
  await waitFor(async () => (await parked(b)) >= n, 5000, `${n} parked connections`);
}

// A raw 3.1.1 client, connected (CONNACK 0x00 read).
async function rawClient(b, opts) {
  const c = await rawMqtt(b.mqttPort);
  await c.send(opts.packet ?? connectPacket(opts));
  const p = await c.next(5000);
  assert.ok(p, "closed without CONNACK");
  assert.equal(hex(p.bytes), "20020000");
  return c;
}

// CONNECT 3.1.1, clean session, with a QoS 0 will.
function connectWithWill({ id, keepAlive = 60, topic, message }) {
  const head = Buffer.concat([str("MQTT"), Buffer.from([4, 0x06, keepAlive >> 8, keepAlive & 0xff])]);
  return packet(0x10, head, str(id), str(topic), str(message));
}

test("idle clients publish, ping and are listed as before (M3-24, MQ-13, MON-02)", async () => {
  const b = await broker();
  const sub = await connectMqtt(b, { clientId: "park-sub" });
  const got = inbox(sub);
  await sub.subscribeAsync("park/#", { qos: 1 });
  const idle = [];
  for (const id of ["park-1", "park-2", "park-3"]) idle.push(await rawClient(b, { id }));
  await untilParked(b, 3);
  if (b.httpPort !== null) {
    const z = await waitFor(async () => {
      const r = await getJSON(b.httpPort, "/connz?mqtt_client=park-2");
      return r.connections.length === 1 ? r : null;
    }, 5000, "park-2 in /connz");
    const row = z.connections[0];
    assert.equal(row.type, "mqtt");
    assert.equal(row.mqtt_client, "park-2");
    assert.equal(row.ip, "127.0.0.1");
    assert.equal(row.port, idle[1].socket.localPort);
    assert.equal(row.subscriptions, 0);
    const all = await getJSON(b.httpPort, "/connz");
    const ids = all.connections.map((r) => r.mqtt_client).filter(Boolean).sort();
    assert.deepEqual(ids, ["park-1", "park-2", "park-3", "park-sub"]);
    assert.equal((await getJSON(b.httpPort, "/varz")).connections, 4);
    // A PINGREQ brings it back and it parks again, with the same identity.
    await idle[1].send(Buffer.from([0xc0, 0x00]));
    assert.equal(hex((await idle[1].next(5000)).bytes), "d000");
    await untilParked(b, 3);
    const again = await getJSON(b.httpPort, "/connz?mqtt_client=park-2");
    assert.equal(again.connections[0].cid, row.cid);
    assert.equal(again.connections[0].start, row.start);
  }
  // QoS 1 and QoS 0 from parked clients reach the subscriber.
  await idle[0].send(packet(0x32, str("park/a"), Buffer.from([0, 7]), Buffer.from("one")));
  assert.equal(hex((await idle[0].next(5000)).bytes), "40020007");
  await idle[2].send(packet(0x30, str("park/b"), Buffer.from("two")));
  const msgs = await got.wait(2);
  assert.deepEqual(msgs.map((m) => `${m.topic}=${m.payload}`).sort(), ["park/a=one", "park/b=two"]);
  if (b.httpPort !== null) {
    const rows = (await getJSON(b.httpPort, "/connz?mqtt_client=park-1")).connections;
    assert.equal(rows[0].in_msgs, 1);
  }
  for (const c of idle) await c.destroy();
});

test("an idle client taken over by its client id is closed and its will goes out (M3-34, M5-22, MB-29)", async () => {
  const b = await broker({ need: "mqtt" });
  const sub = await connectMqtt(b, { clientId: "will-sub" });
  const got = inbox(sub);
  await sub.subscribeAsync("park/will", { qos: 0 });
  const old = await rawClient(b, { packet: connectWithWill({ id: "dup-1", topic: "park/will", message: "gone" }) });
  await untilParked(b, 1);
  const fresh = await rawClient(b, { id: "dup-1" });
  assert.ok(await old.closed(5000), "the old connection is closed");
  const msgs = await got.wait(1, 5000, "the old connection's will");
  assert.equal(msgs[0].payload, "gone");
  // The new one is the client id's now.
  await fresh.send(Buffer.from([0xc0, 0x00]));
  assert.equal(hex((await fresh.next(5000)).bytes), "d000");
  await fresh.destroy();
});

test("an idle client past one and a half times its keep-alive is closed and its will goes out (M3-24, M3-35, MQ-08)", async () => {
  const b = await broker({ need: "mqtt" });
  const sub = await connectMqtt(b, { clientId: "ka-sub" });
  const got = inbox(sub);
  await sub.subscribeAsync("park/ka", { qos: 0 });
  const c = await rawClient(b, { packet: connectWithWill({ id: "ka-1", keepAlive: 1, topic: "park/ka", message: "late" }) });
  assert.ok(await c.closed(8000), "closed after 1.5 s without a packet");
  const msgs = await got.wait(1, 5000, "the will");
  assert.equal(msgs[0].payload, "late");
});

test("an idle MQTT 5 client binds and uses a topic alias after it was parked (M5-28)", async () => {
  const b = await broker({ need: "mqtt" });
  const sub = await connectMqtt(b, { clientId: "al-sub", protocolVersion: 5 });
  const got = inbox(sub);
  await sub.subscribeAsync("alias/#", { qos: 0 });
  const c = await rawMqtt(b.mqttPort);
  await c.send(connectPacket({ version: 5, id: "al-1" }));
  const ack = await c.next(5000);
  assert.equal(ack.type, 2);
  assert.equal(ack.body[1], 0, "CONNACK success");
  // The Topic Alias Maximum it was told (property 0x22), at least 1.
  const alias = ack.body.indexOf(0x22, 3);
  assert.ok(alias > 0 && ack.body.readUInt16BE(alias + 1) >= 1, hex(ack.bytes));
  await untilParked(b, 1);
  const aliasProp = Buffer.from([3, 0x23, 0, 1]); // properties: Topic Alias 1
  await c.send(packet(0x30, str("alias/x"), aliasProp, Buffer.from("a")));
  await c.send(packet(0x30, str(""), aliasProp, Buffer.from("b")));
  const msgs = await got.wait(2);
  assert.deepEqual(msgs.map((m) => `${m.topic}=${m.payload}`), ["alias/x=a", "alias/x=b"]);
  if (b.kind === "natsedge") {
    // Its alias table is taken now and kept: it is not parked again.
    const pools = (await getJSON(b.httpPort, "/varz?natsedge=1")).natsedge_pools;
    assert.equal(pools.mqtt_alias_tables, 1);
    assert.equal(pools.parked_connections, 0);
  }
  await c.destroy();
});

test("natsedge-only: a socket that sends no CONNECT is parked, and closed at its deadline (MQ-05)", async (t) => {
  const b = await broker();
  if (b.kind !== "natsedge") {
    t.skip("natsedge-only: parked connections are natsedge's");
    return;
  }
  const before = await parked(b);
  const c = await rawMqtt(b.mqttPort);
  await waitFor(async () => (await parked(b)) === before + 1, 5000, "the silent socket parked");
  assert.ok(await c.closed(10000), "closed when its CONNECT did not come");
  await waitFor(async () => (await parked(b)) === before, 5000, "its record given back");
  const pools = (await getJSON(b.httpPort, "/varz?natsedge=1")).natsedge_pools;
  assert.equal(pools.parked_records, 0);
});

test("natsedge-only: parked clients keep their sessions' slots: offline sessions are ended for room, and every parked client comes back (pool exhaustion)", async (t) => {
  const b = await broker({ small: true });
  if (b.kind !== "natsedge") {
    t.skip("natsedge-only: the session pool and its eviction are natsedge's");
    return;
  }
  // max_connections 8 (test-small): 6 parked clean clients hold 6 of the 8
  // sessions; persistent sessions left offline then take the other two,
  // and each one more ends the one offline the longest.
  const idle = [];
  for (let i = 0; i < 6; i++) idle.push(await rawClient(b, { id: `hold-${i}` }));
  await untilParked(b, 6);
  for (let i = 0; i < 4; i++) {
    const p = await rawClient(b, { id: `kept-${i}`, clean: false });
    await p.send(Buffer.from([0xe0, 0x00]));
    assert.ok(await p.closed(5000));
  }
  const st = (await getJSON(b.httpPort, "/varz?natsedge=1")).natsedge_mqtt;
  assert.equal(st.sessions_evicted, 2);
  assert.equal(st.sessions_refused, 0);
  for (const c of idle) {
    await c.send(Buffer.from([0xc0, 0x00]));
    assert.equal(hex((await c.next(5000)).bytes), "d000");
  }
  // With every slot counted, one more client than max_connections is refused.
  const extra = [await rawClient(b, { id: "extra-1" }), await rawClient(b, { id: "extra-2" })];
  const over = await rawMqtt(b.mqttPort);
  await over.send(connectPacket({ id: "over" }));
  assert.ok(await over.closed(5000), "the ninth connection is refused");
  for (const c of [...idle, ...extra]) await c.destroy();
  await waitFor(async () => (await getJSON(b.httpPort, "/varz?natsedge=1")).natsedge_pools.parked_records === 0, 5000, "every record back");
});

test("natsedge-only: at shutdown a parked 5.0 client is told DISCONNECT 0x8B and a parked 3.1.1 client is closed (M5-06, M5-17)", async (t) => {
  const b = await broker();
  if (b.kind !== "natsedge") {
    t.skip("natsedge-only: parked connections are natsedge's (nats-server 2.9 has no MQTT 5)");
    return;
  }
  const v5 = await rawMqtt(b.mqttPort);
  await v5.send(connectPacket({ version: 5, id: "down-5" }));
  assert.equal((await v5.next(5000)).type, 2);
  const v3 = await rawClient(b, { id: "down-3" });
  await untilParked(b, 2);
  b.server.signal("SIGTERM");
  const p = await v5.next(5000);
  assert.ok(p, "DISCONNECT before the close");
  assert.equal(p.type, 14, `DISCONNECT, not ${hex(p.bytes)}`);
  assert.equal(p.body[0], 0x8b, "reason 0x8B Server shutting down");
  assert.ok(await v5.closed(5000));
  assert.ok(await v3.closed(5000));
  assert.equal(await b.server.waitExit(10000), 0);
});

