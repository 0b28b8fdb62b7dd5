// JetStream consumers through the $JS.API, raw subscriptions and nats.js
// (@nats-io/jetstream) against the broker in NATSEDGE_BIN started with -js:
// natsedge, or nats-server 2.9.10 in the parity pass, with the same
// assertions. JS-xx and JSC-xx are the facts of
// shared/reference/nats-inventory.md section 4.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { connect, headers, createInbox } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, AckPolicy, DeliverPolicy } from "@nats-io/jetstream";
import { stopAll, waitFor, within, sleep } from "./lib/harness.mjs";
import { startJs, api, memStream } from "./lib/js.mjs";

let server;
let nc;
const td = new TextDecoder();

before(async () => {
  server = await startJs();
  nc = await connect({ servers: server.url, reconnect: false });
});

after(async () => {
  await nc?.close();
  await stopAll();
});

const createStream = (cfg) => api(nc, `$JS.API.STREAM.CREATE.${cfg.name}`, cfg);
const delStream = (name) => api(nc, `$JS.API.STREAM.DELETE.${name}`);
const consumerInfo = (s, c) => api(nc, `$JS.API.CONSUMER.INFO.${s}.${c}`);

function expectError(r, code, errCode, description) {
  assert.ok(r.error, `expected an error, got ${JSON.stringify(r)}`);
  assert.equal(r.error.code, code);
  assert.equal(r.error.err_code, errCode);
  if (description !== undefined) assert.equal(r.error.description, description);
}

async function publish(subject, n, prefix = "m") {
  for (let i = 0; i < n; i++) {
    const m = await nc.request(subject, `${prefix}${i}`, { timeout: 5000 });
    assert.ok(!JSON.parse(td.decode(m.data)).error);
  }
}

// A subscription whose messages pile up; take(n) waits (bounded) for the
// next n of them. The subscription stays until unsubscribe().
function collector(subject = createInbox()) {
  const msgs = [];
  const sub = nc.subscribe(subject, { callback: (err, m) => { if (!err) msgs.push(m); } });
  return {
    subject,
    sub,
    async take(n, ms = 5000) {
      await waitFor(() => msgs.length >= n, ms, `${n} messages on ${subject}`);
      return msgs.splice(0, n);
    },
    unsubscribe: () => sub.unsubscribe(),
  };
}

// The ack reply's tokens: $JS.ACK.<stream>.<consumer>.<dc>.<sseq>.<dseq>.<ts>.<pending> (JS-33).
function ackInfo(m) {
  const t = m.reply.split(".");
  assert.equal(t.length, 9, m.reply);
  return { stream: t[2], consumer: t[3], dc: +t[4], sseq: +t[5], dseq: +t[6], ts: t[7], pending: +t[8] };
}

