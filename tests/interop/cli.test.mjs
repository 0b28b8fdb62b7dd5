// The command line: nats-server's flags with Go's flag syntax (inventory
// CFG-01..CFG-05), run against the broker in NATSEDGE_BIN (natsedge, or
// nats-server in the parity pass). Where the two differ by design the test
// asserts each one's behaviour and names the differences.md entry. Every
// process is bounded in time and stopped by PID.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, existsSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer, rawConnect, parseInfo, brokerKind, waitFor } from "./lib/harness.mjs";

const BIN = process.env.NATSEDGE_BIN;
const KIND = brokerKind();
const isNatsedge = KIND === "natsedge";

function run(args) {
  return spawnSync(BIN, args, { encoding: "utf8", timeout: 10000 });
}

async function infoFrom(port) {
  const c = await rawConnect(port);
  const info = parseInfo(await c.readUntil("\r\n"));
  c.destroy();
  return info;
}

function validConfig() {
  const dir = mkdtempSync(join(tmpdir(), "natsedge-cli-"));
  const file = join(dir, "ok.conf");
  writeFileSync(file, "port: 4222\n");
  return { dir, file };
}

test("version and help exit 0 (CFG-05)", () => {
  const v = run(["-v"]);
  assert.equal(v.status, 0);
  assert.match(v.stdout, new RegExp(`^${KIND}: v\\d+\\.\\d+\\.\\d+`));
  assert.equal(run(["--version"]).status, 0);
  const h = run(["-h"]);
  assert.equal(h.status, 0);
  assert.match(h.stdout, /Usage:/);
});

for (const form of [["-p", "P"], ["-p=P"], ["--port", "P"], ["--port=P"]]) {
  test(`port flag as ${form.join(" ").replace(/P/, "<port>")} (Go flag syntax); the ports file names it (CFG-01)`, async () => {
    const portsDir = mkdtempSync(join(tmpdir(), "natsedge-cli-"));
    const srv = await startServer({
      listen: false,
      args: (p) => ["-a", "127.0.0.1", ...form.map((a) => a.replace("P", String(p.client))), "--ports_file_dir", portsDir],
    });
    try {
      assert.equal((await infoFrom(srv.port)).port, srv.port);
      // nats-server writes the file just after it says it is ready.
      const ports = await waitFor(() => {
        const f = readdirSync(portsDir).find((n) => n.endsWith(".ports"));
        try {
          return f && JSON.parse(readFileSync(join(portsDir, f), "utf8"));
        } catch {
          return null; /* written but not complete yet */
        }
      }, 5000, "the ports file");
      assert.deepEqual(ports.nats, [`nats://127.0.0.1:${srv.port}`]);
    } finally {
      await srv.stop();
      rmSync(portsDir, { recursive: true, force: true });
    }
  });
}

test("server name flag appears in INFO (CFG-01)", async () => {
  const srv = await startServer({ args: ["--server_name", "edge-7"] });
  try {
    assert.equal((await infoFrom(srv.port)).server_name, "edge-7");
  } finally {
    await srv.stop();
  }
});

// nats-server exits 0 here (its usage function exits 0); natsedge exits 2 as
// Go's flag package does, so that scripts see the mistake (differences.md,
// "Exit codes").
test("unknown flag prints usage: exit 2 on natsedge, 0 on nats-server (differences.md: Exit codes)", () => {
  const r = run(["--no_such_flag"]);
  assert.equal(r.status, isNatsedge ? 2 : 0);
  assert.match(r.stderr + r.stdout, /flag provided but not defined: -no_such_flag/);
});

test("a flag without its value: exit 2 on natsedge, 0 on nats-server (differences.md: Exit codes)", () => {
  const r = run(["-p"]);
  assert.equal(r.status, isNatsedge ? 2 : 0);
  assert.match(r.stderr, /flag needs an argument: -p/);
});

