// JetStream streams through the $JS.API and nats.js (@nats-io/jetstream)
// against the broker in NATSEDGE_BIN started with -js: natsedge, or
// nats-server 2.9.10 in the parity pass, with the same assertions. JS-xx
// are the facts of shared/reference/nats-inventory.md section 4. Streams use
// memory storage, which both brokers have.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { connect, headers, NoRespondersError } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { stopAll, getJSON, brokerKind, waitFor } from "./lib/harness.mjs";
import { startJs, api, memStream } from "./lib/js.mjs";

let server;
let nc;
const td = new TextDecoder();

before(async () => {
  server = await startJs({ ports: ["http"], args: (p) => ["-m", String(p.http)] });
  nc = await connect({ servers: server.url, reconnect: false });
});

after(async () => {
  await nc?.close();
  await stopAll();
});

const create = (cfg) => api(nc, `$JS.API.STREAM.CREATE.${cfg.name}`, cfg);
const info = (name, body = "") => api(nc, `$JS.API.STREAM.INFO.${name}`, body);
const del = (name) => api(nc, `$JS.API.STREAM.DELETE.${name}`);

function hdrs(pairs) {
  const h = headers();
  for (const [k, v] of Object.entries(pairs)) h.set(k, v);
  return h;
}

// A publish answered with the raw PubAck JSON.
async function pub(subject, data = "", h = undefined) {
  const m = await nc.request(subject, data, { timeout: 5000, headers: h });
  return JSON.parse(td.decode(m.data));
}

function expectError(r, code, errCode, description) {
  assert.ok(r.error, `expected an error, got ${JSON.stringify(r)}`);
  assert.equal(r.error.code, code);
  assert.equal(r.error.err_code, errCode);
  if (description !== undefined) assert.equal(r.error.description, description);
}

test("$JS.API.INFO answers with the account's usage, limits and API counts (JS-05, JSC-02)", async () => {
  const r = await api(nc, "$JS.API.INFO");
  assert.equal(r.type, "io.nats.jetstream.api.v1.account_info_response");
  for (const k of ["memory", "storage", "streams", "consumers"]) assert.equal(typeof r[k], "number", k);
  assert.deepEqual(Object.keys(r.limits), [
    "max_memory", "max_storage", "max_streams", "max_consumers", "max_ack_pending",
    "memory_max_stream_bytes", "storage_max_stream_bytes", "max_bytes_required",
  ]);
  assert.equal(r.limits.max_streams, -1);
  assert.equal(typeof r.api.total, "number");
  const again = await api(nc, "$JS.API.INFO");
  assert.equal(again.api.total, r.api.total + 1, "the earlier INFO counts, the current one not yet");
});

test("STREAM.CREATE: defaults filled, the same config again is accepted, another config 10058 (JS-06, JS-24)", async () => {
  const r = await create(memStream("CR", ["cr.>"]));
  assert.equal(r.type, "io.nats.jetstream.api.v1.stream_create_response");
  assert.equal(r.did_create, true);
  assert.deepEqual(r.config, {
    name: "CR", subjects: ["cr.>"], retention: "limits", max_consumers: -1, max_msgs: -1,
    max_bytes: -1, max_age: 0, max_msgs_per_subject: -1, max_msg_size: -1, discard: "old",
    storage: "memory", num_replicas: 1, duplicate_window: 120000000000, allow_direct: false,
    mirror_direct: false, sealed: false, deny_delete: false, deny_purge: false, allow_rollup_hdrs: false,
  });
  assert.deepEqual(r.state, {
    messages: 0, bytes: 0, first_seq: 0, first_ts: "0001-01-01T00:00:00Z", last_seq: 0,
    last_ts: "0001-01-01T00:00:00Z", consumer_count: 0,
  });
  const same = await create(memStream("CR", ["cr.>"]));
  assert.equal(same.did_create, true);
  assert.equal(same.created, r.created);
  expectError(await create(memStream("CR", ["other.>"])), 400, 10058,
    "stream name already in use with a different configuration");
  const named = await create({ name: "CRN", storage: "memory" });
  assert.deepEqual(named.config.subjects, ["CRN"], "no subjects: the name");
  await del("CR");
  await del("CRN");
});

