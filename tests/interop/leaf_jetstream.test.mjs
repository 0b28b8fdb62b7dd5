// JetStream across the leaf link (docs/store-and-forward.md): the broker
// under test (NATSEDGE_BIN: natsedge, or nats-server in the parity pass) as
// an edge with `jetstream { domain: edge }`, a leaf of Debian's nats-server
// 2.9.10 with `jetstream { domain: hub }`. IDs refer to sections 2.8 and 4
// of the NATS inventory (LN-33..LN-36, JS-26b, PR-07).
//
//   - domains: a cloud client reaches the edge's JetStream through the hub
//     as `jetstream(nc, { domain: "edge" })`, an edge client the hub's as
//     `{ domain: "hub" }` (LN-34, LN-36);
//   - the deny rules of a link that does not extend JetStream (LN-33,
//     LN-35): `$JS.API.>`, `$KV.>` and `$OBJ.>` never cross in either
//     direction, `$JS.edge.API.>` never leaves the edge, and the broker logs
//     them as nats-server does;
//   - a cloud stream sourcing (and one mirroring) an edge stream through
//     `external { api: "$JS.edge.API" }`: the edge serves the consumer the
//     hub creates, and after the link drops and returns the cloud stream
//     has every message once, in order (JS-26b, PR-07); the same with an
//     R3 stream of a 3-node nats-server JetStream cluster as the cloud;
//   - edge streams mirroring and sourcing a cloud stream through
//     `$JS.hub.API` across a cut of the link, readable while it is down.
//
// "Nothing else arrives" is shown by a barrier: a message sent behind the
// ones that must not arrive, on the same path, arrives (links are FIFO).
import { test, after, describe } from "node:test";
import assert from "node:assert/strict";
import { createInbox } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { startServer, stopAll, sleep, waitFor, within, brokerKind, getJSON } from "./lib/harness.mjs";
import { memStream } from "./lib/js.mjs";
import { HUB_BIN, nc, removeStoreDirs, startCloud, startEdge as startEdgeOn, storeDir, waitRoute } from "./lib/saf.mjs";

const MS = 5000;
const td = new TextDecoder();

after(async () => {
  await stopAll();
  removeStoreDirs();
});

const jsBlock = (domain) => `jetstream { store_dir: "${storeDir()}", domain: ${domain} }\n`;

// A nats-server hub with JetStream in domain `hub` and a leafnode port.
const startHub = () =>
  startServer({
    bin: HUB_BIN,
    ports: ["leaf", "http"],
    args: (p) => ["-m", String(p.http)],
    config: (p) => `server_name: hub\n${jsBlock("hub")}leafnodes { listen: 127.0.0.1:${p.leaf} }\n`,
  });

// The broker under test as the edge: domain `edge`, a leaf of `leafPort`.
const startEdge = (leafPort) => startEdgeOn(leafPort, storeDir());

const close = (...conns) => within(Promise.all(conns.map((c) => c?.close())), MS, "the clients' close");

let barrierSeq = 0;
const barrier = (from, to) => waitRoute(from, to, `barrier.${process.pid}.${++barrierSeq}`);

function collect(conn, subject) {
  const sub = conn.subscribe(subject);
  const msgs = [];
  (async () => {
    for await (const m of sub) msgs.push(m);
  })();
  return { sub, msgs };
}

// Every answer to one request on `subject`, until `from`'s barrier toward
// itself has passed twice (answers from across the link have had the time
// of a round trip over it).
async function allAnswers(conn, subject, body = "") {
  const inbox = createInbox();
  const got = collect(conn, inbox);
  await within(conn.flush(), MS, "flush");
  conn.publish(subject, body, { reply: inbox });
  await waitFor(() => got.msgs.length > 0, MS, `an answer on ${subject}`).catch(() => {});
  await sleep(300);
  got.sub.unsubscribe();
  return got.msgs.map((m) => JSON.parse(td.decode(m.data)));
}

