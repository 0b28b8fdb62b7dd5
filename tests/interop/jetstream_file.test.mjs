// File storage across restarts, as nats.js sees it: streams with their
// configuration and messages, durable consumers with their ack floors and
// pending acknowledgements, KV buckets and object stores, found again after
// the broker stops and starts on the same store directory. Run against
// natsedge and against nats-server 2.9.10 -js -sd with the same assertions.
// JS-xx and KV-xx are the facts of shared/reference/nats-inventory.md §4.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, headers } from "@nats-io/transport-node";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import { startServer, stopAll, within, waitFor, brokerKind } from "./lib/harness.mjs";
import { api } from "./lib/js.mjs";

const dirs = [];
after(async () => {
  await stopAll();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function storeDir() {
  const d = mkdtempSync(join(tmpdir(), "natsedge-jsfile-"));
  dirs.push(d);
  return d;
}

const start = (sd, args = []) => startServer({ args: ["-js", "-sd", sd, ...args] });
const td = new TextDecoder();

// Stops (SIGTERM) and starts again on the same directory; a new client.
async function restart(server, nc, sd) {
  await nc.close();
  await server.stop();
  const s = await start(sd);
  return { server: s, nc: await connect({ servers: s.url, reconnect: false }) };
}

test("a file stream keeps its messages and configuration across a restart (JS-17, JS-23, JS-24)", async () => {
  const sd = storeDir();
  let server = await start(sd);
  let nc = await connect({ servers: server.url, reconnect: false });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({
    name: "ORDERS",
    subjects: ["orders.>"],
    storage: "file",
    max_msgs_per_subject: 10,
    description: "kept on disk",
  });
  const js = jetstream(nc);
  for (let i = 1; i <= 50; i++) {
    const h = headers();
    h.set("Idx", String(i));
    const ack = await js.publish(`orders.${i % 5}`, `order ${i}`, { headers: h });
    assert.equal(ack.seq, i);
  }
  await jsm.streams.deleteMessage("ORDERS", 7);
  const before = await jsm.streams.info("ORDERS");
  ({ server, nc } = await restart(server, nc, sd));
  const jsm2 = await jetstreamManager(nc);
  const si = await jsm2.streams.info("ORDERS");
  assert.equal(si.config.storage, "file");
  assert.equal(si.config.description, "kept on disk");
  assert.deepEqual(si.config.subjects, ["orders.>"]);
  assert.equal(si.state.messages, 49);
  assert.equal(si.state.first_seq, 1);
  assert.equal(si.state.last_seq, 50);
  assert.equal(si.state.bytes, before.state.bytes);
  assert.equal(si.state.num_subjects, 5);
  assert.equal(si.created, before.created, "created survives");
  const m = await jsm2.streams.getMessage("ORDERS", { seq: 42 });
  assert.equal(m.subject, "orders.2");
  assert.equal(td.decode(m.data), "order 42");
  assert.equal(m.header.get("Idx"), "42");
  const gone = await api(nc, "$JS.API.STREAM.MSG.GET.ORDERS", { seq: 7 });
  assert.equal(gone.error?.err_code, 10037, "the deleted message stays deleted");
  const last = await jsm2.streams.getMessage("ORDERS", { last_by_subj: "orders.3" });
  assert.equal(last.seq, 48);
  // Publishing goes on after the last sequence.
  const ack = await jetstream(nc).publish("orders.9", "after");
  assert.equal(ack.seq, 51);
  await nc.close();
  await server.stop();
});

test("a durable consumer resumes from its ack floor after a restart (JS-28, JS-33, JS-36)", async () => {
  const sd = storeDir();
  let server = await start(sd);
  let nc = await connect({ servers: server.url, reconnect: false });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "WORK", subjects: ["work.>"], storage: "file" });
  const js = jetstream(nc);
  for (let i = 1; i <= 20; i++) await js.publish("work.a", `w${i}`);
  await jsm.consumers.add("WORK", {
    durable_name: "proc",
    ack_policy: AckPolicy.Explicit,
    ack_wait: 1_000_000_000,
  });
  const c = await js.consumers.get("WORK", "proc");
  const batch = await c.fetch({ max_messages: 8, expires: 2000 });
  const got = [];
  for await (const m of batch) {
    got.push(m);
    if (got.length === 8) break;
  }
  assert.equal(got.length, 8);
  // 1..5 acknowledged (confirmed), 6..8 delivered and left pending.
  for (const m of got.slice(0, 5)) assert.equal(await m.ackAck(), true);
  const ci = await jsm.consumers.info("WORK", "proc");
  assert.equal(ci.ack_floor.stream_seq, 5);
  assert.equal(ci.num_ack_pending, 3);
  ({ server, nc } = await restart(server, nc, sd));
  const jsm2 = await jetstreamManager(nc);
  const ci2 = await jsm2.consumers.info("WORK", "proc");
  assert.equal(ci2.config.durable_name, "proc");
  assert.equal(ci2.config.ack_wait, 1_000_000_000);
  assert.equal(ci2.ack_floor.stream_seq, 5);
  assert.equal(ci2.ack_floor.consumer_seq, 5);
  assert.equal(ci2.delivered.stream_seq, 8);
  assert.equal(ci2.delivered.consumer_seq, 8);
  assert.equal(ci2.num_ack_pending, 3);
  assert.equal(ci2.num_pending, 12);
  // The pending ones come again (redelivered), then the rest; nothing acked.
  const c2 = await jetstream(nc).consumers.get("WORK", "proc");
  const seen = [];
  await within((async () => {
    while (seen.length < 15) {
      const b = await c2.fetch({ max_messages: 15 - seen.length, expires: 2000 });
      for await (const m of b) {
        seen.push({ seq: m.seq, redelivered: m.redelivered });
        await m.ackAck();
      }
    }
  })(), 15000, "the rest of the stream");
  const seqs = seen.map((s) => s.seq).sort((a, b) => a - b);
  assert.deepEqual(seqs, Array.from({ length: 15 }, (_, i) => i + 6));
  for (const s of seen) assert.equal(s.redelivered, s.seq <= 8, `seq ${s.seq} redelivered`);
  const ci3 = await jsm2.consumers.info("WORK", "proc");
  assert.equal(ci3.ack_floor.stream_seq, 20);
  assert.equal(ci3.num_ack_pending, 0);
  await nc.close();
  await server.stop();
});

