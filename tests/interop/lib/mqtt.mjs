// MQTT for the interop suites: which broker serves a scenario in each pass,
// MQTT.js, mosquitto's command-line clients and paho behind bounded waits,
// and a raw packet client for byte-level checks.
//
// In the natsedge pass (NATSEDGE_BIN is natsedge) every scenario runs
// against natsedge. In the parity pass (NATSEDGE_BIN=/usr/sbin/nats-server)
// a scenario runs against the reference that serves it:
//   need "nats"  (MQTT 3.1.1 at QoS 0/1, alone or with NATS clients):
//                nats-server 2.9.10 with `mqtt {}` and JetStream;
//   need "mqtt"  (MQTT 5, QoS 2: what nats-server 2.9 cannot serve):
//                Debian's mosquitto 2.0.11;
//   need "both"  (MQTT 5 or QoS 2 together with NATS clients): natsedge
//                only; the test skips itself in the parity pass and says so.
//
//   startMqtt({ need, config, small, logFile }) -> broker
//     broker = { kind, mqttPort, natsPort, httpPort, natsUrl, logs(), stop() }
//   skipUnlessServed(need)     the `skip` option of a test for this pass
//   connectMqtt(broker, opts)  an MQTT.js client (reconnect off), bounded
//   inbox(client)              messages as they arrive: { msgs, wait(n, ms) }
//   runTool(cmd, args, ms)     mosquitto_pub/sub, python3: { code, out }
//   rawMqtt(port)              { send(buf), next(ms), closed(ms), destroy() }
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import net from "node:net";
import mqtt from "mqtt";
import { startServer, brokerKind, freePort, within, waitFor, sleep } from "./harness.mjs";

export const MOSQUITTO_BIN = process.env.MOSQUITTO_BIN || "/usr/sbin/mosquitto";
export const PYTHON_BIN = "/usr/bin/python3"; // Debian's: python3-paho-mqtt is installed there

// Which broker serves `need` in this pass; null: none (the test skips).
export function servedBy(need) {
  if (brokerKind() === "natsedge") return "natsedge";
  if (need === "nats") return "nats-server";
  if (need === "mqtt") return "mosquitto";
  return null;
}

// A test's `skip` option: false, or why it cannot run in this pass.
export function skipUnlessServed(need) {
  return servedBy(need) === null
    ? "natsedge-only: MQTT 5 or QoS 2 with NATS clients (nats-server 2.9 has neither, mosquitto no NATS)"
    : false;
}

const children = new Set();
process.once("exit", () => {
  for (const c of children) {
    try {
      process.kill(c.pid, "SIGKILL");
    } catch {
      /* already gone */
    }
  }
});

// Waits until something accepts TCP connections on `port`.
async function acceptsOn(port, ms) {
  await waitFor(
    () =>
      new Promise((resolve) => {
        const s = net.connect({ port, host: "127.0.0.1" });
        s.once("connect", () => {
          s.destroy();
          resolve(true);
        });
        s.once("error", () => resolve(false));
      }),
    ms,
    `a listener on ${port}`,
  );
}

async function startMosquitto({ config = "" }) {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), "mosquitto-interop-"));
    const confPath = join(dir, "mosquitto.conf");
    writeFileSync(
      confPath,
      `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\n${config}`,
    );
    const child = spawn(MOSQUITTO_BIN, ["-c", confPath], { stdio: ["ignore", "pipe", "pipe"] });
    children.add(child);
    let out = "";
    let exited = false;
    const exitP = new Promise((r) => child.once("exit", () => ((exited = true), r())));
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const stop = async () => {
      if (!exited) {
        child.kill("SIGTERM");
        const t = setTimeout(() => exited || child.kill("SIGKILL"), 5000);
        await exitP;
        clearTimeout(t);
      }
      children.delete(child);
      rmSync(dir, { recursive: true, force: true });
    };
    try {
      await acceptsOn(port, 10000);
      if (exited) throw new Error(out);
    } catch (e) {
      await stop();
      if (/Address already in use/i.test(out) && attempt < 4) continue;
      throw new Error(`mosquitto did not start: ${e.message}\n${out}`);
    }
    return { kind: "mosquitto", mqttPort: port, natsPort: null, httpPort: null, logs: () => out, stop };
  }
}

