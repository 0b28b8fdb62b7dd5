// Leaf node interop: the broker under test (NATSEDGE_BIN: natsedge, or
// nats-server in the parity pass) as a leaf of Debian's nats-server, and as a
// hub for nats-server leafs. IDs refer to section 2 of the NATS inventory
// (LN-xx).
//
//   - one hub: interest both ways (LN-10..LN-13, LN-20), messages with
//     headers and replies (LN-17..LN-19), queue groups on both sides with
//     local members preferred, interest removal (LS-);
//   - a 3-node nats-server cluster as the hub (urls list): the same, plus
//     the largest payload;
//   - the hub restarted: reconnect, interest re-sync, subscriptions made while
//     the link was down (LN-28);
//   - failure paths seen on the wire and in /leafz, never by counting log
//     lines: a hub that closes at once (attempts at the reconnect delay), URL
//     rotation, the handshake deadline, refused credentials, a wrong CA;
//   - the spoke and hub roles (LN-01, LN-12);
//   - user/password, token and JWT credentials toward the hub (LN-24..LN-26).
//
// "Nothing else arrives" is shown by a barrier: a message sent behind the
// ones that must not arrive, on the same path, arrives (links are FIFO).
import { test, after, describe } from "node:test";
import assert from "node:assert/strict";
import { connect, credsAuthenticator, headers as natsHeaders, createInbox } from "@nats-io/transport-node";
import { createOperator, createAccount, createUser } from "@nats-io/nkeys";
import { encodeOperator, encodeAccount, encodeUser, fmtCreds } from "@nats-io/jwt";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  startServer, stopAll, sleep, waitFor, within, brokerKind, tcpProxy, listenRecorder, getJSON,
} from "./lib/harness.mjs";

const HUB_BIN = process.env.NATS_SERVER_BIN || "/usr/sbin/nats-server";
const isNatsedge = brokerKind() === "natsedge";

after(async () => {
  await stopAll();
});

const td = new TextDecoder();
const te = new TextEncoder();
const MS = 5000;

async function nc(server, opts = {}) {
  return connect({ servers: `127.0.0.1:${server.port}`, reconnect: false, ...opts });
}

const close = (...conns) => within(Promise.all(conns.map((c) => c?.close())), MS, "the clients' close");

// Publishes on `subject` from `pub` until `sub` (already subscribed there)
// gets one: the interest has crossed the link. Bounded in time. Any message
// published on the same path before the call has then arrived too.
async function waitRoute(pubConn, subConn, subject, ms = 8000) {
  const sub = subConn.subscribe(subject);
  await within(subConn.flush(), MS, "flush");
  let got = false;
  (async () => {
    for await (const _m of sub) {
      got = true;
      break;
    }
  })();
  const deadline = Date.now() + ms;
  while (!got && Date.now() < deadline) {
    pubConn.publish(subject, "probe");
    await within(pubConn.flush(), MS, "flush");
    await sleep(50);
  }
  sub.unsubscribe();
  if (!got) throw new Error(`no route for ${subject} within ${ms} ms`);
}

let barrierSeq = 0;
// Everything `from` published before this call, toward `to` across the
// link(s), has arrived.
const barrier = (from, to) => waitRoute(from, to, `barrier.${process.pid}.${++barrierSeq}`);

// Collects what a subscription receives.
function collect(conn, subject, opts = {}) {
  const sub = conn.subscribe(subject, opts);
  const msgs = [];
  (async () => {
    for await (const m of sub) msgs.push(m);
  })();
  return { sub, msgs };
}

const hubConfig = (leafPort, extra = "") => `leafnodes { listen: 127.0.0.1:${leafPort}\n${extra} }\n`;
const remoteConfig = (url, extra = "") =>
  `leafnodes { remotes [ { url: "${url}"${extra ? `, ${extra}` : ""} } ], reconnect: 1 }\n`;

// A nats-server hub with a leafnode port (and a monitoring port).
const startHub = (extra = "", prefix = "") =>
  startServer({
    bin: HUB_BIN,
    ports: ["leaf", "http"],
    args: (p) => ["-m", String(p.http)],
    config: (p) => prefix + hubConfig(p.leaf, extra),
  });

// The broker under test as a leaf, with a monitoring port.
const startLeaf = (config, opts = {}) =>
  startServer({ ports: ["http"], args: (p) => ["-m", String(p.http)], config, ...opts });

const leafz = (server, q = "") => getJSON(server.ports.http, `/leafz${q}`);
const linkCount = async (server) => (await leafz(server)).leafnodes;
// The interest a server's leaf connections received from their peers.
const learned = async (server) => (await leafz(server, "?subs=1")).leafs.flatMap((l) => l.subscriptions_list ?? []);

