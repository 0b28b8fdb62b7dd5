// Boundary suite: every client verb (PUB, HPUB, SUB with and without a
// queue, UNSUB, CONNECT) with each field at its compiled limit, at limit+1,
// and all fields at their limits together, on the default broker
// (NATSEDGE_BIN), the small-limits one (NATSEDGE_SMALL_BIN) and the tiny one
// (NATSEDGE_TINY_BIN, config/profiles/tiny.h: a 512-byte control line, 4 KiB
// payloads, 40 bytes of subscription text, 32-byte tokens and 16 tokens).
// Each case checks the exact bytes on the wire (delivered MSG/HMSG lines,
// +OK, -ERR texts, closes) and that every pool is back to idle after it.
// The limits are read from config/. In the parity pass (NATSEDGE_BIN=
// /usr/sbin/nats-server, the small and tiny brokers with their profile's
// limits in its configuration) the same assertions hold except where a case
// names the differences.md entry and asserts each broker's side. "Nothing
// else arrives" is a PING/PONG barrier on the same connection (exchange()).
// IDs refer to shared/reference/nats-inventory.md.
import { describe, test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { stopAll } from "../interop/lib/harness.mjs";
import { PROFILES, limitsOf, subjectOf as tokensOf, startBroker, assertPoolsIdle, client, varz } from "./lib/limits.mjs";

after(() => stopAll());

const MAX_CONTROL_LINE = "-ERR 'maximum control line exceeded'\r\n";
const MAX_PAYLOAD = "-ERR 'Maximum Payload Violation'\r\n";

// A payload of n bytes (printable, no "PING"/"PONG" in it).
const payload = (n) => "x".repeat(n);

// An HPUB body of total bytes whose header block is hdr bytes:
// "NATS/1.0\r\nX: xxx\r\n\r\n" padded to hdr, then the rest as payload.
function headerBody(hdr, total) {
  if (hdr === 12) return "NATS/1.0\r\n\r\n" + payload(total - hdr);
  const fixed = "NATS/1.0\r\nX: \r\n\r\n".length;
  assert.ok(hdr >= fixed && hdr <= total);
  return "NATS/1.0\r\nX: " + "h".repeat(hdr - fixed) + "\r\n\r\n" + payload(total - hdr);
}

for (const profile of PROFILES) {
  describe(`boundaries on the ${profile} broker`, () => {
    const L = limitsOf(profile);
    // Subjects of n bytes whose tokens fit the profile's NE_TOKEN_BYTES.
    const subjectOf = (n, c = "s") => tokensOf(n, c, L.token);
    let server;

    before(async () => {
      server = await startBroker(profile);
    });

    // Every pool back to idle after each case: its clients are gone (each
    // case closes its own or is closed by the broker).
    afterEach(async () => {
      if (server) await assertPoolsIdle(server);
    });

    after(async () => {
      if (!server) return;
      await server.stop();
    });

    // A subscriber to ">" (sid 1) for the case; closed by the case.
    async function watcher(sid = "1", queue = "") {
      const c = await client(server);
      assert.equal(await c.exchange(`SUB > ${queue ? queue + " " : ""}${sid}\r\n`), "+OK\r\n");
      return c;
    }

    // ---- PUB ------------------------------------------------------------------

    test(`PUB subject at the control line limit is delivered, limit+1 closes (CP-07, CP-25, CP-41)`, async () => {
      const sub = await watcher();
      const pub = await client(server);
      const subject = "p" + subjectOf(L.controlLine - 3); // "<subject> 0"
      assert.equal(`${subject} 0`.length, L.controlLine);
      assert.equal(await pub.exchange(`PUB ${subject} 0\r\n\r\n`), "+OK\r\n");
      assert.equal(await sub.exchange(""), `MSG ${subject} 1 0\r\n\r\n`);
      assert.equal(await pub.closedWith(`PUB ${subject}x 0\r\n\r\n`), MAX_CONTROL_LINE);
      assert.equal(await sub.exchange(""), "");
      sub.destroy();
    });

    test(`PUB reply at the control line limit is delivered, limit+1 closes (CP-07, CP-41)`, async () => {
      const sub = await watcher();
      const pub = await client(server);
      const reply = subjectOf(L.controlLine - "a  0".length, "r");
      assert.equal(`a ${reply} 0`.length, L.controlLine);
      assert.equal(await pub.exchange(`PUB a ${reply} 0\r\n\r\n`), "+OK\r\n");
      assert.equal(await sub.exchange(""), `MSG a 1 ${reply} 0\r\n\r\n`);
      assert.equal(await pub.closedWith(`PUB a ${reply}r 0\r\n\r\n`), MAX_CONTROL_LINE);
      sub.destroy();
    });

    test(`PUB payload at max_payload is delivered intact, max_payload+1 closes (CP-28)`, async () => {
      const sub = await watcher();
      const pub = await client(server);
      const body = payload(L.maxPayload);
      assert.equal(await pub.exchange(`PUB big ${L.maxPayload}\r\n${body}\r\n`, 30000), "+OK\r\n");
      assert.equal(await sub.exchange("", 30000), `MSG big 1 ${L.maxPayload}\r\n${body}\r\n`);
      assert.equal(await pub.closedWith(`PUB big ${L.maxPayload + 1}\r\n`), MAX_PAYLOAD);
      assert.equal(await sub.exchange(""), "");
      sub.destroy();
    });

    // ---- HPUB -----------------------------------------------------------------

    test(`HPUB with its header as large as max_payload is delivered, a total of max_payload+1 closes (CP-26, CP-28, CP-42)`, async () => {
      const sub = await watcher();
      const pub = await client(server);
      const body = headerBody(L.maxPayload, L.maxPayload);
      const hpub = `HPUB h ${L.maxPayload} ${L.maxPayload}\r\n${body}\r\n`;
      assert.equal(await pub.exchange(hpub, 30000), "+OK\r\n");
      assert.equal(await sub.exchange("", 30000), `HMSG h 1 ${L.maxPayload} ${L.maxPayload}\r\n${body}\r\n`);
      assert.equal(await pub.closedWith(`HPUB h 16 ${L.maxPayload + 1}\r\n`), MAX_PAYLOAD);
      sub.destroy();
    });

    test(`HPUB with a header larger than its total closes without -ERR (CP-06, CP-26)`, async () => {
      const pub = await client(server);
      assert.equal(await pub.closedWith(`HPUB h 17 16\r\n`), "");
    });

    test(`HPUB subject at the control line limit is delivered, limit+1 closes (CP-07, CP-42)`, async () => {
      const sub = await watcher();
      const pub = await client(server);
      const subject = subjectOf(L.controlLine - " 12 14".length);
      const body = headerBody(12, 14);
      assert.equal(await pub.exchange(`HPUB ${subject} 12 14\r\n${body}\r\n`), "+OK\r\n");
      // On the small broker this line is longer than its NE_MAX_OUT_LINE_BYTES
      // only with a long sid (writers.test.mjs); sid 1 fits.
      assert.equal(await sub.exchange(""), `HMSG ${subject} 1 12 14\r\n${body}\r\n`);
      assert.equal(await pub.closedWith(`HPUB ${subject}s 12 14\r\n`), MAX_CONTROL_LINE);
      sub.destroy();
    });

    // ---- SUB ------------------------------------------------------------------

    // natsedge keeps a subscription's subject, queue and sid in
    // NE_SUB_TEXT_BYTES, its tokens within NE_TOKEN_BYTES each and
    // NE_MAX_SUBJECT_TOKENS in all; one byte or token more is refused with
    // 'Invalid Subject' where nats-server has no limit (differences.md,
    // "Static limits").
    const invalidSubjectOnNatsedge = () => (server.natsedge ? "-ERR 'Invalid Subject'\r\n" : "+OK\r\n");

    test(`SUB subject and sid at NE_SUB_TEXT_BYTES receive, one byte more is refused by natsedge, taken by nats-server (CP-33, differences.md: Static limits)`, async () => {
      const sub = await client(server);
      const pub = await client(server);
      const sid = "sid";
      const subject = subjectOf(L.subText - sid.length);
      assert.equal(await sub.exchange(`SUB ${subject} ${sid}\r\n`), "+OK\r\n");
      assert.equal(await pub.exchange(`PUB ${subject} 2\r\nhi\r\n`), "+OK\r\n");
      assert.equal(await sub.exchange(""), `MSG ${subject} ${sid} 2\r\nhi\r\n`);
      assert.equal(await sub.exchange(`SUB ${subject}s ${sid}2\r\n`), invalidSubjectOnNatsedge());
      sub.destroy();
      pub.destroy();
    });

    test(`SUB with a queue, subject, queue and sid at NE_SUB_TEXT_BYTES receive, one byte more is refused by natsedge, taken by nats-server (CP-33, CP-58, differences.md: Static limits)`, async () => {
      const sub = await client(server);
      const pub = await client(server);
      const queue = "q".repeat(Math.floor(L.subText / 2));
      const subject = subjectOf(L.subText - queue.length - 1);
      assert.equal(await sub.exchange(`SUB ${subject} ${queue} 1\r\n`), "+OK\r\n");
      assert.equal(await pub.exchange(`PUB ${subject} 2\r\nhi\r\n`), "+OK\r\n");
      assert.equal(await sub.exchange(""), `MSG ${subject} 1 2\r\nhi\r\n`);
      assert.equal(await sub.exchange(`SUB ${subject} ${queue}q 2\r\n`), invalidSubjectOnNatsedge());
      sub.destroy();
      pub.destroy();
    });

    test(`SUB sid at NE_SUB_TEXT_BYTES receives, one byte more is refused by natsedge, taken by nats-server (CP-33, differences.md: Static limits)`, async () => {
      const sub = await client(server);
      const pub = await client(server);
      const sid = "i".repeat(L.subText - 1);
      assert.equal(await sub.exchange(`SUB > ${sid}\r\n`), "+OK\r\n");
      assert.equal(await pub.exchange(`PUB a.b 2\r\nhi\r\n`), "+OK\r\n");
      assert.equal(await sub.exchange(""), `MSG a.b ${sid} 2\r\nhi\r\n`);
      assert.equal(await sub.exchange(`SUB > ${sid}i\r\n`), invalidSubjectOnNatsedge());
      sub.destroy();
      pub.destroy();
    });

    test(`SUB at the control line limit is refused by natsedge (above NE_SUB_TEXT_BYTES), taken by nats-server; limit+1 closes on both (CP-07, CP-33, differences.md: Static limits)`, async () => {
      const sub = await client(server);
      const subject = subjectOf(L.controlLine - 2);
      assert.equal(await sub.exchange(`SUB ${subject} 1\r\n`), invalidSubjectOnNatsedge());
      assert.equal(await sub.closedWith(`SUB ${subject}s 1\r\n`), MAX_CONTROL_LINE);
    });

    test(`SUB with a token of NE_TOKEN_BYTES and with NE_MAX_SUBJECT_TOKENS tokens receive, one more byte or token is refused by natsedge, taken by nats-server; a PUB beyond both reaches > and t.> on both (CP-25, CP-33, differences.md: Static limits)`, async () => {
      const long = "a".repeat(L.token);
      const deep = Array(L.tokens).fill("t").join(".");
      // Each fits the subscription text: it is the token that is refused.
      assert.ok(`${long}a 2`.length <= L.subText + 1 && `${deep}.t 2`.length <= L.subText + 1);
      const wide = await client(server); // the long token
      const tall = await client(server); // the many tokens
      const all = await watcher(); // >
      const under = await client(server); // t.>
      assert.equal(await wide.exchange(`SUB ${long} 1\r\n`), "+OK\r\n");
      assert.equal(await wide.exchange(`SUB ${long}a 2\r\n`), invalidSubjectOnNatsedge());
      assert.equal(await tall.exchange(`SUB ${deep} 1\r\n`), "+OK\r\n");
      assert.equal(await tall.exchange(`SUB ${deep}.t 2\r\n`), invalidSubjectOnNatsedge());
      assert.equal(await under.exchange(`SUB t.> 1\r\n`), "+OK\r\n");
      const pub = await client(server);
      const subjects = [long, `${long}a`, deep, `${deep}.t`];
      assert.equal(await pub.exchange(subjects.map((x) => `PUB ${x} 1\r\nx\r\n`).join("")), "+OK\r\n".repeat(4));
      const msg = (subject, sid) => `MSG ${subject} ${sid} 1\r\nx\r\n`;
      const takesAll = !server.natsedge; // nats-server kept the second subscriptions
      assert.equal(await wide.exchange(""), msg(long, 1) + (takesAll ? msg(`${long}a`, 2) : ""));
      assert.equal(await tall.exchange(""), msg(deep, 1) + (takesAll ? msg(`${deep}.t`, 2) : ""));
      assert.equal(await all.exchange(""), subjects.map((x) => msg(x, 1)).join(""));
      assert.equal(await under.exchange(""), msg(deep, 1) + msg(`${deep}.t`, 1));
      for (const c of [wide, tall, all, under, pub]) c.destroy();
    });

    // ---- UNSUB ----------------------------------------------------------------

    test(`UNSUB with a sid at the control line limit is answered, limit+1 closes (CP-07, CP-39)`, async () => {
      const c = await client(server);
      const sid = "u".repeat(L.controlLine);
      assert.equal(await c.exchange(`UNSUB ${sid}\r\n`), "+OK\r\n"); // an unknown sid
      assert.equal(await c.closedWith(`UNSUB ${sid}u\r\n`), MAX_CONTROL_LINE);
    });

    // nats-server reads sizes and UNSUB's maximum as at most 9 digits.
    test(`UNSUB max_msgs of 9 digits is a maximum, of 10 digits none: the subscription goes at once (CP-39)`, async () => {
      const c = await client(server);
      const pub = await client(server);
      assert.equal(await c.exchange(`SUB a 1\r\nUNSUB 1 999999999\r\n`), "+OK\r\n+OK\r\n");
      assert.equal(await pub.exchange(`PUB a 1\r\nx\r\n`), "+OK\r\n");
      assert.equal(await c.exchange(""), "MSG a 1 1\r\nx\r\n");
      assert.equal(await c.exchange(`UNSUB 1 1000000000\r\n`), "+OK\r\n");
      assert.equal(await pub.exchange(`PUB a 1\r\nx\r\n`), "+OK\r\n");
      assert.equal(await c.exchange(""), "");
      c.destroy();
      pub.destroy();
    });

    test(`PUB and HPUB sizes of 9 digits are sizes, of 10 digits close without -ERR (CP-06, CP-28)`, async () => {
      const a = await client(server);
      assert.equal(await a.exchange(`PUB a 000000001\r\nx\r\n`), "+OK\r\n");
      assert.equal(await a.closedWith(`PUB a 0000000001\r\nx\r\n`), "");
      const b = await client(server);
      assert.equal(await b.closedWith(`PUB a 999999999\r\n`), MAX_PAYLOAD);
      const c = await client(server);
      assert.equal(await c.closedWith(`HPUB a 12 1000000000\r\n`), "");
    });

    // ---- CONNECT --------------------------------------------------------------

    test(`CONNECT at the control line limit is taken, limit+1 closes (CP-07, CP-15)`, async () => {
      const base = { verbose: true, pedantic: false, protocol: 0, name: "" };
      const pad = L.controlLine - JSON.stringify(base).length;
      const json = JSON.stringify({ ...base, name: "n".repeat(pad) });
      assert.equal(json.length, L.controlLine);
      const ok = await client(server, { verbose: false });
      assert.equal(await ok.exchange(`CONNECT ${json}\r\n`), "+OK\r\n");
      ok.destroy();
      const over = await client(server, { verbose: false });
      const longer = JSON.stringify({ ...base, name: "n".repeat(pad + 1) });
      assert.equal(await over.closedWith(`CONNECT ${longer}\r\n`), MAX_CONTROL_LINE);
    });

    test(`CONNECT protocol at int64's largest is 'invalid client protocol', one more closes without -ERR (CP-18, CP-22)`, async () => {
      const a = await client(server, { verbose: false });
      assert.equal(await a.closedWith(`CONNECT {"protocol":9223372036854775807}\r\n`), "-ERR 'invalid client protocol'\r\n");
      const b = await client(server, { verbose: false });
      assert.equal(await b.closedWith(`CONNECT {"protocol":9223372036854775808}\r\n`), "");
    });

    // ---- Everything at once ---------------------------------------------------

    test(`HPUB with subject, reply, header and payload at their limits to subscriptions at theirs; the small natsedge skips the long sid's line above NE_MAX_OUT_LINE_BYTES and counts it (CP-42, CP-58, differences.md: Static limits)`, async () => {
      const longSid = "i".repeat(L.subText - 1);
      const queue = "q".repeat(L.subText - 3);
      const long = await watcher(longSid);
      const grouped = await watcher("2", queue);
      const short = await watcher("3");
      const pub = await client(server);
      const sizes = ` ${L.maxPayload} ${L.maxPayload}`;
      const room = L.controlLine - sizes.length; // subject + " " + reply
      const subject = subjectOf(Math.floor(room / 2), "s");
      const reply = subjectOf(room - subject.length - 1, "r");
      assert.equal(`${subject} ${reply}${sizes}`.length, L.controlLine);
      const body = headerBody(L.maxPayload, L.maxPayload);
      const before = (await varz(server)).natsedge_delivery?.lines_too_long;
      assert.equal(await pub.exchange(`HPUB ${subject} ${reply}${sizes}\r\n${body}\r\n`, 30000), "+OK\r\n");
      const delivered = (sid) => `HMSG ${subject} ${sid} ${reply}${sizes}\r\n${body}\r\n`;
      assert.equal(await short.exchange("", 30000), delivered("3"));
      assert.equal(await grouped.exchange("", 30000), delivered("2"));
      // The long sid's line: the control line, the sid and the verb. The
      // small natsedge's NE_MAX_OUT_LINE_BYTES is shorter: skipped for that
      // subscriber only, and counted (differences.md, "Static limits").
      const line = `HMSG ${subject} ${longSid} ${reply}${sizes}\r\n`.length;
      const skipped = server.natsedge && line > L.outLine;
      assert.equal(await long.exchange("", 30000), skipped ? "" : delivered(longSid));
      if (server.natsedge) {
        assert.equal(skipped, profile === "small");
        assert.equal((await varz(server)).natsedge_delivery.lines_too_long, before + (skipped ? 1 : 0));
      }
      for (const c of [long, grouped, short, pub]) c.destroy();
    });
  });
}
