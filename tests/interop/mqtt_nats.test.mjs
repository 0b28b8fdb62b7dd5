// MQTT and NATS clients on the same subjects: MQTT.js (3.1.1 and 5.0) with
// nats.js, against natsedge or, in the parity pass, nats-server 2.9.10 for
// what it serves (MQTT 3.1.1 at QoS 0/1); the MQTT 5 cases skip themselves
// there (nats-server 2.9 has no MQTT 5, mosquitto no NATS). IDs:
// nats-inventory.md section 3 (MQ-) and mqtt-inventory.md (M3-, M5-).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { connect, headers as natsHeaders } from "@nats-io/transport-node";
import { stopAll, waitFor, within } from "./lib/harness.mjs";
import { startMqtt, connectMqtt, endAllMqtt, inbox, skipUnlessServed, rawMqtt, connectPacket, packet, str, hex } from "./lib/mqtt.mjs";

const brokers = [];
const ncs = [];
async function broker(opts = {}) {
  const b = await startMqtt(opts);
  brokers.push(b);
  return b;
}
async function nats(b) {
  const nc = await connect({ servers: b.natsUrl, reconnect: false });
  ncs.push(nc);
  return nc;
}

after(async () => {
  await endAllMqtt();
  for (const nc of ncs) if (!nc.isClosed()) await nc.close().catch(() => {});
  for (const b of brokers) await b.stop();
  await stopAll();
});

// Collects NATS messages of a subscription.
function natsInbox(sub) {
  const msgs = [];
  (async () => {
    for await (const m of sub) msgs.push(m);
  })().catch(() => {});
  return { msgs, wait: (n, ms = 5000) => waitFor(() => msgs.length >= n, ms, `${n} NATS messages`).then(() => msgs) };
}

test("an MQTT publish to a/b is a NATS message on a.b with nats-server's Nmqtt-Pub header (MQ-12c, MQ-13, MQ-20)", async () => {
  const b = await broker();
  const nc = await nats(b);
  const box = natsInbox(nc.subscribe("mq.a"));
  const wild = natsInbox(nc.subscribe("mq.>"));
  await within(nc.flush(), 5000, "flush");
  const m = await connectMqtt(b, { clientId: "to-nats" });
  await m.publishAsync("mq/a", "q0", { qos: 0 });
  await m.publishAsync("mq/a", "q1", { qos: 1 });
  await box.wait(2);
  assert.deepEqual(box.msgs.map((x) => x.string()), ["q0", "q1"]);
  assert.deepEqual(box.msgs.map((x) => x.headers?.get("Nmqtt-Pub")), ["0", "1"]);
  await wild.wait(2);
});

test("a NATS publish reaches MQTT subscribers of a/+ and # at QoS 0 (MQ-12b, MQ-17)", async () => {
  const b = await broker();
  const m1 = await connectMqtt(b, { clientId: "from-nats-1" });
  const m2 = await connectMqtt(b, { clientId: "from-nats-2" });
  const in1 = inbox(m1);
  const in2 = inbox(m2);
  await m1.subscribeAsync("fn/+", { qos: 1 });
  await m2.subscribeAsync("#", { qos: 1 });
  const nc = await nats(b);
  nc.publish("fn.x", "hello");
  await within(nc.flush(), 5000, "flush");
  await in1.wait(1);
  assert.equal(in1.msgs[0].topic, "fn/x");
  assert.equal(in1.msgs[0].payload, "hello");
  assert.equal(in1.msgs[0].packet.qos, 0);
  await waitFor(() => in2.msgs.some((x) => x.topic === "fn/x"), 5000, "# subscriber");
});

test("empty levels map to '/' tokens both ways: /x//y/ <-> /.x./.y./ (MQ-14)", async () => {
  const b = await broker();
  const nc = await nats(b);
  const box = natsInbox(nc.subscribe("/.x./.y./"));
  await within(nc.flush(), 5000, "flush");
  const m = await connectMqtt(b, { clientId: "levels" });
  const mbox = inbox(m);
  await m.subscribeAsync("/x//y/", { qos: 0 });
  await m.publishAsync("/x//y/", "empty-levels", { qos: 1 });
  await box.wait(1);
  assert.equal(box.msgs[0].string(), "empty-levels");
  await mbox.wait(1);
  nc.publish("/.x./.y./", "back");
  await mbox.wait(2);
  assert.deepEqual(mbox.msgs.map((x) => [x.topic, x.payload]), [["/x//y/", "empty-levels"], ["/x//y/", "back"]]);
});

test("a '.' in a topic: natsedge maps it to '//' as nats-server 2.10, 2.9 closes the connection (MQ-16; differences.md MQTT)", async () => {
  const b = await broker();
  const nc = await nats(b);
  const box = natsInbox(nc.subscribe("v1//2.temp"));
  await within(nc.flush(), 5000, "flush");
  const c = await rawMqtt(b.mqttPort);
  await c.send(connectPacket({ id: "dotted" }));
  assert.equal(hex((await c.next()).bytes), "20020000");
  await c.send(packet(0x32, str("v1.2/temp"), Buffer.from([0, 1]), "t"));
  if (b.kind === "nats-server") {
    assert.ok(await c.closed(5000));
    return;
  }
  assert.equal(hex((await c.next()).bytes), "40020001");
  await box.wait(1);
  assert.equal(box.msgs[0].subject, "v1//2.temp");
  await c.destroy();
});

