// MQTT 3.1.1 against the broker of this pass (lib/mqtt.mjs): natsedge, or
// in the parity pass nats-server 2.9.10 (`mqtt {}` with JetStream) for QoS 0
// and 1, and mosquitto 2.0.11 for QoS 2, which nats-server 2.9 does not
// serve. Real clients: MQTT.js (protocol 4), mosquitto_pub/mosquitto_sub
// (-V mqttv311) and paho (python3-paho-mqtt), and raw packets for the bytes.
// IDs: shared/reference/mqtt-inventory.md (M3-, MB-) and nats-inventory.md
// (MQ-).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { stopAll, getJSON, waitFor, within } from "./lib/harness.mjs";
import {
  startMqtt, connectMqtt, endAllMqtt, inbox, runTool, spawnTool, rawMqtt, connectPacket, packet,
  str, hex, PYTHON_BIN,
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

// Connects raw and reads the CONNACK; returns [client, connack bytes].
async function rawConnack(b, opts) {
  const c = await rawMqtt(b.mqttPort);
  await c.send(connectPacket(opts));
  const p = await c.next(5000);
  assert.ok(p, "closed without CONNACK");
  return [c, hex(p.bytes)];
}

test("CONNACK 20 02 00 00, then session present for a kept session (MQ-06, MB-03, M3-31)", async () => {
  const b = await broker();
  let [c, ack] = await rawConnack(b, { id: "keep-1", clean: false });
  assert.equal(ack, "20020000");
  await c.send(Buffer.from([0xe0, 0x00]));
  assert.ok(await c.closed(5000));
  [c, ack] = await rawConnack(b, { id: "keep-1", clean: false });
  assert.equal(ack, "20020100");
  await c.send(Buffer.from([0xe0, 0x00]));
  [c, ack] = await rawConnack(b, { id: "keep-1", clean: true });
  assert.equal(ack, "20020000");
});

test("an unsupported protocol level gets CONNACK 0x01 and is closed (MQ-01, M3-19, MB-04)", async () => {
  const b = await broker();
  const [c, ack] = await rawConnack(b, { version: 6, id: "lvl" });
  assert.equal(ack, "20020001");
  assert.ok(await c.closed(5000));
});

test("an empty client id with clean session 0 gets 0x02 and is closed; with 1 it is assigned (MQ-07, M3-23)", async () => {
  const b = await broker();
  const [c, ack] = await rawConnack(b, { id: "", clean: false });
  assert.equal(ack, "20020002");
  assert.ok(await c.closed(5000));
  const [c2, ack2] = await rawConnack(b, { id: "", clean: true });
  assert.equal(ack2, "20020000");
  await c2.destroy();
});

test("the first packet must be CONNECT: anything else is closed without an answer (M3-05, MQ-04)", async () => {
  const b = await broker();
  const c = await rawMqtt(b.mqttPort);
  await c.send(packet(0x82, Buffer.from([0, 1]), str("a/b"), Buffer.from([0])));
  assert.ok(await c.closed(5000));
  assert.equal(c.pending().length, 0);
});

test("a wrong password gets CONNACK 0x05, the right one 0x00 (MQ-06, MQ-07)", async () => {
  const b = await broker({ config: "authorization { user: sensor, password: s3cret }\n" });
  const cred = (user, pass) => Buffer.concat([str(user), str(pass)]);
  const conn = (user, pass) => {
    const head = Buffer.concat([str("MQTT"), Buffer.from([4, 0xc2, 0, 60])]);
    return packet(0x10, head, str("authc"), cred(user, pass));
  };
  let c = await rawMqtt(b.mqttPort);
  await c.send(conn("sensor", "wrong"));
  let p = await c.next();
  assert.equal(hex(p.bytes), "20020005");
  assert.ok(await c.closed(5000));
  c = await rawMqtt(b.mqttPort);
  await c.send(conn("sensor", "s3cret"));
  p = await c.next();
  assert.equal(hex(p.bytes), "20020000");
  await c.destroy();
});

test("MQTT.js QoS 0 and 1 with + and # filters; # matches its parent level (MQ-11, MQ-15, M3-42, M3-45)", async () => {
  const b = await broker();
  const s1 = await connectMqtt(b, { clientId: "w-s1" });
  const s2 = await connectMqtt(b, { clientId: "w-s2" });
  const in1 = inbox(s1);
  const in2 = inbox(s2);
  await s1.subscribeAsync("w/+/x", { qos: 1 });
  await s2.subscribeAsync("w/#", { qos: 0 });
  const pub = await connectMqtt(b, { clientId: "w-p" });
  await pub.publishAsync("w/a/x", "one", { qos: 1 });
  await pub.publishAsync("w", "parent", { qos: 1 });
  await pub.publishAsync("w/a/y", "other", { qos: 0 });
  const got1 = await in1.wait(1);
  assert.equal(got1[0].topic, "w/a/x");
  assert.equal(got1[0].payload, "one");
  assert.equal(got1[0].packet.qos, 1);
  const got2 = await in2.wait(3);
  assert.deepEqual(got2.map((m) => [m.topic, m.payload, m.packet.qos]).sort(), [
    ["w", "parent", 0],
    ["w/a/x", "one", 0],
    ["w/a/y", "other", 0],
  ]);
});

test("retained: replayed with RETAIN to a new subscriber, live without it, deleted by an empty one (MQ-22, MQ-23, M3-51, M3-52)", async () => {
  const b = await broker();
  const pub = await connectMqtt(b, { clientId: "r-p" });
  await pub.publishAsync("ret/a", "kept", { qos: 1, retain: true });
  const s = await connectMqtt(b, { clientId: "r-s" });
  const box = inbox(s);
  await s.subscribeAsync("ret/#", { qos: 1 });
  await box.wait(1);
  assert.equal(box.msgs[0].payload, "kept");
  assert.equal(box.msgs[0].packet.retain, true);
  await pub.publishAsync("ret/a", "live", { qos: 1, retain: true });
  await box.wait(2);
  assert.equal(box.msgs[1].payload, "live");
  assert.equal(box.msgs[1].packet.retain, false);
  await pub.publishAsync("ret/a", "", { qos: 1, retain: true });
  await box.wait(3);
  const late = await connectMqtt(b, { clientId: "r-late" });
  const lbox = inbox(late);
  await late.subscribeAsync("ret/#", { qos: 1 });
  // A marker behind the (absent) retained message on the same path.
  await pub.publishAsync("ret/marker", "m", { qos: 1 });
  await lbox.wait(1);
  assert.deepEqual(lbox.msgs.map((m) => m.payload), ["m"]);
});

test("the will goes on an abnormal close, not after DISCONNECT (MQ-09, M3-35)", async () => {
  const b = await broker();
  const w = await connectMqtt(b, { clientId: "will-w" });
  const box = inbox(w);
  await w.subscribeAsync("will/#", { qos: 1 });
  const dev = await connectMqtt(b, { clientId: "will-dev", will: { topic: "will/dev", payload: "gone", qos: 1 } });
  dev.stream.destroy();
  await box.wait(1, 8000, "the will");
  assert.equal(box.msgs[0].payload, "gone");
  const dev2 = await connectMqtt(b, { clientId: "will-dev2", will: { topic: "will/dev2", payload: "gone2", qos: 1 } });
  await dev2.endAsync();
  const pub = await connectMqtt(b, { clientId: "will-p" });
  await pub.publishAsync("will/marker", "m", { qos: 1 });
  await box.wait(2);
  assert.deepEqual(box.msgs.map((m) => m.payload), ["gone", "m"]);
});

test("a persistent session gets the QoS 1 messages published while it was away (MQ-19, MQ-21, M3-30)", async () => {
  const b = await broker();
  let s = await connectMqtt(b, { clientId: "ps-1", clean: false });
  await s.subscribeAsync("ps/#", { qos: 1 });
  await s.endAsync();
  const pub = await connectMqtt(b, { clientId: "ps-p" });
  for (let i = 0; i < 3; i++) await pub.publishAsync("ps/x", `m${i}`, { qos: 1 });
  const mqtt = (await import("mqtt")).default;
  // The messages may arrive right after CONNACK: listen before connecting.
  s = mqtt.connect(`mqtt://127.0.0.1:${b.mqttPort}`, { clientId: "ps-1", clean: false, reconnectPeriod: 0 });
  const box = inbox(s);
  const ack = await new Promise((resolve, reject) => {
    s.once("connect", resolve);
    s.once("error", reject);
  });
  assert.equal(ack.sessionPresent, true);
  await box.wait(3);
  assert.deepEqual(box.msgs.map((m) => m.payload), ["m0", "m1", "m2"]);
  await s.endAsync();
});

test("takeover: a second connection of the client id closes the first (MQ-07, M3-34)", async () => {
  const b = await broker();
  const [first] = await rawConnack(b, { id: "twin" });
  const [second, ack] = await rawConnack(b, { id: "twin" });
  assert.equal(ack, "20020000");
  assert.ok(await first.closed(5000));
  assert.equal(second.isClosed(), false);
  await second.destroy();
});

test("keep-alive: closed after 1.5 times the keep-alive without a packet, not before (MQ-08, M3-24)", async () => {
  const b = await broker();
  // Keep-alive 2 s: closed after 3 s (nats-server truncates 1.5 x 1 s to 1 s,
  // so 1 s would not tell them apart).
  const [c] = await rawConnack(b, { id: "ka", keepAlive: 2 });
  const t0 = Date.now();
  assert.ok(await c.closed(8000), "not closed");
  assert.ok(Date.now() - t0 >= 2800, `closed after ${Date.now() - t0} ms`);
  // A PINGREQ keeps it: PINGRESP d0 00.
  const [c2] = await rawConnack(b, { id: "ka2", keepAlive: 1 });
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 700));
    await c2.send(Buffer.from([0xc0, 0x00]));
    assert.equal(hex((await c2.next()).bytes), "d000");
  }
  await c2.destroy();
});