test("STREAM.CREATE refusals: name mismatch 10056, invalid JSON 10025, names and subjects (JS-06, JS-26a, JS-42)", async () => {
  expectError(await api(nc, "$JS.API.STREAM.CREATE.A1", { name: "A2" }), 400, 10056,
    "stream name in subject does not match request");
  expectError(await api(nc, "$JS.API.STREAM.CREATE.A1", "not json"), 400, 10025, "invalid JSON");
  expectError(await api(nc, "$JS.API.STREAM.CREATE.A1", ""), 400, 10025);
  expectError(await api(nc, "$JS.API.STREAM.CREATE.A1", { name: "A1", max_msgs: "5" }), 400, 10025);
  expectError(await api(nc, "$JS.API.STREAM.CREATE.A1", { name: "A1", retention: "sometimes" }), 400, 10025);
  expectError(await api(nc, "$JS.API.STREAM.CREATE.A1", { name: "A1", storage: "memory", subjects: ["a", "a"] }),
    500, 10052, "duplicate subjects detected");
  expectError(await api(nc, "$JS.API.STREAM.CREATE.A1", { name: "A1", storage: "memory", subjects: ["a.*", "a.b"] }),
    500, 10052);
  expectError(await api(nc, "$JS.API.STREAM.CREATE.A1", { name: "A1", storage: "memory", subjects: ["$JS.API.X"] }),
    500, 10052, "subjects overlap with jetstream api");
  expectError(await api(nc, "$JS.API.STREAM.CREATE.A1", { name: "A1", storage: "memory", subjects: ["a..b"] }),
    500, 10052, "invalid subject");
  expectError(await api(nc, "$JS.API.STREAM.CREATE.a/b", { name: "a/b", storage: "memory" }), 400, 10128,
    "Stream name can not contain path separators");
  expectError(await api(nc, "$JS.API.STREAM.CREATE.A1", { name: "A1", storage: "memory", max_age: 1000 }),
    500, 10052, "max age needs to be >= 100ms");
  expectError(await api(nc, "$JS.API.STREAM.CREATE.A1", { name: "A1", storage: "memory", sealed: true }),
    500, 10052, "stream configuration for create can not be sealed");
  expectError(await api(nc, "$JS.API.STREAM.CREATE.A1", { name: "A1", storage: "memory", deny_purge: true, allow_rollup_hdrs: true }),
    500, 10052, "roll-ups require the purge permission");
  expectError(await api(nc, "$JS.API.STREAM.CREATE.A1", { name: "A1", storage: "memory", discard_new_per_subject: true }),
    500, 10052, "discard new per subject requires discard new policy to be set");
  const names = await api(nc, "$JS.API.STREAM.NAMES");
  assert.ok(!names.streams?.includes("A1"));
});

test("subjects overlapping another stream's are refused with 10065 (JS-22)", async () => {
  await create(memStream("OV1", ["ov.>"]));
  expectError(await create(memStream("OV2", ["ov.a"])), 400, 10065, "subjects overlap with an existing stream");
  expectError(await create(memStream("OV2", ["*.b"])), 400, 10065);
  assert.equal((await create(memStream("OV2", ["ow.>"]))).did_create, true);
  await del("OV1");
  await del("OV2");
});

