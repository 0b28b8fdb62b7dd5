// A user of the server's authorization logging in on the leaf port brings
// its permissions, seen from the other side (issue 13 item 3): its
// subscribe permissions limit what the hub sends to the leaf, its publish
// permissions what the leaf may send in. The scenario: a user
// allowed to publish only telemetry.> and subscribe only cmd.sensor sends
// LS+ secret.> and must not receive secret.payroll. The broker under test
// (NATSEDGE_BIN: natsedge, or nats-server 2.9.10 in the parity pass) is the
// hub of raw-socket leafs and of a real leaf, and a real leaf of a nats-server
// hub (nats.js clients on both sides). IDs: LN-40..LN-44 (new, probed on
// nats-server 2.9.10), LN-26.
//
// "Nothing else arrives" is shown by a message behind it on the same path
// (a PING/PONG barrier, or a later message of the same publisher).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { startServer, stopAll, rawConnect, waitFor, within, brokerKind, parseInfo, getJSON } from "../interop/lib/harness.mjs";

const require = createRequire(new URL("../interop/package.json", import.meta.url));
const { connect } = require("@nats-io/transport-node");

after(async () => {
  await stopAll();
});

const NATS_SERVER = process.env.NATS_SERVER_BIN || "/usr/sbin/nats-server";
const KIND = brokerKind();
const MS = 5000;

const USERS = `authorization {
  users [
    { user: sensor, password: s, permissions: { publish: "telemetry.>", subscribe: "cmd.sensor" } }
    { user: admin, password: a }
  ]
}
`;

// A hub with a leafnode port, the users above and a monitoring port; the
// broker under test unless `bin` says otherwise.
const startHub = (bin) =>
  startServer({
    bin,
    ports: ["leaf", "http"],
    args: (p) => ["-m", String(p.http)],
    config: (p) => `leafnodes { listen: "127.0.0.1:${p.leaf}" }\n${USERS}`,
  });

// A leaf of `hub` logged in as the sensor user, with a monitoring port.
const startLeaf = (hub, bin) =>
  startServer({
    bin,
    ports: ["http"],
    args: (p) => ["-m", String(p.http)],
    config: `leafnodes { remotes [ { url: "nats-leaf://sensor:s@127.0.0.1:${hub.ports.leaf}" } ], reconnect: 1 }\n`,
  });

// The interest a server's leaf connections received from their peers
// (`leafs` is null without a link, as in nats-server).
const learned = async (server) =>
  ((await getJSON(server.ports.http, "/leafz?subs=1")).leafs ?? []).flatMap((l) => l.subscriptions_list ?? []);

