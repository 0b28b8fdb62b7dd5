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
import { limitsOf, subjectOf as tokensOf, startBroker, assertPoolsIdle, client, varz } from "./lib/limits.mjs";

after(() => stopAll());

// The broker still answers and holds nothing once the clients are gone.
async function stillServing(server, connect = {}) {
  const c = await client(server, connect);
  assert.equal(await c.exchange(""), "");
  c.destroy();
  assert.ok(server.alive(), "the broker is alive");
  await assertPoolsIdle(server);
}

// A raw leaf on the leaf port: INFO read, CONNECT with headers sent.
async function rawLeaf(port) {
  const c = await rawConnect(port);
  await c.readUntil("\r\n");
  await c.send(`CONNECT {"name":"raw-leaf","headers":true,"verbose":false,"pedantic":false}\r\n`);
  return c;
}

// The same cases on the default broker and on the tiny one (NATSEDGE_TINY_BIN,
// config/profiles/tiny.h: what runs on the MCU, with a 512-byte control line,
// 40 bytes of subscription text, 32-byte tokens and a 64-byte import prefix):
// each field at the profile's own limit. In the parity pass both are
// nats-server, the tiny one with the tiny profile's max_control_line,
// max_payload, max_pending and max_connections in its configuration.
for (const profile of ["default", "tiny"]) {
  const L = limitsOf(profile);
  const SID = "i".repeat(L.subText - 1); // the longest sid, on ">"
  const subjectOf = (n, c = "s") => tokensOf(n, c, L.token);
  const on = `[${profile} broker]`;
  // A control line of the limit less two bytes, verb included (4094 bytes
  // on the default broker, the line of issue 13).
  const LINE = L.controlLine - 2;

  test(`HPUB with a ${LINE}-byte control line to a ${SID.length}-byte sid is delivered whole (issue 13 item 1, CP-42) ${on}`, async () => {
    const server = await startBroker(profile);
    const long = await client(server);
    const short = await client(server);
    assert.equal(await long.exchange(`SUB > ${SID}\r\n`), "+OK\r\n");
    assert.equal(await short.exchange(`SUB > 1\r\n`), "+OK\r\n");
    const pub = await client(server);
    const subject = subjectOf(LINE - "HPUB ".length - " 12 14".length);
    assert.equal(await pub.exchange(`HPUB ${subject} 12 14\r\nNATS/1.0\r\n\r\nhi\r\n`), "+OK\r\n");
    assert.equal(await long.exchange(""), `HMSG ${subject} ${SID} 12 14\r\nNATS/1.0\r\n\r\nhi\r\n`);
    assert.equal(await short.exchange(""), `HMSG ${subject} 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n`);
    for (const c of [long, short, pub]) c.destroy();
    await stillServing(server);
    await server.stop();
  });

  // "PUB nobody <reply> 0": the longest reply with "r.>" and the longest sid
  // its subscription text leaves (on the default broker, 4081 and 125 bytes).
  const NR_SID = "i".repeat(L.subText - "r.>".length);
  const NR_REPLY = L.controlLine - "nobody  0".length - 6;
  test(`no responders: a ${NR_REPLY}-byte reply on a ${NR_SID.length}-byte sid gets the whole 503 status (issue 13 item 2, CP-32) ${on}`, async () => {
    const server = await startBroker(profile);
    const c = await client(server, { headers: true, no_responders: true });
    assert.equal(await c.exchange(`SUB r.> ${NR_SID}\r\n`), "+OK\r\n");
    const reply = "r." + "x".repeat(NR_REPLY - 2);
    assert.equal(
      await c.exchange(`PUB nobody ${reply} 0\r\n\r\n`),
      `+OK\r\nHMSG ${reply} ${NR_SID} 16 16\r\nNATS/1.0 503\r\n\r\n\r\n`,
    );
    c.destroy();
    await stillServing(server);
    await server.stop();
  });

  test(`CONNECT with a protocol beyond int64 closes without -ERR, as nats-server's decoder refuses it (issue 13 item 9, CP-22) ${on}`, async () => {
    const server = await startBroker(profile);
    for (const number of ["9999999999999999999", "-9223372036854775809", "1e400", "1.0"]) {
      const c = await client(server, { verbose: false });
      assert.equal(await c.closedWith(`CONNECT {"protocol":${number}}\r\nPING\r\n`), "", number);
    }
    await stillServing(server);
    await server.stop();
  });

  test(`a leaf's HMSG with a long subject reaches a local ${SID.length}-byte sid whole (issue 13 item 1, LN-19, CP-42) ${on}`, async () => {
    const server = await startBroker(profile, (p) => `leafnodes { listen: 127.0.0.1:${p.leaf} }\n`, ["leaf"]);
    const long = await client(server);
    assert.equal(await long.exchange(`SUB > ${SID}\r\n`), "+OK\r\n");
    const leaf = await rawLeaf(server.ports.leaf);
    const subject = subjectOf(LINE - "HMSG ".length - " 12 14".length);
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

  // The longest prefix an import keeps (NE_PERM_SUBJECT_BYTES with its NUL).
  const PREFIX = "p".repeat(L.permSubject - 1);
  test(`a stream import's ${PREFIX.length}-byte prefix on a long subject reaches a ${SID.length}-byte sid whole (issue 13 item 1, CP-85) ${on}`, async () => {
    const config =
      "accounts {\n" +
      "  A: { users: [ { user: a, password: a } ], exports: [ { stream: \">\" } ] }\n" +
      `  B: { users: [ { user: b, password: b } ], imports: [ { stream: { account: A, subject: ">" }, prefix: "${PREFIX}" } ] }\n` +
      "}\n";
    const server = await startBroker(profile, config);
    const sub = await client(server, { user: "b", pass: "b" });
    assert.equal(await sub.exchange(`SUB > ${SID}\r\n`), "+OK\r\n");
    const pub = await client(server, { user: "a", pass: "a" });
    // HPUB <subject> <reply> 12 14: a whole control line of arguments; the
    // import makes the subject longer by the prefix and its dot.
    const subject = subjectOf(Math.floor(L.controlLine / 4));
    const reply = subjectOf(L.controlLine - subject.length - " 12 14".length - 1, "r");
    assert.equal(await pub.exchange(`HPUB ${subject} ${reply} 12 14\r\nNATS/1.0\r\n\r\nhi\r\n`), "+OK\r\n");
    assert.equal(await sub.exchange(""), `HMSG ${PREFIX}.${subject} ${SID} ${reply} 12 14\r\nNATS/1.0\r\n\r\nhi\r\n`);
    sub.destroy();
    pub.destroy();
    await stillServing(server, { user: "b", pass: "b" });
    await server.stop();
  });

  test(`permission violations quote a subject of a whole control line (CP-31, CP-38, CP-30) ${on}`, async () => {
    const config =
      "authorization { users: [ { user: u, password: p, permissions: { publish: \"telemetry.>\", subscribe: \"cmd.sensor\" } } ] }\n";
    const server = await startBroker(profile, config);
    const c = await client(server, { user: "u", pass: "p" });
    const subject = subjectOf(L.controlLine - 2);
    assert.equal(
      await c.exchange(`PUB ${subject} 0\r\n\r\n`),
      `-ERR 'Permissions Violation for Publish to "${subject}"'\r\n`,
    );
    const queue = "q".repeat(Math.min(100, L.subText));
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
}

// The small-limits natsedge writes lines of at most NE_MAX_OUT_LINE_BYTES (a
// control line + 64): a long subject on a long sid is skipped for that one
// subscriber, counted and logged; the short sid still gets it, on both
// delivery paths. nats-server delivers both (differences.md, "Static
// limits").
test("small broker: a line above NE_MAX_OUT_LINE_BYTES is skipped by natsedge for that subscriber only, counted and logged; nats-server delivers it (differences.md: Static limits)", async () => {
  const small = limitsOf("small");
  const SID = "i".repeat(small.subText - 1);
  const subjectOf = (n) => tokensOf(n, "s", small.token);
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