test("publish acknowledgements, Nats-Msg-Id duplicates, and nats.js publish (JS-17, JS-18, JSC-03)", async () => {
  await create(memStream("PA", ["pa.>"]));
  assert.deepEqual(await pub("pa.x", "one"), { stream: "PA", seq: 1 });
  const first = await pub("pa.x", "two", hdrs({ "Nats-Msg-Id": "m-1" }));
  assert.deepEqual(first, { stream: "PA", seq: 2 });
  assert.deepEqual(await pub("pa.x", "two again", hdrs({ "Nats-Msg-Id": "m-1" })),
    { stream: "PA", seq: 2, duplicate: true });
  const js = jetstream(nc);
  const ack = await js.publish("pa.y", "three", { msgID: "m-2" });
  assert.equal(ack.seq, 3);
  assert.equal(ack.stream, "PA");
  const dup = await js.publish("pa.y", "three", { msgID: "m-2" });
  assert.equal(dup.duplicate, true);
  assert.equal(dup.seq, 3);
  const i = await info("PA");
  assert.equal(i.state.messages, 3);
  assert.equal(i.state.last_seq, 3);
  await del("PA");
});

test("Nats-Expected-* headers: stream, last sequence, last subject sequence, last msg id (JS-19)", async () => {
  await create(memStream("EX", ["ex.>"]));
  await pub("ex.a", "1", hdrs({ "Nats-Msg-Id": "id-1" }));
  expectError(await pub("ex.a", "x", hdrs({ "Nats-Expected-Stream": "OTHER" })), 400, 10060,
    "expected stream does not match");
  const wrongLast = await pub("ex.a", "x", hdrs({ "Nats-Expected-Last-Sequence": "7" }));
  expectError(wrongLast, 400, 10071, "wrong last sequence: 1");
  assert.equal(wrongLast.stream, "EX");
  assert.equal(wrongLast.seq, 0);
  assert.equal((await pub("ex.a", "2", hdrs({ "Nats-Expected-Last-Sequence": "1" }))).seq, 2);
  expectError(await pub("ex.b", "x", hdrs({ "Nats-Expected-Last-Subject-Sequence": "2" })), 400, 10071,
    "wrong last sequence: 0");
  assert.equal((await pub("ex.b", "3", hdrs({ "Nats-Expected-Last-Subject-Sequence": "0" }))).seq, 3);
  assert.equal((await pub("ex.a", "4", hdrs({ "Nats-Expected-Last-Subject-Sequence": "2" }))).seq, 4);
  expectError(await pub("ex.a", "x", hdrs({ "Nats-Expected-Last-Msg-Id": "nope" })), 400, 10070,
    "wrong last msg ID: ");
  await pub("ex.a", "5", hdrs({ "Nats-Msg-Id": "id-5" }));
  assert.equal((await pub("ex.a", "6", hdrs({ "Nats-Expected-Last-Msg-Id": "id-5" }))).seq, 6);
  await del("EX");
});

test("limits: max_msg_size 10054, discard new on max_msgs and max_bytes 10077, discard old drops the oldest (JS-21)", async () => {
  await create(memStream("LM", ["lm.>"], { max_msg_size: 8 }));
  expectError(await pub("lm.a", "123456789"), 400, 10054, "message size exceeds maximum allowed");
  assert.equal((await pub("lm.a", "12345678")).seq, 1);
  await del("LM");
  await create(memStream("DN", ["dn.>"], { max_msgs: 2, discard: "new" }));
  await pub("dn.a", "1");
  await pub("dn.a", "2");
  expectError(await pub("dn.a", "3"), 503, 10077, "maximum messages exceeded");
  await del("DN");
  await create(memStream("DB", ["db.>"], { max_bytes: 100, discard: "new" }));
  await pub("db.a", "x".repeat(40));
  expectError(await pub("db.a", "x".repeat(60)), 503, 10077, "maximum bytes exceeded");
  await del("DB");
  await create(memStream("DO", ["do.>"], { max_msgs: 3 }));
  for (let i = 1; i <= 5; i++) await pub("do.a", String(i));
  const i = await info("DO");
  assert.equal(i.state.messages, 3);
  assert.equal(i.state.first_seq, 3);
  assert.equal(i.state.last_seq, 5);
  await del("DO");
});

