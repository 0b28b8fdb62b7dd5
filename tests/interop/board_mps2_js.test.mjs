// The mps2-an385 firmware of the tiny-js profile (bare-metal Cortex-M3,
// lwIP on a LAN9118, JetStream with its file streams on the board's storage
// partition) booted in QEMU with user networking, 4222 forwarded to a free
// loopback port. nats.js drives it through that port: a file stream and a
// KV bucket are created, published to and put into, read back; a durable
// consumer acknowledges part of the stream; then the board is reset warm
// (QEMU's system_reset through its monitor, as a watchdog or a reset
// button would: the storage partition is RAM on this board and keeps its
// contents across the reset, docs/firmware.md) and everything is there
// again. Needs NATSEDGE_MPS2_JS_ELF and qemu-system-arm; without them the
// suite fails with the reason (SKIP_BOARDS=1 skips it instead).
// natsedge-only: the nats-server pass skips it (a firmware of natsedge's
// own, with nothing of nats-server's to compare).
// JS-xx and KV-xx are the facts of shared/reference/nats-inventory.md §4.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, headers } from "@nats-io/transport-node";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import mqtt from "mqtt";
import { within } from "./lib/harness.mjs";
import { bootBoard, resetBoard as reset, stopBoards, boardSuite } from "./lib/board.mjs";

const { skip, paths: [ELF] } = boardSuite("mps2-an385 tiny-js", [["NATSEDGE_MPS2_JS_ELF", "tiny-js firmware"]]);

const NAME = "mps2-an385 tiny-js (natsedge-only: its Cortex-M firmware)";
// A bound, not a speed check: on a loaded machine the board answers slowly.
const OP_TIMEOUT_MS = 15000;
const td = new TextDecoder();
let q = null;
let natsPort = 0;
let mqttPort = 0;
let tmp = "";

const readyCount = () => q.readyCount();
// A warm reset of the board through QEMU's monitor (system_reset: RAM, and
// with it the storage partition, is kept).
const resetBoard = () => reset(q);

const open = new Set();
async function client() {
  const nc = await within(
    connect({ servers: `127.0.0.1:${natsPort}`, reconnect: false, timeout: 10000 }),
    OP_TIMEOUT_MS,
    "NATS connect",
  );
  open.add(nc);
  return nc;
}
async function close(nc) {
  open.delete(nc);
  await within(nc.close(), 5000, "NATS close").catch(() => {});
}

before(async () => {
  if (skip) return;
  tmp = mkdtempSync(join(tmpdir(), "natsedge-mps2-js-"));
  // 4222 and 1883 forwarded to free loopback ports, QEMU's monitor on a
  // UNIX socket of our own directory.
  q = await bootBoard(ELF, [4222, 1883], { monitorDir: tmp });
  natsPort = q.ports[4222];
  mqttPort = q.ports[1883];
});

