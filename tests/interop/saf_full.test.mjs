// The edge's store fills during an outage of the leaf link (issue 18,
// docs/store-and-forward.md "When the edge fills up"): the broker under test
// as the edge, on file storage, a leaf of a nats-server 2.9.10 hub, streams
// limited to 50 messages (the room the edge gives them):
//   - discard new: once full, a publisher gets nats-server's error for a
//     full stream (503, 10077 "maximum messages exceeded") and nothing is
//     stored; discard old: the oldest messages go and the publisher's
//     publishes are all acknowledged (both brokers, with a cloud stream
//     sourcing the edge's: after the link returns it holds what the edge
//     kept, and the Nats-Stream-Source sequences show the gap);
//   - natsedge only, the forward extension: the backlog advisory fires once
//     as the backlog passes backlog_advisory percent of the limit, /jsz's
//     forward object counts the refused publishes (discard new) and the
//     messages the limit removed before they were forwarded (skipped,
//     discard old), and after the link returns the cloud stream holds every
//     message the edge kept, once, in order.
import { test, after, describe } from "node:test";
import assert from "node:assert/strict";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { stopAll, sleep, waitFor, within, brokerKind } from "./lib/harness.mjs";
import {
  startCloud,
  startEdge,
  storeDir,
  removeStoreDirs,
  nc,
  waitRoute,
  streamState,
  streamContents,
  jszStream,
} from "./lib/saf.mjs";

const natsedge = brokerKind() === "natsedge";
const forwardOnly = natsedge ? {} : { skip: "natsedge-only (the forward extension, differences.md \"JetStream\")" };
const td = new TextDecoder();
const LIMIT = 50;
const BEFORE = 10; // forwarded or sourced before the outage
const DURING = 80; // published during it

after(async () => {
  await stopAll();
  removeStoreDirs();
});

// Publishes `${prefix}.<i % 3>` with payload `${i}` for i in [from, to),
// one at a time; returns { acked: [i...], refused: [[i, code, status, description]...] }.
async function publishRange(js, prefix, from, to) {
  const acked = [];
  const refused = [];
  for (let i = from; i < to; i++) {
    try {
      await js.publish(`${prefix}.${i % 3}`, String(i));
      acked.push(i);
    } catch (err) {
      const api = err.api_error ?? err.apiError?.() ?? {};
      refused.push([i, api.err_code ?? err.code, api.code, api.description ?? err.message]);
    }
  }
  return { acked, refused };
}

async function linkDown(conn) {
  await waitFor(async () => {
    try {
      await within(conn.request("$JS.hub.API.INFO", "", { timeout: 500 }), 1000, "hub info");
      return false;
    } catch {
      return true;
    }
  }, 10000, "the link down");
}