test("max_msgs_per_subject keeps the newest of each subject; with discard_new_per_subject a full subject refuses (JS-21)", async () => {
  await create(memStream("PS", ["ps.>"], { max_msgs_per_subject: 2 }));
  for (const s of ["ps.a", "ps.a", "ps.b", "ps.a"]) await pub(s, "v");
  let i = await info("PS", { subjects_filter: ">" });
  assert.equal(i.state.messages, 3);
  assert.deepEqual(i.state.subjects, { "ps.a": 2, "ps.b": 1 });
  assert.equal(i.state.num_subjects, 2);
  assert.equal(i.total, 2);
  assert.equal(i.limit, 100000);
  await del("PS");
  await create(memStream("PN", ["pn.>"], { max_msgs_per_subject: 1, discard: "new", discard_new_per_subject: true }));
  await pub("pn.a", "1");
  expectError(await pub("pn.a", "2"), 503, 10077, "maximum messages per subject exceeded");
  assert.equal((await pub("pn.b", "3")).seq, 2);
  await del("PN");
});

test("Nats-Rollup: sub keeps the subject's newest, all the stream's newest; refused without allow_rollup_hdrs (JS-20)", async () => {
  await create(memStream("RU", ["ru.>"]));
  expectError(await pub("ru.a", "x", hdrs({ "Nats-Rollup": "sub" })), 500, 10111, "rollup not permitted");
  await del("RU");
  await create(memStream("RU", ["ru.>"], { allow_rollup_hdrs: true }));
  for (const s of ["ru.a", "ru.a", "ru.b"]) await pub(s, "v");
  await pub("ru.a", "r", hdrs({ "Nats-Rollup": "sub" }));
  let i = await info("RU", { subjects_filter: ">" });
  assert.deepEqual(i.state.subjects, { "ru.a": 1, "ru.b": 1 });
  await pub("ru.c", "all", hdrs({ "Nats-Rollup": "all" }));
  i = await info("RU");
  assert.equal(i.state.messages, 1);
  assert.equal(i.state.last_seq, 5);
  assert.equal(i.state.first_seq, 5);
  await del("RU");
});

test("STREAM.MSG.GET by sequence, last and next by subject; 10037 when missing (JS-09)", async () => {
  await create(memStream("MG", ["mg.>"]));
  await pub("mg.a", "one");
  await nc.request("mg.b", "two", { headers: hdrs({ "X-H": "1" }), timeout: 5000 });
  await pub("mg.a", "three");
  let r = await api(nc, "$JS.API.STREAM.MSG.GET.MG", { seq: 2 });
  assert.equal(r.type, "io.nats.jetstream.api.v1.stream_msg_get_response");
  assert.equal(r.message.subject, "mg.b");
  assert.equal(r.message.seq, 2);
  assert.equal(Buffer.from(r.message.data, "base64").toString(), "two");
  assert.match(Buffer.from(r.message.hdrs, "base64").toString(), /^NATS\/1\.0\r\nX-H: 1\r\n\r\n$/);
  assert.ok(!Number.isNaN(Date.parse(r.message.time)));
  r = await api(nc, "$JS.API.STREAM.MSG.GET.MG", { last_by_subj: "mg.a" });
  assert.equal(r.message.seq, 3);
  r = await api(nc, "$JS.API.STREAM.MSG.GET.MG", { next_by_subj: "mg.a", seq: 2 });
  assert.equal(r.message.seq, 3);
  expectError(await api(nc, "$JS.API.STREAM.MSG.GET.MG", { seq: 9 }), 404, 10037, "no message found");
  expectError(await api(nc, "$JS.API.STREAM.MSG.GET.MG", { seq: 1, last_by_subj: "mg.a" }), 400, 10003, "bad request");
  const jsm = await jetstreamManager(nc);
  const sm = await jsm.streams.getMessage("MG", { last_by_subj: "mg.b" });
  assert.equal(sm.seq, 2);
  assert.equal(sm.header.get("X-H"), "1");
  await del("MG");
});

