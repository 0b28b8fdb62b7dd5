// The link's position across a kill -9 of the edge (issue 18,
// docs/store-and-forward.md "Restarts"): an edge on file storage, a leaf of
// a nats-server 2.9.10 hub, with
//   - an edge mirror and an edge source of a cloud stream (JS-26b),
//   - an edge stream forwarded to a cloud stream (natsedge's `forward`),
// is killed with -9 while the mirror and the source catch up on a backlog
// and the forwarder drains one, then restarted on the same store directory:
// afterwards the edge's mirror and source and the cloud stream hold every
// message once, in order. The mirror resumes after its own last sequence,
// the source after the origin sequence of its newest Nats-Stream-Source
// header, the forwarder from the edge stream's first message (what the
// cloud acknowledged was removed, durably, before the kill).
//
// natsedge only: the forwarder is natsedge's, and nats-server 2.9.10 loses
// recently acknowledged writes when killed (differences.md, JetStream,
// "Acknowledged means synced"), so the same kill on it shows that, not the
// link's position.
import { test, after, describe } from "node:test";
import assert from "node:assert/strict";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { startServer, stopAll, sleep, waitFor, within, brokerKind, getJSON } from "./lib/harness.mjs";
import {
  startCloud,
  startEdge,
  storeDir,
  removeStoreDirs,
  nc,
  waitRoute,
  streamState,
  streamContents,
} from "./lib/saf.mjs";

const natsedgeOnly =
  brokerKind() === "natsedge"
    ? {}
    : { skip: "natsedge-only (the forward extension; nats-server 2.9.10 loses recent writes when killed, differences.md \"JetStream\")" };

after(async () => {
  await stopAll();
  removeStoreDirs();
});

const external = { api: "$JS.hub.API", deliver: "deliver.hub" };

// Publishes `n` messages in batches of concurrent publishes; returns
// [seq, subject, data] of each, in stream order.
async function publishMany(js, n, subjectOf, dataOf, from = 0) {
  const out = [];
  for (let i = 0; i < n; i += 50) {
    const batch = [];
    for (let k = i; k < Math.min(n, i + 50); k++) {
      const subj = subjectOf(from + k);
      const data = dataOf(from + k);
      batch.push(js.publish(subj, data).then((pa) => out.push([pa.seq, subj, data])));
    }
    await within(Promise.all(batch), 30000, "a batch of publishes");
  }
  return out.sort((a, b) => a[0] - b[0]);
}

