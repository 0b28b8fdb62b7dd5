// A user of the server's authorization logging in on the leaf port brings
// its permissions, seen from the other side (issue 13 item 3): its
// subscribe permissions limit what the hub sends to the leaf, its publish
// permissions what the leaf may send in. The scenario: a user
// allowed to publish only telemetry.> and subscribe only cmd.sensor sends
// LS+ secret.> and must not receive secret.payroll. Raw-socket leafs and a
// real leaf (the broker under test as a leaf, nats.js on both sides), each
// against the broker under test (NATSEDGE_BIN) as the hub and against
// Debian's nats-server 2.9.10. IDs: LN-40..LN-44 (new, probed on
// nats-server 2.9.10), LN-26.
import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { startServer, stopAll, rawConnect, freePort, sleep, waitFor, kindOf, parseInfo } from "../interop/lib/harness.mjs";

const require = createRequire(new URL("../interop/package.json", import.meta.url));
const { connect } = require("@nats-io/transport-node");

after(async () => {
  await stopAll();
});

const NATS_SERVER = process.env.NATS_SERVER_BIN || "/usr/sbin/nats-server";
const HUBS = [...new Set([process.env.NATSEDGE_BIN, NATS_SERVER])];

function hubConfig(leafPort) {
  return `leafnodes { listen: "127.0.0.1:${leafPort}" }
authorization {
  users [
    { user: sensor, password: s, permissions: { publish: "telemetry.>", subscribe: "cmd.sensor" } }
    { user: admin, password: a }
  ]
}
`;
}

async function startHub(bin) {
  const leafPort = await freePort();
  const hub = await startServer({ bin, config: hubConfig(leafPort) });
  hub.leafPort = leafPort;
  return hub;
}