test("packet id 0 in a QoS 1 PUBLISH closes the connection (MQ-12, M3-16)", async () => {
  const b = await broker();
  const [c] = await rawConnack(b, { id: "id0" });
  await c.send(packet(0x32, str("a/b"), Buffer.from([0, 0]), "x"));
  assert.ok(await c.closed(5000));
});

test("SUBSCRIBE at QoS 2: natsedge grants 2, nats-server 2.9 grants 1 (MQ-03; differences.md MQTT, MQTT 5 and QoS 2)", async () => {
  const b = await broker();
  const [c] = await rawConnack(b, { id: "q2s" });
  await c.send(packet(0x82, Buffer.from([0, 7]), str("q2/#"), Buffer.from([2])));
  const p = await c.next();
  assert.equal(hex(p.bytes), b.kind === "nats-server" ? "9003000701" : "9003000702");
  await c.destroy();
});

test("$ topics are not matched by # (M3-46; nats-server 2.9 delivers them, differences.md MQTT)", async () => {
  const b = await broker();
  const all = await connectMqtt(b, { clientId: "d-all" });
  const box = inbox(all);
  await all.subscribeAsync("#", { qos: 1 });
  const pub = await connectMqtt(b, { clientId: "d-p" });
  await pub.publishAsync("$d/x", "dollar", { qos: 1 });
  await pub.publishAsync("plain/x", "plain", { qos: 1 });
  await box.wait(1);
  await waitFor(() => box.msgs.some((m) => m.topic === "plain/x"), 5000, "the plain message");
  // nats-server 2.9 also hands "#" its own "$JS" and "$MQTT" traffic.
  const dollar = box.msgs.map((m) => m.topic).filter((t) => t === "$d/x");
  assert.deepEqual(dollar, b.kind === "nats-server" ? ["$d/x"] : []);
});