test("STREAM.MSG.DELETE removes one message; 10043 when missing; deny_delete 10057 (JS-10)", async () => {
  await create(memStream("MD", ["md.>"]));
  for (let i = 0; i < 3; i++) await pub("md.a", String(i));
  const r = await api(nc, "$JS.API.STREAM.MSG.DELETE.MD", { seq: 2 });
  assert.deepEqual(r, { type: "io.nats.jetstream.api.v1.stream_msg_delete_response", success: true });
  const i = await info("MD");
  assert.equal(i.state.messages, 2);
  assert.equal(i.state.num_deleted, 1);
  expectError(await api(nc, "$JS.API.STREAM.MSG.DELETE.MD", { seq: 2 }), 400, 10043, "sequence 2 not found");
  const d = await info("MD", { deleted_details: true });
  assert.deepEqual(d.state.deleted, [2]);
  await del("MD");
  await create(memStream("MD", ["md.>"], { deny_delete: true }));
  await pub("md.a", "x");
  expectError(await api(nc, "$JS.API.STREAM.MSG.DELETE.MD", { seq: 1 }), 500, 10057, "message delete not permitted");
  await del("MD");
});

test("STREAM.PURGE: everything, by subject, below a sequence, keeping some; deny_purge (JS-08)", async () => {
  await create(memStream("PU", ["pu.>"]));
  for (const s of ["pu.a", "pu.b", "pu.a", "pu.b", "pu.a"]) await pub(s, "v");
  let r = await api(nc, "$JS.API.STREAM.PURGE.PU", { filter: "pu.a", keep: 1 });
  assert.deepEqual(r, { type: "io.nats.jetstream.api.v1.stream_purge_response", success: true, purged: 2 });
  r = await api(nc, "$JS.API.STREAM.PURGE.PU", { seq: 4 });
  assert.equal(r.purged, 1);
  let i = await info("PU");
  assert.equal(i.state.messages, 2);
  assert.equal(i.state.first_seq, 4);
  expectError(await api(nc, "$JS.API.STREAM.PURGE.PU", { seq: 2, keep: 1 }), 400, 10003);
  r = await api(nc, "$JS.API.STREAM.PURGE.PU");
  assert.equal(r.purged, 2);
  i = await info("PU");
  assert.equal(i.state.messages, 0);
  assert.equal(i.state.first_seq, 6);
  assert.equal(i.state.last_seq, 5);
  assert.equal((await pub("pu.c", "after")).seq, 6);
  await del("PU");
  await create(memStream("PD", ["pd.>"], { deny_purge: true }));
  expectError(await api(nc, "$JS.API.STREAM.PURGE.PD"), 500, 10110, "stream purge not permitted");
  await del("PD");
});

test("DIRECT.GET in both forms, with nats-server's headers; 404 when missing; no answer without allow_direct (JS-11, JSC-09)", async () => {
  await create(memStream("DG", ["dg.>"], { allow_direct: true }));
  await pub("dg.a", "first");
  await pub("dg.b", "second");
  let m = await nc.request("$JS.API.DIRECT.GET.DG", JSON.stringify({ seq: 1 }), { timeout: 5000 });
  assert.equal(td.decode(m.data), "first");
  assert.equal(m.headers.get("Nats-Stream"), "DG");
  assert.equal(m.headers.get("Nats-Subject"), "dg.a");
  assert.equal(m.headers.get("Nats-Sequence"), "1");
  assert.ok(!Number.isNaN(Date.parse(m.headers.get("Nats-Time-Stamp"))));
  m = await nc.request("$JS.API.DIRECT.GET.DG.dg.b", "", { timeout: 5000 });
  assert.equal(td.decode(m.data), "second");
  assert.equal(m.headers.get("Nats-Sequence"), "2");
  m = await nc.request("$JS.API.DIRECT.GET.DG", JSON.stringify({ seq: 9 }), { timeout: 5000 });
  assert.equal(m.headers.code, 404);
  assert.equal(m.headers.description, "Message Not Found");
  m = await nc.request("$JS.API.DIRECT.GET.DG", "", { timeout: 5000 });
  assert.equal(m.headers.code, 408);
  assert.equal(m.headers.description, "Empty Request");
  await create(memStream("ND", ["nd.>"]));
  await assert.rejects(nc.request("$JS.API.DIRECT.GET.ND", JSON.stringify({ seq: 1 }), { timeout: 1000 }),
    /timeout/i, "the API takes it and does not answer");
  await del("DG");
  await del("ND");
});