describe("JetStream domains over the leaf link (LN-33..LN-36)", () => {
  let hub, edge, h, e;
  test("set up: the edge (domain edge) is a leaf of the hub (domain hub)", async () => {
    hub = await startHub();
    edge = await startEdge(hub.ports.leaf);
    h = await nc(hub);
    e = await nc(edge);
    await waitRoute(h, e, "ready.down");
    await waitRoute(e, h, "ready.up");
  });

  test("LN-34: a cloud client manages and uses the edge's JetStream as { domain: 'edge' }", async () => {
    const jsm = await jetstreamManager(h, { domain: "edge" });
    const info = await jsm.getAccountInfo();
    assert.equal(info.domain, "edge");
    await jsm.streams.add(memStream("EDGE_T", ["edge.t.>"]));
    // The stream is at the edge, not at the hub.
    const local = await jetstreamManager(e);
    assert.equal((await local.streams.info("EDGE_T")).config.name, "EDGE_T");
    const hubJsm = await jetstreamManager(h);
    await assert.rejects(hubJsm.streams.info("EDGE_T"), /stream not found/);
    // Published at the edge, read from the cloud through a consumer of the edge.
    const ejs = jetstream(e);
    for (let i = 1; i <= 5; i++) await ejs.publish(`edge.t.${i}`, `m${i}`);
    await jsm.consumers.add("EDGE_T", { durable_name: "CLOUD", ack_policy: "explicit" });
    const js = jetstream(h, { domain: "edge" });
    const c = await js.consumers.get("EDGE_T", "CLOUD");
    const iter = await c.fetch({ max_messages: 5, expires: 3000 });
    const seen = [];
    for await (const m of iter) {
      // The stored subject crosses with the delivery (after the ack reply).
      seen.push(`${m.subject}=${td.decode(m.data)}`);
      await m.ackAck();
    }
    assert.deepEqual(seen, [1, 2, 3, 4, 5].map((i) => `edge.t.${i}=m${i}`));
    const ci = await jsm.consumers.info("EDGE_T", "CLOUD");
    assert.equal(ci.ack_floor.stream_seq, 5);
    // A cloud publisher's message on the stream's subject is stored at the edge.
    const pa = await js.publish("edge.t.from-cloud", "c");
    assert.equal(pa.stream, "EDGE_T");
    assert.equal(pa.domain, "edge");
    assert.equal(pa.seq, 6);
  });

  test("LN-36: an edge client reaches the hub's JetStream as { domain: 'hub' }", async () => {
    const jsm = await jetstreamManager(e, { domain: "hub" });
    assert.equal((await jsm.getAccountInfo()).domain, "hub");
    await jsm.streams.add(memStream("HUB_T", ["hub.t.>"]));
    const js = jetstream(e, { domain: "hub" });
    const pa = await js.publish("hub.t.1", "x");
    assert.equal(pa.stream, "HUB_T");
    assert.equal(pa.domain, "hub");
    const hubJsm = await jetstreamManager(h);
    assert.equal((await hubJsm.streams.info("HUB_T")).state.messages, 1);
    const localJsm = await jetstreamManager(e);
    await assert.rejects(localJsm.streams.info("HUB_T"), /stream not found/);
    // Read from the edge through a consumer of the hub's stream.
    await jsm.consumers.add("HUB_T", { durable_name: "EDGE", ack_policy: "explicit" });
    const c = await js.consumers.get("HUB_T", "EDGE");
    const m = await c.next({ expires: 3000 });
    assert.equal(m?.subject, "hub.t.1");
    assert.equal(td.decode(m.data), "x");
    assert.equal(await m.ackAck(), true);
    assert.equal((await jsm.consumers.info("HUB_T", "EDGE")).ack_floor.stream_seq, 1);
  });

  test("LN-34: KV through the domain: a cloud client's bucket at the edge, put and read as { domain: 'edge' }", async () => {
    const kvm = new Kvm(jetstream(h, { domain: "edge" }));
    const kv = await kvm.create("edgecfg", { storage: "memory", history: 2 });
    // The put goes as $JS.edge.API.$KV.edgecfg.mode and is stored at the edge.
    const rev = await kv.put("mode", "eco");
    assert.equal(rev, 1);
    assert.equal(await kv.put("mode", "full"), 2);
    assert.equal((await kv.get("mode"))?.string(), "full");
    const local = await new Kvm(e).open("edgecfg");
    assert.equal((await local.get("mode"))?.string(), "full");
    // Nothing of it at the hub.
    await assert.rejects((await jetstreamManager(h)).streams.info("KV_edgecfg"), /stream not found/);
  });

  test("LN-33: $JS.API requests stay on their side: each side's client gets one answer, its own domain's", async () => {
    const fromEdge = await allAnswers(e, "$JS.API.INFO");
    assert.deepEqual(fromEdge.map((a) => a.domain), ["edge"]);
    const fromHub = await allAnswers(h, "$JS.API.INFO");
    assert.deepEqual(fromHub.map((a) => a.domain), ["hub"]);
  });

  test("LN-33: $JS.API.>, $KV.> and $OBJ.> messages cross in neither direction", async () => {
    const subjects = ["$JS.API.X.Y", "$KV.bucket.key", "$OBJ.bucket.chunk"];
    const atHub = collect(h, "$JS.API.X.>");
    const atHub2 = collect(h, "$KV.>");
    const atHub3 = collect(h, "$OBJ.>");
    const atEdge = collect(e, "$JS.API.X.>");
    const atEdge2 = collect(e, "$KV.>");
    const atEdge3 = collect(e, "$OBJ.>");
    await within(Promise.all([h.flush(), e.flush()]), MS, "flush");
    // The other side has had the time to learn the interest.
    await barrier(h, e);
    await barrier(e, h);
    for (const s of subjects) {
      e.publish(s, "from-edge");
      h.publish(s, "from-hub");
    }
    await barrier(e, h);
    await barrier(h, e);
    const from = (c) => c.msgs.map((m) => td.decode(m.data));
    assert.deepEqual([...from(atHub), ...from(atHub2), ...from(atHub3)].sort(), ["from-hub", "from-hub", "from-hub"]);
    assert.deepEqual([...from(atEdge), ...from(atEdge2), ...from(atEdge3)].sort(), ["from-edge", "from-edge", "from-edge"]);
    for (const c of [atHub, atHub2, atHub3, atEdge, atEdge2, atEdge3]) c.sub.unsubscribe();
  });

  test("LN-35: messages on the edge's own $JS.edge.API.> never leave it", async () => {
    const atHub = collect(h, "$JS.edge.API.NOTHING.>");
    await within(h.flush(), MS, "flush");
    await barrier(h, e);
    e.publish("$JS.edge.API.NOTHING.here", "x");
    await barrier(e, h);
    assert.equal(atHub.msgs.length, 0);
    atHub.sub.unsubscribe();
  });

  test("LN-33, LN-35: the edge logs the deny rules as nats-server does", async () => {
    const logs = edge.logs();
    assert.match(logs, /JetStream Not Extended, adding deny \[\$JS\.API\.> \$KV\.> \$OBJ\.>\] for account "\$G"/);
    assert.match(logs, /Adding JetStream Domain Mapping "\$JS\.edge\.API\.STREAM\.>" -> \$JS\.API\.STREAM\.> to account "\$G"/);
    assert.match(logs, /Adding deny "\$JS\.edge\.API\.>" for outgoing messages to account "\$G"/);
  });

  test("tear down", async () => {
    await close(h, e);
    // natsedge exits cleanly (under ASan: nothing reported at shutdown
    // either); nats-server's exit code on SIGTERM is not asserted here.
    const code = await edge.stop();
    if (brokerKind() === "natsedge") assert.equal(code, 0);
    await hub.stop();
  });
});

