// Leaf node interop: the broker under test (NATSEDGE_BIN: natsedge, or
// nats-server for the reference run) as a leaf of Debian's nats-server.
// IDs refer to section 2 of the NATS inventory (LN-xx).
//
//   - one hub: interest both ways (LN-10..LN-13, LN-20), messages with
//     headers and replies (LN-17..LN-19), queue groups on both sides with
//     local members preferred, interest removal (LS-);
//   - a 3-node nats-server cluster as the hub (urls list): the same, plus
//     the largest payload;
//   - the hub restarted: reconnect, interest re-sync, subscriptions made while
//     the link was down (LN-28);
//   - a hub that is not there: attempts at the reconnect delay, no busy loop;
//   - user/password in the URL, refused credentials (LN-24, LN-26).
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { connect, credsAuthenticator, headers as natsHeaders } from "@nats-io/transport-node";
import { createOperator, createAccount, createUser } from "@nats-io/nkeys";
import { encodeOperator, encodeAccount, encodeUser, fmtCreds } from "@nats-io/jwt";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer, stopAll, freePort, sleep, waitFor, kindOf, tcpProxy, getJSON } from "./lib/harness.mjs";

const HUB_BIN = process.env.NATS_SERVER_BIN || "/usr/sbin/nats-server";
const isNatsedge = kindOf(process.env.NATSEDGE_BIN) === "natsedge";

after(async () => {
  await stopAll();
});

const td = new TextDecoder();
const te = new TextEncoder();

async function nc(server) {
  return connect({ servers: `127.0.0.1:${server.port}`, reconnect: false });
}

// Publishes on `subject` from `pub` until `sub` (already subscribed there)
// gets one: the interest has crossed the link. Bounded in time.
async function waitRoute(pubConn, subConn, subject, ms = 8000) {
  const sub = subConn.subscribe(subject);
  await subConn.flush();
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
    await pubConn.flush();
    await sleep(50);
  }
  sub.unsubscribe();
  if (!got) throw new Error(`no route for ${subject} within ${ms} ms`);
}

// Collects what a subscription receives for `ms`.
function collect(conn, subject, opts = {}) {
  const sub = conn.subscribe(subject, opts);
  const msgs = [];
  (async () => {
    for await (const m of sub) msgs.push(m);
  })();
  return { sub, msgs };
}

function hubConfig({ leafPort, extra = "" }) {
  return `leafnodes { listen: 127.0.0.1:${leafPort}\n${extra} }\n`;
}

