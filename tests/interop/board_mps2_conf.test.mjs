// The mps2-an385 firmware configured without editing C (issue 20): a
// nats-server configuration file in the image's configuration region,
// written at build time (`make BOARD=mps2-an385 CONF=file`) or into a built
// image by tools/conf_region.c, read at boot in QEMU. The tiny profile's leaf
// remote joins a nats-server hub on the host through QEMU's user network
// (10.0.2.2 is the host), HTTP monitoring answers /varz and /healthz, DHCP
// takes the address QEMU's network offers, and a configuration the board
// refuses is logged on the UART with its positions while the board runs its
// built-in defaults. Needs NATSEDGE_MPS2_ELF, NATSEDGE_MPS2_CONF_TOOL and
// qemu-system-arm (SKIP_BOARDS=1 skips the suite when they are missing);
// natsedge-only: the nats-server pass skips it.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { spawn, spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { connect } from "@nats-io/transport-node";
import { collect } from "./lib/board_scenarios.mjs";
import { freePort, rawConnect, parseInfo, sleep, getJSON, stopAll, waitFor, within } from "./lib/harness.mjs";
import { BOOT_TIMEOUT_MS, QEMU, bootBoard, confTool, hubServer, stopBoards, boardSuite } from "./lib/board.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const { skip, paths: [ELF, TOOL] } = boardSuite("mps2-an385 configuration region", [["NATSEDGE_MPS2_ELF", "firmware"], ["NATSEDGE_MPS2_CONF_TOOL", "configuration tool, make conf-tool"]]);
const NAME = "mps2-an385 (natsedge-only: its Cortex-M firmware's configuration region)";
const DIR = mkdtempSync(join(tmpdir(), "natsedge-mps2-conf-"));

after(async () => {
  await stopBoards();
  await stopAll();
  rmSync(DIR, { recursive: true, force: true });
});

const { tool, writeText } = confTool(TOOL, DIR, ELF);

// Boots an image in QEMU with each of `guestPorts` forwarded from a free
// loopback port (q.ports[guest]) to the guest's `guest` address (its own by
// default) and `nic` options; resolves once the console says "Server is
// ready" and the first forwarded port answers with INFO. Retries on a taken
// port.
const boot = (image, guestPorts, { nic = "", guest = "" } = {}) => bootBoard(image, guestPorts, { nic, guestAddr: guest });

async function infoOf(port) {
  const c = await rawConnect(port);
  const info = parseInfo(await c.readUntil("\r\n", 5000));
  c.destroy();
  return info;
}

