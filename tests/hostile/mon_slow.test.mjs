// Slow and idle clients on the monitoring port (issue 13 item 7, and the
// exhaustion of its connection pool): natsedge serves NE_MAX_HTTP_CONNECTIONS
// (4) monitoring connections at once. A request must arrive whole within
// NE_HTTP_REQUEST_TIMEOUT_MS (5 s, nats-server 2.11's ReadHeaderTimeout;
// 2.9.10 has none, differences.md) however its bytes trickle in, and when
// all four places are held by clients that have not sent their request, a
// new client takes the place of the oldest of them: the hostile peer is the
// one refused, everyone else is monitored. Cases that need no natsedge
// limit run against nats-server 2.9.10 too. IDs: MON-01.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { stopAll, rawConnect, sleep, kindOf } from "../interop/lib/harness.mjs";
import { startMonitored, get, NATS_SERVER } from "./lib/http.mjs";

after(async () => {
  await stopAll();
});

const BROKERS = [...new Set([process.env.NATSEDGE_BIN, NATS_SERVER])];
const POOL = 4; // NE_MAX_HTTP_CONNECTIONS of the default build
const REQUEST_TIMEOUT_MS = 5000; // NE_HTTP_REQUEST_TIMEOUT_MS

// A monitoring request answered within 3 s, before any slow client's
// deadline could have freed a place.
async function varzServed(s) {
  const r = await get(s, "/varz", 3000);
  assert.equal(r.status, 200);
  return JSON.parse(r.text);
}

for (const bin of BROKERS) {
  const kind = kindOf(bin);
  test(`clients trickling a request one byte at a time do not keep /varz from being served [${kind}]`, async () => {
    const s = await startMonitored({ bin });
    try {
      const slow = [];
      for (let i = 0; i < POOL; i++) slow.push(await rawConnect(s.mport));
      const request = "GET /varz HTTP/1.1\r\nHost: x\r\nX-Slow: " + "z".repeat(40);
      let sent = 0;
      let stop = false;
      const trickle = (async () => {
        while (!stop && sent < request.length) {
          for (const c of slow) await c.send(request[sent]);
          sent++;
          await sleep(250);
        }
      })();
      try {
        // Twelve requests while the slow clients keep sending, each served.
        for (let i = 0; i < 12; i++) {
          await varzServed(s);
          await sleep(250);
        }
      } finally {
        stop = true;
        await trickle;
      }
      if (kind === "natsedge") {
        // Each slow client is cut off at its deadline, without an answer,
        // although it never stopped sending.
        for (const c of slow) {
          assert.ok(await c.closedWithin(REQUEST_TIMEOUT_MS + 3000), "slow client closed at its deadline");
          assert.equal(await c.readAll(0), "", "no answer to an incomplete request");
        }
      }
      for (const c of slow) c.destroy();
    } finally {
      await s.stop();
    }
  });

  test(`idle connections holding every monitoring place: a new request is served, the oldest idle one goes [${kind}]`, async () => {
    const s = await startMonitored({ bin });
    try {
      const idle = [];
      for (let i = 0; i < 2 * POOL; i++) {
        idle.push(await rawConnect(s.mport));
        await sleep(20); // accepted in this order
      }
      await sleep(200);
      if (kind === "natsedge") {
        // Each connection beyond the pool took the place of the oldest.
        for (let i = 0; i < POOL; i++) assert.ok(await idle[i].closedWithin(2000), `idle ${i} closed for a newer one`);
        for (let i = POOL; i < 2 * POOL; i++) assert.ok(!idle[i].isClosed(), `idle ${i} still open`);
      }
      const v = await varzServed(s);
      assert.ok(v.server_id);
      if (kind === "natsedge") {
        assert.ok(await idle[POOL].closedWithin(2000), "the oldest idle connection made room");
        for (let i = POOL + 1; i < 2 * POOL; i++) assert.ok(!idle[i].isClosed(), `idle ${i} still open`);
      }
      // And again, as often as asked.
      for (let i = 0; i < 8; i++) await varzServed(s);
      // A request already under way when the pool fills is answered.
      const partial = await rawConnect(s.mport);
      await partial.send("GET /healthz HTTP/1.1\r\nHost: x\r\n");
      await sleep(50);
      await partial.send("\r\n");
      assert.match(await partial.readUntil("}", 3000), /^HTTP\/1\.1 200 OK\r\n[\s\S]*\{"status":"ok"\}$/);
      for (const c of idle) c.destroy();
    } finally {
      await s.stop();
    }
  });
}
