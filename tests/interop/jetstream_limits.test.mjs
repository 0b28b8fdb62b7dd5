// JetStream's compiled-in pools driven to exhaustion on the small-pool
// build (NATSEDGE_SMALL_BIN, config/profiles/test-small.h: 3 streams, 3
// consumers, 512 memory blocks, 8 subjects, 4 pending acks, 2 waiting pulls,
// 4 message ids, 6 short text slots and 10 text slots, 1 long name slot,
// 2 sets of mirror/sources configurations). Each exhausted pool answers with
// nats-server's error for a lack of resources while everything else keeps
// working (issue 16; differences.md, "JetStream: Pools instead of heap").
// nats-server has no such pools: the parity pass skips these, by name.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { connect, headers, createInbox } from "@nats-io/transport-node";
import { stopAll, brokerKind, waitFor } from "./lib/harness.mjs";
import { startJs, api, memStream } from "./lib/js.mjs";

const natsedgeOnly = brokerKind() !== "natsedge" &&
  "natsedge-only: nats-server has no compiled-in JetStream pools";
const td = new TextDecoder();

let server;
let nc;

before(async () => {
  if (natsedgeOnly) return;
  server = await startJs({ small: true });
  nc = await connect({ servers: server.url, reconnect: false });
});

after(async () => {
  await nc?.close();
  await stopAll();
});

function expectError(r, code, errCode, description) {
  assert.ok(r.error, `expected an error, got ${JSON.stringify(r)}`);
  assert.equal(r.error.code, code);
  assert.equal(r.error.err_code, errCode);
  if (description !== undefined) assert.equal(r.error.description, description);
}

const create = (cfg) => api(nc, `$JS.API.STREAM.CREATE.${cfg.name}`, cfg);
const del = (name) => api(nc, `$JS.API.STREAM.DELETE.${name}`);

async function pub(subject, data = "", h = undefined) {
  const m = await nc.request(subject, data, { timeout: 5000, headers: h });
  return JSON.parse(td.decode(m.data));
}

test("natsedge-only (compiled-in JetStream pools): the stream pool (NE_JS_MAX_STREAMS) refuses with 10027, the others work", { skip: natsedgeOnly }, async () => {
  for (const n of ["S1", "S2", "S3"]) assert.equal((await create(memStream(n, [n.toLowerCase()]))).did_create, true);
  expectError(await create(memStream("S4", ["s4"])), 400, 10027, "maximum number of streams reached");
  assert.equal((await pub("s1", "still works")).seq, 1);
  await del("S2");
  assert.equal((await create(memStream("S4", ["s4"]))).did_create, true, "a freed slot serves again");
  for (const n of ["S1", "S3", "S4"]) await del(n);
});

test("natsedge-only (compiled-in JetStream pools): the consumer pool (NE_JS_MAX_CONSUMERS) refuses with 10026, the others deliver", { skip: natsedgeOnly }, async () => {
  await create(memStream("C", ["c"]));
  for (const n of ["A", "B", "D"]) {
    assert.ok(!(await api(nc, `$JS.API.CONSUMER.CREATE.C.${n}`, { stream_name: "C", config: { durable_name: n, ack_policy: "none" } })).error);
  }
  expectError(await api(nc, "$JS.API.CONSUMER.CREATE.C.E", { stream_name: "C", config: { durable_name: "E" } }),
    400, 10026, "maximum consumers limit reached");
  await pub("c", "x");
  const m = await nc.request("$JS.API.CONSUMER.MSG.NEXT.C.A", "1", { timeout: 5000, noMux: true });
  assert.equal(td.decode(m.data), "x");
  await del("C");
});

