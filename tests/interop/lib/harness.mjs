// Interop harness: start a broker binary (natsedge or the reference
// nats-server) on a free loopback port, talk to it over raw TCP, stop it by
// PID. Every wait is bounded in time; every process started here is stopped
// here, also when a test fails or the test process exits early.
//
//   startServer({ bin, args, config, env, small }) -> server
//     bin     broker binary (default NATSEDGE_BIN, or NATSEDGE_SMALL_BIN when small)
//     args    extra command-line flags (after `-a 127.0.0.1 -p <port>`)
//     config  conf file text: written to a temp file and passed as `-c <file>`
//     env     extra environment variables for the broker
//     small   the small-limits broker: natsedge -> NATSEDGE_SMALL_BIN (built with
//             small pools); nats-server -> the same limits through a config file
//             (SMALL_CONFIG below, prepended to `config`)
//   server = { port, url, pid, kind, bin, logs(), stop(), alive() }
//
//   rawConnect(port) -> raw client for byte-level protocol tests:
//     { socket, send(str|Buffer), readUntil(re|str, ms), readAll(ms), closed(),
//       isClosed(), received(), destroy() }
//   freePort(), sleep(ms), waitFor(cond, ms, what), parseInfo(text),
//   stopAll() (stops every broker and raw socket still open; for `after`).
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import net from "node:net";

// Limits of the small-pool natsedge build (config/profiles/test-small.h),
// expressed as a nats-server config for the reference run. natsedge's 32
// subscriptions are a server-wide pool, nats-server's max_subscriptions is per
// connection: tests that exhaust it do so from one connection.
export const SMALL_LIMITS = {
  max_connections: 8,
  max_pending: 131072,
  max_payload: 65536,
  max_subscriptions: 32,
};
export const SMALL_CONFIG = Object.entries(SMALL_LIMITS)
  .map(([k, v]) => `${k}: ${v}`)
  .join("\n") + "\n";

const START_TIMEOUT_MS = 10000;
const STOP_TIMEOUT_MS = 5000;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Resolves with p's value, or TIMED_OUT after `ms`; the timer never outlives
// the race (a pending timer would keep the test process alive).
const TIMED_OUT = Symbol("timed out");
function raceTimer(p, ms) {
  let t;
  return Promise.race([p, new Promise((r) => (t = setTimeout(() => r(TIMED_OUT), ms)))]).finally(() => clearTimeout(t));
}

// Asks the OS for a free loopback port (listen on 0, read it, close).
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Polls `cond` (sync or async) every 10 ms until it is truthy, at most `ms`.
export async function waitFor(cond, ms = 5000, what = "condition") {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

// 'nats-server' when the binary is the reference server, else 'natsedge'.
export function kindOf(bin) {
  return basename(bin ?? "").startsWith("nats-server") ? "nats-server" : "natsedge";
}

// The JSON of the first INFO line in `text`.
export function parseInfo(text) {
  const m = /^INFO\s+(\{.*?\})\s*\r\n/m.exec(text);
  if (!m) throw new Error(`no INFO in ${JSON.stringify(text.slice(0, 200))}`);
  return JSON.parse(m[1]);
}

const servers = new Set();
const raws = new Set();

// Last line of defence: a test process that exits without running its
// `after` hooks, or is interrupted, still kills the brokers it started (by
// PID, its own only).
function killStarted() {
  for (const s of servers) {
    try {
      process.kill(s.pid, "SIGKILL");
    } catch {
      /* already gone */
    }
  }
}
process.once("exit", killStarted);
for (const [sig, n] of [["SIGINT", 2], ["SIGTERM", 15]]) {
  process.once(sig, () => {
    killStarted();
    process.exit(128 + n);
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: "127.0.0.1" });
    const done = (ok) => {
      clearTimeout(t);
      s.destroy();
      resolve(ok);
    };
    // Ready means the broker accepted us and sent its greeting.
    s.once("data", (d) => done(d.toString("latin1").startsWith("INFO")));
    s.once("error", () => done(false));
    s.once("close", () => done(false));
    const t = setTimeout(() => done(false), 1000);
  });
}

async function startOnce({ bin, args, config, env }) {
  const port = await freePort();
  let dir = null;
  const fullArgs = ["-a", "127.0.0.1", "-p", String(port)];
  if (config !== null) {
    dir = mkdtempSync(join(tmpdir(), "natsedge-interop-"));
    const file = join(dir, "broker.conf");
    writeFileSync(file, config);
    fullArgs.push("-c", file);
  }
  fullArgs.push(...args);
  const child = spawn(bin, fullArgs, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  let logs = "";
  let exitCode = null;
  let spawnError = null;
  const exited = new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      exitCode = code ?? (signal ? `signal ${signal}` : null);
      resolve(exitCode);
    });
    child.once("error", (e) => {
      spawnError = e;
      exitCode = -1;
      resolve(-1);
    });
  });
  child.stdout.on("data", (d) => (logs += d));
  child.stderr.on("data", (d) => (logs += d));
  let stopping = null;
  const server = {
    port,
    url: `nats://127.0.0.1:${port}`,
    pid: child.pid,
    bin,
    kind: kindOf(bin),
    args: fullArgs,
    logs: () => logs,
    alive: () => exitCode === null,
    stop() {
      if (stopping) return stopping;
      stopping = (async () => {
        if (exitCode === null) {
          child.kill("SIGTERM");
          const t = setTimeout(() => {
            if (exitCode === null) child.kill("SIGKILL");
          }, STOP_TIMEOUT_MS);
          await exited;
          clearTimeout(t);
        }
        servers.delete(server);
        if (dir) rmSync(dir, { recursive: true, force: true });
        return exitCode;
      })();
      return stopping;
    },
  };
  servers.add(server);
  const deadline = Date.now() + START_TIMEOUT_MS;
  let ready = false;
  while (Date.now() < deadline) {
    if (exitCode !== null) break;
    if (/Server is ready/.test(logs) && (await canConnect(port))) {
      ready = true;
      break;
    }
    await sleep(20);
  }
  if (!ready) {
    await server.stop();
    const why = spawnError ? `spawn error: ${spawnError.message}` : `exit ${exitCode}`;
    const err = new Error(`${bin} ${fullArgs.join(" ")} did not become ready (${why}):\n${logs}`);
    err.addressInUse = /address already in use/i.test(logs);
    throw err;
  }
  return server;
}

