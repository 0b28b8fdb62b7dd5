// The natsedge command line: nats-server's flags with Go's flag syntax
// (inventory CFG-01..CFG-05). Runs the real binary; every process is bounded
// in time and stopped by PID.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import net from "node:net";

const BIN = process.env.NATSEDGE_BIN;
const isNatsedge = BIN && !BIN.endsWith("nats-server");

function run(args) {
  return spawnSync(BIN, args, { encoding: "utf8", timeout: 10000 });
}

// Starts the binary with the given flags plus a ports file directory, waits
// until the ports file names the client port, then returns it with a stop().
async function startWith(args) {
  const dir = mkdtempSync(join(tmpdir(), "natsedge-cli-"));
  const child = spawn(BIN, [...args, "--ports_file_dir", dir], { stdio: ["ignore", "pipe", "pipe"] });
  let logs = "";
  child.stdout.on("data", (d) => (logs += d));
  child.stderr.on("data", (d) => (logs += d));
  const deadline = Date.now() + 10000;
  let ports = null;
  while (Date.now() < deadline && ports === null) {
    const f = existsSync(dir) ? readdirSync(dir).find((n) => n.endsWith(".ports")) : undefined;
    if (f) {
      try {
        ports = JSON.parse(readFileSync(join(dir, f), "utf8"));
      } catch {
        /* written but not complete yet */
      }
    }
    if (ports === null) await new Promise((r) => setTimeout(r, 50));
  }
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve(child.exitCode);
      const t = setTimeout(() => child.kill("SIGKILL"), 5000);
      child.once("exit", (code) => {
        clearTimeout(t);
        rmSync(dir, { recursive: true, force: true });
        resolve(code);
      });
      child.kill("SIGTERM");
    });
  if (ports === null) {
    await stop();
    throw new Error("no ports file; logs:\n" + logs);
  }
  return { ports, stop, logs: () => logs, pid: child.pid };
}

function infoFrom(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1");
    let buf = "";
    const t = setTimeout(() => { s.destroy(); reject(new Error("no INFO")); }, 5000);
    s.on("data", (d) => {
      buf += d;
      const m = buf.match(/^INFO (\{.*\}) ?\r\n/);
      if (m) { clearTimeout(t); s.destroy(); resolve(JSON.parse(m[1])); }
    });
    s.on("error", reject);
  });
}

function freePort() {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

test("version and help exit 0", { skip: !isNatsedge }, () => {
  const v = run(["-v"]);
  assert.equal(v.status, 0);
  assert.match(v.stdout, /natsedge: v\d+\.\d+\.\d+/);
  assert.equal(run(["--version"]).status, 0);
  const h = run(["-h"]);
  assert.equal(h.status, 0);
  assert.match(h.stdout, /Usage:/);
});

for (const form of [["-p", "P"], ["-p=P"], ["--port", "P"], ["--port=P"]]) {
  test(`port flag as ${form.join(" ").replace(/P/, "<port>")} (Go flag syntax)`, async () => {
    const port = await freePort();
    const args = ["-a", "127.0.0.1", ...form.map((a) => a.replace("P", String(port)))];
    const srv = await startWith(args);
    try {
      const info = await infoFrom(port);
      assert.equal(info.port, port);
    } finally {
      await srv.stop();
    }
  });
}

test("server name flag appears in INFO", async () => {
  const port = await freePort();
  const srv = await startWith(["-a", "127.0.0.1", "-p", String(port), "--server_name", "edge-7"]);
  try {
    assert.equal((await infoFrom(port)).server_name, "edge-7");
  } finally {
    await srv.stop();
  }
});

// nats-server exits 0 here (its usage function exits 0); natsedge exits 2 as
// Go's flag package does, so that scripts see the mistake (differences.md).
test("unknown flag prints usage and exits 2", () => {
  const r = run(["--no_such_flag"]);
  assert.equal(r.status, isNatsedge ? 2 : 0);
  assert.match(r.stderr + r.stdout, /flag provided but not defined: -no_such_flag/);
});

test("a flag without its value exits 2", () => {
  const r = run(["-p"]);
  assert.equal(r.status, isNatsedge ? 2 : 0);
  assert.match(r.stderr, /flag needs an argument: -p/);
});

test("a boolean flag takes a value only after =", { skip: !isNatsedge }, () => {
  assert.equal(run(["-t", "-D=true"]).status, 0);
  assert.equal(run(["-t", "-D=maybe"]).status, 2);
});

test("-t checks the options and exits", { skip: !isNatsedge }, () => {
  const r = run(["-t", "-p", "4222"]);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /configuration is valid/);
});

for (const flag of [["-js"], ["--cluster", "nats://127.0.0.1:6222"], ["-sd", "/tmp/x"], ["--routes", "nats://a:1"]]) {
  test(`flag of a feature not built yet is refused: ${flag[0]}`, { skip: !isNatsedge }, () => {
    const r = run(flag);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /not supported yet in natsedge/);
  });
}

test("--tls without a certificate, -ms without TLS: refused with exit code 1 (tls.test.mjs has the rest)", { skip: !isNatsedge }, () => {
  const tls = run(["--tls"]);
  assert.equal(tls.status, 1);
  assert.match(tls.stderr, /TLS Server certificate must be present and valid/);
  const ms = run(["-ms", "8443"]);
  assert.equal(ms.status, 1);
  assert.match(ms.stderr, /HTTPS monitoring needs TLS/);
});

test("--user without --pass is refused", { skip: !isNatsedge }, () => {
  assert.equal(run(["--user", "a"]).status, 1);
});

test("pid file is written while running and removed at exit", { skip: !isNatsedge }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "natsedge-pid-"));
  const pidFile = join(dir, "n.pid");
  const port = await freePort();
  const srv = await startWith(["-a", "127.0.0.1", "-p", String(port), "-P", pidFile]);
  try {
    assert.equal(readFileSync(pidFile, "utf8").trim(), String(srv.pid));
  } finally {
    await srv.stop();
  }
  assert.equal(existsSync(pidFile), false);
  rmSync(dir, { recursive: true, force: true });
});

// nats-server exits 1 after SIGTERM; natsedge exits 0, which service managers
// read as a clean stop (differences.md).
test("logs in nats-server's style and exits cleanly on SIGTERM", async () => {
  const port = await freePort();
  const srv = await startWith(["-a", "127.0.0.1", "-p", String(port)]);
  const code = await srv.stop();
  assert.equal(code, isNatsedge ? 0 : 1);
  const logs = srv.logs();
  assert.match(logs, /\[INF\] Listening for client connections on 127\.0\.0\.1:\d+/);
  assert.match(logs, /\[INF\] Server is ready/);
  if (isNatsedge) {
    assert.match(logs, /\[INF\] Starting natsedge/);
    assert.match(logs, /Static memory reserved/);
  }
});
