// Hostile clients against the shared pools (issue 13): one peer holding as
// much of a pool as one connection can hold (or, for incomplete messages,
// several peers doing so) does not stop the others from connecting,
// publishing, receiving and being monitored; the hostile connection is the
// one refused or closed.
//
// Raw sockets against two builds of the broker under test, a fresh broker
// per test:
//   - small (NATSEDGE_SMALL_BIN, config/profiles/test-small.h): 8
//     connections plus slots of their own for monitoring and leafs, 96
//     chunks of 4 KiB, 64 KiB max_payload, 32 subscriptions, 64 trie nodes,
//     stalled messages cut after 500 ms and at 3 s;
//   - tiny (NATSEDGE_TINY_BIN, config/profiles/tiny.h, what runs on the
//     MCU): 8 connections shared with monitoring and leafs, 12 chunks of 512
//     bytes (one max_payload message takes 10 of them), 4 KiB max_payload,
//     8 KiB max_pending, 64 subscriptions, 56 trie nodes, a closed-connection
//     ring of one, stalled messages cut after 1 s and at 10 s.
// In the parity pass each is nats-server 2.9.10 with the limits it can be
// configured with (the harness's SMALL_CONFIG and TINY_CONFIG). nats-server
// keeps everything on its heap: against it, only what holds there too is
// asserted, and where natsedge's static pools make it answer otherwise the
// test name says so and names the differences.md entry.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { startServer, stopAll, rawConnect, rawHandshake, brokerKind, waitFor, SMALL_LIMITS, TINY_LIMITS } from "../interop/lib/harness.mjs";
import { startMonitored, getJson } from "./lib/http.mjs";
import { knob, headerOf } from "./lib/limits.mjs";

const NATSEDGE = brokerKind() === "natsedge";
const QUIET = { verbose: false, pedantic: false };
const MS = 5000;

after(async () => {
  await stopAll();
});

// What the cases need of a profile: its knobs (the same values are
// nats-server's configured limits in the parity pass) and the sizes the
// cases use.
function profileOf(name) {
  const header = headerOf(name);
  const k = (n) => knob(n, header);
  const p = {
    name,
    small: name === "small",
    tiny: name === "tiny",
    on: `[${name} broker]`,
    reference: name === "small" ? SMALL_LIMITS : TINY_LIMITS,
    maxPayload: k("NE_MAX_PAYLOAD_BYTES"),
    chunkBytes: k("NE_CHUNK_BYTES"),
    connections: k("NE_MAX_CONNECTIONS"),
    reserved: k("NE_RESERVED_CONNECTIONS"),
    closedRing: k("NE_CLOSED_CONN_RING"),
    subShare: k("NE_MAX_SUBSCRIPTIONS_PER_CONN"),
    trieNodes: k("NE_MAX_TRIE_NODES"),
    trieShare: k("NE_MAX_TRIE_NODES_PER_CONN"),
  };
  // Stalled publishers: on small six, each stalled 60000 bytes into a
  // message of 17 chunks (the share of incomplete messages holds 48 of the
  // 96 chunks: fewer than three such messages); on tiny two, each stalled
  // 3000 bytes into a message of 9 chunks (the share holds 10 of the 12: one
  // such message at a time).
  p.hogs = p.small ? 6 : 2;
  p.stalledAt = p.small ? 60000 : 3000;
  // Subscribers that never read: the size of each message.
  p.messageBytes = Math.min(60000, p.maxPayload);
  return p;
}

// The broker of a profile with a monitoring port, once the harness's
// readiness probe has left (so that all 8 client places are free).
async function monitored(P, config = null) {
  const server = await startMonitored({ small: P.small, tiny: P.tiny, config });
  return { server, get: (path) => getJson(server, path) };
}

// A raw client that has sent CONNECT and whose first PING was answered.
async function ready(port, connect = QUIET) {
  const { client } = await rawHandshake(port, connect);
  await client.send("PING\r\n");
  await client.readUntil("PONG\r\n");
  return client;
}

// The broker's own PINGs may come between any two lines; these clients do
// not answer them (the broker waits two intervals of 2 minutes).
const noPings = (text) => text.replace(/PING\r\n/g, "");