describe("the broker as a leaf of one nats-server hub", () => {
  let hub, leaf, h, l;
  test("set up: the link comes up (LN-02..LN-07)", async () => {
    hub = await startHub();
    leaf = await startLeaf(remoteConfig(`nats-leaf://127.0.0.1:${hub.ports.leaf}`));
    h = await nc(hub);
    l = await nc(leaf);
    await waitRoute(h, l, "ready.hub-to-leaf");
    await waitRoute(l, h, "ready.leaf-to-hub");
    assert.equal(await linkCount(leaf), 1);
    assert.equal(await linkCount(hub), 1);
  });

  test("messages cross both ways with wildcards (LN-10, LN-17, LN-20)", async () => {
    const a = collect(h, "edge.*.temp");
    const b = collect(l, "cloud.>");
    await waitRoute(l, h, "edge.x.temp");
    await waitRoute(h, l, "cloud.y.z");
    for (let i = 0; i < 20; i++) {
      l.publish(`edge.d${i}.temp`, `t${i}`);
      h.publish(`cloud.cmd.${i}`, `c${i}`);
    }
    await waitFor(() => a.msgs.length >= 21 && b.msgs.length >= 21, 5000, "messages");
    assert.deepEqual(
      a.msgs.slice(-20).map((m) => [m.subject, td.decode(m.data)]),
      Array.from({ length: 20 }, (_, i) => [`edge.d${i}.temp`, `t${i}`]),
    );
    assert.equal(td.decode(b.msgs.at(-1).data), "c19");
    a.sub.unsubscribe();
    b.sub.unsubscribe();
  });

  test("headers cross both ways (LN-19)", async () => {
    const a = collect(h, "hdr.leaf");
    const b = collect(l, "hdr.hub");
    await waitRoute(l, h, "hdr.leaf");
    await waitRoute(h, l, "hdr.hub");
    const hd = natsHeaders();
    hd.set("X-Edge", "one");
    l.publish("hdr.leaf", "p1", { headers: hd });
    const hd2 = natsHeaders();
    hd2.set("X-Cloud", "two");
    h.publish("hdr.hub", "p2", { headers: hd2 });
    await waitFor(() => a.msgs.some((m) => m.headers) && b.msgs.some((m) => m.headers), 5000, "headers");
    assert.equal(a.msgs.find((m) => m.headers).headers.get("X-Edge"), "one");
    assert.equal(b.msgs.find((m) => m.headers).headers.get("X-Cloud"), "two");
  });

  test("request/reply across the link both ways", async () => {
    const s1 = l.subscribe("svc.leaf", { callback: (_e, m) => m.respond(te.encode("from-leaf:" + td.decode(m.data))) });
    const s2 = h.subscribe("svc.hub", { callback: (_e, m) => m.respond(te.encode("from-hub:" + td.decode(m.data))) });
    await waitRoute(h, l, "svc.leaf.ready");
    await waitFor(async () => {
      try {
        return td.decode((await h.request("svc.leaf", "q1", { timeout: 500 })).data) === "from-leaf:q1";
      } catch {
        return false;
      }
    }, 6000, "hub -> leaf request");
    await waitFor(async () => {
      try {
        return td.decode((await l.request("svc.hub", "q2", { timeout: 500 })).data) === "from-hub:q2";
      } catch {
        return false;
      }
    }, 6000, "leaf -> hub request");
    s1.unsubscribe();
    s2.unsubscribe();
  });

  test("queue groups with members on both sides: local members are preferred (LN-11, LN-13)", async () => {
    const qh = collect(h, "work.>", { queue: "workers" });
    const ql = collect(l, "work.>", { queue: "workers" });
    // Each side knows the other's member before anything is published.
    await waitFor(async () => (await learned(hub)).includes("work.>") && (await learned(leaf)).includes("work.>"),
      8000, "the queue interest on both sides");
    for (let i = 0; i < 30; i++) {
      l.publish("work.leaf", `${i}`);
      h.publish("work.hub", `${i}`);
    }
    await waitFor(() => qh.msgs.length + ql.msgs.length >= 60, 5000, "queue deliveries");
    // Nothing more is on its way across the link in either direction.
    await barrier(l, h);
    await barrier(h, l);
    assert.equal(ql.msgs.length, 30);
    assert.ok(ql.msgs.every((m) => m.subject === "work.leaf"));
    assert.equal(qh.msgs.length, 30);
    assert.ok(qh.msgs.every((m) => m.subject === "work.hub"));
    // With the leaf's member gone, the hub's member gets the leaf's messages.
    ql.sub.unsubscribe();
    await within(l.flush(), MS, "flush");
    await waitFor(async () => {
      l.publish("work.leaf", "late");
      await within(l.flush(), MS, "flush");
      await sleep(50);
      return qh.msgs.some((m) => m.subject === "work.leaf");
    }, 5000, "queue member across the link");
    qh.sub.unsubscribe();
  });

  test("/leafz shows the link with nats-server's fields (MON-05)", async () => {
    const z = await leafz(leaf, "?subs=1");
    assert.deepEqual(Object.keys(z), ["server_id", "now", "leafnodes", "leafs"]);
    assert.equal(z.leafnodes, 1);
    const lf = z.leafs[0];
    assert.deepEqual(Object.keys(lf), [
      "account", "ip", "port", "rtt", "in_msgs", "out_msgs", "in_bytes", "out_bytes",
      "subscriptions", "subscriptions_list",
    ]);
    assert.equal(lf.account, "$G");
    assert.equal(lf.ip, "127.0.0.1");
    assert.equal(lf.port, hub.ports.leaf);
    assert.ok(lf.subscriptions >= 1);
    assert.equal(lf.subscriptions, lf.subscriptions_list.length);
    assert.ok(lf.subscriptions_list.some((s) => s.startsWith("$LDS.")));
    assert.ok(lf.in_msgs > 0 && lf.out_msgs > 0);
  });

  test("unsubscribing removes the interest on the hub (LS-, LN-11)", async () => {
    const s = l.subscribe("gone.soon", { callback: (_e, m) => m.respond(te.encode("here")) });
    await waitFor(async () => (await learned(hub)).includes("gone.soon"), 5000, "the interest at the hub");
    s.unsubscribe();
    await within(l.flush(), MS, "flush");
    await waitFor(async () => !(await learned(hub)).includes("gone.soon"), 5000, "the interest gone from the hub");
    // The hub answers no-responders at once now.
    await assert.rejects(h.request("gone.soon", "", { timeout: 2000 }), /no responders/i);
  });

  test("tear down", async () => {
    await close(h, l);
    await leaf.stop();
    await hub.stop();
  });
});