// A raw leaf logged in as `user`: returns the socket and the hub's second
// INFO (connect_info).
async function rawLeaf(hub, user = "sensor", pass = "s") {
  const l = await rawConnect(hub.leafPort);
  await l.readUntil("\r\n");
  await l.send(`CONNECT ${JSON.stringify({ user, pass, name: "hostile", server_id: "NHOSTILE", headers: true })}\r\n`);
  const info = parseInfo(await l.readUntil(/INFO \{.*"connect_info":true.*\r\n/));
  return { l, info };
}

async function admin(hub) {
  return connect({ servers: `127.0.0.1:${hub.port}`, user: "admin", pass: "a", reconnect: false });
}

// The leaf's PING is answered after everything the hub queued before it.
async function sync(l) {
  await l.send("PING\r\n");
  return l.readUntil("PONG\r\n");
}

for (const bin of HUBS) {
  const kind = kindOf(bin);
  describe(`hub: ${kind}`, () => {
    test(`the hub's INFO tells the leaf its user's permissions as import and export (LN-40) [${kind}]`, async () => {
      const hub = await startHub(bin);
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

    test(`LS+ secret.> from the leaf: accepted, but secret.payroll never reaches it; cmd.sensor does (issue scenario, LN-42, LN-43) [${kind}]`, async () => {
      const hub = await startHub(bin);
      const a = await admin(hub);
      try {
        const { l } = await rawLeaf(hub);
        await l.send("LS+ secret.>\r\nLS+ cmd.>\r\nLS+ >\r\n");
        await sync(l);
        assert.ok(!l.isClosed(), "wildcard interest is not a violation");
        a.publish("secret.payroll", "salaries");
        a.publish("cmd.other", "no");
        a.publish("cmd.sensor", "go");
        await a.flush();
        const got = await l.readUntil("LMSG cmd.sensor 2\r\ngo\r\n");
        await sync(l);
        const all = l.received();
        assert.ok(!all.includes("secret.payroll") && !all.includes("salaries"), `leaf got: ${JSON.stringify(all)}`);
        assert.ok(!all.includes("cmd.other"));
        assert.ok(got.length > 0);
        l.destroy();
      } finally {
        await a.close();
        await hub.stop();
      }
    });

    test(`the hub sends the leaf only interest its user may publish to (LN-41) [${kind}]`, async () => {
      const hub = await startHub(bin);
      const a = await admin(hub);
      try {
        const { l } = await rawLeaf(hub);
        for (const s of ["telemetry.x", "secret.inbox", "cmd.>", ">", "telemetry.*", "*.x"]) a.subscribe(s);
        await a.flush();
        // The three it may have arrive (bounded); then a PING/PONG barrier
        // shows nothing else was sent before it.
        const want = ["LS+ >\r\n", "LS+ telemetry.*\r\n", "LS+ telemetry.x\r\n"];
        await waitFor(() => want.every((w) => l.received().includes(w)), 5000, "the allowed LS+ lines");
        const text = await sync(l);
        const sent = [...text.matchAll(/^LS\+ (\S+)\r$/gm)].map((m) => m[1]).filter((s) => !s.startsWith("$"));
        assert.deepEqual(sent.sort(), [">", "telemetry.*", "telemetry.x"]);
        l.destroy();
      } finally {
        await a.close();
        await hub.stop();
      }
    });

    test(`LS+ of a literal subject the user may not receive: -ERR and the leaf is closed (LN-42) [${kind}]`, async () => {
      const hub = await startHub(bin);
      try {
        const { l } = await rawLeaf(hub);
        await l.send("LS+ cmd.sensor\r\nLS+ secret.payroll\r\n");
        assert.ok(await l.closedWithin(5000));
        assert.match(l.received(), /-ERR 'Permissions Violation for Subscription to "secret\.payroll"'\r\n$/);
        await waitFor(() => /Subscription Violation on "secret\.payroll" - Check other side configuration/.test(hub.logs()),
          5000, "the violation in the log");
      } finally {
        await hub.stop();
      }
    });

    test(`LMSG from the leaf: telemetry.x is delivered; secret.inbox is refused by natsedge, delivered by nats-server 2.9.10 (LN-44) [${kind}]`, async () => {
      const hub = await startHub(bin);
      const a = await admin(hub);
      try {
        const seen = [];
        for (const s of ["telemetry.x", "secret.inbox"]) {
          a.subscribe(s, { callback: (_e, m) => seen.push(`${m.subject}:${m.string()}`) });
        }
        await a.flush();
        const { l } = await rawLeaf(hub);
        await sync(l);
        await l.send("LMSG telemetry.x 2\r\nok\r\n");
        await waitFor(() => seen.includes("telemetry.x:ok"), 5000, "telemetry from the leaf");
        await l.send("LMSG secret.inbox 3\r\nbad\r\n");
        if (kind === "natsedge") {
          assert.ok(await l.closedWithin(5000));
          assert.match(l.received(), /-ERR 'Permissions Violation for Publish to "secret\.inbox"'\r\n$/);
          await a.flush();
          await sleep(200);
          assert.ok(!seen.includes("secret.inbox:bad"), "nothing delivered");
        } else {
          // nats-server 2.9.10 does not check what a leaf publishes (fixed
          // in 2.14, differences.md).
          await waitFor(() => seen.includes("secret.inbox:bad"), 5000, "2.9.10 delivers it");
        }
      } finally {
        await a.close();
        await hub.stop();
      }
    });

    test(`a real leaf logged in as the user: its clients get cmd.sensor and never secret.payroll, and publish telemetry (nats.js, LN-26, LN-43) [${kind}]`, async () => {
      const hub = await startHub(bin);
      const leaf = await startServer({
        config: `leafnodes { remotes [ { url: "nats-leaf://sensor:s@127.0.0.1:${hub.leafPort}" } ], reconnect: 1 }\n`,
      });
      const a = await admin(hub);
      const e = await connect({ servers: `127.0.0.1:${leaf.port}`, reconnect: false });
      try {
        const got = [];
        e.subscribe("secret.>", { callback: (_e, m) => got.push(m.subject) });
        e.subscribe("cmd.sensor", { callback: (_e, m) => got.push(m.subject) });
        const up = [];
        a.subscribe("telemetry.>", { callback: (_e, m) => up.push(m.string()) });
        await e.flush();
        await a.flush();
        // Until the link is up and the interest has crossed it.
        await waitFor(async () => {
          a.publish("cmd.sensor", "ping");
          await a.flush();
          await sleep(50);
          return got.includes("cmd.sensor");
        }, 10000, "cmd.sensor across the link");
        a.publish("secret.payroll", "salaries");
        a.publish("cmd.sensor", "last");
        await a.flush();
        await waitFor(() => got.filter((s) => s === "cmd.sensor").length >= 2, 5000, "the last cmd.sensor");
        assert.ok(!got.includes("secret.payroll"), `leaf client got ${got}`);
        await waitFor(async () => {
          e.publish("telemetry.t1", "t");
          await e.flush();
          await sleep(50);
          return up.includes("t");
        }, 10000, "telemetry across the link");
      } finally {
        await e.close();
        await a.close();
        await leaf.stop();
        await hub.stop();
      }
    });
  });
}