describe("natsedge as a leaf of one nats-server hub", () => {
  let hub, leaf, h, l, monPort;
  before(async () => {
    const leafPort = await freePort();
    monPort = await freePort();
    hub = await startServer({ bin: HUB_BIN, config: hubConfig({ leafPort }) });
    leaf = await startServer({
      args: ["-m", String(monPort)],
      config: `leafnodes { remotes [ { url: "nats-leaf://127.0.0.1:${leafPort}" } ], reconnect: 1 }\n`,
    });
    h = await nc(hub);
    l = await nc(leaf);
    await waitRoute(h, l, "ready.hub-to-leaf");
    await waitRoute(l, h, "ready.leaf-to-hub");
  });
  after(async () => {
    await h?.close();
    await l?.close();
  });

  test("messages cross both ways with wildcards (LN-10, LN-17, LN-20)", async () => {
    const a = collect(h, "edge.*.temp");
    const b = collect(l, "cloud.>");
    await h.flush();
    await l.flush();
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
    await l.flush();
    await h.flush();
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
    await h.flush();
    await l.flush();
    await sleep(300);
    for (let i = 0; i < 30; i++) {
      l.publish("work.leaf", `${i}`);
      h.publish("work.hub", `${i}`);
    }
    await l.flush();
    await h.flush();
    await waitFor(() => qh.msgs.length + ql.msgs.length >= 60, 5000, "queue deliveries");
    await sleep(200);
    assert.equal(ql.msgs.length, 30);
    assert.ok(ql.msgs.every((m) => m.subject === "work.leaf"));
    assert.equal(qh.msgs.length, 30);
    assert.ok(qh.msgs.every((m) => m.subject === "work.hub"));
    // With the leaf's member gone, the hub's member gets the leaf's messages.
    ql.sub.unsubscribe();
    await l.flush();
    await waitFor(async () => {
      l.publish("work.leaf", "late");
      await l.flush();
      await sleep(50);
      return qh.msgs.some((m) => m.subject === "work.leaf");
    }, 5000, "queue member across the link");
    qh.sub.unsubscribe();
  });

  test("/leafz shows the link with nats-server's fields", async () => {
    const res = await fetch(`http://127.0.0.1:${monPort}/leafz?subs=1`);
    assert.equal(res.status, 200);
    const z = await res.json();
    assert.deepEqual(Object.keys(z), ["server_id", "now", "leafnodes", "leafs"]);
    assert.equal(z.leafnodes, 1);
    const lf = z.leafs[0];
    assert.deepEqual(Object.keys(lf), [
      "account", "ip", "port", "rtt", "in_msgs", "out_msgs", "in_bytes", "out_bytes",
      "subscriptions", "subscriptions_list",
    ]);
    assert.equal(lf.account, "$G");
    assert.equal(lf.ip, "127.0.0.1");
    assert.ok(lf.subscriptions >= 1);
    assert.ok(lf.subscriptions_list.some((s) => s.startsWith("$LDS.")));
    assert.ok(lf.in_msgs > 0 && lf.out_msgs > 0);
  });

  test("unsubscribing removes the interest on the hub (LS-, LN-11)", async () => {
    const s = l.subscribe("gone.soon", { callback: (_e, m) => m.respond(te.encode("here")) });
    await l.flush();
    await waitFor(async () => {
      try {
        await h.request("gone.soon", "", { timeout: 300 });
        return true;
      } catch {
        return false;
      }
    }, 5000, "interest");
    s.unsubscribe();
    await l.flush();
    // The hub answers no-responders at once once the interest is gone.
    await waitFor(async () => {
      try {
        await h.request("gone.soon", "", { timeout: 300 });
        return false;
      } catch (e) {
        return /no responders/i.test(String(e.message)) || e.code === "503";
      }
    }, 5000, "no responders");
  });
});

