// natsedge over lwIP on a TAP device (board/linux-tap): the lwIP port proven
// on the host. The test creates a TAP device of its own with a /30 from the
// benchmarking range (198.18.0.0/15) on the host side, starts natsedge-tap on
// it with lwIP at the other address of the /30, drives it with nats.js from
// the host, and removes the device afterwards. Needs root (or CAP_NET_ADMIN),
// /dev/net/tun and NATSEDGE_TAP_BIN; skipped otherwise.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { spawn } from "node:child_process";
import { Board, run } from "./lib/board_scenarios.mjs";
import { rawConnect, sleep } from "./lib/harness.mjs";

const BIN = process.env.NATSEDGE_TAP_BIN;
const skip = !BIN
  ? "NATSEDGE_TAP_BIN is not set"
  : !existsSync("/dev/net/tun")
    ? "no /dev/net/tun"
    : process.getuid?.() !== 0
      ? "needs root for a TAP device"
      : false;

const id = process.pid % 250;
const DEV = `netap${process.pid % 100000}`;
const HOST_IP = `198.18.${id}.1`;
const LWIP_IP = `198.18.${id}.2`;
const PORT = 4222;

let child = null;
let logs = "";
let devCreated = false;
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
  for (const args of [
    ["tuntap", "add", "dev", DEV, "mode", "tap"],
    ["addr", "add", `${HOST_IP}/30`, "dev", DEV],
    ["link", "set", DEV, "up"],
  ]) {
    const r = await run("ip", args);
    if (r.code !== 0) throw new Error(`ip ${args.join(" ")}: ${r.err}`);
    devCreated = true;
  }
  child = spawn(BIN, ["--tap", DEV, "--tap-ip", LWIP_IP, "--tap-mask", "255.255.255.252", "-p", String(PORT)], {
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
  if (devCreated) await run("ip", ["link", "del", DEV]);
});

test("lwIP/TAP: INFO comes from lwIP and shows the client's host address", { skip }, async () => {
  const nc = await board.client();
  assert.equal(nc.info.port, PORT);
  const r = await rawConnect(PORT, { host: LWIP_IP });
  const line = await r.readUntil("\r\n");
  assert.match(line, new RegExp(`"client_ip":"${HOST_IP.replace(/\./g, "\\.")}"`));
  r.destroy();
  await nc.close();
});

test("lwIP/TAP: pub/sub with wildcards", { skip }, () => board.pubSubWildcards());
test("lwIP/TAP: queue groups", { skip }, () => board.queueGroups());
test("lwIP/TAP: request/reply", { skip }, () => board.requestReply());
test("lwIP/TAP: 50 concurrent connections", { skip }, () => board.concurrent(50));
test("lwIP/TAP: payloads up to max_payload", { skip }, async () => {
  const max = await board.payloads();
  assert.equal(max, 1024 * 1024);
});
test("lwIP/TAP: a client vanishing mid-message", { skip }, () => board.vanishMidMessage());
test("lwIP/TAP: the broker is still up and logged no failure", { skip }, async () => {
  await board.requestReply(3);
  assert.equal(child.exitCode, null);
  assert.doesNotMatch(logs, /assertion failed|FTL/);
});
