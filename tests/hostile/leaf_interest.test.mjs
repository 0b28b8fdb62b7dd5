// The leaf interest a hub announces (LS+/LS-) against hostile peers, with the
// broker under test (NATSEDGE_BIN: natsedge, or nats-server 2.9.10 in the
// parity pass) as the hub and raw-socket leafs:
//   - issue 13 item 6: a client of another account subscribing to and
//     unsubscribing from a subject must not withdraw (LS-) the interest the
//     leaf's own account still holds (LN-11, LN-12, LN-27);
//   - the interest table (NE_LEAF_INTEREST_ENTRIES, 16 in the small and the
//     tiny builds) held by one hostile peer, a client subscribing to ever
//     more subjects or a leaf announcing them: natsedge refuses the peer at
//     its share (NE_LEAF_INTEREST_PER_CONNECTION, half the table), everyone
//     else's interest still crosses the link. nats-server has no such table
//     (differences.md: "Static limits", the interest announced to leafs):
//     there every subscription and every LS+ is taken and passed on;
//   - on the tiny build (NATSEDGE_TINY_BIN, config/profiles/tiny.h: one leaf
//     connection, 56 trie nodes), the one leaf place and a leaf announcing
//     more than its share of the subscriptions and the trie can hold.
//
// "Nothing else arrives" is shown by a PING/PONG barrier behind it on the
// same path: the broker answers a peer's PING after everything it queued for
// that peer before reading it.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { startServer, stopAll, rawConnect, waitFor, within, brokerKind } from "../interop/lib/harness.mjs";
import { knob, headerOf } from "./lib/limits.mjs";

const require = createRequire(new URL("../interop/package.json", import.meta.url));
const { connect } = require("@nats-io/transport-node");

after(async () => {
  await stopAll();
});

const KIND = brokerKind();
const isNatsedge = KIND === "natsedge";
const MS = 5000;
// A build's table and one connection's share of it; the cases use as many
// subjects as the table holds.
const tableOf = (profile) => knob("NE_LEAF_INTEREST_ENTRIES", headerOf(profile));
const shareOf = (profile) => knob("NE_LEAF_INTEREST_PER_CONNECTION", headerOf(profile));
const TABLE = tableOf("small");
const SHARE = shareOf("small");

const nc = (server, opts = {}) => connect({ servers: `127.0.0.1:${server.port}`, reconnect: false, ...opts });
const flush = (c) => within(c.flush(), MS, "flush");
const close = (...conns) => within(Promise.all(conns.map((c) => c.close())), MS, "the clients' close");

// A raw leaf peer: INFO read, CONNECT sent, the hub's connect_info INFO read,
// then a PING/PONG: nats-server sends that INFO before it registers the leaf
// for interest updates, and answers the PING once the whole CONNECT is
// handled. Each has its own name (nats-server replaces a leaf of the same
// name, LN-09).
let peers = 0;
async function rawLeaf(leafPort, creds = {}) {
  const l = await rawConnect(leafPort);
  await l.readUntil("\r\n");
  const id = `NPEER${++peers}`;
  await l.send(`CONNECT ${JSON.stringify({ ...creds, name: id, server_id: id, headers: true })}\r\n`);
  await l.readUntil(/"connect_info":true.*\r\n/);
  await sync(l);
  return l;
}

// Everything the hub queued for this peer before reading the PING, up to
// its PONG.
async function sync(l) {
  await l.send("PING\r\n");
  return l.readUntil("PONG\r\n");
}

const leafHub = (opts) => startServer({ ports: ["leaf"], ...opts });