test("KV buckets on file storage are there after a restart (KV-01, KV-03, KV-07)", async () => {
  const sd = storeDir();
  let server = await start(sd);
  let nc = await connect({ servers: server.url, reconnect: false });
  const kv = await new Kvm(nc).create("cfg", { history: 3 });
  assert.equal(await kv.put("a", "1"), 1);
  assert.equal(await kv.put("a", "2"), 2);
  assert.equal(await kv.put("b.c", "x"), 3);
  await kv.delete("b.c");
  assert.equal(await kv.put("d", "y"), 5);
  ({ server, nc } = await restart(server, nc, sd));
  const kv2 = await new Kvm(nc).open("cfg");
  const st = await kv2.status();
  assert.equal(st.history, 3);
  assert.equal(st.values, 5);
  assert.equal(st.backingStore, "file");
  assert.equal((await kv2.get("a")).string(), "2");
  assert.equal((await kv2.get("a", { revision: 1 })).string(), "1");
  assert.equal((await kv2.get("b.c")).operation, "DEL");
  const keys = [];
  for await (const k of await kv2.keys()) keys.push(k);
  assert.deepEqual(keys.sort(), ["a", "d"]);
  const hist = [];
  for await (const e of await kv2.history({ key: "a" })) hist.push(e.string());
  assert.deepEqual(hist, ["1", "2"]);
  // Revisions go on; create with an expected revision still checks it.
  assert.equal(await kv2.update("a", "3", 2), 6);
  await assert.rejects(kv2.create("d", "z"), /wrong last sequence/);
  await nc.close();
  await server.stop();
});

test("an object store on file storage is there after a restart (KV-08)", async () => {
  const sd = storeDir();
  let server = await start(sd);
  let nc = await connect({ servers: server.url, reconnect: false });
  const os = await new Objm(nc).create("files");
  const data = new Uint8Array(200 * 1024);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
  const info = await os.putBlob({ name: "blob.bin", options: { max_chunk_size: 16 * 1024 } }, data);
  assert.equal(info.size, data.length);
  ({ server, nc } = await restart(server, nc, sd));
  const os2 = await new Objm(nc).open("files");
  const back = await os2.getBlob("blob.bin");
  assert.equal(back.length, data.length);
  assert.deepEqual(Buffer.from(back), Buffer.from(data));
  const list = await os2.list();
  assert.deepEqual(list.map((o) => o.name), ["blob.bin"]);
  await nc.close();
  await server.stop();
});

test("deleted streams and consumers stay deleted after a restart (JS-07, JS-30)", async () => {
  const sd = storeDir();
  let server = await start(sd);
  let nc = await connect({ servers: server.url, reconnect: false });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "GONE", subjects: ["gone.>"], storage: "file" });
  await jsm.streams.add({ name: "KEPT", subjects: ["kept.>"], storage: "file" });
  await jsm.consumers.add("KEPT", { durable_name: "c1", ack_policy: AckPolicy.Explicit });
  await jsm.consumers.add("KEPT", { durable_name: "c2", ack_policy: AckPolicy.Explicit });
  await jetstream(nc).publish("gone.x", "1");
  await jsm.streams.delete("GONE");
  await jsm.consumers.delete("KEPT", "c1");
  await jsm.streams.update("KEPT", { subjects: ["kept.>", "also.>"], max_msgs: 100 });
  ({ server, nc } = await restart(server, nc, sd));
  const jsm2 = await jetstreamManager(nc);
  const names = [];
  for await (const n of jsm2.streams.names()) names.push(n);
  assert.deepEqual(names, ["KEPT"]);
  const si = await jsm2.streams.info("KEPT");
  assert.deepEqual(si.config.subjects, ["kept.>", "also.>"], "the update is what is kept");
  assert.equal(si.config.max_msgs, 100);
  const cons = [];
  for await (const c of jsm2.consumers.list("KEPT")) cons.push(c.name);
  assert.deepEqual(cons, ["c2"]);
  // A stream of the deleted one's name starts empty.
  await jsm2.streams.add({ name: "GONE", subjects: ["gone.>"], storage: "file" });
  assert.equal((await jsm2.streams.info("GONE")).state.messages, 0);
  await nc.close();
  await server.stop();
});

