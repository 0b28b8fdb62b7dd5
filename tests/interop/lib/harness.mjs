// Interop harness: start a broker binary (natsedge or the reference
// nats-server) on free loopback ports, talk to it over raw TCP, stop it by
// PID. Every wait is bounded in time; every process started here is stopped
// here, also when a test fails or the test process exits early.
//
//   startServer({ bin, args, config, env, small, tiny, ports, listen, logFile }) -> server
//     bin      broker binary (default NATSEDGE_BIN, NATSEDGE_SMALL_BIN when small,
//              NATSEDGE_TINY_BIN when tiny)
//     args     extra command-line flags (after `-a 127.0.0.1 -p <port>`), or a
//              function of the allocated ports returning them
//     config   conf file text (or a function of the ports returning it): written
//              to a temp file and passed as `-c <file>`
//     env      extra environment variables for the broker
//     small    the small-limits broker: natsedge -> NATSEDGE_SMALL_BIN (built with
//              small pools); nats-server -> the same limits through a config file
//              (SMALL_CONFIG below, prepended to `config`)
//     tiny     the tiny profile (config/profiles/tiny.h, what runs on the MCU):
//              natsedge -> NATSEDGE_TINY_BIN; nats-server -> the limits it can
//              be configured with (TINY_CONFIG below, prepended to `config`)
//     ports    names of further listeners ("http", "leaf", "cluster", ...): a free
//              port is found for each and passed to `args`/`config` as ports.<name>
//     listen   false: no `-a/-p` flags; args/config put ports.client where they like
//     logFile  a file name: the broker logs there (`-l`), logs() reads it too
//   server = { port, ports, url, pid, kind, bin, dir, confPath, logPath, logs(),
//              alive(), exitCode(), exited, waitExit(ms), signal(sig), stop() }
//
// Every listener port is allocated here: when any of them is taken between
// the allocation and the broker's bind (another test process on the machine
// can take it), the broker fails to start with "address already in use" (or
// natsedge's "Error listening on ... port: ..., exists") and the harness
// starts it again on new ports, rebuilding args and config from the new ones.
//
//   rawConnect(port) -> raw client for byte-level protocol tests:
//     { socket, send(str|Buffer), readUntil(re|str, ms), readAll(ms), closed(),
//       isClosed(), received(), destroy() }
//   freePort(), sleep(ms), waitFor(cond, ms, what), within(promise, ms, what),
//   parseInfo(text), getJSON(port, path), brokerKind(), stopAll().
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
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

// Limits of the tiny profile (config/profiles/tiny.h) that nats-server can be
// configured with, for the reference run of the tiny cases. natsedge's
// max_subscriptions defaults to one connection's share of its pool
// (NE_MAX_SUBSCRIPTIONS_PER_CONN, 32 of 64), the per-connection limit
// nats-server's key sets. tests/hostile/lib/limits.mjs checks both tables
// against the headers, so a changed knob fails there until this follows.
export const TINY_LIMITS = {
  max_connections: 8,
  max_pending: 8192,
  max_payload: 4096,
  max_control_line: 512,
  max_subscriptions: 32,
};
export const TINY_CONFIG = Object.entries(TINY_LIMITS)
  .map(([k, v]) => `${k}: ${v}`)
  .join("\n") + "\n";

const START_TIMEOUT_MS = 10000;
const STOP_TIMEOUT_MS = 5000;
const START_ATTEMPTS = 4;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Resolves with p's value, or TIMED_OUT after `ms`; the timer never outlives
// the race (a pending timer would keep the test process alive).
const TIMED_OUT = Symbol("timed out");
function raceTimer(p, ms) {
  let t;
  return Promise.race([p, new Promise((r) => (t = setTimeout(() => r(TIMED_OUT), ms)))]).finally(() => clearTimeout(t));
}

// Resolves as `p` does, or rejects after `ms` naming `what`: for the waits
// nats.js leaves unbounded (flush, close, closed, an async iterator).
export async function within(p, ms, what = "operation") {
  const v = await raceTimer(p, ms);
  if (v === TIMED_OUT) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
  return v;
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

// The kind of the broker under test (NATSEDGE_BIN) in this pass.
export function brokerKind() {
  return kindOf(process.env.NATSEDGE_BIN);
}

// The JSON of the first INFO line in `text`.
export function parseInfo(text) {
  const m = /^INFO\s+(\{.*?\})\s*\r\n/m.exec(text);
  if (!m) throw new Error(`no INFO in ${JSON.stringify(text.slice(0, 200))}`);
  return JSON.parse(m[1]);
}

// GET http://127.0.0.1:<port><path> and its JSON body, bounded in time.
export async function getJSON(port, path, ms = 5000) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(ms) });
  if (res.status !== 200) throw new Error(`GET ${path}: HTTP ${res.status}`);
  return res.json();
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