test("STREAM.NAMES and STREAM.LIST in name order, with a subject filter; STREAM.INFO of a missing stream 10059 (JS-07)", async () => {
  for (const n of ["NB", "NA", "NC"]) await create(memStream(n, [n.toLowerCase() + ".>"]));
  const names = await api(nc, "$JS.API.STREAM.NAMES");
  assert.equal(names.type, "io.nats.jetstream.api.v1.stream_names_response");
  assert.equal(names.limit, 1024);
  const ours = names.streams.filter((s) => ["NA", "NB", "NC"].includes(s));
  assert.deepEqual(ours, ["NA", "NB", "NC"]);
  const filtered = await api(nc, "$JS.API.STREAM.NAMES", { subject: "nb.x" });
  assert.deepEqual(filtered.streams, ["NB"]);
  assert.equal(filtered.total, 1);
  const list = await api(nc, "$JS.API.STREAM.LIST", { subject: "nc.>" });
  assert.equal(list.type, "io.nats.jetstream.api.v1.stream_list_response");
  assert.equal(list.limit, 256);
  assert.equal(list.streams.length, 1);
  assert.equal(list.streams[0].config.name, "NC");
  const missing = await info("NOPE");
  expectError(missing, 404, 10059, "stream not found");
  assert.equal(missing.total, 0);
  const jsm = await jetstreamManager(nc);
  const all = [];
  for await (const s of jsm.streams.list()) all.push(s.config.name);
  assert.ok(all.includes("NA") && all.includes("NB") && all.includes("NC"));
  for (const n of ["NA", "NB", "NC"]) await del(n);
  expectError(await del("NA"), 404, 10059);
});

test("STREAM.UPDATE changes limits and subjects; storage, retention and unseal may not change (JS-07)", async () => {
  await create(memStream("UP", ["up.a"]));
  for (let i = 0; i < 5; i++) await pub("up.a", String(i));
  const r = await api(nc, "$JS.API.STREAM.UPDATE.UP", memStream("UP", ["up.a", "up.b"], { max_msgs: 2 }));
  assert.equal(r.type, "io.nats.jetstream.api.v1.stream_update_response");
  assert.deepEqual(r.config.subjects, ["up.a", "up.b"]);
  assert.equal(r.state.messages, 2, "the new max_msgs applies at once");
  assert.equal((await pub("up.b", "new subject")).seq, 6);
  expectError(await api(nc, "$JS.API.STREAM.UPDATE.UP", memStream("UP", ["up.a"], { retention: "interest" })),
    500, 10052, "stream configuration update can not change retention policy");
  expectError(await api(nc, "$JS.API.STREAM.UPDATE.UP", { name: "UP", subjects: ["up.a"] }),
    500, 10052, "stream configuration update can not change storage type");
  const sealed = await api(nc, "$JS.API.STREAM.UPDATE.UP", memStream("UP", ["up.a", "up.b"], { sealed: true }));
  assert.equal(sealed.config.sealed, true);
  assert.equal(sealed.config.deny_delete, true);
  assert.equal(sealed.config.deny_purge, true);
  expectError(await pub("up.a", "x"), 400, 10109, "invalid operation on sealed stream");
  expectError(await api(nc, "$JS.API.STREAM.UPDATE.UP", memStream("UP", ["up.a", "up.b"])),
    500, 10052, "stream configuration update can not unseal a sealed stream");
  expectError(await api(nc, "$JS.API.STREAM.UPDATE.NOPE", memStream("NOPE", ["x"])), 404, 10059);
  await del("UP");
});