// Three nats-server nodes routed to the first one (the others learn the
// whole cluster from it): each node's own ports come from the harness.
async function startCluster(name, n = 3) {
  const nodes = [];
  for (let i = 0; i < n; i++) {
    const seed = nodes[0];
    nodes.push(
      await startServer({
        bin: HUB_BIN,
        ports: ["leaf", "cluster", "http"],
        args: (p) => ["-m", String(p.http)],
        config: (p) =>
          `server_name: ${name}-${i}\n` +
          `cluster { name: ${name}, listen: 127.0.0.1:${p.cluster}` +
          (seed ? `, routes: [ nats-route://127.0.0.1:${seed.ports.cluster} ]` : "") +
          " }\n" +
          hubConfig(p.leaf),
      }),
    );
  }
  // The routes are up: every node sees the other two.
  for (const s of nodes) {
    await waitFor(async () => (await getJSON(s.ports.http, "/varz")).routes === n - 1, 10000, `${name}: routes`);
  }
  return nodes;
}

describe("the broker as a leaf of a 3-node nats-server cluster", () => {
  let hubs = [];
  let leaf;
  let conns = [];
  test("set up: every node reaches the leaf and back", async () => {
    hubs = await startCluster("cloud");
    const urls = hubs.map((s) => `"nats-leaf://127.0.0.1:${s.ports.leaf}"`).join(", ");
    leaf = await startLeaf(`leafnodes { remotes [ { urls: [ ${urls} ] } ], reconnect: 1 }\n`);
    conns = [await nc(hubs[0]), await nc(hubs[1]), await nc(hubs[2]), await nc(leaf)];
    for (let i = 0; i < 3; i++) {
      await waitRoute(conns[i], conns[3], `ready.${i}`, 15000);
      await waitRoute(conns[3], conns[i], `back.${i}`, 15000);
    }
  });

  test("publishers on every cluster node reach the leaf, and the leaf reaches each node", async () => {
    const atLeaf = collect(conns[3], "fleet.>");
    const atHubs = [0, 1, 2].map((i) => collect(conns[i], "edge.report"));
    await waitRoute(conns[0], conns[3], "fleet.probe");
    for (let i = 0; i < 3; i++) await waitRoute(conns[3], conns[i], "edge.report");
    const before = atHubs.map((c) => c.msgs.length);
    for (let i = 0; i < 3; i++) conns[i].publish(`fleet.${i}`, `${i}`);
    for (let i = 0; i < 5; i++) conns[3].publish("edge.report", `${i}`);
    await waitFor(() => atLeaf.msgs.filter((m) => m.subject !== "fleet.probe").length >= 3, 5000, "leaf receives");
    await waitFor(() => atHubs.every((c, i) => c.msgs.length >= before[i] + 5), 5000, "hubs receive");
  });

  test("queue group: members on the cluster and on the leaf, each request delivered to one member and answered once", async () => {
    const received = { cloud0: 0, cloud2: 0, edge: 0 };
    const mk = (c, who) =>
      c.subscribe("rpc.q", {
        queue: "svc",
        callback: (_e, m) => {
          received[who]++;
          m.respond(te.encode(who));
        },
      });
    const subs = [mk(conns[0], "cloud0"), mk(conns[2], "cloud2"), mk(conns[3], "edge")];
    await waitFor(async () => (await learned(leaf)).includes("rpc.q"), 8000, "the cluster's members known at the leaf");
    // Requests on one inbox of our own, so that a second reply would be seen.
    const ask = async (conn, n, tag) => {
      const inbox = createInbox();
      const replies = [];
      const s = conn.subscribe(inbox, { callback: (_e, m) => replies.push(td.decode(m.data)) });
      await within(conn.flush(), MS, "flush");
      for (let i = 0; i < n; i++) {
        conn.publish("rpc.q", `${tag}${i}`, { reply: inbox });
        await waitFor(() => replies.length >= i + 1, 3000, `the reply to ${tag}${i}`);
      }
      return { replies, s };
    };
    const fromLeaf = await ask(conns[3], 10, "x");
    const fromCloud = await ask(conns[1], 10, "y");
    // Nothing more on its way: barriers from every node to the leaf and back.
    for (let i = 0; i < 3; i++) {
      await barrier(conns[i], conns[3]);
      await barrier(conns[3], conns[i]);
    }
    // From the leaf the local member always answers; from the cluster node
    // without a member some cluster member does. Each request once.
    assert.deepEqual(fromLeaf.replies, Array(10).fill("edge"));
    assert.equal(fromCloud.replies.length, 10);
    assert.ok(fromCloud.replies.every((r) => r === "cloud0" || r === "cloud2"), fromCloud.replies.join());
    assert.equal(received.cloud0 + received.cloud2 + received.edge, 20);
    fromLeaf.s.unsubscribe();
    fromCloud.s.unsubscribe();
    subs.forEach((s) => s.unsubscribe());
  });

  test("the largest payload crosses both ways (1 MiB, LN-17)", async () => {
    const big = new Uint8Array(1024 * 1024 - 512);
    for (let i = 0; i < big.length; i++) big[i] = i % 251;
    const a = collect(conns[3], "big.down");
    const b = collect(conns[1], "big.up");
    await waitRoute(conns[1], conns[3], "big.down");
    await waitRoute(conns[3], conns[1], "big.up");
    conns[1].publish("big.down", big);
    conns[3].publish("big.up", big);
    await waitFor(() => a.msgs.some((m) => m.data.length === big.length) && b.msgs.some((m) => m.data.length === big.length), 10000, "big messages");
    assert.deepEqual(a.msgs.find((m) => m.data.length === big.length).data, big);
    assert.deepEqual(b.msgs.find((m) => m.data.length === big.length).data, big);
  });

  test("tear down", async () => {
    await close(...conns);
    await leaf.stop();
    for (const s of hubs) await s.stop();
  });
});