export async function startServer({
  bin,
  args = [],
  config = null,
  env = {},
  small = false,
} = {}) {
  if (!bin) bin = small ? process.env.NATSEDGE_SMALL_BIN || process.env.NATSEDGE_BIN : process.env.NATSEDGE_BIN;
  if (!bin) throw new Error("NATSEDGE_BIN is not set (use /usr/sbin/nats-server for the reference run)");
  if (small && kindOf(bin) === "nats-server") config = SMALL_CONFIG + (config ?? "");
  // The port is free when asked for but another process may take it before
  // the broker binds it: try again with a new port in that case.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce({ bin, args, config, env });
    } catch (e) {
      if (!e.addressInUse || attempt >= 3) throw e;
    }
  }
}

// A raw TCP client. Received bytes are kept as latin1 text (one char per
// byte), so lengths are byte counts and payloads can be compared exactly.
export function rawConnect(port, { host = "127.0.0.1", timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host });
    let all = ""; // everything received
    let pos = 0; // start of the unread part
    let isClosed = false;
    const waiters = new Set();
    const wake = () => {
      for (const w of waiters) w();
    };
    const closedP = new Promise((r) => socket.once("close", () => {
      isClosed = true;
      raws.delete(client);
      wake();
      r();
    }));
    socket.on("data", (d) => {
      all += d.toString("latin1");
      wake();
    });
    socket.on("error", () => {}); // resets after a server close are expected
    const t = setTimeout(() => {
      socket.destroy();
      reject(new Error(`raw connect to ${host}:${port} timed out`));
    }, timeoutMs);
    const client = {
      socket,
      // Writes and resolves once the bytes are handed to the kernel.
      send(data) {
        return new Promise((res) => {
          if (isClosed || socket.destroyed) return res(false);
          socket.write(typeof data === "string" ? Buffer.from(data, "latin1") : data, () => res(true));
        });
      },
      // Waits until the unread bytes match `pattern` (RegExp or string),
      // consumes them up to the end of the match and returns that text.
      readUntil(pattern, ms = 5000) {
        const find = () => {
          const rest = all.slice(pos);
          if (typeof pattern === "string") {
            const i = rest.indexOf(pattern);
            return i < 0 ? null : rest.slice(0, i + pattern.length);
          }
          const m = new RegExp(pattern.source, pattern.flags.replace("g", "")).exec(rest);
          return m ? rest.slice(0, m.index + m[0].length) : null;
        };
        return new Promise((res, rej) => {
          const check = () => {
            const got = find();
            if (got !== null) {
              finish();
              pos += got.length;
              res(got);
            } else if (isClosed) {
              finish();
              rej(new Error(`closed before ${pattern}; unread: ${JSON.stringify(all.slice(pos, pos + 500))}`));
            }
          };
          const timer = setTimeout(() => {
            finish();
            rej(new Error(`timed out (${ms} ms) waiting for ${pattern}; unread: ${JSON.stringify(all.slice(pos, pos + 500))}`));
          }, ms);
          const finish = () => {
            clearTimeout(timer);
            waiters.delete(check);
          };
          waiters.add(check);
          check();
        });
      },
      // Waits `ms` (less if the socket closes) and returns and consumes every unread byte.
      async readAll(ms = 200) {
        await raceTimer(closedP, ms);
        const rest = all.slice(pos);
        pos = all.length;
        return rest;
      },
      // Resolves when the peer (or we) closed the socket.
      closed: () => closedP,
      // Resolves true if closed within `ms`, false otherwise.
      closedWithin: async (ms) => (await raceTimer(closedP, ms)) !== TIMED_OUT,
      isClosed: () => isClosed,
      received: () => all, // everything, read or not
      destroy() {
        socket.destroy();
        return closedP;
      },
    };
    socket.once("connect", () => {
      clearTimeout(t);
      raws.add(client);
      resolve(client);
    });
    socket.once("error", (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

// Connects raw, reads INFO, optionally sends a CONNECT (object or string).
// Returns { client, info }.
export async function rawHandshake(port, connect = { verbose: false, pedantic: false }) {
  const client = await rawConnect(port);
  const line = await client.readUntil("\r\n");
  const info = parseInfo(line);
  if (connect !== null) {
    await client.send(`CONNECT ${typeof connect === "string" ? connect : JSON.stringify(connect)}\r\n`);
  }
  return { client, info };
}

// Stops every broker and raw socket this process still has open.
export async function stopAll() {
  for (const r of [...raws]) r.socket.destroy();
  await Promise.all([...servers].map((s) => s.stop()));
}