test("publish and subscribe permissions apply to the topics' subjects (MQ-12c, MQ-10)", async () => {
  const b = await broker({
    // "ok/#" is two subscriptions, "ok.>" and "ok" (MQ-15): both must be allowed.
    config: `authorization { users: [ { user: dev, password: pw, permissions: { publish: "ok.>", subscribe: ["ok", "ok.>"] } }, { user: admin, password: pw } ] }\n`,
  });
  const nc = await connect({ servers: b.natsUrl, reconnect: false, user: "admin", pass: "pw" });
  ncs.push(nc);
  const denied = natsInbox(nc.subscribe("no.x"));
  const allowed = natsInbox(nc.subscribe("ok.x"));
  await within(nc.flush(), 5000, "flush");
  const c = await rawMqtt(b.mqttPort);
  const head = Buffer.concat([str("MQTT"), Buffer.from([4, 0xc2, 0, 60])]);
  await c.send(packet(0x10, head, str("perm-dev"), str("dev"), str("pw")));
  assert.equal(hex((await c.next()).bytes), "20020000");
  // QoS 0: nats-server's QoS 1 subscriptions also need "$MQTT.sub.>" (its
  // JetStream consumers' subjects).
  await c.send(packet(0x82, Buffer.from([0, 1]), str("no/#"), Buffer.from([0]), str("ok/#"), Buffer.from([0])));
  assert.equal(hex((await c.next()).bytes), "900400018000");
  // A refused 3.1.1 publish is still acknowledged (M3-29), and not delivered.
  await c.send(packet(0x32, str("no/x"), Buffer.from([0, 2]), "x"));
  assert.equal(hex((await c.next()).bytes), "40020002");
  await c.send(packet(0x32, str("ok/x"), Buffer.from([0, 3]), "y"));
  // Its own copy (it subscribed to ok/#) may come before or after the PUBACK.
  const seen = [];
  await waitFor(async () => {
    seen.push(hex((await c.next()).bytes));
    return seen.includes("40020003");
  }, 5000, "PUBACK 3");
  await allowed.wait(1);
  assert.equal(denied.msgs.length, 0);
  await c.destroy();
});

test("a filter ending in # also gets messages on its parent subject from NATS (MQ-15)", async () => {
  const b = await broker();
  const m = await connectMqtt(b, { clientId: "parent" });
  const box = inbox(m);
  await m.subscribeAsync("lvl/#", { qos: 0 });
  const nc = await nats(b);
  nc.publish("lvl", "top");
  nc.publish("lvl.a.b", "deep");
  await within(nc.flush(), 5000, "flush");
  await box.wait(2);
  assert.deepEqual(box.msgs.map((x) => [x.topic, x.payload]).sort(), [["lvl", "top"], ["lvl/a/b", "deep"]]);
});

test("MQTT 5 user properties become NATS headers and headers user properties (MQ-20)", { skip: skipUnlessServed("both") }, async () => {
  const b = await broker({ need: "both" });
  const nc = await nats(b);
  const box = natsInbox(nc.subscribe("up.x"));
  await within(nc.flush(), 5000, "flush");
  const m = await connectMqtt(b, { clientId: "up5", protocolVersion: 5 });
  const mbox = inbox(m);
  await m.subscribeAsync("up/y", { qos: 0 });
  await m.publishAsync("up/x", "v", { qos: 1, properties: { userProperties: { site: "north", line: "4" } } });
  await box.wait(1);
  assert.equal(box.msgs[0].headers.get("site"), "north");
  assert.equal(box.msgs[0].headers.get("line"), "4");
  assert.equal(box.msgs[0].headers.get("Nmqtt-Pub"), "1");
  const h = natsHeaders();
  h.set("unit", "celsius");
  nc.publish("up.y", "21", { headers: h });
  await mbox.wait(1);
  assert.deepEqual({ ...mbox.msgs[0].packet.properties?.userProperties }, { unit: "celsius" });
});

test("request/reply: an MQTT 5 client calls a NATS service and answers NATS requests (Response Topic <-> reply)", { skip: skipUnlessServed("both") }, async () => {
  const b = await broker({ need: "both" });
  const nc = await nats(b);
  const svc = nc.subscribe("svc.time");
  (async () => {
    for await (const msg of svc) msg.respond(`time for ${msg.string()}`);
  })().catch(() => {});
  await within(nc.flush(), 5000, "flush");
  const m = await connectMqtt(b, { clientId: "req5", protocolVersion: 5 });
  const box = inbox(m);
  await m.subscribeAsync("reply/req5", { qos: 0 });
  await m.publishAsync("svc/time", "edge", { qos: 0, properties: { responseTopic: "reply/req5", correlationData: Buffer.from("c1") } });
  await box.wait(1);
  assert.equal(box.msgs[0].payload, "time for edge");
  // The other way: a NATS request to an MQTT 5 responder.
  const r = await connectMqtt(b, { clientId: "resp5", protocolVersion: 5 });
  r.on("message", (topic, payload, packet) => {
    r.publish(packet.properties.responseTopic, `echo ${payload}`);
  });
  await r.subscribeAsync("mq/echo", { qos: 0 });
  const reply = await nc.request("mq.echo", "ping", { timeout: 5000 });
  assert.equal(reply.string(), "echo ping");
});
