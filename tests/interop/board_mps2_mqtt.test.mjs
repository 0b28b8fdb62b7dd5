// The mps2-an385 firmware of the tiny-mqtt profile (bare-metal Cortex-M3,
// lwIP on a LAN9118, MQTT on 1883 beside NATS on 4222, no JetStream, MQTT's
// sessions and retained messages kept through the store on a partition of
// the board's flash) booted in QEMU with user networking; both ports
// forwarded to free loopback ports. MQTT.js drives it: QoS 0, 1 and 2 both
// ways in 3.1.1 and 5.0, retained messages, persistent sessions that get
// what was published while they were away, MQTT and NATS clients on the
// same subjects, the 8 connections of the profile all MQTT and a ninth
// refused, payloads up to max_payload; then the board is reset warm
// (QEMU's system_reset through its monitor: the storage partition is RAM
// on this board and keeps its contents across the reset, docs/firmware.md)
// and a retained message and persistent sessions with messages queued for
// them are there again, also after the partition was written through
// several times over. Needs NATSEDGE_MPS2_MQTT_ELF and qemu-system-arm;
// without them the suite fails with the reason (SKIP_BOARDS=1 skips it
// instead). natsedge-only: the nats-server pass skips it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import { connect } from "@nats-io/transport-node";
import { within, waitFor } from "./lib/harness.mjs";
import { bootBoard, resetBoard, stopBoards, boardSuite } from "./lib/board.mjs";
import { inbox } from "./lib/mqtt.mjs";

const { skip, paths: [ELF] } = boardSuite("mps2-an385 tiny-mqtt", [["NATSEDGE_MPS2_MQTT_ELF", "tiny-mqtt firmware"]]);

const NAME = "mps2-an385 tiny-mqtt (natsedge-only: its Cortex-M firmware)";
let q = null;
let natsPort = 0;
let mqttPort = 0;
let tmp = "";

// Whether an MQTT CONNECT on `port` gets a CONNACK (the guest, not only
// QEMU's forwarder, is listening).
function mqttAnswers(port) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: "127.0.0.1" });
    const t = setTimeout(() => (s.destroy(), resolve(false)), 2000);
    s.once("connect", () =>
      s.write(Buffer.from([0x10, 14, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 2, 0, 10, 0, 2, 0x62, 0x31]))
    );
    s.once("data", (d) => {
      clearTimeout(t);
      s.destroy();
      resolve(d[0] === 0x20);
    });
    s.once("error", () => {
      clearTimeout(t);
      resolve(false);
    });
  });
}

const open = new Set();
async function client(opts = {}) {
  const c = await within(
    mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 4, ...opts }),
    10000,
    "MQTT connect",
  );
  open.add(c);
  return c;
}
// A publish or subscribe acknowledged in time.
const bounded = (p) => within(p, 10000, "MQTT acknowledgement");
async function end(c) {
  open.delete(c);
  await within(c.endAsync(), 5000, "MQTT end").catch(() => c.end(true));
}

before(async () => {
  if (skip) return;
  tmp = mkdtempSync(join(tmpdir(), "natsedge-mps2-mqtt-"));
  // 4222, 1883 and 8222 (monitoring) forwarded to free loopback ports,
  // QEMU's monitor on a UNIX socket of our own directory; up once NATS and
  // MQTT serve.
  q = await bootBoard(ELF, [4222, 1883, 8222], { monitorDir: tmp, ready: (b) => mqttAnswers(b.ports[1883]) });
  natsPort = q.ports[4222];
  mqttPort = q.ports[1883];
});

