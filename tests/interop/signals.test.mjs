// Operations signals (inventory CFG-01 `--signal`, CP-70, CFG-22), the same
// steps against natsedge and nats-server: SIGUSR1 reopens the log file for
// log rotation, SIGUSR2 enters lame duck mode, SIGHUP reloads the
// configuration file. Every broker started here is stopped by PID, every wait is
// bounded.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync, readFileSync, existsSync, renameSync } from "node:fs";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { startServer, stopAll, freePort, waitFor, within, rawConnect, rawHandshake, brokerKind } from "./lib/harness.mjs";

const BIN = process.env.NATSEDGE_BIN;

after(async () => {
  await stopAll();
});

const readText = (file) => (existsSync(file) ? readFileSync(file, "utf8") : "");

// Starts the broker with a config file (and a log file if `logFile`); the
// harness waits until it says it is ready (on stderr, or in the log file).
// With `listenInConfig` the port is in the file (`config` is then a function
// of the port), not on the command line, so that a reload can change it.
async function launch({ config = "", logFile = null, args = [], listenInConfig = false } = {}) {
  const b = await startServer({
    listen: !listenInConfig,
    config: listenInConfig ? (p) => config(p.client) : config,
    logFile,
    args,
  });
  return Object.assign(b, { exitWithin: (ms) => b.waitExit(ms) });
}

// Waits at most `ms` for the process to exit; returns its exit code.
const exitWithin = (b, ms) => b.waitExit(ms);

// A connected raw client answers PING: the broker is running and serving.
async function serving(b) {
  const { client } = await rawHandshake(b.port);
  await client.send("PING\r\n");
  await client.readUntil("PONG\r\n");
  client.destroy();
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
  await serving(b);
  assert.equal(b.exitCode(), null);
  b.signal("SIGINT");
  assert.equal(await exitWithin(b, 5000), 0);
  await b.stop();
});

// nats-server refuses a lame_duck_duration under 30 s; with a 1 s grace
// period the closes are spread over 29 s but never more than a second apart,
// so four clients are closed within about 1 + 3 s.
const LDM_CONFIG = 'lame_duck_duration: "30s"\nlame_duck_grace_period: "1s"\n';

test("SIGUSR2 lame duck mode: INFO ldm:true, no new clients, closes spread after the grace period, exit 0 (CP-70)", async () => {
  const b = await launch({ config: LDM_CONFIG });
  const url = `127.0.0.1:${b.port}`;
  const closedAt = [];
  const clients = [];
  const ldmSeen = [];
  for (let i = 0; i < 3; i++) {
    const nc = await connect({ servers: url, reconnect: false, name: `ldm-${i}` });
    (async () => {
      for await (const s of nc.status()) if (s.type === "ldm") ldmSeen.push(i);
    })().catch(() => {});
    nc.closed().then(() => closedAt.push(Date.now()));
    await nc.flush();
    clients.push(nc);
  }
  const raw = await rawConnect(b.port);
  await raw.readUntil("\r\n");
  await raw.send('CONNECT {"verbose":false,"protocol":1}\r\nPING\r\n');
  await raw.readUntil("PONG\r\n");
  raw.closed().then(() => closedAt.push(Date.now()));

  const signalledAt = Date.now();
  b.signal("SIGUSR2");
  const line = await raw.readUntil(/INFO [^\r]*\r\n/, 3000);
  const info = JSON.parse(line.slice(line.indexOf("{"), line.lastIndexOf("}") + 1));
  assert.equal(info.ldm, true);
  await waitFor(() => ldmSeen.length === 3, 3000, "nats.js ldm status events");
  // The listener is closed: a new client cannot connect.
  await waitFor(() => /Entering lame duck mode/.test(b.logs()), 3000, "the lame duck log line");
  await assert.rejects(rawConnect(b.port, { timeoutMs: 2000 }));

  assert.equal(await exitWithin(b, 15000), 0);
  await waitFor(() => closedAt.length === 4, 3000, "every client closed");
  closedAt.sort((x, y) => x - y);
  assert.ok(closedAt[0] - signalledAt >= 900, `first close ${closedAt[0] - signalledAt} ms after the signal`);
  // Three waits of half a second to a second each between the four closes.
  assert.ok(closedAt[3] - closedAt[0] >= 1300, `closes spread over ${closedAt[3] - closedAt[0]} ms`);
  assert.match(b.logs(), /Closing existing clients/);
  await b.stop();
});

test("SIGUSR2 with no client exits at once; SIGTERM during lame duck is ignored (CP-70)", async () => {
  const b = await launch({ config: LDM_CONFIG });
  const nc = await connect({ servers: `127.0.0.1:${b.port}`, reconnect: false });
  await nc.flush();
  b.signal("SIGUSR2");
  await waitFor(() => /Entering lame duck mode/.test(b.logs()), 3000, "the lame duck log line");
  b.signal("SIGTERM");
  // The lame duck period runs its course anyway: the grace period passes,
  // the client is closed by it, then the broker exits 0.
  assert.equal(await exitWithin(b, 5000), 0);
  assert.match(b.logs(), /Closing existing clients/, "SIGTERM cut the lame duck period short");
  await within(nc.closed(), 5000, "the client's close");
  await b.stop();

  const idle = await launch({ config: LDM_CONFIG });
  idle.signal("SIGUSR2");
  assert.equal(await exitWithin(idle, 3000), 0);
  await idle.stop();
});