test("a 3.1.1 PUBLISH larger than max_payload: natsedge closes the publisher, nats-server 2.9 delivers it (differences.md MQTT, max_payload)", async () => {
  const b = await broker({ config: "max_payload: 1024\n" });
  const sub = await connectMqtt(b, { clientId: "mp-s" });
  const box = inbox(sub);
  await sub.subscribeAsync("mp/#", { qos: 0 });
  const pub = await connectMqtt(b, { clientId: "mp-p" });
  const closed = new Promise((res) => pub.once("close", () => res(true)));
  // 1,000 bytes of payload fit in 1,024; 2,000 do not.
  await pub.publishAsync("mp/fits", Buffer.alloc(1000, 0x61), { qos: 0 });
  await box.wait(1);
  pub.publish("mp/over", Buffer.alloc(2000, 0x62), { qos: 0 });
  pub.publish("mp/after", "after", { qos: 0 });
  if (b.kind === "nats-server") {
    await box.wait(3);
    assert.deepEqual(box.msgs.map((m) => [m.topic, m.payload.length]), [["mp/fits", 1000], ["mp/over", 2000], ["mp/after", 5]]);
  } else {
    await within(closed, 5000, "the publisher closed");
    assert.deepEqual((await box.settle(300)).map((m) => [m.topic, m.payload.length]), [["mp/fits", 1000]]);
  }
});