test("CONSUMER.CREATE in its three subject forms and DURABLE.CREATE; defaults as nats-server fills them (JS-12, JS-29)", async () => {
  await createStream(memStream("CC", ["cc.>"]));
  await publish("cc.a", 2);
  const eph = await api(nc, "$JS.API.CONSUMER.CREATE.CC", { stream_name: "CC", config: { ack_policy: "explicit" } });
  assert.equal(eph.type, "io.nats.jetstream.api.v1.consumer_create_response");
  assert.match(eph.name, /^[A-Za-z0-9]{8}$/);
  assert.equal(eph.config.inactive_threshold, 5e9);
  assert.equal(eph.num_pending, 2);
  assert.deepEqual(eph.delivered, { consumer_seq: 0, stream_seq: 0 });
  const dur = await api(nc, "$JS.API.CONSUMER.DURABLE.CREATE.CC.D1",
    { stream_name: "CC", config: { durable_name: "D1", ack_policy: "explicit" } });
  assert.deepEqual(dur.config, {
    durable_name: "D1", deliver_policy: "all", ack_policy: "explicit", ack_wait: 30e9, max_deliver: -1,
    replay_policy: "instant", max_waiting: 512, max_ack_pending: 1000, num_replicas: 0,
  });
  const named = await api(nc, "$JS.API.CONSUMER.CREATE.CC.D2",
    { stream_name: "CC", config: { durable_name: "D2", ack_policy: "explicit" } });
  assert.equal(named.name, "D2");
  const filtered = await api(nc, "$JS.API.CONSUMER.CREATE.CC.F1.cc.a",
    { stream_name: "CC", config: { name: "F1", filter_subject: "cc.a", ack_policy: "none" } });
  assert.equal(filtered.name, "F1");
  assert.equal(filtered.num_pending, 2);
  expectError(await api(nc, "$JS.API.CONSUMER.CREATE.CC.F2.cc.b",
    { stream_name: "CC", config: { name: "F2", filter_subject: "cc.a" } }), 400, 10131,
    "Consumer create request did not match filtered subject from create subject");
  expectError(await api(nc, "$JS.API.CONSUMER.CREATE.CC", { stream_name: "CC", config: { durable_name: "X" } }),
    400, 10020, "consumer expected to be ephemeral but a durable name was set in request");
  expectError(await api(nc, "$JS.API.CONSUMER.CREATE.CC.Y", { stream_name: "CC", config: { durable_name: "X" } }),
    400, 10017, "consumer name in subject does not match durable name in request");
  expectError(await api(nc, "$JS.API.CONSUMER.DURABLE.CREATE.CC.Y", { stream_name: "CC", config: {} }),
    400, 10018);
  expectError(await api(nc, "$JS.API.CONSUMER.CREATE.CC", { stream_name: "OTHER", config: {} }), 400, 10056);
  expectError(await api(nc, "$JS.API.CONSUMER.CREATE.NOPE", { stream_name: "NOPE", config: {} }), 404, 10059);
  expectError(await api(nc, "$JS.API.CONSUMER.CREATE.CC", "{"), 400, 10025);
  await delStream("CC");
});

test("consumer configuration rules: nats-server's error codes (JS-32)", async () => {
  await createStream(memStream("CV", ["cv.>"]));
  const bad = async (config, code, errCode, description) =>
    expectError(await api(nc, "$JS.API.CONSUMER.CREATE.CV", { stream_name: "CV", config }), code, errCode, description);
  await bad({ deliver_subject: "x.*" }, 400, 10079, "consumer deliver subject has wildcards");
  await bad({ deliver_subject: "x", idle_heartbeat: 50e6 }, 400, 10083, "consumer idle heartbeat needs to be >= 100ms");
  await bad({ idle_heartbeat: 1e9 }, 400, 10088, "consumer idle heartbeat requires a push based consumer");
  await bad({ flow_control: true }, 400, 10089, "consumer flow control requires a push based consumer");
  await bad({ deliver_subject: "x", flow_control: true }, 400, 10108, "consumer with flow control also needs heartbeats");
  await bad({ filter_subject: "other.>" }, 400, 10093, "consumer filter subject is not a valid subset of the interest subjects");
  await bad({ deliver_policy: "by_start_sequence" }, 400, 10094,
    "consumer delivery policy is deliver by start sequence, but optional start sequence is not set");
  await bad({ deliver_policy: "last_per_subject" }, 400, 10094,
    "consumer delivery policy is deliver last per subject, but optional filter subject is not set");
  await bad({ deliver_policy: "new", opt_start_seq: 3 }, 400, 10094,
    "consumer delivery policy is deliver new, but optional start sequence is also set");
  await bad({ deliver_subject: "cv.x" }, 400, 10081, "consumer deliver subject forms a cycle");
  await bad({ ack_policy: "explicit", max_deliver: 2, backoff: [1e9, 2e9] }, 400, 10116,
    "max deliver is required to be > length of backoff values");
  await bad({ deliver_subject: "x", max_waiting: 5 }, 400, 10080, "consumer in push mode can not set max waiting");
  await delStream("CV");
  await createStream(memStream("WQ", ["wq.>"], { retention: "workqueue" }));
  const wq = async (config, code, errCode) =>
    expectError(await api(nc, "$JS.API.CONSUMER.CREATE.WQ", { stream_name: "WQ", config }), code, errCode);
  await wq({ ack_policy: "none" }, 400, 10084);
  await wq({ ack_policy: "all" }, 400, 10098);
  assert.ok(!(await api(nc, "$JS.API.CONSUMER.CREATE.WQ.A", { stream_name: "WQ", config: { durable_name: "A", ack_policy: "explicit", filter_subject: "wq.a" } })).error);
  await wq({ ack_policy: "explicit" }, 400, 10099);
  await wq({ ack_policy: "explicit", filter_subject: "wq.*" }, 400, 10100);
  await wq({ ack_policy: "explicit", filter_subject: "wq.b", deliver_policy: "last" }, 400, 10101);
  await delStream("WQ");
});