// The broker of this pass for `need` (see the top of this file). `config`:
// extra lines for natsedge/nats-server's file (a function of the ports), or
// for mosquitto's (a string, `mosquittoConfig`).
export async function startMqtt({ need = "nats", config = "", mosquittoConfig = "", small = false, logFile = null, mqttBlock = "" } = {}) {
  const kind = servedBy(need);
  if (kind === null) throw new Error(`no broker serves "${need}" in this pass`);
  if (kind === "mosquitto") return startMosquitto({ config: mosquittoConfig });
  const jsDir = kind === "nats-server" ? mkdtempSync(join(tmpdir(), "ns-mqtt-js-")) : null;
  const s = await startServer({
    small,
    logFile,
    ports: ["http", "mqtt"],
    config: (p) => {
      const extra = typeof config === "function" ? config(p) : config;
      const js = jsDir ? `server_name: "ref-${p.client}"\njetstream { store_dir: "${jsDir}" }\n` : "";
      return `${js}http: "127.0.0.1:${p.http}"\nmqtt {\n  listen: "127.0.0.1:${p.mqtt}"\n${mqttBlock}\n}\n${extra}`;
    },
  });
  await acceptsOn(s.ports.mqtt, 10000);
  return {
    kind,
    server: s,
    mqttPort: s.ports.mqtt,
    natsPort: s.port,
    natsUrl: s.url,
    httpPort: s.ports.http,
    logs: () => s.logs(),
    stop: async () => {
      await s.stop();
      if (jsDir) rmSync(jsDir, { recursive: true, force: true });
    },
  };
}

const clients = new Set();

// An MQTT.js client of `broker` (reconnect off, bounded connect). opts are
// MQTT.js's (protocolVersion, clientId, clean, properties, will, ...).
export async function connectMqtt(broker, opts = {}) {
  const c = await within(
    mqtt.connectAsync(`mqtt://127.0.0.1:${broker.mqttPort}`, {
      reconnectPeriod: 0,
      connectTimeout: 5000,
      protocolVersion: 4,
      ...opts,
    }),
    8000,
    "MQTT connect",
  );
  clients.add(c);
  return c;
}

// Ends every MQTT.js client still open (bounded).
export async function endAllMqtt() {
  for (const c of [...clients]) {
    clients.delete(c);
    await within(c.endAsync(true), 3000, "MQTT end").catch(() => {});
  }
}

// Messages a client receives, as they arrive.
export function inbox(client) {
  const msgs = [];
  client.on("message", (topic, payload, packet) => msgs.push({ topic, payload: payload.toString(), packet }));
  return {
    msgs,
    wait: (n, ms = 5000, what = `${n} messages`) => waitFor(() => msgs.length >= n, ms, what).then(() => msgs),
    // Waits `ms` and returns what arrived meanwhile (for "nothing more").
    settle: async (ms = 300) => {
      await sleep(ms);
      return msgs;
    },
  };
}

// Runs a command (mosquitto_pub/sub, python3) and resolves { code, out }
// when it exits; it is killed after `ms`.
export function runTool(cmd, args, ms = 10000, input = null) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: [input === null ? "ignore" : "pipe", "pipe", "pipe"] });
    children.add(child);
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    if (input !== null) child.stdin.end(input);
    const t = setTimeout(() => child.kill("SIGKILL"), ms);
    child.once("exit", (code, signal) => {
      clearTimeout(t);
      children.delete(child);
      resolve({ code: code ?? `signal ${signal}`, out });
    });
  });
}