test("republish: stored messages go out again with Nats-Stream, Nats-Subject, Nats-Sequence, Nats-Last-Sequence (JS-26c)", async () => {
  await create(memStream("RP", ["rp.>"], { republish: { src: "rp.>", dest: "out.>" } }));
  const sub = nc.subscribe("out.>", { max: 2 });
  await nc.flush();
  await pub("rp.a", "one");
  await pub("rp.a", "two");
  const got = [];
  for await (const m of sub) got.push(m);
  assert.equal(got[0].subject, "out.a");
  assert.equal(td.decode(got[1].data), "two");
  assert.equal(got[1].headers.get("Nats-Stream"), "RP");
  assert.equal(got[1].headers.get("Nats-Subject"), "rp.a");
  assert.equal(got[1].headers.get("Nats-Sequence"), "2");
  assert.equal(got[1].headers.get("Nats-Last-Sequence"), "1");
  expectError(await create(memStream("RC", ["rc.>"], { republish: { src: "rc.>", dest: "rc.x" } })),
    500, 10052, "stream configuration for republish destination forms a cycle");
  await del("RP");
});

test("max_age removes messages once they are older (JS-21)", async () => {
  await create(memStream("AGE", ["age.>"], { max_age: 500 * 1e6 }));
  await pub("age.a", "old");
  const i = await info("AGE");
  assert.equal(i.config.duplicate_window, 500 * 1e6, "the duplicate window follows a shorter max_age");
  await waitFor(async () => (await info("AGE")).state.messages === 0, 5000, "expiry");
  await del("AGE");
});

test("file storage is the default and is created (JS-24; restarts in jetstream_file.test.mjs)", async () => {
  const r = await api(nc, "$JS.API.STREAM.CREATE.FS", { name: "FS", subjects: ["fs.>"] });
  assert.equal(r.config.storage, "file");
  await pub("fs.a", "on disk");
  assert.equal((await info("FS")).state.messages, 1);
  await del("FS");
});

test("/jsz and /varz's jetstream object carry nats-server's keys (MON-01, MON-06)", async () => {
  await create(memStream("MON", ["mon.>"]));
  await pub("mon.a", "x");
  const jsz = await getJSON(server.ports.http, "/jsz");
  for (const k of ["server_id", "now", "config", "memory", "storage", "reserved_memory", "reserved_storage",
    "accounts", "ha_assets", "api", "streams", "consumers", "messages", "bytes"]) {
    assert.ok(k in jsz, `/jsz lacks ${k}`);
  }
  assert.ok(jsz.streams >= 1);
  assert.ok(jsz.messages >= 1);
  assert.equal(jsz.accounts, 1);
  assert.ok(jsz.config.store_dir.endsWith("/jetstream"));
  const detail = await getJSON(server.ports.http, "/jsz?streams=1&config=1");
  const acc = detail.account_details.find((a) => a.name === "$G");
  const st = acc.stream_detail.find((s) => s.name === "MON");
  assert.equal(st.state.messages, 1);
  assert.equal(st.config.name, "MON");
  const varz = await getJSON(server.ports.http, "/varz");
  assert.deepEqual(Object.keys(varz.jetstream), ["config", "stats"]);
  for (const k of ["memory", "storage", "reserved_memory", "reserved_storage", "accounts", "ha_assets", "api"]) {
    assert.ok(k in varz.jetstream.stats, `/varz jetstream.stats lacks ${k}`);
  }
  await del("MON");
});

