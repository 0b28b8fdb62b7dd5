// JetStream's API under hostile requests: every bounded field of a stream
// or consumer configuration at natsedge's compiled limit and one past it,
// request bodies at NE_JS_API_REQUEST_BYTES and past it (API requests,
// pull requests, direct gets, ack bodies), JSON that Go decodes in its own
// way (null, numbers beyond int64, wrong types, deep nesting), acks for
// consumers that do not exist and pull requests that expired before they
// were made. The broker runs with -js and monitoring; natsedge's JetStream
// pools must be back to idle at the end (/varz?natsedge=1, js_* keys).
//
// Both passes run every case. Where nats-server 2.9.10 has no bound (a
// description up to 4 KiB, any number of subjects, any body size) the case
// asserts each broker's side and names the differences.md entry ("Bounded
// text" and "Pools instead of heap" under "JetStream"). The one case that
// would crash nats-server 2.9.10 (a negative offset) runs against natsedge
// only and says so. The limits are read from config/. IDs refer to
// shared/reference/nats-inventory.md.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { stopAll, waitFor, brokerKind } from "../interop/lib/harness.mjs";
import { startJs, api, memStream } from "../interop/lib/js.mjs";
import { knob, subjectOf, varz, assertPoolsIdle, client } from "./lib/limits.mjs";

const require = createRequire(new URL("../interop/package.json", import.meta.url));
const { connect } = require("@nats-io/transport-node");

after(() => stopAll());

const NAME = knob("NE_JS_NAME_BYTES") - 1; // 255, as nats-server's JSMaxNameLen
const TEXT = knob("NE_JS_TEXT_BYTES") - 1; // natsedge's longest subject or description
const SUBJECTS = knob("NE_JS_MAX_STREAM_SUBJECTS");
const BACKOFF = knob("NE_JS_MAX_BACKOFF");
const REQUEST = knob("NE_JS_API_REQUEST_BYTES");
const GO_DESCRIPTION = 4096; // nats-server's JSMaxDescriptionLen

const td = new TextDecoder();

function expectError(r, code, errCode, description) {
  assert.ok(r.error, `expected an error, got ${JSON.stringify(r).slice(0, 300)}`);
  assert.equal(r.error.code, code);
  assert.equal(r.error.err_code, errCode);
  if (description !== undefined) assert.equal(r.error.description, description);
}

// A JSON object's text padded with spaces before its closing brace to
// exactly n bytes.
function padded(obj, n) {
  const text = JSON.stringify(obj);
  assert.ok(text.length <= n);
  return text.slice(0, -1) + " ".repeat(n - text.length) + "}";
}