test("natsedge-only (compiled-in JetStream pools): memory blocks (NE_JS_MEM_BLOCKS) full: 503 10023, the API answers, a purge makes room", { skip: natsedgeOnly }, async () => {
  await create(memStream("BIG", ["big"]));
  const payload = "x".repeat(8000);
  let refused = null;
  for (let i = 0; i < 40 && !refused; i++) {
    const r = await pub("big", payload);
    if (r.error) refused = r;
  }
  assert.ok(refused, "the block pool ran out");
  expectError(refused, 503, 10023, "insufficient resources");
  const info = await api(nc, "$JS.API.INFO");
  assert.equal(info.streams, 1);
  await api(nc, "$JS.API.STREAM.PURGE.BIG");
  assert.ok(!(await pub("big", payload)).error);
  await del("BIG");
});

test("natsedge-only (compiled-in JetStream pools): subjects (NE_JS_MAX_SUBJECTS) full: a new subject 10023, known ones keep storing", { skip: natsedgeOnly }, async () => {
  await create(memStream("SUB", ["sub.>"]));
  for (let i = 0; i < 8; i++) assert.ok(!(await pub(`sub.${i}`, "v")).error);
  expectError(await pub("sub.new", "v"), 503, 10023, "insufficient resources");
  assert.equal((await pub("sub.3", "again")).seq, 9);
  await del("SUB");
});

test("natsedge-only (compiled-in JetStream pools): pending acks (NE_JS_MAX_PENDING) shared: a second consumer waits for the first's acks", { skip: natsedgeOnly }, async () => {
  await create(memStream("PA", ["pa"]));
  for (const n of ["A", "B"]) {
    const r = await api(nc, `$JS.API.CONSUMER.CREATE.PA.${n}`, { stream_name: "PA", config: { durable_name: n, ack_policy: "explicit" } });
    assert.equal(r.config.max_ack_pending, 4, "the default is bounded by the pool");
  }
  expectError(await api(nc, "$JS.API.CONSUMER.CREATE.PA.X", { stream_name: "PA", config: { durable_name: "X", ack_policy: "explicit", max_ack_pending: 5 } }),
    400, 10121, "consumer max ack pending exceeds system limit of 4");
  for (let i = 0; i < 4; i++) await pub("pa", `m${i}`);
  const a = [];
  const ain = createInbox();
  const asub = nc.subscribe(ain, { callback: (e, m) => !e && a.push(m) });
  nc.publish("$JS.API.CONSUMER.MSG.NEXT.PA.A", JSON.stringify({ batch: 4, expires: 5e9 }), { reply: ain });
  await waitFor(() => a.length === 4, 5000, "A's four");
  const b = [];
  const bin = createInbox();
  const bsub = nc.subscribe(bin, { callback: (e, m) => !e && b.push(m) });
  nc.publish("$JS.API.CONSUMER.MSG.NEXT.PA.B", JSON.stringify({ batch: 1, expires: 5e9 }), { reply: bin });
  await nc.flush();
  const before = await api(nc, "$JS.API.CONSUMER.INFO.PA.B");
  assert.equal(before.num_ack_pending, 0, "no entry left for B");
  await nc.request(a[0].reply, "+ACK", { timeout: 5000 });
  await waitFor(() => b.length === 1, 5000, "B delivers once A acked one");
  asub.unsubscribe();
  bsub.unsubscribe();
  await del("PA");
});

test("natsedge-only (compiled-in JetStream pools): waiting pulls (NE_JS_MAX_WAITING) full: 409 Exceeded MaxWaiting", { skip: natsedgeOnly }, async () => {
  await create(memStream("W", ["w"]));
  for (const n of ["A", "B"]) {
    await api(nc, `$JS.API.CONSUMER.CREATE.W.${n}`, { stream_name: "W", config: { durable_name: n, ack_policy: "none" } });
  }
  const inbox = createInbox();
  const sub = nc.subscribe(inbox);
  nc.publish("$JS.API.CONSUMER.MSG.NEXT.W.A", JSON.stringify({ batch: 1, expires: 5e9 }), { reply: inbox });
  nc.publish("$JS.API.CONSUMER.MSG.NEXT.W.B", JSON.stringify({ batch: 1, expires: 5e9 }), { reply: inbox });
  await nc.flush();
  const r = await nc.request("$JS.API.CONSUMER.MSG.NEXT.W.A", JSON.stringify({ batch: 1, expires: 5e9 }), { timeout: 5000 });
  assert.equal(r.headers.code, 409);
  assert.equal(r.headers.description, "Exceeded MaxWaiting");
  sub.unsubscribe();
  await del("W");
});