test(`another account's unsubscribe does not withdraw the leaf's interest (issue 13 item 6, LN-12) [${KIND}]`, async () => {
  const hub = await leafHub({
    config: (p) => `accounts {
  A { users [ { user: a, password: pa } ] }
  B { users [ { user: b, password: pb } ] }
}
leafnodes { listen: "127.0.0.1:${p.leaf}", authorization { users [ { user: leaf, password: pl, account: A } ] } }
`,
  });
  const a = await nc(hub, { user: "a", pass: "pa" });
  const b = await nc(hub, { user: "b", pass: "pb" });
  try {
    const l = await rawLeaf(hub.ports.leaf, { user: "leaf", pass: "pl" });
    const got = [];
    a.subscribe("foo", { callback: (_e, m) => got.push(m.string()) });
    await flush(a);
    await l.readUntil("LS+ foo\r\n");
    const bs = b.subscribe("foo");
    await flush(b);
    bs.unsubscribe();
    await flush(b);
    // B's UNSUB was handled before its PONG; an LS- it caused was queued
    // for the leaf then, before the leaf's PONG.
    const text = await sync(l);
    assert.ok(!text.includes("LS- foo"), `the leaf got ${JSON.stringify(text)}`);
    // A still listens: what the leaf sends on foo reaches it.
    await l.send("LMSG foo 2\r\nhi\r\n");
    await waitFor(() => got.includes("hi"), MS, "the leaf's message to A");
    // A's own unsubscribe does withdraw it.
    await close(a);
    await l.readUntil("LS- foo\r\n");
    l.destroy();
  } finally {
    await close(...[a, b].filter((c) => !c.isClosed()));
    await hub.stop();
  }
});

for (const profile of ["small", "tiny"]) {
  const TABLE = tableOf(profile);
  const SHARE = shareOf(profile);

  test(`a client subscribing to ever more subjects: natsedge refuses it beyond its share of the leaf interest table, nats-server takes them all (differences.md: Static limits); others still reach the leaf [${KIND}, ${profile} broker]`, async () => {
    const hub = await leafHub({ small: profile === "small", tiny: profile === "tiny", config: (p) => `leafnodes { listen: "127.0.0.1:${p.leaf}" }\n` });
    const honest = await nc(hub);
    try {
      const l = await rawLeaf(hub.ports.leaf);
      const hostile = await rawConnect(hub.port);
      await hostile.readUntil("\r\n");
      let subs = 'CONNECT {"verbose":false,"pedantic":false}\r\n';
      for (let i = 0; i < TABLE; i++) subs += `SUB h.${i} ${i + 1}\r\n`;
      await hostile.send(subs + "PING\r\n");
      const answer = await hostile.readUntil("PONG\r\n");
      const refused = answer.split("-ERR 'maximum subscriptions exceeded'").length - 1;
      assert.equal(refused, isNatsedge ? TABLE - SHARE : 0, "refused subscriptions");
      // The leaf was told of exactly the subscriptions taken.
      const told = (await sync(l)).split("\r\n").filter((x) => /^LS\+ h\./.test(x)).length;
      assert.equal(told, TABLE - refused);
      // The honest client's subscription crosses the link and gets what
      // the leaf sends.
      const got = [];
      honest.subscribe("honest.x", { callback: (_e, m) => got.push(m.string()) });
      await flush(honest);
      await l.readUntil("LS+ honest.x\r\n");
      await l.send("LMSG honest.x 2\r\nok\r\n");
      await waitFor(() => got.includes("ok"), MS, "the leaf's message to the honest client");
      // The hostile client stays connected: its PING is still answered.
      await hostile.send("PING\r\n");
      await hostile.readUntil("PONG\r\n");
      hostile.destroy();
      l.destroy();
    } finally {
      await close(honest);
      await hub.stop();
    }
  });
}

test(`a leaf announcing ever more subjects: natsedge passes on only its share to the other leafs, nats-server all of them (differences.md: Static limits); others' interest is passed on [${KIND}]`, async () => {
  const hub = await leafHub({ small: true, config: (p) => `leafnodes { listen: "127.0.0.1:${p.leaf}" }\n` });
  const honest = await nc(hub);
  try {
    const quiet = await rawLeaf(hub.ports.leaf);
    const hostile = await rawLeaf(hub.ports.leaf);
    let lines = "";
    for (let i = 0; i < TABLE; i++) lines += `LS+ z.${i}\r\n`;
    await hostile.send(lines);
    // The hostile leaf's PONG: its LS+ lines were handled, and what they
    // caused for the quiet leaf was queued before the quiet leaf's PONG.
    await sync(hostile);
    const passed = (await sync(quiet)).split("\r\n").filter((x) => /^LS\+ z\./.test(x)).length;
    assert.equal(passed, isNatsedge ? SHARE : TABLE);
    honest.subscribe("honest.y");
    await flush(honest);
    await quiet.readUntil("LS+ honest.y\r\n");
    // Its interest beyond the share still brings it its messages.
    honest.publish(`z.${TABLE - 1}`, "zz");
    await flush(honest);
    await hostile.readUntil(`LMSG z.${TABLE - 1} 2\r\nzz\r\n`);
    quiet.destroy();
    hostile.destroy();
  } finally {
    await close(honest);
    await hub.stop();
  }
});