describe("JetStream API requests at their limits", () => {
  let server;
  let nc;
  let natsedge;

  before(async () => {
    server = await startJs({ ports: ["http"], args: (p) => ["-m", String(p.http)] });
    server.http = server.ports.http;
    natsedge = server.kind === "natsedge";
    server.natsedge = natsedge;
    await waitFor(async () => (await varz(server)).connections === 0, 5000, "the readiness probe gone from /varz");
    // nats-server keeps a subscription it makes at its first stream: the
    // idle level is read after one came and went.
    nc = await connect({ servers: server.url, reconnect: false });
    assert.equal((await api(nc, "$JS.API.STREAM.CREATE.WARM", memStream("WARM", ["warm.x"]))).config?.name, "WARM");
    assert.equal((await api(nc, "$JS.API.STREAM.DELETE.WARM")).success, true);
    await nc.close();
    await waitFor(async () => (await varz(server)).connections === 0, 5000, "the warm-up client gone from /varz");
    server.idle = await varz(server);
    nc = await connect({ servers: server.url, reconnect: false });
  });

  after(async () => {
    if (!server) return;
    // Every stream goes (and its consumers, messages, subjects, ids, text).
    const names = await api(nc, "$JS.API.STREAM.NAMES");
    for (const name of names.streams ?? []) {
      assert.equal((await api(nc, `$JS.API.STREAM.DELETE.${name}`)).success, true, name);
    }
    await nc.close();
    await assertPoolsIdle(server);
    await server.stop();
  });

  const create = (cfg, body = cfg) => api(nc, `$JS.API.STREAM.CREATE.${cfg.name}`, body);
  const consumer = (stream, config) => api(nc, `$JS.API.CONSUMER.CREATE.${stream}`, { stream_name: stream, config });
  // A durable through CONSUMER.CREATE.<stream>.<durable>.
  const durable = (stream, config) =>
    api(nc, `$JS.API.CONSUMER.CREATE.${stream}.${config.durable_name}`, { stream_name: stream, config });
  // A pull request answered on its own inbox: the message or status.
  const next = (stream, name, body) =>
    nc.request(`$JS.API.CONSUMER.MSG.NEXT.${stream}.${name}`, body, { timeout: 5000, noMux: true });

  test(`names: a stream or durable of ${NAME} bytes is taken, ${NAME + 1} refused with nats-server's errors (JS-26a, JS-32)`, async () => {
    const long = "n".repeat(NAME);
    const r = await create(memStream(long, ["names.long"]));
    assert.equal(r.config?.name, long, JSON.stringify(r.error));
    expectError(await create(memStream(long + "n", ["names.longer"])), 500, 10052,
      `stream name is too long, maximum allowed is ${NAME}`);
    const d = await durable(long, { durable_name: "d".repeat(NAME), ack_policy: "explicit" });
    assert.equal(d.name, "d".repeat(NAME), JSON.stringify(d.error));
    expectError(await durable(long, { durable_name: "d".repeat(NAME + 1), ack_policy: "explicit" }), 400, 10102,
      `consumer name is too long, maximum allowed is ${NAME}`);
    assert.equal((await api(nc, `$JS.API.STREAM.DELETE.${long}`)).success, true);
  });

  test(`names: a consumer 'name' of ${NAME + 1} bytes: nats-server 2.9.10 takes it (it bounds only durable names), natsedge refuses it with 10102 (differences.md "JetStream", Bounded text)`, async () => {
    assert.equal((await create(memStream("CN", ["cn.x"]))).config?.name, "CN");
    const r = await consumer("CN", { name: "c".repeat(NAME + 1), ack_policy: "explicit" });
    if (natsedge) {
      expectError(r, 400, 10102, `consumer name is too long, maximum allowed is ${NAME}`);
    } else {
      assert.equal(r.name, "c".repeat(NAME + 1), JSON.stringify(r.error));
    }
  });

  test(`text: descriptions and subjects of ${TEXT} bytes are taken; past NE_JS_TEXT_BYTES natsedge refuses with nats-server's wording and its bound, nats-server takes up to ${GO_DESCRIPTION} (differences.md "JetStream", Bounded text)`, async () => {
    const subject = subjectOf(TEXT, "t");
    const ok = await create(memStream("TX", [subject], { description: "d".repeat(TEXT) }));
    assert.equal(ok.config?.description, "d".repeat(TEXT), JSON.stringify(ok.error));
    assert.deepEqual(ok.config.subjects, [subject]);
    const c = await consumer("TX", { name: "C1", ack_policy: "explicit", description: "e".repeat(TEXT), filter_subject: subject });
    assert.equal(c.config?.filter_subject, subject, JSON.stringify(c.error));

    const longer = await create(memStream("TX2", ["tx2.x"], { description: "d".repeat(TEXT + 1) }));
    const longSubject = await create(memStream("TX3", [subjectOf(TEXT + 1, "u")]));
    const cdesc = await consumer("TX", { name: "C2", ack_policy: "explicit", description: "e".repeat(TEXT + 1) });
    if (natsedge) {
      expectError(longer, 500, 10052, `stream description is too long, maximum allowed is ${TEXT}`);
      expectError(longSubject, 500, 10052, `subject is too long, maximum allowed is ${TEXT}`);
      expectError(cdesc, 400, 10107, `consumer description is too long, maximum allowed is ${TEXT}`);
    } else {
      assert.equal(longer.config?.name, "TX2", JSON.stringify(longer.error));
      assert.equal(longSubject.config?.name, "TX3", JSON.stringify(longSubject.error));
      assert.equal(cdesc.name, "C2", JSON.stringify(cdesc.error));
    }
    // Past nats-server's own bound both refuse, each naming its maximum.
    const max = natsedge ? TEXT : GO_DESCRIPTION;
    expectError(await create(memStream("TX4", ["tx4.x"], { description: "d".repeat(GO_DESCRIPTION + 1) })), 500, 10052,
      `stream description is too long, maximum allowed is ${max}`);
    expectError(await consumer("TX", { name: "C3", ack_policy: "explicit", description: "e".repeat(GO_DESCRIPTION + 1) }),
      400, 10107, `consumer description is too long, maximum allowed is ${max}`);
  });

  test(`counts: ${SUBJECTS} stream subjects and ${BACKOFF} backoff values are taken, one more is refused by natsedge naming the knob, taken by nats-server (differences.md "JetStream", Bounded text)`, async () => {
    const subjects = (n) => Array.from({ length: n }, (_, i) => `cnt.${i}`);
    const ok = await create(memStream("CT", subjects(SUBJECTS)));
    assert.deepEqual(ok.config?.subjects, subjects(SUBJECTS), JSON.stringify(ok.error));
    const more = await create(memStream("CT2", subjects(SUBJECTS + 1).map((s) => "x" + s)));
    const backoff = (n) => Array.from({ length: n }, () => 1000000000);
    const b = await consumer("CT", { name: "B1", ack_policy: "explicit", max_deliver: BACKOFF + 2, backoff: backoff(BACKOFF) });
    assert.equal(b.config?.backoff?.length, BACKOFF, JSON.stringify(b.error));
    const b2 = await consumer("CT", { name: "B2", ack_policy: "explicit", max_deliver: BACKOFF + 3, backoff: backoff(BACKOFF + 1) });
    if (natsedge) {
      expectError(more, 500, 10052, `too many subjects, maximum allowed is ${SUBJECTS} (NE_JS_MAX_STREAM_SUBJECTS)`);
      expectError(b2, 500, 10012, `backoff has more than ${BACKOFF} entries (NE_JS_MAX_BACKOFF)`);
    } else {
      assert.equal(more.config?.subjects?.length, SUBJECTS + 1, JSON.stringify(more.error));
      assert.equal(b2.config?.backoff?.length, BACKOFF + 1, JSON.stringify(b2.error));
    }
  });

  test(`bodies: an API request of ${REQUEST} bytes is handled; past NE_JS_API_REQUEST_BYTES natsedge answers 400 10003 (pull requests 400, direct gets 408), nats-server handles it (differences.md "JetStream", Bounded text)`, async () => {
    const at = await create(memStream("BD", ["bd.x"], { allow_direct: true }), padded(memStream("BD", ["bd.x"], { allow_direct: true }), REQUEST));
    assert.equal(at.config?.name, "BD", JSON.stringify(at.error));
    const past = await create(memStream("BD2", ["bd2.x"]), padded(memStream("BD2", ["bd2.x"]), REQUEST + 1));
    await nc.request("bd.x", "one", { timeout: 5000 });
    assert.equal((await consumer("BD", { name: "P", ack_policy: "explicit" })).name, "P");
    const pull = await next("BD", "P", padded({ batch: 1, no_wait: true }, REQUEST + 1));
    const direct = await nc.request("$JS.API.DIRECT.GET.BD", padded({ seq: 1 }, REQUEST + 1), { timeout: 5000 });
    if (natsedge) {
      expectError(past, 400, 10003, "bad request");
      assert.equal(pull.headers?.code, 400);
      assert.equal(pull.headers?.description, "Bad Request - request too large");
      assert.equal(direct.headers?.code, 408);
      assert.equal(direct.headers?.description, "Bad Request");
    } else {
      assert.equal(past.config?.name, "BD2", JSON.stringify(past.error));
      assert.equal(td.decode(pull.data), "one");
      assert.equal(td.decode(direct.data), "one");
    }
    // A pull request and a direct get at the limit are handled by both.
    const atPull = await next("BD", "P", padded({ batch: 1, no_wait: true }, REQUEST));
    assert.ok(atPull.headers === undefined || atPull.headers.code !== 400, `${atPull.headers?.code} ${atPull.headers?.description}`);
    const atDirect = await nc.request("$JS.API.DIRECT.GET.BD", padded({ seq: 1 }, REQUEST), { timeout: 5000 });
    assert.equal(td.decode(atDirect.data), "one");
  });

  // Before the fix a body past the bound was queued empty: an empty ack
  // body is an ack, so a padded -NAK acknowledged the message and a padded
  // +ACK (no ack for nats-server: the body is not "+ACK") did too.
  test(`acks: an ack body past NE_JS_API_REQUEST_BYTES keeps its verb: a padded -NAK is a nak, a padded +ACK is no ack, as on nats-server (JS-34)`, async () => {
    assert.equal((await create(memStream("AK", ["ak.x"]))).config?.name, "AK");
    assert.equal((await consumer("AK", { name: "C", ack_policy: "explicit", ack_wait: 30e9 })).name, "C");
    await nc.request("ak.x", "first", { timeout: 5000 });
    await nc.request("ak.x", "second", { timeout: 5000 });
    const m1 = await next("AK", "C", JSON.stringify({ batch: 1 }));
    assert.equal(td.decode(m1.data), "first");
    // The ack's own reply (nats-server's double ack) is the barrier.
    assert.equal((await nc.request(m1.reply, "-NAK" + " ".repeat(REQUEST + 8), { timeout: 5000 })).data.length, 0);
    const again = await next("AK", "C", JSON.stringify({ batch: 1, no_wait: true }));
    assert.equal(td.decode(again.data), "first", "the nak sends it again first");
    assert.equal(again.reply.split(".")[4], "2", "its second delivery");
    assert.equal((await nc.request(again.reply, "+ACK" + " ".repeat(REQUEST + 8), { timeout: 5000 })).data.length, 0);
    const info = await api(nc, "$JS.API.CONSUMER.INFO.AK.C");
    assert.equal(info.num_ack_pending, 1, "a padded +ACK is not an ack");
    assert.equal(info.ack_floor.stream_seq, 0);
    // A plain +ACK still is.
    assert.equal((await nc.request(again.reply, "+ACK", { timeout: 5000 })).data.length, 0);
    assert.equal((await api(nc, "$JS.API.CONSUMER.INFO.AK.C")).num_ack_pending, 0);
  });

  // Before the fix natsedge's one $JS.ACK.> subscription took these and the
  // requester waited for its timeout.
  test("acks for a consumer or stream that does not exist get no responders, as from nats-server's per-consumer ack subscriptions (JS-33, JS-03)", async () => {
    assert.equal((await create(memStream("NR", ["nr.x"]))).config?.name, "NR");
    assert.equal((await consumer("NR", { name: "C", ack_policy: "explicit" })).name, "C");
    for (const subject of ["$JS.ACK.NR.NOPE.1.1.1.0.0", "$JS.ACK.NOPE.C.1.1.1.0.0", "$JS.ACK.NR", "$JS.ACK.NR.C"]) {
      await assert.rejects(nc.request(subject, "+ACK", { timeout: 5000 }), (e) => /no responders/i.test(e.message), subject);
    }
    // The consumer's own ack subject is answered (sequence 0 is ignored
    // unanswered by both; a real one below gets the double ack).
    await nc.request("nr.x", "x", { timeout: 5000 });
    const m = await next("NR", "C", "");
    assert.equal((await nc.request(m.reply, "+ACK", { timeout: 5000 })).data.length, 0);
  });

  // Go decodes `null` into a request's struct as nothing (but it is not an
  // empty request); natsedge answered 10025 before the fix.
  test("JSON: a null body reads as an empty object where a body is decoded, and is not an empty request (JS-02, JS-07, JS-10)", async () => {
    assert.equal((await create(memStream("NL", ["nl.x"]))).config?.name, "NL");
    assert.equal((await consumer("NL", { name: "C", ack_policy: "explicit" })).name, "C");
    expectError(await api(nc, "$JS.API.STREAM.CREATE.NL2", "null"), 400, 10056, "stream name in subject does not match request");
    expectError(await api(nc, "$JS.API.STREAM.UPDATE.NL", "null"), 500, 10052, "stream name is required and can not contain '.', '*', '>'");
    expectError(await api(nc, "$JS.API.STREAM.UPDATE.NL", "{}"), 500, 10052, "stream name is required and can not contain '.', '*', '>'");
    expectError(await api(nc, "$JS.API.STREAM.DELETE.NL", "null"), 400, 10038, "expected an empty request payload");
    expectError(await api(nc, "$JS.API.CONSUMER.INFO.NL.C", "null"), 400, 10038, "expected an empty request payload");
    expectError(await api(nc, "$JS.API.CONSUMER.CREATE.NL", "null"), 400, 10056, "stream name in subject does not match request");
    expectError(await api(nc, "$JS.API.STREAM.MSG.GET.NL", "null"), 400, 10003, "bad request");
    expectError(await api(nc, "$JS.API.STREAM.MSG.DELETE.NL", "null"), 400, 10043, "sequence 0 not found");
    expectError(await api(nc, "$JS.API.STREAM.MSG.DELETE.NL", "{}"), 400, 10003, "bad request");
    const purge = await api(nc, "$JS.API.STREAM.PURGE.NL", "null");
    assert.deepEqual([purge.success, purge.purged], [true, 0]);
    assert.equal((await api(nc, "$JS.API.STREAM.INFO.NL", "null")).config?.name, "NL");
    const names = await api(nc, "$JS.API.CONSUMER.NAMES.NL", "null");
    assert.deepEqual(names.consumers, ["C"]);
  });

  test("JSON: what is not an object, numbers Go cannot decode into the field, and uint64 sequences to their end (JS-02, JS-09)", async () => {
    assert.equal((await create(memStream("JN", ["jn.x"]))).config?.name, "JN");
    for (const body of ["{", "[]", '"x"', "", "}{", "tru"]) {
      expectError(await api(nc, "$JS.API.STREAM.CREATE.JN2", body), 400, 10025, "invalid JSON");
    }
    for (const value of ["1e30", '"5"', "1.5", "9223372036854775808", "true"]) {
      expectError(await api(nc, "$JS.API.STREAM.CREATE.JN3", `{"name":"JN3","storage":"memory","max_msgs":${value}}`), 400, 10025, "invalid JSON");
    }
    expectError(await api(nc, "$JS.API.STREAM.MSG.GET.JN", '{"seq":-1}'), 400, 10025, "invalid JSON");
    expectError(await api(nc, "$JS.API.STREAM.MSG.GET.JN", '{"seq":18446744073709551616}'), 400, 10025, "invalid JSON");
    expectError(await api(nc, "$JS.API.STREAM.MSG.GET.JN", '{"seq":18446744073709551615}'), 404, 10037, "no message found");
    expectError(await api(nc, "$JS.API.STREAM.MSG.DELETE.JN", '{"seq":18446744073709551615}'), 400, 10043, "sequence 18446744073709551615 not found");
    const purge = await api(nc, "$JS.API.STREAM.PURGE.JN", '{"keep":18446744073709551615}');
    assert.deepEqual([purge.success, purge.purged], [true, 0]);
    expectError(await api(nc, "$JS.API.STREAM.PURGE.JN", '{"seq":5,"keep":1}'), 400, 10003, "bad request");
    expectError(await api(nc, "$JS.API.STREAM.NAMES", '{"offset":"1"}'), 400, 10025, "invalid JSON");
    // A negative max_msgs is taken as given by both.
    assert.equal((await api(nc, "$JS.API.STREAM.CREATE.JN4", '{"name":"JN4","storage":"memory","max_msgs":-5}')).config?.max_msgs, -5);
  });

  test("JSON: lists past their end, and the empty lists of errors, as nats-server writes them (JS-07, JS-13)", async () => {
    const total = (await api(nc, "$JS.API.STREAM.NAMES")).total;
    const names = await api(nc, "$JS.API.STREAM.NAMES", { offset: 99999999999 });
    assert.deepEqual([names.total, names.offset, names.streams], [total, total, null]);
    assert.equal((await api(nc, "$JS.API.STREAM.NAMES", { subject: "none.of.these" })).streams, null);
    const list = await api(nc, "$JS.API.STREAM.LIST", { offset: 99999999999 });
    assert.deepEqual([list.total, list.offset, list.streams], [total, total, []]);
    assert.deepEqual((await api(nc, "$JS.API.STREAM.LIST", "{")).streams, []);
    assert.equal((await api(nc, "$JS.API.STREAM.NAMES", "{")).streams, null);
    for (const what of ["NAMES", "LIST"]) {
      const r = await api(nc, `$JS.API.CONSUMER.${what}.NOPE`);
      expectError(r, 404, 10059, "stream not found");
      assert.deepEqual(r.consumers, []);
    }
  });

  test(`JSON: nesting deeper than natsedge's token bound: natsedge answers 400 10003, nats-server ignores the unknown key (differences.md "JetStream", Bounded text)`, async () => {
    const deep = `{"name":"DP","storage":"memory","x":${"[".repeat(2000)}${"]".repeat(2000)}}`;
    const r = await api(nc, "$JS.API.STREAM.CREATE.DP", deep);
    if (natsedge) expectError(r, 400, 10003, "bad request");
    else assert.equal(r.config?.name, "DP", JSON.stringify(r.error));
  });

  test("pull requests: batch 0 and -1 get one message, a word or null is batch 1, a number is the batch, a string batch and a large heartbeat 400 (JS-36, JS-37d)", async () => {
    assert.equal((await create(memStream("PR", ["pr.x"]))).config?.name, "PR");
    assert.equal((await consumer("PR", { name: "C", ack_policy: "explicit" })).name, "C");
    for (let i = 0; i < 8; i++) await nc.request("pr.x", `m${i}`, { timeout: 5000 });
    let seen = 0;
    for (const body of [{ batch: 0, no_wait: true }, { batch: -1, no_wait: true }, "abc", "null"]) {
      const m = await next("PR", "C", typeof body === "string" ? body : JSON.stringify(body));
      assert.equal(td.decode(m.data), `m${seen++}`, JSON.stringify(body));
    }
    const bad = await next("PR", "C", '{"batch":"1"}');
    assert.equal(bad.headers?.code, 400);
    assert.match(bad.headers?.description ?? "", /^Bad Request - /);
    const hb = await next("PR", "C", JSON.stringify({ batch: 1, expires: 1e9, idle_heartbeat: 6e8 }));
    assert.equal(hb.headers?.code, 400);
    assert.equal(hb.headers?.description, "Bad Request - heartbeat value too large");
    const hb2 = await next("PR", "C", JSON.stringify({ batch: 1, idle_heartbeat: 1e8 }));
    assert.equal(hb2.headers?.description, "Bad Request - heartbeat value too large");
  });

  // natsedge took a negative expires as "none" and delivered. nats-server
  // answers a request that expired before it waits with 408 when its
  // expiry check reaches it first, and drops it unanswered when the
  // delivery loop does: either way it gets no message.
  test("pull requests: one with a negative expires gets no message (natsedge: 408 Request Timeout); the next request is served (JS-37b)", async () => {
    assert.equal((await create(memStream("NE", ["ne.x"]))).config?.name, "NE");
    assert.equal((await consumer("NE", { name: "C", ack_policy: "explicit" })).name, "C");
    await nc.request("ne.x", "only", { timeout: 5000 });
    const c = await client(server, { verbose: false });
    try {
      await expiredThenPlain(c);
    } finally {
      c.destroy();
    }
  });

  async function expiredThenPlain(c) {
    await c.send("SUB in.1 1\r\nSUB in.2 2\r\n");
    const expired = JSON.stringify({ batch: 1, expires: -5 });
    const plain = JSON.stringify({ batch: 1, no_wait: true });
    await c.send(`PUB $JS.API.CONSUMER.MSG.NEXT.NE.C in.1 ${expired.length}\r\n${expired}\r\n` +
      `PUB $JS.API.CONSUMER.MSG.NEXT.NE.C in.2 ${plain.length}\r\n${plain}\r\n`);
    const got = await c.readUntil(/MSG ne\.x 2 \$JS\.ACK\.NE\.C\.1\.1\.1\.\S+ 4\r\nonly\r\n/, 5000);
    const timeout = "HMSG in.1 1 81 81\r\nNATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 1\r\nNats-Pending-Bytes: 0\r\n\r\n\r\n";
    const before = got.slice(0, got.indexOf("MSG ne.x 2"));
    if (natsedge) assert.equal(before, timeout);
    // nats-server writes its statuses with an empty reply field.
    else assert.ok(before === "" || before === timeout.replace(" 1 81", " 1  81"), `the expired request got: ${before}`);
  }

  test("STREAM.NAMES with a negative offset: natsedge answers 10025 (natsedge-only: nats-server 2.9.10 panics on it, slice bounds out of range)", { skip: brokerKind() !== "natsedge" && "nats-server 2.9.10 exits on this request" }, async () => {
    assert.equal((await create(memStream("NO", ["no.x"]))).config?.name, "NO");
    for (const what of ["STREAM.NAMES", "STREAM.LIST", "CONSUMER.NAMES.NO", "CONSUMER.LIST.NO"]) {
      expectError(await api(nc, `$JS.API.${what}`, { offset: -1 }), 400, 10025, "invalid JSON");
    }
  });
});
