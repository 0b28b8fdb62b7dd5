// Leaf soak: traffic both ways through the broker under test as a leaf of
// nats-server while the hub is restarted again and again. After every
// restart delivery must resume in both directions; at the end the broker
// must still run and exit cleanly, and natsedge's pools (natsedge_pools in
// /varz) must be back to the level they had with the link up and no clients
// (the /varz request's own connection and response chunk included in both).
// The hub restarts on a new port behind a proxy that keeps the leaf's URL.
//
//   LEAF_SOAK_SECONDS          length of the run (default 30: the make test run;
//                              15 with a sanitized binary)
//   LEAF_SOAK_RESTART_SECONDS  hub restart period (default 10)
// `make soak-leaf` runs 300 s with a restart every 30 s.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { startServer, stopAll, sleep, waitFor, kindOf, tcpProxy, getJSON } from "./lib/harness.mjs";

const HUB_BIN = process.env.NATS_SERVER_BIN || "/usr/sbin/nats-server";
const isNatsedge = kindOf(process.env.NATSEDGE_BIN) === "natsedge";
// The sanitized run of make test (an -asan binary) takes half as long.
const asan = /-asan\//.test(process.env.NATSEDGE_BIN || "");
const SECONDS = Number(process.env.LEAF_SOAK_SECONDS || (asan ? 15 : 30));
const RESTART_SECONDS = Number(process.env.LEAF_SOAK_RESTART_SECONDS || (asan ? 5 : 10));

after(async () => {
  await stopAll();
});

// A flush that gives up after `ms`: a stuck flush must show up as a failed
// check with its phase, not as a hung test.
const flushed = (conn, ms = 3000) =>
  Promise.race([conn.flush().then(() => true, () => false), sleep(ms).then(() => false)]);

const pools = async (monPort) => (await getJSON(monPort, "/varz")).natsedge_pools;
const links = async (monPort) => (await getJSON(monPort, "/leafz")).leafnodes;

test(`leaf soak: ${SECONDS} s of traffic, hub restarted every ${RESTART_SECONDS} s`, { timeout: (SECONDS + 120) * 1000 }, async () => {
  const startHub = () =>
    startServer({ bin: HUB_BIN, ports: ["leaf"], config: (p) => `leafnodes { listen: 127.0.0.1:${p.leaf} }\n` });
  let hub = await startHub();
  const proxy = await tcpProxy(hub.ports.leaf);
  const leaf = await startServer({
    ports: ["http"],
    args: (p) => ["-m", String(p.http)],
    config: `leafnodes { remotes [ { url: "nats-leaf://127.0.0.1:${proxy.port}" } ], reconnect: 1 }\n`,
  });
  const monPort = leaf.ports.http;
  await waitFor(async () => (await links(monPort)) === 1, 10000, "link up");
  // The idle level: the link and the hub's interest ($LDS) settled, read
  // twice in a row the same.
  let idle = null;
  if (isNatsedge) {
    await waitFor(async () => {
      const a = await pools(monPort);
      const b = await pools(monPort);
      idle = b;
      return JSON.stringify(a) === JSON.stringify(b) && b.subscriptions >= 1;
    }, 5000, "the pools' idle level");
  }

  const l = await connect({ servers: `127.0.0.1:${leaf.port}`, reconnect: false });
  const counts = { down: 0, up: 0, queue: 0 };
  l.subscribe("soak.down.>", { callback: () => counts.down++ });
  l.subscribe("soak.q", { queue: "workers", callback: () => counts.queue++ });
  await l.flush();

  let h = null;
  let hubSub = null;
  const connectHub = async () => {
    h = await connect({ servers: `127.0.0.1:${hub.port}`, reconnect: false });
    hubSub = h.subscribe("soak.up.>", { callback: () => counts.up++ });
    await h.flush();
  };
  await connectHub();

  let running = true;
  const payload = new Uint8Array(256);
  const leafPump = (async () => {
    let i = 0;
    while (running) {
      for (let k = 0; k < 20; k++) {
        l.publish(`soak.up.${i % 7}`, payload);
        l.publish("soak.q", payload);
        i++;
      }
      await flushed(l);
      await sleep(10);
    }
  })();
  const hubPump = async () => {
    let i = 0;
    const me = h;
    while (running && me === h && !me.isClosed()) {
      try {
        for (let k = 0; k < 20; k++) me.publish(`soak.down.${i++ % 5}`, payload);
        await flushed(me);
      } catch {
        return;
      }
      await sleep(10);
    }
  };
  let hubPumpDone = hubPump();

  const deadline = Date.now() + SECONDS * 1000;
  let restarts = 0;
  while (Date.now() + RESTART_SECONDS * 1000 <= deadline) {
    await sleep(RESTART_SECONDS * 1000 - 1000);
    // Restart the hub while the leaf's clients keep publishing.
    const oldH = h;
    h = null;
    await Promise.race([oldH.close().catch(() => {}), sleep(3000)]);
    await hubPumpDone;
    await hub.stop();
    await waitFor(async () => (await links(monPort)) === 0, 5000, "the leaf to see the hub gone");
    hub = await startHub();
    proxy.target = hub.ports.leaf;
    restarts++;
    await connectHub();
    hubPumpDone = hubPump();
    const up0 = counts.up;
    const down0 = counts.down;
    await waitFor(() => counts.up > up0 && counts.down > down0, 8000, `delivery after restart ${restarts}`)
      .catch((e) => {
        throw new Error(`${e.message} (up ${counts.up - up0}, down ${counts.down - down0}):\n${leaf.logs().slice(-3000)}`);
      });
    assert.ok(leaf.alive(), "natsedge still running");
  }
  await sleep(Math.max(0, deadline - Date.now()));
  running = false;
  await leafPump;
  const oldH = h;
  h = null;
  await hubPumpDone;
  hubSub?.unsubscribe();
  await Promise.race([oldH.close().catch(() => {}), sleep(3000)]);
  await Promise.race([l.close().catch(() => {}), sleep(3000)]);
  assert.ok(restarts >= 1);
  assert.ok(counts.up > 0 && counts.down > 0 && counts.queue > 0);
  if (!isNatsedge) {
    // nats-server has no pools to count: it is still running, and stops.
    assert.ok(leaf.alive());
    await leaf.stop();
    await proxy.close();
    await hub.stop();
    return;
  }
  // Back to idle: only the link and the hub's interest remain.
  let last = null;
  await waitFor(async () => {
    const p = (last = await pools(monPort));
    return p.chunks === idle.chunks && p.outrefs === idle.outrefs && p.connections === idle.connections &&
      p.subscriptions === idle.subscriptions && p.leaf_interest === idle.leaf_interest &&
      p.trie_nodes === idle.trie_nodes && p.leaf_connections === 1;
  }, 10000, "pools back to idle").catch((e) => {
    throw new Error(`${e.message}: idle ${JSON.stringify(idle)}, now ${JSON.stringify(last)}`);
  });
  assert.ok(leaf.alive());
  assert.equal(await leaf.stop(), 0);
  await proxy.close();
  await hub.stop();
});