// Sends SIGHUP and waits for the n-th reload outcome in the log.
async function reload(b, n) {
  b.signal("SIGHUP");
  const outcomes = () => (b.logs().match(/Reloaded server configuration|Failed to reload server configuration/g) ?? []).length;
  await waitFor(() => outcomes() >= n, 5000, `reload #${n}`);
}

const users = (list) =>
  "authorization {\n  users: [\n" + list.map(([u, p]) => `    { user: ${u}, password: ${p} }\n`).join("") + "  ]\n}\n";

test("SIGHUP reloads the file: a new user is accepted, a removed user's connection is closed with Authorization Violation (CFG-22)", async () => {
  const b = await launch({ config: users([["alice", "a1"], ["bob", "b1"]]) });
  const url = `127.0.0.1:${b.port}`;
  const alice = await connect({ servers: url, user: "alice", pass: "a1", reconnect: false });
  const bob = await connect({ servers: url, user: "bob", pass: "b1", reconnect: false });
  await Promise.all([alice.flush(), bob.flush()]);
  const bobClosed = bob.closed();
  const raw = await rawConnect(b.port);
  await raw.readUntil("\r\n");
  await raw.send('CONNECT {"verbose":false,"user":"bob","pass":"b1"}\r\nPING\r\n');
  await raw.readUntil("PONG\r\n");

  writeFileSync(b.confPath, "max_payload: 2048\ndebug: true\n" + users([["alice", "a1"], ["carol", "c1"]]));
  await reload(b, 1);
  assert.match(b.logs(), /Reloaded server configuration/);
  assert.match(b.logs(), /Reloaded: debug = true/);
  assert.match(b.logs(), /Reloaded: authorization users/);
  assert.match(b.logs(), /Reloaded: max_payload = 2048/);
  // Bob is gone: his connections are closed. natsedge writes the error
  // first; nats-server 2.9.10 queues it but closes the socket before it is
  // written, so its clients see a plain close (differences.md).
  assert.ok(await raw.closedWithin(5000));
  const why = await within(bobClosed, 5000, "bob's close");
  if (brokerKind() === "natsedge") {
    assert.match(raw.received(), /-ERR 'Authorization Violation'\r\n/);
    assert.match(String(why?.message ?? why), /authorization violation/i);
  }
  await assert.rejects(connect({ servers: url, user: "bob", pass: "b1", reconnect: false }), /authorization violation/i);
  // Alice stays, Carol is new; new clients see the new max_payload.
  await alice.flush();
  const carol = await connect({ servers: url, user: "carol", pass: "c1", reconnect: false });
  await carol.flush();
  assert.equal(carol.info.max_payload, 2048);
  await Promise.all([alice.close(), carol.close()]);
  b.signal("SIGINT");
  assert.equal(await exitWithin(b, 5000), 0);
  await b.stop();
});

test("SIGHUP with a port change is refused: the old configuration stays and the reason is logged (CFG-22)", async () => {
  const other = await freePort();
  const b = await launch({ listenInConfig: true, config: (port) => `listen: 127.0.0.1:${port}\n` });
  // The new file also asks for authentication: nothing of it may apply.
  writeFileSync(b.confPath, `listen: 127.0.0.1:${other}\nauthorization { token: secret }\n`);
  await reload(b, 1);
  assert.match(
    b.logs(),
    new RegExp(`Failed to reload server configuration: config reload not supported for Port: old=${b.port}, new=${other}`),
  );
  assert.doesNotMatch(b.logs(), /Reloaded server configuration/);
  const nc = await connect({ servers: `127.0.0.1:${b.port}`, reconnect: false });
  await nc.flush();
  await nc.close();
  await assert.rejects(rawConnect(other, { timeoutMs: 2000 }));
  b.signal("SIGINT");
  assert.equal(await exitWithin(b, 5000), 0);
  await b.stop();
});

test("SIGHUP with a broken file logs the parse error and keeps serving; a fixed file then reloads (CFG-22)", async () => {
  const b = await launch({ config: "max_payload: 4096\n" });
  writeFileSync(b.confPath, "max_payload: 4096\nauthorization {\n  token: secret\n");
  await reload(b, 1);
  assert.match(b.logs(), /Failed to reload server configuration: /);
  const nc = await connect({ servers: `127.0.0.1:${b.port}`, reconnect: false });
  await nc.flush();
  writeFileSync(b.confPath, "max_payload: 4096\nauthorization {\n  token: secret\n}\n");
  await reload(b, 2);
  assert.match(b.logs(), /Reloaded: authorization token/);
  // The client that sent no token is now closed; a new one with it is accepted.
  const closed = await within(nc.closed(), 5000, "the close of the client without the token");
  if (brokerKind() === "natsedge") assert.match(String(closed?.message ?? closed), /authorization violation/i);
  const withToken = await connect({ servers: `127.0.0.1:${b.port}`, token: "secret", reconnect: false });
  await withToken.flush();
  await withToken.close();
  b.signal("SIGINT");
  assert.equal(await exitWithin(b, 5000), 0);
  await b.stop();
});