test("pull: batch, expires with 408 and Nats-Pending-*, no_wait 404, max_bytes, max_waiting, heartbeat too large (JS-36, JS-37, JS-38)", async () => {
  await createStream(memStream("PL", ["pl.>"]));
  await api(nc, "$JS.API.CONSUMER.CREATE.PL.P", { stream_name: "PL", config: { durable_name: "P", ack_policy: "explicit", max_waiting: 1 } });
  await publish("pl.a", 3);
  const col = collector();
  const inbox = col.subject;
  nc.publish("$JS.API.CONSUMER.MSG.NEXT.PL.P", JSON.stringify({ batch: 5, expires: 500e6 }), { reply: inbox });
  const got = await col.take(4, 5000);
  assert.deepEqual(got.slice(0, 3).map((m) => ackInfo(m).sseq), [1, 2, 3]);
  assert.deepEqual(got.slice(0, 3).map((m) => ackInfo(m).pending), [2, 1, 0]);
  assert.equal(got[3].headers.code, 408);
  assert.equal(got[3].headers.description, "Request Timeout");
  assert.equal(got[3].headers.get("Nats-Pending-Messages"), "2");
  assert.equal(got[3].headers.get("Nats-Pending-Bytes"), "0");
  const nw = await nc.request("$JS.API.CONSUMER.MSG.NEXT.PL.P", JSON.stringify({ batch: 1, no_wait: true }), { timeout: 5000 });
  assert.equal(nw.headers.code, 404);
  assert.equal(nw.headers.description, "No Messages");
  const hb = await nc.request("$JS.API.CONSUMER.MSG.NEXT.PL.P", JSON.stringify({ batch: 1, expires: 1e9, idle_heartbeat: 1e9 }), { timeout: 5000 });
  assert.equal(hb.headers.code, 400);
  assert.match(hb.headers.description, /^Bad Request - heartbeat value too large/);
  const wcol = collector();
  const waiting = wcol.subject;
  nc.publish("$JS.API.CONSUMER.MSG.NEXT.PL.P", JSON.stringify({ batch: 1, expires: 5e9 }), { reply: waiting });
  await nc.flush();
  const over = await nc.request("$JS.API.CONSUMER.MSG.NEXT.PL.P", JSON.stringify({ batch: 1, expires: 5e9 }), { timeout: 5000 });
  assert.equal(over.headers.code, 409);
  assert.equal(over.headers.description, "Exceeded MaxWaiting");
  await publish("pl.a", 1, "big");
  const [w] = await wcol.take(1);
  assert.equal(ackInfo(w).sseq, 4);
  await api(nc, "$JS.API.CONSUMER.CREATE.PL.MB", { stream_name: "PL", config: { durable_name: "MB", ack_policy: "none" } });
  const mb = await nc.request("$JS.API.CONSUMER.MSG.NEXT.PL.MB", JSON.stringify({ batch: 2, max_bytes: 10 }), { timeout: 5000 });
  assert.equal(mb.headers.code, 409);
  assert.equal(mb.headers.description, "Message Size Exceeds MaxBytes");
  col.unsubscribe();
  wcol.unsubscribe();
  await delStream("PL");
});