// The broker's warning and error lines (for failure messages).
const warnings = (server) => server.logs().split("\n").filter((l) => /\[(WRN|ERR)\]/.test(l)).join("\n");

function countErrs(text) {
  return (text.match(/-ERR 'maximum subscriptions exceeded'\r\n/g) ?? []).length;
}

for (const P of ["small", "tiny"].map(profileOf)) {
  test(`incomplete messages (issue 13 item 4): ${P.hogs} publishers that start a max_payload message and stall do not keep another's message from a subscriber; monitoring answers; natsedge closes the stalled ones (Slow Producer), nats-server keeps them (differences.md: Static limits, incomplete messages) ${P.on}`, async () => {
    const { server, get } = await monitored(P);
    try {
      const sub = await ready(server.port);
      await sub.send("SUB big 1\r\nPING\r\n");
      await sub.readUntil("PONG\r\n");
      // Each hog stops P.stalledAt bytes into its message and sends nothing
      // more: the stall is the subject of the test. Before the fix five of
      // them held 85 of the small build's 96 chunks from their first byte and
      // for ever, and the next large message waited for chunks that never
      // came back.
      const hogs = [];
      for (let i = 0; i < P.hogs; i++) {
        const h = await ready(server.port);
        await h.send(`PUB hog ${P.maxPayload}\r\n` + "h".repeat(P.stalledAt));
        hogs.push(h);
      }
      if (NATSEDGE) {
        // natsedge took in a stalled message's bytes: they hold chunks.
        const held = Math.ceil(P.stalledAt / P.chunkBytes);
        await waitFor(async () => (await get("/varz?natsedge=1")).natsedge_pools.chunks >= held, MS,
          `the stalled messages holding at least ${held} chunks`);
      }
      // The publisher's handshake (its PONG) comes from a loop turn after the
      // hogs' bytes were waiting to be read.
      const pub = await ready(server.port);
      const payload = "p".repeat(P.maxPayload);
      const delivered = `MSG big 1 ${P.maxPayload}\r\n${payload}\r\n`;
      await pub.send(`PUB big ${P.maxPayload}\r\n${payload}\r\n`);
      assert.equal(noPings(await sub.readUntil(`${payload}\r\n`, 15000)), delivered);
      const varz = await get("/varz");
      // And another: natsedge cuts a stalled message that still holds the
      // room it needs, if any, rather than wait for that publisher's
      // deadline (10 s on tiny).
      await pub.send(`PUB big ${P.maxPayload}\r\n${payload}\r\n`);
      assert.equal(noPings(await sub.readUntil(`${payload}\r\n`, 15000)), delivered);
      if (NATSEDGE) {
        assert.ok(varz.connections >= 2, `connections ${varz.connections}`);
        // Every stalled publisher is closed, for room or at its deadline,
        // after the ones that waited for room started in turn.
        for (const h of hogs) assert.ok(await h.closedWithin(15000), "a stalled publisher is closed");
        for (const h of hogs) assert.doesNotMatch(h.received(), /-ERR/);
        // The stalled publishers are the last ones closed: the closed
        // connections the ring still holds (one on tiny) name them.
        const closed = await get("/connz?state=closed");
        const reasons = closed.connections.map((c) => c.reason);
        const producers = reasons.filter((r) => /^Slow Producer \((Message Deadline|Stalled Message)\)$/.test(r));
        assert.equal(producers.length, Math.min(hogs.length, P.closedRing), JSON.stringify(reasons));
      } else {
        // nats-server waits for the stalled publishers: all of them are still
        // connected, with the subscriber and the publisher.
        assert.equal(varz.connections, hogs.length + 2);
        for (const h of hogs) assert.equal(h.isClosed(), false);
      }
      // The others go on (the broker's warnings say what it closed, should
      // the subscriber be gone: tiny's closed ring keeps one connection).
      await pub.send(`PUB big 2\r\nok\r\n`);
      const ok = await sub.readUntil("ok\r\n").catch((e) => {
        throw new Error(`${e.message}\nbroker warnings:\n${warnings(server)}`);
      });
      assert.equal(noPings(ok), "MSG big 1 2\r\nok\r\n");
      assert.equal(sub.isClosed(), false);
      assert.equal(pub.isClosed(), false);
    } finally {
      await server.stop();
    }
  });

  // On tiny the four stalled subscribers hold the whole chunk pool before
  // any of them reaches max_pending (8 KiB of queue, 6 KiB of pool): the
  // message that waits for chunks has the subscriber whose socket took
  // nothing for NE_PARTIAL_MSG_STALL_MS closed for them, each in turn, not
  // at its 10 s write deadline (the healthy subscriber's wait below).
  test(`a subscriber that never reads (issue 13 item 5): four of them fill the chunk pool; a healthy subscriber's stream stays whole, message by message; new clients connect and monitoring answers ${P.on}`, async () => {
    // nats-server cuts a blocked subscriber only when a write times out or
    // its max_pending is exceeded.
    const { server, get } = await monitored(P, NATSEDGE ? null : 'write_deadline: "2s"\n');
    try {
      const stalled = [];
      for (let i = 0; i < 4; i++) {
        const s = await ready(server.port);
        await s.send(`SUB big.${i} 1\r\nPING\r\n`);
        await s.readUntil("PONG\r\n");
        s.socket.pause(); // never reads again: the subject of the test
        stalled.push(s);
      }
      const healthy = await frameReader(server.port, 0x78);
      const pub = await ready(server.port);
      // Each stalled subscriber gets its own copies; the publisher sends a
      // message only when no more than the healthy one's max_pending would
      // then be on its way to it (two messages on small, one on tiny), so
      // that it is the stalled ones' queues (and kernel buffers) that grow
      // and the healthy one is never a slow consumer. It goes on until the
      // broker closed the four (checked every 50 messages: only the healthy
      // subscriber and the publisher left in /varz's connections; on small
      // not before 600 messages of 60000 bytes, as this case always sent),
      // at most 288 MB: loopback's buffers take megabytes of a subscriber
      // that does not read before the broker sees it slow. Not on the count
      // of slow consumers: once, on nats-server with the tiny limits, it
      // reached four with one stalled subscriber still open, which then
      // drained once resumed below and was never closed.
      const payload = "x".repeat(P.messageBytes);
      const frameBytes = `MSG big.0 1 ${P.messageBytes}\r\n`.length + P.messageBytes + 2;
      const ahead = Math.floor(P.reference.max_pending / frameBytes);
      assert.ok(ahead >= 1);
      // After sending message n (from 0), wait until the healthy subscriber
      // has the ones that would put it over.
      const MIN_TOTAL = P.small ? 600 : 50;
      const MAX_TOTAL = Math.ceil(288e6 / P.messageBytes);
      let sent = 0;
      let slow = 0;
      for (; sent < MAX_TOTAL && !healthy.broken && !healthy.closed; sent++) {
        if (sent >= MIN_TOTAL && sent % 50 === 0) {
          const v = await get("/varz");
          slow = v.slow_consumers;
          if (v.connections <= 2) break;
        }
        await pub.send(`PUB big.${sent % 4} ${P.messageBytes}\r\n${payload}\r\n`);
        await healthy.until(sent + 2 - ahead, 10000);
      }
      await healthy.until(sent, 10000);
      assert.equal(healthy.broken, null);
      assert.equal(healthy.closed, false);
      assert.equal(healthy.frames, sent);
      // The stalled subscribers are the ones closed (slow consumers).
      for (const s of stalled) {
        s.socket.resume();
        assert.ok(await s.closedWithin(15000), "a stalled subscriber is closed");
      }
      // Others still connect, publish and are monitored.
      const fresh = await ready(server.port);
      await fresh.send("PUB big.0 1\r\nx\r\n");
      await healthy.until(sent + 1, 5000);
      const varz = await get("/varz");
      assert.ok(varz.slow_consumers >= 4, `slow_consumers ${varz.slow_consumers} (${slow} seen while publishing)`);
      healthy.socket.destroy();
    } finally {
      await server.stop();
    }
  });

  test(`subscriptions: one connection subscribing without end is refused past its share (-ERR 'maximum subscriptions exceeded', it stays: natsedge at NE_MAX_SUBSCRIPTIONS_PER_CONN, nats-server at max_subscriptions; differences.md: Static limits); another connection still subscribes and both receive (CP-36) ${P.on}`, async () => {
    const server = await startServer({ small: P.small, tiny: P.tiny });
    try {
      // One subject, so that the subscriptions (not the trie nodes: the
      // next case) are what runs out.
      const hog = await ready(server.port);
      let cmds = "";
      for (let i = 1; i <= 40; i++) cmds += `SUB s ${i}\r\n`;
      await hog.send(cmds + "PING\r\n");
      const refused = countErrs(await hog.readUntil("PONG\r\n"));
      // natsedge: its share of the pool (small: half of 32; tiny: half of
      // 64); nats-server: the configured per-connection max_subscriptions
      // (small: 32; tiny: the same 32 as natsedge's share).
      const share = NATSEDGE ? P.subShare : P.reference.max_subscriptions;
      assert.equal(refused, 40 - share);
      const other = await ready(server.port);
      let mine = "";
      for (let i = 1; i <= 5; i++) mine += `SUB o.${i} ${i}\r\n`;
      await other.send(mine + "PING\r\n");
      assert.equal(noPings(await other.readUntil("PONG\r\n")), "PONG\r\n");
      const pub = await ready(server.port);
      await pub.send("PUB o.3 1\r\nx\r\nPUB s 1\r\ny\r\nPING\r\n");
      await pub.readUntil("PONG\r\n");
      assert.equal(noPings(await other.readUntil("x\r\n")), "MSG o.3 3 1\r\nx\r\n");
      // Every subscription the hog kept receives: its PONG comes after what
      // the broker queued for it before reading its PING.
      await hog.send("PING\r\n");
      const msgs = noPings(await hog.readUntil("PONG\r\n")).match(/MSG s \d+ 1\r\ny\r\n/g) ?? [];
      assert.equal(msgs.length, share);
    } finally {
      await server.stop();
    }
  });

  // Subjects of 8 tokens, the first one distinct: each takes 8 new trie nodes.
  const DEPTH = 8;
  const deep = (p, i) => `${p}${i}.a.b.c.d.e.f.g`;
  const hogKeeps = Math.floor(P.trieShare / DEPTH);
  // What another connection subscribes to: as many as the trie holds beside
  // the hog's share, less one subject for the nodes the broker's own
  // subscriptions take (small: 3, tiny: 2).
  const othersTake = Math.floor((P.trieNodes - P.trieShare) / DEPTH) - 1;

  test(`subject trie: one connection subscribing to long subjects of distinct tokens does not take every trie node; another still subscribes to long subjects and both receive (natsedge refuses the first past NE_MAX_TRIE_NODES_PER_CONN, nats-server has no such pool; differences.md: Static limits) ${P.on}`, async () => {
    const server = await startServer({ small: P.small, tiny: P.tiny });
    try {
      const hog = await ready(server.port);
      let cmds = "";
      for (let i = 1; i <= 12; i++) cmds += `SUB ${deep("t", i)} ${i}\r\n`;
      await hog.send(cmds + "PING\r\n");
      const refused = countErrs(await hog.readUntil("PONG\r\n"));
      // natsedge: NE_MAX_TRIE_NODES_PER_CONN, half the trie (small: 32 of
      // 64, four such subjects; tiny: 28 of 56, three).
      assert.equal(refused, NATSEDGE ? 12 - hogKeeps : 0);
      // The hog stays: it receives below.
      const other = await ready(server.port);
      assert.ok(othersTake >= 2, `${othersTake} subjects for the other connection`);
      let mine = "";
      for (let i = 1; i <= othersTake; i++) mine += `SUB ${deep("u", i)} ${i}\r\n`;
      await other.send(mine + "PING\r\n");
      assert.equal(noPings(await other.readUntil("PONG\r\n")), "PONG\r\n");
      const pub = await ready(server.port);
      await pub.send(`PUB ${deep("u", 2)} 1\r\nx\r\nPUB ${deep("t", 3)} 1\r\ny\r\n`);
      assert.equal(noPings(await other.readUntil("x\r\n")), `MSG ${deep("u", 2)} 2 1\r\nx\r\n`);
      assert.equal(noPings(await hog.readUntil("y\r\n")), `MSG ${deep("t", 3)} 3 1\r\ny\r\n`);
    } finally {
      await server.stop();
    }
  });
}