// A hub whose leaf port is reached through a TCP proxy in the test: the hub
// advertises the proxy (otherwise its INFO's leafnode_urls would let the
// edge reconnect around it, PR-06), so closing the proxy's connections and
// refusing new ones cuts the link until the test restores it.
const startHubBehindProxy = () => startCloud();

// Every message of a stream, in order: [seq, subject, data, header].
async function streamContents(jsm, name, header) {
  const info = await jsm.streams.info(name);
  const out = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(name, { seq });
    out.push([m.seq, m.subject, td.decode(m.data), header ? m.header?.get(header) ?? "" : ""]);
  }
  return out;
}

describe("a cloud stream sourcing and mirroring an edge stream through the leaf (JS-26b, PR-07)", () => {
  let hub, link, edge, h, e, hjsm;
  const N = 40;
  const expected = (n) => Array.from({ length: n }, (_, i) => [`telemetry.s${i % 3}`, `v${i + 1}`]);
  test("set up: the edge stream, and the cloud streams that source and mirror it through $JS.edge.API", async () => {
    let proxy;
    ({ hub, proxy, link } = await startHubBehindProxy());
    edge = await startEdge(proxy.port);
    h = await nc(hub);
    e = await nc(edge);
    await waitRoute(h, e, "ready.down", 15000);
    await waitRoute(e, h, "ready.up", 15000);
    const ejsm = await jetstreamManager(e);
    await ejsm.streams.add(memStream("TELEMETRY", ["telemetry.>"]));
    const ejs = jetstream(e);
    for (const [subj, data] of expected(N / 2)) await ejs.publish(subj, data);
    hjsm = await jetstreamManager(h);
    const external = { api: "$JS.edge.API", deliver: "deliver.edge" };
    await hjsm.streams.add(memStream("CLOUD", [], { subjects: undefined, sources: [{ name: "TELEMETRY", external }] }));
    await hjsm.streams.add(memStream("CLOUD_M", [], { subjects: undefined, mirror: { name: "TELEMETRY", external } }));
    await waitFor(async () => (await hjsm.streams.info("CLOUD")).state.messages === N / 2, 15000, "the first half sourced");
    await waitFor(async () => (await hjsm.streams.info("CLOUD_M")).state.messages === N / 2, 15000, "the first half mirrored");
  });

  test("PR-07: what the edge stored while the link was down arrives once, in order, after it returns", async () => {
    link.cut();
    await waitFor(async () => {
      try {
        await within(h.request("$JS.edge.API.INFO", "", { timeout: 500 }), 1000, "edge info");
        return false;
      } catch {
        return true;
      }
    }, 10000, "the link down");
    const ejs = jetstream(e);
    for (const [subj, data] of expected(N).slice(N / 2)) await ejs.publish(subj, data);
    // Longer than the sourcing consumers' heartbeats (1 s): the hub gives
    // them up and creates new ones from its last sequence once it can.
    await sleep(5000);
    link.restore();
    await waitFor(async () => (await hjsm.streams.info("CLOUD")).state.messages >= N, 30000, "the second half sourced");
    await waitFor(async () => (await hjsm.streams.info("CLOUD_M")).state.messages >= N, 30000, "the second half mirrored");
    await sleep(1000); // a duplicate would have arrived by now
    const want = expected(N);
    const sourced = await streamContents(hjsm, "CLOUD", "Nats-Stream-Source");
    assert.deepEqual(sourced.map(([, s, d]) => [s, d]), want);
    assert.deepEqual(sourced.map(([seq]) => seq), want.map((_, i) => i + 1));
    assert.ok(sourced.every(([, , , src]) => /^TELEMETRY:/.test(src)), `Nats-Stream-Source ${sourced[0][3]}`);
    const mirrored = await streamContents(hjsm, "CLOUD_M");
    assert.deepEqual(mirrored.map(([seq, s, d]) => [seq, s, d]), want.map(([s, d], i) => [i + 1, s, d]));
    // The consumers given up during the outage are gone: at most one per
    // cloud stream is left (nats-server lists none of them: they are
    // `direct`; natsedge lists them, differences.md "JetStream").
    const listed = [];
    for await (const c of (await jetstreamManager(e)).consumers.list("TELEMETRY")) listed.push(c);
    assert.ok(listed.length <= 2, `${listed.length} consumers left on the edge stream`);
    for (const c of listed) {
      assert.equal(c.config.flow_control, true);
      assert.equal(c.config.ack_policy, "none");
      assert.match(c.config.deliver_subject, /^deliver\.edge\./);
      assert.equal(c.delivered.stream_seq, N);
    }
  });

  test("tear down", async () => {
    await close(h, e);
    // natsedge exits cleanly (under ASan: nothing reported at shutdown
    // either); nats-server's exit code on SIGTERM is not asserted here.
    const code = await edge.stop();
    if (brokerKind() === "natsedge") assert.equal(code, 0);
    await hub.stop();
  });
});

