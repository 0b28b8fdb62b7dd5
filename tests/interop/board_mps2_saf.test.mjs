// Issue 18's board edge (docs/store-and-forward.md "The mps2-an385 firmware
// as the edge"): the tiny-js firmware in QEMU (JetStream domain `edge`, its
// file streams on the board's storage partition) is a leaf of a nats-server
// 2.9.10 hub (JetStream domain `hub`) through QEMU's user network: the
// board's leaf remote dials 10.0.2.2:<port>, the host's loopback, where a
// TCP proxy the test owns stands in front of the hub's leafnode port. The
// board holds a file stream with `forward` to a cloud stream on the hub;
// nats.js publishes to the board through the forwarded 4222, each publish
// waiting for its ack; in the middle the proxy drops the link for a few
// seconds while the publishing goes on (the board acknowledges from its
// flash). After the link returns, the cloud stream holds every acknowledged
// message once, in order, and the board's stream is empty. A second case
// resets the board warm (QEMU's system_reset, which keeps the storage
// partition) in the middle of an outage: what it acknowledged is kept and
// forwarded once the link returns, once, in order. Needs
// NATSEDGE_MPS2_JS_ELF, NATSEDGE_MPS2_JS_CONF_TOOL (make CONFIG=tiny-js
// conf-tool) and qemu-system-arm; without them the suite fails with the
// reason (SKIP_BOARDS=1 skips it instead). natsedge-only: the nats-server
// pass skips it (a firmware of natsedge's own, and nats-server has no
// forwarder; the hub is nats-server in both).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { sleep, getJSON, stopAll, tcpProxy, waitFor, within } from "./lib/harness.mjs";
import { bootBoard, confTool, hubServer, resetBoard, stopBoards, boardSuite } from "./lib/board.mjs";
import { waitRoute, streamState, streamContents } from "./lib/saf.mjs";

const { skip, paths: [ELF, TOOL] } = boardSuite("mps2-an385 tiny-js store and forward", [["NATSEDGE_MPS2_JS_ELF", "tiny-js firmware"], ["NATSEDGE_MPS2_JS_CONF_TOOL", "tiny-js configuration tool, make CONFIG=tiny-js conf-tool"]]);
const NAME = "mps2-an385 tiny-js as the edge (natsedge-only: its Cortex-M firmware, and nats-server has no forwarder)";
const DIR = skip ? "" : mkdtempSync(join(tmpdir(), "natsedge-mps2-saf-"));
// Modest counts for the board: 200 messages, a window of at most 64
// (NE_JS_FORWARD_MAX_WINDOW on tiny-js).
const COUNT = 200;
const CUT_AFTER = 50; // acknowledged publishes before the link is dropped
const RESTORE_AFTER = 150; // and at least this many before it returns
const OUTAGE_MS = 2500;
const PUBLISH_EVERY_MS = 20;
const opened = new Set();

after(async () => {
  for (const c of opened) await within(c.close(), 5000, "close").catch(() => {});
  await stopBoards();
  await stopAll();
  if (DIR) rmSync(DIR, { recursive: true, force: true });
});
const { imageWith } = confTool(TOOL, DIR, ELF);

// The board with 4222 and 8222 forwarded to free loopback ports (q.port,
// q.http) and QEMU's monitor on a UNIX socket of DIR (for resetBoard: a
// warm reset, system_reset, that keeps RAM and with it the storage
// partition, docs/firmware.md).
async function boot(image) {
  const q = await bootBoard(image, [4222, 8222], { monitorDir: DIR });
  q.http = q.ports[8222];
  return q;
}