// Where monitoring stands when every client slot is taken: the small build
// keeps slots of its own for it (NE_RESERVED_CONNECTIONS), the tiny one none
// (its 8 slots are shared: differences.md, Static limits, "on the tiny
// profile, which keeps no such slots, they do"), nats-server has no pool.
const monitoringLockedOut = (P) => NATSEDGE && P.reserved === 0;

for (const P of ["small", "tiny"].map(profileOf)) {
  const lockedOut = monitoringLockedOut(P);
  const what = P.tiny
    ? "monitoring answers on nats-server and is refused by tiny natsedge, which keeps no slots of its own for it, until a client leaves (differences.md: Static limits)"
    : "monitoring still answers /varz and /connz";
  test(`connections: with every client slot taken (max_connections), ${what}, and the next client gets INFO and -ERR 'maximum connections exceeded' (CP-69) ${P.on}`, async () => {
    const { server, get } = await monitored(P);
    const MAX_CONNECTIONS = P.reference.max_connections;
    assert.equal(MAX_CONNECTIONS, P.connections);
    try {
      const clients = [];
      for (let i = 0; i < MAX_CONNECTIONS; i++) clients.push(await ready(server.port));
      if (lockedOut) {
        // The request's connection is closed unanswered, again and again.
        for (let i = 0; i < 3; i++) {
          const m = await rawConnect(server.mport);
          await m.send("GET /varz HTTP/1.1\r\nHost: x\r\n\r\n");
          assert.ok(await m.closedWithin(5000), "the monitoring connection is closed");
          assert.equal(m.received(), "", "no answer");
        }
      } else {
        const varz = await get("/varz");
        assert.equal(varz.connections, MAX_CONNECTIONS);
        const connz = await get("/connz");
        assert.equal(connz.num_connections, MAX_CONNECTIONS);
      }
      const ninth = await rawConnect(server.port);
      assert.ok(await ninth.closedWithin(5000), "the next client is closed");
      assert.match(ninth.received(), /^INFO \{.*\} ?\r\n-ERR 'maximum connections exceeded'\r\n$/s);
      // Monitoring answers again and again, not only once.
      if (!lockedOut) for (let i = 0; i < 3; i++) assert.equal((await get("/varz")).connections, MAX_CONNECTIONS);
      // The eight keep working.
      await clients[0].send("SUB c 1\r\nPING\r\n");
      await clients[0].readUntil("PONG\r\n");
      await clients[MAX_CONNECTIONS - 1].send("PUB c 2\r\nok\r\n");
      assert.equal(noPings(await clients[0].readUntil("ok\r\n")), "MSG c 1 2\r\nok\r\n");
      if (lockedOut) {
        // A client leaves: its slot serves monitoring again.
        clients.pop().destroy();
        await waitFor(async () => (await get("/varz").catch(() => null))?.connections === MAX_CONNECTIONS - 1, MS,
          "/varz answered once a slot is free");
      }
    } finally {
      await server.stop();
    }
  });
}