describe("reconnect", () => {
  test("the hub restarted while clients publish: the leaf reconnects and re-syncs interest (LN-28)", async () => {
    let hub = await startHub();
    // The leaf keeps one address for the hub; the restarted hub listens on a
    // new port behind it.
    const proxy = await tcpProxy(hub.ports.leaf);
    const leaf = await startLeaf(remoteConfig(`nats-leaf://127.0.0.1:${proxy.port}`));
    let h = await nc(hub);
    const l = await nc(leaf);
    const before = collect(l, "restart.data");
    await waitRoute(h, l, "restart.data");
    // Keep the leaf's clients publishing while the hub is away.
    let publishing = true;
    const pumper = (async () => {
      let i = 0;
      while (publishing) {
        l.publish("to.cloud", `${i++}`);
        await sleep(20);
      }
    })();
    await close(h);
    await hub.stop();
    await waitFor(async () => (await linkCount(leaf)) === 0, 5000, "the leaf to see the link gone");
    // A subscription made while the link is down.
    const during = collect(l, "made.while.down");
    await within(l.flush(), MS, "flush");
    hub = await startHub();
    proxy.target = hub.ports.leaf;
    h = await nc(hub);
    const up = collect(h, "to.cloud");
    await waitFor(() => up.msgs.length > 0, 8000, "delivery resumes");
    await waitRoute(h, l, "made.while.down");
    h.publish("restart.data", "again");
    await waitFor(() => before.msgs.some((m) => td.decode(m.data) === "again"), 5000, "old subscription re-synced");
    assert.ok(during.msgs.length >= 1);
    publishing = false;
    await pumper;
    await close(h, l);
    await leaf.stop();
    await proxy.close();
    await hub.stop();
  });

  test("a hub that closes every connection at once: attempts one reconnect delay apart, no link in /leafz (LN-28)", async () => {
    const dead = await listenRecorder();
    const leaf = await startLeaf(remoteConfig(`nats-leaf://127.0.0.1:${dead.port}`));
    await waitFor(() => dead.conns.length >= 4, 10000, "four attempts");
    const gaps = dead.conns.slice(1).map((c, i) => c.at - dead.conns[i].at);
    // reconnect: 1 (second) between an attempt's end and the next one.
    assert.ok(gaps.every((g) => g >= 900), `attempts ${dead.conns.map((c) => c.at).join(", ")} ms`);
    assert.equal(await linkCount(leaf), 0);
    await leaf.stop();
    await dead.close();
  });

  test("URL rotation: with no_randomize two failing URLs are tried in turn, each attempt a reconnect delay after the last (LN-28)", async () => {
    const [a, b] = [await listenRecorder(), await listenRecorder()];
    const leaf = await startLeaf(
      `leafnodes { remotes [ { urls: [ "nats-leaf://127.0.0.1:${a.port}", "nats-leaf://127.0.0.1:${b.port}" ], no_randomize: true } ], reconnect: 1 }\n`,
    );
    await waitFor(() => a.conns.length + b.conns.length >= 4, 10000, "four attempts");
    const attempts = [...a.conns.map((c) => ["a", c.at]), ...b.conns.map((c) => ["b", c.at])].sort((x, y) => x[1] - y[1]);
    assert.deepEqual(attempts.slice(0, 4).map(([n]) => n), ["a", "b", "a", "b"]);
    for (let i = 1; i < 4; i++) assert.ok(attempts[i][1] - attempts[i - 1][1] >= 900, JSON.stringify(attempts));
    assert.equal(await linkCount(leaf), 0);
    await leaf.stop();
    await a.close();
    await b.close();
  });

  // natsedge gives connecting, the hub's INFO and its connect INFO one
  // deadline of NE_LEAF_HANDSHAKE_TIMEOUT_MS (4 s) and closes without an
  // error; nats-server waits 1 s for the INFO and 2 s for the connect INFO,
  // then sends -ERR 'Stale Leaf Node Connection - Closing' (differences.md,
  // "Handshake deadline"; tests/unit/test_leaf.c checks natsedge's exact
  // deadline on the simulated clock).
  test("the handshake deadline: a silent hub, and a hub that never sends the connect INFO, are closed (natsedge: 4 s for both; nats-server: 1 s, 2 s with -ERR) (LN-03, LN-07)", async () => {
    const info = (port) =>
      `INFO {"server_id":"NHUB","server_name":"hub","version":"2.9.10","proto":1,"headers":true,` +
      `"auth_required":true,"max_payload":1048576,"client_id":7,"nonce":"abc","info_on_connect":true,` +
      `"leafnode_urls":["127.0.0.1:${port}"]}\r\n`;
    const silent = await listenRecorder({ onConnection: () => {} });
    const half = await listenRecorder({ onConnection: (c) => c.socket.write(info(1)) });
    const leafA = await startLeaf(remoteConfig(`nats-leaf://127.0.0.1:${silent.port}`));
    const leafB = await startLeaf(remoteConfig(`nats-leaf://127.0.0.1:${half.port}`));
    await waitFor(() => silent.conns[0]?.closedAt !== null && half.conns[0]?.closedAt != null, 10000, "both closed");
    const [s0, h0] = [silent.conns[0], half.conns[0]];
    assert.ok(s0.closedAt - s0.at >= (isNatsedge ? 3900 : 900), `silent hub closed after ${s0.closedAt - s0.at} ms`);
    assert.ok(h0.closedAt - h0.at >= (isNatsedge ? 3900 : 1900), `INFO-only hub closed after ${h0.closedAt - h0.at} ms`);
    assert.equal(s0.received, "");
    assert.match(h0.received, /^CONNECT \{.*\}\r\n/);
    assert.equal(h0.received.replace(/^CONNECT \{.*\}\r\n/, ""), isNatsedge ? "" : "-ERR 'Stale Leaf Node Connection - Closing'\r\n");
    for (const s of [leafA, leafB]) assert.equal(await linkCount(s), 0);
    await leafA.stop();
    await leafB.stop();
    await silent.close();
    await half.close();
  });
});