// A nats-server hub (JetStream domain hub) behind a TCP proxy, and the board
// as its leaf through QEMU's network with FWD forwarding to the hub's
// CLOUD_F; `tag` names the image and the hub's store directory.
async function setUp(tag) {
  // The hub: JetStream domain hub, its leafnode port behind the proxy. It
  // advertises the proxy as the guest reaches it, so a reconnect comes back
  // through the proxy too.
  const proxy = await tcpProxy(1);
  const hubStore = join(DIR, `hub-${tag}`);
  const hub = await hubServer(
    (p) =>
      `server_name: hub\njetstream { store_dir: "${hubStore}", domain: hub }\n` +
      `leafnodes { listen: 127.0.0.1:${p.leaf}, advertise: "10.0.2.2:${proxy.port}" }\n` +
      `http: "127.0.0.1:${p.http}"\n`,
  );
  proxy.target = hub.ports.leaf;
  const cut = () => {
    proxy.target = 1; // refused: every new attempt fails at once
    for (const conn of proxy.conns) conn.socket.destroy();
  };
  const restore = () => (proxy.target = hub.ports.leaf);

  // The board: server_name edge, JetStream domain edge, a leaf of the hub
  // through the proxy, redialled every second.
  const conf = [
    "server_name: edge",
    "jetstream { domain: edge }",
    `leafnodes { remotes [ { url: "nats-leaf://10.0.2.2:${proxy.port}" } ], reconnect: 1 }`,
    "",
  ].join("\n");
  const q = await boot(imageWith(tag, conf));
  assert.ok(q.console().includes(`Configuration region: ${tag}.conf`), q.console());
  await waitFor(async () => (await getJSON(hub.ports.http, "/leafz")).leafnodes === 1, 30000, "the board's leaf on the hub");

  const e = await within(connect({ servers: `127.0.0.1:${q.port}`, reconnect: false, timeout: 10000 }), 15000, "connect to the board");
  const h = await within(connect({ servers: `127.0.0.1:${hub.port}`, reconnect: false }), 10000, "connect to the hub");
  opened.add(e);
  opened.add(h);
  await waitRoute(h, e, "ready.down", 20000);
  await waitRoute(e, h, "ready.up", 20000);
  const hjsm = await jetstreamManager(h);
  await hjsm.streams.add({ name: "CLOUD_F", subjects: ["site1.>"], storage: "file", duplicate_window: 300e9 });
  const ejsm = await jetstreamManager(e, { timeout: 10000 });
  const si = await within(
    ejsm.streams.add({ name: "FWD", subjects: ["fwd.>"], storage: "file", forward: { prefix: "site1", window: 64 } }),
    15000,
    "STREAM.CREATE on the board",
  );
  assert.equal(si.config.storage, "file");
  const info = JSON.parse(new TextDecoder().decode((await within(e.request("$JS.API.INFO", "", { timeout: 10000 }), 15000, "$JS.API.INFO")).data));
  assert.equal(info.domain, "edge");
  return { hub, proxy, cut, restore, q, e, h, hjsm, ejsm };
}

test(`${NAME}: a forwarded file stream crosses an outage of the leaf link: the cloud gets every acknowledged message once, in order, and the board's stream empties (JS-26b, LN-04)`, { skip, timeout: 240000 }, async (t) => {
  const { hub, cut, restore, q: qemu, e, h, ejsm } = await setUp("outage");
  try {
    // The publisher: one message every PUBLISH_EVERY_MS on fwd.<n % 4> with
    // payload "<n>", each waiting for its ack from the board. The link is
    // dropped after CUT_AFTER acks and comes back once OUTAGE_MS have
    // passed and RESTORE_AFTER were acknowledged: with at least
    // PUBLISH_EVERY_MS between publishes, at most OUTAGE_MS /
    // PUBLISH_EVERY_MS + 1 (126) go in the outage, so some go before it,
    // some during it and some after it, however fast the machine.
    const js = jetstream(e, { timeout: 10000 });
    const acked = [];
    const uncertain = [];
    let duringCut = 0;
    let afterCut = 0;
    let heldDuringCut = -1;
    let cutAt = 0;
    for (let n = 1; n <= COUNT; n++) {
      try {
        const ack = await js.publish(`fwd.${n % 4}`, String(n));
        assert.equal(ack.stream, "FWD");
        acked.push(n);
        if (cutAt > 0 && heldDuringCut < 0) duringCut++;
        else if (heldDuringCut >= 0) afterCut++;
      } catch (err) {
        uncertain.push(n);
        t.diagnostic(`publish ${n}: ${err.message}`);
      }
      if (acked.length === CUT_AFTER && cutAt === 0) {
        cut();
        cutAt = Date.now();
      } else if (cutAt > 0 && heldDuringCut < 0 && acked.length >= RESTORE_AFTER && Date.now() - cutAt >= OUTAGE_MS) {
        heldDuringCut = (await streamState(ejsm, "FWD"))?.messages ?? 0;
        restore();
      }
      await sleep(PUBLISH_EVERY_MS);
    }
    t.diagnostic(`${acked.length} acked, ${uncertain.length} uncertain; ${duringCut} acked with the link down, ` +
      `${heldDuringCut} held by the board at the end of the outage, ${afterCut} acked after it`);
    assert.deepEqual(uncertain, [], "the board acknowledges every publish, link or no link");
    assert.ok(duringCut > 0, "publishes were acknowledged while the link was down");
    assert.ok(heldDuringCut >= duringCut, "the board held what it acknowledged during the outage");
    assert.ok(afterCut > 0, "publishing went on after the link returned");

    // The link returns; the board empties its stream into the cloud.
    await waitFor(async () => (await getJSON(hub.ports.http, "/leafz")).leafnodes === 1, 30000, "the board's leaf back on the hub");
    await waitFor(async () => (await streamState(ejsm, "FWD"))?.messages === 0, 60000, "FWD emptied");
    await sleep(2500); // beyond the forwarder's ack wait: a publish made again would be stored by now
    const cloud = await streamContents(h, "CLOUD_F", "Nats-Msg-Id");
    assert.deepEqual(cloud.map(([, , d]) => Number(d)), acked, "CLOUD_F holds every acknowledged message once, in order");
    assert.deepEqual(cloud.map(([, s]) => s), acked.map((n) => `site1.fwd.${n % 4}`));
    const ids = cloud.map(([, , , id]) => id);
    assert.equal(new Set(ids).size, ids.length, "CLOUD_F's ids are unique");
    assert.ok(ids.every((id) => /^edge:FWD:\d+$/.test(id)), `ids as <server_name>:<stream>:<sequence>: ${ids[0]}`);
    const fst = await streamState(ejsm, "FWD");
    assert.equal(fst.last_seq, COUNT);

    // The board's own account of it, on its monitoring port.
    const jsz = await getJSON(qemu.http, "/jsz?streams=true");
    const fwd = (jsz.account_details ?? []).flatMap((a) => a.stream_detail ?? []).find((d) => d.name === "FWD");
    assert.ok(fwd?.forward, "FWD's forward in /jsz");
    t.diagnostic(`forward ${JSON.stringify(fwd.forward)}`);
    assert.equal(fwd.forward.acknowledged, COUNT);
    assert.equal(fwd.forward.backlog_msgs, 0);
    assert.equal(fwd.forward.outstanding, 0);
    assert.equal(fwd.forward.skipped, 0);
  } finally {
    await within(e.close(), 5000, "close").catch(() => {});
    await within(h.close(), 5000, "close").catch(() => {});
  }
  assert.equal(qemu.alive(), true);
  assert.doesNotMatch(qemu.console(), /\[FTL\]/);
  await qemu.stop();
  await hub.stop();
});

