// Slow and idle clients on the monitoring port (issue 13 item 7, and the
// exhaustion of its connection pool), against the broker under test
// (NATSEDGE_BIN: natsedge, or nats-server 2.9.10 in the parity pass).
// natsedge serves NE_MAX_HTTP_CONNECTIONS (4) monitoring connections at once;
// a request must arrive whole within NE_HTTP_REQUEST_TIMEOUT_MS (5 s,
// nats-server 2.11's ReadHeaderTimeout) of the connection however its bytes
// trickle in, and when every place is held by a connection that has not sent
// its request, a new connection takes the place of the oldest of them: the
// hostile peer is the one refused, everyone else is monitored. nats-server
// 2.9.10 has neither limit: it keeps every such connection and answers its
// request whenever it is whole (differences.md: "Monitoring connections").
// Each case asserts each broker's side. The idle connections also run on
// the tiny broker (NATSEDGE_TINY_BIN, config/profiles/tiny.h: the same 4
// places and 5 s, out of 8 connection slots it shares with clients and
// leafs; in the parity pass nats-server with the tiny limits in its
// configuration), with a tiny case of its own: clients in half the slots.
// IDs: MON-01.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { stopAll, rawConnect, sleep, brokerKind } from "../interop/lib/harness.mjs";
import { startMonitored, get } from "./lib/http.mjs";
import { knob, headerOf } from "./lib/limits.mjs";

after(async () => {
  await stopAll();
});

const KIND = brokerKind();
const isNatsedge = KIND === "natsedge";
// natsedge dates a connection by the time of the loop turn before its accept
// and checks deadlines on its 100 ms tick: a deadline close may come up to a
// tick early as measured from the client's connect. Two ticks of slack.
const TICK_SLACK_MS = 200;
const BYTE_EVERY_MS = 250;

// A monitoring connection that records when it connected and when it was
// closed (ms since its connect).
async function monConn(s) {
  const c = await rawConnect(s.mport);
  const t0 = Date.now();
  c.closedAfterMs = null;
  c.closed().then(() => (c.closedAfterMs = Date.now() - t0));
  return c;
}

async function varzServed(s) {
  const r = await get(s, "/varz", 10000);
  assert.equal(r.status, 200);
  return JSON.parse(r.text);
}

// Completes the request `head` of which `c` has sent `sent` bytes (the rest
// of its line, then the blank line that ends the header block) and reads the
// answer's status line and headers.
async function completeAndRead(c, head, sent) {
  await c.send(head.slice(sent) + "\r\n\r\n");
  return c.readUntil("\r\n\r\n", 5000);
}

// The warnings natsedge logs when it closes the oldest waiting connection
// for a new one (checked in addition to the closes seen on the wire).
const evictions = (s) => (s.logs().match(/Monitoring connections all busy/g) ?? []).length;