test("mosquitto_pub and mosquitto_sub -V mqttv311 at QoS 0 and 1", async () => {
  const b = await broker();
  const sub = spawnTool("mosquitto_sub", ["-h", "127.0.0.1", "-p", String(b.mqttPort), "-V", "mqttv311",
    "-i", "mq-sub", "-t", "tool/#", "-q", "1", "-v"]);
  const pub = (topic, msg, qos) =>
    runTool("mosquitto_pub", ["-h", "127.0.0.1", "-p", String(b.mqttPort), "-V", "mqttv311", "-t", topic,
      "-m", msg, "-q", String(qos)]);
  // Subscribed once a probe reaches it.
  await waitFor(async () => {
    await pub("tool/probe", "p", 1);
    return sub.out().includes("tool/probe");
  }, 8000, "mosquitto_sub subscribed");
  for (const qos of [0, 1]) {
    const r = await pub(`tool/q${qos}`, `from-tool-${qos}`, qos);
    assert.equal(r.code, 0, r.out);
  }
  await waitFor(() => /tool\/q0 from-tool-0/.test(sub.out()) && /tool\/q1 from-tool-1/.test(sub.out()), 5000,
    "both messages");
  await sub.stop();
});

test("paho (python3-paho-mqtt) 3.1.1 subscribes and publishes at QoS 1", async () => {
  const b = await broker();
  const script = `
import sys, time, paho.mqtt.client as mqtt
got = []
def on_message(c, u, m): got.append((m.topic, m.payload.decode(), m.qos))
sub = mqtt.Client(client_id="paho-sub", protocol=mqtt.MQTTv311)
sub.on_message = on_message
sub.connect("127.0.0.1", ${b.mqttPort})
sub.loop_start()
r, mid = sub.subscribe("paho/#", qos=1)
time.sleep(0.5)
pub = mqtt.Client(client_id="paho-pub", protocol=mqtt.MQTTv311)
pub.connect("127.0.0.1", ${b.mqttPort})
pub.loop_start()
pub.publish("paho/x", "hello-paho", qos=1).wait_for_publish()
deadline = time.time() + 5
while not got and time.time() < deadline: time.sleep(0.05)
print(got)
pub.loop_stop(); sub.loop_stop()
`;
  const r = await runTool(PYTHON_BIN, ["-c", script], 15000);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /\('paho\/x', 'hello-paho', 1\)/);
});

