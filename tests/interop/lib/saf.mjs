// Store and forward across the leaf link (docs/store-and-forward.md): the
// topologies the saf_*.test.mjs suites share. The cloud is always Debian's
// nats-server 2.9.10 (NATS_SERVER_BIN), JetStream domain `hub`; the edge is
// the broker under test (NATSEDGE_BIN: natsedge, or nats-server in the parity
// pass), JetStream domain `edge`, on a store directory of its own that a
// restart keeps. The leaf link goes through a TCP proxy the test owns: every
// hub advertises the proxy, so the edge always comes back through it, and
// cutting the proxy's connections and refusing new ones cuts the link.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { startServer, sleep, waitFor, within, tcpProxy, getJSON } from "./harness.mjs";

export const HUB_BIN = process.env.NATS_SERVER_BIN || "/usr/sbin/nats-server";
const td = new TextDecoder();

const dirs = [];
export function storeDir() {
  const d = mkdtempSync(join(tmpdir(), "natsedge-saf-"));
  dirs.push(d);
  return d;
}
export function removeStoreDirs() {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export const nc = (server, opts = {}) => connect({ servers: `127.0.0.1:${server.port}`, reconnect: false, ...opts });

// A 3-node nats-server JetStream cluster (domain hub) when `nodes` is 3, a
// single hub otherwise, every leaf port advertised as the proxy in front of
// the first node. `link.cut()` closes the link and refuses it until
// `link.restore()`.
export async function startCloud({ nodes: count = 1 } = {}) {
  const proxy = await tcpProxy(1);
  const nodes = [];
  for (let i = 0; i < count; i++) {
    const seed = nodes[0];
    const sd = storeDir();
    nodes.push(
      await startServer({
        bin: HUB_BIN,
        ports: ["leaf", "cluster", "http"],
        args: (p) => ["-m", String(p.http)],
        config: (p) =>
          `server_name: hub-${i}\njetstream { store_dir: "${sd}", domain: hub }\n` +
          (count > 1
            ? // JetStream needs configured routes: the seed's own (ignored
              // as a route to itself) until the others route to it.
              `cluster { name: cloud, listen: 127.0.0.1:${p.cluster}, ` +
              `routes: [ nats-route://127.0.0.1:${seed ? seed.ports.cluster : p.cluster} ] }\n`
            : "") +
          `leafnodes { listen: 127.0.0.1:${p.leaf}, advertise: "127.0.0.1:${proxy.port}" }\n`,
      }),
    );
  }
  proxy.target = nodes[0].ports.leaf;
  if (count > 1) {
    const c = await nc(nodes[1]);
    await waitFor(async () => {
      try {
        const r = JSON.parse(td.decode((await c.request("$JS.API.INFO", "", { timeout: 1000 })).data));
        return !r.error;
      } catch {
        return false;
      }
    }, 30000, "the cloud cluster's JetStream");
    await c.close();
  }
  let down = false;
  const link = {
    cut() {
      down = true;
      proxy.target = 1; // refused: every new attempt fails at once
      for (const conn of proxy.conns) conn.socket.destroy();
    },
    restore() {
      down = false;
      proxy.target = nodes[0].ports.leaf;
    },
    isDown: () => down,
  };
  return { nodes, hub: nodes[0], proxy, link };
}

// The edge on store directory `sd` (kept across restarts), a leaf of
// `leafPort`; `jsExtra`: more keys of its jetstream block.
export const startEdge = (leafPort, sd, extra = "", jsExtra = "") =>
  startServer({
    ports: ["http"],
    args: (p) => ["-m", String(p.http)],
    config:
      `server_name: edge\njetstream { store_dir: "${sd}", domain: edge${jsExtra ? `, ${jsExtra}` : ""} }\n` +
      `leafnodes { remotes [ { url: "nats-leaf://127.0.0.1:${leafPort}" } ], reconnect: 1 }\n` +
      extra,
  });

// Publishes on `subject` from `pub` until `sub` gets one: interest has
// crossed the link.
export async function waitRoute(pub, sub, subject, ms = 15000) {
  const s = sub.subscribe(subject);
  await within(sub.flush(), 5000, "flush");
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
    await within(pub.flush(), 5000, "flush");
    await sleep(50);
  }
  s.unsubscribe();
  if (!got) throw new Error(`no route for ${subject} within ${ms} ms`);
}

// A stream's state, or null when the request fails (the link is down, the
// broker restarts).
export async function streamState(jsm, name) {
  try {
    return (await jsm.streams.info(name)).state;
  } catch {
    return null;
  }
}

// Every message of a stream, in order: [seq, subject, data, header value],
// read with an ordered consumer (no state left behind).
export async function streamContents(conn, name, header = null, opts = {}) {
  const jsm = await jetstreamManager(conn, opts);
  const st = (await jsm.streams.info(name)).state;
  const out = [];
  if (st.messages === 0) return out;
  const c = await jetstream(conn, opts).consumers.get(name);
  const deadline = Date.now() + 60000;
  while (out.length < st.messages && Date.now() < deadline) {
    const iter = await c.fetch({ max_messages: Math.min(500, st.messages - out.length), expires: 2000 });
    for await (const m of iter) {
      out.push([m.seq, m.subject, td.decode(m.data), header ? m.headers?.get(header) ?? "" : ""]);
    }
  }
  return out;
}

// A stream's entry in a broker's /jsz?streams=true (null when absent).
export async function jszStream(server, name) {
  const jsz = await getJSON(server.ports.http, "/jsz?streams=true");
  return (jsz.account_details ?? []).flatMap((a) => a.stream_detail ?? []).find((d) => d.name === name) ?? null;
}

// A small deterministic generator (mulberry32): a failing seed replays.
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