// Starts a long-running tool (mosquitto_sub) and returns { out(), stop(),
// exited }: its output so far, and its end.
export function spawnTool(cmd, args) {
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  const exited = new Promise((r) => child.once("exit", (code) => (children.delete(child), r(code))));
  return {
    out: () => out,
    exited,
    stop: async () => {
      child.kill("SIGTERM");
      await within(exited, 5000, `${cmd} exit`).catch(() => child.kill("SIGKILL"));
    },
  };
}

// ---- Raw packets --------------------------------------------------------------

export function vbi(n) {
  const out = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

export const str = (s) => {
  const b = Buffer.isBuffer(s) ? s : Buffer.from(s, "utf8");
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
};

export function packet(first, ...parts) {
  const body = Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p))));
  return Buffer.concat([Buffer.from([first]), vbi(body.length), body]);
}

// CONNECT: version 4 or 5, flags byte, keep-alive, client id, v5 properties.
export function connectPacket({ version = 4, id = "raw", clean = true, keepAlive = 60, props = Buffer.alloc(0), extra = Buffer.alloc(0) } = {}) {
  const head = Buffer.concat([str("MQTT"), Buffer.from([version, clean ? 0x02 : 0x00, keepAlive >> 8, keepAlive & 0xff])]);
  const p = version === 5 ? Buffer.concat([vbi(props.length), props]) : Buffer.alloc(0);
  return packet(0x10, head, p, str(id), extra);
}

// A raw MQTT connection: whole packets as they arrive.
export function rawMqtt(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: "127.0.0.1" });
    let buf = Buffer.alloc(0);
    let isClosed = false;
    const waiters = new Set();
    const wake = () => waiters.forEach((w) => w());
    const closedP = new Promise((r) =>
      socket.once("close", () => {
        isClosed = true;
        wake();
        r();
      }),
    );
    socket.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      wake();
    });
    socket.on("error", () => {});
    const take = () => {
      if (buf.length < 2) return null;
      let len = 0;
      let mul = 1;
      let i = 1;
      for (;;) {
        if (i >= buf.length) return null;
        const b = buf[i++];
        len += (b & 0x7f) * mul;
        mul *= 128;
        if ((b & 0x80) === 0) break;
      }
      if (buf.length < i + len) return null;
      const p = { first: buf[0], type: buf[0] >> 4, body: buf.subarray(i, i + len), bytes: buf.subarray(0, i + len) };
      buf = buf.subarray(i + len);
      return p;
    };
    const c = {
      socket,
      send: (b) => new Promise((res) => (isClosed ? res(false) : socket.write(b, () => res(true)))),
      // The next whole packet within `ms`; null when the connection closed first.
      next: (ms = 5000) =>
        new Promise((res, rej) => {
          const check = () => {
            const p = take();
            if (p || isClosed) {
              done();
              res(p);
            }
          };
          const timer = setTimeout(() => {
            done();
            rej(new Error(`no MQTT packet within ${ms} ms`));
          }, ms);
          const done = () => {
            clearTimeout(timer);
            waiters.delete(check);
          };
          waiters.add(check);
          check();
        }),
      // Resolves true if the server closed within `ms`.
      closed: async (ms = 5000) => {
        let t;
        const r = await Promise.race([closedP.then(() => true), new Promise((res) => (t = setTimeout(() => res(false), ms)))]);
        clearTimeout(t);
        return r;
      },
      isClosed: () => isClosed,
      pending: () => buf,
      destroy: () => {
        socket.destroy();
        return closedP;
      },
    };
    const t = setTimeout(() => {
      socket.destroy();
      reject(new Error(`raw MQTT connect to ${port} timed out`));
    }, 5000);
    socket.once("connect", () => {
      clearTimeout(t);
      resolve(c);
    });
    socket.once("error", (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

export const hex = (b) => Buffer.from(b).toString("hex");