test("a boolean flag takes a value only after =: -D=true is accepted, -D=maybe refused (differences.md: Exit codes)", () => {
  const { dir, file } = validConfig();
  try {
    assert.equal(run(["-t", "-c", file, "-D=true"]).status, 0);
    const bad = run(["-t", "-c", file, "-D=maybe"]);
    assert.equal(bad.status, isNatsedge ? 2 : 0);
    assert.match(bad.stderr + bad.stdout, /invalid boolean value "maybe" for -D/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// natsedge checks the command-line options alone too; nats-server's -t
// needs a configuration file (differences.md, "Command line").
test("-t checks a configuration file and exits 0; without -c: natsedge checks the flags, nats-server asks for -c (CFG-01)", () => {
  const { dir, file } = validConfig();
  try {
    const r = run(["-t", "-c", file]);
    assert.equal(r.status, 0);
    assert.match(r.stdout + r.stderr, /configuration file .*ok\.conf is valid/);
    const bare = run(["-t", "-p", "4222"]);
    if (isNatsedge) {
      assert.equal(bare.status, 0);
      assert.match(bare.stdout, /configuration is valid/);
    } else {
      assert.equal(bare.status, 1);
      assert.match(bare.stderr, /must specify \[-c, --config\] option/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const flag of [["-js"], ["-sd", "/tmp/x"]]) {
  test(`natsedge-only (a feature not built yet, differences.md: Not built yet): ${flag[0]} is refused with exit code 1`, { skip: !isNatsedge && "natsedge-only: nats-server has the feature" }, () => {
    const r = run(flag);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /not supported yet in natsedge/);
  });
}

test("--tls without a certificate, -ms without TLS: refused with exit code 1 (CFG-04; tls.test.mjs has the rest)", () => {
  const tls = run(["--tls"]);
  assert.equal(tls.status, 1);
  assert.match(tls.stdout + tls.stderr, /TLS Server certificate must be present and valid/);
  const ms = run(["-a", "127.0.0.1", "-p", "-1", "-ms", "-1"]);
  assert.equal(ms.status, 1);
  assert.match(ms.stdout + ms.stderr, isNatsedge ? /HTTPS monitoring needs TLS/ : /TLS cert and key required for HTTPS/);
});

// nats-server starts with --user alone (the user then has an empty
// password); natsedge refuses the pair half given (differences.md,
// "Command line").
test("--user without --pass: refused by natsedge (exit 1), a user with an empty password on nats-server (CFG-04)", async () => {
  if (isNatsedge) {
    const r = run(["--user", "a"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /--user and --pass must be given together/);
    return;
  }
  const srv = await startServer({ args: ["--user", "a"] });
  try {
    assert.equal((await infoFrom(srv.port)).auth_required, true);
  } finally {
    await srv.stop();
  }
});

// natsedge removes its pid file at exit; nats-server 2.9 leaves it
// (differences.md, "Command line").
for (const how of ["flag -P", "config pid_file"]) {
  test(`pid file (${how}) holds the broker's pid while it runs; removed at exit by natsedge, left by nats-server (CFG-01, CFG-15)`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "natsedge-pid-"));
    const pidFile = join(dir, "n.pid");
    const srv = await startServer(how === "flag -P" ? { args: ["-P", pidFile] } : { config: `pid_file: "${pidFile}"\n` });
    try {
      assert.equal(readFileSync(pidFile, "utf8").trim(), String(srv.pid));
    } finally {
      await srv.stop();
    }
    assert.equal(existsSync(pidFile), !isNatsedge);
    rmSync(dir, { recursive: true, force: true });
  });
}

// nats-server exits 1 after SIGTERM; natsedge exits 0, which service managers
// read as a clean stop (differences.md, "Exit codes").
test("logs in nats-server's style; SIGTERM exits 0 on natsedge, 1 on nats-server (differences.md: Exit codes)", async () => {
  const srv = await startServer();
  const code = await srv.stop();
  assert.equal(code, isNatsedge ? 0 : 1);
  const logs = srv.logs();
  assert.match(logs, /\[INF\] Listening for client connections on 127\.0\.0\.1:\d+/);
  assert.match(logs, /\[INF\] Server is ready/);
  assert.match(logs, new RegExp(`\\[INF\\] Starting ${KIND}`));
  if (isNatsedge) assert.match(logs, /Static memory reserved/);
});
