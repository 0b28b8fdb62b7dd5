// MQTT publishes captured by a JetStream stream (issue 17: "QoS 1/2 MQTT
// publishes can be captured by a JetStream stream"): a stream on the
// converted subjects (MQ-13, MQ-14) stores what MQTT clients publish, and a
// stream's messages reach MQTT subscribers of the topic. Against natsedge
// with JetStream and, in the parity pass, nats-server 2.9.10 (mqtt {} needs
// JetStream there), at QoS 1; QoS 2 on natsedge only (nats-server 2.9 has no
// QoS 2).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { stopAll, brokerKind } from "./lib/harness.mjs";
import { startMqtt, connectMqtt, endAllMqtt, inbox } from "./lib/mqtt.mjs";

const NATSEDGE = brokerKind() === "natsedge";
const brokers = [];
const ncs = [];
after(async () => {
  await endAllMqtt();
  for (const nc of ncs) if (!nc.isClosed()) await nc.close().catch(() => {});
  for (const b of brokers) await b.stop();
  await stopAll();
});

async function broker() {
  // natsedge: JetStream on (memory streams); nats-server: startMqtt adds its
  // jetstream block already.
  const b = await startMqtt({ config: NATSEDGE ? "jetstream: enabled\n" : "" });
  brokers.push(b);
  const nc = await connect({ servers: b.natsUrl, reconnect: false });
  ncs.push(nc);
  return { b, nc };
}

test("MQTT QoS 1 publishes are stored by a stream on the converted subjects, in order, and a stream's republished message reaches an MQTT subscriber (MQ-13, MQ-14, JS-17)", async () => {
  const { b, nc } = await broker();
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "SENSORS", subjects: ["sensors.>"], storage: "memory" });
  const pub = await connectMqtt(b, { clientId: "cap-pub" });
  for (let i = 1; i <= 5; i++) await pub.publishAsync(`sensors/room${i % 2}/temp`, `t${i}`, { qos: 1 });
  const si = await jsm.streams.info("SENSORS");
  assert.equal(si.state.messages, 5);
  for (let i = 1; i <= 5; i++) {
    const m = await jsm.streams.getMessage("SENSORS", { seq: i });
    assert.equal(m.subject, `sensors.room${i % 2}.temp`);
    assert.equal(m.string(), `t${i}`);
  }
  // A JetStream publish (nats.js) reaches an MQTT subscriber of the topic.
  const sub = await connectMqtt(b, { clientId: "cap-sub" });
  const box = inbox(sub);
  await sub.subscribeAsync("sensors/+/cmd", { qos: 1 });
  const ack = await jetstream(nc).publish("sensors.room9.cmd", "on");
  assert.equal(ack.seq, 6);
  const [got] = await box.wait(1, 5000, "the stream's message at the MQTT subscriber");
  assert.equal(got.topic, "sensors/room9/cmd");
  assert.equal(got.payload, "on");
});

test("MQTT QoS 2 publishes are stored once each (natsedge-only: nats-server 2.9 has no QoS 2)", { skip: !NATSEDGE && "natsedge-only: nats-server 2.9 has no MQTT QoS 2" }, async () => {
  const { b, nc } = await broker();
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "Q2", subjects: ["q2.>"], storage: "memory" });
  const pub = await connectMqtt(b, { clientId: "q2-pub", protocolVersion: 5 });
  for (let i = 1; i <= 4; i++) await pub.publishAsync("q2/x", `m${i}`, { qos: 2 });
  const si = await jsm.streams.info("Q2");
  assert.equal(si.state.messages, 4);
  assert.equal((await jsm.streams.getMessage("Q2", { seq: 4 })).string(), "m4");
});
