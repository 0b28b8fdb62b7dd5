// TLS for clients and monitoring (inventory CP-11, CP-24a, CFG-04, CFG-21,
// MON-01): certificates made here with the openssl command line (a CA, EC and
// RSA server certificates, a client certificate, an expired one, one for the
// wrong host), then nats.js and nats.c connect over TLS. The same cases run
// against nats-server (NATSEDGE_BIN=/usr/sbin/nats-server); the session pool
// and memory region cases are natsedge's own.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import https from "node:https";
import { connect } from "@nats-io/transport-node";
import { startServer, stopAll, rawConnect, parseInfo, waitFor, kindOf, within, getJSON, tcpProxy } from "./lib/harness.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const BIN = process.env.NATSEDGE_BIN;
const NATSEDGE = kindOf(BIN) === "natsedge";
const HUB_BIN = process.env.NATS_SERVER_BIN || "/usr/sbin/nats-server";
const DIR = mkdtempSync(join(tmpdir(), "natsedge-tls-"));
const f = (name) => join(DIR, name);

function openssl(...args) {
  execFileSync("openssl", args, { cwd: DIR, stdio: ["ignore", "ignore", "pipe"] });
}

// A key and a CSR, then a certificate signed by the test CA. `dates` makes
// it through `openssl ca` with explicit validity (the expired ones).
function issue(name, { cn, ext, rsa = false, dates = null }) {
  const newkey = rsa ? ["-newkey", "rsa:2048"] : ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
  openssl("req", ...newkey, "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`);
  writeFileSync(f(`${name}.ext`), ext + "\n");
  if (dates) {
    openssl("ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key", "-in", `${name}.csr`,
      "-out", `${name}.pem`, "-notext", "-startdate", dates[0], "-enddate", dates[1], "-extfile", `${name}.ext`);
  } else {
    openssl("x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
      "-out", `${name}.pem`, "-days", "30", "-extfile", `${name}.ext`);
  }
}

function makeCertificates() {
  openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
    "-out", "ca.pem", "-days", "30", "-subj", "/CN=natsedge test CA");
  writeFileSync(f("index.txt"), "");
  writeFileSync(f("serial"), "1000\n");
  writeFileSync(f("ca.cnf"), [
    "[ca]", "default_ca = test", "[test]", `dir = ${DIR}`, `database = ${f("index.txt")}`,
    `new_certs_dir = ${DIR}`, `serial = ${f("serial")}`, "default_md = sha256", "policy = any",
    "unique_subject = no", "[any]", "commonName = supplied", "",
  ].join("\n"));
  const serverExt = "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth";
  const clientExt = "extendedKeyUsage=clientAuth";
  issue("server", { cn: "localhost", ext: serverExt });
  issue("server-rsa", { cn: "localhost", ext: serverExt, rsa: true });
  issue("wronghost", { cn: "wrong.example", ext: "subjectAltName=DNS:wrong.example\nextendedKeyUsage=serverAuth" });
  issue("expired", { cn: "localhost", ext: serverExt, dates: ["20200101000000Z", "20200201000000Z"] });
  issue("client", { cn: "client", ext: clientExt });
  issue("client-expired", { cn: "client", ext: clientExt, dates: ["20200101000000Z", "20200201000000Z"] });
}

const tlsConf = (cert, extra = "") =>
  `tls {\n  cert_file: "${f(`${cert}.pem`)}"\n  key_file: "${f(`${cert}.key`)}"\n${extra}}\n`;
const verifyConf = () => tlsConf("server", `  ca_file: "${f("ca.pem")}"\n  verify: true\n`);

const started = [];
async function server(opts) {
  const s = await startServer(opts);
  started.push(s);
  return s;
}

before(() => makeCertificates());

after(async () => {
  await stopAll();
  rmSync(DIR, { recursive: true, force: true });
});

const tlsOpts = (extra = {}) => ({ caFile: f("ca.pem"), ...extra });