describe("edge streams mirroring and sourcing a cloud stream through $JS.hub.API (JS-26b)", () => {
  let hub, link, edge, h, e, ejsm;
  const N = 40;
  const expected = (n) => Array.from({ length: n }, (_, i) => [`cmds.dev${i % 4}`, `c${i + 1}`]);
  const external = { api: "$JS.hub.API", deliver: "deliver.hub" };
  test("set up: the cloud stream, and the edge streams that mirror and source it", async () => {
    let proxy;
    ({ hub, proxy, link } = await startHubBehindProxy());
    edge = await startEdge(proxy.port);
    h = await nc(hub);
    e = await nc(edge);
    await waitRoute(h, e, "ready.down", 15000);
    await waitRoute(e, h, "ready.up", 15000);
    const hjsm = await jetstreamManager(h);
    await hjsm.streams.add(memStream("CMDS", ["cmds.>"]));
    const hjs = jetstream(h);
    for (const [subj, data] of expected(N / 2)) await hjs.publish(subj, data);
    ejsm = await jetstreamManager(e);
    const m = await ejsm.streams.add(memStream("LOCAL_M", [], { subjects: undefined, mirror: { name: "CMDS", external } }));
    assert.deepEqual(m.config.mirror, { name: "CMDS", external });
    await ejsm.streams.add(memStream("LOCAL_S", [], { subjects: undefined, sources: [{ name: "CMDS", external }] }));
    await waitFor(async () => (await ejsm.streams.info("LOCAL_M")).state.messages === N / 2, 15000, "the first half mirrored");
    await waitFor(async () => (await ejsm.streams.info("LOCAL_S")).state.messages === N / 2, 15000, "the first half sourced");
  });

  test("the edge's copies are readable while the link is down, and catch up once, in order, when it returns", async () => {
    link.cut();
    await waitFor(async () => {
      try {
        await within(e.request("$JS.hub.API.INFO", "", { timeout: 500 }), 1000, "hub info");
        return false;
      } catch {
        return true;
      }
    }, 10000, "the link down");
    const hjs = jetstream(h);
    for (const [subj, data] of expected(N).slice(N / 2)) await hjs.publish(subj, data);
    // Offline: the edge still serves what it has.
    const got = await ejsm.streams.getMessage("LOCAL_M", { last_by_subj: "cmds.dev1" });
    assert.equal(td.decode(got.data), "c18");
    await sleep(5000);
    assert.equal((await ejsm.streams.info("LOCAL_M")).state.messages, N / 2);
    link.restore();
    await waitFor(async () => (await ejsm.streams.info("LOCAL_M")).state.messages >= N, 30000, "the second half mirrored");
    await waitFor(async () => (await ejsm.streams.info("LOCAL_S")).state.messages >= N, 30000, "the second half sourced");
    await sleep(1000); // a duplicate would have arrived by now
    const want = expected(N);
    const mirrored = await streamContents(ejsm, "LOCAL_M");
    assert.deepEqual(mirrored.map(([seq, s, d]) => [seq, s, d]), want.map(([s, d], i) => [i + 1, s, d]));
    const sourced = await streamContents(ejsm, "LOCAL_S", "Nats-Stream-Source");
    assert.deepEqual(sourced.map(([seq, s, d]) => [seq, s, d]), want.map(([s, d], i) => [i + 1, s, d]));
    assert.ok(sourced.every(([, , , src], i) => new RegExp(`^CMDS\\S* ${i + 1}$`).test(src)), `Nats-Stream-Source ${sourced[0][3]}`);
  });

  test("a cloud KV bucket mirrored at the edge is readable while the link is down, and writes go to the cloud", async () => {
    const cloudKv = await new Kvm(h).create("cloudcfg", { storage: "memory" });
    await cloudKv.put("fw.version", "1.0");
    await cloudKv.put("fw.url", "http://a");
    const local = await new Kvm(e).create("localcfg", {
      storage: "memory",
      mirror: { name: "cloudcfg", external: { api: "$JS.hub.API", deliver: "deliver.hub" } },
    });
    await waitFor(async () => (await local.get("fw.url"))?.string() === "http://a", 15000, "the bucket mirrored");
    // A write through the edge's bucket goes to the cloud's (nats.js puts
    // on $JS.hub.API.$KV.cloudcfg.<key>) and comes back by the mirror.
    await local.put("fw.version", "1.1");
    assert.equal((await cloudKv.get("fw.version"))?.string(), "1.1");
    await waitFor(async () => (await local.get("fw.version"))?.string() === "1.1", 15000, "the write mirrored back");
    link.cut();
    await sleep(1000);
    assert.equal((await local.get("fw.version"))?.string(), "1.1");
    assert.equal((await local.get("fw.url"))?.string(), "http://a");
    await cloudKv.put("fw.url", "http://b");
    link.restore();
    await waitFor(async () => (await local.get("fw.url"))?.string() === "http://b", 30000, "caught up after the cut");
  });

  test("a mirror's configuration cannot change (10055), and a mirror takes no subjects (10034)", async () => {
    const info = await ejsm.streams.info("LOCAL_M");
    await assert.rejects(
      ejsm.streams.update("LOCAL_M", { ...info.config, mirror: { name: "OTHER", external } }),
      (err) => err.code === 10055,
    );
    await assert.rejects(
      ejsm.streams.add(memStream("BAD_M", ["bad.>"], { mirror: { name: "CMDS", external } })),
      (err) => err.code === 10034,
    );
  });

  test("tear down", async () => {
    await close(h, e);
    // natsedge exits cleanly (under ASan: nothing reported at shutdown
    // either); nats-server's exit code on SIGTERM is not asserted here.
    const code = await edge.stop();
    if (brokerKind() === "natsedge") assert.equal(code, 0);
    await hub.stop();
  });
});

