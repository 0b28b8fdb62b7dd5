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
//     has every message once, in order (JS-26b, PR-07).
//
// "Nothing else arrives" is shown by a barrier: a message sent behind the
// ones that must not arrive, on the same path, arrives (links are FIFO).
import { test, after, describe } from "node:test";
import assert from "node:assert/strict";
import { connect, createInbox } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer, stopAll, sleep, waitFor, within, tcpProxy } from "./lib/harness.mjs";
import { memStream } from "./lib/js.mjs";

const HUB_BIN = process.env.NATS_SERVER_BIN || "/usr/sbin/nats-server";
const MS = 5000;
const td = new TextDecoder();

const dirs = [];
after(async () => {
  await stopAll();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function storeDir() {
  const d = mkdtempSync(join(tmpdir(), "natsedge-leafjs-"));
  dirs.push(d);
  return d;
}

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
const startEdge = (leafPort) =>
  startServer({
    ports: ["http"],
    args: (p) => ["-m", String(p.http)],
    config:
      `server_name: edge\n${jsBlock("edge")}` +
      `leafnodes { remotes [ { url: "nats-leaf://127.0.0.1:${leafPort}" } ], reconnect: 1 }\n`,
  });

const nc = (server) => connect({ servers: `127.0.0.1:${server.port}`, reconnect: false });
const close = (...conns) => within(Promise.all(conns.map((c) => c?.close())), MS, "the clients' close");

// Publishes on `subject` from `pub` until `sub` gets one: the interest has
// crossed the link, and anything `pub` sent that way before has arrived.
async function waitRoute(pub, sub, subject, ms = 8000) {
  const s = sub.subscribe(subject);
  await within(sub.flush(), MS, "flush");
  let got = false;
  (async () => {
    for await (const _m of s) {
      got = true;
      break;
    }
  })();
  const deadline = Date.now() + ms;
  while (!got && Date.now() < deadline) {
    pub.publish(subject, "probe");
    await within(pub.flush(), MS, "flush");
    await sleep(50);
  }
  s.unsubscribe();
  if (!got) throw new Error(`no route for ${subject} within ${ms} ms`);
}

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
    await edge.stop();
    await hub.stop();
  });
});