// Publishes `count` messages of growing size to its own subscription and
// checks each comes back intact (several records per message for the big ones).
async function roundTrip(nc, subject, count = 20, maxBytes = 60000) {
  const sub = nc.subscribe(subject, { max: count });
  const sizes = Array.from({ length: count }, (_, i) => 1 + ((i * 7919) % maxBytes));
  const done = (async () => {
    let i = 0;
    for await (const m of sub) {
      assert.equal(m.data.length, sizes[i], `message ${i} length`);
      assert.equal(m.data[sizes[i] - 1], sizes[i] % 251, `message ${i} content`);
      i++;
    }
    return i;
  })();
  for (const n of sizes) {
    const data = new Uint8Array(n).fill(n % 251);
    nc.publish(subject, data);
  }
  await within(nc.flush(), 10000, "flush");
  assert.equal(await within(done, 20000, `${count} messages back`), count);
}

function logs(s) {
  return s.logs();
}

test("INFO says tls_required, the handshake follows it; nats.js connects with the CA (CP-11, CP-24a)", async () => {
  const s = await server({ config: tlsConf("server") });
  const c = await rawConnect(s.port);
  const info = parseInfo(await c.readUntil(/\r\n/));
  assert.equal(info.tls_required, true);
  assert.equal(info.tls_verify, undefined);
  c.destroy();
  const nc = await connect({ servers: `127.0.0.1:${s.port}`, tls: tlsOpts(), reconnect: false });
  await roundTrip(nc, "tls.js");
  await within(nc.close(), 5000, "close");
  await s.stop();
});

test("an RSA server certificate works as well as an EC one", async () => {
  const s = await server({ config: tlsConf("server-rsa") });
  const nc = await connect({ servers: `localhost:${s.port}`, tls: tlsOpts(), reconnect: false });
  await roundTrip(nc, "tls.rsa", 5, 20000);
  await within(nc.close(), 5000, "close");
  await s.stop();
});

test("command-line flags --tls --tlscert --tlskey (CFG-04)", async () => {
  const s = await server({ args: ["--tls", "--tlscert", f("server.pem"), "--tlskey", f("server.key")] });
  const nc = await connect({ servers: `127.0.0.1:${s.port}`, tls: tlsOpts(), reconnect: false });
  await within(nc.flush(), 5000, "flush");
  await within(nc.close(), 5000, "close");
  await s.stop();
});

test("a plain-text client on a TLS port is closed with nats-server's handshake error (CP-24a)", async () => {
  const s = await server({ config: tlsConf("server") });
  const c = await rawConnect(s.port);
  await c.readUntil(/\r\n/);
  await c.send('CONNECT {"verbose":false}\r\nPING\r\n');
  assert.ok(await c.closedWithin(5000), "the plain-text client must be closed");
  assert.doesNotMatch(c.received(), /PONG/);
  await waitFor(() => /TLS handshake error: .*first record does not look like a TLS handshake/.test(logs(s)),
    3000, "the handshake error in the log");
  await s.stop();
});

test("no handshake within tls timeout: INFO, then the close, nothing else on the wire (CP-24a, CFG-21)", async () => {
  // nats-server 2.9 writes -ERR 'Secure Connection - TLS Required' into the
  // unfinished TLS connection: nothing of it reaches a client that never
  // started TLS, so the wire shows INFO and the close only (differences.md,
  // "Handshake timeout").
  const s = await server({ config: tlsConf("server", "  timeout: 0.5\n") });
  const c = await rawConnect(s.port);
  const info = parseInfo(await c.readUntil(/\r\n/));
  assert.equal(info.tls_required, true);
  assert.ok(await c.closedWithin(5000), "closed after the TLS timeout");
  assert.equal(c.received().replace(/^INFO [^\r]*\r\n/, ""), "", "nothing after INFO");
  // In addition, the log says why: nats-server's read deadline and its
  // timeout timer race, so it logs one or the other.
  await waitFor(() => /TLS handshake (timeout|error: .*i\/o timeout)/.test(logs(s)), 3000, "the timeout in the log");
  await s.stop();
});