test("acks: +ACK floors, -NAK redelivers, +TERM ends, +WPI holds, +NXT asks for the next, the double ack answers empty (JS-34, JSC-10)", async () => {
  await createStream(memStream("AK", ["ak.>"]));
  await api(nc, "$JS.API.CONSUMER.CREATE.AK.C", { stream_name: "AK", config: { durable_name: "C", ack_policy: "explicit", ack_wait: 2e9 } });
  await publish("ak.a", 4);
  const col = collector();
  const inbox = col.subject;
  nc.publish("$JS.API.CONSUMER.MSG.NEXT.AK.C", JSON.stringify({ batch: 4, expires: 5e9 }), { reply: inbox });
  const got = await col.take(4);
  const ack = await nc.request(got[0].reply, "+ACK", { timeout: 5000 });
  assert.equal(ack.data.length, 0, "the double ack is an empty message");
  nc.publish(got[1].reply, "-NAK");
  nc.publish(got[2].reply, "+TERM");
  nc.publish(got[3].reply, "+WPI");
  await nc.flush();
  nc.publish("$JS.API.CONSUMER.MSG.NEXT.AK.C", JSON.stringify({ batch: 1, expires: 5e9 }), { reply: inbox });
  const [again] = await col.take(1);
  const a = ackInfo(again);
  assert.equal(a.sseq, 2);
  assert.equal(a.dc, 2);
  assert.equal(a.dseq, 5);
  const i = await consumerInfo("AK", "C");
  assert.deepEqual([i.ack_floor.stream_seq, i.ack_floor.consumer_seq], [1, 1]);
  assert.equal(i.num_ack_pending, 2, "seq 2 redelivered and seq 4 in progress");
  assert.equal(i.num_redelivered, 1);
  const ncol = collector();
  const nxt = ncol.subject;
  await publish("ak.b", 1);
  nc.publish(again.reply, "+NXT", { reply: nxt });
  const [next] = await ncol.take(1);
  assert.equal(ackInfo(next).sseq, 5);
  col.unsubscribe();
  ncol.unsubscribe();
  await delStream("AK");
});

test("advisories: consumer created and deleted, a message naked and terminated (JS-16)", async () => {
  const got = [];
  const sub = nc.subscribe("$JS.EVENT.ADVISORY.CONSUMER.>", { callback: (err, m) => { if (!err) got.push(m); } });
  await nc.flush();
  await createStream(memStream("AV", ["av.>"]));
  await api(nc, "$JS.API.CONSUMER.CREATE.AV.C", { stream_name: "AV", config: { durable_name: "C", ack_policy: "explicit" } });
  await publish("av.a", 2);
  const col = collector();
  nc.publish("$JS.API.CONSUMER.MSG.NEXT.AV.C", JSON.stringify({ batch: 2, expires: 2e9 }), { reply: col.subject });
  const [m1, m2] = await col.take(2);
  await nc.request(m1.reply, "-NAK", { timeout: 5000 });
  await nc.request(m2.reply, "+TERM", { timeout: 5000 });
  await api(nc, "$JS.API.CONSUMER.DELETE.AV.C");
  await waitFor(() => got.length >= 4, 5000, "four advisories");
  sub.unsubscribe();
  col.unsubscribe();
  assert.deepEqual(got.map((m) => m.subject), [
    "$JS.EVENT.ADVISORY.CONSUMER.CREATED.AV.C", "$JS.EVENT.ADVISORY.CONSUMER.MSG_NAKED.AV.C",
    "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.AV.C", "$JS.EVENT.ADVISORY.CONSUMER.DELETED.AV.C",
  ]);
  const e = got.map((m) => JSON.parse(td.decode(m.data)));
  assert.equal(e[0].type, "io.nats.jetstream.advisory.v1.consumer_action");
  assert.equal(e[0].action, "create");
  assert.equal(e[3].action, "delete");
  assert.equal(e[1].type, "io.nats.jetstream.advisory.v1.nak");
  assert.deepEqual([e[1].stream_seq, e[1].consumer_seq, e[1].deliveries], [1, 1, 1]);
  assert.equal(e[2].type, "io.nats.jetstream.advisory.v1.terminated");
  assert.deepEqual([e[2].stream_seq, e[2].consumer_seq, e[2].deliveries], [2, 2, 1]);
  await delStream("AV");
});

