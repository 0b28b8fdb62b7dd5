// The leaf interest a hub announces (LS+/LS-) against hostile peers:
//   - issue 13 item 6: a client of another account subscribing to and
//     unsubscribing from a subject must not withdraw (LS-) the interest the
//     leaf's own account still holds (LN-11, LN-12, LN-27).
// Each case runs against the broker under test and Debian's nats-server
// 2.9.10.
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
}