// A raw leaf logged in as `user`: returns the socket and the hub's second
// INFO (connect_info). nats-server sends that INFO before it registers the
// leaf for interest updates (a subscription made in between was never
// announced in one run under load): the leaf's PING, answered once the
// hub has handled the whole CONNECT, is the barrier.
async function rawLeaf(hub, user = "sensor", pass = "s") {
  const l = await rawConnect(hub.ports.leaf);
  await l.readUntil("\r\n");
  await l.send(`CONNECT ${JSON.stringify({ user, pass, name: "hostile", server_id: "NHOSTILE", headers: true })}\r\n`);
  const info = parseInfo(await l.readUntil(/INFO \{.*"connect_info":true.*\r\n/));
  await sync(l);
  return { l, info };
}

const nc = (server, opts = {}) => connect({ servers: `127.0.0.1:${server.port}`, reconnect: false, ...opts });
const admin = (hub) => nc(hub, { user: "admin", pass: "a" });
const flush = (c) => within(c.flush(), MS, "flush");
const close = (...conns) => within(Promise.all(conns.map((c) => c.close())), MS, "the clients' close");

// The leaf's PING is answered after everything the hub queued before it.
async function sync(l) {
  await l.send("PING\r\n");
  return l.readUntil("PONG\r\n");
}

test(`the hub's INFO tells the leaf its user's permissions as import and export (LN-40) [${KIND}]`, async () => {
  const hub = await startHub();
  try {
    const { l, info } = await rawLeaf(hub);
    assert.deepEqual(info.import, { allow: ["cmd.sensor"] });
    assert.deepEqual(info.export, { allow: ["telemetry.>"] });
    assert.equal(info.remote_account, "$G");
    l.destroy();
    // A user without permissions gets neither.
    const { l: l2, info: i2 } = await rawLeaf(hub, "admin", "a");
    assert.equal(i2.import, undefined);
    assert.equal(i2.export, undefined);
    l2.destroy();
  } finally {
    await hub.stop();
  }
});

test(`LS+ secret.> from the leaf: accepted, but secret.payroll never reaches it; cmd.sensor does (issue scenario, LN-42, LN-43) [${KIND}]`, async () => {
  const hub = await startHub();
  const a = await admin(hub);
  try {
    const { l } = await rawLeaf(hub);
    await l.send("LS+ secret.>\r\nLS+ cmd.>\r\nLS+ >\r\n");
    // The PONG: the hub read the LS+ lines and kept the leaf.
    await sync(l);
    assert.ok(!l.isClosed(), "wildcard interest is not a violation");
    a.publish("secret.payroll", "salaries");
    a.publish("cmd.other", "no");
    a.publish("cmd.sensor", "go");
    await flush(a);
    // cmd.sensor was published last on the same path: the others, had they
    // been sent, would have come before it.
    await l.readUntil("LMSG cmd.sensor 2\r\ngo\r\n");
    await sync(l);
    const all = l.received();
    assert.ok(!all.includes("secret.payroll") && !all.includes("salaries"), `leaf got: ${JSON.stringify(all)}`);
    assert.ok(!all.includes("cmd.other"));
    l.destroy();
  } finally {
    await close(a);
    await hub.stop();
  }
});

test(`the hub sends the leaf only interest its user may publish to (LN-41) [${KIND}]`, async () => {
  const hub = await startHub();
  const a = await admin(hub);
  try {
    const { l } = await rawLeaf(hub);
    for (const s of ["telemetry.x", "secret.inbox", "cmd.>", ">", "telemetry.*", "*.x"]) a.subscribe(s);
    await flush(a);
    // The three it may have arrive (bounded); then a PING/PONG barrier
    // shows nothing else was sent before it.
    const want = ["LS+ >\r\n", "LS+ telemetry.*\r\n", "LS+ telemetry.x\r\n"];
    await waitFor(() => want.every((w) => l.received().includes(w)), MS, "the allowed LS+ lines");
    const text = await sync(l);
    const sent = [...text.matchAll(/^LS\+ (\S+)\r$/gm)].map((m) => m[1]).filter((s) => !s.startsWith("$"));
    assert.deepEqual(sent.sort(), [">", "telemetry.*", "telemetry.x"]);
    l.destroy();
  } finally {
    await close(a);
    await hub.stop();
  }
});

test(`LS+ of a literal subject the user may not receive: -ERR and the leaf is closed (LN-42) [${KIND}]`, async () => {
  const hub = await startHub();
  try {
    const { l } = await rawLeaf(hub);
    await l.send("LS+ cmd.sensor\r\nLS+ secret.payroll\r\n");
    assert.ok(await l.closedWithin(MS), "the leaf is closed");
    assert.match(l.received(), /-ERR 'Permissions Violation for Subscription to "secret\.payroll"'\r\n$/);
    assert.equal((await getJSON(hub.ports.http, "/leafz")).leafnodes, 0, "no link left in /leafz");
    // The log says it too, in nats-server's words.
    await waitFor(() => /Subscription Violation on "secret\.payroll" - Check other side configuration/.test(hub.logs()),
      MS, "the violation in the log");
  } finally {
    await hub.stop();
  }
});

test(`LMSG from the leaf: telemetry.x is delivered; secret.inbox is refused by natsedge, delivered by nats-server 2.9.10 (differences.md: What a leaf may send; LN-44) [${KIND}]`, async () => {
  const hub = await startHub();
  const a = await admin(hub);
  try {
    const seen = [];
    for (const s of ["telemetry.x", "secret.inbox"]) {
      a.subscribe(s, { callback: (_e, m) => seen.push(`${m.subject}:${m.string()}`) });
    }
    await flush(a);
    const { l } = await rawLeaf(hub);
    await sync(l);
    await l.send("LMSG telemetry.x 2\r\nok\r\n");
    await waitFor(() => seen.includes("telemetry.x:ok"), MS, "telemetry from the leaf");
    await l.send("LMSG secret.inbox 3\r\nbad\r\n");
    if (KIND === "natsedge") {
      assert.ok(await l.closedWithin(MS), "the leaf is closed");
      assert.match(l.received(), /-ERR 'Permissions Violation for Publish to "secret\.inbox"'\r\n$/);
      // The hub handled the LMSG before it closed the leaf; a delivery to A
      // would have been queued before A's PONG.
      await flush(a);
      assert.ok(!seen.includes("secret.inbox:bad"), "nothing delivered");
    } else {
      // nats-server 2.9.10 does not check what a leaf publishes (fixed
      // in 2.14, differences.md).
      await waitFor(() => seen.includes("secret.inbox:bad"), MS, "2.9.10 delivers it");
    }
  } finally {
    await close(a);
    await hub.stop();
  }
});

// A real leaf logged in as the sensor user under `hub`: its client `e`
// gets cmd.sensor and never secret.payroll, and publishes telemetry.
async function realLeaf(hub, leaf) {
  const a = await admin(hub);
  const e = await nc(leaf);
  try {
    const got = [];
    e.subscribe("secret.>", { callback: (_e, m) => got.push(m.subject) });
    e.subscribe("cmd.sensor", { callback: (_e, m) => got.push(m.subject) });
    const up = [];
    a.subscribe("telemetry.>", { callback: (_e, m) => up.push(m.string()) });
    await flush(e);
    await flush(a);
    // The link is up and the interest has crossed it both ways: the hub
    // learned cmd.sensor from the leaf, the leaf telemetry.> from the hub.
    await waitFor(async () => (await learned(hub)).includes("cmd.sensor"), 10000, "cmd.sensor in the hub's /leafz");
    await waitFor(async () => (await learned(leaf)).includes("telemetry.>"), 10000, "telemetry.> in the leaf's /leafz");
    // secret.payroll goes first, cmd.sensor behind it on the same path.
    a.publish("secret.payroll", "salaries");
    a.publish("cmd.sensor", "last");
    await flush(a);
    await waitFor(() => got.includes("cmd.sensor"), MS, "cmd.sensor across the link");
    assert.deepEqual(got, ["cmd.sensor"], "the leaf's client got only cmd.sensor");
    e.publish("telemetry.t1", "t");
    await flush(e);
    await waitFor(() => up.includes("t"), MS, "telemetry across the link");
  } finally {
    await close(e, a);
  }
}

test(`the broker as a hub: a leaf of its own kind logged in as the user; its clients get cmd.sensor and never secret.payroll, and publish telemetry (nats.js, LN-26, LN-43) [${KIND}]`, async () => {
  const hub = await startHub();
  const leaf = await startLeaf(hub);
  try {
    await realLeaf(hub, leaf);
  } finally {
    await leaf.stop();
    await hub.stop();
  }
});

test(`the broker as a leaf of a nats-server hub, logged in as the user: its clients get cmd.sensor and never secret.payroll, and publish telemetry (nats.js, LN-26, LN-43) [${KIND}]`, async () => {
  const hub = await startHub(NATS_SERVER);
  const leaf = await startLeaf(hub);
  try {
    await realLeaf(hub, leaf);
  } finally {
    await leaf.stop();
    await hub.stop();
  }
});