describe("the edge's streams fill up during an outage: discard new refuses, discard old drops the oldest (both brokers)", () => {
  let cloud, edge, h, e, hjsm, ejsm;
  const external = { api: "$JS.edge.API", deliver: "deliver.edge" };
  const results = {};
  test("set up: edge streams of 50 messages (discard new, discard old), cloud streams sourcing them", async () => {
    cloud = await startCloud();
    edge = await startEdge(cloud.proxy.port, storeDir());
    h = await nc(cloud.hub);
    e = await nc(edge);
    await waitRoute(h, e, "ready.down");
    await waitRoute(e, h, "ready.up");
    ejsm = await jetstreamManager(e);
    await ejsm.streams.add({ name: "TELE_NEW", subjects: ["tnew.>"], storage: "file", max_msgs: LIMIT, discard: "new" });
    await ejsm.streams.add({ name: "TELE_OLD", subjects: ["told.>"], storage: "file", max_msgs: LIMIT, discard: "old" });
    hjsm = await jetstreamManager(h);
    await hjsm.streams.add({ name: "CLOUD_NEW", storage: "file", sources: [{ name: "TELE_NEW", external }] });
    await hjsm.streams.add({ name: "CLOUD_OLD", storage: "file", sources: [{ name: "TELE_OLD", external }] });
    const js = jetstream(e);
    await publishRange(js, "tnew", 0, BEFORE);
    await publishRange(js, "told", 0, BEFORE);
    await waitFor(async () => (await streamState(hjsm, "CLOUD_NEW"))?.messages === BEFORE, 15000, "CLOUD_NEW sourced");
    await waitFor(async () => (await streamState(hjsm, "CLOUD_OLD"))?.messages === BEFORE, 15000, "CLOUD_OLD sourced");
  });

  test("during the outage: discard new answers 503 10077 'maximum messages exceeded' once full; discard old keeps the newest 50", async () => {
    cloud.link.cut();
    await linkDown(e);
    const js = jetstream(e);
    results.new = await publishRange(js, "tnew", BEFORE, BEFORE + DURING);
    results.old = await publishRange(js, "told", BEFORE, BEFORE + DURING);
    assert.equal(results.new.acked.length, LIMIT - BEFORE);
    assert.deepEqual(results.new.refused.map(([i]) => i), Array.from({ length: BEFORE + DURING - LIMIT }, (_, k) => LIMIT + k));
    for (const [, code, status, description] of results.new.refused) {
      assert.deepEqual([code, status, description], [10077, 503, "maximum messages exceeded"]);
    }
    assert.equal(results.old.acked.length, DURING);
    assert.deepEqual(results.old.refused, []);
    const stNew = await streamState(ejsm, "TELE_NEW");
    assert.deepEqual([stNew.messages, stNew.first_seq, stNew.last_seq], [LIMIT, 1, LIMIT]);
    const stOld = await streamState(ejsm, "TELE_OLD");
    // The loss is visible in the stream's state: its first sequence moved on.
    assert.deepEqual([stOld.messages, stOld.first_seq, stOld.last_seq], [LIMIT, BEFORE + DURING - LIMIT + 1, BEFORE + DURING]);
  });

  test("after the link returns the cloud streams hold what the edge kept, once, in order (the dropped ones a gap in Nats-Stream-Source)", async () => {
    cloud.link.restore();
    await waitFor(async () => (await streamState(hjsm, "CLOUD_NEW"))?.messages >= LIMIT, 30000, "CLOUD_NEW caught up");
    const keptOld = BEFORE + LIMIT;
    await waitFor(async () => (await streamState(hjsm, "CLOUD_OLD"))?.messages >= keptOld, 30000, "CLOUD_OLD caught up");
    await sleep(1500);
    const cNew = await streamContents(h, "CLOUD_NEW");
    assert.deepEqual(cNew.map(([, , d]) => Number(d)), Array.from({ length: LIMIT }, (_, i) => i));
    const cOld = await streamContents(h, "CLOUD_OLD", "Nats-Stream-Source");
    const want = [...Array.from({ length: BEFORE }, (_, i) => i), ...Array.from({ length: LIMIT }, (_, i) => BEFORE + DURING - LIMIT + i)];
    assert.deepEqual(cOld.map(([, , d]) => Number(d)), want);
    // The origin sequences jump over what the edge dropped.
    const sseqs = cOld.map(([, , , src]) => Number(src.split(" ").pop()));
    assert.deepEqual(sseqs, want.map((i) => i + 1));
  });

  test("tear down", async () => {
    await Promise.all([h?.close(), e?.close()]);
    const code = await edge.stop();
    if (natsedge) assert.equal(code, 0);
    for (const n of cloud.nodes) await n.stop();
  });
});