after(async () => {
  for (const nc of [...open]) await nc.close().catch(() => {});
  await stopBoards();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test(`${NAME}: the firmware boots with JetStream on and its storage partitions laid out`, { skip }, () => {
  assert.match(q.console(), /Storage region: 320 KiB at 0x00200000, JetStream 256 KiB, MQTT 64 KiB/);
  assert.match(q.console(), /Starting JetStream/);
  assert.match(q.console(), /Listening for client connections on 0\.0\.0\.0:4222/);
  // QEMU starts the region zeroed; the board takes that for a blank part
  // (a flash part ships erased), not for damaged blocks.
  assert.doesNotMatch(q.console(), /what it held is lost|unreadable header/);
});

test(`${NAME}: a file stream, a durable consumer and a KV bucket survive a warm reset (JS-17, JS-23, JS-28, JS-33, KV-01, KV-03, KV-07)`, { skip }, async () => {
  let nc = await client();
  const jsm = await jetstreamManager(nc);
  await within(
    jsm.streams.add({ name: "SENSORS", subjects: ["sensors.>"], storage: "file", description: "on flash" }),
    OP_TIMEOUT_MS,
    "STREAM.CREATE",
  );
  const js = jetstream(nc);
  for (let i = 1; i <= 20; i++) {
    const h = headers();
    h.set("Idx", String(i));
    const ack = await within(js.publish(`sensors.t${i % 4}`, `reading ${i}`, { headers: h }), OP_TIMEOUT_MS, "publish");
    assert.equal(ack.seq, i);
    assert.equal(ack.stream, "SENSORS");
  }
  await jsm.consumers.add("SENSORS", { durable_name: "uplink", ack_policy: AckPolicy.Explicit, ack_wait: 2_000_000_000,
    // At most NE_JS_FILE_PENDING (64 on tiny-js) for a durable of a file stream.
    max_ack_pending: 64 });
  const c = await js.consumers.get("SENSORS", "uplink");
  const got = [];
  await within((async () => {
    while (got.length < 6) {
      const b = await c.fetch({ max_messages: 6 - got.length, expires: 3000 });
      for await (const m of b) got.push(m);
    }
  })(), OP_TIMEOUT_MS, "the first 6 messages");
  // 1..4 acknowledged (confirmed), 5 and 6 delivered and left pending.
  for (const m of got.slice(0, 4)) assert.equal(await within(m.ackAck(), OP_TIMEOUT_MS, "ackAck"), true);

  const kvm = new Kvm(nc);
  const kv = await within(kvm.create("settings", { history: 3 }), OP_TIMEOUT_MS, "KV create");
  assert.equal(await kv.put("mode", "eco"), 1);
  assert.equal(await kv.put("interval", "30"), 2);
  assert.equal(await kv.put("mode", "boost"), 3);
  assert.equal(td.decode((await kv.get("mode")).value), "boost");
  const before = await jsm.streams.info("SENSORS");
  assert.equal(before.state.messages, 20);
  await close(nc);

  await resetBoard();
  assert.match(q.console().slice(q.console().lastIndexOf("Storage region")), /Starting JetStream/);

  nc = await client();
  const jsm2 = await jetstreamManager(nc);
  const si = await within(jsm2.streams.info("SENSORS"), OP_TIMEOUT_MS, "STREAM.INFO after the reset");
  assert.equal(si.config.storage, "file");
  assert.equal(si.config.description, "on flash");
  assert.deepEqual(si.config.subjects, ["sensors.>"]);
  assert.equal(si.state.messages, 20);
  assert.equal(si.state.first_seq, 1);
  assert.equal(si.state.last_seq, 20);
  assert.equal(si.state.bytes, before.state.bytes);
  assert.equal(si.created, before.created, "created survives");
  const m = await jsm2.streams.getMessage("SENSORS", { seq: 13 });
  assert.equal(m.subject, "sensors.t1");
  assert.equal(td.decode(m.data), "reading 13");
  assert.equal(m.header.get("Idx"), "13");

  const ci = await jsm2.consumers.info("SENSORS", "uplink");
  assert.equal(ci.ack_floor.stream_seq, 4);
  assert.equal(ci.delivered.stream_seq, 6);
  assert.equal(ci.num_ack_pending, 2);
  assert.equal(ci.num_pending, 14);
  // The two pending come again (redelivered), then the rest; nothing acked
  // before the reset comes back.
  const c2 = await jetstream(nc).consumers.get("SENSORS", "uplink");
  const seen = [];
  await within((async () => {
    while (seen.length < 16) {
      const b = await c2.fetch({ max_messages: 16 - seen.length, expires: 3000 });
      for await (const x of b) {
        seen.push({ seq: x.seq, redelivered: x.redelivered });
        await x.ackAck();
      }
    }
  })(), 30000, "the rest of the stream");
  assert.deepEqual(seen.map((s) => s.seq).sort((a, b) => a - b), Array.from({ length: 16 }, (_, i) => i + 5));
  for (const s of seen) assert.equal(s.redelivered, s.seq <= 6, `seq ${s.seq} redelivered`);

  const kv2 = await new Kvm(nc).open("settings");
  assert.equal(td.decode((await kv2.get("mode")).value), "boost");
  assert.equal((await kv2.get("mode")).revision, 3);
  assert.equal(td.decode((await kv2.get("interval")).value), "30");
  const keys = [];
  for await (const k of await kv2.keys()) keys.push(k);
  assert.deepEqual(keys.sort(), ["interval", "mode"]);
  const hist = [];
  for await (const e of await kv2.history({ key: "mode" })) hist.push(td.decode(e.value));
  assert.deepEqual(hist, ["eco", "boost"]);
  // The stream goes on from where it was.
  const ack = await jetstream(nc).publish("sensors.t0", "after the reset");
  assert.equal(ack.seq, 21);
  assert.equal(await kv2.put("mode", "eco"), 4);
  await close(nc);
});

test(`${NAME}: MQTT's retained messages and persistent sessions are kept on their partition across a warm reset (MQ-06, MQ-07, MQ-11, MQ-23)`, { skip }, async () => {
  const opts = { reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 4 };
  const mq = (o) => within(mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { ...opts, ...o }), OP_TIMEOUT_MS, "MQTT connect");
  const pub = await mq({ clientId: "keeper" });
  await within(pub.publishAsync("plant/state", "running", { qos: 1, retain: true }), OP_TIMEOUT_MS, "PUBACK");
  // A persistent session subscribed at QoS 1, away when a message comes.
  const away = await mq({ clientId: "away", clean: false });
  await within(away.subscribeAsync("plant/alarm", { qos: 1 }), OP_TIMEOUT_MS, "SUBACK");
  await within(away.endAsync(), 5000, "MQTT end");
  await within(pub.publishAsync("plant/alarm", "overheat", { qos: 1 }), OP_TIMEOUT_MS, "PUBACK");
  await within(pub.endAsync(), 5000, "MQTT end");

  await resetBoard();

  const fresh = await mq({ clientId: "fresh" });
  const retained = new Promise((resolve) => fresh.on("message", (t, p, packet) => resolve({ t, p: p.toString(), retain: packet.retain })));
  await within(fresh.subscribeAsync("plant/state", { qos: 1 }), OP_TIMEOUT_MS, "SUBACK");
  assert.deepEqual(await within(retained, OP_TIMEOUT_MS, "the retained message"), { t: "plant/state", p: "running", retain: true });
  await within(fresh.endAsync(), 5000, "MQTT end");
  const back = await within(
    new Promise((resolve, reject) => {
      const c = mqtt.connect(`mqtt://127.0.0.1:${mqttPort}`, { ...opts, clientId: "away", clean: false });
      c.once("connect", (ack) => c.once("message", (t, p) => resolve({ c, present: ack.sessionPresent, t, p: p.toString() })));
      c.once("error", reject);
    }),
    OP_TIMEOUT_MS,
    "the queued message",
  );
  assert.equal(back.present, true, "the session is still there");
  assert.deepEqual([back.t, back.p], ["plant/alarm", "overheat"]);
  await within(back.c.endAsync(), 5000, "MQTT end");
});

test(`${NAME}: no fault or assertion on the console, before or after the resets`, { skip }, async () => {
  const nc = await client();
  await close(nc);
  assert.equal(q.child.exitCode, null);
  assert.doesNotMatch(q.console(), /\[FTL\]/);
  assert.doesNotMatch(q.console(), /JetStream file storage unavailable|Storage device could not be opened/);
  assert.equal(readyCount(), 3, "one boot and two warm resets");
});
