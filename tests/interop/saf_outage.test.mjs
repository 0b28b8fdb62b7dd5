// The outage suite of issue 18 (docs/store-and-forward.md "Outages"): an
// edge (the broker under test, file storage) is a leaf of a 3-node
// nats-server 2.9.10 JetStream cluster; publishers at the edge publish at a
// steady rate, each waiting for its ack; the leaf link is cut through a TCP
// proxy the test owns for random lengths, FLAPS times, and the edge is
// killed with -9 and restarted on its store directory during one of the
// outages. After the last restore:
//   - an R3 cloud stream sourcing the edge's TELEMETRY stream (what
//     nats-server as the edge does as well: this part runs on both brokers)
//     holds exactly what the edge stream holds, once, in order;
//   - natsedge only: an R3 cloud stream fed by the edge's FWD stream
//     through `forward` holds every acknowledged publish once, in order,
//     and FWD is empty;
//   - natsedge keeps every acknowledged publish across the kill; nats-server
//     2.9.10 may lose the last ones it acknowledged before it (differences.md,
//     JetStream, "Acknowledged means synced"), and the cloud then holds
//     what the edge kept.
// make test runs 3 flaps of 1 to 3 s with seed 1; `make soak-saf` 10 flaps
// of 1 to 30 s with a new seed, printed: SAF_SEED=<seed> replays a run
// (SAF_FLAPS, SAF_MIN_OUTAGE_MS, SAF_MAX_OUTAGE_MS, SAF_KILL_FLAP set the rest).
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
  rng,
} from "./lib/saf.mjs";

const SEED = Number(process.env.SAF_SEED || 1);
const FLAPS = Number(process.env.SAF_FLAPS || 3);
const MIN_OUTAGE_MS = Number(process.env.SAF_MIN_OUTAGE_MS || 1000);
const MAX_OUTAGE_MS = Number(process.env.SAF_MAX_OUTAGE_MS || 3000);
const random = rng(SEED);
// The outage the kill falls in (0-based), fixed by the seed unless asked.
const KILL_FLAP = process.env.SAF_KILL_FLAP !== undefined ? Number(process.env.SAF_KILL_FLAP) : Math.floor(random() * FLAPS);
const PUBLISH_EVERY_MS = 20;
const natsedge = brokerKind() === "natsedge";
const td = new TextDecoder();
const where = `seed ${SEED} (SAF_SEED=${SEED} replays it), ${FLAPS} flaps, the kill in outage ${KILL_FLAP + 1}`;

after(async () => {
  await stopAll();
  removeStoreDirs();
});

// A publisher at the edge: one message every PUBLISH_EVERY_MS on
// `<prefix>.<n % 4>` with payload "<n>", each waiting for its ack. A publish
// that fails (the edge is killed under it) is `uncertain`: it may have been
// stored; the next one goes after the edge is back.
function publisher(prefix, getConn) {
  const p = { acked: [], uncertain: [], n: 0, stop: false, errors: 0 };
  p.done = (async () => {
    while (!p.stop) {
      const conn = getConn();
      if (!conn) {
        await sleep(50);
        continue;
      }
      const n = ++p.n;
      try {
        await jetstream(conn, { timeout: 3000 }).publish(`${prefix}.${n % 4}`, String(n));
        p.acked.push(n);
      } catch {
        p.uncertain.push(n);
        p.errors++;
        await sleep(100);
      }
      await sleep(PUBLISH_EVERY_MS);
    }
  })();
  return p;
}

// The counters of a stream's messages, in stream order.
const counters = (contents) => contents.map(([, , d]) => Number(d));

// `got` has each counter at most once, increasing; every acknowledged one
// unless `lost` allows it; nothing that was never published.
function assertSequence(got, p, what, lostOk = false, contents = null) {
  for (let i = 1; i < got.length; i++) {
    const around = contents ? ` around it: ${JSON.stringify(contents.slice(Math.max(0, i - 3), i + 3))}` : "";
    assert.ok(got[i] > got[i - 1], `${what}: ${got[i]} after ${got[i - 1]}${around} (${where})`);
  }
  const published = new Set([...p.acked, ...p.uncertain]);
  const stray = got.filter((n) => !published.has(n));
  assert.deepEqual(stray, [], `${what}: never published (${where})`);
  const have = new Set(got);
  const missing = p.acked.filter((n) => !have.has(n));
  if (!lostOk) assert.deepEqual(missing, [], `${what}: acknowledged publishes missing (${where})`);
  return missing;
}

