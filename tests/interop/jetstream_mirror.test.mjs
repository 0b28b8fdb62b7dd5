// Mirrors and sources of streams on the same server (inventory JS-26b,
// JS-26): a stream with `mirror: {name}` or `sources: [...]` naming a
// stream of this server, without `external`, as nats-server 2.9.10 -js
// keeps it: the origin's messages in order (a mirror at the origin's own
// sequences, a source with a `Nats-Stream-Source: <origin> <seq>` header),
// STREAM.INFO's `mirror`/`sources` objects, the configuration errors, an
// origin that is missing, purged, deleted and made again, a KV bucket's
// mirror, and a restart of the broker while the copies catch up. Run
// against natsedge and against nats-server 2.9.10 with the same assertions.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, headers } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { startServer, stopAll, waitFor, brokerKind } from "./lib/harness.mjs";
import { startJs, api } from "./lib/js.mjs";

const dirs = [];
after(async () => {
  await stopAll();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const td = new TextDecoder();

async function open() {
  const server = await startJs();
  const nc = await connect({ servers: server.url, reconnect: false });
  return { server, nc, jsm: await jetstreamManager(nc), js: jetstream(nc) };
}

const create = (nc, cfg) => api(nc, `$JS.API.STREAM.CREATE.${cfg.name}`, cfg);
const info = (nc, name) => api(nc, `$JS.API.STREAM.INFO.${name}`);

async function messages(nc, name, wanted, ms = 15000) {
  return waitFor(
    async () => {
      const si = await info(nc, name);
      return si.state?.messages === wanted ? si : null;
    },
    ms,
    `${name} to hold ${wanted} messages`,
  );
}

// Every message of a stream from first_seq to last_seq (gaps skipped): [seq, subject, data, source header].
async function contents(jsm, name) {
  const si = await jsm.streams.info(name);
  const out = [];
  for (let seq = si.state.first_seq; seq <= si.state.last_seq && si.state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage(name, { seq });
    if (m === null) continue; // a gap (a filtered mirror skips sequences)
    out.push([m.seq, m.subject, td.decode(m.data), m.header?.get("Nats-Stream-Source") ?? ""]);
  }
  return out;
}

test("a mirror of a local stream holds its messages at the origin's sequences, with STREAM.INFO's mirror (JS-26b, JS-26)", async () => {
  const { server, nc, jsm, js } = await open();
  await jsm.streams.add({ name: "O", subjects: ["o.>"], storage: "memory" });
  for (let i = 1; i <= 6; i++) {
    const h = headers();
    h.set("Idx", String(i));
    await js.publish(`o.${i % 2 ? "a" : "b"}`, `m${i}`, { headers: h });
  }
  const made = await create(nc, { name: "M", mirror: { name: "O" }, storage: "memory" });
  assert.equal(made.error, undefined, JSON.stringify(made.error));
  assert.equal(made.config.subjects, undefined, "a mirror takes no subjects, not even its name");
  assert.equal(made.config.duplicate_window, undefined, "a mirror keeps no duplicate window");
  await messages(nc, "M", 6);
  for (let i = 7; i <= 9; i++) await js.publish("o.a", `m${i}`);
  const si = await messages(nc, "M", 9);
  assert.equal(si.state.first_seq, 1);
  assert.equal(si.state.last_seq, 9);
  const osi = await info(nc, "O");
  assert.equal(si.state.first_ts, osi.state.first_ts, "a mirror keeps the origin's times");
  assert.equal(si.state.last_ts, osi.state.last_ts);
  assert.equal(si.mirror.name, "O");
  assert.equal(si.mirror.lag, 0);
  assert.ok(si.mirror.active >= 0, `active ${si.mirror.active}`);
  assert.equal(si.mirror.error, undefined);
  const m2 = await jsm.streams.getMessage("M", { seq: 2 });
  assert.equal(m2.subject, "o.b");
  assert.equal(td.decode(m2.data), "m2");
  assert.equal(m2.header.get("Idx"), "2", "the origin's headers are kept");
  assert.equal(m2.header.get("Nats-Stream-Source"), "", "a mirror adds no source header");
  // Nothing publishes into a mirror: its name is no subject of it.
  await assert.rejects(js.publish("M", "direct", { timeout: 2000 }), /no responders|not enabled|503/i);
  assert.equal((await info(nc, "M")).state.messages, 9);
  // A filtered mirror keeps the origin's sequences, skipping the others.
  await create(nc, { name: "MA", mirror: { name: "O", filter_subject: "o.b" }, storage: "memory" });
  const ma = await messages(nc, "MA", 3);
  assert.equal(ma.state.last_seq, 6);
  assert.deepEqual(
    (await contents(jsm, "MA")).map(([seq, subject, data]) => [seq, subject, data]),
    [
      [2, "o.b", "m2"],
      [4, "o.b", "m4"],
      [6, "o.b", "m6"],
    ],
  );
  // A mirror from a start sequence.
  await create(nc, { name: "M7", mirror: { name: "O", opt_start_seq: 7 }, storage: "memory" });
  const m7 = await messages(nc, "M7", 3);
  assert.equal(m7.state.first_seq, 7);
  await nc.close();
  await server.stop();
});

test("sources of local streams get Nats-Stream-Source, with filters and a start sequence (JS-26b)", async () => {
  const { server, nc, jsm, js } = await open();
  await jsm.streams.add({ name: "O", subjects: ["o.>"], storage: "memory" });
  await jsm.streams.add({ name: "P", subjects: ["p.>"], storage: "memory" });
  for (let i = 1; i <= 5; i++) await js.publish(`o.${i % 2 ? "a" : "b"}`, `o${i}`);
  await js.publish("p.x", "p1");
  const made = await create(nc, {
    name: "S",
    subjects: ["s.own"],
    storage: "memory",
    sources: [{ name: "O", opt_start_seq: 2, filter_subject: "o.a" }, { name: "P" }],
  });
  assert.equal(made.error, undefined, JSON.stringify(made.error));
  assert.deepEqual(made.config.sources, [{ name: "O", opt_start_seq: 2, filter_subject: "o.a" }, { name: "P" }]);
  await messages(nc, "S", 3);
  await js.publish("o.a", "o6");
  await js.publish("o.b", "o7");
  await js.publish("p.x", "p2");
  const own = await js.publish("s.own", "mine");
  assert.equal(own.stream, "S", "a sourced stream takes its own subjects' publishes");
  const si = await messages(nc, "S", 6);
  assert.equal(si.sources.length, 2);
  assert.deepEqual(
    si.sources.map((s) => [s.name, s.lag, s.active >= 0, s.error]),
    [
      ["O", 0, true, undefined],
      ["P", 0, true, undefined],
    ],
  );
  const got = await contents(jsm, "S");
  const fromO = got.filter(([, , , src]) => src.startsWith("O ")).map(([, subject, data, src]) => [subject, data, src]);
  const fromP = got.filter(([, , , src]) => src.startsWith("P ")).map(([, subject, data, src]) => [subject, data, src]);
  assert.deepEqual(fromO, [
    ["o.a", "o3", "O 3"],
    ["o.a", "o5", "O 5"],
    ["o.a", "o6", "O 6"],
  ]);
  assert.deepEqual(fromP, [
    ["p.x", "p1", "P 1"],
    ["p.x", "p2", "P 2"],
  ]);
  assert.deepEqual(
    got.filter(([, , , src]) => src === "").map(([, subject, data]) => [subject, data]),
    [["s.own", "mine"]],
  );
  await nc.close();
  await server.stop();
});

test("an update adds and removes sources; a kept source goes on where it was (JS-26b)", async () => {
  const { server, nc, jsm, js } = await open();
  await jsm.streams.add({ name: "O", subjects: ["o.>"], storage: "memory" });
  await jsm.streams.add({ name: "P", subjects: ["p.>"], storage: "memory" });
  for (let i = 1; i <= 3; i++) await js.publish("o.x", `o${i}`);
  for (let i = 1; i <= 2; i++) await js.publish("p.x", `p${i}`);
  await create(nc, { name: "S", storage: "memory", sources: [{ name: "O" }] });
  await messages(nc, "S", 3);
  const up = await api(nc, "$JS.API.STREAM.UPDATE.S", { name: "S", storage: "memory", sources: [{ name: "O" }, { name: "P" }] });
  assert.equal(up.error, undefined, JSON.stringify(up.error));
  assert.deepEqual(up.config.sources, [{ name: "O" }, { name: "P" }]);
  await messages(nc, "S", 5);
  await js.publish("o.x", "o4");
  await messages(nc, "S", 6);
  const gone = await api(nc, "$JS.API.STREAM.UPDATE.S", { name: "S", storage: "memory", sources: [{ name: "P" }] });
  assert.equal(gone.error, undefined, JSON.stringify(gone.error));
  assert.deepEqual(gone.config.sources, [{ name: "P" }]);
  await js.publish("o.x", "o5");
  await js.publish("p.x", "p3");
  const si = await messages(nc, "S", 7);
  assert.deepEqual(si.sources.map((x) => x.name), ["P"]);
  await new Promise((r) => setTimeout(r, 1500)); // o5 would have come by now
  const got = (await contents(jsm, "S")).map(([, , data, src]) => [data, src]);
  assert.deepEqual(got.slice(0, 3), [
    ["o1", "O 1"],
    ["o2", "O 2"],
    ["o3", "O 3"],
  ]);
  assert.deepEqual(
    got.slice(3, 6).sort(),
    [
      ["o4", "O 4"],
      ["p1", "P 1"],
      ["p2", "P 2"],
    ],
    "P from its start, O with no message twice",
  );
  assert.deepEqual(got[6], ["p3", "P 3"]);
  assert.equal((await info(nc, "S")).state.messages, 7, "nothing of O once it is no source");
  await nc.close();
  await server.stop();
});

test("a source from a start time gets the origin's messages from that time on (JS-26b)", async () => {
  const { server, nc, jsm, js } = await open();
  await jsm.streams.add({ name: "O", subjects: ["o.>"], storage: "memory" });
  for (let i = 1; i <= 3; i++) await js.publish("o.x", `early${i}`);
  await new Promise((r) => setTimeout(r, 200));
  const t0 = new Date().toISOString();
  await new Promise((r) => setTimeout(r, 200));
  for (let i = 1; i <= 2; i++) await js.publish("o.x", `late${i}`);
  const made = await create(nc, { name: "T", storage: "memory", sources: [{ name: "O", opt_start_time: t0 }] });
  assert.equal(made.error, undefined, JSON.stringify(made.error));
  assert.ok(made.config.sources[0].opt_start_time, "opt_start_time is kept");
  await messages(nc, "T", 2);
  assert.deepEqual(
    (await contents(jsm, "T")).map(([, , data, src]) => [data, src]),
    [
      ["late1", "O 4"],
      ["late2", "O 5"],
    ],
  );
  const mt = await create(nc, { name: "TM", storage: "memory", mirror: { name: "O", opt_start_time: t0 } });
  assert.equal(mt.error, undefined, JSON.stringify(mt.error));
  const si = await messages(nc, "TM", 2);
  assert.equal(si.state.first_seq, 4);
  await nc.close();
  await server.stop();
});

test("mirror and source configuration errors answer with nats-server's codes (JS-26b)", async () => {
  const { server, nc, jsm } = await open();
  await jsm.streams.add({ name: "O", subjects: ["o.>"], storage: "memory", max_msg_size: 1000 });
  const err = async (cfg) => (await create(nc, cfg)).error;
  assert.deepEqual(await err({ name: "M1", subjects: ["m.>"], mirror: { name: "O" } }), {
    code: 400,
    err_code: 10034,
    description: "stream mirrors can not contain subjects",
  });
  assert.deepEqual(await err({ name: "M2", mirror: { name: "O" }, sources: [{ name: "O" }] }), {
    code: 400,
    err_code: 10031,
    description: "stream mirrors can not also contain other sources",
  });
  const cycle = { code: 500, err_code: 10052, description: "detected cycle" };
  assert.deepEqual(await err({ name: "S1", sources: [{ name: "S1" }] }), cycle, "a source naming itself");
  assert.deepEqual(await err({ name: "S2", mirror: { name: "S2" } }), cycle, "a mirror of itself");
  assert.equal(await err({ name: "A", subjects: ["a"], sources: [{ name: "B" }] }), undefined);
  assert.deepEqual(await err({ name: "B", subjects: ["b"], sources: [{ name: "A" }] }), cycle, "A sources B sources A");
  assert.equal(await err({ name: "C", mirror: { name: "D" } }), undefined);
  assert.deepEqual(await err({ name: "D", mirror: { name: "C" } }), cycle, "C mirrors D mirrors C");
  assert.deepEqual(await err({ name: "MS", mirror: { name: "O" }, max_msg_size: 100 }), {
    code: 400,
    err_code: 10030,
    description: "stream mirror must have max message size >= source",
  });
  assert.deepEqual(await err({ name: "SS", sources: [{ name: "O" }], max_msg_size: 100 }), {
    code: 400,
    err_code: 10046,
    description: "stream source must have max message size >= target",
  });
  assert.deepEqual(await err({ name: "SX", sources: [{ name: "O", filter_subject: "zz.>" }] }), {
    code: 500,
    err_code: 10052,
    description: "source 'O' filter subject 'zz.>' does not overlap with any origin stream subject",
  });
  assert.equal(await err({ name: "M", mirror: { name: "O" } }), undefined);
  const up = await api(nc, "$JS.API.STREAM.UPDATE.M", { name: "M", mirror: { name: "O", filter_subject: "o.a" } });
  assert.deepEqual(up.error, { code: 400, err_code: 10055, description: "stream mirror configuration can not be updated" });
  const up2 = await api(nc, "$JS.API.STREAM.UPDATE.M", { name: "M", subjects: ["x"], mirror: { name: "O" } });
  assert.equal(up2.error.err_code, 10034);
  await nc.close();
  await server.stop();
});

test("a missing origin is waited for; a purged one leaves the copies; a deleted and remade one resumes after them (JS-26b)", async () => {
  const { server, nc, jsm, js } = await open();
  const m = await create(nc, { name: "M", mirror: { name: "N" }, storage: "memory" });
  assert.equal(m.error, undefined, "a mirror of a stream that is not there yet is made");
  await create(nc, { name: "S", sources: [{ name: "N" }], storage: "memory" });
  const missing = { code: 404, err_code: 10059, description: "stream not found" };
  const waiting = await waitFor(async () => {
    const si = await info(nc, "M");
    return si.mirror?.error ? si : null;
  }, 10000, "the mirror's error");
  assert.deepEqual(waiting.mirror, { name: "N", lag: 0, active: -1, error: missing });
  const swaiting = await waitFor(async () => {
    const si = await info(nc, "S");
    return si.sources?.[0]?.error ? si : null;
  }, 10000, "the source's error");
  assert.deepEqual(swaiting.sources, [{ name: "N", lag: 0, active: -1, error: missing }]);

  await jsm.streams.add({ name: "N", subjects: ["n.>"], storage: "memory" });
  for (let i = 1; i <= 3; i++) await js.publish("n.x", `n${i}`);
  await messages(nc, "M", 3, 20000);
  await messages(nc, "S", 3, 20000);
  assert.equal((await info(nc, "M")).mirror.error, undefined);

  // Purged: the copies keep what they have and go on with what follows.
  await jsm.streams.purge("N");
  for (let i = 4; i <= 5; i++) assert.equal((await js.publish("n.x", `n${i}`)).seq, i);
  await messages(nc, "M", 5);
  await messages(nc, "S", 5);

  // Deleted and made again: its sequences start over, the copies resume
  // after the last one they hold (the mirror after its own last sequence,
  // the source after its newest Nats-Stream-Source).
  await jsm.streams.delete("N");
  await jsm.streams.add({ name: "N", subjects: ["n.>"], storage: "memory" });
  for (let i = 1; i <= 7; i++) await js.publish("n.x", `r${i}`);
  const msi = await messages(nc, "M", 7, 20000);
  assert.equal(msi.state.last_seq, 7);
  assert.equal(td.decode((await jsm.streams.getMessage("M", { seq: 5 })).data), "n5");
  assert.equal(td.decode((await jsm.streams.getMessage("M", { seq: 6 })).data), "r6");
  await messages(nc, "S", 7, 20000);
  assert.deepEqual(
    (await contents(jsm, "S")).map(([, , data, src]) => [data, src]),
    [
      ["n1", "N 1"],
      ["n2", "N 2"],
      ["n3", "N 3"],
      ["n4", "N 4"],
      ["n5", "N 5"],
      ["r6", "N 6"],
      ["r7", "N 7"],
    ],
  );
  await nc.close();
  await server.stop();
});

test(
  "natsedge-only (nats-server 2.9.10 stops copying at a message with Nats-Expected-* headers, differences.md \"Mirrors and sources\"): copies keep messages published with Nats-Expected-* headers (JS-26b)",
  brokerKind() === "natsedge" ? {} : { skip: "nats-server 2.9.10 checks the origin's Nats-Expected-* headers against the copy and stalls" },
  async () => {
    const { server, nc, jsm, js } = await open();
    await jsm.streams.add({ name: "O", subjects: ["o.>"], storage: "memory" });
    let h = headers();
    h.set("Nats-Expected-Stream", "O");
    await js.publish("o.a", "expected stream", { headers: h });
    await js.publish("o.b", "plain");
    h = headers();
    h.set("Nats-Expected-Last-Sequence", "2");
    await js.publish("o.c", "expected last", { headers: h });
    await create(nc, { name: "M", mirror: { name: "O" }, storage: "memory" });
    await create(nc, { name: "S", sources: [{ name: "O" }], storage: "memory" });
    await messages(nc, "M", 3);
    await messages(nc, "S", 3);
    assert.deepEqual(
      (await contents(jsm, "S")).map(([, , data, src]) => [data, src]),
      [
        ["expected stream", "O 1"],
        ["plain", "O 2"],
        ["expected last", "O 3"],
      ],
    );
    await nc.close();
    await server.stop();
  },
);

test("the consumers mirrors and sources make on their origin are not listed and not counted against max_consumers, the account counts them (JS-26b)", async () => {
  const { server, nc, jsm } = await open();
  await jsm.streams.add({ name: "O", subjects: ["o.>"], storage: "memory", max_consumers: 1 });
  await create(nc, { name: "M", mirror: { name: "O" }, storage: "memory" });
  await create(nc, { name: "S", sources: [{ name: "O" }], storage: "memory" });
  await nc.publish("o.a", "one");
  await messages(nc, "M", 1);
  await messages(nc, "S", 1);
  // Hidden from CONSUMER.NAMES/LIST and STREAM.INFO; the account has them.
  const names = await api(nc, "$JS.API.CONSUMER.NAMES.O");
  assert.equal(names.total, 0);
  assert.deepEqual(names.consumers, []);
  const list = await api(nc, "$JS.API.CONSUMER.LIST.O");
  assert.equal(list.total, 0);
  assert.equal((await info(nc, "O")).state.consumer_count, 0);
  assert.equal((await api(nc, "$JS.API.INFO")).consumers, 2);
  // max_consumers 1 counts the public ones only: one durable is taken, a
  // second durable and a third copy are refused.
  await jsm.consumers.add("O", { durable_name: "D1", ack_policy: "explicit" });
  const d2 = await api(nc, "$JS.API.CONSUMER.DURABLE.CREATE.O.D2", { stream_name: "O", config: { durable_name: "D2", ack_policy: "explicit" } });
  assert.equal(d2.error?.err_code, 10026, JSON.stringify(d2));
  assert.equal(d2.error?.description, "maximum consumers limit reached");
  await create(nc, { name: "M2", mirror: { name: "O" }, storage: "memory" });
  const m2 = await waitFor(async () => ((await info(nc, "M2")).mirror?.error ? await info(nc, "M2") : null), 15000, "M2's mirror error");
  assert.equal(m2.mirror.error.err_code, 10026);
  assert.deepEqual((await api(nc, "$JS.API.CONSUMER.NAMES.O")).consumers, ["D1"]);
  await nc.close();
  await server.stop();
});

test("a KV bucket's mirror holds the origin bucket's values (JS-26b, KV-02)", async () => {
  const { server, nc, jsm } = await open();
  const kvm = new Kvm(nc);
  const kv = await kvm.create("ORIG");
  await kv.put("a", "1");
  await kv.put("b", "2");
  await kv.put("a", "3");
  const mirror = await kvm.create("MIR", { mirror: { name: "ORIG" } });
  const si = await messages(nc, "KV_MIR", 2);
  assert.equal(si.config.mirror.name, "KV_ORIG");
  assert.equal(si.config.mirror_direct, true);
  assert.equal(si.state.first_seq, 2, "the mirror keeps one value per key, as its bucket's history says");
  assert.equal(si.state.last_seq, 3);
  const a = await jsm.streams.getMessage("KV_MIR", { last_by_subj: "$KV.ORIG.a" });
  assert.equal(a.seq, 3);
  assert.equal(td.decode(a.data), "3");
  await kv.put("c", "4");
  await messages(nc, "KV_MIR", 3);
  // A put through the mirror's bucket reaches no stream (nats.js writes to
  // $KV.MIR.<key>, which the mirror does not take).
  await assert.rejects(mirror.put("d", "x", { timeout: 2000 }));
  assert.equal((await info(nc, "KV_MIR")).state.messages, 3);
  // nats.js 3 makes a bucket's sources with subject transforms (2.10) and
  // refuses them against a 2.9 server, before asking it.
  await assert.rejects(kvm.create("SRC", { sources: [{ name: "ORIG" }] }), /subject_transforms/);
  await nc.close();
  await server.stop();
});

// A file mirror and source of a file origin, the broker stopped (SIGTERM,
// or SIGKILL) right after 300 publishes while the copies may still be
// catching up, then 100 more: both hold the 400 once, in order.
async function restartCase(kill) {
  const sd = mkdtempSync(join(tmpdir(), "natsedge-jsmirror-"));
  dirs.push(sd);
  const start = () => startServer({ args: ["-js", "-sd", sd] });
  let server = await start();
  let nc = await connect({ servers: server.url, reconnect: false });
  let jsm = await jetstreamManager(nc);
  let js = jetstream(nc);
  await jsm.streams.add({ name: "O", subjects: ["o.>"], storage: "file" });
  await create(nc, { name: "M", mirror: { name: "O" }, storage: "file" });
  await create(nc, { name: "S", sources: [{ name: "O" }], storage: "file" });
  const acks = [];
  for (let i = 1; i <= 300; i++) acks.push(js.publish(`o.${i % 3}`, `m${i}`));
  await Promise.all(acks);
  // Stopped while the copies may still be catching up.
  await nc.close();
  if (kill) {
    server.signal("SIGKILL");
    await server.exited;
  }
  await server.stop();
  server = await start();
  nc = await connect({ servers: server.url, reconnect: false });
  jsm = await jetstreamManager(nc);
  js = jetstream(nc);
  for (let i = 301; i <= 400; i++) await js.publish(`o.${i % 3}`, `m${i}`);
  const msi = await messages(nc, "M", 400, 30000);
  assert.equal(msi.state.first_seq, 1);
  assert.equal(msi.state.last_seq, 400);
  const ssi = await messages(nc, "S", 400, 30000);
  assert.equal(ssi.state.last_seq, 400, "the source stored each origin message once");
  const got = await contents(jsm, "S");
  assert.deepEqual(
    got.map(([, , , src]) => src),
    Array.from({ length: 400 }, (_, i) => `O ${i + 1}`),
    "in order, no gap, no duplicate",
  );
  assert.deepEqual(
    got.map(([, , data]) => data),
    Array.from({ length: 400 }, (_, i) => `m${i + 1}`),
  );
  const m = await jsm.streams.getMessage("M", { seq: 400 });
  assert.equal(td.decode(m.data), "m400");
  await nc.close();
  await server.stop();
}

test("a file mirror and source resume where they stopped across a restart of the broker, no message twice or missed (JS-26b)", () =>
  restartCase(false));

test(
  "natsedge-only (nats-server 2.9.10 loses recent acks when killed, differences.md \"Acknowledged means synced\"): a file mirror and source resume after a kill -9, no message twice or missed (JS-26b)",
  brokerKind() === "natsedge" ? {} : { skip: "nats-server 2.9.10 loses recently acknowledged writes when killed" },
  () => restartCase(true),
);
