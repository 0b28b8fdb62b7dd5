// MQTT state across a restart and a kill -9, with real processes and real
// clients (MQTT.js, mosquitto_sub): a persistent 3.1.1 session's filters and
// the QoS 1 messages queued for it while offline, and retained messages,
// all acknowledged before the broker goes, are there after it comes back
// on the same store. natsedge keeps them under `store_dir` (docs/mqtt.md,
// "Persistence"); in the parity pass nats-server 2.9.10 keeps them in
// JetStream under `jetstream { store_dir }` (MQ-19, MQ-20, MQ-22), and the
// same assertions pass. IDs: shared/reference/mqtt-inventory.md (M3-) and
// nats-inventory.md (MQ-).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import { startServer, stopAll, brokerKind, within, sleep } from "./lib/harness.mjs";
import { inbox, runTool, endAllMqtt } from "./lib/mqtt.mjs";

const dirs = [];
const clients = new Set();

after(async () => {
  for (const c of clients) await within(c.endAsync(true), 3000, "MQTT end").catch(() => {});
  await endAllMqtt();
  await stopAll();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function storeDir() {
  const d = mkdtempSync(join(tmpdir(), "mqtt-persist-"));
  dirs.push(d);
  return d;
}

// The broker of this pass on the store in `dir`: natsedge with store_dir,
// nats-server with JetStream's (MQTT needs it there, and a server name).
async function start(dir) {
  const ref = brokerKind() !== "natsedge";
  const s = await startServer({
    ports: ["mqtt"],
    config: (p) =>
      (ref ? `server_name: "persist-ref"\njetstream { store_dir: "${dir}" }\n` : `store_dir: "${dir}"\n`) +
      `mqtt {\n  listen: "127.0.0.1:${p.mqtt}"\n}\n`,
  });
  return { server: s, port: s.ports.mqtt };
}

// An MQTT.js client (3.1.1) whose messages are collected from its first
// packet on, and the CONNACK it got.
async function connect(b, opts) {
  let last;
  // The MQTT listener may open a moment after the server says it is ready.
  for (let i = 0; i < 20; i++) {
    try {
      return await within(
        new Promise((resolve, reject) => {
          const c = mqtt.connect(`mqtt://127.0.0.1:${b.port}`, {
            reconnectPeriod: 0,
            connectTimeout: 5000,
            protocolVersion: 4,
            ...opts,
          });
          const box = inbox(c);
          c.once("connect", (ack) => {
            clients.add(c);
            resolve({ c, box, ack });
          });
          c.once("error", (e) => {
            c.end(true);
            reject(e);
          });
        }),
        8000,
        "MQTT connect",
      );
    } catch (e) {
      last = e;
      await sleep(100);
    }
  }
  throw last;
}

async function end(c) {
  clients.delete(c);
  await within(c.endAsync(), 5000, "MQTT end");
}

// Before the broker goes: a persistent session subscribed to a/# at QoS 1
// goes offline, five QoS 1 messages are published to it (each PUBACK'd),
// and a retained message (PUBACK'd).
async function fill(b) {
  const keeper = await connect(b, { clientId: "keeper", clean: false });
  assert.equal(keeper.ack.sessionPresent, false);
  const granted = await within(keeper.c.subscribeAsync("a/#", { qos: 1 }), 5000, "SUBACK");
  assert.equal(granted[0].qos, 1);
  await end(keeper.c);
  const pub = await connect(b, { clientId: "pub", clean: true });
  for (let i = 1; i <= 5; i++) {
    await within(pub.c.publishAsync(`a/${i}`, `m${i}`, { qos: 1 }), 5000, `PUBACK ${i}`);
  }
  await within(pub.c.publishAsync("r/state", "on", { qos: 1, retain: true }), 5000, "PUBACK retained");
  return pub;
}

// After it is back: the session is present with its five messages in order
// and its filter (a new message reaches it), and the retained message is
// replayed to a new subscriber, here mosquitto_sub.
async function check(b) {
  const keeper = await connect(b, { clientId: "keeper", clean: false });
  assert.equal(keeper.ack.sessionPresent, true, "the session came back");
  const msgs = await keeper.box.wait(5, 10000, "the five queued messages");
  assert.deepEqual(
    msgs.map((m) => `${m.topic}=${m.payload}`),
    ["a/1=m1", "a/2=m2", "a/3=m3", "a/4=m4", "a/5=m5"],
  );
  assert.ok(msgs.every((m) => m.packet.qos === 1));
  const pub = await connect(b, { clientId: "pub2", clean: true });
  await within(pub.c.publishAsync("a/6", "m6", { qos: 1 }), 5000, "PUBACK after the restart");
  await keeper.box.wait(6, 5000, "a message on the filter taken back");
  assert.equal(keeper.box.msgs[5].payload, "m6");
  const r = await runTool(
    "mosquitto_sub",
    ["-p", String(b.port), "-V", "mqttv311", "-t", "r/#", "-q", "1", "-C", "1", "-v", "-W", "5"],
    10000,
  );
  assert.equal(r.out.trim(), "r/state on", r.out);
  await end(keeper.c);
  await end(pub.c);
}

test("a persistent session, its queued QoS 1 messages and a retained message survive a restart (M3-32, M3-51, MQ-20, MQ-22)", async () => {
  const dir = storeDir();
  let b = await start(dir);
  const pub = await fill(b);
  await end(pub.c);
  await b.server.stop(); // SIGTERM: a graceful stop (nats-server exits 1, natsedge 0)
  b = await start(dir);
  await check(b);
  await b.server.stop();
});

test("the same survives kill -9 right after the last PUBACK (M3-32, M3-37, MQ-20, MQ-22)", async () => {
  const dir = storeDir();
  let b = await start(dir);
  const pub = await fill(b);
  b.server.signal("SIGKILL");
  await within(b.server.exited, 5000, "the broker killed");
  pub.c.end(true);
  clients.delete(pub.c);
  await b.server.stop();
  b = await start(dir);
  await check(b);
  await b.server.stop();
});

test("a session ended by a clean session does not come back after kill -9 (M3-31)", async () => {
  const dir = storeDir();
  let b = await start(dir);
  const k = await connect(b, { clientId: "brief", clean: false });
  await within(k.c.subscribeAsync("x/#", { qos: 1 }), 5000, "SUBACK");
  await end(k.c);
  const again = await connect(b, { clientId: "brief", clean: true });
  assert.equal(again.ack.sessionPresent, false);
  await end(again.c);
  // Both brokers end the session when its clean client goes; the store
  // follows before anything else is acknowledged (a SUBACK here).
  const other = await connect(b, { clientId: "other", clean: false });
  await within(other.c.subscribeAsync("y/#", { qos: 1 }), 5000, "SUBACK");
  b.server.signal("SIGKILL");
  await within(b.server.exited, 5000, "the broker killed");
  other.c.end(true);
  clients.delete(other.c);
  await b.server.stop();
  b = await start(dir);
  const back = await connect(b, { clientId: "brief", clean: false });
  assert.equal(back.ack.sessionPresent, false);
  await end(back.c);
  const kept = await connect(b, { clientId: "other", clean: false });
  assert.equal(kept.ack.sessionPresent, true);
  await end(kept.c);
  await b.server.stop();
});
