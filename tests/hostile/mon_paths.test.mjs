// Every monitoring path nats-server 2.9.10 serves, its aliases and its near
// misses get the same status code from natsedge as from nats-server (issue
// 13 item 10: /subscriptionsz answered 404, its length was hand-counted as
// 14 bytes, which also made "/subscriptions" an alias). JSON endpoints have
// nats-server's top-level keys, and /varz counts the requests under the
// same http_req_stats keys. IDs: MON-01..MON-08.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { stopAll } from "../interop/lib/harness.mjs";
import { startMonitored, get, NATS_SERVER } from "./lib/http.mjs";

let ours;
let ref;

before(async () => {
  ours = await startMonitored();
  ref = await startMonitored({ bin: NATS_SERVER });
});

after(async () => {
  await stopAll();
});

// The paths nats-server registers (server.go, startMonitoring), each once
// with a query.
const SERVED = [
  "/", "/varz", "/connz", "/routez", "/gatewayz", "/leafz", "/subsz", "/subscriptionsz", "/stacksz",
  "/accountz", "/accstatz", "/jsz", "/healthz", "/ipqueuesz",
  "/varz?x=1", "/subscriptionsz?x=1", "/accstatz?unused=1", "/connz?subs=1",
];

// Near misses: a prefix, a longer name, a trailing slash, another case.
const NOT_SERVED = [
  "/subscriptions", "/subscriptionsz/", "/subscriptionszz", "/subsz/", "/varz/", "/Varz", "/varzz",
  "/connz/x", "/index.html", "/nope", "/healthzz", "/leaf", "/leafzz", "/jsz/", "/v",
];

// Keys natsedge omits from a JSON endpoint, each listed in differences.md.
const OMITTED = { "/varz": ["system_account"] };

test("every served path answers as nats-server does: status, type and top-level keys (MON-01..MON-08)", async () => {
  for (const path of SERVED) {
    const a = await get(ours, path);
    const b = await get(ref, path);
    assert.equal(a.status, b.status, `${path}: natsedge ${a.status}, nats-server ${b.status}`);
    assert.equal(a.status, 200, path);
    if (path.startsWith("/stacksz")) continue; // Go's goroutine dump (differences.md)
    assert.equal(a.type.split(";")[0], b.type.split(";")[0], `${path}: content type`);
    if (!b.type.startsWith("application/json")) continue;
    const omitted = OMITTED[path.split("?")[0]] ?? [];
    const ka = Object.keys(JSON.parse(a.text)).filter((k) => !omitted.includes(k));
    const kb = Object.keys(JSON.parse(b.text)).filter((k) => !omitted.includes(k));
    assert.deepEqual({ missing: kb.filter((k) => !ka.includes(k)), extra: ka.filter((k) => !kb.includes(k) && !k.startsWith("natsedge_")) },
      { missing: [], extra: [] }, `${path}: top-level keys`);
  }
});

test("near misses of the served paths answer 404 as on nats-server", async () => {
  for (const path of NOT_SERVED) {
    const a = await get(ours, path);
    const b = await get(ref, path);
    assert.equal(b.status, 404, `nats-server ${path}`);
    assert.equal(a.status, 404, `natsedge ${path}`);
    assert.equal(a.text, "404 page not found\n", path);
  }
});

test("/subscriptionsz is /subsz, counted as /subsz in http_req_stats (MON-03)", async () => {
  for (const s of [ours, ref]) {
    const alias = JSON.parse((await get(s, "/subscriptionsz")).text);
    const plain = JSON.parse((await get(s, "/subsz")).text);
    assert.deepEqual(Object.keys(alias), Object.keys(plain));
  }
  const statsOf = async (s) => JSON.parse((await get(s, "/varz")).text).http_req_stats;
  const [sa, sb] = [await statsOf(ours), await statsOf(ref)];
  assert.deepEqual(Object.keys(sa).sort(), Object.keys(sb).sort(), "the same paths are counted");
  assert.equal(sa["/subsz"], sb["/subsz"], "subsz and its alias count together");
  assert.equal(sa["/subscriptionsz"], undefined);
});
