// KV and object store as @nats-io/kv and @nats-io/obj 3.x use them, against
// the broker in NATSEDGE_BIN started with -js: natsedge, or nats-server
// 2.9.10 in the parity pass, with the same assertions. Buckets use memory
// storage, which both brokers have. KV-xx are the facts of
// shared/reference/nats-inventory.md section 4.10.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { connect } from "@nats-io/transport-node";
import { StorageType, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import { stopAll, within, waitFor } from "./lib/harness.mjs";
import { startJs } from "./lib/js.mjs";

let server;
let nc;
const td = new TextDecoder();
const mem = { storage: StorageType.Memory };

before(async () => {
  server = await startJs();
  nc = await connect({ servers: server.url, reconnect: false });
});

after(async () => {
  await nc?.close();
  await stopAll();
});

// Values of a watch or history iterator until `until` says stop.
async function drain(iter, until, ms = 5000, what = "entries") {
  return within((async () => {
    const got = [];
    for await (const e of iter) {
      got.push(e);
      if (until(e, got)) break;
    }
    return got;
  })(), ms, what);
}

test("KV create: the bucket's stream as nats.js asks for it (KV-01, KV-02, KV-09)", async () => {
  const kvm = new Kvm(nc);
  const kv = await kvm.create("cfg", { ...mem, history: 3 });
  const jsm = await jetstreamManager(nc);
  const si = await jsm.streams.info("KV_cfg");
  assert.deepEqual(si.config.subjects, ["$KV.cfg.>"]);
  assert.equal(si.config.max_msgs_per_subject, 3);
  assert.equal(si.config.discard, "new");
  assert.equal(si.config.allow_direct, true);
  assert.equal(si.config.allow_rollup_hdrs, true);
  const again = await kvm.open("cfg");
  assert.equal((await again.status()).history, 3);
  const st = await kv.status();
  assert.equal(st.bucket, "cfg");
  assert.equal(st.values, 0);
  await kv.destroy();
});

test("KV put, get, create, update with revisions, delete, purge (KV-03, KV-04, KV-05)", async () => {
  const kv = await new Kvm(nc).create("ops", { ...mem, history: 5 });
  assert.equal(await kv.put("a.b", "1"), 1);
  assert.equal(await kv.put("a.b", "2"), 2);
  const e = await kv.get("a.b");
  assert.equal(e.string(), "2");
  assert.equal(e.revision, 2);
  assert.equal(e.operation, "PUT");
  assert.equal((await kv.get("a.b", { revision: 1 })).string(), "1");
  assert.equal(await kv.get("none"), null);
  assert.equal(await kv.create("new", "x"), 3);
  await assert.rejects(kv.create("new", "y"), /wrong last sequence/);
  assert.equal(await kv.update("new", "z", 3), 4);
  await assert.rejects(kv.update("new", "w", 3), /wrong last sequence: 4/);
  await kv.delete("new");
  const d = await kv.get("new");
  assert.equal(d.operation, "DEL");
  assert.equal(await kv.create("new", "again"), 6, "create after delete takes the deleted revision");
  await kv.purge("a.b");
  const p = await kv.get("a.b");
  assert.equal(p.operation, "PURGE");
  const h = await kv.history({ key: "a.b" });
  const hist = await drain(h, (_, got) => got.length === 1);
  assert.equal(hist.length, 1, "the purge rolled the key's history up");
  assert.equal(hist[0].operation, "PURGE");
  await kv.destroy();
});

test("KV keys, history and status after many updates (KV-07, KV-08)", async () => {
  const kv = await new Kvm(nc).create("many", { ...mem, history: 2 });
  for (let i = 0; i < 20; i++) await kv.put(`k${i % 5}`, `v${i}`);
  await kv.delete("k4");
  const keys = [];
  for await (const k of await kv.keys()) keys.push(k);
  assert.deepEqual(keys.sort(), ["k0", "k1", "k2", "k3"]);
  const hist = [];
  for await (const e of await kv.history({ key: "k1" })) {
    hist.push(e.string());
  }
  assert.deepEqual(hist, ["v11", "v16"], "history 2 keeps the last two");
  const st = await kv.status();
  assert.equal(st.values, 10, "4 keys x 2 revisions, k4's last value and its delete marker");
  await kv.destroy();
});

test("KV watch: the current values, then updates as they happen; with and without history (KV-06)", async () => {
  const kv = await new Kvm(nc).create("w", { ...mem, history: 3 });
  await kv.put("x", "1");
  await kv.put("y", "2");
  await kv.put("x", "3");
  const w = await kv.watch();
  const initial = [];
  const seen = within((async () => {
    for await (const e of w) {
      initial.push(`${e.key}=${e.string()}`);
      if (initial.length === 4) break;
    }
  })(), 5000, "watch");
  await waitFor(() => initial.length >= 2, 5000, "the current values");
  await kv.put("z", "4");
  await kv.put("y", "5");
  await seen;
  assert.deepEqual(initial, ["y=2", "x=3", "z=4", "y=5"]);
  const wh = await kv.watch({ include: "history", key: "x" });
  const hx = await drain(wh, (_, got) => got.length === 2);
  assert.deepEqual(hx.map((e) => e.string()), ["1", "3"]);
  await kv.destroy();
});

test("KV max_age: values expire (TTL) (KV-02)", async () => {
  const kv = await new Kvm(nc).create("ttl", { ...mem, ttl: 500 });
  await kv.put("t", "soon gone");
  assert.equal((await kv.get("t")).string(), "soon gone");
  await waitFor(async () => (await kv.get("t")) === null, 5000, "expiry");
  await kv.destroy();
});

test("object store: a 10 MiB object in chunks, info, list, get, links, delete (inventory section 4, issue 16)", async () => {
  const objm = new Objm(nc);
  const os = await objm.create("files", mem);
  const data = randomBytes(10 * 1024 * 1024);
  const info = await os.putBlob({ name: "big.bin", description: "ten mebibytes" }, data);
  assert.equal(info.size, data.length);
  assert.ok(info.chunks > 1);
  const r = await os.getBlob("big.bin");
  assert.equal(r.length, data.length);
  assert.equal(createHash("sha256").update(r).digest("hex"), createHash("sha256").update(data).digest("hex"));
  await os.putBlob({ name: "small.txt" }, new TextEncoder().encode("hello"));
  const names = (await os.list()).map((i) => i.name).sort();
  assert.deepEqual(names, ["big.bin", "small.txt"]);
  const i = await os.info("small.txt");
  assert.equal(i.size, 5);
  await os.link("alias.txt", i);
  assert.equal(td.decode(await os.getBlob("alias.txt")), "hello");
  await os.delete("big.bin");
  assert.equal(await os.getBlob("big.bin"), null);
  const st = await os.status();
  assert.equal(st.bucket, "files");
  await os.destroy();
});

test("object store watch sees puts (issue 16)", async () => {
  const os = await new Objm(nc).create("watched", mem);
  const w = await os.watch();
  const seen = [];
  const done = within((async () => {
    for await (const e of w) {
      if (e === null) continue;
      seen.push(e.name);
      if (seen.length === 2) break;
    }
  })(), 5000, "object watch");
  await os.putBlob({ name: "one" }, new TextEncoder().encode("1"));
  await os.putBlob({ name: "two" }, new TextEncoder().encode("2"));
  await done;
  assert.deepEqual(seen, ["one", "two"]);
  await os.destroy();
});