// A 3-node nats-server JetStream cluster (domain hub), every node's leaf
// port advertised as the same TCP proxy in front of the first node: the
// edge always comes back through the proxy.
const startHubCluster = () => startCloud({ nodes: 3 });

describe("a 3-node cloud cluster's R3 stream sourcing an edge stream (JS-26b, PR-07)", () => {
  let nodes, link, edge, h, e, hjsm;
  const N = 30;
  const expected = (n) => Array.from({ length: n }, (_, i) => [`telemetry.s${i % 3}`, `r${i + 1}`]);
  test("set up: the cluster, the edge, and an R3 cloud stream sourcing the edge's", async () => {
    let proxy;
    ({ nodes, proxy, link } = await startHubCluster());
    edge = await startEdge(proxy.port);
    h = await nc(nodes[2]); // a node the edge is not linked to
    e = await nc(edge);
    await waitRoute(h, e, "ready.down", 20000);
    await waitRoute(e, h, "ready.up", 20000);
    const ejsm = await jetstreamManager(e);
    await ejsm.streams.add(memStream("TELEMETRY", ["telemetry.>"]));
    const ejs = jetstream(e);
    for (const [subj, data] of expected(N / 2)) await ejs.publish(subj, data);
    hjsm = await jetstreamManager(h);
    const external = { api: "$JS.edge.API", deliver: "deliver.edge" };
    // The meta leader may not know all three peers yet (10005 "no suitable
    // peers for placement" on a loaded machine): asked again until it does.
    const cfg = memStream("CLOUD3", [], { subjects: undefined, num_replicas: 3, sources: [{ name: "TELEMETRY", external }] });
    await waitFor(async () => {
      try {
        await hjsm.streams.add(cfg);
        return true;
      } catch (err) {
        if (err.code !== 10005) throw err;
        await sleep(200);
        return false;
      }
    }, 30000, "the R3 stream placed");
    await waitFor(async () => (await hjsm.streams.info("CLOUD3")).state.messages === N / 2, 20000, "the first half sourced");
  });

  test("after a 5 s cut of the leaf link the R3 stream holds every message once, in order", async () => {
    link.cut();
    await waitFor(async () => {
      try {
        await within(h.request("$JS.edge.API.INFO", "", { timeout: 500 }), 1000, "edge info");
        return false;
      } catch {
        return true;
      }
    }, 10000, "the link down");
    const ejs = jetstream(e);
    for (const [subj, data] of expected(N).slice(N / 2)) await ejs.publish(subj, data);
    await sleep(5000);
    link.restore();
    await waitFor(async () => (await hjsm.streams.info("CLOUD3")).state.messages >= N, 40000, "the second half sourced");
    await sleep(1000);
    const sourced = await streamContents(hjsm, "CLOUD3");
    assert.deepEqual(sourced.map(([seq, s, d]) => [seq, s, d]), expected(N).map(([s, d], i) => [i + 1, s, d]));
  });

  test("tear down", async () => {
    await close(h, e);
    const code = await edge.stop();
    if (brokerKind() === "natsedge") assert.equal(code, 0);
    for (const n of nodes) await n.stop();
  });
});

