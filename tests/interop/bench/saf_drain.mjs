// Backlog drain (issue 18, "Benchmark"; docs/store-and-forward.md, "Backlog
// drain"): an edge holds N messages of 128 B published while its leaf link
// was cut; the time from the link's return until the cloud stream holds all
// N. Run by tools/saf_bench.sh (`make bench-saf`), one edge per invocation:
//
//   node tests/interop/bench/saf_drain.mjs natsedge <bin> <N>     a file stream with
//       `forward` (window 256, or BENCH_SAF_WINDOW) into a cloud stream capturing site1.>
//   node tests/interop/bench/saf_drain.mjs nats-server <bin> <N>  a file stream at the edge,
//       a cloud stream sourcing it through $JS.edge.API
//   node tests/interop/bench/saf_drain.mjs natsedge-sourced <bin> <N>  the same with
//       natsedge as the edge (it serves the cloud's sourcing consumer)
//
// The cloud is one nats-server 2.9.10 node (domain hub), the edge its leaf
// through a TCP proxy of this script's (the harness's keeps a copy of what
// it relays, too much for a million messages). Prints one line:
//   drain <edge> msgs=<N> publish_s=<s> drain_s=<s> rate=<msgs/s>
import fs from "node:fs";
import net from "node:net";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { startServer, stopAll, sleep } from "../lib/harness.mjs";
import { HUB_BIN, startEdge, storeDir, removeStoreDirs, nc, waitRoute, streamState } from "../lib/saf.mjs";

const [kind, bin, nArg, jsExtra = ""] = process.argv.slice(2);
const N = Number(nArg);
const WINDOW = 256; // publishes awaiting their ack at the edge
const DRAIN_LIMIT_MS = Number(process.env.BENCH_SAF_DRAIN_LIMIT_MS || 1800000);
if (!["natsedge", "natsedge-sourced", "nats-server"].includes(kind) || !bin || !(N > 0)) {
  console.error("usage: saf_drain.mjs natsedge|natsedge-sourced|nats-server <bin> <msgs> [jetstream keys]");
  process.exit(2);
}
process.env.NATSEDGE_BIN = bin;

// CPU seconds (user + system) a process has used so far.
function cpuSeconds(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(")")[1].trim().split(/\s+/);
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime: fields 14 and 15, in ticks of 1/100 s
}

// A TCP proxy in front of `port`: cut() closes its connections and refuses
// new ones until restore().
async function linkProxy() {
  const socks = new Set();
  let target = 0;
  const server = net.createServer((c) => {
    if (!target) return c.destroy();
    const up = net.connect({ port: target, host: "127.0.0.1" });
    socks.add(c).add(up);
    c.pipe(up);
    up.pipe(c);
    const done = () => {
      c.destroy();
      up.destroy();
      socks.delete(c);
      socks.delete(up);
    };
    c.on("error", done).on("close", done);
    up.on("error", done).on("close", done);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: server.address().port,
    setTarget: (p) => (target = p),
    cut() {
      target = 0;
      for (const s of socks) s.destroy();
    },
    open: () => socks.size,
    close: () => server.close(),
  };
}

async function main() {
  const proxy = await linkProxy();
  const sd = storeDir();
  const hub = await startServer({
    bin: HUB_BIN,
    ports: ["leaf"],
    config: (p) =>
      `server_name: hub-0\njetstream { store_dir: "${sd}", domain: hub }\n` +
      `leafnodes { listen: 127.0.0.1:${p.leaf}, advertise: "127.0.0.1:${proxy.port}" }\n`,
  });
  proxy.setTarget(hub.ports.leaf);
  const cloud = { hub, proxy };
  const edge = await startEdge(cloud.proxy.port, storeDir(), "", jsExtra);
  const h = await nc(cloud.hub);
  const e = await nc(edge);
  await waitRoute(h, e, "ready.down", 20000);
  await waitRoute(e, h, "ready.up", 20000);
  const ejsm = await jetstreamManager(e);
  const hjsm = await jetstreamManager(h);
  let cloudName;
  if (kind === "natsedge") {
    await ejsm.streams.add({ name: "FWD", subjects: ["tele.>"], storage: "file", forward: { prefix: "site1", window: Number(process.env.BENCH_SAF_WINDOW || 256) } });
    cloudName = "CLOUD_F";
    await hjsm.streams.add({ name: cloudName, subjects: ["site1.>"], storage: "file", duplicate_window: 600e9 });
  } else {
    // nats-server or natsedge-sourced: the cloud sources the edge's stream.
    await ejsm.streams.add({ name: "TELEMETRY", subjects: ["tele.>"], storage: "file" });
    cloudName = "CLOUD_S";
    await hjsm.streams.add({ name: cloudName, storage: "file", sources: [{ name: "TELEMETRY", external: { api: "$JS.edge.API", deliver: "deliver.edge" } }] });
  }

  // The outage: the link is cut before the first publish and stays cut
  // until the last one is acknowledged by the edge.
  proxy.cut();
  await sleep(1000);
  const js = jetstream(e, { timeout: 30000 });
  const payload = new Uint8Array(128).fill(0x61);
  const t0 = Date.now();
  const pending = new Set();
  for (let i = 0; i < N; i++) {
    const p = js.publish(`tele.${i % 16}`, payload);
    pending.add(p);
    p.then(() => pending.delete(p));
    if (pending.size >= WINDOW) await Promise.race(pending);
  }
  await Promise.all(pending);
  const publishS = (Date.now() - t0) / 1000;
  const before = await streamState(hjsm, cloudName);
  if (!before || before.messages !== 0) throw new Error(`the cloud stream holds ${before?.messages} before the link returns`);

  const cpu0 = [cpuSeconds(edge.pid), cpuSeconds(hub.pid)];
  const t1 = Date.now();
  proxy.setTarget(hub.ports.leaf);
  let last = 0;
  for (;;) {
    const st = await streamState(hjsm, cloudName);
    if (st) last = st.messages;
    if (last >= N) break;
    if (Date.now() - t1 > DRAIN_LIMIT_MS) throw new Error(`drain: ${last} of ${N} after ${DRAIN_LIMIT_MS} ms`);
    await sleep(100);
  }
  const drainS = (Date.now() - t1) / 1000;
  const edgeCpu = cpuSeconds(edge.pid) - cpu0[0];
  const cloudCpu = cpuSeconds(hub.pid) - cpu0[1];
  if (last !== N) throw new Error(`the cloud stream holds ${last}, not ${N}`);
  console.log(`drain ${kind} msgs=${N} publish_s=${publishS.toFixed(1)} drain_s=${drainS.toFixed(2)} rate=${Math.round(N / drainS)}` +
      ` edge_cpu_s=${edgeCpu.toFixed(2)} cloud_cpu_s=${cloudCpu.toFixed(2)}`);
  await h.close();
  await e.close();
}

try {
  await main();
} catch (err) {
  console.error(`saf_drain ${kind}: ${err.stack || err}`);
  process.exitCode = 1;
} finally {
  await stopAll();
  removeStoreDirs();
  process.exit(); // the proxy's listener
}
