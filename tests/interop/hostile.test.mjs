// Hostile clients against one broker (NATSEDGE_BIN) while a well-behaved
// nats.js publisher/subscriber pair keeps exchanging numbered messages in the
// background: garbage, huge control lines, half-written frames, a thousand
// connect/disconnect cycles, idle sockets. None of the pair's messages may be
// lost, and the broker must still be alive and serving at the end. Every
// wait is bounded (the raw client's deadlines, `within` for nats.js).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { connect } from "@nats-io/transport-node";
import { startServer, stopAll, rawConnect, rawHandshake, waitFor, within, getJSON } from "./lib/harness.mjs";

let server;
let mport;
let pub;
let sub;
let published = 0;
const received = [];
let ticker;

before(async () => {
  server = await startServer({ ports: ["http"], args: (p) => ["-m", String(p.http)] });
  mport = server.ports.http;
  pub = await connect({ servers: server.url, reconnect: false, name: "pair-pub" });
  sub = await connect({ servers: server.url, reconnect: false, name: "pair-sub" });
  sub.subscribe("pair.seq", { callback: (_e, m) => received.push(Number(m.string())) });
  await within(sub.flush(), 5000, "the pair's flush");
  // 5 messages every 5 ms for as long as the file runs.
  ticker = setInterval(() => {
    for (let i = 0; i < 5; i++) pub.publish("pair.seq", String(published++));
  }, 5);
});

after(async () => {
  clearInterval(ticker);
  for (const nc of [pub, sub]) if (nc && !nc.isClosed()) await within(nc.close(), 5000, "close").catch(() => {});
  await stopAll();
});

// The pair made progress since `mark` (a count of received messages).
async function pairProgresses(mark) {
  await waitFor(() => received.length > mark + 20, 5000, `pair progress past ${mark} (at ${received.length})`);
}

const varz = () => getJSON(mport, "/varz");

test("1 MB of random garbage: that client is closed, the pair goes on", async () => {
  const mark = received.length;
  const c = await rawConnect(server.port);
  await c.readUntil("\r\n");
  await c.send(randomBytes(1024 * 1024));
  assert.ok(await c.closedWithin(5000), "garbage client closed");
  const d = await rawHandshake(server.port);
  for (let i = 0; i < 16; i++) await d.client.send(randomBytes(64 * 1024));
  assert.ok(await d.client.closedWithin(5000), "garbage-after-CONNECT client closed");
  await pairProgresses(mark);
});

test("100 KB control lines: -ERR 'maximum control line exceeded' and close, the pair goes on (CP-07)", async () => {
  const mark = received.length;
  for (const verb of ["PUB", "SUB", "UNSUB", "HPUB"]) {
    const { client: c } = await rawHandshake(server.port, { verbose: false, pedantic: false, headers: true });
    await c.send(`${verb} ${"x".repeat(100 * 1024)} 1\r\n`);
    assert.ok(await c.closedWithin(5000), `${verb}: closed`);
    assert.match(await c.readAll(0), /^-ERR 'maximum control line exceeded'\r\n$/, verb);
  }
  // 100 KB that is not a verb at all.
  const { client: n } = await rawHandshake(server.port);
  await n.send("Q".repeat(100 * 1024) + "\r\n");
  assert.ok(await n.closedWithin(5000));
  assert.equal(await n.readAll(0), "-ERR 'Unknown Protocol Operation'\r\n");
  await pairProgresses(mark);
});

test("half-written frames then disconnect: nothing partial is delivered, the pair goes on (CP-08)", async () => {
  const mark = received.length;
  const { client: watcher } = await rawHandshake(server.port, { verbose: false, pedantic: false, headers: true });
  await watcher.send("SUB half.> 1\r\nPING\r\n");
  await watcher.readUntil("PONG\r\n");
  const halves = [
    "PUB half.a 1000\r\n" + "y".repeat(500),
    "PUB half.b 10\r\n0123456789", // payload complete, trailer missing
    "PUB half.c 10\r\n0123456789\r", // half the trailer
    "PUB half.d 1", // half a control line
    "HPUB half.e 12 20\r\nNATS/1.0\r\n", // half the headers
    "SUB half.f 9\r\nPUB half.f 5\r\nhel",
  ];
  for (const [i, frame] of halves.entries()) {
    const { client: c } = await rawHandshake(server.port, { verbose: false, pedantic: false, headers: true });
    // A PING ahead of the half frame in the same write: its PONG shows the
    // broker has read that write, so it holds the half frame when the
    // connection goes.
    await c.send("PING\r\n" + frame);
    await c.readUntil("PONG\r\n");
    if (i % 2) c.socket.resetAndDestroy(); // RST
    else c.socket.end(); // FIN
    await within(c.closed(), 5000, "the half frame's close");
  }
  await watcher.send("PING\r\n");
  assert.equal(await watcher.readUntil("PONG\r\n"), "PONG\r\n", "no partial message reached the watcher");
  watcher.destroy();
  await pairProgresses(mark);
});