describe("natsedge as a leaf of a 3-node nats-server cluster", () => {
  const hubs = [];
  let leaf, conns = [];
  before(async () => {
    const cports = [await freePort(), await freePort(), await freePort()];
    const lports = [await freePort(), await freePort(), await freePort()];
    const routes = cports.map((p) => `nats-route://127.0.0.1:${p}`).join(", ");
    for (let i = 0; i < 3; i++) {
      hubs.push(
        await startServer({
          bin: HUB_BIN,
          config:
            `server_name: cloud-${i}\n` +
            `cluster { name: cloud, listen: 127.0.0.1:${cports[i]}, routes: [ ${routes} ] }\n` +
            hubConfig({ leafPort: lports[i] }),
        }),
      );
    }
    const urls = lports.map((p) => `"nats-leaf://127.0.0.1:${p}"`).join(", ");
    leaf = await startServer({ config: `leafnodes { remotes [ { urls: [ ${urls} ] } ], reconnect: 1 }\n` });
    conns = [await nc(hubs[0]), await nc(hubs[1]), await nc(hubs[2]), await nc(leaf)];
    // Wait until every hub node reaches the leaf and back.
    for (let i = 0; i < 3; i++) {
      await waitRoute(conns[i], conns[3], `ready.${i}`, 15000);
      await waitRoute(conns[3], conns[i], `back.${i}`, 15000);
    }
  });
  after(async () => {
    for (const c of conns) await c?.close();
  });

  test("publishers on every cluster node reach the leaf, and the leaf reaches each node", async () => {
    const atLeaf = collect(conns[3], "fleet.>");
    const atHubs = [0, 1, 2].map((i) => collect(conns[i], "edge.report"));
    await waitRoute(conns[0], conns[3], "fleet.probe");
    for (let i = 0; i < 3; i++) conns[i].publish(`fleet.${i}`, `${i}`);
    for (let i = 0; i < 5; i++) conns[3].publish("edge.report", `${i}`);
    await waitFor(() => atLeaf.msgs.filter((m) => m.subject !== "fleet.probe").length >= 3, 5000, "leaf receives");
    await waitFor(() => atHubs.every((c) => c.msgs.length >= 5), 5000, "hubs receive");
  });

  test("queue group: members on the cluster and on the leaf, requests answered once", async () => {
    const replies = [];
    const mk = (c, who) => c.subscribe("rpc.q", { queue: "svc", callback: (_e, m) => m.respond(te.encode(who)) });
    const subs = [mk(conns[0], "cloud0"), mk(conns[2], "cloud2"), mk(conns[3], "edge")];
    for (const c of conns) await c.flush();
    await sleep(500);
    // From the leaf: the local member always answers.
    for (let i = 0; i < 10; i++) replies.push(td.decode((await conns[3].request("rpc.q", "x", { timeout: 2000 })).data));
    assert.deepEqual([...new Set(replies)], ["edge"]);
    // From the cluster node without a member: some cluster member answers, each once.
    const fromCloud = [];
    for (let i = 0; i < 10; i++) fromCloud.push(td.decode((await conns[1].request("rpc.q", "y", { timeout: 2000 })).data));
    assert.equal(fromCloud.length, 10);
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
});

describe("reconnect", () => {
  test("the hub restarted while clients publish: the leaf reconnects and re-syncs interest (LN-28)", async () => {
    const leafPort = await freePort();
    const config = hubConfig({ leafPort });
    let hub = await startServer({ bin: HUB_BIN, config });
    const leaf = await startServer({
      config: `leafnodes { remotes [ { url: "nats-leaf://127.0.0.1:${leafPort}" } ], reconnect: 1 }\n`,
    });
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
    await h.close();
    await hub.stop();
    await sleep(500);
    // A subscription made while the link is down.
    const during = collect(l, "made.while.down");
    await l.flush();
    const t0 = Date.now();
    hub = await startServer({ bin: HUB_BIN, config });
    h = await nc(hub);
    const up = collect(h, "to.cloud");
    await waitFor(() => up.msgs.length > 0, 8000, "delivery resumes");
    const resumedMs = Date.now() - t0;
    await waitRoute(h, l, "made.while.down");
    h.publish("restart.data", "again");
    await waitFor(() => before.msgs.some((m) => td.decode(m.data) === "again"), 5000, "old subscription re-synced");
    assert.ok(during.msgs.length >= 1);
    assert.ok(resumedMs < 8000, `resumed after ${resumedMs} ms`);
    publishing = false;
    await pumper;
    await h.close();
    await l.close();
    await leaf.stop();
    await hub.stop();
  });

  test("a hub that is not there: one attempt per reconnect delay, no busy loop", { skip: !isNatsedge }, async () => {
    const deadPort = await freePort();
    const leaf = await startServer({
      args: ["-D"],
      config: `leafnodes { remotes [ { url: "nats-leaf://127.0.0.1:${deadPort}" } ], reconnect: 1 }\n`,
    });
    await sleep(3200);
    const attempts = (leaf.logs().match(/Trying to connect as leafnode/g) || []).length;
    assert.ok(attempts >= 2 && attempts <= 5, `${attempts} attempts in 3.2 s`);
    await leaf.stop();
  });
});

describe("authentication toward the hub", () => {
  test("user and password in the URL; a wrong password is logged and retried at the delay (LN-24)", async () => {
    const leafPort = await freePort();
    const hub = await startServer({
      bin: HUB_BIN,
      config: hubConfig({ leafPort, extra: "authorization { user: edge, password: s3cret }" }),
    });
    const good = await startServer({
      config: `leafnodes { remotes [ { url: "nats-leaf://edge:s3cret@127.0.0.1:${leafPort}" } ], reconnect: 1 }\n`,
    });
    const h = await nc(hub);
    const g = await nc(good);
    await waitRoute(h, g, "auth.ok");
    await g.close();
    await good.stop();
    const bad = await startServer({
      args: isNatsedge ? ["-D"] : [],
      config: `leafnodes { remotes [ { url: "nats-leaf://edge:wrong@127.0.0.1:${leafPort}" } ], reconnect: 1 }\n`,
    });
    await sleep(2500);
    if (isNatsedge) {
      assert.match(bad.logs(), /Leafnode error from .*Authorization Violation/);
      const attempts = (bad.logs().match(/Trying to connect as leafnode/g) || []).length;
      assert.ok(attempts >= 2 && attempts <= 4, `${attempts} attempts in 2.5 s`);
    }
    await bad.stop();
    await h.close();
    await hub.stop();
  });
});

describe("operator mode: JWT credentials toward the hub (LN-25)", () => {
  test("a .creds file signs the hub's nonce; refused credentials are logged and retried", async () => {
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
    const leafPort = await freePort();
    const hub = await startServer({
      bin: HUB_BIN,
      config:
        `operator: ${ojwt}\nresolver: MEMORY\n` +
        `resolver_preload: { ${akp.getPublicKey()}: ${ajwt} }\n` +
        hubConfig({ leafPort }),
    });
    const leaf = await startServer({
      config: `leafnodes { remotes [ { url: "nats-leaf://127.0.0.1:${leafPort}", credentials: "${credsFile}" } ], reconnect: 1 }\n`,
    });
    const h = await connect({
      servers: `127.0.0.1:${hub.port}`,
      reconnect: false,
      authenticator: credsAuthenticator(fmtCreds(ujwt, ukp)),
    });
    const l = await nc(leaf);
    await waitRoute(h, l, "jwt.down");
    await waitRoute(l, h, "jwt.up");
    const refused = await startServer({
      args: isNatsedge ? ["-D"] : [],
      config: `leafnodes { remotes [ { url: "nats-leaf://127.0.0.1:${leafPort}", credentials: "${badFile}" } ], reconnect: 1 }\n`,
    });
    await sleep(2500);
    if (isNatsedge) {
      assert.match(refused.logs(), /Leafnode error from .*Authorization Violation/);
      const attempts = (refused.logs().match(/Trying to connect as leafnode/g) || []).length;
      assert.ok(attempts >= 2 && attempts <= 4, `${attempts} attempts in 2.5 s`);
    }
    await refused.stop();
    await h.close();
    await l.close();
    await leaf.stop();
    await hub.stop();
    rmSync(dir, { recursive: true, force: true });
  });
});

describe("token toward the hub", () => {
  test("a token in the URL (user info without a password)", async () => {
    const leafPort = await freePort();
    const hub = await startServer({
      bin: HUB_BIN,
      // nats-server 2.9 has no token in leafnodes.authorization: the
      // server's own token applies to leafs, sent as CONNECT's user.
      config: "authorization { token: t0k3n }\n" + hubConfig({ leafPort }),
    });
    const leaf = await startServer({
      config: `leafnodes { remotes [ { url: "nats-leaf://t0k3n@127.0.0.1:${leafPort}" } ], reconnect: 1 }\n`,
    });
    const h = await connect({ servers: `127.0.0.1:${hub.port}`, token: "t0k3n", reconnect: false });
    const l = await nc(leaf);
    await waitRoute(h, l, "token.down");
    await h.close();
    await l.close();
    await leaf.stop();
    await hub.stop();
  });
});

describe("deny_imports and deny_exports (LN-32)", () => {
  test("denied subjects do not cross in either direction; others do", async () => {
    const leafPort = await freePort();
    const hub = await startServer({ bin: HUB_BIN, config: hubConfig({ leafPort }) });
    const leaf = await startServer({
      config:
        `leafnodes { remotes [ { url: "nats-leaf://127.0.0.1:${leafPort}",\n` +
        `  deny_exports: [ "secret.>" ], deny_imports: "cmd.denied" } ], reconnect: 1 }\n`,
    });
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
    await waitFor(() => upOpen.msgs.length >= 6 && downOpen.msgs.length >= 6, 5000, "open subjects");
    await sleep(300);
    assert.equal(upSecret.msgs.length, 0);
    assert.equal(downDenied.msgs.length, 0);
    await h.close();
    await l.close();
    await leaf.stop();
    await hub.stop();
  });
});

describe("natsedge as a hub", () => {
  test("a nats-server leaf connects: interest and messages flow both ways (LN-02, LN-06)", async () => {
    const leafPort = await freePort();
    const hub = await startServer({ config: hubConfig({ leafPort }) });
    const leaf = await startServer({
      bin: HUB_BIN,
      config: `leafnodes { remotes [ { url: "nats-leaf://127.0.0.1:${leafPort}" } ], reconnect: 1 }\n`,
    });
    const h = await nc(hub);
    const l = await nc(leaf);
    await waitRoute(h, l, "hubrole.down");
    await waitRoute(l, h, "hubrole.up");
    const s = l.subscribe("hubrole.svc", { callback: (_e, m) => m.respond(te.encode("leaf")) });
    await l.flush();
    await waitFor(async () => {
      try {
        return td.decode((await h.request("hubrole.svc", "", { timeout: 500 })).data) === "leaf";
      } catch {
        return false;
      }
    }, 6000, "request through the hub");
    s.unsubscribe();
    await h.close();
    await l.close();
    await leaf.stop();
    await hub.stop();
  });

  test("a chain: nats-server hub <- natsedge <- natsedge", async () => {
    const cloudPort = await freePort();
    const midPort = await freePort();
    const cloud = await startServer({ bin: HUB_BIN, config: hubConfig({ leafPort: cloudPort }) });
    const mid = await startServer({
      config:
        `leafnodes { listen: 127.0.0.1:${midPort}\n` +
        `  remotes [ { url: "nats-leaf://127.0.0.1:${cloudPort}" } ], reconnect: 1 }\n`,
    });
    const edge = await startServer({
      config: `leafnodes { remotes [ { url: "nats-leaf://127.0.0.1:${midPort}" } ], reconnect: 1 }\n`,
    });
    const c = await nc(cloud);
    const e = await nc(edge);
    await waitRoute(c, e, "chain.down", 10000);
    await waitRoute(e, c, "chain.up", 10000);
    const s = e.subscribe("chain.svc", { callback: (_e, m) => m.respond(te.encode("edge")) });
    await e.flush();
    await waitFor(async () => {
      try {
        return td.decode((await c.request("chain.svc", "", { timeout: 500 })).data) === "edge";
      } catch {
        return false;
      }
    }, 8000, "request along the chain");
    s.unsubscribe();
    await c.close();
    await e.close();
    await edge.stop();
    await mid.stop();
    await cloud.stop();
  });
});

describe("TLS toward the hub (LN-04)", () => {
  test("the hub's certificate is verified against ca_file; a wrong CA is refused", async () => {
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
    const leafPort = await freePort();
    const hub = await startServer({
      bin: HUB_BIN,
      config:
        `leafnodes { listen: 127.0.0.1:${leafPort}\n` +
        `  tls { cert_file: "${join(dir, "hub.pem")}", key_file: "${join(dir, "hub.key")}" } }\n`,
    });
    const remote = (ca) =>
      `leafnodes { remotes [ { url: "nats-leaf://localhost:${leafPort}", tls { ca_file: "${join(dir, ca)}" } } ], reconnect: 1 }\n`;
    const leaf = await startServer({ config: remote("ca.pem") });
    const h = await nc(hub);
    const l = await nc(leaf);
    await waitRoute(h, l, "tls.down");
    await waitRoute(l, h, "tls.up");
    await h.close();
    await l.close();
    await leaf.stop();
    const wrong = await startServer({ args: isNatsedge ? ["-D"] : [], config: remote("other.pem") });
    await sleep(2000);
    if (isNatsedge) {
      assert.match(wrong.logs(), /TLS/);
      assert.doesNotMatch(wrong.logs(), /Connected leafnode/);
    }
    await wrong.stop();
    await hub.stop();
    rmSync(dir, { recursive: true, force: true });
  });
});

describe("remotes bound to local accounts (LN-27)", () => {
  test("two remotes, two local accounts, two hub accounts: each pair is its own subject space", async () => {
    const leafPort = await freePort();
    const hub = await startServer({
      bin: HUB_BIN,
      config:
        "accounts {\n  HA: { users: [ { user: ha, password: p } ] }\n  HB: { users: [ { user: hb, password: p } ] }\n}\n" +
        `leafnodes { listen: 127.0.0.1:${leafPort}\n  authorization { users: [\n` +
        "    { user: la, password: p, account: HA }\n    { user: lb, password: p, account: HB }\n  ] } }\n",
    });
    const leaf = await startServer({
      config:
        "accounts {\n  A: { users: [ { user: a, password: p } ] }\n  B: { users: [ { user: b, password: p } ] }\n}\n" +
        `leafnodes { remotes [\n  { url: "nats-leaf://la:p@127.0.0.1:${leafPort}", account: A }\n` +
        `  { url: "nats-leaf://lb:p@127.0.0.1:${leafPort}", account: B }\n], reconnect: 1 }\n`,
    });
    const as = (server, user) => connect({ servers: `127.0.0.1:${server.port}`, user, pass: "p", reconnect: false });
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
    const nA = atHa.msgs.length, nB = atHb.msgs.length;
    a.publish("shared", "from-a");
    await a.flush();
    await waitFor(() => atHa.msgs.length > nA, 5000, "A reaches HA");
    await sleep(300);
    assert.equal(atHb.msgs.length, nB, "A's message must not reach HB");
    assert.equal(td.decode(atHa.msgs.at(-1).data), "from-a");
    for (const c of [ha, hb, a, b]) await c.close();
    await leaf.stop();
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
    const leafConf = (pass) =>
      `leafnodes { remotes [ { url: "nats-leaf://edge:${pass}@127.0.0.1:${proxy.port}" } ], reconnect: 1 }\n`;
    const bad = await startServer({ bin: HUB_BIN, config: leafConf(q127 + "x") });
    await waitFor(() => proxy.conns.some((c) => /-ERR 'Authorization Violation'/.test(c.sent)), 8000, "the hub's refusal");
    assert.equal((await getJSON(hub.ports.http, "/leafz")).leafnodes, 0);
    await bad.stop();
    // The exact password connects through the same proxy.
    const good = await startServer({ bin: HUB_BIN, config: leafConf(q127) });
    await waitFor(async () => (await getJSON(hub.ports.http, "/leafz")).leafnodes === 1, 8000, "the leaf with the right password");
    await good.stop();
    await proxy.close();
    await hub.stop();
  });
});

describe("natsedge as a hub: leafnode users bound to accounts (LN-26)", () => {
  test("each leaf user lands in its account; a wrong password is refused", async () => {
    const leafPort = await freePort();
    const hub = await startServer({
      config:
        "accounts {\n  A: { users: [ { user: a, password: p } ] }\n  B: { users: [ { user: b, password: p } ] }\n}\n" +
        `leafnodes { listen: 127.0.0.1:${leafPort}\n  authorization { users: [\n` +
        "    { user: la, password: p, account: A }\n    { user: lb, password: p, account: B }\n  ] } }\n",
    });
    const leafA = await startServer({
      bin: HUB_BIN,
      config: `leafnodes { remotes [ { url: "nats-leaf://la:p@127.0.0.1:${leafPort}" } ], reconnect: 1 }\n`,
    });
    const as = (server, user) => connect({ servers: `127.0.0.1:${server.port}`, user, pass: "p", reconnect: false });
    const a = await as(hub, "a");
    const b = await as(hub, "b");
    const la = await nc(leafA);
    await waitRoute(la, a, "bound.up");
    await waitRoute(a, la, "bound.down");
    const atB = collect(b, "bound.>");
    await b.flush();
    la.publish("bound.up", "x");
    await la.flush();
    await sleep(300);
    assert.equal(atB.msgs.length, 0, "account B must not see leaf A's messages");
    const bad = await startServer({
      bin: HUB_BIN,
      config: `leafnodes { remotes [ { url: "nats-leaf://la:wrong@127.0.0.1:${leafPort}" } ], reconnect: 1 }\n`,
    });
    await sleep(1500);
    assert.match(bad.logs(), /Authorization Violation/);
    await bad.stop();
    for (const c of [a, b, la]) await c.close();
    await leafA.stop();
    await hub.stop();
  });
});

describe("natsedge as a hub: bcrypt leafnode passwords (CP-71)", () => {
  test("a leaf user whose password is a bcrypt hash: the right password connects, a wrong one is refused", async () => {
    const leafPort = await freePort();
    // "hatter", cost 6 (the hash tests/interop/bcrypt.test.mjs uses too).
    const hash = "$2a$06$uyPCmFIzyscBicW90v2oG./0d8KeF2pzHsnZWNrQHHKMkifK04GAa";
    const hub = await startServer({
      config:
        `leafnodes { listen: 127.0.0.1:${leafPort}\n  authorization { users: [\n` +
        `    { user: edge, password: "${hash}" }\n  ] } }\n`,
    });
    const leaf = await startServer({
      bin: HUB_BIN,
      config: `leafnodes { remotes [ { url: "nats-leaf://edge:hatter@127.0.0.1:${leafPort}" } ], reconnect: 1 }\n`,
    });
    const h = await nc(hub);
    const l = await nc(leaf);
    await waitRoute(l, h, "bcrypt.up");
    await waitRoute(h, l, "bcrypt.down");
    const bad = await startServer({
      bin: HUB_BIN,
      config: `leafnodes { remotes [ { url: "nats-leaf://edge:wrong@127.0.0.1:${leafPort}" } ], reconnect: 1 }\n`,
    });
    await sleep(1500);
    assert.match(bad.logs(), /Authorization Violation/);
    await bad.stop();
    for (const c of [h, l]) await c.close();
    await leaf.stop();
    await hub.stop();
  });
});

describe("failover through the hub's leafnode_urls (LN-28)", () => {
  test("a leaf configured with one cluster node moves to another when that node goes", async () => {
    const cports = [await freePort(), await freePort(), await freePort()];
    const lports = [await freePort(), await freePort(), await freePort()];
    const routes = cports.map((p) => `nats-route://127.0.0.1:${p}`).join(", ");
    const hubs = [];
    for (let i = 0; i < 3; i++) {
      hubs.push(
        await startServer({
          bin: HUB_BIN,
          config:
            `server_name: fo-${i}\n` +
            `cluster { name: fo, listen: 127.0.0.1:${cports[i]}, routes: [ ${routes} ] }\n` +
            hubConfig({ leafPort: lports[i] }),
        }),
      );
    }
    const leaf = await startServer({
      config: `leafnodes { remotes [ { url: "nats-leaf://127.0.0.1:${lports[0]}" } ], reconnect: 1 }\n`,
    });
    const l = await nc(leaf);
    const h1 = await nc(hubs[1]);
    await waitRoute(h1, l, "fo.before", 15000);
    // Give the cluster's leafnode_urls time to reach the leaf, then lose node 0.
    await sleep(1000);
    await hubs[0].stop();
    await waitRoute(h1, l, "fo.after", 15000);
    await waitRoute(l, h1, "fo.up", 5000);
    await h1.close();
    await l.close();
    await leaf.stop();
    for (const h of hubs) await h.stop();
  });
});