test(`${NAME}: make BOARD=mps2-an385 CONF=<file> writes the file into the image at build time, checked as the board reads it`, { skip }, () => {
  // A copy of the firmware's build directory, so that the image the other
  // suites boot keeps its empty region; only the link and the write run.
  const build = join(DIR, "build");
  cpSync(dirname(ELF), build, { recursive: true, preserveTimestamps: true });
  const conf = writeText("built.conf", "server_name: built-in-conf\nport: 4444\n");
  const env = { ...process.env };
  for (const k of ["MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"]) delete env[k];
  const make = (extra) => spawnSync("make", ["--no-print-directory", "-C", ROOT, "BOARD=mps2-an385", `MPS2_BUILD=${build}`, ...extra], { encoding: "utf8", timeout: 300000, env });
  const r = make([`CONF=${conf}`]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const shown = tool(["show", join(build, "natsedge.elf")]);
  assert.equal(shown.status, 0, shown.stderr);
  assert.equal(shown.stdout, readFileSync(conf, "utf8"));
  assert.match(shown.stderr, /built\.conf, \d+ bytes/);
  // A file the board would refuse fails the build, with its position.
  const bad = writeText("built-bad.conf", "port: 4444\ncolour: red\n");
  const rb = make([`CONF=${bad}`]);
  assert.notEqual(rb.status, 0);
  assert.match(rb.stdout + rb.stderr, /built-bad\.conf:2:1: unknown field "colour"/);
  // Without CONF the image is back to an empty region.
  const re = make([]);
  assert.equal(re.status, 0, re.stdout + re.stderr);
  assert.match(tool(["show", join(build, "natsedge.elf")]).stderr, /empty \(the built-in defaults\)/);
});

test(`${NAME}: a configuration written into a built image (conf_region): server name, port, authorization, monitoring /varz and /healthz, and the tiny profile's leaf remote to a nats-server hub on the host (LN-24, CFG-16, MON-01, MON-07)`, { skip }, async () => {
  const hub = await hubServer(
    (p) => `leafnodes { listen: "127.0.0.1:${p.leaf}", authorization { user: edge, password: s3cret } }\nhttp: "127.0.0.1:${p.http}"\n`,
  );
  const image = join(DIR, "leaf.elf");
  cpSync(ELF, image);
  const conf = writeText(
    "edge.conf",
    [
      "server_name: edge-qemu",
      "listen: 0.0.0.0:4333",
      "http: 8222",
      "authorization { user: sensor, password: s3cret }",
      `leafnodes { remotes [ { url: "nats-leaf://edge:s3cret@10.0.2.2:${hub.ports.leaf}" } ] }`,
      "",
    ].join("\n"),
  );
  const w = tool(["write", image, conf]);
  assert.equal(w.status, 0, w.stderr);
  const q = await boot(image, [4333, 8222]);
  try {
    assert.match(q.console(), /Configuration region: edge\.conf \(\d+ bytes\)/);
    assert.match(q.console(), /Using configuration file: edge\.conf/);
    const info = await infoOf(q.ports[4333]);
    assert.equal(info.server_name, "edge-qemu");
    assert.equal(info.port, 4333);
    assert.equal(info.auth_required, true);
    // Without the credentials: refused as nats-server refuses.
    const anon = await rawConnect(q.ports[4333]);
    await anon.readUntil("\r\n", 5000);
    await anon.send('CONNECT {"verbose":false}\r\nPING\r\n');
    assert.match(await anon.readUntil(/-ERR[^\r]*\r\n/, 5000), /-ERR 'Authorization Violation'/);
    anon.destroy();
    const varz = await getJSON(q.ports[8222], "/varz");
    assert.equal(varz.server_name, "edge-qemu");
    assert.equal(varz.max_connections, 8);
    assert.deepEqual(await getJSON(q.ports[8222], "/healthz"), { status: "ok" });
    // The leaf link comes up and carries messages both ways.
    await waitFor(async () => (await getJSON(hub.ports.http, "/leafz")).leafnodes === 1, 20000, "the board's leaf on the hub");
    const edge = await within(connect({ servers: `127.0.0.1:${q.ports[4333]}`, user: "sensor", pass: "s3cret" }), 10000, "connect to the board");
    const cloud = await within(connect({ servers: `127.0.0.1:${hub.port}` }), 10000, "connect to the hub");
    const down = edge.subscribe("cmd.board", { max: 1 });
    const up = cloud.subscribe("telemetry.board", { max: 1 });
    await within(edge.flush(), 5000, "edge flush");
    await within(cloud.flush(), 5000, "hub flush");
    // Interest crosses the link asynchronously: publish until it arrives.
    const gotDown = collect(down, 1, 20000);
    const gotUp = collect(up, 1, 20000);
    let done = false;
    Promise.all([gotDown, gotUp]).then(() => (done = true), () => (done = true));
    for (let i = 0; i < 100 && !done; i++) {
      cloud.publish("cmd.board", "reboot");
      edge.publish("telemetry.board", "21.5");
      await sleep(200);
    }
    assert.equal((await gotDown)[0].string(), "reboot");
    assert.equal((await gotUp)[0].string(), "21.5");
    await within(edge.close(), 5000, "close");
    await within(cloud.close(), 5000, "close");
    assert.doesNotMatch(q.console(), /\[FTL\]/);
  } finally {
    await q.stop();
    await hub.stop();
  }
});

test(`${NAME}: network { dhcp: true } takes the address QEMU's DHCP server offers`, { skip }, async () => {
  const image = join(DIR, "dhcp.elf");
  cpSync(ELF, image);
  const w = tool(["write", image, writeText("dhcp.conf", "network { dhcp: true }\n")]);
  assert.equal(w.status, 0, w.stderr);
  // QEMU offers 10.0.2.20 onwards; the forwarding goes to that address
  // only, so the board answers only if it took it.
  const q = await boot(image, [4222], { nic: ",dhcpstart=10.0.2.20", guest: "10.0.2.20" });
  try {
    assert.match(q.console(), /address from DHCP/);
    await waitFor(() => /DHCP: address 10\.0\.2\.20, netmask 255\.255\.255\.0, gateway 10\.0\.2\.2/.test(q.console()), 10000, "the DHCP line");
    assert.ok((await infoOf(q.ports[4222])).server_id);
  } finally {
    await q.stop();
  }
});

test(`${NAME}: a configuration the board refuses is logged on the UART, every key with its position, and the board runs its built-in defaults`, { skip }, async () => {
  const image = join(DIR, "bad.elf");
  cpSync(ELF, image);
  const bad = writeText("bad.conf", "server_name: never\nfoo: 1\nmqtt { port: 1883 }\nmax_connections: 100\n");
  // The tool refuses it as the board would...
  const checked = tool(["write", image, bad]);
  assert.equal(checked.status, 1);
  assert.match(checked.stderr, /bad\.conf:2:1: unknown field "foo"/);
  // ...so it is written unchecked, to see the board refuse it.
  assert.equal(tool(["write", "--unchecked", image, bad]).status, 0);
  const q = await boot(image, [4222, 8222]);
  try {
    const log = q.console();
    assert.match(log, /\[ERR\] Configuration: bad\.conf:2:1: unknown field "foo"/);
    assert.match(log, /\[ERR\] Configuration: bad\.conf:3:1: "mqtt" is not supported yet in natsedge/);
    assert.match(log, /\[ERR\] Configuration: bad\.conf:4:1: max_connections 100 is above the compiled-in maximum 8/);
    assert.match(log, /\[WRN\] Configuration refused: running with the built-in defaults/);
    const info = await infoOf(q.ports[4222]);
    assert.notEqual(info.server_name, "never");
    assert.deepEqual(await getJSON(q.ports[8222], "/healthz"), { status: "ok" });
  } finally {
    await q.stop();
  }
});

test(`${NAME}: a damaged region (its checksum does not match) is logged and the board runs its built-in defaults`, { skip }, async () => {
  const image = join(DIR, "damaged.elf");
  cpSync(ELF, image);
  assert.equal(tool(["write", image, writeText("ok.conf", "server_name: damaged\n")]).status, 0);
  const bytes = readFileSync(image);
  const at = bytes.indexOf(Buffer.from("server_name: damaged"));
  assert.ok(at > 0);
  bytes[at] = "S".charCodeAt(0); // one byte changed after the checksum was taken
  writeFileSync(image, bytes);
  const q = await boot(image, [4222]);
  try {
    assert.match(q.console(), /\[ERR\] Configuration: the configuration region's checksum does not match/);
    assert.match(q.console(), /Configuration refused: running with the built-in defaults/);
    assert.notEqual((await infoOf(q.ports[4222])).server_name, "damaged");
  } finally {
    await q.stop();
  }
});

test(`${NAME}: make run-mps2 PORT= HTTP_PORT= forwards those host ports to the board's clients and monitoring`, { skip }, async () => {
  const port = await freePort();
  const http = await freePort();
  // The command make runs (-n; -o: the image under test, not rebuilt).
  const env = { ...process.env };
  for (const k of ["MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"]) delete env[k];
  const r = spawnSync(
    "make",
    ["--no-print-directory", "-n", "-C", ROOT, "BOARD=mps2-an385", "-o", "build/mps2-an385-tiny/natsedge.elf", "run-mps2", `PORT=${port}`, `HTTP_PORT=${http}`],
    { encoding: "utf8", timeout: 60000, env },
  );
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const line = r.stdout.replace(/\\\n/g, " ").split("\n").find((l) => l.trim().startsWith(QEMU));
  assert.ok(line, `make -n run-mps2 prints the QEMU command:\n${r.stdout}`);
  const words = line.trim().split(/\s+/);
  assert.ok(words.includes(`user,hostfwd=tcp:127.0.0.1:${port}-:4222,hostfwd=tcp:127.0.0.1:${http}-:8222`), line);
  words[words.indexOf("-kernel") + 1] = ELF;
  const child = spawn(words[0], words.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
  let console_ = "";
  child.stdout.on("data", (d) => (console_ += d.toString("latin1")));
  child.stderr.on("data", (d) => (console_ += d.toString("latin1")));
  const exited = new Promise((res) => child.once("exit", res));
  try {
    await waitFor(() => /Server is ready/.test(console_) || child.exitCode !== null, BOOT_TIMEOUT_MS, "the board is ready");
    assert.match(console_, /Server is ready/);
    const info = await waitFor(async () => {
      try {
        return await infoOf(port);
      } catch {
        return null; /* the forwarded port answers before the guest does */
      }
    }, 20000, "INFO on the forwarded client port");
    assert.equal(info.port, 4222);
    assert.deepEqual(await getJSON(http, "/healthz"), { status: "ok" });
    assert.equal((await getJSON(http, "/varz")).http_port, 8222);
  } finally {
    const t = setTimeout(() => child.kill("SIGKILL"), 5000);
    if (child.exitCode === null) child.kill("SIGTERM");
    await exited;
    clearTimeout(t);
  }
});