// A refused attempt through a proxy: the hub's -ERR seen on the wire each
// time, the next attempt a reconnect delay later, no link on either side.
async function assertRefusedAttempts(proxy, leaf, hub, err) {
  await waitFor(() => proxy.conns.filter((c) => c.closedAt !== null && c.sent.includes(err)).length >= 2,
    10000, `two attempts refused with ${err}`);
  const refused = proxy.conns.filter((c) => c.sent.includes(err));
  assert.ok(refused[1].at - refused[0].at >= 900, `attempts at ${proxy.conns.map((c) => c.at).join(", ")} ms`);
  assert.equal(await linkCount(leaf), 0);
  assert.equal(await linkCount(hub), 0);
}

describe("authentication toward the hub (LN-24)", () => {
  test("user and password in the URL connect; a wrong password is refused by the hub on every attempt, retried at the delay", async () => {
    const hub = await startHub("authorization { user: edge, password: s3cret }");
    const proxy = await tcpProxy(hub.ports.leaf);
    const good = await startLeaf(remoteConfig(`nats-leaf://edge:s3cret@127.0.0.1:${proxy.port}`));
    const h = await nc(hub);
    const g = await nc(good);
    await waitRoute(h, g, "auth.ok");
    await close(g);
    await good.stop();
    await waitFor(async () => (await linkCount(hub)) === 0, 5000, "the good leaf gone");
    const bad = await startLeaf(remoteConfig(`nats-leaf://edge:wrong@127.0.0.1:${proxy.port}`), { args: (p) => ["-m", String(p.http), "-D"] });
    await assertRefusedAttempts(proxy, bad, hub, "-ERR 'Authorization Violation'");
    // In addition, the leaf says why in its log.
    assert.match(bad.logs(), /Authorization Violation/);
    await bad.stop();
    await close(h);
    await proxy.close();
    await hub.stop();
  });
});

describe("operator mode: JWT credentials toward the hub (LN-25)", () => {
  test("a .creds file signs the hub's nonce; credentials of an unknown account are refused on every attempt", async () => {
    const okp = createOperator();
    const akp = createAccount();
    const ukp = createUser();
    const other = createAccount();
    const ojwt = await encodeOperator("cloud-op", okp);
    const ajwt = await encodeAccount("EDGE", akp, { limits: { conn: -1, leaf: -1, subs: -1, payload: -1, data: -1, imports: -1, exports: -1, wildcards: true } }, { signer: okp });
    const ujwt = await encodeUser("edge-leaf", ukp, akp);
    // A user signed by an account the hub does not know.
    const bad = await encodeUser("stranger", createUser(), other);
    const dir = mkdtempSync(join(tmpdir(), "natsedge-leaf-creds-"));
    const credsFile = join(dir, "leaf.creds");
    writeFileSync(credsFile, fmtCreds(ujwt, ukp));
    const badFile = join(dir, "bad.creds");
    writeFileSync(badFile, fmtCreds(bad, createUser()));
    const hub = await startHub("", `operator: ${ojwt}\nresolver: MEMORY\nresolver_preload: { ${akp.getPublicKey()}: ${ajwt} }\n`);
    const proxy = await tcpProxy(hub.ports.leaf);
    const leaf = await startLeaf(remoteConfig(`nats-leaf://127.0.0.1:${hub.ports.leaf}`, `credentials: "${credsFile}"`));
    const h = await nc(hub, { authenticator: credsAuthenticator(fmtCreds(ujwt, ukp)) });
    const l = await nc(leaf);
    await waitRoute(h, l, "jwt.down");
    await waitRoute(l, h, "jwt.up");
    await close(h, l);
    await leaf.stop();
    await waitFor(async () => (await linkCount(hub)) === 0, 5000, "the good leaf gone");
    const refused = await startLeaf(remoteConfig(`nats-leaf://127.0.0.1:${proxy.port}`, `credentials: "${badFile}"`));
    await assertRefusedAttempts(proxy, refused, hub, "-ERR 'Authorization Violation'");
    await refused.stop();
    await proxy.close();
    await hub.stop();
    rmSync(dir, { recursive: true, force: true });
  });
});

describe("token toward the hub (LN-24)", () => {
  test("a token in the URL (user info without a password)", async () => {
    // nats-server 2.9 has no token in leafnodes.authorization: the
    // server's own token applies to leafs, sent as CONNECT's user.
    const hub = await startHub("", "authorization { token: t0k3n }\n");
    const leaf = await startLeaf(remoteConfig(`nats-leaf://t0k3n@127.0.0.1:${hub.ports.leaf}`));
    const h = await nc(hub, { token: "t0k3n" });
    const l = await nc(leaf);
    await waitRoute(h, l, "token.down");
    await close(h, l);
    await leaf.stop();
    await hub.stop();
  });
});

describe("deny_imports and deny_exports (LN-32)", () => {
  test("denied subjects do not cross in either direction; others do", async () => {
    const hub = await startHub();
    const leaf = await startLeaf(
      remoteConfig(`nats-leaf://127.0.0.1:${hub.ports.leaf}`, 'deny_exports: [ "secret.>" ], deny_imports: "cmd.denied"'),
    );
    const h = await nc(hub);
    const l = await nc(leaf);
    const upSecret = collect(h, "secret.>");
    const upOpen = collect(h, "open.up");
    const downDenied = collect(l, "cmd.denied");
    const downOpen = collect(l, "cmd.open");
    await waitRoute(l, h, "open.up");
    await waitRoute(h, l, "cmd.open");
    for (let i = 0; i < 5; i++) {
      l.publish("secret.key", "s");
      l.publish("open.up", "o");
      h.publish("cmd.denied", "d");
      h.publish("cmd.open", "c");
    }
    // The open messages went out after the denied ones on the same paths:
    // once the last of them arrived, a denied one would have too.
    await waitFor(() => upOpen.msgs.length >= 6 && downOpen.msgs.length >= 6, 5000, "open subjects");
    assert.equal(upSecret.msgs.length, 0);
    assert.equal(downDenied.msgs.length, 0);
    await close(h, l);
    await leaf.stop();
    await hub.stop();
  });
});