test("natsedge-only (compiled-in JetStream pools): message ids (NE_JS_MAX_MSG_IDS) full within their window: 10023; past it, room again", { skip: natsedgeOnly }, async () => {
  await create(memStream("ID", ["id"], { duplicate_window: 500e6 }));
  const h = (id) => { const x = headers(); x.set("Nats-Msg-Id", id); return x; };
  for (let i = 0; i < 4; i++) assert.ok(!(await pub("id", "v", h(`id-${i}`))).error);
  expectError(await pub("id", "v", h("id-4")), 503, 10023, "insufficient resources");
  assert.ok(!(await pub("id", "no id")).error, "messages without an id still go in");
  await waitFor(async () => !(await pub("id", "v", h("id-5"))).error, 5000, "ids past their window make room");
  const long = "x".repeat(80);
  expectError(await pub("id", "v", h(long)), 400, 10003, "bad request");
  await del("ID");
});

// A stream's name and each subject take a slot: a short one (at most 30
// bytes) while NE_JS_SHORT_TEXT_SLOTS has one, else a text slot: T1 takes
// 13 of the 16, T2 would need 14.
test("natsedge-only (compiled-in JetStream pools): text slots (NE_JS_SHORT_TEXT_SLOTS, NE_JS_TEXT_SLOTS) full: 10023, existing streams unharmed", { skip: natsedgeOnly }, async () => {
  const subjects = Array.from({ length: 12 }, (_, i) => `t${i}`);
  assert.ok(!(await create(memStream("T1", subjects))).error);
  const more = Array.from({ length: 13 }, (_, i) => `u${i}`);
  const r = await create(memStream("T2", more));
  expectError(r, 503, 10023, "insufficient resources");
  assert.equal((await pub("t3", "ok")).seq, 1);
  await del("T1");
  assert.equal((await create(memStream("T2", more))).error, undefined, "slots came back");
  await del("T2");
});

// A stream keeps its last message id (Nats-Expected-Last-Msg-Id) in a text
// slot: with every slot taken by the streams' configurations (Y: 2, X: 14
// of the 16), a publish with a new id gets 10023 (logged) while one
// without an id goes on; a freed slot serves the id.
test("natsedge-only (compiled-in JetStream pools): text slots full: a publish with a Nats-Msg-Id gets 10023, one without goes on (JS-20)", { skip: natsedgeOnly }, async () => {
  const h = (id) => { const x = headers(); x.set("Nats-Msg-Id", id); return x; };
  const ry = await create(memStream("Y", ["y"]));
  assert.ok(!ry.error, JSON.stringify(ry));
  const rx = await create(memStream("X", Array.from({ length: 10 }, (_, i) => `x${i}`), {
    description: "a description of more than thirty bytes",
    republish: { src: ">", dest: "rp.>" },
  }));
  assert.ok(!rx.error, JSON.stringify(rx));
  expectError(await pub("y", "v", h("first")), 503, 10023, "insufficient resources");
  await waitFor(async () => /no text slot for its last message id: raise NE_JS_SHORT_TEXT_SLOTS or NE_JS_TEXT_SLOTS/.test(server.logs()), 5000, "the knobs logged");
  assert.equal((await pub("y", "no id")).seq, 1);
  await del("X");
  assert.equal((await pub("y", "v", h("first"))).seq, 2);
  const expect = (last, id) => { const x = h(id); x.set("Nats-Expected-Last-Msg-Id", last); return x; };
  assert.equal((await pub("y", "v", expect("first", "second"))).seq, 3);
  expectError(await pub("y", "v", expect("first", "third")), 400, 10070, "wrong last msg ID: second");
  await del("Y");
});