// The broker's own side of a bad server certificate is its TLS client: a
// leaf remote toward a hub (nats-server) presenting a certificate for another
// host, or an expired one. The broker must not link (no leaf connection on
// either side) and keeps retrying at the reconnect delay, each attempt seen
// on the wire through a proxy; the right certificate links at once.
async function leafToHubWithCert(cert) {
  const hub = await startServer({
    bin: HUB_BIN,
    ports: ["leaf", "http"],
    args: (p) => ["-m", String(p.http)],
    config: (p) =>
      `leafnodes { listen: 127.0.0.1:${p.leaf}\n  tls { cert_file: "${f(`${cert}.pem`)}", key_file: "${f(`${cert}.key`)}" } }\n`,
  });
  const proxy = await tcpProxy(hub.ports.leaf);
  const leaf = await server({
    ports: ["http"],
    args: (p) => ["-m", String(p.http)],
    config: `leafnodes { remotes [ { url: "nats-leaf://localhost:${proxy.port}", tls { ca_file: "${f("ca.pem")}" } } ], reconnect: 1 }\n`,
  });
  return { hub, proxy, leaf };
}

for (const [cert, why] of [["wronghost", "a certificate for another host"], ["expired", "an expired certificate"]]) {
  test(`the broker as a TLS client (leaf remote) refuses a hub with ${why}: no link in /leafz on either side, attempts at the reconnect delay (LN-04)`, async () => {
    const { hub, proxy, leaf } = await leafToHubWithCert(cert);
    // Several attempts, each one started a TLS handshake (a record of type
    // 22 from the broker) and ended without a link.
    await waitFor(() => proxy.conns.filter((c) => c.closedAt !== null && c.received.startsWith("\x16")).length >= 2,
      8000, "two refused TLS attempts");
    assert.equal((await getJSON(leaf.ports.http, "/leafz")).leafnodes, 0);
    assert.equal((await getJSON(hub.ports.http, "/leafz")).leafnodes, 0);
    const times = proxy.conns.map((c) => c.at);
    assert.ok(times[1] - times[0] >= 500, `attempts ${times.join(", ")} ms: not a busy loop`);
    await leaf.stop();
    await proxy.close();
    await hub.stop();
    // The same remote against the right certificate links.
    const ok = await leafToHubWithCert("server");
    await waitFor(async () => (await getJSON(ok.leaf.ports.http, "/leafz")).leafnodes === 1, 8000, "the link with a good certificate");
    await ok.leaf.stop();
    await ok.proxy.close();
    await ok.hub.stop();
  });
}

test("mutual TLS: verify demands a client certificate signed by ca_file (CFG-21)", async () => {
  const s = await server({ config: verifyConf() });
  const c = await rawConnect(s.port);
  const info = parseInfo(await c.readUntil(/\r\n/));
  assert.equal(info.tls_required, true);
  assert.equal(info.tls_verify, true);
  c.destroy();
  const url = `127.0.0.1:${s.port}`;
  const nc = await connect({
    servers: url, reconnect: false,
    tls: tlsOpts({ certFile: f("client.pem"), keyFile: f("client.key") }),
  });
  await roundTrip(nc, "tls.mutual", 5, 10000);
  await within(nc.close(), 5000, "close");
  // Without a certificate: refused during the handshake.
  await assert.rejects(connect({ servers: url, tls: tlsOpts(), reconnect: false, timeout: 3000 }));
  if (NATSEDGE) {
    await waitFor(() => /TLS handshake error: client certificate required but none was sent/.test(logs(s)),
      3000, "the missing client certificate in the log");
  }
  // An expired client certificate: refused, and the log says why.
  await assert.rejects(connect({
    servers: url, reconnect: false, timeout: 3000,
    tls: tlsOpts({ certFile: f("client-expired.pem"), keyFile: f("client-expired.key") }),
  }));
  if (NATSEDGE) {
    await waitFor(() => /TLS handshake error: certificate verification failed: .*expired/.test(logs(s)),
      3000, "the expired client certificate in the log");
  }
  await s.stop();
});

// ---- nats.c -----------------------------------------------------------------

function run(cmd, args, timeoutMs = 40000) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const t = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", (e) => {
      clearTimeout(t);
      resolve({ code: -1, out: `${out}\n${e.message}` });
    });
    child.once("close", (code) => {
      clearTimeout(t);
      resolve({ code, out });
    });
  });
}

