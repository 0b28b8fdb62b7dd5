// Regression tests for issue 13 items 1, 2 and 9, over raw sockets against
// the real binary: lines the broker writes for a peer's long subject, reply
// and sid (MSG/HMSG from a client, from a leaf, through a stream import's
// prefix; the no-responders status; -ERR texts quoting a subject) come out
// whole, exactly as nats-server writes them, and numbers in CONNECT never
// overflow. On 2505ea0 the HPUB, leaf and import cases crash the broker
// (stack-buffer-overflow in msg_line under ASan, SIGBUS in release), the
// no-responders case overflows send_no_responders' buffer (ASan), and the
// CONNECT case answers 'invalid client protocol' after a signed overflow
// (UBSan). Each test ends with the broker alive and its pools idle. IDs refer
// to shared/reference/nats-inventory.md.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { stopAll, rawConnect, waitFor } from "../interop/lib/harness.mjs";
import { knob, limitsOf, subjectOf, startBroker, assertPoolsIdle, client, varz } from "./lib/limits.mjs";

after(() => stopAll());

const L = limitsOf("default");
const SID = "i".repeat(L.subText - 1); // the longest sid, on ">"

// The broker still answers and holds nothing once the clients are gone.
async function stillServing(server, connect = {}) {
  const c = await client(server, connect);
  assert.equal(await c.exchange(""), "");
  c.destroy();
  assert.ok(server.alive(), "the broker is alive");
  await assertPoolsIdle(server);
}

test("HPUB with a 4094-byte control line to a 127-byte sid is delivered whole (issue 13 item 1, CP-42)", async () => {
  const server = await startBroker("default");
  const long = await client(server);
  const short = await client(server);
  assert.equal(await long.exchange(`SUB > ${SID}\r\n`), "+OK\r\n");
  assert.equal(await short.exchange(`SUB > 1\r\n`), "+OK\r\n");
  const pub = await client(server);
  const subject = subjectOf(4094 - "HPUB ".length - " 12 14".length);
  assert.equal(await pub.exchange(`HPUB ${subject} 12 14\r\nNATS/1.0\r\n\r\nhi\r\n`), "+OK\r\n");
  assert.equal(await long.exchange(""), `HMSG ${subject} ${SID} 12 14\r\nNATS/1.0\r\n\r\nhi\r\n`);
  assert.equal(await short.exchange(""), `HMSG ${subject} 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n`);
  for (const c of [long, short, pub]) c.destroy();
  await stillServing(server);
  await server.stop();
});

test("no responders: a 4081-byte reply on a 125-byte sid gets the whole 503 status (issue 13 item 2, CP-32)", async () => {
  const server = await startBroker("default");
  const c = await client(server, { headers: true, no_responders: true });
  const sid = "i".repeat(125);
  assert.equal(await c.exchange(`SUB r.> ${sid}\r\n`), "+OK\r\n");
  const reply = "r." + "x".repeat(4081 - 2);
  assert.equal(
    await c.exchange(`PUB nobody ${reply} 0\r\n\r\n`),
    `+OK\r\nHMSG ${reply} ${sid} 16 16\r\nNATS/1.0 503\r\n\r\n\r\n`,
  );
  c.destroy();
  await stillServing(server);
  await server.stop();
});

test("CONNECT with a protocol beyond int64 closes without -ERR, as nats-server's decoder refuses it (issue 13 item 9, CP-22)", async () => {
  const server = await startBroker("default");
  for (const number of ["9999999999999999999", "-9223372036854775809", "1e400", "1.0"]) {
    const c = await client(server, { verbose: false });
    assert.equal(await c.closedWith(`CONNECT {"protocol":${number}}\r\nPING\r\n`), "", number);
  }
  await stillServing(server);
  await server.stop();
});

// A raw leaf on the leaf port: INFO read, CONNECT with headers sent.
async function rawLeaf(port) {
  const c = await rawConnect(port);
  await c.readUntil("\r\n");
  await c.send(`CONNECT {"name":"raw-leaf","headers":true,"verbose":false,"pedantic":false}\r\n`);
  return c;
}

test("a leaf's HMSG with a long subject reaches a local 127-byte sid whole (issue 13 item 1, LN-19, CP-42)", async () => {
  const server = await startBroker("default", (p) => `leafnodes { listen: 127.0.0.1:${p.leaf} }\n`, ["leaf"]);
  const long = await client(server);
  assert.equal(await long.exchange(`SUB > ${SID}\r\n`), "+OK\r\n");
  const leaf = await rawLeaf(server.ports.leaf);
  const subject = subjectOf(4094 - "HMSG ".length - " 12 14".length);
  // The leaf's PONG: the broker routed its HMSG; the delivery was queued
  // for the subscriber before the subscriber's own PONG.
  await leaf.send(`HMSG ${subject} 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPING\r\n`);
  await leaf.readUntil("PONG\r\n");
  assert.equal(await long.exchange(""), `HMSG ${subject} ${SID} 12 14\r\nNATS/1.0\r\n\r\nhi\r\n`);
  leaf.destroy();
  long.destroy();
  await waitFor(async () => (await varz(server)).leafnodes === 0, 5000, "the leaf gone");
  await stillServing(server);
  await server.stop();
});