after(async () => {
  for (const c of [...open]) c.end(true);
  await stopBoards();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test(`${NAME}: the firmware boots, listens for MQTT, logs the MQTT pools and opens MQTT's storage partition`, { skip }, () => {
  assert.match(q.console(), /Listening for client connections on 0\.0\.0\.0:4222/);
  assert.match(q.console(), /Listening for MQTT clients on mqtt:\/\/0\.0\.0\.0:1883/);
  assert.match(q.console(), /mqtt sessions\s+8 x/);
  assert.match(q.console(), /mqtt messages\s+32 x/);
  // The region is MQTT's partition alone; QEMU starts it zeroed, which the
  // board takes for a blank part (a flash part ships erased), not for
  // damaged blocks, and the store opens empty.
  assert.match(q.console(), /Storage region: 64 KiB at 0x00200000, MQTT 64 KiB \(no JetStream\)/);
  assert.match(q.console(), /MQTT store: 0 sessions, 0 messages, 0 retained messages taken back \(0 records dropped\)/);
  assert.doesNotMatch(q.console(), /what it held is lost|unreadable header|Storage device could not be opened|MQTT store: no log/);
});

test(`${NAME}: QoS 0, 1 and 2 both ways, 3.1.1 and 5.0 clients, delivered at the lower QoS (M3-36, M3-37, M3-38, M3-42)`, { skip }, async () => {
  const sub5 = await client({ clientId: "q-sub5", protocolVersion: 5 });
  const sub3 = await client({ clientId: "q-sub3" });
  const box5 = inbox(sub5);
  const box3 = inbox(sub3);
  await bounded(sub5.subscribeAsync("q/#", { qos: 2 }));
  await bounded(sub3.subscribeAsync("q/+", { qos: 1 }));
  const pub3 = await client({ clientId: "q-pub3" });
  const pub5 = await client({ clientId: "q-pub5", protocolVersion: 5 });
  for (const qos of [0, 1, 2]) {
    await bounded(pub3.publishAsync(`q/v3-${qos}`, `three ${qos}`, { qos }));
    await bounded(pub5.publishAsync(`q/v5-${qos}`, `five ${qos}`, { qos }));
  }
  await box5.wait(6, 10000, "6 messages at the 5.0 subscriber");
  await box3.wait(6, 10000, "6 messages at the 3.1.1 subscriber");
  const by = (box) => Object.fromEntries(box.msgs.map((m) => [m.topic, [m.payload, m.packet.qos]]));
  // Delivered at the lower of the publish's and the subscription's QoS.
  assert.deepEqual(by(box5), {
    "q/v3-0": ["three 0", 0], "q/v3-1": ["three 1", 1], "q/v3-2": ["three 2", 2],
    "q/v5-0": ["five 0", 0], "q/v5-1": ["five 1", 1], "q/v5-2": ["five 2", 2],
  });
  assert.deepEqual(by(box3), {
    "q/v3-0": ["three 0", 0], "q/v3-1": ["three 1", 1], "q/v3-2": ["three 2", 1],
    "q/v5-0": ["five 0", 0], "q/v5-1": ["five 1", 1], "q/v5-2": ["five 2", 1],
  });
  for (const c of [sub5, sub3, pub3, pub5]) await end(c);
});

test(`${NAME}: a retained message is replayed to a new subscriber and deleted by an empty one (M3-51, M3-52, MQ-23)`, { skip }, async () => {
  const pub = await client({ clientId: "r-pub" });
  await bounded(pub.publishAsync("r/a", "kept", { qos: 1, retain: true }));
  const s1 = await client({ clientId: "r-s1", protocolVersion: 5 });
  const box1 = inbox(s1);
  await bounded(s1.subscribeAsync("r/#", { qos: 1 }));
  await box1.wait(1, 5000, "the retained message");
  assert.equal(box1.msgs[0].payload, "kept");
  assert.equal(box1.msgs[0].packet.retain, true);
  await bounded(pub.publishAsync("r/a", "", { qos: 1, retain: true }));
  await box1.wait(2, 5000, "the deleting publish");
  const s2 = await client({ clientId: "r-s2" });
  const box2 = inbox(s2);
  await bounded(s2.subscribeAsync("r/#", { qos: 1 }));
  await bounded(pub.publishAsync("r/marker", "after", { qos: 1 }));
  await box2.wait(1, 5000, "the marker");
  assert.deepEqual(box2.msgs.map((m) => m.payload), ["after"]);
  for (const c of [pub, s1, s2]) await end(c);
});

test(`${NAME}: persistent sessions get what was published while they were away (M3-30, M3-31, M5-19)`, { skip }, async () => {
  let s3 = await client({ clientId: "p-3", clean: false });
  let s5 = await client({ clientId: "p-5", protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 300 } });
  await bounded(s3.subscribeAsync("p/3", { qos: 1 }));
  await bounded(s5.subscribeAsync("p/5", { qos: 2 }));
  await end(s3);
  await end(s5);
  const pub = await client({ clientId: "p-pub", protocolVersion: 5 });
  for (let i = 0; i < 3; i++) {
    await bounded(pub.publishAsync("p/3", `away ${i}`, { qos: 1 }));
    await bounded(pub.publishAsync("p/5", `away ${i}`, { qos: 2 }));
  }
  // The messages queued while away arrive right after CONNACK: the
  // handlers are in place before the connection opens.
  const back = async (opts) => {
    const c = mqtt.connect(`mqtt://127.0.0.1:${mqttPort}`, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
    open.add(c);
    const box = inbox(c);
    const ack = await within(new Promise((res, rej) => (c.once("connect", res), c.once("error", rej))), 10000, "reconnect");
    return { c, box, ack };
  };
  const r3 = await back({ clientId: "p-3", clean: false, protocolVersion: 4 });
  const r5 = await back({ clientId: "p-5", clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 300 } });
  assert.equal(r3.ack.sessionPresent, true);
  assert.equal(r5.ack.sessionPresent, true);
  await r3.box.wait(3, 10000, "the 3.1.1 session's messages");
  await r5.box.wait(3, 10000, "the 5.0 session's messages");
  assert.deepEqual(r3.box.msgs.map((m) => [m.payload, m.packet.qos]), [["away 0", 1], ["away 1", 1], ["away 2", 1]]);
  assert.deepEqual(r5.box.msgs.map((m) => [m.payload, m.packet.qos]), [["away 0", 2], ["away 1", 2], ["away 2", 2]]);
  // Ended: a clean start takes the sessions away again.
  for (const c of [r3.c, r5.c, pub]) await end(c);
  for (const [id, v] of [["p-3", 4], ["p-5", 5]]) await end(await client({ clientId: id, protocolVersion: v, clean: true }));
});

test(`${NAME}: MQTT and NATS clients on the same subjects (MQ-13, MQ-17)`, { skip }, async () => {
  const nc = await within(connect({ servers: `127.0.0.1:${natsPort}`, reconnect: false }), 10000, "NATS connect");
  try {
    const got = [];
    const sub = nc.subscribe("x.>", { callback: (_e, m) => got.push([m.subject, new TextDecoder().decode(m.data)]) });
    await nc.flush();
    const m = await client({ clientId: "x-mqtt" });
    const box = inbox(m);
    await bounded(m.subscribeAsync("x/#", { qos: 1 }));
    await bounded(m.publishAsync("x/from/mqtt", "to nats", { qos: 1 }));
    await waitFor(() => got.length >= 1, 5000, "the MQTT message at the NATS subscriber");
    nc.publish("x.from.nats", "to mqtt");
    await box.wait(2, 5000, "both messages at the MQTT subscriber");
    assert.deepEqual(got[0], ["x.from.mqtt", "to nats"]);
    assert.deepEqual(
      box.msgs.map((x) => [x.topic, x.payload]).sort(),
      [["x/from/mqtt", "to nats"], ["x/from/nats", "to mqtt"]],
    );
    sub.unsubscribe();
    await end(m);
  } finally {
    await nc.close();
  }
});

test(`${NAME}: 8 MQTT clients at once (the profile's connections), a ninth refused, the 8 go on`, { skip }, async () => {
  const cs = [];
  for (let i = 0; i < 8; i++) cs.push(await client({ clientId: `all-${i}`, protocolVersion: i % 2 ? 5 : 4 }));
  const boxes = cs.map(inbox);
  for (const c of cs) await bounded(c.subscribeAsync("all/+", { qos: 1 }));
  // The ninth: the connection pool is full before its CONNECT is read.
  const ninth = mqtt.connect(`mqtt://127.0.0.1:${mqttPort}`, { clientId: "all-9", reconnectPeriod: 0, connectTimeout: 5000 });
  const outcome = await within(
    new Promise((res) => {
      ninth.once("connect", () => res("connected"));
      ninth.once("close", () => res("closed"));
      ninth.once("error", () => res("closed"));
    }),
    10000,
    "the ninth client's outcome",
  );
  ninth.end(true);
  assert.equal(outcome, "closed");
  for (let i = 0; i < 8; i++) await bounded(cs[i].publishAsync(`all/${i}`, `from ${i}`, { qos: 1 }));
  for (const b of boxes) await b.wait(8, 10000, "8 messages at each client");
  for (const b of boxes) assert.deepEqual(b.msgs.map((m) => m.payload).sort(), [...Array(8).keys()].map((i) => `from ${i}`));
  for (const c of cs) await end(c);
});

test(`${NAME}: a PUBLISH of max_payload bytes at QoS 0, 1 KiB at QoS 1 and 2, one byte over max_payload closes the publisher (M5-27; differences.md MQTT, max_payload)`, { skip }, async () => {
  const sub = await client({ clientId: "big-sub", protocolVersion: 5 });
  const box = inbox(sub);
  await bounded(sub.subscribeAsync("big/#", { qos: 2 }));
  const pub = await client({ clientId: "big-pub" });
  // The whole packet is held to max_payload (4,096 B): a fixed header of 3
  // bytes and the 7 of the topic leave 4,086 for the payload.
  await bounded(pub.publishAsync("big/0", Buffer.alloc(4086, 0x30), { qos: 0 }));
  await bounded(pub.publishAsync("big/1", Buffer.alloc(1024, 0x31), { qos: 1 }));
  await bounded(pub.publishAsync("big/2", Buffer.alloc(1024, 0x32), { qos: 2 }));
  await box.wait(3, 10000, "the three payloads");
  assert.deepEqual(box.msgs.map((m) => [m.topic, m.payload.length, m.packet.qos]), [["big/0", 4086, 0], ["big/1", 1024, 1], ["big/2", 1024, 2]]);
  assert.ok(box.msgs.every((m) => m.payload === m.payload[0].repeat(m.payload.length)));
  const closed = new Promise((res) => pub.once("close", res));
  pub.publish("big/3", Buffer.alloc(4087, 0x33), { qos: 0 });
  await within(closed, 10000, "the publisher closed");
  open.delete(pub);
  assert.equal((await box.settle(300)).length, 3);
  await end(sub);
});

test(`${NAME}: a retained message and persistent sessions with messages queued while away survive a warm reset of the board (MQ-06, MQ-07, MQ-11, MQ-23, M3-30, M5-19)`, { skip }, async () => {
  const pub = await client({ clientId: "w-pub", protocolVersion: 5 });
  await bounded(pub.publishAsync("w/state", "running", { qos: 1, retain: true }));
  // Two persistent sessions subscribed, away when their messages come: a
  // 3.1.1 one at QoS 1 and a 5.0 one (session expiry 300 s) at QoS 2.
  const away3 = await client({ clientId: "w-away3", clean: false });
  await bounded(away3.subscribeAsync("w/alarm", { qos: 1 }));
  await end(away3);
  const away5 = await client({ clientId: "w-away5", protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 300 } });
  await bounded(away5.subscribeAsync("w/cmd", { qos: 2 }));
  await end(away5);
  // Acknowledged (PUBACK, PUBREC) before the reset: the firmware writes
  // what it acknowledges to the store first.
  await bounded(pub.publishAsync("w/alarm", "overheat", { qos: 1 }));
  await bounded(pub.publishAsync("w/cmd", "stop", { qos: 2 }));
  await end(pub);

  await resetBoard(q);
  const boot = q.console().slice(q.console().lastIndexOf("Starting natsedge"));
  // Two sessions, three messages (the retained one and the two queued),
  // one retained topic.
  assert.match(boot, /MQTT store: 2 sessions, 3 messages, 1 retained messages taken back \(0 records dropped\)/);
  assert.match(boot, /Listening for MQTT clients on mqtt:\/\/0\.0\.0\.0:1883/);

  // A new subscriber gets the retained message, RETAIN set (MQ-23).
  const fresh = await client({ clientId: "w-fresh" });
  const box = inbox(fresh);
  await bounded(fresh.subscribeAsync("w/state", { qos: 1 }));
  await box.wait(1, 10000, "the retained message after the reset");
  assert.deepEqual([box.msgs[0].topic, box.msgs[0].payload, box.msgs[0].packet.retain], ["w/state", "running", true]);
  await end(fresh);
  // Each session is there (CONNACK session present, MQ-06, MQ-07) with its
  // message, delivered right after CONNACK at its QoS (MQ-11): the
  // handlers are in place before the connection opens.
  const back = async (opts) => {
    const c = mqtt.connect(`mqtt://127.0.0.1:${mqttPort}`, { reconnectPeriod: 0, connectTimeout: 5000, clean: false, ...opts });
    open.add(c);
    const b = inbox(c);
    const ack = await within(new Promise((res, rej) => (c.once("connect", res), c.once("error", rej))), 10000, "reconnect");
    return { c, box: b, ack };
  };
  const r3 = await back({ clientId: "w-away3", protocolVersion: 4 });
  const r5 = await back({ clientId: "w-away5", protocolVersion: 5, properties: { sessionExpiryInterval: 300 } });
  assert.equal(r3.ack.sessionPresent, true, "the 3.1.1 session is still there");
  assert.equal(r5.ack.sessionPresent, true, "the 5.0 session is still there");
  await r3.box.wait(1, 10000, "the 3.1.1 session's queued message");
  await r5.box.wait(1, 10000, "the 5.0 session's queued message");
  assert.deepEqual(r3.box.msgs.map((m) => [m.topic, m.payload, m.packet.qos]), [["w/alarm", "overheat", 1]]);
  assert.deepEqual(r5.box.msgs.map((m) => [m.topic, m.payload, m.packet.qos]), [["w/cmd", "stop", 2]]);
  // Once each, and the subscriptions came back with the sessions.
  const pub2 = await client({ clientId: "w-pub2" });
  await bounded(pub2.publishAsync("w/alarm", "cooled", { qos: 1 }));
  await bounded(pub2.publishAsync("w/cmd", "start", { qos: 1 }));
  await r3.box.wait(2, 10000, "the 3.1.1 session's live message");
  await r5.box.wait(2, 10000, "the 5.0 session's live message");
  assert.deepEqual((await r3.box.settle(300)).map((m) => m.payload), ["overheat", "cooled"]);
  assert.deepEqual(r5.box.msgs.map((m) => m.payload), ["stop", "start"]);
  // A clean start ends the sessions; an empty retained payload deletes.
  await bounded(pub2.publishAsync("w/state", "", { qos: 1, retain: true }));
  for (const c of [r3.c, r5.c, pub2]) await end(c);
  for (const [id, v] of [["w-away3", 4], ["w-away5", 5]]) await end(await client({ clientId: id, protocolVersion: v, clean: true }));
});