async function natscProgram() {
  let dir = process.env.NATSEDGE_INTEROP_C;
  if (!dir) {
    dir = join(HERE, "c", "build");
    const r = await run("make", ["-s", "-C", join(HERE, "c"), `BUILD=${dir}`], 120000);
    if (r.code !== 0) throw new Error(`building the nats.c programs failed:\n${r.out}`);
  }
  const prog = join(dir, "natsc_tls");
  if (!existsSync(prog)) throw new Error(`${prog} is missing`);
  return prog;
}

test("nats.c connects over TLS with the CA, and with a client certificate under verify", async () => {
  const prog = await natscProgram();
  const s = await server({ config: tlsConf("server") });
  let r = await run(prog, [`tls://localhost:${s.port}`, f("ca.pem")]);
  assert.equal(r.code, 0, r.out + logs(s).slice(-2000));
  assert.match(r.out, /^ok tls$/m);
  await s.stop();
  const m = await server({ config: verifyConf() });
  r = await run(prog, [`tls://localhost:${m.port}`, f("ca.pem"), f("client.pem"), f("client.key")]);
  assert.equal(r.code, 0, r.out + logs(m).slice(-2000));
  r = await run(prog, [`tls://localhost:${m.port}`, f("ca.pem")]);
  assert.notEqual(r.code, 0, "without a client certificate nats.c must be refused");
  assert.match(r.out, /FAIL connect/);
  await m.stop();
});

// ---- HTTPS monitoring -------------------------------------------------------