for (const profile of ["default", "tiny"]) {
  const POOL = knob("NE_MAX_HTTP_CONNECTIONS", headerOf(profile));
  const REQUEST_TIMEOUT_MS = knob("NE_HTTP_REQUEST_TIMEOUT_MS", headerOf(profile));
  // How long the slow clients keep sending: until closed (natsedge, bounded
  // by the wait below) or, for a broker that keeps them, a second past
  // natsedge's deadline.
  const TRICKLE_WAIT_MS = 6 * REQUEST_TIMEOUT_MS;
  const TRICKLE_KEPT_MS = REQUEST_TIMEOUT_MS + 1000;
  const monitoredBroker = () => startMonitored({ tiny: profile === "tiny" });
  const on = `[${KIND}, ${profile} broker]`;

  // The request deadline is the same code on every build: the trickle runs
  // on the default broker only (it takes the deadline's 5 s and more).
  // The places, which the tiny build shares with its clients, are the idle
  // case's subject, run on both.
  if (profile === "default") {
    test(`clients trickling a request one byte every ${BYTE_EVERY_MS} ms hold every monitoring place: /varz is still served while they send; natsedge closes each without an answer at its request deadline though it never stopped sending, nats-server 2.9.10 keeps them and answers once the request is whole (differences.md: Monitoring connections) ${on}`, async () => {
      const s = await monitoredBroker();
      try {
        const slow = [];
        for (let i = 0; i < POOL; i++) slow.push(await monConn(s));
        // The trickle is the subject of the test: one more byte of the header
        // block to every open slow client every BYTE_EVERY_MS, never the blank
        // line that ends it, until they are all closed or the time is up.
        const head = "GET /varz HTTP/1.1\r\nHost: x\r\nX-Slow: ";
        const limit = isNatsedge ? TRICKLE_WAIT_MS : TRICKLE_KEPT_MS;
        const start = Date.now();
        let sent = 0;
        const trickle = (async () => {
          for (; Date.now() - start < limit && slow.some((c) => !c.isClosed()); sent++) {
            for (const c of slow) if (!c.isClosed()) await c.send(sent < head.length ? head[sent] : "z");
            await sleep(BYTE_EVERY_MS);
          }
        })();
        // Requests while the slow clients keep sending, each served.
        for (let i = 0; i < 4; i++) assert.ok((await varzServed(s)).server_id);
        if (isNatsedge) {
          // The first request took the place of the oldest slow client.
          assert.ok(await slow[0].closedWithin(5000), "the oldest slow client made room");
        }
        await trickle;
        if (isNatsedge) {
          for (const [i, c] of slow.entries()) {
            assert.ok(c.isClosed(), `slow client ${i} closed while it was still sending`);
            assert.equal(c.received(), "", `no answer to slow client ${i}'s incomplete request`);
          }
          // The others went at their deadline, not before: none of the four
          // requests needed their places.
          for (const c of slow.slice(1)) {
            assert.ok(c.closedAfterMs >= REQUEST_TIMEOUT_MS - TICK_SLACK_MS, `closed ${c.closedAfterMs} ms after its connect`);
          }
          assert.equal(evictions(s), 1, "one eviction logged");
        } else {
          for (const [i, c] of slow.entries()) {
            assert.ok(!c.isClosed(), `slow client ${i} kept`);
            assert.match(await completeAndRead(c, head, sent), /^HTTP\/1\.1 200 OK\r\n/, `slow client ${i} answered`);
          }
        }
        for (const c of slow) c.destroy();
      } finally {
        await s.stop();
      }
    });
  }

  test(`idle connections holding every monitoring place: new requests are served; natsedge closes the oldest idle one for each newcomer and the rest at their deadline, nats-server 2.9.10 keeps them all (differences.md: Monitoring connections) ${on}`, async () => {
    const s = await monitoredBroker();
    try {
      // Connected one after the other, so accepted in this order (the
      // listener's queue is first come, first served).
      const idle = [];
      for (let i = 0; i < 2 * POOL; i++) idle.push(await monConn(s));
      if (isNatsedge) {
        // Each connection beyond the pool took the place of the oldest.
        for (let i = 0; i < POOL; i++) assert.ok(await idle[i].closedWithin(5000), `idle ${i} closed for a newer one`);
      }
      assert.ok((await varzServed(s)).server_id);
      if (isNatsedge) assert.ok(await idle[POOL].closedWithin(5000), "the oldest idle connection made room");
      // And again, as often as asked: each later request finds a free place.
      for (let i = 0; i < 8; i++) await varzServed(s);
      // A request that arrives in two pieces, a pause between them (the
      // subject of this step, not a wait), is answered.
      const partial = await monConn(s);
      await partial.send("GET /healthz HTTP/1.1\r\nHost: x\r\n");
      await sleep(50);
      await partial.send("\r\n");
      assert.match(await partial.readUntil("}", 5000), /^HTTP\/1\.1 200 OK\r\n[\s\S]*\{"status":"ok"\}$/);
      if (isNatsedge) {
        // The rest were kept until their deadline: the requests since took
        // free places.
        for (let i = POOL + 1; i < 2 * POOL; i++) {
          assert.ok(await idle[i].closedWithin(REQUEST_TIMEOUT_MS + 5000), `idle ${i} closed at its deadline`);
          assert.ok(idle[i].closedAfterMs >= REQUEST_TIMEOUT_MS - TICK_SLACK_MS, `idle ${i} closed ${idle[i].closedAfterMs} ms after its connect`);
        }
        for (const [i, c] of idle.entries()) assert.equal(c.received(), "", `no answer to idle ${i}`);
        assert.equal(evictions(s), POOL + 1, "an eviction logged for each");
      } else {
        // Every one is still open: a request sent on it now is answered.
        for (const [i, c] of idle.entries()) {
          assert.match(await completeAndRead(c, "GET /healthz HTTP/1.1\r\nHost: x", 0), /^HTTP\/1\.1 200 OK\r\n/, `idle ${i} answered`);
        }
      }
      for (const c of idle) c.destroy();
    } finally {
      await s.stop();
    }
  });
}

// The tiny build keeps no connection slots of its own for monitoring
// (NE_RESERVED_CONNECTIONS 0): its 8 slots serve clients, leafs and
// monitoring alike. With clients in half of them and idle monitoring
// connections in the rest, a request must still take the place of the
// oldest idle one (docs/monitoring.md), as nats-server, which has no such
// pool, answers it.
const TINY_SLOTS = knob("NE_MAX_CONNECTIONS", "tiny");
const TINY_POOL = knob("NE_MAX_HTTP_CONNECTIONS", "tiny");
test(`tiny: ${TINY_SLOTS - TINY_POOL} clients and ${TINY_POOL} idle monitoring connections fill the 8 shared slots; a /varz request takes the place of the oldest idle one and is answered (MON-01, differences.md: Monitoring connections) [${KIND}, tiny broker]`, async () => {
  const s = await startMonitored({ tiny: true });
  try {
    const clients = [];
    for (let i = 0; i < TINY_SLOTS - TINY_POOL; i++) {
      const c = await rawConnect(s.port);
      await c.readUntil("\r\n");
      await c.send('CONNECT {"verbose":false,"pedantic":false}\r\nPING\r\n');
      await c.readUntil("PONG\r\n");
      clients.push(c);
    }
    const idle = [];
    for (let i = 0; i < TINY_POOL; i++) idle.push(await monConn(s));
    const varz = await varzServed(s);
    assert.equal(varz.connections, clients.length);
    if (isNatsedge) {
      assert.ok(await idle[0].closedWithin(5000), "the oldest idle connection made room");
      for (const c of idle.slice(1)) assert.equal(c.isClosed(), false);
      assert.equal(evictions(s), 1, "one eviction logged");
    } else {
      for (const c of idle) assert.equal(c.isClosed(), false);
    }
    // The clients were not disturbed.
    for (const c of clients) {
      await c.send("PING\r\n");
      await c.readUntil("PONG\r\n");
    }
    for (const c of [...clients, ...idle]) c.destroy();
  } finally {
    await s.stop();
  }
});