describe("spoke and hub roles (LN-01, LN-12)", () => {
  // The broker under test with two remotes, to hubs H1 and H2 (separate
  // nats-server hubs). As a spoke on both links it passes interest learned
  // from one hub to no other hub; with `hub: true` on the H2 remote it is
  // H2's hub and passes H1's interest on.
  for (const role of ["spoke", "hub"]) {
    test(`a leaf that is a ${role} toward H2: interest learned from H1 ${role === "spoke" ? "is not" : "is"} announced to H2`, async () => {
      const h1 = await startHub();
      const h2 = await startHub();
      const leaf = await startLeaf(
        "leafnodes { remotes [\n" +
          `  { url: "nats-leaf://127.0.0.1:${h1.ports.leaf}" }\n` +
          `  { url: "nats-leaf://127.0.0.1:${h2.ports.leaf}"${role === "hub" ? ", hub: true" : ""} }\n` +
          "], reconnect: 1 }\n",
      );
      await waitFor(async () => (await linkCount(leaf)) === 2, 8000, "both links");
      const c1 = await nc(h1);
      const c2 = await nc(h2);
      const l = await nc(leaf);
      const atH1 = collect(c1, "from.h1");
      await within(c1.flush(), MS, "flush");
      await waitFor(async () => (await learned(leaf)).includes("from.h1"), 8000, "H1's interest at the leaf");
      // The leaf's own client interest reaches H2 either way; it is sent
      // after anything the leaf passed on from H1.
      const mine = collect(l, "mine");
      await within(l.flush(), MS, "flush");
      await waitFor(async () => (await learned(h2)).includes("mine"), 8000, "the leaf's interest at H2");
      if (role === "spoke") {
        assert.equal((await learned(h2)).includes("from.h1"), false, "H1's interest reached H2");
      } else {
        await waitFor(async () => (await learned(h2)).includes("from.h1"), 8000, "H1's interest at H2");
        // And a message from H2 reaches H1's subscriber through the leaf.
        await waitFor(async () => {
          c2.publish("from.h1", "via the leaf");
          await within(c2.flush(), MS, "flush");
          await sleep(50);
          return atH1.msgs.length > 0;
        }, 8000, "H2 -> leaf -> H1");
      }
      mine.sub.unsubscribe();
      await close(c1, c2, l);
      await leaf.stop();
      await h1.stop();
      await h2.stop();
    });
  }

  test("the broker as a hub passes one leaf's interest and messages to its other leafs", async () => {
    const hub = await startServer({ ports: ["leaf", "http"], args: (p) => ["-m", String(p.http)], config: (p) => hubConfig(p.leaf) });
    const url = `nats-leaf://127.0.0.1:${hub.ports.leaf}`;
    const l1 = await startServer({ bin: HUB_BIN, config: remoteConfig(url) });
    const l2 = await startServer({ bin: HUB_BIN, config: remoteConfig(url) });
    await waitFor(async () => (await linkCount(hub)) === 2, 8000, "both leafs");
    const [c1, c2] = [await nc(l1), await nc(l2)];
    await waitRoute(c2, c1, "leaf.to.leaf", 10000);
    await waitRoute(c1, c2, "leaf.back", 10000);
    await close(c1, c2);
    await l1.stop();
    await l2.stop();
    await hub.stop();
  });
});

describe("the broker as a hub", () => {
  test("a nats-server leaf connects: interest and messages flow both ways (LN-02, LN-06)", async () => {
    const hub = await startServer({ ports: ["leaf"], config: (p) => hubConfig(p.leaf) });
    const leaf = await startServer({ bin: HUB_BIN, config: remoteConfig(`nats-leaf://127.0.0.1:${hub.ports.leaf}`) });
    const h = await nc(hub);
    const l = await nc(leaf);
    await waitRoute(h, l, "hubrole.down");
    await waitRoute(l, h, "hubrole.up");
    const s = l.subscribe("hubrole.svc", { callback: (_e, m) => m.respond(te.encode("leaf")) });
    await waitFor(async () => {
      try {
        return td.decode((await h.request("hubrole.svc", "", { timeout: 500 })).data) === "leaf";
      } catch {
        return false;
      }
    }, 6000, "request through the hub");
    s.unsubscribe();
    await close(h, l);
    await leaf.stop();
    await hub.stop();
  });

  test("a chain: nats-server hub <- the broker <- the broker", async () => {
    const cloud = await startServer({ bin: HUB_BIN, ports: ["leaf"], config: (p) => hubConfig(p.leaf) });
    const mid = await startServer({
      ports: ["leaf"],
      config: (p) =>
        `leafnodes { listen: 127.0.0.1:${p.leaf}\n` +
        `  remotes [ { url: "nats-leaf://127.0.0.1:${cloud.ports.leaf}" } ], reconnect: 1 }\n`,
    });
    const edge = await startServer({ config: remoteConfig(`nats-leaf://127.0.0.1:${mid.ports.leaf}`) });
    const c = await nc(cloud);
    const e = await nc(edge);
    await waitRoute(c, e, "chain.down", 10000);
    await waitRoute(e, c, "chain.up", 10000);
    const s = e.subscribe("chain.svc", { callback: (_e, m) => m.respond(te.encode("edge")) });
    await waitFor(async () => {
      try {
        return td.decode((await c.request("chain.svc", "", { timeout: 500 })).data) === "edge";
      } catch {
        return false;
      }
    }, 8000, "request along the chain");
    s.unsubscribe();
    await close(c, e);
    await edge.stop();
    await mid.stop();
    await cloud.stop();
  });
});

