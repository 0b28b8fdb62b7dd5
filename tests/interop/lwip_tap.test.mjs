// natsedge over lwIP on a TAP device (board/linux-tap): the lwIP port proven
// on the host. The test creates a network namespace of its own holding the
// TAP device and natsedge-tap (lwIP with a static address on the TAP link),
// joins it to the host by a veth pair and a route, drives natsedge-tap with
// nats.js from the host side, and deletes the namespace (and with it the
// devices) afterwards. Addresses come from the benchmarking range
// 198.18.0.0/15. Needs root (or CAP_NET_ADMIN and CAP_SYS_ADMIN),
// /dev/net/tun, iproute2 and NATSEDGE_TAP_BIN; without them the suite fails
// with the reason (SKIP_BOARDS=1 skips it instead). natsedge-only: the
// nats-server pass skips it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { spawn } from "node:child_process";
import { Board, run } from "./lib/board_scenarios.mjs";
import { rawConnect, sleep, boardGate } from "./lib/harness.mjs";

const BIN = process.env.NATSEDGE_TAP_BIN;
const { skip, fail } = boardGate(
  !BIN
    ? "NATSEDGE_TAP_BIN is not set"
    : !existsSync(BIN)
      ? `no natsedge-tap at ${BIN}`
      : !existsSync("/dev/net/tun")
        ? "no /dev/net/tun"
        : process.getuid?.() !== 0
          ? "needs root for a TAP device"
          : false,
);
if (fail) {
  test("lwIP/TAP: the suite can run on this machine", () => {
    throw new Error(fail);
  });
}

// Two /30s: the veth link between host and namespace, the TAP link inside.
// make test runs its passes side by side (NATSEDGE_PASS 0, 1, 2): each pass
// takes its own third of the addresses, so two passes never share a subnet.
const pass = Number(process.env.NATSEDGE_PASS || 0) % 3;
const id = (process.pid % 21) * 3 + pass;
const tag = process.pid % 100000;
const NS = `natsedge-tap-${tag}`;
const VETH_HOST = `neh${tag}`;
const VETH_NS = `nen${tag}`;
const DEV = `netap${tag}`;
const HOST_IP = `198.18.${id * 4}.1`;
const NS_VETH_IP = `198.18.${id * 4}.2`;
const NS_TAP_IP = `198.18.${id * 4 + 1}.1`;
const LWIP_IP = `198.18.${id * 4 + 1}.2`;
const PORT = 4222;

let child = null;
let logs = "";
let nsCreated = false;
let vethCreated = false;
const board = new Board(LWIP_IP, PORT);

function stopChild() {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill("SIGKILL"), 5000);
    child.once("exit", () => {
      clearTimeout(t);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

process.once("exit", () => {
  if (child && child.exitCode === null) child.kill("SIGKILL");
});

before(async () => {
  if (skip) return;
  const ip = async (...args) => {
    const r = await run("ip", args);
    if (r.code !== 0) throw new Error(`ip ${args.join(" ")}: ${r.err}`);
  };
  const inNs = (...args) => ip("netns", "exec", NS, ...args);
  await ip("netns", "add", NS);
  nsCreated = true;
  await ip("link", "add", VETH_HOST, "type", "veth", "peer", "name", VETH_NS);
  vethCreated = true;
  await ip("link", "set", VETH_NS, "netns", NS);
  await ip("addr", "add", `${HOST_IP}/30`, "dev", VETH_HOST);
  await ip("link", "set", VETH_HOST, "up");
  await inNs("ip", "link", "set", "lo", "up");
  await inNs("ip", "addr", "add", `${NS_VETH_IP}/30`, "dev", VETH_NS);
  await inNs("ip", "link", "set", VETH_NS, "up");
  await inNs("ip", "tuntap", "add", "dev", DEV, "mode", "tap");
  await inNs("ip", "addr", "add", `${NS_TAP_IP}/30`, "dev", DEV);
  await inNs("ip", "link", "set", DEV, "up");
  await inNs("sysctl", "-q", "-w", "net.ipv4.ip_forward=1");
  await ip("route", "add", `${LWIP_IP}/32`, "via", NS_VETH_IP);
  // `ip netns exec` execs the broker itself: the PID is natsedge-tap's.
  child = spawn("ip", ["netns", "exec", NS, BIN, "--tap", DEV, "--tap-ip", LWIP_IP, "--tap-mask",
    "255.255.255.252", "--tap-gw", NS_TAP_IP, "-p", String(PORT)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout.on("data", (d) => (logs += d));
  child.stderr.on("data", (d) => (logs += d));
  const deadline = Date.now() + 10000;
  for (;;) {
    if (/Server is ready/.test(logs)) {
      try {
        const r = await rawConnect(PORT, { host: LWIP_IP, timeoutMs: 1000 });
        const line = await r.readUntil("\r\n", 2000);
        r.destroy();
        if (line.startsWith("INFO")) break;
      } catch {
        /* not yet: ARP and the first SYN may take a moment */
      }
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`natsedge-tap did not become ready:\n${logs}`);
    }
    await sleep(50);
  }
});

after(async () => {
  await board.closeAll();
  await stopChild();
  // Deleting the namespace takes the TAP device and the veth pair (and so
  // the host's route) with it.
  if (nsCreated) await run("ip", ["netns", "del", NS]);
  else if (vethCreated) await run("ip", ["link", "del", VETH_HOST]);
});

test("lwIP/TAP (natsedge-only: its lwIP port): INFO comes from lwIP and shows the client's host address", { skip }, async () => {
  const nc = await board.client();
  assert.equal(nc.info.port, PORT);
  const r = await rawConnect(PORT, { host: LWIP_IP });
  const line = await r.readUntil("\r\n");
  assert.match(line, new RegExp(`"client_ip":"${HOST_IP.replace(/\./g, "\\.")}"`));
  r.destroy();
  await nc.close();
});

test("lwIP/TAP (natsedge-only: its lwIP port): pub/sub with wildcards", { skip }, () => board.pubSubWildcards());
test("lwIP/TAP (natsedge-only: its lwIP port): queue groups", { skip }, () => board.queueGroups());
test("lwIP/TAP (natsedge-only: its lwIP port): request/reply", { skip }, () => board.requestReply());
test("lwIP/TAP (natsedge-only: its lwIP port): 50 concurrent connections", { skip }, () => board.concurrent(50));
test("lwIP/TAP (natsedge-only: its lwIP port): payloads up to max_payload", { skip }, async () => {
  const max = await board.payloads();
  assert.equal(max, 1024 * 1024);
});
test("lwIP/TAP (natsedge-only: its lwIP port): a client vanishing mid-message", { skip }, () => board.vanishMidMessage());
test("lwIP/TAP (natsedge-only: its lwIP port): 8 MiB streamed through the port, every message in order", { skip }, () =>
  board.pacedStream({ count: 4000, size: 2048 })
);
test("lwIP/TAP (natsedge-only: its lwIP port): the broker is still up and logged no failure", { skip }, async () => {
  await board.requestReply(3);
  assert.equal(child.exitCode, null);
  assert.doesNotMatch(logs, /assertion failed|FTL/);
});