// A listener that could not bind because the port was taken: nats-server
// says "address already in use" (client, monitoring, leafnode and cluster
// ports alike), natsedge "Error listening on [<kind>] port: <addr>, exists".
// Whether a socket of this machine listens on TCP `port` (/proc/net/tcp and
// tcp6, state 0A), seen without connecting to it: a broker may open a
// listener some time after its client port (nats-server its route port).
export function isListening(port) {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  for (const f of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    if (!existsSync(f)) continue;
    for (const line of readFileSync(f, "utf8").split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length > 3 && cols[1].endsWith(hex) && cols[3] === "0A") return true;
    }
  }
  return false;
}

export function isBindRace(logs) {
  return /address already in use|Error listening on [a-z ]*port: \S+, exists/i.test(logs);
}

async function allocatePorts(names) {
  const ports = { client: await freePort() };
  for (const n of names) ports[n] = await freePort();
  return ports;
}

async function startOnce({ bin, args, config, env, ports, listen, logFile, small, tiny }) {
  const port = ports.client;
  const dir = mkdtempSync(join(tmpdir(), "natsedge-interop-"));
  const fullArgs = listen ? ["-a", "127.0.0.1", "-p", String(port)] : [];
  let confPath = null;
  let text = typeof config === "function" ? config(ports) : config;
  if (small && kindOf(bin) === "nats-server") text = SMALL_CONFIG + (text ?? "");
  if (tiny && kindOf(bin) === "nats-server") text = TINY_CONFIG + (text ?? "");
  if (text !== null && text !== undefined) {
    confPath = join(dir, "broker.conf");
    writeFileSync(confPath, text);
    fullArgs.push("-c", confPath);
  }
  const logPath = logFile ? join(dir, logFile) : null;
  if (logPath) fullArgs.push("-l", logPath);
  fullArgs.push(...(typeof args === "function" ? args(ports) : args));
  const child = spawn(bin, fullArgs, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  let out = "";
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
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  const logs = () => (logPath && existsSync(logPath) ? out + readFileSync(logPath, "utf8") : out);
  let stopping = null;
  const server = {
    port,
    ports,
    url: `nats://127.0.0.1:${port}`,
    pid: child.pid,
    bin,
    kind: kindOf(bin),
    args: fullArgs,
    dir,
    confPath,
    logPath,
    logs,
    exited,
    alive: () => exitCode === null,
    exitCode: () => exitCode,
    // The exit code if the broker exits within `ms`, else "still running".
    waitExit: async (ms) => {
      const v = await raceTimer(exited, ms);
      return v === TIMED_OUT ? "still running" : v;
    },
    signal: (sig) => process.kill(child.pid, sig),
    // SIGTERM, SIGKILL after 5 s; resolves the exit code.
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
        rmSync(dir, { recursive: true, force: true });
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
    if (/Server is ready/.test(logs()) && (await canConnect(port))) {
      ready = true;
      break;
    }
    await sleep(20);
  }
  if (!ready) {
    const text = logs();
    await server.stop();
    const why = spawnError ? `spawn error: ${spawnError.message}` : `exit ${exitCode}`;
    const err = new Error(`${bin} ${fullArgs.join(" ")} did not become ready (${why}):\n${text}`);
    err.addressInUse = isBindRace(text);
    throw err;
  }
  return server;
}

// The tiny broker: NATSEDGE_TINY_BIN, or nats-server itself in the parity
// pass. A natsedge pass without it fails rather than running the tiny cases
// on a broker of other limits.
function tinyBin() {
  if (process.env.NATSEDGE_TINY_BIN) return process.env.NATSEDGE_TINY_BIN;
  if (brokerKind() === "nats-server") return process.env.NATSEDGE_BIN;
  throw new Error("NATSEDGE_TINY_BIN is not set: build it with `make CONFIG=tiny all` (build/tiny/natsedge)");
}

export async function startServer({
  bin,
  args = [],
  config = null,
  env = {},
  small = false,
  tiny = false,
  ports = [],
  listen = true,
  logFile = null,
} = {}) {
  if (small && tiny) throw new Error("startServer: small and tiny are two profiles; ask for one");
  if (!bin) bin = tiny ? tinyBin() : small ? process.env.NATSEDGE_SMALL_BIN || process.env.NATSEDGE_BIN : process.env.NATSEDGE_BIN;
  if (!bin) throw new Error("NATSEDGE_BIN is not set (use /usr/sbin/nats-server for the reference run)");
  // A port is free when asked for but another process may take it before
  // the broker binds it: start again on new ports in that case.
  for (let attempt = 1; ; attempt++) {
    const allocated = await allocatePorts(ports);
    try {
      return await startOnce({ bin, args, config, env, ports: allocated, listen, logFile, small, tiny });
    } catch (e) {
      if (!e.addressInUse || attempt >= START_ATTEMPTS) throw e;
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

// A loopback TCP listener (port 0: no bind race) that records every
// connection made to it: { at (ms since the listener started), socket,
// received }. `onConnection(conn)` may answer; by default the connection is
// closed at once. For the connecting side of a broker (leaf remotes): the
// attempts, their times and which listener of several was tried are seen on
// the wire.
export function listenRecorder({ onConnection = (c) => c.socket.destroy() } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const conns = [];
    const srv = net.createServer((socket) => {
      // `at`, `closedAt` and `now()`: milliseconds since the listener started.
      const conn = { at: Date.now() - t0, now: () => Date.now() - t0, socket, received: "", closedAt: null };
      socket.on("data", (d) => (conn.received += d.toString("latin1")));
      socket.on("error", () => {});
      socket.on("close", () => {
        if (conn.closedAt === null) conn.closedAt = conn.now();
      });
      conns.push(conn);
      onConnection(conn);
    });
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const rec = {
        port: srv.address().port,
        conns,
        close: () =>
          new Promise((r) => {
            for (const c of conns) c.socket.destroy();
            srv.close(() => r());
          }),
      };
      closers.add(rec);
      resolve(rec);
    });
  });
}
const closers = new Set();