test("ack_wait redelivers; max_deliver stops with an advisory; max_ack_pending holds delivery (JS-35, JS-16)", async () => {
  await createStream(memStream("RD", ["rd.>"]));
  await api(nc, "$JS.API.CONSUMER.CREATE.RD.C", { stream_name: "RD", config: { durable_name: "C", ack_policy: "explicit", ack_wait: 500e6, max_deliver: 2, max_ack_pending: 1 } });
  const adv = collector("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.RD.C");
  await nc.flush();
  await publish("rd.a", 2);
  const col = collector();
  const inbox = col.subject;
  nc.publish("$JS.API.CONSUMER.MSG.NEXT.RD.C", JSON.stringify({ batch: 3, expires: 4e9 }), { reply: inbox });
  const got = await col.take(3, 6000);
  assert.deepEqual(got.map((m) => [ackInfo(m).sseq, ackInfo(m).dc]), [[1, 1], [1, 2], [2, 1]],
    "max_ack_pending 1 holds seq 2 until seq 1 is done with");
  const [a] = await adv.take(1, 5000);
  adv.unsubscribe();
  const e = JSON.parse(td.decode(a.data));
  assert.equal(e.type, "io.nats.jetstream.advisory.v1.max_deliver");
  assert.equal(e.stream, "RD");
  assert.equal(e.consumer, "C");
  assert.equal(e.stream_seq, 1);
  assert.equal(e.deliveries, 2);
  col.unsubscribe();
  await delStream("RD");
});

test("acking a redelivered message at the ack floor moves the floor by its first delivery's consumer sequence (JS-34, JS-35)", async () => {
  await createStream(memStream("RF", ["rf.>"]));
  await api(nc, "$JS.API.CONSUMER.CREATE.RF.C", { stream_name: "RF", config: { durable_name: "C", ack_policy: "explicit", ack_wait: 500e6 } });
  await publish("rf.a", 3);
  const col = collector();
  nc.publish("$JS.API.CONSUMER.MSG.NEXT.RF.C", JSON.stringify({ batch: 3, expires: 2e9 }), { reply: col.subject });
  await col.take(3);
  // After ack_wait, seq 1 comes again with a new consumer sequence (4).
  nc.publish("$JS.API.CONSUMER.MSG.NEXT.RF.C", JSON.stringify({ batch: 1, expires: 3e9 }), { reply: col.subject });
  const [again] = await col.take(1, 5000);
  assert.deepEqual([ackInfo(again).sseq, ackInfo(again).dseq, ackInfo(again).dc], [1, 4, 2]);
  await nc.request(again.reply, "+ACK", { timeout: 5000 });
  const ci = await consumerInfo("RF", "C");
  assert.deepEqual(ci.ack_floor, { consumer_seq: 1, stream_seq: 1, last_active: ci.ack_floor.last_active });
  assert.equal(ci.num_ack_pending, 2);
  col.unsubscribe();
  await delStream("RF");
});

test("deliver policies and their exact num_pending: all, last, new, by sequence, by time, last per subject (JS-28, JS-31)", async () => {
  await createStream(memStream("DP", ["dp.>"]));
  for (const s of ["dp.a", "dp.b", "dp.a", "dp.c", "dp.b"]) await publish(s, 1);
  const mk = async (name, config) => (await api(nc, `$JS.API.CONSUMER.CREATE.DP.${name}`,
    { stream_name: "DP", config: { durable_name: name, ack_policy: "none", ...config } }));
  assert.equal((await mk("ALL", {})).num_pending, 5);
  assert.equal((await mk("LAST", { deliver_policy: "last" })).num_pending, 1);
  assert.equal((await mk("NEW", { deliver_policy: "new" })).num_pending, 0);
  assert.equal((await mk("SEQ", { deliver_policy: "by_start_sequence", opt_start_seq: 4 })).num_pending, 2);
  const lps = await mk("LPS", { deliver_policy: "last_per_subject", filter_subject: "dp.>" });
  assert.equal(lps.num_pending, 3);
  const fl = await mk("FA", { filter_subject: "dp.a" });
  assert.equal(fl.num_pending, 2);
  const first = JSON.parse(td.decode((await nc.request("$JS.API.STREAM.MSG.GET.DP", JSON.stringify({ seq: 4 }), { timeout: 5000 })).data));
  const byTime = await mk("TIME", { deliver_policy: "by_start_time", opt_start_time: first.message.time });
  assert.equal(byTime.num_pending, 2);
  const col = collector();
  const inbox = col.subject;
  nc.publish("$JS.API.CONSUMER.MSG.NEXT.DP.LPS", JSON.stringify({ batch: 3, expires: 2e9 }), { reply: inbox });
  const got = await col.take(3);
  assert.deepEqual(got.map((m) => ackInfo(m).sseq), [3, 4, 5]);
  assert.deepEqual(got.map((m) => m.subject), ["dp.a", "dp.c", "dp.b"]);
  assert.deepEqual(got.map((m) => ackInfo(m).pending), [2, 1, 0]);
  await publish("dp.a", 1);
  assert.equal((await consumerInfo("DP", "LPS")).num_pending, 1);
  assert.equal((await consumerInfo("DP", "ALL")).num_pending, 6);
  assert.equal((await consumerInfo("DP", "FA")).num_pending, 3);
  col.unsubscribe();
  await delStream("DP");
});