// A subscriber reading MSG frames as they come, checking each one whole:
// "MSG <subject> <sid> <size>\r\n", <size> bytes of `fill`, "\r\n".
// until(n, ms) resolves once n frames came (or the stream broke or closed),
// rejects after ms.
function frameReader(port, fill) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: "127.0.0.1" });
    const waiters = new Set();
    const state = { frames: 0, broken: null, closed: false, socket, buf: Buffer.alloc(0), info: false };
    const wake = () => {
      for (const w of waiters) w();
    };
    state.until = (n, ms) =>
      new Promise((res, rej) => {
        const check = () => {
          if (state.frames >= n || state.broken || state.closed) {
            clearTimeout(timer);
            waiters.delete(check);
            res();
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          rej(new Error(`frame reader: ${state.frames} frames after ${ms} ms, waiting for ${n}`));
        }, ms);
        waiters.add(check);
        check();
      });
    socket.on("error", () => {});
    socket.on("close", () => {
      state.closed = true;
      wake();
    });
    socket.on("data", (d) => {
      state.buf = state.buf.length ? Buffer.concat([state.buf, d]) : d;
      for (;;) {
        const nl = state.buf.indexOf(0x0a);
        if (nl < 0) break;
        const line = state.buf.subarray(0, nl + 1).toString("latin1");
        if (!state.info) {
          state.info = true;
          state.buf = state.buf.subarray(nl + 1);
          socket.write(`CONNECT ${JSON.stringify(QUIET)}\r\nSUB big.* 1\r\nPING\r\n`);
          continue;
        }
        if (line === "PONG\r\n" || line === "PING\r\n") {
          if (line === "PING\r\n") socket.write("PONG\r\n");
          state.buf = state.buf.subarray(nl + 1);
          if (line === "PONG\r\n") resolve(state);
          continue;
        }
        const m = /^MSG \S+ 1 (\d+)\r\n$/.exec(line);
        if (!m) {
          state.broken ??= `after ${state.frames} frames: ${JSON.stringify(line.slice(0, 80))}`;
          socket.destroy();
          break;
        }
        const size = Number(m[1]);
        if (state.buf.length < nl + 1 + size + 2) break;
        const body = state.buf.subarray(nl + 1, nl + 1 + size);
        const tail = state.buf.subarray(nl + 1 + size, nl + 3 + size).toString("latin1");
        if (body.some((b) => b !== fill) || tail !== "\r\n") {
          state.broken ??= `frame ${state.frames + 1} is not whole`;
          socket.destroy();
          break;
        }
        state.frames++;
        state.buf = state.buf.subarray(nl + 3 + size);
      }
      wake();
    });
    setTimeout(() => reject(new Error("frame reader: no PONG")), 5000).unref();
  });
}