test("QoS 2 exactly once, across a reconnect of the publisher (M3-39, MB-18; mosquitto in the parity pass)", async () => {
  const b = await broker({ need: "mqtt" });
  const watch = await connectMqtt(b, { clientId: "q2-w" });
  const box = inbox(watch);
  await watch.subscribeAsync("q2/#", { qos: 2 });
  const pubPkt = (dup) => packet(0x34 | (dup ? 0x08 : 0), str("q2/a"), Buffer.from([0, 5]), "once");
  let [c] = await rawConnack(b, { id: "q2-pub", clean: false });
  await c.send(pubPkt(false));
  assert.equal(hex((await c.next()).bytes), "50020005");
  await c.send(pubPkt(true));
  assert.equal(hex((await c.next()).bytes), "50020005");
  await c.destroy();
  [c] = await rawConnack(b, { id: "q2-pub", clean: false });
  await c.send(pubPkt(true));
  assert.equal(hex((await c.next()).bytes), "50020005");
  await c.send(Buffer.from([0x62, 0x02, 0x00, 0x05]));
  assert.equal(hex((await c.next()).bytes), "70020005");
  const marker = await connectMqtt(b, { clientId: "q2-m" });
  await marker.publishAsync("q2/marker", "m", { qos: 2 });
  await box.wait(2);
  assert.deepEqual(box.msgs.map((m) => [m.payload, m.packet.qos]), [["once", 2], ["m", 2]]);
  await c.destroy();
});

test("MQTT.js QoS 2 both ways, and mosquitto_sub -q 2 (M3-38; mosquitto in the parity pass)", async () => {
  const b = await broker({ need: "mqtt" });
  const s = await connectMqtt(b, { clientId: "q2both-s" });
  const box = inbox(s);
  await s.subscribeAsync("q2b/#", { qos: 2 });
  const p = await connectMqtt(b, { clientId: "q2both-p" });
  for (let i = 0; i < 5; i++) await p.publishAsync("q2b/x", `e${i}`, { qos: 2 });
  await box.wait(5);
  assert.deepEqual(box.msgs.map((m) => m.payload), ["e0", "e1", "e2", "e3", "e4"]);
  assert.ok(box.msgs.every((m) => m.packet.qos === 2));
});

test("/varz has the mqtt object, /connz type mqtt with mqtt_client and its filter (MON-01, MON-02)", async () => {
  const b = await broker();
  const c = await connectMqtt(b, { clientId: "probe-1" });
  await c.subscribeAsync("mon/#", { qos: 1 });
  const varz = await getJSON(b.httpPort, "/varz");
  assert.equal(varz.mqtt.host, "127.0.0.1");
  assert.equal(varz.mqtt.port, b.mqttPort);
  assert.equal(typeof varz.mqtt.tls_timeout, "number");
  const connz = await waitFor(async () => {
    const z = await getJSON(b.httpPort, "/connz?mqtt_client=probe-1");
    return z.connections.length === 1 ? z : null;
  }, 5000, "the MQTT client in /connz");
  const row = connz.connections[0];
  assert.equal(row.type, "mqtt");
  assert.equal(row.kind, "Client");
  assert.equal(row.mqtt_client, "probe-1");
  assert.ok(row.subscriptions >= 1);
  const none = await getJSON(b.httpPort, "/connz?mqtt_client=nobody");
  assert.equal(none.connections.length, 0);
  await c.endAsync();
  const closed = await waitFor(async () => {
    const z = await getJSON(b.httpPort, "/connz?state=closed&mqtt_client=probe-1");
    return z.connections.length === 1 ? z : null;
  }, 5000, "the closed MQTT client");
  assert.equal(closed.connections[0].type, "mqtt");
});
