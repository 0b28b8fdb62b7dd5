// The mps2-an385 board suites' common ground: the firmware booted in
// qemu-system-arm with user networking and port forwards, its UART read
// until the "Server is ready" line and the NATS port answers with INFO,
// QEMU's monitor (system_reset: a warm reset of the board), stopping QEMU,
// and the configuration region written into a copy of an image with a
// profile's conf tool (tools/conf_region.c). What a suite checks stays in
// the suite: its firmware and tool, its ports, its hub, its assertions.
import assert from "node:assert/strict";
import { cpSync, existsSync, writeFileSync } from "node:fs";
import { spawn, spawnSync } from "node:child_process";
import net from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { boardGate, freePort, rawConnect, sleep, isBindRace, startServer, within } from "./harness.mjs";

export const QEMU = "qemu-system-arm";
// A bound, not a speed check: on a loaded machine QEMU boots slowly.
export const BOOT_TIMEOUT_MS = 60000;
export const HUB_BIN = process.env.NATS_SERVER_BIN || "/usr/sbin/nats-server";
export const hasQemu = spawnSync(QEMU, ["--version"], { stdio: "ignore" }).status === 0;

// A board suite's gate (harness.mjs boardGate): each of `needs` ([env,
// what]: an environment variable naming a file, and what the file is) must
// name a file that exists, QEMU must be installed, and each of `tools`
// ([ok, what]) must hold. Where the suite has to run and cannot, one test
// named after `suite` fails with the reason. Returns { skip, fail, paths }:
// paths are the files, in the order of `needs`.
export function boardSuite(suite, needs, tools = []) {
  const paths = needs.map(([env]) => process.env[env]);
  let missing = false;
  needs.forEach(([env, what], i) => {
    if (!missing && (!paths[i] || !existsSync(paths[i]))) missing = `no ${what} (${env})`;
  });
  if (!missing && !hasQemu) missing = `${QEMU} is not installed`;
  for (const [ok, what] of tools) if (!missing && !ok) missing = what;
  const { skip, fail } = boardGate(missing);
  if (fail) {
    test(`${suite}: the suite can run on this machine`, () => {
      throw new Error(fail);
    });
  }
  return { skip, fail, paths };
}

// Every QEMU this process started, killed if the process exits with one
// still running.
const started = new Set();
process.once("exit", () => {
  for (const q of started) q.kill();
});

// Stops every board this process started (a suite's `after`).
export async function stopBoards() {
  for (const q of [...started]) await q.stop();
}

// Whether the NATS port `port` answers with INFO (the guest, not only
// QEMU's forwarder, is listening).
async function natsAnswers(port) {
  try {
    const c = await rawConnect(port, { timeoutMs: 2000 });
    const line = await c.readUntil("\r\n", 3000);
    c.destroy();
    return line.startsWith("INFO");
  } catch {
    return false; /* the forwarded port answers before the guest does */
  }
}

// Starts QEMU on `image` with `forwards` ({ host, guest } ports: host
// 127.0.0.1:host to the guest's `guestAddr`:guest), `nic` appended to the
// user network's options, and a monitor on the UNIX socket `monitorPath`
// when given. The UART (QEMU's stdout) and QEMU's own stderr are captured
// into console(), and passed to `onConsole` as they arrive when given.
export function startQemu(image, { forwards, nic = "", guestAddr = "", monitorPath = null, onConsole = null }) {
  const fwd = forwards.map((f) => `hostfwd=tcp:127.0.0.1:${f.host}-${guestAddr}:${f.guest}`).join(",");
  const args = ["-machine", "mps2-an385", "-nographic", "-kernel", image];
  if (monitorPath) args.push("-monitor", `unix:${monitorPath},server=on,wait=off`);
  args.push("-nic", `user${nic},${fwd}`);
  const child = spawn(QEMU, args, { stdio: ["ignore", "pipe", "pipe"] });
  let console_ = "";
  const capture = (d) => {
    const s = d.toString("latin1");
    console_ += s;
    if (onConsole) onConsole(s);
  };
  child.stdout.on("data", capture);
  child.stderr.on("data", capture);
  const exited = new Promise((r) => child.once("exit", r));
  const q = {
    child,
    monitorPath,
    console: () => console_,
    readyCount: () => (console_.match(/Server is ready/g) || []).length,
    alive: () => child.exitCode === null && child.signalCode === null,
    kill: () => child.exitCode === null && child.kill("SIGKILL"),
    async stop() {
      started.delete(q);
      if (q.alive()) {
        const t = setTimeout(() => child.kill("SIGKILL"), 5000);
        child.kill("SIGTERM");
        await exited;
        clearTimeout(t);
      }
    },
  };
  started.add(q);
  return q;
}