// Read buffers (NE_CONN_READ_BUFFERS, 4 on small for 8 connections): a
// connection holds one only while it has input it has not parsed yet (an
// incomplete line or message), so idle clients hold none, and peers that
// hold every one with an incomplete line and stall do not keep another
// client's split message from its subscriber: natsedge cuts the stalled
// holder that needs it least (Slow Producer), nats-server (heap buffers)
// keeps them all.
test("read buffers (issue 17, memory per idle connection): idle clients hold none; four peers holding every one with a stalled incomplete line do not keep a split PUB from a subscriber; natsedge closes a stalled holder (Slow Producer), nats-server keeps them (differences.md: Static limits, read buffers) [small broker]", async () => {
  const P = profileOf("small");
  const { server, get } = await monitored(P);
  try {
    const buffers = NATSEDGE ? knob("NE_CONN_READ_BUFFERS", headerOf("small")) : 4;
    const sub = await ready(server.port);
    await sub.send("SUB split 1\r\nPING\r\n");
    await sub.readUntil("PONG\r\n");
    if (NATSEDGE) {
      const pools = (await get("/varz?natsedge=1")).natsedge_pools;
      assert.equal(pools.read_buffers, 0, "an idle client holds no read buffer");
    }
    const hogs = [];
    for (let i = 0; i < buffers; i++) {
      const h = await ready(server.port);
      await h.send("PUB hog 1"); // no CRLF, and nothing more: the stall
      hogs.push(h);
    }
    if (NATSEDGE) {
      await waitFor(async () => (await get("/varz?natsedge=1")).natsedge_pools.read_buffers === buffers, MS,
        `the ${buffers} stalled lines holding every read buffer`);
    }
    const pub = await ready(server.port);
    await pub.send("PUB split 5\r\nhel");
    await new Promise((r) => setTimeout(r, 100));
    await pub.send("lo\r\nPING\r\n");
    assert.equal(noPings(await sub.readUntil("hello\r\n", 10000)), "MSG split 1 5\r\nhello\r\n");
    assert.match(await pub.readUntil("PONG\r\n"), /PONG\r\n$/);
    if (NATSEDGE) {
      let cut = 0;
      await waitFor(async () => (cut = hogs.filter((h) => h.isClosed()).length) >= 1, MS, "a stalled holder closed");
      assert.ok(cut < hogs.length, `${cut} of ${hogs.length} stalled holders closed: only what the split PUB needed`);
      const closed = await get("/connz?state=closed");
      assert.ok(closed.connections.some((c) => c.reason === "Slow Producer (Stalled Message)"),
        JSON.stringify(closed.connections.map((c) => c.reason)));
      for (const h of hogs) assert.doesNotMatch(h.received(), /-ERR/);
    } else {
      for (const h of hogs) assert.equal(h.isClosed(), false);
    }
    assert.equal(sub.isClosed(), false);
    assert.equal(pub.isClosed(), false);
  } finally {
    await server.stop();
  }
});