test(`${NAME}: a warm reset of the board in the middle of an outage: what it acknowledged is kept on its partition and forwarded once the link returns, once, in order (JS-26b, JS-17)`, { skip, timeout: 240000 }, async (t) => {
  const { hub, cut, restore, q, e: first, h, ejsm: firstJsm } = await setUp("reset");
  let e = first;
  const acked = [];
  // Publishes from..to on fwd.<n % 4> with payload "<n>", each acknowledged.
  const publish = async (conn, from, to) => {
    const js = jetstream(conn, { timeout: 10000 });
    for (let n = from; n <= to; n++) {
      const ack = await js.publish(`fwd.${n % 4}`, String(n));
      assert.equal(ack.stream, "FWD");
      assert.equal(ack.seq, n);
      acked.push(n);
      await sleep(PUBLISH_EVERY_MS);
    }
  };
  try {
    await publish(e, 1, 30);
    cut();
    await publish(e, 31, 80);
    const held = (await streamState(firstJsm, "FWD"))?.messages;
    assert.ok(held >= 50, `the board holds what it acknowledged during the outage (${held})`);
    await within(e.close(), 5000, "close");
    opened.delete(e);

    // The reset, the link still down.
    await resetBoard(q);
    e = await within(connect({ servers: `127.0.0.1:${q.port}`, reconnect: false, timeout: 10000 }), 15000, "connect to the board again");
    opened.add(e);
    const ejsm = await jetstreamManager(e, { timeout: 10000 });
    const si = await within(ejsm.streams.info("FWD"), 15000, "STREAM.INFO after the reset");
    assert.equal(si.state.messages, held, "nothing forwarded or lost across the reset");
    assert.equal(si.state.last_seq, 80);
    assert.equal(si.config.forward?.prefix, "site1", `forward kept: ${JSON.stringify(si.config.forward)}`);
    await publish(e, 81, 100);
    restore();
    await publish(e, 101, 120);

    await waitFor(async () => (await getJSON(hub.ports.http, "/leafz")).leafnodes === 1, 30000, "the board's leaf back on the hub");
    await waitFor(async () => (await streamState(ejsm, "FWD"))?.messages === 0, 60000, "FWD emptied");
    await sleep(2500); // beyond the forwarder's ack wait: a publish made again would be stored by now
    const cloud = await streamContents(h, "CLOUD_F", "Nats-Msg-Id");
    assert.deepEqual(cloud.map(([, , d]) => Number(d)), acked, "CLOUD_F holds every acknowledged message once, in order");
    const ids = cloud.map(([, , , id]) => id);
    assert.equal(new Set(ids).size, ids.length, "CLOUD_F's ids are unique");
    const jsz = await getJSON(q.http, "/jsz?streams=true");
    const fwd = (jsz.account_details ?? []).flatMap((a) => a.stream_detail ?? []).find((d) => d.name === "FWD");
    t.diagnostic(`held ${held} at the reset; forward since it ${JSON.stringify(fwd?.forward)}`);
    assert.equal(fwd.forward.backlog_msgs, 0);
    assert.equal(fwd.forward.outstanding, 0);
    assert.equal(fwd.forward.skipped, 0);
  } finally {
    await within(e.close(), 5000, "close").catch(() => {});
    await within(h.close(), 5000, "close").catch(() => {});
  }
  assert.equal(q.alive(), true);
  assert.equal((q.console().match(/Server is ready/g) || []).length, 2, "one boot and one warm reset");
  assert.doesNotMatch(q.console(), /\[FTL\]/);
  await q.stop();
  await hub.stop();
});
