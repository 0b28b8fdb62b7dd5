// The mps2-an385 firmware (bare-metal Cortex-M3, lwIP on a LAN9118) booted
// in QEMU with user networking; the broker's port 4222 is forwarded to a
// free loopback port. nats.js drives it: pub/sub, queue groups,
// request/reply, 8 concurrent clients (the tiny profile's maximum), payloads
// up to its max_payload, a publisher 200 KiB ahead of its subscriber (held
// back by the closed receive window while the 6 KiB of chunks drain), and a
// client that floods until it is cut as a slow consumer while the others
// keep working. Needs NATSEDGE_MPS2_ELF and
// qemu-system-arm; without them the suite fails with the reason
// (SKIP_BOARDS=1 skips it instead). natsedge-only: the nats-server pass
// skips it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { spawn, spawnSync } from "node:child_process";
import { Board } from "./lib/board_scenarios.mjs";
import { freePort, rawConnect, sleep, boardGate, isBindRace } from "./lib/harness.mjs";

const ELF = process.env.NATSEDGE_MPS2_ELF;
const QEMU = "qemu-system-arm";
const hasQemu = spawnSync(QEMU, ["--version"], { stdio: "ignore" }).status === 0;
const { skip, fail } = boardGate(
  !ELF
    ? "NATSEDGE_MPS2_ELF is not set"
    : !existsSync(ELF)
      ? `no firmware at ${ELF}`
      : !hasQemu
        ? "qemu-system-arm is not installed"
        : false,
);
if (fail) {
  test("mps2-an385: the suite can run on this machine", () => {
    throw new Error(fail);
  });
}

// A bound, not a speed check: on a loaded machine QEMU boots slowly.
const BOOT_TIMEOUT_MS = 60000;
let qemu = null;
let console_ = "";
let board = null;

function stopQemu() {
  if (!qemu || qemu.exitCode !== null || qemu.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => qemu.kill("SIGKILL"), 5000);
    qemu.once("exit", () => {
      clearTimeout(t);
      resolve();
    });
    qemu.kill("SIGTERM");
  });
}

process.once("exit", () => {
  if (qemu && qemu.exitCode === null) qemu.kill("SIGKILL");
});

// Boots the firmware with the broker's port forwarded to `port`; resolves
// true once it serves, false when QEMU could not bind `port` (taken since it
// was found free), throws on any other failure.
async function boot(port) {
  console_ = "";
  qemu = spawn(
    QEMU,
    ["-machine", "mps2-an385", "-nographic", "-kernel", ELF, "-nic", `user,hostfwd=tcp:127.0.0.1:${port}-:4222`],
    { stdio: ["ignore", "pipe", "pipe"] }
  );
  qemu.stdout.on("data", (d) => (console_ += d.toString("latin1")));
  qemu.stderr.on("data", (d) => (console_ += d.toString("latin1")));
  const exited = new Promise((resolve) => qemu.once("exit", resolve));
  const deadline = Date.now() + BOOT_TIMEOUT_MS;
  for (;;) {
    if (/Server is ready/.test(console_)) {
      try {
        const r = await rawConnect(port, { timeoutMs: 2000 });
        const line = await r.readUntil("\r\n", 3000);
        r.destroy();
        if (line.startsWith("INFO")) return true;
      } catch {
        /* the forwarded port answers before the guest does */
      }
    }
    if (qemu.exitCode !== null || qemu.signalCode !== null) {
      await exited;
      if (/Could not set up host forwarding rule/.test(console_) || isBindRace(console_)) return false;
      throw new Error(`QEMU exited before the firmware came up:\n${console_}`);
    }
    if (Date.now() > deadline) throw new Error(`the firmware did not come up in QEMU:\n${console_}`);
    await sleep(100);
  }
}

before(async () => {
  if (skip) return;
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    if (await boot(port)) {
      board = new Board("127.0.0.1", port);
      return;
    }
    if (attempt >= 3) throw new Error(`QEMU could not forward a free port three times:\n${console_}`);
  }
});

after(async () => {
  if (board) await board.closeAll();
  await stopQemu();
});

test("mps2-an385 (natsedge-only: its Cortex-M firmware): the firmware boots and logs its static memory", { skip }, () => {
  assert.match(console_, /lwIP 2\.1\.3 on LAN9118/);
  assert.match(console_, /Static memory reserved/);
  assert.match(console_, /Listening for client connections on 0\.0\.0\.0:4222/);
});
test("mps2-an385 (natsedge-only: its Cortex-M firmware): pub/sub with wildcards", { skip }, () => board.pubSubWildcards());
test("mps2-an385 (natsedge-only: its Cortex-M firmware): queue groups", { skip }, () => board.queueGroups());
test("mps2-an385 (natsedge-only: its Cortex-M firmware): request/reply", { skip }, () => board.requestReply());
test("mps2-an385 (natsedge-only: its Cortex-M firmware): 8 concurrent clients", { skip }, () => board.concurrent(8, { staggered: true }));
test("mps2-an385 (natsedge-only: its Cortex-M firmware): payloads up to max_payload", { skip }, async () => {
  const max = await board.payloads();
  assert.equal(max, 4096);
});
test("mps2-an385 (natsedge-only: its Cortex-M firmware): a flooding client is cut as a slow consumer, the others keep working", { skip }, async () => {
  const { sent } = await board.slowConsumer();
  assert.ok(sent > 8192, `flooded ${sent} bytes`);
});
test("mps2-an385 (natsedge-only: its Cortex-M firmware): a publisher far ahead of its subscriber is held back, nothing lost", { skip }, () =>
  board.pacedStream({ count: 600, size: 1024, burst: 50, ahead: 200 })
);
test("mps2-an385 (natsedge-only: its Cortex-M firmware): a client vanishing mid-message", { skip }, () => board.vanishMidMessage());
test("mps2-an385 (natsedge-only: its Cortex-M firmware): no fault or assertion on the console", { skip }, async () => {
  await board.requestReply(3);
  assert.equal(qemu.exitCode, null);
  assert.doesNotMatch(console_, /\[FTL\]/);
});