// Waits until the firmware has said "Server is ready" `count` times, its
// NATS port `port` answers with INFO and `ready(q)` (a suite's own check)
// holds. Resolves true then; false when QEMU exited because it could not
// bind a forwarded port (taken since it was found free); throws on any
// other exit and after `timeoutMs`.
export async function waitReady(q, port, { count = 1, ready = null, timeoutMs = BOOT_TIMEOUT_MS } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (q.readyCount() >= count && (await natsAnswers(port)) && (!ready || (await ready(q)))) return true;
    if (!q.alive()) {
      await q.stop();
      if (/Could not set up host forwarding rule/.test(q.console()) || isBindRace(q.console())) return false;
      throw new Error(`QEMU exited before the firmware came up:\n${q.console()}`);
    }
    if (Date.now() > deadline) throw new Error(`the firmware did not come up in QEMU:\n${q.console()}`);
    await sleep(100);
  }
}

// Boots `image` with each of `guestPorts` forwarded to a free loopback port
// (q.ports[guest]; q.port is the first, the NATS port the readiness check
// dials) and resolves with the running board once it serves. A taken port
// is retried with new ones, three times at most. `monitorDir`: QEMU's
// monitor on a UNIX socket there (q.monitorPath, for resetBoard).
export async function bootBoard(image, guestPorts, { nic = "", guestAddr = "", monitorDir = null, ready = null, onConsole = null } = {}) {
  let last = "";
  for (let attempt = 1; attempt <= 3; attempt++) {
    const ports = {};
    const hosts = new Set();
    for (const p of guestPorts) {
      let h = await freePort();
      while (hosts.has(h)) h = await freePort();
      hosts.add(h);
      ports[p] = h;
    }
    const port = ports[guestPorts[0]];
    const monitorPath = monitorDir ? join(monitorDir, `monitor-${port}.sock`) : null;
    const forwards = guestPorts.map((p) => ({ host: ports[p], guest: p }));
    const q = startQemu(image, { forwards, nic, guestAddr, monitorPath, onConsole });
    q.ports = ports;
    q.port = port;
    try {
      if (await waitReady(q, port, { ready })) return q;
    } catch (err) {
      await q.stop();
      throw err;
    }
    last = q.console();
  }
  throw new Error(`QEMU could not forward free ports three times:\n${last}`);
}

// A command to QEMU's human monitor of `q`; resolves with what the monitor
// printed once it prompts again.
export function monitor(q, command) {
  return within(
    new Promise((resolve, reject) => {
      const s = net.connect(q.monitorPath);
      let out = "";
      let sent = false;
      s.on("data", (d) => {
        out += d.toString("latin1");
        if (!sent && out.includes("(qemu)")) {
          sent = true;
          s.write(`${command}\n`);
        } else if (sent && out.split("(qemu)").length > 2) {
          s.end();
          resolve(out);
        }
      });
      s.once("error", reject);
    }),
    10000,
    `the QEMU monitor's ${command}`,
  );
}

// A warm reset of the board (system_reset: RAM, and with it the storage
// partition, is kept, docs/firmware.md); resolves once the firmware said
// "Server is ready" once more and its NATS port answers.
export async function resetBoard(q) {
  const before = q.readyCount();
  await monitor(q, "system_reset");
  assert.equal(await waitReady(q, q.port, { count: before + 1 }), true, "the firmware came up again after the reset");
}

// The configuration region's tool of one profile (`toolPath`, a build of
// tools/conf_region.c) for the firmware `elf`, with a scratch directory
// `dir`: tool(args) runs it, writeText(name, text) writes a file there,
// imageWith(name, conf) a copy of `elf` there with `conf` in its
// configuration region (checked by the tool as the board reads it).
export function confTool(toolPath, dir, elf) {
  const tool = (args) => spawnSync(toolPath, args, { encoding: "utf8", timeout: 30000 });
  const writeText = (name, text) => {
    const f = join(dir, name);
    writeFileSync(f, text);
    return f;
  };
  const imageWith = (name, conf) => {
    const image = join(dir, `${name}.elf`);
    cpSync(elf, image);
    const w = tool(["write", image, writeText(`${name}.conf`, conf)]);
    assert.equal(w.status, 0, w.stderr);
    return image;
  };
  return { tool, writeText, imageWith };
}

// A nats-server hub on the host with a leafnode and a monitoring port
// (hub.ports.leaf, hub.ports.http); the board reaches it as 10.0.2.2.
// `config(ports)` is the hub's configuration.
export function hubServer(config) {
  return startServer({ bin: HUB_BIN, ports: ["leaf", "http"], config });
}