describe("natsedge-only (the forward extension): forwarded streams fill up during an outage: the backlog advisory, refused and skipped counted", () => {
  let cloud, edge, h, e, hjsm, ejsm;
  const advisories = [];
  test("set up: forwarded edge streams of 50 messages (discard new, discard old) with backlog_advisory 80", forwardOnly, async () => {
    cloud = await startCloud();
    edge = await startEdge(cloud.proxy.port, storeDir());
    h = await nc(cloud.hub);
    e = await nc(edge);
    await waitRoute(h, e, "ready.down");
    await waitRoute(e, h, "ready.up");
    hjsm = await jetstreamManager(h);
    await hjsm.streams.add({ name: "CLOUD_F", subjects: ["site1.>"], storage: "file", duplicate_window: 120e9 });
    ejsm = await jetstreamManager(e);
    const forward = { prefix: "site1", window: 16, backlog_advisory: 80 };
    const si = await ejsm.streams.add({ name: "FWD_NEW", subjects: ["fnew.>"], storage: "file", max_msgs: LIMIT, discard: "new", forward });
    assert.deepEqual(si.config.forward, forward);
    await ejsm.streams.add({ name: "FWD_OLD", subjects: ["fold.>"], storage: "file", max_msgs: LIMIT, discard: "old", forward });
    const sub = e.subscribe("$JS.EVENT.ADVISORY.STREAM.FORWARD_BACKLOG.>");
    (async () => {
      for await (const m of sub) advisories.push([m.subject, JSON.parse(td.decode(m.data))]);
    })();
    await within(e.flush(), 5000, "flush");
    const js = jetstream(e);
    await publishRange(js, "fnew", 0, BEFORE);
    await publishRange(js, "fold", 0, BEFORE);
    await waitFor(async () => (await streamState(hjsm, "CLOUD_F"))?.messages === 2 * BEFORE, 15000, "forwarded");
    await waitFor(async () => (await streamState(ejsm, "FWD_NEW"))?.messages === 0, 5000, "FWD_NEW emptied");
    await waitFor(async () => (await streamState(ejsm, "FWD_OLD"))?.messages === 0, 5000, "FWD_OLD emptied");
    assert.deepEqual(advisories, []);
  });

  test("during the outage: the advisory fires once per stream; discard new refuses with 10077, counted; discard old drops the oldest, counted as skipped", forwardOnly, async () => {
    cloud.link.cut();
    await linkDown(e);
    const js = jetstream(e);
    const rNew = await publishRange(js, "fnew", BEFORE, BEFORE + DURING);
    const rOld = await publishRange(js, "fold", BEFORE, BEFORE + DURING);
    assert.equal(rNew.acked.length, LIMIT);
    assert.equal(rNew.refused.length, DURING - LIMIT);
    for (const [, code, status, description] of rNew.refused) {
      assert.deepEqual([code, status, description], [10077, 503, "maximum messages exceeded"]);
    }
    assert.equal(rOld.acked.length, DURING);
    await waitFor(() => advisories.length >= 2, 5000, "the backlog advisories");
    await sleep(2500); // beyond the ack wait: the window is published again into the void
    const byStream = Object.fromEntries(advisories.map(([s, a]) => [a.stream, [s, a]]));
    assert.equal(advisories.length, 2, JSON.stringify(advisories));
    for (const name of ["FWD_NEW", "FWD_OLD"]) {
      const [subject, a] = byStream[name];
      assert.equal(subject, `$JS.EVENT.ADVISORY.STREAM.FORWARD_BACKLOG.${name}`);
      assert.equal(a.type, "io.natsedge.jetstream.advisory.v1.stream_forward_backlog");
      assert.equal(a.threshold_percent, 80);
      // Sent when the stream reached 40 messages (80 % of 50), or soon after.
      assert.ok(a.backlog_percent >= 80 && a.backlog_msgs >= 40 && a.backlog_msgs <= LIMIT, JSON.stringify(a));
      assert.equal(a.max_msgs, LIMIT);
      assert.equal(a.domain, "edge");
    }
    const fNew = (await jszStream(edge, "FWD_NEW")).forward;
    assert.deepEqual([fNew.refused, fNew.skipped, fNew.advisories, fNew.backlog_msgs], [DURING - LIMIT, 0, 1, LIMIT]);
    const fOld = (await jszStream(edge, "FWD_OLD")).forward;
    assert.deepEqual([fOld.refused, fOld.advisories, fOld.backlog_msgs], [0, 1, LIMIT]);
    // The messages the limit removed are counted once the forwarder
    // reaches them (at the latest when it publishes its window again).
    assert.equal(fOld.skipped, DURING - LIMIT, JSON.stringify(fOld));
  });

  test("after the link returns the cloud holds every message the edge kept, once, in order; the advisory is armed again", forwardOnly, async () => {
    cloud.link.restore();
    const total = 2 * BEFORE + LIMIT + LIMIT;
    await waitFor(async () => (await streamState(hjsm, "CLOUD_F"))?.messages >= total, 30000, "the backlogs drained");
    await waitFor(async () => (await streamState(ejsm, "FWD_NEW"))?.messages === 0, 10000, "FWD_NEW emptied");
    await waitFor(async () => (await streamState(ejsm, "FWD_OLD"))?.messages === 0, 10000, "FWD_OLD emptied");
    await sleep(2500); // a publish made again would be stored by now
    const cloudMsgs = await streamContents(h, "CLOUD_F");
    const of = (p) => cloudMsgs.filter(([, s]) => s.startsWith(`site1.${p}.`)).map(([, , d]) => Number(d));
    assert.deepEqual(of("fnew"), Array.from({ length: BEFORE + LIMIT }, (_, i) => i));
    assert.deepEqual(of("fold"), [
      ...Array.from({ length: BEFORE }, (_, i) => i),
      ...Array.from({ length: LIMIT }, (_, i) => BEFORE + DURING - LIMIT + i),
    ]);
    assert.equal(cloudMsgs.length, total);
    // Below the threshold again: the next rise sends another advisory.
    cloud.link.cut();
    await linkDown(e);
    await publishRange(jetstream(e), "fnew", 1000, 1000 + 45);
    await waitFor(() => advisories.length === 3, 5000, "a second advisory");
    assert.equal(advisories[2][1].stream, "FWD_NEW");
    cloud.link.restore();
  });

  test("tear down", forwardOnly, async () => {
    await Promise.all([h?.close(), e?.close()]);
    assert.equal(await edge.stop(), 0);
    for (const n of cloud.nodes) await n.stop();
  });
});