test("1000 sequential connect/disconnect cycles in bounded time; no connection leaks, the pair goes on", { timeout: 120000 }, async () => {
  const mark = received.length;
  const base = (await varz()).connections;
  for (let i = 0; i < 1000; i++) {
    const c = await rawConnect(server.port);
    switch (i % 4) {
      case 0: // gone before reading INFO
        c.socket.resetAndDestroy();
        break;
      case 1: // reads INFO, leaves with FIN
        await c.readUntil("\r\n");
        c.socket.end();
        break;
      case 2: // a full handshake with a subscription, then FIN
        await c.readUntil("\r\n");
        await c.send(`CONNECT {"verbose":false,"pedantic":false}\r\nSUB cyc.${i} ${i}\r\nPING\r\n`);
        await c.readUntil("PONG\r\n");
        c.socket.end();
        break;
      case 3: // CONNECT and half a PUB, then RST
        await c.send('CONNECT {"verbose":false}\r\nPUB cyc 10\r\n01234');
        c.socket.resetAndDestroy();
        break;
    }
    await within(c.closed(), 5000, `cycle ${i}'s close`);
  }
  // Every one of them is gone again.
  await waitFor(async () => (await varz()).connections <= base, 10000, `connections back to ${base}`);
  await pairProgresses(mark);
});

test("idle connections that send nothing do not stop the broker from serving", async () => {
  const mark = received.length;
  const idle = [];
  for (let i = 0; i < 5; i++) idle.push(await rawConnect(server.port));
  const idleConnected = [];
  for (let i = 0; i < 5; i++) {
    const c = await rawConnect(server.port);
    await c.send('CONNECT {"verbose":false}\r\n');
    idleConnected.push(c);
  }
  // Past the first PING the broker sends after CONNECT (CP-47): the idle
  // connections are known to the broker's timers, not just accepted.
  await Promise.all(idleConnected.map((c) => c.readUntil("PING\r\n", 10000)));
  const nc = await connect({ servers: server.url, reconnect: false });
  try {
    const r = await nc.request("$never.served", "x", { timeout: 2000 }).catch((e) => e);
    assert.ok(r instanceof Error && r.isNoResponders(), `no responders answered: ${r}`);
  } finally {
    await within(nc.close(), 5000, "close");
  }
  await pairProgresses(mark);
  for (const c of [...idle, ...idleConnected]) c.destroy();
});

test("at the end the broker is alive, serves a new client, and the pair lost nothing", async () => {
  assert.ok(server.alive(), `broker exited:\n${server.logs().slice(-2000)}`);
  clearInterval(ticker);
  await within(pub.flush(), 5000, "the pair's flush");
  await waitFor(() => received.length >= published, 10000, `all ${published} pair messages (got ${received.length})`);
  await within(sub.flush(), 5000, "the pair's flush");
  assert.equal(received.length, published);
  for (let i = 0; i < received.length; i++) {
    if (received[i] !== i) assert.fail(`pair message ${i} is ${received[i]}: lost or out of order`);
  }
  // Each case above waited for 20 more of them.
  assert.ok(published >= 100, `the pair exchanged ${published} messages`);
  const nc = await connect({ servers: server.url, reconnect: false });
  try {
    const s = nc.subscribe("end.x", { max: 1 });
    await within(nc.flush(), 5000, "flush");
    nc.publish("end.x", "bye");
    const got = await within((async () => {
      for await (const m of s) return m.string();
    })(), 5000, "the last message");
    assert.equal(got, "bye");
  } finally {
    await within(nc.close(), 5000, "close");
  }
});