test("Nats-Msg-Id duplicates are still caught after a restart (JS-18)", async () => {
  const sd = storeDir();
  let server = await start(sd);
  let nc = await connect({ servers: server.url, reconnect: false });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "DD", subjects: ["dd"], storage: "file" });
  const a1 = await jetstream(nc).publish("dd", "one", { msgID: "id-1" });
  assert.equal(a1.seq, 1);
  ({ server, nc } = await restart(server, nc, sd));
  const again = await jetstream(nc).publish("dd", "one", { msgID: "id-1" });
  assert.equal(again.seq, 1);
  assert.equal(again.duplicate, true);
  assert.equal((await jetstreamManager(nc).then((m) => m.streams.info("DD"))).state.messages, 1);
  await nc.close();
  await server.stop();
});

test("max_file_store above what was compiled in is a configuration error naming the knob (natsedge only: nats-server has no such bound)", { skip: brokerKind() === "nats-server" }, async () => {
  const sd = storeDir();
  await assert.rejects(
    startServer({ config: `jetstream { store_dir: "${sd}", max_file_store: 1T }` }),
    /max_file_store \d+ is above the compiled-in maximum \d+: raise NE_STORE_MAX_BLOCKS/,
  );
});

test("a message larger than one store record, a durable's max_ack_pending above NE_JS_FILE_PENDING: refused (natsedge only: differences.md, JetStream, \"File storage is one device\")", { skip: brokerKind() === "nats-server" }, async () => {
  const sd = storeDir();
  const server = await start(sd);
  const nc = await connect({ servers: server.url, reconnect: false });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "BIG", subjects: ["big"], storage: "file" });
  const r = await api(nc, "big", "x".repeat(64 * 1024));
  assert.equal(r.error?.code, 503);
  assert.equal(r.error?.err_code, 10077);
  assert.equal(r.error?.description, "message to large");
  const c = await api(nc, "$JS.API.CONSUMER.DURABLE.CREATE.BIG.d", {
    stream_name: "BIG",
    config: { durable_name: "d", ack_policy: "explicit", max_ack_pending: 5000 },
  });
  assert.equal(c.error?.err_code, 10012);
  assert.match(c.error?.description, /at most 1000 \(NE_JS_FILE_PENDING\)/);
  await nc.close();
  await server.stop();
});

test("a second broker on the same store_dir gets no file storage: 10047 (natsedge only: differences.md, JetStream, \"File storage is one device\")", { skip: brokerKind() === "nats-server" }, async () => {
  const sd = storeDir();
  const a = await start(sd);
  const nca = await connect({ servers: a.url, reconnect: false });
  await (await jetstreamManager(nca)).streams.add({ name: "A", subjects: ["a"], storage: "file" });
  const b = await start(sd);
  const ncb = await connect({ servers: b.url, reconnect: false });
  const r = await api(ncb, "$JS.API.STREAM.CREATE.B", { name: "B", subjects: ["b"], storage: "file" });
  assert.equal(r.error?.err_code, 10047);
  await waitFor(() => /JetStream file storage unavailable: cannot open its file/.test(b.logs()), 5000,
    "the reason in the log");
  await ncb.close();
  await b.stop();
  assert.equal((await jetstreamManager(nca).then((m) => m.streams.info("A"))).config.storage, "file");
  await nca.close();
  await a.stop();
});

test("file streams beyond the store's logs (NE_STORE_MAX_LOGS) get 503 10023 and the knob is logged (natsedge only: differences.md, JetStream, \"File storage is one device\")", { skip: brokerKind() === "nats-server" }, async () => {
  const sd = storeDir();
  const server = await start(sd);
  const nc = await connect({ servers: server.url, reconnect: false });
  let made = 0;
  let refused = null;
  for (let i = 0; i < 300 && !refused; i++) {
    const r = await api(nc, `$JS.API.STREAM.CREATE.F${i}`, { name: `F${i}`, subjects: [`f.${i}`], storage: "file" });
    if (r.error) refused = r.error;
    else made++;
  }
  assert.ok(made >= 1, "some file streams are made");
  assert.equal(refused?.code, 503);
  assert.equal(refused?.err_code, 10023);
  await waitFor(() => /raise NE_STORE_MAX_LOGS|raise NE_JS_FILE_STREAMS/.test(server.logs()), 5000,
    "the knob in the log");
  // Memory streams are not bounded by the store.
  const m = await api(nc, "$JS.API.STREAM.CREATE.M", { name: "M", subjects: ["m"], storage: "memory" });
  assert.equal(m.error, undefined);
  await nc.close();
  await server.stop();
});
