// Operating the broker as a new user meets it (issue 20's rough edges): the
// start-up lines, the client ids monitoring requests leave alone, the log of
// an unreachable leaf hub, configuration files with several unsupported keys,
// TLS files checked by -t and named in the user's terms at start-up, HTTPS
// monitoring beside mutual TLS, and the certificate recipe of docs/tls.md.
// Every case runs against natsedge and against nats-server 2.9.10 with the
// same assertions unless it names the differences.md entry that separates
// them. Every process is bounded in time and stopped by PID.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer, stopAll, rawConnect, parseInfo, getJSON, brokerKind, waitFor, freePort } from "./lib/harness.mjs";

const BIN = process.env.NATSEDGE_BIN;
const KIND = brokerKind();
const isNatsedge = KIND === "natsedge";
const DIR = mkdtempSync(join(tmpdir(), "natsedge-deploy-ops-"));

after(async () => {
  await stopAll();
  rmSync(DIR, { recursive: true, force: true });
});

function run(args, opts = {}) {
  return spawnSync(BIN, args, { encoding: "utf8", timeout: 10000, cwd: DIR, ...opts });
}

function writeConf(name, text) {
  const file = join(DIR, name);
  writeFileSync(file, text);
  return file;
}

async function clientId(port) {
  const c = await rawConnect(port);
  const info = parseInfo(await c.readUntil("\r\n"));
  c.destroy();
  return info.client_id;
}

test("monitoring requests take no client id: five /varz requests move client_id by one, as nats-server (MON-02, CP-info client_id)", async () => {
  const s = await startServer({ ports: ["http"], args: (p) => ["-m", String(p.http)] });
  const first = await clientId(s.port);
  for (let i = 0; i < 5; i++) await getJSON(s.ports.http, "/varz");
  const second = await clientId(s.port);
  assert.equal(second, first + 1, `client_id ${first} then ${second}`);
  // The closed connections are the harness's readiness probe and these two.
  const connz = await getJSON(s.ports.http, "/connz?state=any");
  const cids = connz.connections.map((c) => c.cid).sort((a, b) => a - b);
  assert.deepEqual(cids.slice(-2), [first, second]);
  await s.stop();
});

test("a file with several unknown keys, nested ones too: -t names every one with its position, in one run (CFG-14)", () => {
  const file = writeConf("unknown.conf", "port: 4222\nfoo: 1\nbar { x: 1 }\nauthorization { baz: 2 }\n");
  const r = run(["-t", "-c", file]);
  assert.equal(r.status, 1);
  const lines = (r.stdout + r.stderr).trim().split("\n").map((l) => l.replace(/^(natsedge|nats-server): /, ""));
  assert.deepEqual(lines, [
    `${file}:2:1: unknown field "foo"`,
    `${file}:3:1: unknown field "bar"`,
    `${file}:4:17: unknown field "baz"`,
  ]);
});

test("natsedge-only (features not built yet, differences.md: Not built yet): every unsupported block named in one run, and a limit error with its position", { skip: !isNatsedge && "natsedge-only: nats-server has these features and no compiled-in maxima" }, () => {
  const file = writeConf("unsupported.conf", "port: 4222\nmqtt { port: 1883 }\njetstream { store_dir: /tmp/x }\nfoo: bar\nwebsocket { port: 8080 }\nmax_connections: 100000000\n");
  const r = run(["-t", "-c", file]);
  assert.equal(r.status, 1);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 5, r.stderr);
  assert.equal(lines[0], `natsedge: ${file}:2:1: "mqtt" is not supported yet in natsedge (see differences.md)`);
  assert.equal(lines[1], `${file}:3:1: "jetstream" is not supported yet in natsedge (see differences.md)`);
  assert.equal(lines[2], `${file}:4:1: unknown field "foo"`);
  assert.equal(lines[3], `${file}:5:1: "websocket" is not supported yet in natsedge (see differences.md)`);
  assert.match(lines[4], new RegExp(`^${file}:6:1: max_connections 100000000 is above the compiled-in maximum \\d+: raise NE_MAX_CONNECTIONS in config/$`));
});

// The block under "A ready edge configuration" in docs/leafnode.md.
function readyEdgeConfig() {
  const doc = readFileSync(new URL("../../docs/leafnode.md", import.meta.url), "utf8");
  const m = doc.match(/## A ready edge configuration\n\n```\n([\s\S]*?)```/);
  assert.ok(m, "docs/leafnode.md has its ready edge configuration");
  return m[1];
}

test("docs/leafnode.md's ready edge configuration passes -t as printed: a credentials file that is not there yet is accepted (LN-24, LN-25, CFG-19)", () => {
  const text = readyEdgeConfig();
  assert.match(text, /credentials: "\/etc\/natsedge\/edge-1\.creds"/);
  const file = writeConf("ready-edge.conf", text);
  const r = run(["-t", "-c", file]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test("a remote whose credentials file is missing: the start-up log says so and the broker serves (LN-25)", async () => {
  const creds = join(DIR, "absent.creds");
  const s = await startServer({
    ports: ["hub"],
    config: (p) => `leafnodes { remotes [ { url: "nats-leaf://127.0.0.1:${p.hub}", credentials: "${creds}" } ] }\n`,
  });
  await waitFor(() => s.logs().includes(`Error reading LeafNode Remote Credentials file "${creds}"`), 5000, "the credentials line");
  assert.match(s.logs(), /\[ERR\] Error reading LeafNode Remote Credentials file/);
  assert.ok(await clientId(s.port) > 0);
  await s.stop();
});

test("an unreachable leaf hub is logged at the default level: [ERR] on the first attempt, [DBG] for the next ones with -D, never as a closed client (LN-28, LN-30)", async () => {
  const hubPort = await freePort(); // nothing listens there
  const conf = (debug) => () => `leafnodes { reconnect: 1, remotes [ { url: "nats-leaf://127.0.0.1:${hubPort}" } ] }\n${debug ? "debug: true\n" : ""}`;
  const first = `Error trying to connect as leafnode to remote server "127.0.0.1:${hubPort}" (attempt 1): `;
  const quiet = await startServer({ config: conf(false) });
  await waitFor(() => quiet.logs().includes(first), 5000, "the first failed attempt");
  const line = quiet.logs().split("\n").find((l) => l.includes(first));
  assert.match(line, /\[ERR\] /);
  assert.match(line, /connection refused/);
  await quiet.stop();
  const loud = await startServer({ config: conf(true) });
  await waitFor(() => loud.logs().includes("(attempt 2): "), 8000, "the second attempt");
  const lines = loud.logs().split("\n");
  const second = lines.find((l) => l.includes(`"127.0.0.1:${hubPort}" (attempt 2): `));
  assert.match(second, /\[DBG\] .*connection refused/);
  assert.ok(lines.some((l) => /\[DBG\] Trying to connect as leafnode to remote server on "127\.0\.0\.1:\d+"/.test(l)));
  const about = lines.filter((l) => l.includes(`:${hubPort}`));
  assert.ok(!about.some((l) => /Client|Read Error/.test(l)), "the attempts: no client, no Read Error:\n" + about.join("\n"));
  await loud.stop();
});