test("push: delivery needs a subscription on the literal deliver subject; heartbeats; MSG lines show the stored subject (JS-39, JS-40, JS-33)", async () => {
  await createStream(memStream("PU", ["pu.>"]));
  await publish("pu.a", 2);
  const deliver = createInbox();
  const wild = collector(deliver.split(".").slice(0, -1).join(".") + ".>");
  await api(nc, "$JS.API.CONSUMER.CREATE.PU.P", { stream_name: "PU", config: { durable_name: "P", ack_policy: "explicit", deliver_subject: deliver, idle_heartbeat: 300e6 } });
  await nc.flush();
  let i = await consumerInfo("PU", "P");
  assert.equal(i.delivered.stream_seq, 0, "a wildcard subscription is no interest");
  assert.equal(i.push_bound, undefined);
  const col = collector(deliver);
  const got = await col.take(3, 5000);
  assert.deepEqual(got.slice(0, 2).map((m) => m.subject), ["pu.a", "pu.a"]);
  assert.deepEqual(got.slice(0, 2).map((m) => ackInfo(m).sseq), [1, 2]);
  assert.equal(got[2].headers.code, 100);
  assert.equal(got[2].headers.description, "Idle Heartbeat");
  assert.equal(got[2].headers.get("Nats-Last-Consumer"), "2");
  assert.equal(got[2].headers.get("Nats-Last-Stream"), "2");
  i = await consumerInfo("PU", "P");
  assert.equal(i.push_bound, true);
  const pulled = await nc.request("$JS.API.CONSUMER.MSG.NEXT.PU.P", "1", { timeout: 5000 });
  assert.equal(pulled.headers.code, 409);
  assert.equal(pulled.headers.description, "Consumer is push based");
  col.unsubscribe();
  wild.unsubscribe();
  await delStream("PU");
});

test("push flow control: a request with a $JS.FC reply, delivery resumes once it is answered (JS-41)", async () => {
  await createStream(memStream("FC", ["fc.>"]));
  const deliver = createInbox();
  await api(nc, "$JS.API.CONSUMER.CREATE.FC.F", { stream_name: "FC", config: { durable_name: "F", ack_policy: "none", deliver_subject: deliver, flow_control: true, idle_heartbeat: 1e9 } });
  const big = "x".repeat(60 * 1024);
  const sub = nc.subscribe(deliver);
  const js = jetstream(nc);
  for (let i = 0; i < 30; i++) await js.publish("fc.a", big);
  let data = 0;
  let fc = null;
  await within((async () => {
    for await (const m of sub) {
      if (m.headers?.code === 100 && m.headers.description === "FlowControl Request") {
        if (!fc) {
          fc = m.reply;
          assert.match(fc, /^\$JS\.FC\.FC\.F\./);
        }
        m.respond();
        continue;
      }
      if (m.headers?.code === 100) continue;
      data++;
      if (data === 30) break;
    }
  })(), 10000, "30 messages through flow control");
  assert.ok(fc, "a flow control request came");
  await delStream("FC");
});

