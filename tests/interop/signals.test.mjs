// Operations signals (inventory CFG-01 `--signal`, CP-70, CFG-22), the same
// steps against natsedge and nats-server: SIGUSR1 reopens the log file for
// log rotation. Every broker started here is stopped by PID, every wait is
// bounded.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync, existsSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitFor, sleep } from "./lib/harness.mjs";

const BIN = process.env.NATSEDGE_BIN;
const started = new Set();

after(async () => {
  for (const b of [...started]) await b.stop();
});

const readText = (file) => (existsSync(file) ? readFileSync(file, "utf8") : "");

// Starts the broker with a config file (and a log file if `logFile`), waits
// until it says it is ready (on stderr, or in the log file).
async function launch({ config = "", logFile = null, args = [] } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "natsedge-signals-"));
  const confPath = join(dir, "broker.conf");
  writeFileSync(confPath, config);
  const port = await freePort();
  const fullArgs = ["-a", "127.0.0.1", "-p", String(port), "-c", confPath, ...args];
  if (logFile) fullArgs.push("-l", join(dir, logFile));
  const child = spawn(BIN, fullArgs, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  let exitCode = null;
  const exited = new Promise((resolve) =>
    child.once("exit", (code, signal) => {
      exitCode = code ?? `signal ${signal}`;
      resolve(exitCode);
    }),
  );
  const b = {
    port,
    dir,
    confPath,
    pid: child.pid,
    logPath: logFile ? join(dir, logFile) : null,
    logs: () => (logFile ? readText(join(dir, logFile)) : out),
    exited,
    exitCode: () => exitCode,
    signal: (sig) => process.kill(child.pid, sig),
    async stop() {
      if (exitCode === null) {
        child.kill("SIGKILL");
        await exited;
      }
      started.delete(b);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  started.add(b);
  try {
    await waitFor(() => /Server is ready/.test(b.logs()) || exitCode !== null, 10000, "Server is ready");
  } catch (e) {
    await b.stop();
    throw e;
  }
  if (exitCode !== null) throw new Error(`exited ${exitCode}: ${out}`);
  return b;
}

// Waits at most `ms` for the process to exit; returns its exit code.
async function exitWithin(b, ms) {
  let t;
  const r = await Promise.race([b.exited, new Promise((res) => (t = setTimeout(() => res("still running"), ms)))]);
  clearTimeout(t);
  return r;
}

test("SIGUSR1 reopens the log file: after a rename, new lines go to a new file (log rotation)", async () => {
  const b = await launch({ logFile: "broker.log" });
  const rotated = join(b.dir, "broker.log.1");
  renameSync(b.logPath, rotated);
  b.signal("SIGUSR1");
  await waitFor(() => /File log re-opened/.test(readText(b.logPath)), 5000, "the re-opened log file");
  assert.match(readText(rotated), /Server is ready/);
  assert.doesNotMatch(readText(rotated), /File log re-opened/);
  // Still serving, and still logging to the new file.
  b.signal("SIGUSR1");
  await waitFor(() => readText(b.logPath).split("File log re-opened").length === 3, 5000, "a second re-open");
  b.signal("SIGINT");
  assert.equal(await exitWithin(b, 5000), 0);
  await b.stop();
});

test("SIGUSR1 without a log file is ignored with a notice, the broker keeps running", async () => {
  const b = await launch();
  b.signal("SIGUSR1");
  await waitFor(() => /File log re-open ignored, not a file logger/.test(b.logs()), 5000, "the notice");
  await sleep(100);
  assert.equal(b.exitCode(), null);
  b.signal("SIGINT");
  assert.equal(await exitWithin(b, 5000), 0);
  await b.stop();
});