// natsedge's forward extension: nats-server has none (it would accept the
// stream and ignore `forward`), so the parity pass skips these.
const forwardOnly = brokerKind() === "natsedge" ? {} : { skip: "natsedge-only (the forward extension, differences.md \"JetStream\")" };

// A forwarding stream's "forward" object in the edge's /jsz.
async function forwardJsz(server, name) {
  const jsz = await getJSON(server.ports.http, "/jsz?streams=true");
  const st = jsz.account_details.flatMap((a) => a.stream_detail ?? []).find((d) => d.name === name);
  return st?.forward;
}

describe("natsedge-only (the forward extension): an edge stream forwarded to a cloud stream through outages", () => {
  let hub, link, edge, h, e, hjsm, ejsm;
  const N = 60;
  const expected = (n) => Array.from({ length: n }, (_, i) => [`telemetry.t${i % 5}`, `f${i + 1}`]);
  test("set up: the cloud stream with a duplicate window, the forwarded edge stream", forwardOnly, async () => {
    let proxy;
    ({ hub, proxy, link } = await startHubBehindProxy());
    edge = await startEdge(proxy.port);
    h = await nc(hub);
    e = await nc(edge);
    await waitRoute(h, e, "ready.down", 15000);
    await waitRoute(e, h, "ready.up", 15000);
    hjsm = await jetstreamManager(h);
    await hjsm.streams.add(memStream("CLOUD_F", ["site1.>"], { duplicate_window: 120e9 }));
    ejsm = await jetstreamManager(e);
    const si = await ejsm.streams.add(memStream("FWD", ["telemetry.>"], { forward: { prefix: "site1", window: 8 } }));
    assert.deepEqual(si.config.forward, { prefix: "site1", window: 8, backlog_advisory: 80 });
  });

  test("messages land in the cloud once, in order, and leave the edge only once acknowledged", forwardOnly, async () => {
    const ejs = jetstream(e);
    for (const [subj, data] of expected(N / 3)) await ejs.publish(subj, data);
    await waitFor(async () => (await hjsm.streams.info("CLOUD_F")).state.messages === N / 3, 15000, "forwarded");
    await waitFor(async () => (await ejsm.streams.info("FWD")).state.messages === 0, 5000, "the edge emptied");
    // The link drops while publishers go on; the edge keeps what the cloud
    // has not acknowledged.
    link.cut();
    for (const [subj, data] of expected(2 * N / 3).slice(N / 3)) {
      await ejs.publish(subj, data);
      await sleep(20);
    }
    await sleep(2500); // beyond the ack wait: the window is published again into the void
    const held = (await ejsm.streams.info("FWD")).state;
    assert.equal(held.messages, N / 3);
    // /jsz shows the backlog and the retries.
    let fwd = await forwardJsz(edge, "FWD");
    assert.equal(fwd.backlog_msgs, N / 3);
    assert.ok(fwd.republished > 0 && fwd.outstanding > 0 && fwd.backlog_age_ns > 0, JSON.stringify(fwd));
    assert.equal(fwd.acknowledged, N / 3);
    assert.equal((await hjsm.streams.info("CLOUD_F")).state.messages, N / 3);
    link.restore();
    // More while it comes back, and after.
    for (const [subj, data] of expected(N).slice(2 * N / 3)) {
      await ejs.publish(subj, data);
      await sleep(20);
    }
    await waitFor(async () => (await hjsm.streams.info("CLOUD_F")).state.messages >= N, 30000, "the backlog drained");
    await waitFor(async () => (await ejsm.streams.info("FWD")).state.messages === 0, 10000, "the edge emptied");
    await sleep(2500); // a republished duplicate would have been stored by now
    const cloud = await streamContents(hjsm, "CLOUD_F", "Nats-Msg-Id");
    assert.deepEqual(
      cloud.map(([seq, s, d]) => [seq, s, d]),
      expected(N).map(([s, d], i) => [i + 1, `site1.${s}`, d]),
    );
    assert.deepEqual(cloud.map(([, , , id]) => id), expected(N).map((_, i) => `edge:FWD:${i + 1}`));
    const st = (await ejsm.streams.info("FWD")).state;
    assert.equal(st.last_seq, N);
    fwd = await forwardJsz(edge, "FWD");
    assert.equal(fwd.acknowledged, N);
    assert.equal(fwd.backlog_msgs, 0);
    assert.equal(fwd.outstanding, 0);
    assert.equal(fwd.skipped, 0);
  });

  test("a publisher's own Nats-Msg-Id does not make the cloud drop a message: the forwarder's id comes first", forwardOnly, async () => {
    await ejsm.streams.add(memStream("FWD2", ["other.>"], { forward: { prefix: "site1", window: 8 } }));
    const ejs = jetstream(e);
    // One id in two edge streams (each dedupes within its own window).
    assert.equal((await ejs.publish("telemetry.dup", "a", { msgID: "dev-1" })).duplicate, false);
    assert.equal((await ejs.publish("other.dup", "b", { msgID: "dev-1" })).duplicate, false);
    await waitFor(async () => (await hjsm.streams.info("CLOUD_F")).state.messages >= N + 2, 15000, "both forwarded");
    await waitFor(async () => (await ejsm.streams.info("FWD2")).state.messages === 0, 5000, "FWD2 emptied");
    await waitFor(async () => (await ejsm.streams.info("FWD")).state.messages === 0, 5000, "FWD emptied");
    const cloud = await streamContents(hjsm, "CLOUD_F", "Nats-Msg-Id");
    assert.deepEqual(cloud.slice(N).map(([, s, d, id]) => [s, d, id]), [
      ["site1.telemetry.dup", "a", `edge:FWD:${N + 1}`],
      ["site1.other.dup", "b", "edge:FWD2:1"],
    ]);
    // The publisher's id follows the forwarder's.
    const m = await hjsm.streams.getMessage("CLOUD_F", { seq: N + 2 });
    assert.deepEqual(m.header.values("Nats-Msg-Id"), ["edge:FWD2:1", "dev-1"]);
  });

  test("tear down", forwardOnly, async () => {
    await close(h, e);
    const code = await edge.stop();
    assert.equal(code, 0);
    await hub.stop();
  });
});
