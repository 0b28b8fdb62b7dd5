// The statically linked build (`make STATIC=1`, NATSEDGE_STATIC_BIN): the
// binary has no program interpreter, and it serves what a gateway asks of
// it: a NATS client, an MQTT client, and a leaf remote to a hub given by the
// host name `localhost`, which a static glibc resolves through its built-in
// `files` source (/etc/hosts; the Makefile's STATIC says what is not
// covered). IDs: nats-inventory.md (LN-01, LN-17, MQ-13).
//
// natsedge-only: the pass against nats-server and the ASan pass have no
// static natsedge (NATSEDGE_STATIC_BIN is set by `make interop-run` without
// SAN=), and the test skips itself there, saying so.
import { test, after, describe } from "node:test";
import assert from "node:assert/strict";
import { openSync, readSync, closeSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { lookup } from "node:dns/promises";
import { connect } from "@nats-io/transport-node";
import { startServer, stopAll, getJSON, waitFor, within, sleep } from "./lib/harness.mjs";
import { connectMqtt, endAllMqtt, inbox } from "./lib/mqtt.mjs";

const STATIC_BIN = process.env.NATSEDGE_STATIC_BIN;
const HUB_BIN = process.env.NATS_SERVER_BIN || "/usr/sbin/nats-server";
const SKIP = STATIC_BIN
  ? false
  : "NATSEDGE_STATIC_BIN is not set in this pass (make interop-run sets it without SAN=; the nats-server and ASan passes have no static natsedge)";
const MS = 5000;

const ncs = [];
after(async () => {
  await endAllMqtt();
  for (const nc of ncs) if (!nc.isClosed()) await within(nc.close(), MS, "NATS close").catch(() => {});
  await stopAll();
});

// The ELF program header types of `path` (PT_INTERP is 3, PT_DYNAMIC 2).
function programHeaderTypes(path) {
  const fd = openSync(path, "r");
  try {
    const ehdr = Buffer.alloc(64);
    readSync(fd, ehdr, 0, 64, 0);
    assert.equal(ehdr.toString("latin1", 0, 4), "\x7fELF", `${path} is not an ELF file`);
    const is64 = ehdr[4] === 2;
    const le = ehdr[5] === 1;
    const u16 = (b, o) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
    const u32 = (b, o) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
    const phoff = is64 ? Number(le ? ehdr.readBigUInt64LE(32) : ehdr.readBigUInt64BE(32)) : u32(ehdr, 28);
    const phentsize = u16(ehdr, is64 ? 54 : 42);
    const phnum = u16(ehdr, is64 ? 56 : 44);
    assert.ok(phnum > 0 && phnum < 64, `${phnum} program headers`);
    const ph = Buffer.alloc(phentsize * phnum);
    readSync(fd, ph, 0, ph.length, phoff);
    return Array.from({ length: phnum }, (_, i) => u32(ph, i * phentsize));
  } finally {
    closeSync(fd);
  }
}

// Messages a NATS subscription receives.
function natsInbox(sub) {
  const msgs = [];
  (async () => {
    for await (const m of sub) msgs.push({ subject: m.subject, data: m.string() });
  })().catch(() => {});
  return { msgs, wait: (n, ms = MS) => waitFor(() => msgs.length >= n, ms, `${n} NATS messages`).then(() => msgs) };
}

describe("natsedge-only (its STATIC=1 build, NATSEDGE_STATIC_BIN): the statically linked natsedge", { skip: SKIP }, () => {
  test("has no program interpreter and no dynamic section", () => {
    const types = programHeaderTypes(STATIC_BIN);
    assert.ok(!types.includes(3), `PT_INTERP in ${STATIC_BIN}: not a static binary`);
    assert.ok(!types.includes(2), `PT_DYNAMIC in ${STATIC_BIN}: not a static binary`);
  });

  test("packaged by make deb, depends on no library (only adduser, for its user)", { skip: spawnSync("dpkg-deb", ["--version"], { stdio: "ignore" }).status !== 0 && "dpkg-deb is not installed" }, () => {
    const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
    const dir = mkdtempSync(join(tmpdir(), "natsedge-static-deb-"));
    try {
      // make without what an enclosing `make interop` passes down: only the
      // packaging runs, on the static binary under test.
      const env = { ...process.env };
      for (const k of ["MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"]) delete env[k];
      const r = spawnSync("make", ["--no-print-directory", "-C", root, `INSTALL_BIN=${resolve(STATIC_BIN)}`, "deb", `DEB_DIR=${dir}`], { encoding: "utf8", timeout: 120000, env });
      assert.equal(r.status, 0, `make deb failed:\n${r.stdout}\n${r.stderr}`);
      const deb = readdirSync(dir).find((f) => f.endsWith(".deb"));
      assert.ok(deb, "a .deb built");
      const depends = spawnSync("dpkg-deb", ["--field", join(dir, deb), "Depends"], { encoding: "utf8" }).stdout.trim();
      assert.equal(depends, "adduser");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("serves NATS and MQTT clients and a leaf remote to nats-leaf://localhost (LN-01, LN-17, MQ-13)", async () => {
    // The hub listens where `localhost` resolves first on this machine (the
    // system's getaddrinfo, which node uses too): 127.0.0.1 with Debian's
    // /etc/hosts, ::1 where it lists that first. natsedge dials the first.
    const first = (await lookup("localhost", { all: true, verbatim: true }))[0];
    const hubHost = first.family === 6 ? `[${first.address}]` : first.address;
    const hub = await startServer({
      bin: HUB_BIN,
      ports: ["leaf"],
      config: (p) => `leafnodes { listen: "${hubHost}:${p.leaf}" }\n`,
    });
    const edge = await startServer({
      bin: STATIC_BIN,
      ports: ["http", "mqtt"],
      config: (p) =>
        `http: "127.0.0.1:${p.http}"\nmqtt { listen: "127.0.0.1:${p.mqtt}" }\n` +
        `leafnodes { remotes [ { url: "nats-leaf://localhost:${hub.ports.leaf}" } ], reconnect: 1 }\n`,
    });
    // The link is up once the edge's /leafz lists it (resolved, dialled, handshaken).
    await waitFor(async () => (await getJSON(edge.ports.http, "/leafz")).leafnodes === 1, 10000, "the leaf link to localhost");

    const hubNc = await connect({ servers: `127.0.0.1:${hub.port}`, reconnect: false });
    ncs.push(hubNc);
    const edgeNc = await connect({ servers: `127.0.0.1:${edge.port}`, reconnect: false });
    ncs.push(edgeNc);
    const broker = { mqttPort: edge.ports.mqtt };
    const mqttSub = await connectMqtt(broker, { clientId: "static-sub" });
    const mqttPub = await connectMqtt(broker, { clientId: "static-pub" });

    // Up: an MQTT publish at the edge reaches a NATS subscriber at the hub
    // once the hub's interest has crossed the link (bounded retries).
    const up = natsInbox(hubNc.subscribe("static.up"));
    await within(hubNc.flush(), MS, "hub flush");
    const deadline = Date.now() + 10000;
    while (up.msgs.length === 0 && Date.now() < deadline) {
      await within(mqttPub.publishAsync("static/up", "from mqtt", { qos: 1 }), MS, "MQTT publish");
      await sleep(50);
    }
    assert.ok(up.msgs.length > 0, "no MQTT publish reached the hub over the leaf link");
    assert.deepEqual(up.msgs[0], { subject: "static.up", data: "from mqtt" });

    // Down: a NATS publish at the hub reaches the edge's NATS and MQTT
    // subscribers.
    const got = inbox(mqttSub);
    await within(mqttSub.subscribeAsync("static/down", { qos: 0 }), MS, "MQTT subscribe");
    const down = natsInbox(edgeNc.subscribe("static.down"));
    await within(edgeNc.flush(), MS, "edge flush");
    const until = Date.now() + 10000;
    while ((got.msgs.length === 0 || down.msgs.length === 0) && Date.now() < until) {
      hubNc.publish("static.down", "from the hub");
      await within(hubNc.flush(), MS, "hub flush");
      await sleep(50);
    }
    assert.ok(got.msgs.length > 0, "the MQTT subscriber at the edge got nothing from the hub");
    assert.ok(down.msgs.length > 0, "the NATS subscriber at the edge got nothing from the hub");
    assert.equal(got.msgs[0].topic, "static/down");
    assert.equal(got.msgs[0].payload, "from the hub");
    assert.deepEqual(down.msgs[0], { subject: "static.down", data: "from the hub" });
  });
});
