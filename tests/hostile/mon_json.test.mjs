// Any client may choose its name, lang, version and subjects: /connz and
// /leafz must stay one valid JSON document whatever bytes those hold (issue
// 13 item 8). Control bytes are escaped as \u00XX, six times their size,
// which once overran the monitoring writer's slack and cut the document
// silently. Each case runs against the broker under test (NATSEDGE_BIN:
// natsedge, or nats-server 2.9.10 in the parity pass), and the whole body
// goes through JSON.parse. IDs: MON-02 (/connz), MON-05 (/leafz), LN-10 (LS+).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { stopAll, rawConnect, brokerKind, waitFor } from "../interop/lib/harness.mjs";
import { startMonitored, getJson } from "./lib/http.mjs";

after(async () => {
  await stopAll();
});

const KIND = brokerKind();
const MS = 5000;

// Every byte below 0x20, quotes and backslashes.
const NASTY = Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)).join("") + '"\\';

// Subject text cannot hold the separators of the protocol line (space, TAB,
// CR, LF) nor, for natsedge, a form feed (differences.md): every other
// control byte (and for odd salts quotes and backslashes too), `len` bytes
// long, in tokens of at most 30 bytes (natsedge's NE_TOKEN_BYTES is 48).
function nastySubject(len, salt) {
  const usable = [...NASTY].filter((c) => !"\t\n\f\r".includes(c) && (salt % 2 === 1 || c.charCodeAt(0) < 0x20));
  let s = `s${salt}`;
  for (let i = 0; s.length < len - 1; i++) s += i % 30 === 0 ? "." : usable[(i + salt) % usable.length];
  return s + "z";
}

// natsedge keeps a subscription's subject, queue and sid in
// NE_SUB_TEXT_BYTES (128 by default): each subject here leaves room for a
// queue name of two bytes and a sid of two.
const SUBJECT_BYTES = 124;

async function handshake(port, connect) {
  const c = await rawConnect(port);
  await c.readUntil("\r\n");
  await c.send(`CONNECT ${JSON.stringify(connect)}\r\n`);
  return c;
}

async function ping(c) {
  await c.send("PING\r\n");
  await c.readUntil("PONG\r\n");
}

test(`/connz?subs=1 and subs=detail with control bytes in subjects, queues and client strings (MON-02) [${KIND}]`, async () => {
  const s = await startMonitored();
  try {
    // Names of natsedge's maximum length (63 bytes) made of control
    // bytes; one far longer (natsedge keeps 63 bytes of it).
    const name63 = NASTY.replace("\0", "").repeat(3).slice(0, 63);
    const c1 = await handshake(s.port, {
      verbose: false, pedantic: false, name: name63, lang: NASTY.slice(1, 16), version: NASTY.slice(16, 31),
    });
    const c2 = await handshake(s.port, {
      verbose: false, pedantic: false, name: NASTY.repeat(8), lang: NASTY, version: NASTY,
    });
    const subjects = [];
    let lines = "";
    for (let i = 0; i < 30; i++) {
      const subject = nastySubject(SUBJECT_BYTES, i);
      subjects.push(subject);
      lines += i % 3 === 0 ? `SUB ${subject} q${i % 10} ${i}\r\n` : `SUB ${subject} ${i}\r\n`;
    }
    await c1.send(lines);
    await ping(c1);
    await ping(c2);
    // More clients, with names of growing length so that their
    // subscriptions start at every offset of the writer's pieces.
    const others = [];
    for (let k = 0; k < 8; k++) {
      const c = await handshake(s.port, { verbose: false, pedantic: false, name: `n${"x".repeat(k * 8)}` });
      await c.send(`SUB ${nastySubject(SUBJECT_BYTES, 100 + 2 * k)} 1\r\nSUB ${nastySubject(SUBJECT_BYTES, 101 + 2 * k)} q 2\r\n`);
      await ping(c);
      others.push(c);
    }
    for (const subs of ["1", "detail"]) {
      const connz = await getJson(s, `/connz?subs=${subs}`);
      const mine = connz.connections.find((c) => c.name === name63);
      assert.ok(mine, `the client named with control bytes is listed (subs=${subs})`);
      assert.equal(mine.lang, NASTY.slice(1, 16));
      assert.equal(mine.version, NASTY.slice(16, 31));
      const listed = subs === "1" ? mine.subscriptions_list : mine.subscriptions_list_detail.map((d) => d.subject);
      assert.deepEqual([...listed].sort(), [...subjects].sort(), `subs=${subs}`);
      if (subs === "detail") {
        const queued = mine.subscriptions_list_detail.filter((d) => d.qgroup !== undefined);
        assert.equal(queued.length, 10);
      }
      assert.equal(connz.connections.length, 10);
      for (const [k, c] of others.entries()) {
        const row = connz.connections.find((r) => r.name === `n${"x".repeat(k * 8)}`);
        const got = subs === "1" ? row.subscriptions_list : row.subscriptions_list_detail.map((d) => d.subject);
        assert.deepEqual(got.sort(), [nastySubject(SUBJECT_BYTES, 100 + 2 * k), nastySubject(SUBJECT_BYTES, 101 + 2 * k)].sort());
        assert.ok(c);
      }
    }
    for (const c of others) c.destroy();
    c1.destroy();
    c2.destroy();
    assert.ok(await c1.closedWithin(MS));
    assert.ok(await c2.closedWithin(MS));
    // The closed ring keeps the strings too.
    await waitFor(async () => (await getJson(s, "/connz?state=closed")).connections.some((c) => c.name === name63),
      MS, "the closed connection in /connz?state=closed");
  } finally {
    await s.stop();
  }
});

test(`/leafz?subs=1 with control bytes in a leaf's interest (MON-05, LN-10) [${KIND}]`, async () => {
  const s = await startMonitored({ ports: ["leaf"], config: (p) => `leafnodes { listen: "127.0.0.1:${p.leaf}" }\n` });
  try {
    const l = await rawConnect(s.ports.leaf);
    await l.readUntil("\r\n");
    await l.send('CONNECT {"server_id":"NHOSTILE","name":"hostile","headers":true}\r\n');
    await l.readUntil(/"connect_info":true.*\r\n/);
    // The hub has handled the whole CONNECT (nats-server sends the INFO above
    // before it registers the leaf).
    await ping(l);
    const subjects = [];
    let lines = "";
    // Short and long ones in turn, so that a long one starts in every
    // part of the writer's piece; control bytes only (even salts), then
    // with quotes and backslashes.
    for (let i = 0; i < 20; i++) {
      const subject = nastySubject(i % 2 === 0 ? 60 : SUBJECT_BYTES, i < 16 ? 2 * i : 2 * i + 1);
      subjects.push(subject);
      lines += `LS+ ${subject}\r\n`;
    }
    await l.send(lines + "PING\r\n");
    await l.readUntil("PONG\r\n");
    const leafz = await getJson(s, "/leafz?subs=1");
    assert.equal(leafz.leafnodes, 1);
    assert.deepEqual([...leafz.leafs[0].subscriptions_list].filter((x) => x.startsWith("s")).sort(), [...subjects].sort());
    l.destroy();
  } finally {
    await s.stop();
  }
});