test("nats.js consumers: fetch, consume, next, and the ordered pull consumer (JSC-06, JSC-07)", async () => {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "NJ", subjects: ["nj.>"], storage: "memory" });
  const js = jetstream(nc);
  for (let i = 0; i < 10; i++) await js.publish(`nj.${i % 2}`, `v${i}`);
  await jsm.consumers.add("NJ", { durable_name: "D", ack_policy: AckPolicy.Explicit });
  const c = await js.consumers.get("NJ", "D");
  const batch = await c.fetch({ max_messages: 4, expires: 2000 });
  const seqs = [];
  for await (const m of batch) {
    seqs.push(m.seq);
    m.ack();
  }
  assert.deepEqual(seqs, [1, 2, 3, 4]);
  const one = await c.next({ expires: 2000 });
  assert.equal(one.seq, 5);
  await one.ackAck();
  const consumed = [];
  const it = await c.consume({ max_messages: 3 });
  await within((async () => {
    for await (const m of it) {
      consumed.push(m.seq);
      m.ack();
      if (m.seq === 10) break;
    }
  })(), 10000, "consume to seq 10");
  assert.deepEqual(consumed, [6, 7, 8, 9, 10]);
  const ordered = await js.consumers.get("NJ", { filter_subjects: "nj.1" });
  const om = await ordered.fetch({ max_messages: 10, expires: 1000 });
  const oseqs = [];
  for await (const m of om) oseqs.push(m.seq);
  assert.deepEqual(oseqs, [2, 4, 6, 8, 10]);
  const info = await c.info();
  assert.equal(info.ack_floor.stream_seq, 10);
  assert.equal(info.num_pending, 0);
  await jsm.streams.delete("NJ");
});

test("nats.js ordered push consumer (as KV watch uses it) and ack-none num_pending tokens (JSC-08, KV-06)", async () => {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "OP", subjects: ["op.>"], storage: "memory" });
  const js = jetstream(nc);
  for (let i = 0; i < 5; i++) await js.publish("op.a", `v${i}`);
  const pc = await js.consumers.getPushConsumer("OP", { deliver_policy: DeliverPolicy.All });
  const it = await pc.consume();
  const got = [];
  await within((async () => {
    for await (const m of it) {
      got.push([m.seq, m.info.pending]);
      if (m.seq === 5) break;
    }
  })(), 10000, "ordered push to seq 5");
  assert.deepEqual(got, [[1, 4], [2, 3], [3, 2], [4, 1], [5, 0]]);
  await jsm.streams.delete("OP");
});

test("consumer NAMES, LIST, INFO 10014, DELETE; a waiting pull hears 409 Consumer Deleted (JS-13, JS-37f)", async () => {
  await createStream(memStream("CD", ["cd.>"]));
  for (const n of ["B", "A", "C"]) {
    await api(nc, `$JS.API.CONSUMER.CREATE.CD.${n}`, { stream_name: "CD", config: { durable_name: n, ack_policy: "explicit" } });
  }
  const names = await api(nc, "$JS.API.CONSUMER.NAMES.CD");
  assert.equal(names.type, "io.nats.jetstream.api.v1.consumer_names_response");
  assert.deepEqual(names.consumers, ["A", "B", "C"]);
  assert.equal(names.total, 3);
  const list = await api(nc, "$JS.API.CONSUMER.LIST.CD");
  assert.deepEqual(list.consumers.map((c) => c.name), ["A", "B", "C"]);
  assert.equal(list.consumers[0].stream_name, "CD");
  expectError(await consumerInfo("CD", "Z"), 404, 10014, "consumer not found");
  const col = collector();
  const inbox = col.subject;
  nc.publish("$JS.API.CONSUMER.MSG.NEXT.CD.A", JSON.stringify({ batch: 1, expires: 10e9 }), { reply: inbox });
  await nc.flush();
  const r = await api(nc, "$JS.API.CONSUMER.DELETE.CD.A");
  assert.deepEqual(r, { type: "io.nats.jetstream.api.v1.consumer_delete_response", success: true });
  const [gone] = await col.take(1);
  assert.equal(gone.headers.code, 409);
  assert.equal(gone.headers.description, "Consumer Deleted");
  expectError(await api(nc, "$JS.API.CONSUMER.DELETE.CD.A"), 404, 10014);
  assert.deepEqual((await api(nc, "$JS.API.CONSUMER.NAMES.CD")).consumers, ["B", "C"]);
  col.unsubscribe();
  await delStream("CD");
});