function httpsGet(port, path) {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: "localhost", port, path, ca: execFileSync("cat", [f("ca.pem")]) }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode, body }));
    });
    req.setTimeout(5000, () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

test("HTTPS monitoring (-ms): /varz over TLS reports https_port and the TLS region's peak use (MON-01)", async () => {
  const s = await server({ config: tlsConf("server"), ports: ["https"], args: (p) => ["-ms", String(p.https)] });
  const mport = s.ports.https;
  const nc = await connect({ servers: `127.0.0.1:${s.port}`, tls: tlsOpts(), reconnect: false });
  const r = await httpsGet(mport, "/varz");
  assert.equal(r.status, 200);
  const v = JSON.parse(r.body);
  assert.equal(v.https_port, mport);
  assert.equal(v.http_port, 0);
  assert.equal(v.tls_required, true);
  const connz = JSON.parse((await httpsGet(mport, "/connz")).body);
  const mine = connz.connections.find((c) => c.cid === nc.info.client_id);
  assert.ok(mine, "the client is in /connz");
  assert.match(mine.tls_version, /^1\.[23]$/);
  assert.match(mine.tls_cipher_suite, /^TLS_/);
  if (NATSEDGE) {
    assert.equal(mine.tls_version, "1.2");
    assert.equal(v.tls_memory.max_sessions > 0, true);
    assert.ok(v.tls_memory.sessions >= 2, "the client and this request hold sessions");
    assert.ok(v.tls_memory.peak_bytes >= v.tls_memory.in_use_bytes && v.tls_memory.peak_bytes > 0);
  }
  await within(nc.close(), 5000, "close");
  await s.stop();
});

// ---- Many sessions, and the limits ------------------------------------------

const connectAll = (url, n, opts = {}) =>
  Promise.allSettled(Array.from({ length: n }, () =>
    connect({ servers: url, tls: tlsOpts(), reconnect: false, timeout: 5000, ...opts })));

test("100 TLS clients connect and publish at once; a burst past the session pool is refused, the others unaffected", async () => {
  // One event loop does the handshakes one after the other: on a slow or
  // sanitized build 100 of them take longer than the default 2 s timeout.
  const s = await server({ config: tlsConf("server", "  timeout: 20\n") });
  const url = `127.0.0.1:${s.port}`;
  const first = await connectAll(url, 100);
  const ncs = first.filter((r) => r.status === "fulfilled").map((r) => r.value);
  assert.equal(ncs.length, 100, `all 100 connect: ${first.find((r) => r.status === "rejected")?.reason}`);
  const watcher = ncs[0].subscribe("tls.many.>");
  await within(ncs[0].flush(), 5000, "flush");
  let seen = 0;
  (async () => {
    for await (const _ of watcher) seen++;
  })();
  ncs.forEach((nc, i) => nc.publish(`tls.many.${i}`, new Uint8Array(512).fill(i)));
  await within(Promise.all(ncs.map((nc) => nc.flush())), 20000, "100 flushes");
  await waitFor(() => seen === 100, 10000, "100 messages");

  if (NATSEDGE) {
    // The default profile has NE_TLS_MAX_SESSIONS 128: 60 more exceed it.
    // A refused TLS client (INFO and -ERR in clear, then closed) is reported
    // by nats.js as a connect timeout, against nats-server too: keep it short.
    const burst = await connectAll(url, 60, { timeout: 3000 });
    const refused = burst.filter((r) => r.status === "rejected").length;
    assert.ok(refused >= 60 - 28, `at least 32 of the burst refused, got ${refused}`);
    for (const r of burst) if (r.status === "fulfilled") await within(r.value.close(), 5000, "close");
    assert.match(logs(s), /TLS session refused: TLS session pool or memory region exhausted/);
  }
  // The established ones still work.
  ncs.forEach((nc, i) => nc.publish(`tls.many.${i}`, new Uint8Array(100).fill(i)));
  await within(Promise.all(ncs.map((nc) => nc.flush())), 20000, "100 flushes");
  await waitFor(() => seen === 200, 10000, "100 more messages after the burst");
  await within(Promise.all(ncs.map((nc) => nc.close())), 20000, "the closes");
  assert.ok(s.alive());
  await s.stop();
});

test("natsedge-only (static TLS region, NE_TLS_HEAP_BYTES; differences.md: Bounded sessions): TLS memory region exhausted: the next client is refused, the established ones keep working", { skip: !NATSEDGE && "natsedge-only: a static region nats-server does not have" }, async () => {
  // test-small: 6 session slots in a region that holds 3 established sessions.
  const s = await server({ config: tlsConf("server", "  timeout: 20\n"), small: true });
  const url = `127.0.0.1:${s.port}`;
  const ncs = [];
  for (let i = 0; i < 3; i++) ncs.push(await connect({ servers: url, tls: tlsOpts(), reconnect: false }));
  const extra = await connectAll(url, 2, { timeout: 2000 });
  assert.ok(extra.every((r) => r.status === "rejected"), "the region cannot hold a fourth session");
  assert.match(logs(s), /TLS session refused|TLS memory region exhausted/);
  for (const [i, nc] of ncs.entries()) await roundTrip(nc, `tls.small.${i}`, 4, 20000);
  await within(Promise.all(ncs.map((nc) => nc.close())), 20000, "the closes");
  // Freed sessions return their memory: a new client gets in again.
  await waitFor(async () => {
    try {
      const nc = await connect({ servers: url, tls: tlsOpts(), reconnect: false, timeout: 3000 });
      await within(nc.close(), 5000, "close");
      return true;
    } catch {
      return false;
    }
  }, 15000, "a client after the others closed").catch((e) => {
    throw new Error(`${e.message}\n--- broker log tail ---\n${logs(s).slice(-3000)}`);
  });
  assert.ok(s.alive());
  await s.stop();
});

test("configuration errors are clear: a missing key file on both; verify without ca_file refused by natsedge, accepted by nats-server (differences.md: Not built yet)", async () => {
  const bad = await run(BIN, ["-a", "127.0.0.1", "-p", "-1", "--tls", "--tlscert", f("server.pem"), "--tlskey", f("nope.key")], 10000);
  assert.equal(bad.code, 1);
  assert.match(bad.out, /nope\.key/);
  writeFileSync(f("noca.conf"), tlsConf("server", "  verify: true\n"));
  const noca = await run(BIN, ["-t", "-c", f("noca.conf")], 10000);
  if (NATSEDGE) {
    assert.equal(noca.code, 1);
    assert.match(noca.out, /verify needs a ca_file/);
  } else {
    assert.equal(noca.code, 0, noca.out); // client certificates checked against the system's roots
  }
});