// A TCP proxy on a free loopback port (port 0) in front of `targetPort`:
// every connection through it is recorded with its times and the bytes each
// way (`received`: from the connecting broker, `sent`: the target's answers),
// so a test sees on the wire what a broker sent and was answered. Setting
// `proxy.target` sends later connections to another port (a restarted hub on
// a new port, behind the same address for the broker that connects).
// Setting `proxy.throttle = { bytes, ms }` passes the target's answers on at
// most `bytes` every `ms` (a slow link: a catch-up the test wants to catch
// in the middle takes seconds, not one poll); null passes them at once
// again, after what was held back.
export async function tcpProxy(targetPort) {
  const drain = (conn) => {
    let budget = proxy.throttle ? proxy.throttle.bytes : Infinity;
    while (conn.held.length > 0 && budget > 0) {
      const d = conn.held[0];
      if (d.length > budget) {
        conn.socket.write(d.subarray(0, budget));
        conn.held[0] = d.subarray(budget);
        budget = 0;
      } else {
        conn.socket.write(d);
        conn.held.shift();
        budget -= d.length;
      }
    }
    if (conn.held.length === 0 && conn.timer) {
      clearInterval(conn.timer);
      conn.timer = null;
    }
  };
  const proxy = await listenRecorder({
    onConnection(conn) {
      conn.sent = "";
      conn.held = [];
      conn.timer = null;
      const up = net.connect({ port: proxy.target, host: "127.0.0.1" });
      up.on("error", () => conn.socket.destroy());
      up.on("data", (d) => {
        conn.sent += d.toString("latin1");
        if (!proxy.throttle && conn.held.length === 0) {
          conn.socket.write(d);
          return;
        }
        conn.held.push(d);
        if (!conn.timer) conn.timer = setInterval(() => drain(conn), proxy.throttle ? proxy.throttle.ms : 10);
      });
      conn.socket.on("data", (d) => up.write(d));
      up.on("close", () => conn.socket.destroy());
      conn.socket.on("close", () => {
        if (conn.timer) clearInterval(conn.timer);
        conn.timer = null;
        up.destroy();
      });
    },
  });
  proxy.target = targetPort;
  proxy.throttle = null;
  return proxy;
}

// The board suites (natsedge over lwIP on a TAP device, the mps2-an385
// firmware in QEMU) test natsedge's own ports: in the nats-server pass they
// skip as natsedge-only. Otherwise a missing prerequisite (`missing`: why
// the suite cannot run, or false) fails the suite with the reason, unless
// SKIP_BOARDS=1 asks to skip it: `make test` never passes by skipping.
// Returns { skip, fail }: `skip` for every test's options, `fail` (or null)
// the reason a single failing test reports.
export function boardGate(missing) {
  if (brokerKind() === "nats-server") return { skip: "natsedge-only: a port of natsedge's own", fail: null };
  if (!missing) return { skip: false, fail: null };
  if (process.env.SKIP_BOARDS === "1") return { skip: `${missing} (SKIP_BOARDS=1)`, fail: null };
  return { skip: missing, fail: `cannot run: ${missing}; set SKIP_BOARDS=1 to skip the board suites` };
}

// Stops every broker, raw socket and recorder this process still has open.
export async function stopAll() {
  for (const r of [...raws]) r.socket.destroy();
  for (const c of [...closers]) {
    closers.delete(c);
    await c.close();
  }
  await Promise.all([...servers].map((s) => s.stop()));
}