describe(`store and forward through ${FLAPS} outages of the leaf link and a kill -9 of the edge (JS-26b, PR-07; ${where})`, () => {
  let cloud, edge, h, e, sd, hjsm;
  let edgeConn = null;
  let tele, fwd;
  const outages = [];

  test("set up: a 3-node cloud cluster, the edge on file storage, R3 cloud streams fed by the edge", { timeout: 120000 }, async (t) => {
    t.diagnostic(where);
    cloud = await startCloud({ nodes: 3 });
    sd = storeDir();
    edge = await startEdge(cloud.proxy.port, sd);
    h = await nc(cloud.nodes[2]); // not the node the edge is linked to
    e = await nc(edge);
    await waitRoute(h, e, "ready.down", 20000);
    await waitRoute(e, h, "ready.up", 20000);
    const ejsm = await jetstreamManager(e);
    await ejsm.streams.add({ name: "TELEMETRY", subjects: ["telemetry.>"], storage: "file" });
    if (natsedge) {
      await ejsm.streams.add({ name: "FWD", subjects: ["fwd.>"], storage: "file", forward: { prefix: "site1", window: 64 } });
    }
    hjsm = await jetstreamManager(h);
    const external = { api: "$JS.edge.API", deliver: "deliver.edge" };
    const r3 = async (cfg) => {
      // The meta leader may not know all three peers yet (10005).
      await waitFor(async () => {
        try {
          await hjsm.streams.add({ storage: "file", num_replicas: 3, ...cfg });
          return true;
        } catch (err) {
          if (err.code !== 10005) throw err;
          await sleep(200);
          return false;
        }
      }, 30000, `the R3 stream ${cfg.name} placed`);
    };
    await r3({ name: "CLOUD_S", sources: [{ name: "TELEMETRY", external }] });
    if (natsedge) await r3({ name: "CLOUD_F", subjects: ["site1.>"], duplicate_window: 300e9 });
    edgeConn = e;
  });

  test(`${FLAPS} outages of random length, the edge killed with -9 and restarted in one: the cloud ends with every message once, in order (the forwarded stream: natsedge-only, nats-server has no forwarder)`, { timeout: 120000 + FLAPS * (MAX_OUTAGE_MS + 20000) }, async (t) => {
    tele = publisher("telemetry", () => edgeConn);
    if (natsedge) fwd = publisher("fwd", () => edgeConn);
    for (let flap = 0; flap < FLAPS; flap++) {
      // Up for 1 to 3 s, then down for a random length.
      await sleep(1000 + Math.floor(random() * 2000));
      const outage = MIN_OUTAGE_MS + Math.floor(random() * (MAX_OUTAGE_MS - MIN_OUTAGE_MS));
      const killAt = flap === KILL_FLAP ? Math.floor(outage * (0.2 + 0.6 * random())) : -1;
      outages.push({ outage, killAt });
      cloud.link.cut();
      if (killAt >= 0) {
        await sleep(killAt);
        edgeConn = null;
        edge.signal("SIGKILL");
        await within(edge.exited, 10000, "the edge's exit");
        await e.close().catch(() => {});
        await edge.stop();
        edge = await startEdge(cloud.proxy.port, sd);
        e = await nc(edge);
        edgeConn = e;
        await sleep(Math.max(0, outage - killAt - 500));
      } else {
        await sleep(outage);
      }
      cloud.link.restore();
    }
    await sleep(1000);
    tele.stop = true;
    if (fwd) fwd.stop = true;
    await within(Promise.all([tele.done, fwd?.done]), 10000, "the publishers' stop");
    t.diagnostic(`outages ${JSON.stringify(outages)}; telemetry ${tele.acked.length} acked, ${tele.uncertain.length} uncertain` +
      (fwd ? `; forwarded ${fwd.acked.length} acked, ${fwd.uncertain.length} uncertain` : ""));
    await waitRoute(h, e, "ready.final", 30000);
    const ejsm = await jetstreamManager(e);

    // The sourcing cloud stream: what the edge stream holds, once, in order.
    const edgeTele = counters(await streamContents(e, "TELEMETRY"));
    const lost = assertSequence(edgeTele, tele, "the edge's TELEMETRY", !natsedge);
    if (lost.length > 0) t.diagnostic(`nats-server lost ${lost.length} acknowledged publishes in the kill: ${lost.join(",")}`);
    await waitFor(async () => (await streamState(hjsm, "CLOUD_S"))?.messages >= edgeTele.length, 60000, `CLOUD_S caught up (${where})`);
    await sleep(2000); // a duplicate would have arrived by now
    const cloudTele = counters(await streamContents(h, "CLOUD_S"));
    assert.deepEqual(cloudTele, edgeTele, `CLOUD_S is the edge's TELEMETRY (${where})`);

    if (natsedge) {
      // The forwarded stream: every acknowledged publish once, in order; the edge empty.
      await waitFor(async () => (await streamState(ejsm, "FWD"))?.messages === 0, 60000, `FWD emptied (${where})`);
      await sleep(2500); // beyond the ack wait: a publish made again would be stored by now
      const cloudFwd = await streamContents(h, "CLOUD_F", "Nats-Msg-Id");
      assertSequence(counters(cloudFwd), fwd, "CLOUD_F", false, cloudFwd);
      const ids = cloudFwd.map(([, , , id]) => id);
      assert.equal(new Set(ids).size, ids.length, `CLOUD_F's ids are unique (${where})`);
      const f = (await jszStream(edge, "FWD")).forward;
      assert.equal(f.backlog_msgs, 0);
      assert.equal(f.outstanding, 0);
    }
  });

  test("tear down", async () => {
    await Promise.all([h?.close(), e?.close()]);
    const code = await edge.stop();
    if (natsedge) assert.equal(code, 0);
    for (const n of cloud.nodes) await n.stop();
  });
});