test("a stream import's prefix on a long subject reaches a 127-byte sid whole (issue 13 item 1, CP-85)", async () => {
  // The longest prefix an import keeps (NE_PERM_SUBJECT_BYTES with its NUL).
  const prefix = "p".repeat(knob("NE_PERM_SUBJECT_BYTES") - 1);
  const config =
    "accounts {\n" +
    "  A: { users: [ { user: a, password: a } ], exports: [ { stream: \">\" } ] }\n" +
    `  B: { users: [ { user: b, password: b } ], imports: [ { stream: { account: A, subject: ">" }, prefix: "${prefix}" } ] }\n` +
    "}\n";
  const server = await startBroker("default", config);
  const sub = await client(server, { user: "b", pass: "b" });
  assert.equal(await sub.exchange(`SUB > ${SID}\r\n`), "+OK\r\n");
  const pub = await client(server, { user: "a", pass: "a" });
  // HPUB <subject> <reply> 12 14: 4096 bytes of arguments; the import makes
  // the subject 128 bytes longer.
  const subject = subjectOf(1000);
  const reply = subjectOf(L.controlLine - subject.length - " 12 14".length - 1, "r");
  assert.equal(await pub.exchange(`HPUB ${subject} ${reply} 12 14\r\nNATS/1.0\r\n\r\nhi\r\n`), "+OK\r\n");
  assert.equal(await sub.exchange(""), `HMSG ${prefix}.${subject} ${SID} ${reply} 12 14\r\nNATS/1.0\r\n\r\nhi\r\n`);
  sub.destroy();
  pub.destroy();
  await stillServing(server, { user: "b", pass: "b" });
  await server.stop();
});

test("permission violations quote a subject of a whole control line (CP-31, CP-38, CP-30)", async () => {
  const config =
    "authorization { users: [ { user: u, password: p, permissions: { publish: \"telemetry.>\", subscribe: \"cmd.sensor\" } } ] }\n";
  const server = await startBroker("default", config);
  const c = await client(server, { user: "u", pass: "p" });
  const subject = subjectOf(L.controlLine - 2);
  assert.equal(
    await c.exchange(`PUB ${subject} 0\r\n\r\n`),
    `-ERR 'Permissions Violation for Publish to "${subject}"'\r\n`,
  );
  const queue = "q".repeat(100);
  const sub = subjectOf(L.controlLine - queue.length - 4);
  assert.equal(
    await c.exchange(`SUB ${sub} ${queue} 1\r\n`),
    `-ERR 'Permissions Violation for Subscription to "${sub}" using queue "${queue}"'\r\n`,
  );
  const reply = "_R_." + subjectOf(L.controlLine - "telemetry.x  0".length - 4);
  assert.equal(
    await c.exchange(`PUB telemetry.x ${reply} 0\r\n\r\n`),
    `-ERR 'Permissions Violation for Publish with Reply of "${reply}"'\r\n`,
  );
  c.destroy();
  await stillServing(server, { user: "u", pass: "p" });
  await server.stop();
});

// The small-limits natsedge writes lines of at most NE_MAX_OUT_LINE_BYTES (a
// control line + 64): a long subject on a long sid is skipped for that one
// subscriber, counted and logged; the short sid still gets it, on both
// delivery paths. nats-server delivers both (differences.md, "Static
// limits").
test("small broker: a line above NE_MAX_OUT_LINE_BYTES is skipped by natsedge for that subscriber only, counted and logged; nats-server delivers it (differences.md: Static limits)", async () => {
  const small = limitsOf("small");
  const server = await startBroker("small");
  const long = await client(server);
  const short = await client(server);
  assert.equal(await long.exchange(`SUB > ${SID}\r\n`), "+OK\r\n");
  assert.equal(await short.exchange(`SUB > 1\r\n`), "+OK\r\n");
  const pub = await client(server);
  const subject = subjectOf(small.controlLine - " 12 14".length);
  const hmsg = (sid) => `HMSG ${subject} ${sid} 12 14\r\nNATS/1.0\r\n\r\nhi\r\n`;
  const msg = (sid) => `MSG ${subject} ${sid} 2\r\nhi\r\n`;
  const skipped = server.natsedge;
  if (skipped) {
    assert.ok(hmsg(SID).indexOf("\r\n") + 2 > small.outLine, "the long sid's line is over the limit");
    assert.ok(hmsg("1").indexOf("\r\n") + 2 <= small.outLine, "the short sid's line fits");
  }
  const before = (await varz(server)).natsedge_delivery?.lines_too_long;
  assert.equal(await pub.exchange(`HPUB ${subject} 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPUB ${subject} 2\r\nhi\r\n`), "+OK\r\n+OK\r\n");
  assert.equal(await short.exchange(""), hmsg("1") + msg("1"));
  assert.equal(await long.exchange(""), skipped ? "" : hmsg(SID) + msg(SID));
  if (skipped) {
    assert.equal((await varz(server)).natsedge_delivery.lines_too_long, before + 2);
    // The log says it too (read through a pipe: bounded wait).
    await waitFor(() => /line longer than NE_MAX_OUT_LINE_BYTES \(\d+\) not sent/.test(server.logs()), 5000, "the log line");
  }
  for (const c of [long, short, pub]) c.destroy();
  await stillServing(server);
  await server.stop();
});