describe("natsedge-only (the forward extension): the edge's storage fills up during an outage: refusals counted", () => {
  let cloud, edge, h, e, hjsm, ejsm;
  test("a forwarded stream without limits on an edge with max_file_store 256K: 503 10023 once the store is full, each refusal counted; the cloud gets what the edge kept", forwardOnly, async () => {
    cloud = await startCloud();
    edge = await startEdge(cloud.proxy.port, storeDir(), "", "max_file_store: 256K");
    h = await nc(cloud.hub);
    e = await nc(edge);
    await waitRoute(h, e, "ready.down");
    await waitRoute(e, h, "ready.up");
    hjsm = await jetstreamManager(h);
    await hjsm.streams.add({ name: "CLOUD_F", subjects: ["site1.>"], storage: "file", duplicate_window: 120e9 });
    ejsm = await jetstreamManager(e);
    await ejsm.streams.add({ name: "FWD_DEV", subjects: ["fdev.>"], storage: "file", forward: { prefix: "site1" } });
    cloud.link.cut();
    await linkDown(e);
    const js = jetstream(e);
    const pad = "x".repeat(1000);
    const acked = [];
    const refused = [];
    for (let i = 0; i < 400 && refused.length < 5; i++) {
      try {
        await js.publish(`fdev.${i % 3}`, `${i}.${pad}`);
        acked.push(i);
      } catch (err) {
        const api = err.api_error ?? err.apiError?.() ?? {};
        refused.push([api.err_code ?? err.code, api.code, api.description ?? err.message]);
      }
    }
    assert.ok(acked.length > 100, `${acked.length} stored before the store was full`);
    assert.equal(refused.length, 5);
    for (const r of refused) assert.deepEqual(r, [10023, 503, "insufficient resources"]);
    const f = (await jszStream(edge, "FWD_DEV")).forward;
    assert.equal(f.refused, 5);
    assert.equal(f.backlog_msgs, acked.length);
    cloud.link.restore();
    await waitFor(async () => (await streamState(hjsm, "CLOUD_F"))?.messages >= acked.length, 60000, "the backlog drained");
    await waitFor(async () => (await streamState(ejsm, "FWD_DEV"))?.messages === 0, 15000, "the edge emptied");
    const got = (await streamContents(h, "CLOUD_F")).map(([, , d]) => Number(d.split(".")[0]));
    assert.deepEqual(got, acked);
    // Room again: the next publish is taken.
    await js.publish("fdev.0", "after");
  });

  test("tear down", forwardOnly, async () => {
    await Promise.all([h?.close(), e?.close()]);
    assert.equal(await edge.stop(), 0);
    for (const n of cloud.nodes) await n.stop();
  });
});