test("workqueue retention removes a message once acked; interest retention keeps nothing without consumers (JS-27)", async () => {
  await createStream(memStream("WK", ["wk.>"], { retention: "workqueue" }));
  await api(nc, "$JS.API.CONSUMER.CREATE.WK.W", { stream_name: "WK", config: { durable_name: "W", ack_policy: "explicit" } });
  await publish("wk.a", 3);
  const col = collector();
  const inbox = col.subject;
  nc.publish("$JS.API.CONSUMER.MSG.NEXT.WK.W", JSON.stringify({ batch: 3, expires: 2e9 }), { reply: inbox });
  const got = await col.take(3);
  await nc.request(got[1].reply, "+ACK", { timeout: 5000 });
  let s = await api(nc, "$JS.API.STREAM.INFO.WK");
  assert.equal(s.state.messages, 2);
  assert.equal(s.state.num_deleted, 1);
  await nc.request(got[0].reply, "", { timeout: 5000 });
  await nc.request(got[2].reply, "+ACK", { timeout: 5000 });
  s = await api(nc, "$JS.API.STREAM.INFO.WK");
  assert.equal(s.state.messages, 0);
  col.unsubscribe();
  await delStream("WK");
  await createStream(memStream("IN", ["in.>"], { retention: "interest" }));
  const ack = JSON.parse(td.decode((await nc.request("in.a", "nobody", { timeout: 5000 })).data));
  assert.equal(ack.seq, 1);
  s = await api(nc, "$JS.API.STREAM.INFO.IN");
  assert.equal(s.state.messages, 0, "no consumer: not kept");
  await api(nc, "$JS.API.CONSUMER.CREATE.IN.X", { stream_name: "IN", config: { durable_name: "X", ack_policy: "explicit" } });
  await api(nc, "$JS.API.CONSUMER.CREATE.IN.Y", { stream_name: "IN", config: { durable_name: "Y", ack_policy: "explicit" } });
  await publish("in.a", 1);
  const xcol = collector();
  const xi = xcol.subject;
  nc.publish("$JS.API.CONSUMER.MSG.NEXT.IN.X", "1", { reply: xi });
  const [xm] = await xcol.take(1);
  await nc.request(xm.reply, "+ACK", { timeout: 5000 });
  s = await api(nc, "$JS.API.STREAM.INFO.IN");
  assert.equal(s.state.messages, 1, "Y has not acked it");
  await api(nc, "$JS.API.CONSUMER.DELETE.IN.Y");
  s = await api(nc, "$JS.API.STREAM.INFO.IN");
  assert.equal(s.state.messages, 0, "no one else needs it once Y is gone");
  xcol.unsubscribe();
  await delStream("IN");
});

test("an ephemeral pull consumer without requests is deleted after its inactive_threshold (JS-29)", async () => {
  await createStream(memStream("IT", ["it.>"]));
  const r = await api(nc, "$JS.API.CONSUMER.CREATE.IT", { stream_name: "IT", config: { ack_policy: "none", inactive_threshold: 300e6 } });
  await waitFor(async () => (await consumerInfo("IT", r.name)).error?.err_code === 10014, 8000, "deletion");
  await delStream("IT");
});

test("replay original spaces deliveries as they were stored (lower bound only) (JS-28)", async () => {
  await createStream(memStream("RO", ["ro.>"]));
  await publish("ro.a", 1);
  await sleep(400);
  await publish("ro.a", 1);
  await api(nc, "$JS.API.CONSUMER.CREATE.RO.R", { stream_name: "RO", config: { durable_name: "R", ack_policy: "none", replay_policy: "original" } });
  const col = collector();
  const inbox = col.subject;
  nc.publish("$JS.API.CONSUMER.MSG.NEXT.RO.R", JSON.stringify({ batch: 2, expires: 5e9 }), { reply: inbox });
  const t0 = Date.now();
  const got = await col.take(2, 5000);
  assert.equal(ackInfo(got[1]).sseq, 2);
  assert.ok(Date.now() - t0 >= 300, "the second waits for the gap between the two");
  col.unsubscribe();
  await delStream("RO");
});