describe("TLS toward the hub (LN-04)", () => {
  test("the hub's certificate is verified against ca_file; with another CA's file no attempt links", async () => {
    const dir = mkdtempSync(join(tmpdir(), "natsedge-leaf-tls-"));
    const ossl = (...args) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    for (const ca of ["ca", "other"]) {
      ossl("req", "-x509", ...ec, "-keyout", `${ca}.key`, "-out", `${ca}.pem`, "-days", "30", "-subj", `/CN=${ca} test CA`);
    }
    ossl("req", ...ec, "-keyout", "hub.key", "-out", "hub.csr", "-subj", "/CN=localhost");
    writeFileSync(join(dir, "hub.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
    ossl("x509", "-req", "-in", "hub.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
      "-out", "hub.pem", "-days", "30", "-extfile", "hub.ext");
    const hub = await startHub(`  tls { cert_file: "${join(dir, "hub.pem")}", key_file: "${join(dir, "hub.key")}" }`);
    const proxy = await tcpProxy(hub.ports.leaf);
    const remote = (ca) => remoteConfig(`nats-leaf://localhost:${proxy.port}`, `tls { ca_file: "${join(dir, ca)}" }`);
    const leaf = await startLeaf(remote("ca.pem"));
    const h = await nc(hub);
    const l = await nc(leaf);
    await waitRoute(h, l, "tls.down");
    await waitRoute(l, h, "tls.up");
    await close(h, l);
    await leaf.stop();
    await waitFor(async () => (await linkCount(hub)) === 0, 5000, "the good leaf gone");
    const linked = proxy.conns.length;
    const wrong = await startLeaf(remote("other.pem"), { args: (p) => ["-m", String(p.http), ...(isNatsedge ? ["-D"] : [])] });
    // Attempts after the hub's plain-text INFO start TLS (a record of type
    // 22) and end without a link, a reconnect delay apart.
    await waitFor(() => proxy.conns.slice(linked).filter((c) => c.closedAt !== null && c.received.startsWith("\x16")).length >= 2,
      10000, "two refused TLS attempts");
    const tries = proxy.conns.slice(linked);
    assert.ok(tries[1].at - tries[0].at >= 900, `attempts at ${tries.map((c) => c.at).join(", ")} ms`);
    assert.equal(await linkCount(wrong), 0);
    assert.equal(await linkCount(hub), 0);
    if (isNatsedge) assert.match(wrong.logs(), /TLS/); // in addition: the log says why
    await wrong.stop();
    await proxy.close();
    await hub.stop();
    rmSync(dir, { recursive: true, force: true });
  });
});

describe("remotes bound to local accounts (LN-27)", () => {
  test("two remotes, two local accounts, two hub accounts: each pair is its own subject space", async () => {
    const hub = await startHub(
      "  authorization { users: [\n    { user: la, password: p, account: HA }\n    { user: lb, password: p, account: HB }\n  ] }",
      "accounts {\n  HA: { users: [ { user: ha, password: p } ] }\n  HB: { users: [ { user: hb, password: p } ] }\n}\n",
    );
    const leaf = await startLeaf(
      "accounts {\n  A: { users: [ { user: a, password: p } ] }\n  B: { users: [ { user: b, password: p } ] }\n}\n" +
        `leafnodes { remotes [\n  { url: "nats-leaf://la:p@127.0.0.1:${hub.ports.leaf}", account: A }\n` +
        `  { url: "nats-leaf://lb:p@127.0.0.1:${hub.ports.leaf}", account: B }\n], reconnect: 1 }\n`,
    );
    const as = (server, user) => nc(server, { user, pass: "p" });
    const ha = await as(hub, "ha");
    const hb = await as(hub, "hb");
    const a = await as(leaf, "a");
    const b = await as(leaf, "b");
    await waitRoute(a, ha, "acct.a.up");
    await waitRoute(hb, b, "acct.b.down");
    // The same subject in each account stays in its own pair.
    const atHa = collect(ha, "shared");
    const atHb = collect(hb, "shared");
    await waitRoute(a, ha, "shared");
    await waitRoute(b, hb, "shared");
    const nA = atHa.msgs.length;
    const nB = atHb.msgs.length;
    a.publish("shared", "from-a");
    await within(a.flush(), MS, "flush");
    await waitFor(() => atHa.msgs.length > nA, 5000, "A reaches HA");
    // Had the leaf sent A's message on B's link, it would be ahead of B's
    // own message there.
    b.publish("shared", "from-b");
    await waitFor(() => atHb.msgs.length > nB, 5000, "B reaches HB");
    assert.deepEqual(atHb.msgs.slice(nB).map((m) => td.decode(m.data)), ["from-b"]);
    assert.equal(td.decode(atHa.msgs.at(-1).data), "from-a");
    await close(ha, hb, a, b);
    await leaf.stop();
    await hub.stop();
  });
});

describe("the broker as a hub: leafnode users bound to accounts (LN-26)", () => {
  test("each leaf user lands in its account; a wrong password is refused on the wire and never linked", async () => {
    const hub = await startServer({
      ports: ["leaf", "http"],
      args: (p) => ["-m", String(p.http)],
      config: (p) =>
        "accounts {\n  A: { users: [ { user: a, password: p } ] }\n  B: { users: [ { user: b, password: p } ] }\n}\n" +
        `leafnodes { listen: 127.0.0.1:${p.leaf}\n  authorization { users: [\n` +
        "    { user: la, password: p, account: A }\n    { user: lb, password: p, account: B }\n  ] } }\n",
    });
    const proxy = await tcpProxy(hub.ports.leaf);
    const leafA = await startServer({ bin: HUB_BIN, config: remoteConfig(`nats-leaf://la:p@127.0.0.1:${hub.ports.leaf}`) });
    const as = (server, user) => nc(server, { user, pass: "p" });
    const a = await as(hub, "a");
    const b = await as(hub, "b");
    const la = await nc(leafA);
    await waitRoute(la, a, "bound.up");
    await waitRoute(a, la, "bound.down");
    const atA = collect(a, "bound.x");
    const atB = collect(b, "bound.>");
    await within(Promise.all([a.flush(), b.flush()]), MS, "flush");
    await waitRoute(la, a, "bound.x");
    const n = atA.msgs.length;
    la.publish("bound.x", "x");
    await waitFor(() => atA.msgs.length > n, 5000, "account A gets it");
    // The hub delivered it to every match at once: B's connection would
    // have it before its PONG.
    await within(b.flush(), MS, "flush");
    assert.equal(atB.msgs.length, 0, "account B must not see leaf A's messages");
    const bad = await startServer({ bin: HUB_BIN, config: remoteConfig(`nats-leaf://la:wrong@127.0.0.1:${proxy.port}`) });
    await waitFor(() => proxy.conns.filter((c) => c.sent.includes("-ERR 'Authorization Violation'")).length >= 1, 8000, "the refusal");
    assert.equal(await linkCount(hub), 1);
    await bad.stop();
    await close(a, b, la);
    await leafA.stop();
    await proxy.close();
    await hub.stop();
  });
});

describe("the broker as a hub: bcrypt leafnode passwords (CP-71)", () => {
  test("a leaf user whose password is a bcrypt hash: the right password connects, a wrong one is refused on the wire", async () => {
    // "hatter", cost 6 (the hash tests/interop/bcrypt.test.mjs uses too).
    const hash = "$2a$06$uyPCmFIzyscBicW90v2oG./0d8KeF2pzHsnZWNrQHHKMkifK04GAa";
    const hub = await startServer({
      ports: ["leaf", "http"],
      args: (p) => ["-m", String(p.http)],
      config: (p) => `leafnodes { listen: 127.0.0.1:${p.leaf}\n  authorization { users: [\n    { user: edge, password: "${hash}" }\n  ] } }\n`,
    });
    const proxy = await tcpProxy(hub.ports.leaf);
    const leaf = await startServer({ bin: HUB_BIN, config: remoteConfig(`nats-leaf://edge:hatter@127.0.0.1:${hub.ports.leaf}`) });
    const h = await nc(hub);
    const l = await nc(leaf);
    await waitRoute(l, h, "bcrypt.up");
    await waitRoute(h, l, "bcrypt.down");
    const bad = await startServer({ bin: HUB_BIN, config: remoteConfig(`nats-leaf://edge:wrong@127.0.0.1:${proxy.port}`) });
    await waitFor(() => proxy.conns.filter((c) => c.sent.includes("-ERR 'Authorization Violation'")).length >= 1, 8000, "the refusal");
    assert.equal(await linkCount(hub), 1);
    await bad.stop();
    await close(h, l);
    await leaf.stop();
    await proxy.close();
    await hub.stop();
  });
});

describe("the broker as a hub: a leaf password longer than the configured one (LN-26)", () => {
  test("a leaf CONNECT password that is the configured 127 bytes plus one is refused, on the wire and in /leafz", async () => {
    const q127 = "Q".repeat(127);
    const hub = await startServer({
      ports: ["leaf", "http"],
      args: (p) => ["-m", String(p.http)],
      config: (p) =>
        `leafnodes { listen: 127.0.0.1:${p.leaf}\n  authorization { users: [ { user: edge, password: "${q127}" } ] } }\n`,
    });
    const proxy = await tcpProxy(hub.ports.leaf);
    const leafConf = (pass) => remoteConfig(`nats-leaf://edge:${pass}@127.0.0.1:${proxy.port}`);
    const bad = await startServer({ bin: HUB_BIN, config: leafConf(q127 + "x") });
    await waitFor(() => proxy.conns.some((c) => /-ERR 'Authorization Violation'/.test(c.sent)), 8000, "the hub's refusal");
    assert.equal(await linkCount(hub), 0);
    await bad.stop();
    // The exact password connects through the same proxy.
    const good = await startServer({ bin: HUB_BIN, config: leafConf(q127) });
    await waitFor(async () => (await linkCount(hub)) === 1, 8000, "the leaf with the right password");
    await good.stop();
    await proxy.close();
    await hub.stop();
  });
});

describe("failover through the hub's leafnode_urls (LN-28)", () => {
  test("a leaf configured with one cluster node moves to another when that node goes", async () => {
    const hubs = await startCluster("fo");
    // The leaf knows node 0 only, through a proxy that shows the INFOs the
    // cluster sends it.
    const proxy = await tcpProxy(hubs[0].ports.leaf);
    const leaf = await startLeaf(remoteConfig(`nats-leaf://127.0.0.1:${proxy.port}`));
    const l = await nc(leaf);
    const h1 = await nc(hubs[1]);
    await waitRoute(h1, l, "fo.before", 15000);
    // The cluster told the leaf about all three nodes' leafnode ports.
    const wanted = hubs.map((s) => `127.0.0.1:${s.ports.leaf}`);
    await waitFor(() => proxy.conns.some((c) => {
      const infos = [...c.sent.matchAll(/INFO (\{[^\r\n]*\}) ?\r\n/g)];
      const last = infos.length ? JSON.parse(infos.at(-1)[1]) : {};
      return wanted.every((u) => (last.leafnode_urls ?? []).includes(u));
    }), 10000, "leafnode_urls naming the three nodes");
    await hubs[0].stop();
    await waitRoute(h1, l, "fo.after", 15000);
    await waitRoute(l, h1, "fo.up", 5000);
    await close(h1, l);
    await leaf.stop();
    await proxy.close();
    for (const h of hubs) await h.stop();
  });
});