describe("natsedge-only: kill -9 of the edge while its mirror, its source and its forwarder catch up (JS-26b)", () => {
  let cloud, edge, h, e, sd;
  const cmds = []; // the cloud stream's messages: [seq, subject, data]
  const fwd = []; // the forwarded edge stream's messages
  const NC = 2000; // the cloud stream's backlog: the mirror and the source catch up on it
  const N = 600; // the forwarder's
  const pad = "x".repeat(1500);
  const cmdSubj = (i) => `cmds.dev${i % 4}`;
  const cmdData = (i) => `c${i + 1}.${pad}`;
  const fwdSubj = (i) => `telemetry.t${i % 5}`;
  const fwdData = (i) => `f${i + 1}`;

  test("set up: a cloud stream mirrored and sourced by file streams of the edge, an edge file stream forwarded to the cloud", natsedgeOnly, async () => {
    cloud = await startCloud();
    sd = storeDir();
    edge = await startEdge(cloud.proxy.port, sd);
    h = await nc(cloud.hub);
    e = await nc(edge);
    await waitRoute(h, e, "ready.down");
    await waitRoute(e, h, "ready.up");
    const hjsm = await jetstreamManager(h);
    await hjsm.streams.add({ name: "CMDS", subjects: ["cmds.>"], storage: "file" });
    await hjsm.streams.add({ name: "CLOUD_F", subjects: ["site1.>"], storage: "file", duplicate_window: 120e9 });
    const ejsm = await jetstreamManager(e);
    await ejsm.streams.add({ name: "LOCAL_M", storage: "file", mirror: { name: "CMDS", external } });
    await ejsm.streams.add({ name: "LOCAL_S", storage: "file", sources: [{ name: "CMDS", external }] });
    // A window of 1: one message per round trip, so the kill finds a backlog.
    await ejsm.streams.add({ name: "FWD", subjects: ["telemetry.>"], storage: "file", forward: { prefix: "site1", window: 1 } });
    cmds.push(...(await publishMany(jetstream(h), 20, cmdSubj, cmdData)));
    fwd.push(...(await publishMany(jetstream(e), 20, fwdSubj, fwdData)));
    await waitFor(async () => (await streamState(ejsm, "LOCAL_M"))?.messages === 20, 15000, "the first messages mirrored");
    await waitFor(async () => (await streamState(ejsm, "LOCAL_S"))?.messages === 20, 15000, "the first messages sourced");
    await waitFor(async () => (await streamState(hjsm, "CLOUD_F"))?.messages === 20, 15000, "the first messages forwarded");
  });

  test("kill -9 mid-mirror and mid-forward, restart: every message once, in order, on both sides", { ...natsedgeOnly, timeout: 300000 }, async (t) => {
    const hjsm = await jetstreamManager(h);
    // A backlog on both sides of a cut link.
    cloud.link.cut();
    await waitFor(async () => {
      try {
        await within(e.request("$JS.hub.API.INFO", "", { timeout: 500 }), 1000, "hub info");
        return false;
      } catch {
        return true;
      }
    }, 10000, "the link down");
    cmds.push(...(await publishMany(jetstream(h), NC, cmdSubj, cmdData, 20)));
    fwd.push(...(await publishMany(jetstream(e), N, fwdSubj, fwdData, 20)));
    // The link returns, slowed (the mirror's 3 MB catch-up then takes
    // seconds, not less than one poll of /jsz); the edge is killed while the
    // mirror catches up, restarted on a link at full speed, and killed again
    // while the forwarder drains.
    cloud.proxy.throttle = { bytes: 64 * 1024, ms: 50 };
    cloud.link.restore();
    const kills = [];
    const killWhen = async (what, cond) => {
      // A bound, not a speed check: on a loaded machine the catch-up starts
      // late. The last state seen goes into the failure.
      let seen = null;
      await waitFor(async () => {
        const jsz = await getJSON(edge.ports.http, "/jsz?streams=true").catch(() => null);
        const detail = (jsz?.account_details ?? []).flatMap((a) => a.stream_detail ?? []);
        const m = detail.find((d) => d.name === "LOCAL_M");
        const f = detail.find((d) => d.name === "FWD");
        if (!m || !f) return false;
        const state = { what, mirrored: m.state.messages, backlog: f.state.messages };
        seen = { ...state, mirror: m.mirror ?? null };
        if (!cond(state)) return false;
        edge.signal("SIGKILL");
        kills.push(state);
        return true;
      }, 150000, what).catch((err) => {
        throw new Error(`${err.message}; last seen ${JSON.stringify(seen)}`);
      });
      await within(edge.exited, 10000, "the edge's exit");
      await e.close().catch(() => {});
      await edge.stop();
    };
    const restart = async () => {
      edge = await startEdge(cloud.proxy.port, sd);
      e = await nc(edge);
      await waitRoute(h, e, `ready.down.${kills.length}`);
    };
    await killWhen("mid-mirror", (st) => st.mirrored > 20 && st.mirrored < 20 + NC);
    cloud.proxy.throttle = null;
    // More in the cloud while the edge is away.
    cmds.push(...(await publishMany(jetstream(h), 50, cmdSubj, cmdData, 20 + NC)));
    await restart();
    await killWhen("mid-forward", (st) => st.backlog > 0 && st.backlog < N - 10);
    await restart();
    fwd.push(...(await publishMany(jetstream(e), 50, fwdSubj, fwdData, 20 + N)));
    const ejsm = await jetstreamManager(e);
    const total = 20 + NC + 50;
    const totalF = 20 + N + 50;
    const why = `killed at ${JSON.stringify(kills)}`;
    t.diagnostic(why);
    await waitFor(async () => (await streamState(ejsm, "LOCAL_M"))?.messages >= total, 60000, `the mirror caught up (${why})`);
    await waitFor(async () => (await streamState(ejsm, "LOCAL_S"))?.messages >= total, 60000, `the source caught up (${why})`);
    await waitFor(async () => (await streamState(hjsm, "CLOUD_F"))?.messages >= totalF, 60000, `the forwarder drained (${why})`);
    await waitFor(async () => (await streamState(ejsm, "FWD"))?.messages === 0, 15000, `the edge stream emptied (${why})`);
    await sleep(3000); // beyond the forwarder's ack wait: a message sent again would be stored by now
    const mirrored = await streamContents(e, "LOCAL_M");
    assert.deepEqual(mirrored.map(([seq, s, d]) => [seq, s, d]), cmds, `the mirror (${why})`);
    const sourced = await streamContents(e, "LOCAL_S", "Nats-Stream-Source");
    assert.deepEqual(sourced.map(([, s, d]) => [s, d]), cmds.map(([, s, d]) => [s, d]), `the source (${why})`);
    assert.deepEqual(sourced.map(([, , , src]) => src), cmds.map(([seq]) => `CMDS ${seq}`), `the source's headers (${why})`);
    const forwarded = await streamContents(h, "CLOUD_F", "Nats-Msg-Id");
    assert.deepEqual(
      forwarded.map(([, s, d, id]) => [s, d, id]),
      fwd.map(([seq, s, d]) => [`site1.${s}`, d, `edge:FWD:${seq}`]),
      `the cloud stream (${why})`,
    );
    // The edge's sequence went on after the restart (the ids stay unique).
    assert.equal((await streamState(ejsm, "FWD")).last_seq, totalF);
  });

  test("tear down", natsedgeOnly, async () => {
    await Promise.all([h?.close(), e?.close()]);
    assert.equal(await edge.stop(), 0);
    for (const n of cloud.nodes) await n.stop();
  });
});

describe("natsedge-only: a forwarded file stream on a server without server_name", () => {
  test("is warned about: its ids would change at a restart", natsedgeOnly, async () => {
    const sd = storeDir();
    const edge = await startServer({ config: `jetstream { store_dir: "${sd}" }\n` });
    const e = await nc(edge);
    const jsm = await jetstreamManager(e);
    await jsm.streams.add({ name: "FWDN", subjects: ["n.>"], storage: "file", forward: { prefix: "site1" } });
    await waitFor(() => /JetStream stream "FWDN": forwarded without a server_name: .*set server_name/.test(edge.logs()), 5000, "the warning");
    await e.close();
    assert.equal(await edge.stop(), 0);
  });
});