test(`${NAME}: the 64 KiB partition written through about seven times, then a warm reset finds the last retained message of each topic and the messages queued for a session (MQ-11, MQ-23)`, { skip }, async () => {
  const pub = await client({ clientId: "u-pub" });
  const sub = await client({ clientId: "u-sub", clean: false });
  const got = inbox(sub);
  await bounded(sub.subscribeAsync("u/q/#", { qos: 1 }));
  // Each round replaces the retained message of one of 8 topics (100 B)
  // and has a 1,000-byte QoS 1 message kept for the persistent session
  // until its client acknowledges it: 450 rounds write 450 KB of messages
  // alone through the partition, whose blocks the store compacts and
  // erases to take more. A round waits for the session's client to have
  // its message, so that the profile's 4 KiB message store (1 KiB of it
  // the retained messages) holds at most two of them, however slow the
  // machine running QEMU is.
  const last = new Map();
  for (let i = 0; i < 450; i++) {
    const digit = String(i % 10);
    last.set(`u/r/${i % 8}`, digit);
    await bounded(pub.publishAsync(`u/r/${i % 8}`, digit.repeat(100), { qos: 1, retain: true }));
    await bounded(pub.publishAsync(`u/q/${i % 3}`, Buffer.alloc(1000, 0x41 + (i % 3)), { qos: 1 }));
    await got.wait(i + 1, 10000, `message ${i} at the session's client`);
  }
  await end(sub);
  // Queued for the session while it is away.
  for (let i = 0; i < 5; i++) await bounded(pub.publishAsync("u/q/away", `away ${i}`, { qos: 1 }));
  await end(pub);
  const varz = await within(fetch(`http://127.0.0.1:${q.ports[8222]}/varz?natsedge=1`).then((r) => r.json()), 10000, "/varz");
  const st = varz.natsedge_mqtt;
  assert.equal(st.persist, true);
  assert.ok(st.persist_written >= 600, `records written: ${st.persist_written}`);
  assert.deepEqual([st.persist_refused, st.persist_sync_failures, st.store_refused], [0, 0, 0]);

  await resetBoard(q);
  const boot = q.console().slice(q.console().lastIndexOf("Starting natsedge"));
  // One session, its 5 messages and the 8 retained ones.
  assert.match(boot, /MQTT store: 1 sessions, 13 messages, 8 retained messages taken back \(0 records dropped\)/);
  const fresh = await client({ clientId: "u-fresh" });
  const box = inbox(fresh);
  await bounded(fresh.subscribeAsync("u/r/+", { qos: 1 }));
  await box.wait(8, 10000, "the 8 retained messages after the reset");
  assert.deepEqual(
    box.msgs.map((m) => [m.topic, m.payload, m.packet.retain]).sort(),
    [...last].map(([t, d]) => [t, d.repeat(100), true]).sort(),
  );
  const back = mqtt.connect(`mqtt://127.0.0.1:${mqttPort}`, { clientId: "u-sub", clean: false, reconnectPeriod: 0, connectTimeout: 5000 });
  open.add(back);
  const queued = inbox(back);
  await queued.wait(5, 10000, "the 5 queued messages after the reset");
  assert.deepEqual((await queued.settle(300)).map((m) => m.payload), [0, 1, 2, 3, 4].map((i) => `away ${i}`));
  // Clean up: the retained messages deleted, the session ended.
  for (const t of last.keys()) await bounded(fresh.publishAsync(t, "", { qos: 1, retain: true }));
  await end(fresh);
  await end(back);
  await end(await client({ clientId: "u-sub", clean: true }));
});

test(`${NAME}: no fault or assertion on the console, before or after the resets`, { skip }, async () => {
  const c = await client({ clientId: "last" });
  await end(c);
  assert.equal(q.child.exitCode, null);
  assert.doesNotMatch(q.console(), /\[FTL\]/);
  assert.doesNotMatch(q.console(), /Storage device could not be opened|MQTT store: no log|not written to the store/);
  assert.equal(q.readyCount(), 3, "one boot and two warm resets");
});