test("advisories: stream created, updated and deleted on $JS.EVENT.ADVISORY.STREAM.* (JS-16)", async () => {
  const got = [];
  const sub = nc.subscribe("$JS.EVENT.ADVISORY.STREAM.>", { callback: (err, m) => { if (!err) got.push(m); } });
  await nc.flush();
  await create(memStream("ADV", ["adv.>"]));
  await api(nc, "$JS.API.STREAM.UPDATE.ADV", memStream("ADV", ["adv.>"], { max_msgs: 5 }));
  await del("ADV");
  await waitFor(() => got.length >= 3, 5000, "three advisories");
  sub.unsubscribe();
  assert.deepEqual(got.map((m) => m.subject), [
    "$JS.EVENT.ADVISORY.STREAM.CREATED.ADV", "$JS.EVENT.ADVISORY.STREAM.UPDATED.ADV",
    "$JS.EVENT.ADVISORY.STREAM.DELETED.ADV",
  ]);
  const events = got.map((m) => JSON.parse(td.decode(m.data)));
  assert.deepEqual(events.map((e) => e.action), ["create", "modify", "delete"]);
  for (const e of events) {
    assert.equal(e.type, "io.nats.jetstream.advisory.v1.stream_action");
    assert.equal(e.stream, "ADV");
    assert.equal(typeof e.id, "string");
    assert.ok(!Number.isNaN(Date.parse(e.timestamp)));
  }
});

test("no_ack: a stream stores without acknowledging (JS-23)", async () => {
  await create(memStream("NA", ["na.>"], { no_ack: true }));
  await assert.rejects(nc.request("na.a", "x", { timeout: 500 }), /timeout/i);
  assert.equal((await info("NA")).state.messages, 1);
  await del("NA");
});

test("a domain: $JS.<domain>.API answers too, and acks and account info name it (LN-34, LN-36)", async () => {
  const s = await startJs({ config: "jetstream { domain: edge }\n" });
  const c = await connect({ servers: s.url, reconnect: false });
  try {
    const i = await api(c, "$JS.edge.API.INFO");
    assert.equal(i.domain, "edge");
    await api(c, "$JS.edge.API.STREAM.CREATE.DOM", memStream("DOM", ["dom.>"]));
    const ack = JSON.parse(td.decode((await c.request("dom.a", "x", { timeout: 5000 })).data));
    assert.deepEqual(ack, { stream: "DOM", domain: "edge", seq: 1 });
    const js = jetstream(c, { domain: "edge" });
    assert.equal((await js.publish("dom.b", "y")).seq, 2);
  } finally {
    await c.close();
    await s.stop();
  }
});

test("accounts: JetStream only where the account enables it, with its limits (CFG, JS-05; differences.md: accounts without JetStream)", async () => {
  const s = await startJs({
    config: "accounts { A: { jetstream: { max_streams: 1 }, users: [{user: a, password: a}] }, " +
      "B: { users: [{user: b, password: b}] } }\n",
  });
  const a = await connect({ servers: s.url, user: "a", pass: "a", reconnect: false });
  const b = await connect({ servers: s.url, user: "b", pass: "b", reconnect: false });
  try {
    const i = await api(a, "$JS.API.INFO");
    assert.equal(i.limits.max_streams, 1);
    assert.equal((await api(a, "$JS.API.STREAM.CREATE.A1", memStream("A1", ["a1"]))).did_create, true);
    expectError(await api(a, "$JS.API.STREAM.CREATE.A2", memStream("A2", ["a2"])), 400, 10027,
      "maximum number of streams reached");
    if (brokerKind() === "natsedge") {
      await assert.rejects(b.request("$JS.API.INFO", "", { timeout: 2000 }),
        (e) => e instanceof NoRespondersError || /no responders/i.test(String(e?.message) + String(e?.cause)));
    } else {
      expectError(await api(b, "$JS.API.INFO"), 503, 10039, "JetStream not enabled for account");
    }
  } finally {
    await a.close();
    await b.close();
    await s.stop();
  }
});

test("INFO to clients says jetstream; a request on a stream subject without a stream gets no responders (JS-03)", async () => {
  assert.equal(nc.info.jetstream, true);
  await assert.rejects(nc.request("nostream.x", "x", { timeout: 2000 }),
    (e) => e instanceof NoRespondersError || /no responders/i.test(String(e?.message) + String(e?.cause)));
});