test("SIGHUP with narrower permissions removes the subscriptions they no longer allow, the client stays (CP-38, CFG-22)", async () => {
  const perms = (subs) =>
    "authorization {\n  users: [\n" +
    `    { user: alice, password: a1, permissions: { subscribe: ${JSON.stringify(subs)} } }\n` +
    "    { user: pub, password: p1 }\n  ]\n}\n";
  const b = await launch({ config: perms(["foo.>", "bar"]) });
  const raw = await rawConnect(b.port);
  await raw.readUntil("\r\n");
  await raw.send('CONNECT {"verbose":false,"user":"alice","pass":"a1"}\r\nSUB foo.x 1\r\nSUB bar 2\r\nPING\r\n');
  await raw.readUntil("PONG\r\n");

  writeFileSync(b.confPath, perms(["foo.>"]));
  await reload(b, 1);
  assert.match(b.logs(), /Reloaded server configuration/);
  await raw.readUntil(`-ERR 'Permissions Violation for Subscription to "bar" (sid "2")'\r\n`);
  // The connection stays; the removed subscription gets nothing, the other one does.
  const pub = await connect({ servers: `127.0.0.1:${b.port}`, user: "pub", pass: "p1", reconnect: false });
  pub.publish("bar", "no");
  pub.publish("foo.x", "yes");
  await pub.flush();
  await raw.send("PING\r\n");
  const got = await raw.readUntil("PONG\r\n");
  assert.match(got, /MSG foo\.x 1 3\r\nyes\r\n/);
  assert.doesNotMatch(got, /MSG bar/);
  assert.equal(raw.isClosed(), false);
  await pub.close();
  b.signal("SIGINT");
  assert.equal(await exitWithin(b, 5000), 0);
  await b.stop();
});

// -sl/--signal <command>=<pid|pid file> (CFG-01) sends the signal to a running
// broker. Always with an explicit pid here: other brokers may be running.
function signalCommand(arg) {
  return spawnSync(BIN, ["--signal", arg], { encoding: "utf8", timeout: 10000 });
}

test("--signal reload=<pid file> and ldm=<pid> signal the running broker; a bad pid fails (CFG-01)", async () => {
  const b = await launch({ config: LDM_CONFIG, args: [] });
  const pidFile = join(b.dir, "signal.pid");
  writeFileSync(pidFile, String(b.pid));
  let r = signalCommand(`reload=${pidFile}`);
  assert.equal(r.status, 0, r.stderr);
  await waitFor(() => /Reloaded server configuration/.test(b.logs()), 5000, "the reload");
  r = signalCommand("reload=notapid");
  assert.equal(r.status, 1);
  assert.match(r.stderr, /invalid pid: notapid/);
  r = signalCommand(`bogus=${b.pid}`);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /unknown signal "bogus"/);
  r = signalCommand(`ldm=${b.pid}`);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(await exitWithin(b, 5000), 0);
  await b.stop();
});

// natsedge closes the newest clients beyond a lowered max_connections,
// nats-server arbitrary ones (differences.md, "Configuration reload").
test("SIGHUP lowering max_connections closes the excess clients: the newest on natsedge, as many on nats-server (CFG-22)", async () => {
  const b = await launch({ config: "max_connections: 10\n" });
  const raws = [];
  for (let i = 0; i < 5; i++) {
    const { client } = await rawHandshake(b.port);
    await client.send("PING\r\n");
    await client.readUntil("PONG\r\n");
    raws.push(client);
  }
  writeFileSync(b.confPath, "max_connections: 2\n");
  await reload(b, 1);
  assert.match(b.logs(), /Reloaded server configuration/);
  // Three are closed; the two left answer PING.
  await waitFor(() => raws.filter((r) => r.isClosed()).length === 3, 5000, "three clients closed");
  const open = raws.filter((r) => !r.isClosed());
  for (const r of open) {
    await r.send("PING\r\n");
    await r.readUntil("PONG\r\n");
  }
  if (brokerKind() === "natsedge") {
    assert.deepEqual(raws.map((r) => r.isClosed()), [false, false, true, true, true]);
    for (const r of raws.slice(2)) assert.match(r.received(), /-ERR 'maximum connections exceeded'\r\n$/);
  }
  for (const r of raws) r.destroy();
  b.signal("SIGINT");
  assert.equal(await exitWithin(b, 5000), 0);
  await b.stop();
});
