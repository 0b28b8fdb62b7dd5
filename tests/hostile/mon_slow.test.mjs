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
// Each case asserts each broker's side. IDs: MON-01.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { stopAll, rawConnect, sleep, brokerKind } from "../interop/lib/harness.mjs";
import { startMonitored, get } from "./lib/http.mjs";
import { knob } from "./lib/limits.mjs";

after(async () => {
  await stopAll();
});

const KIND = brokerKind();
const isNatsedge = KIND === "natsedge";
const POOL = knob("NE_MAX_HTTP_CONNECTIONS");
const REQUEST_TIMEOUT_MS = knob("NE_HTTP_REQUEST_TIMEOUT_MS");
// natsedge dates a connection by the time of the loop turn before its accept
// and checks deadlines on its 100 ms tick: a deadline close may come up to a
// tick early as measured from the client's connect. Two ticks of slack.
const TICK_SLACK_MS = 200;
// How long the slow clients keep sending: until closed (natsedge, bounded by
// the wait below) or, for a broker that keeps them, a second past natsedge's
// deadline.
const TRICKLE_WAIT_MS = 6 * REQUEST_TIMEOUT_MS;
const TRICKLE_KEPT_MS = REQUEST_TIMEOUT_MS + 1000;
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

test(`clients trickling a request one byte every ${BYTE_EVERY_MS} ms hold every monitoring place: /varz is still served while they send; natsedge closes each without an answer at its request deadline though it never stopped sending, nats-server 2.9.10 keeps them and answers once the request is whole (differences.md: Monitoring connections) [${KIND}]`, async () => {
  const s = await startMonitored();
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

test(`idle connections holding every monitoring place: new requests are served; natsedge closes the oldest idle one for each newcomer and the rest at their deadline, nats-server 2.9.10 keeps them all (differences.md: Monitoring connections) [${KIND}]`, async () => {
  const s = await startMonitored();
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
