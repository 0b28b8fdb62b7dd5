// The leaf interest a hub announces (LS+/LS-) against hostile peers:
//   - issue 13 item 6: a client of another account subscribing to and
//     unsubscribing from a subject must not withdraw (LS-) the interest the
//     leaf's own account still holds (LN-11, LN-12, LN-27);
//   - the interest table (NE_LEAF_INTEREST_ENTRIES, 16 in the small build)
//     held by one hostile peer, a client subscribing to ever more subjects
//     or a leaf announcing them: the peer is refused at its share
//     (NE_LEAF_INTEREST_PER_CONNECTION, half the table), everyone else's
//     interest still crosses the link.
// Each case runs against the broker under test and Debian's nats-server
// 2.9.10 (which has no such table: the refusals are natsedge's).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { startServer, stopAll, rawConnect, freePort, sleep, waitFor, kindOf } from "../interop/lib/harness.mjs";

const require = createRequire(new URL("../interop/package.json", import.meta.url));
const { connect } = require("@nats-io/transport-node");

after(async () => {
  await stopAll();
});

const NATS_SERVER = process.env.NATS_SERVER_BIN || "/usr/sbin/nats-server";
const BROKERS = [...new Set([process.env.NATSEDGE_BIN, NATS_SERVER])];
// The small build (NATSEDGE_SMALL_BIN) for the broker under test; nats-server
// gets the same limits in its configuration (harness SMALL_CONFIG).
const small = (bin) => (bin === process.env.NATSEDGE_BIN ? process.env.NATSEDGE_SMALL_BIN || bin : bin);
const TABLE = 16; // NE_LEAF_INTEREST_ENTRIES of the small build
const SHARE = TABLE / 2; // NE_LEAF_INTEREST_PER_CONNECTION

// A raw leaf peer: INFO read, CONNECT sent, the hub's connect_info INFO read.
// Each has its own name (nats-server replaces a leaf of the same name, LN-09).
let peers = 0;
async function rawLeaf(leafPort, creds = {}) {
  const l = await rawConnect(leafPort);
  await l.readUntil("\r\n");
  const id = `NPEER${++peers}`;
  await l.send(`CONNECT ${JSON.stringify({ ...creds, name: id, server_id: id, headers: true })}\r\n`);
  await l.readUntil(/"connect_info":true.*\r\n/);
  return l;
}

async function sync(l) {
  await l.send("PING\r\n");
  return l.readUntil("PONG\r\n");
}

for (const bin of BROKERS) {
  const kind = kindOf(bin);

  test(`another account's unsubscribe does not withdraw the leaf's interest (issue 13 item 6, LN-12) [${kind}]`, async () => {
    const leafPort = await freePort();
    const hub = await startServer({
      bin,
      config: `accounts {
  A { users [ { user: a, password: pa } ] }
  B { users [ { user: b, password: pb } ] }
}
leafnodes { listen: "127.0.0.1:${leafPort}", authorization { users [ { user: leaf, password: pl, account: A } ] } }
`,
    });
    const a = await connect({ servers: `127.0.0.1:${hub.port}`, user: "a", pass: "pa", reconnect: false });
    const b = await connect({ servers: `127.0.0.1:${hub.port}`, user: "b", pass: "pb", reconnect: false });
    try {
      const l = await rawLeaf(leafPort, { user: "leaf", pass: "pl" });
      const got = [];
      a.subscribe("foo", { callback: (_e, m) => got.push(m.string()) });
      await a.flush();
      await l.readUntil("LS+ foo\r\n");
      const bs = b.subscribe("foo");
      await b.flush();
      bs.unsubscribe();
      await b.flush();
      await sleep(100);
      const text = await sync(l);
      assert.ok(!text.includes("LS- foo"), `the leaf got ${JSON.stringify(text)}`);
      // A still listens: what the leaf sends on foo reaches it.
      await l.send("LMSG foo 2\r\nhi\r\n");
      await waitFor(() => got.includes("hi"), 5000, "the leaf's message to A");
      // A's own unsubscribe does withdraw it.
      await a.close();
      await l.readUntil("LS- foo\r\n");
      l.destroy();
    } finally {
      if (!a.isClosed()) await a.close();
      await b.close();
      await hub.stop();
    }
  });

  test(`a client subscribing to ever more subjects is refused at its share of the leaf interest table; others still reach the leaf [${kind}]`, async () => {
    const leafPort = await freePort();
    const hub = await startServer({ bin: small(bin), small: true, config: `leafnodes { listen: "127.0.0.1:${leafPort}" }\n` });
    const honest = await connect({ servers: `127.0.0.1:${hub.port}`, reconnect: false });
    try {
      const l = await rawLeaf(leafPort);
      const hostile = await rawConnect(hub.port);
      await hostile.readUntil("\r\n");
      let subs = 'CONNECT {"verbose":false,"pedantic":false}\r\n';
      for (let i = 0; i < TABLE; i++) subs += `SUB h.${i} ${i + 1}\r\n`;
      await hostile.send(subs + "PING\r\n");
      const answer = await hostile.readUntil("PONG\r\n");
      const refused = answer.split("-ERR 'maximum subscriptions exceeded'").length - 1;
      if (kind === "natsedge") assert.equal(refused, TABLE - SHARE, "the hostile client is refused beyond its share");
      else assert.equal(refused, 0);
      // The honest client's subscription crosses the link and gets what
      // the leaf sends.
      const got = [];
      honest.subscribe("honest.x", { callback: (_e, m) => got.push(m.string()) });
      await honest.flush();
      await l.readUntil("LS+ honest.x\r\n");
      await l.send("LMSG honest.x 2\r\nok\r\n");
      await waitFor(() => got.includes("ok"), 5000, "the leaf's message to the honest client");
      assert.ok(!hostile.isClosed());
      hostile.destroy();
      l.destroy();
    } finally {
      await honest.close();
      await hub.stop();
    }
  });

  test(`a leaf announcing ever more subjects: beyond its share they are not passed on; others' interest is [${kind}]`, async () => {
    const leafPort = await freePort();
    const hub = await startServer({ bin: small(bin), small: true, config: `leafnodes { listen: "127.0.0.1:${leafPort}" }\n` });
    const honest = await connect({ servers: `127.0.0.1:${hub.port}`, reconnect: false });
    try {
      const quiet = await rawLeaf(leafPort);
      const hostile = await rawLeaf(leafPort);
      let lines = "";
      for (let i = 0; i < TABLE; i++) lines += `LS+ z.${i}\r\n`;
      await hostile.send(lines);
      await sync(hostile);
      await sleep(100);
      const passed = (await sync(quiet)).split("\r\n").filter((x) => /^LS\+ z\./.test(x)).length;
      assert.equal(passed, kind === "natsedge" ? SHARE : TABLE);
      honest.subscribe("honest.y");
      await honest.flush();
      await quiet.readUntil("LS+ honest.y\r\n");
      // Its interest beyond the share still brings it its messages.
      honest.publish(`z.${TABLE - 1}`, "zz");
      await honest.flush();
      await hostile.readUntil(`LMSG z.${TABLE - 1} 2\r\nzz\r\n`);
      quiet.destroy();
      hostile.destroy();
    } finally {
      await honest.close();
      await hub.stop();
    }
  });
}