// The tiny build has one leaf place (NE_MAX_LEAF_CONNECTIONS) and 56 trie
// nodes, 28 of them for one connection (NE_MAX_TRIE_NODES_PER_CONN), leafs
// included: a leaf announcing ever more subjects is held there (the rest is
// logged and dropped, differences.md: Leaf nodes, "Bounded interest"), and a
// second leaf gets -ERR 'maximum connections exceeded' (docs/leafnode.md).
// nats-server takes both leafs and all their interest.
const TINY_TRIE_SHARE = knob("NE_MAX_TRIE_NODES_PER_CONN", "tiny");
test(`tiny: a second leaf is refused by natsedge (its one leaf place: -ERR 'maximum connections exceeded' without INFO), taken by nats-server; a leaf announcing ever more subjects is held by natsedge to its share of the trie, nats-server takes them all (differences.md: Static limits, Leaf nodes); clients still subscribe and both ways messages cross [${KIND}, tiny broker]`, async () => {
  const hub = await leafHub({ tiny: true, config: (p) => `leafnodes { listen: "127.0.0.1:${p.leaf}" }\n` });
  const honest = await nc(hub);
  try {
    const hostile = await rawLeaf(hub.ports.leaf);
    // The second leaf: natsedge answers its connection with the error (no
    // INFO) and closes it; nats-server registers it.
    const second = await rawConnect(hub.ports.leaf);
    if (isNatsedge) {
      assert.ok(await second.closedWithin(MS), "the second leaf is closed");
      assert.equal(second.received(), "-ERR 'maximum connections exceeded'\r\n");
    } else {
      await second.readUntil("\r\n");
      await second.send(`CONNECT ${JSON.stringify({ name: "NSECOND", server_id: "NSECOND", headers: true })}\r\n`);
      await second.readUntil(/"connect_info":true.*\r\n/);
      await sync(second);
      second.destroy();
    }
    // One subject per trie node the leaf may add, and as many again: "z"
    // takes one node, each z.<i> one more.
    const N = 2 * TINY_TRIE_SHARE;
    let lines = "";
    for (let i = 0; i < N; i++) lines += `LS+ z.${i}\r\n`;
    await hostile.send(lines);
    await sync(hostile);
    // Clients still subscribe, and the leaf hears of it.
    const got = [];
    honest.subscribe("honest.x", { callback: (_e, m) => got.push(m.string()) });
    await flush(honest);
    await hostile.readUntil("LS+ honest.x\r\n");
    await hostile.send("LMSG honest.x 2\r\nok\r\n");
    await waitFor(() => got.includes("ok"), MS, "the leaf's message to the honest client");
    // The last subject natsedge took, the first it dropped, then one it took
    // as a barrier behind them on the same path.
    const kept = TINY_TRIE_SHARE - 2;
    const dropped = TINY_TRIE_SHARE - 1;
    honest.publish(`z.${kept}`, "k");
    honest.publish(`z.${dropped}`, "d");
    honest.publish("z.0", "b");
    await flush(honest);
    const text = await hostile.readUntil("LMSG z.0 1\r\nb\r\n");
    assert.ok(text.includes(`LMSG z.${kept} 1\r\nk\r\n`), `the leaf got ${JSON.stringify(text)}`);
    assert.equal(text.includes(`LMSG z.${dropped} 1\r\nd\r\n`), !isNatsedge, `the leaf got ${JSON.stringify(text)}`);
    if (isNatsedge) {
      await waitFor(() => hub.logs().includes(`Leafnode interest in "z.${dropped}" dropped`), MS, "the log line");
    }
    hostile.destroy();
  } finally {
    await close(honest);
    await hub.stop();
  }
});