// A stream with a mirror or sources holds a set of source configurations
// (NE_JS_SOURCED_STREAMS, 2 on this build) and a configuration being
// parsed takes one too: with M's and S's sets taken (at the limit), an
// update of M (limit + 1) gets 10023, logged, while M goes on mirroring;
// once S is gone the update goes through.
test("natsedge-only (compiled-in JetStream pools): source sets (NE_JS_SOURCED_STREAMS) full: 10023, the mirror goes on (JS-26b)", { skip: natsedgeOnly }, async () => {
  assert.ok(!(await create(memStream("O", ["o.>"]))).error);
  const mirror = { name: "M", mirror: { name: "O" }, storage: "memory" };
  const rm = await create(mirror);
  assert.ok(!rm.error, JSON.stringify(rm));
  const rs = await create({ name: "S", sources: [{ name: "O" }], storage: "memory" });
  assert.ok(!rs.error, JSON.stringify(rs));
  expectError(await api(nc, "$JS.API.STREAM.UPDATE.M", { ...mirror, max_msgs: 10 }), 503, 10023, "insufficient resources");
  await waitFor(async () => /source sets exhausted \(2\): raise NE_JS_SOURCED_STREAMS/.test(server.logs()), 5000, "the knob logged");
  assert.equal((await pub("o.a", "copied")).seq, 1);
  await waitFor(async () => (await api(nc, "$JS.API.STREAM.INFO.M")).state?.messages === 1, 5000, "the mirror copies");
  await del("S");
  const ru = await api(nc, "$JS.API.STREAM.UPDATE.M", { ...mirror, max_msgs: 10 });
  assert.equal(ru.config?.max_msgs, 10, JSON.stringify(ru));
  await del("M");
  await del("O");
});

// A stream name longer than a text slot holds (NE_JS_TEXT_BYTES - 1) takes
// a long name slot (1 on this build) for the stream's life: at the limit
// it is created, one past it gets 10023 (logged with the knob) while short
// names go on, and a freed slot serves the next long name.
test("natsedge-only (compiled-in JetStream pools): long name slots (NE_JS_LONG_NAME_SLOTS) full: a long name gets 10023 and is logged, short names go on", { skip: natsedgeOnly }, async () => {
  const long = (c) => c.repeat(200);
  const r0 = await create(memStream(long("a"), ["ln.a"]));
  assert.equal(r0.did_create, true, JSON.stringify(r0).slice(0, 300));
  assert.equal(r0.config.name, long("a"));
  expectError(await create(memStream(long("b"), ["ln.b"])), 503, 10023, "insufficient resources");
  await waitFor(async () => /long name slots exhausted \(1\): raise NE_JS_LONG_NAME_SLOTS/.test(server.logs()), 5000, "the knob logged");
  assert.equal((await create(memStream("SHORT", ["ln.s"]))).did_create, true, "a short name goes on");
  assert.equal((await pub("ln.a", "kept")).seq, 1);
  assert.equal((await pub("ln.s", "kept")).seq, 1);
  const names = (await api(nc, "$JS.API.STREAM.NAMES")).streams;
  assert.deepEqual([...names].sort(), ["SHORT", long("a")]);
  await del(long("a"));
  assert.equal((await create(memStream(long("b"), ["ln.b"]))).did_create, true, "the freed slot serves again");
  assert.equal((await pub("ln.b", "kept")).stream, long("b"));
  await del(long("b"));
  await del("SHORT");
});

test("natsedge-only (compiled-in JetStream pools): a name or subject longer than NE_JS_TEXT_BYTES is refused, not cut", { skip: natsedgeOnly }, async () => {
  const long = "s." + "x".repeat(200);
  const r = await create(memStream("LONG", [long]));
  expectError(r, 500, 10052);
  assert.match(r.error.description, /subject is too long, maximum allowed is 119/);
  const d = await create(memStream("DESC", ["desc"], { description: "d".repeat(300) }));
  expectError(d, 500, 10052, "stream description is too long, maximum allowed is 119");
});
