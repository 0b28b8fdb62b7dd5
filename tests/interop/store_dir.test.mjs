// One store_dir for everything the broker keeps: JetStream's file streams
// and MQTT's persistent sessions and retained messages live side by side
// under `jetstream { store_dir }` and both come back after a restart
// (natsedge: two store files there, docs/configuration.md; nats-server
// 2.9.10 keeps its MQTT state in JetStream under the same directory, MQ-19,
// MQ-22). The same assertions on both brokers.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { startServer, stopAll, within } from "./lib/harness.mjs";
import { inbox } from "./lib/mqtt.mjs";

const dirs = [];
const clients = new Set();
after(async () => {
  for (const c of clients) await within(c.endAsync(true), 3000, "MQTT end").catch(() => {});
  await stopAll();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function start(dir) {
  return startServer({
    ports: ["mqtt"],
    config: (p) => `server_name: "sd-1"\njetstream { store_dir: "${dir}" }\nmqtt {\n  listen: "127.0.0.1:${p.mqtt}"\n}\n`,
  });
}

// An MQTT.js 3.1.1 client whose messages are collected from its first
// packet on; the MQTT listener may open a moment after the server says it
// is ready, so a refused connect is tried again (bounded).
async function mqttClient(server, opts) {
  let last;
  for (let i = 0; i < 20; i++) {
    try {
      return await within(
        new Promise((resolve, reject) => {
          const c = mqtt.connect(`mqtt://127.0.0.1:${server.ports.mqtt}`, { reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 4, ...opts });
          const box = inbox(c);
          c.once("connect", () => {
            clients.add(c);
            resolve({ c, box });
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
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw last;
}

async function end(c) {
  clients.delete(c);
  await within(c.endAsync(), 5000, "MQTT end");
}

test("a file stream and a persistent MQTT session with a retained message share one store_dir and both come back after a restart (MQ-19, MQ-22, JS-17)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "natsedge-storedir-"));
  dirs.push(dir);
  let server = await start(dir);

  let nc = await connect({ servers: server.url, reconnect: false });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "KEEP", subjects: ["keep.>"], storage: "file" });
  const js = jetstream(nc);
  for (let i = 1; i <= 3; i++) assert.equal((await js.publish(`keep.${i}`, `k${i}`)).seq, i);

  const { c: sub } = await mqttClient(server, { clientId: "sd-sub", clean: false });
  await sub.subscribeAsync("sd/t", { qos: 1 });
  await end(sub);
  const { c: pub } = await mqttClient(server, { clientId: "sd-pub" });
  await pub.publishAsync("sd/t", "queued", { qos: 1 });
  await pub.publishAsync("sd/r", "kept", { qos: 1, retain: true });
  await end(pub);
  await nc.close();
  await server.stop();

  server = await start(dir);
  nc = await connect({ servers: server.url, reconnect: false });
  const si = await (await jetstreamManager(nc)).streams.info("KEEP");
  assert.equal(si.state.messages, 3);
  assert.equal(si.state.last_seq, 3);
  const m = await (await jetstreamManager(nc)).streams.getMessage("KEEP", { seq: 2 });
  assert.equal(m.string(), "k2");

  const { c: back, box } = await mqttClient(server, { clientId: "sd-sub", clean: false });
  const [queued] = await box.wait(1, 10000, "the queued message after the restart");
  assert.equal(queued.topic, "sd/t");
  assert.equal(queued.payload, "queued");
  await end(back);

  const { c: fresh, box: fbox } = await mqttClient(server, { clientId: "sd-new" });
  await fresh.subscribeAsync("sd/r", { qos: 1 });
  const [retained] = await fbox.wait(1, 10000, "the retained message after the restart");
  assert.equal(retained.payload, "kept");
  assert.equal(retained.packet.retain, true);
  await end(fresh);
  await nc.close();
});
