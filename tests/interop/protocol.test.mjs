// The NATS client protocol byte by byte over raw TCP (IOP-01), against the
// broker in NATSEDGE_BIN. Expected bytes are nats-server 2.9.10's; where
// natsedge deliberately differs, differences.md says so. CP-xx are the facts
// of shared/reference/nats-inventory.md section 1.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, stopAll, rawConnect, rawHandshake, parseInfo, sleep } from "./lib/harness.mjs";

let server;
const QUIET = { verbose: false, pedantic: false };

before(async () => {
  server = await startServer();
});

after(async () => {
  await stopAll();
});

// A raw connection past INFO, with `connect` sent as CONNECT (null: none).
async function open(connect = QUIET) {
  const { client } = await rawHandshake(server.port, connect);
  return client;
}

// Sends `data` then PING, returns everything before the PONG.
async function roundTrip(c, data, ms = 3000) {
  await c.send(data + "PING\r\n");
  const got = await c.readUntil("PONG\r\n", ms);
  return got.slice(0, -"PONG\r\n".length);
}

// The connection is closed within `ms`; returns what arrived before the close.
async function closedWith(c, ms = 3000) {
  assert.ok(await c.closedWithin(ms), `expected the server to close; got ${JSON.stringify(c.received().slice(-300))}`);
  return c.readAll(0);
}

async function subscriber(subject, sid = 1, connect = QUIET) {
  const c = await open(connect);
  assert.equal(await roundTrip(c, `SUB ${subject} ${sid}\r\n`), "");
  return c;
}

test("INFO is one line 'INFO {json}' with the fields clients read (CP-10)", async () => {
  const c = await rawConnect(server.port);
  const line = await c.readUntil("\r\n");
  assert.match(line, /^INFO \{.*\} ?\r\n$/);
  const info = parseInfo(line);
  for (const k of ["server_id", "server_name", "version", "proto", "go", "host", "port", "headers", "max_payload", "client_id", "client_ip"]) {
    assert.ok(k in info, `INFO has ${k}: ${line}`);
  }
  assert.match(info.server_id, /^N[A-Z2-7]{55}$/);
  assert.equal(typeof info.server_name, "string");
  assert.equal(typeof info.version, "string");
  assert.equal(typeof info.go, "string");
  assert.equal(info.proto, 1);
  assert.equal(info.host, "127.0.0.1");
  assert.equal(info.port, server.port);
  assert.equal(info.headers, true);
  assert.ok(Number.isInteger(info.max_payload) && info.max_payload > 0);
  assert.ok(Number.isInteger(info.client_id) && info.client_id > 0);
  assert.equal(info.client_ip, "127.0.0.1");
  for (const k of ["auth_required", "tls_required", "nonce"]) assert.ok(!info[k], `no ${k} without auth/TLS`);
  const c2 = await rawConnect(server.port);
  const info2 = parseInfo(await c2.readUntil("\r\n"));
  assert.ok(info2.client_id > info.client_id, "client ids increase");
  assert.equal(info2.server_id, info.server_id);
  c.destroy();
  c2.destroy();
});

test("CONNECT {} answers +OK: verbose and pedantic default on (CP-16, CP-21)", async () => {
  const c = await open({});
  assert.equal(await c.readUntil("\r\n"), "+OK\r\n");
  c.destroy();
});

test("no CONNECT at all: SUB and PUB work with verbose +OK (CP-17)", async () => {
  const c = await open(null);
  const got = await roundTrip(c, "SUB nocon 1\r\nPUB nocon 2\r\nhi\r\n");
  assert.equal(got, "+OK\r\n+OK\r\nMSG nocon 1 2\r\nhi\r\n");
  c.destroy();
});

test("verbose: +OK after CONNECT, SUB, PUB, UNSUB and UNSUB of an unknown sid; none after PING/PONG (CP-21, CP-39)", async () => {
  const c = await open({ verbose: true, pedantic: false });
  await c.send("SUB vb 1\r\nPUB vb 0\r\n\r\nUNSUB 1\r\nUNSUB 99\r\nPONG\r\nPING\r\n");
  const got = await c.readUntil("PONG\r\n");
  assert.equal(got, "+OK\r\n+OK\r\n+OK\r\nMSG vb 1 0\r\n\r\n+OK\r\n+OK\r\nPONG\r\n");
  c.destroy();
});

// nats-server 2.9 still delivers the message after the -ERR; natsedge drops it
// (differences.md, inventory QRK-07). The error and the open connection are the same.
test("pedantic (the CONNECT {} default): PUB to a wildcard subject gets -ERR 'Invalid Publish Subject' (CP-16, CP-29, QRK-07)", async () => {
  const s = await subscriber("ped.*");
  const c = await open({ verbose: false });
  const got = await roundTrip(c, "PUB ped.* 2\r\nhi\r\n");
  assert.equal(got, "-ERR 'Invalid Publish Subject'\r\n");
  assert.equal(c.isClosed(), false);
  if (server.kind === "nats-server") {
    assert.equal(await s.readUntil("hi\r\n"), "MSG ped.* 1 2\r\nhi\r\n");
  }
  // Non-pedantic: the same subject is matched literally, silently.
  const q = await open(QUIET);
  assert.equal(await roundTrip(q, "PUB ped.* 2\r\nho\r\n"), "");
  assert.equal(await s.readUntil("ho\r\n"), "MSG ped.* 1 2\r\nho\r\n");
  for (const x of [s, c, q]) x.destroy();
});

test("verbs are case-insensitive (CP-01)", async () => {
  const c = await open(null);
  await c.send('connect {"verbose":false,"pedantic":false,"headers":true}\r\n');
  const got = await roundTrip(c, "sub ci 1\r\npub ci 2\r\nhi\r\nHpUb ci 12 12\r\nNATS/1.0\r\n\r\n\r\nuNsUb 1\r\nPub ci 0\r\n\r\nPiNg\r\n");
  assert.equal(got, "MSG ci 1 2\r\nhi\r\nHMSG ci 1 12 12\r\nNATS/1.0\r\n\r\n\r\n");
  assert.equal(await c.readUntil("PONG\r\n"), "PONG\r\n"); // the lower-case ping's
  c.destroy();
});

test("arguments separated by TABs and runs of spaces; bare LF ends a control line (CP-02, CP-03)", async () => {
  const c = await open();
  const got = await roundTrip(c, "SUB\tsep \t 1\r\nSUB  sep   qq\t\t2 \r\nPUB  sep\t\trr   2\r\nhi\r\nPUB sep 1\nx\r\n");
  assert.equal(got, "MSG sep 1 rr 2\r\nhi\r\nMSG sep 2 rr 2\r\nhi\r\nMSG sep 1 1\r\nx\r\nMSG sep 2 1\r\nx\r\n");
  c.destroy();
});

test("PUB payload not followed by CRLF: -ERR 'Unknown Protocol Operation' and close (CP-03)", async () => {
  for (const frame of ["PUB x 1\r\nzz\r\n", "PUB x 1\r\nz\rq", "PUB x 1\r\nz\n"]) {
    const c = await open();
    await c.send(frame);
    assert.equal(await closedWith(c), "-ERR 'Unknown Protocol Operation'\r\n", JSON.stringify(frame));
  }
});

test("unknown verb, and server-only verbs from a client: -ERR 'Unknown Protocol Operation' and close (CP-05)", async () => {
  for (const line of ["FOO bar\r\n", "MSG a 1 0\r\n\r\n", "RS+ a\r\n", "LS+ a\r\n", "XPING\r\n"]) {
    const c = await open();
    await c.send(line);
    assert.equal(await closedWith(c), "-ERR 'Unknown Protocol Operation'\r\n", JSON.stringify(line));
  }
});

test("argument errors close without -ERR: SUB without sid, PUB without or with a negative size (CP-06)", async () => {
  for (const line of ["SUB foo\r\n", "PUB foo\r\n", "PUB foo -1\r\n", "PUB foo bar baz qux 1\r\n"]) {
    const c = await open();
    await c.send(line);
    assert.equal(await closedWith(c), "", JSON.stringify(line));
  }
});

test("control line: an argument of 4096 bytes is accepted, 4097 gets -ERR 'maximum control line exceeded' and close (CP-07)", async () => {
  // nats-server counts the arguments after the verb against max_control_line (4096).
  const ok = await open();
  assert.equal(await roundTrip(ok, `PUB ${"a".repeat(4094)} 0\r\n\r\n`), "");
  ok.destroy();
  const bad = await open();
  await bad.send(`PUB ${"a".repeat(4095)} 0\r\n\r\n`);
  assert.equal(await closedWith(bad), "-ERR 'maximum control line exceeded'\r\n");
});

test("control line: 5000 bytes with no newline yet gets -ERR 'maximum control line exceeded' and close (CP-07)", async () => {
  const c = await open();
  await c.send(`SUB ${"b".repeat(5000)}`);
  assert.equal(await closedWith(c), "-ERR 'maximum control line exceeded'\r\n");
});

test("split frames: a SUB/PUB/HPUB/PING stream sent one byte per write (CP-08)", async () => {
  const c = await open(null);
  c.socket.setNoDelay(true);
  const stream =
    'CONNECT {"verbose":false,"pedantic":false,"headers":true}\r\n' +
    "SUB sp.x 1\r\nPUB sp.x r 5\r\nhello\r\nHPUB sp.x 18 20\r\nNATS/1.0\r\nA: b\r\n\r\nhi\r\nPING\r\n";
  for (const ch of stream) {
    await c.send(ch);
    await sleep(1);
  }
  const got = await c.readUntil("PONG\r\n");
  assert.equal(got, "MSG sp.x 1 r 5\r\nhello\r\nHMSG sp.x 1 18 20\r\nNATS/1.0\r\nA: b\r\n\r\nhi\r\nPONG\r\n");
  c.destroy();
});

test("split frames: a PUB split at every byte boundary in two writes (CP-08)", async () => {
  const s = await subscriber("sp.y");
  const c = await open();
  c.socket.setNoDelay(true);
  const frame = "PUB sp.y reply.to 11\r\nhello world\r\n";
  for (let k = 1; k < frame.length; k++) {
    await c.send(frame.slice(0, k));
    await sleep(3);
    await c.send(frame.slice(k));
  }
  const n = frame.length - 1;
  const want = "MSG sp.y 1 reply.to 11\r\nhello world\r\n".repeat(n);
  assert.equal(await roundTrip(c, ""), "");
  assert.equal(await s.readUntil(want, 5000), want);
  s.destroy();
  c.destroy();
});

test("a batch of SUB, 500 PUBs and PING in one write: every MSG in order (CP-08, CP-41)", async () => {
  const c = await open();
  let batch = "SUB batch 1\r\n";
  let want = "";
  for (let i = 0; i < 500; i++) {
    batch += `PUB batch ${String(i).length}\r\n${i}\r\n`;
    want += `MSG batch 1 ${String(i).length}\r\n${i}\r\n`;
  }
  assert.equal(await roundTrip(c, batch), want);
  c.destroy();
});

test("CONNECT protocol 2 or -1: -ERR 'invalid client protocol' and close (CP-18)", async () => {
  for (const protocol of [2, -1]) {
    const c = await open({ verbose: false, protocol });
    assert.equal(await closedWith(c), "-ERR 'invalid client protocol'\r\n");
  }
  const ok = await open({ verbose: false, protocol: 0 });
  assert.equal(await roundTrip(ok, ""), "");
  ok.destroy();
});

test("no_responders without headers: -ERR 'no responders requires headers support' and close (CP-19)", async () => {
  const c = await open({ verbose: false, no_responders: true });
  assert.equal(await closedWith(c), "-ERR 'no responders requires headers support'\r\n");
});

test("invalid subjects in SUB get -ERR 'Invalid Subject' each, the connection stays (CP-34, CP-53)", async () => {
  const c = await open();
  const bad = ["foo..bar", "foo.>.bar", ".foo", "foo.", ">.x"];
  const got = await roundTrip(c, bad.map((s, i) => `SUB ${s} ${i + 1}\r\n`).join(""));
  assert.equal(got, "-ERR 'Invalid Subject'\r\n".repeat(bad.length));
  // Still usable, and the refused sids are free.
  assert.equal(await roundTrip(c, "SUB good 1\r\nPUB good 2\r\nok\r\n"), "MSG good 1 2\r\nok\r\n");
  c.destroy();
});

test("a SUB that reuses a sid is ignored: one delivery, and the second subject gets nothing (CP-35)", async () => {
  const c = await open();
  const got = await roundTrip(c, "SUB dup 1\r\nSUB dup 1\r\nSUB dup2 1\r\nPUB dup 1\r\nx\r\nPUB dup2 1\r\ny\r\n");
  assert.equal(got, "MSG dup 1 1\r\nx\r\n");
  c.destroy();
});

test("UNSUB: unknown sid ignored, max delivers exactly max, max already reached removes at once (CP-39)", async () => {
  const c = await open();
  assert.equal(await roundTrip(c, "UNSUB 77\r\nUNSUB 78 5\r\n"), "");
  assert.equal(
    await roundTrip(c, "SUB um 1\r\nUNSUB 1 2\r\nPUB um 1\r\na\r\nPUB um 1\r\nb\r\nPUB um 1\r\nc\r\n"),
    "MSG um 1 1\r\na\r\nMSG um 1 1\r\nb\r\n",
  );
  assert.equal(
    await roundTrip(c, "SUB um2 2\r\nPUB um2 1\r\na\r\nPUB um2 1\r\nb\r\nUNSUB 2 1\r\nPUB um2 1\r\nc\r\n"),
    "MSG um2 2 1\r\na\r\nMSG um2 2 1\r\nb\r\n",
  );
  c.destroy();
});

test("MSG framing: 'MSG <subject> <sid> [reply] <n>' exactly, queue sid included (CP-33, CP-41)", async () => {
  const s = await subscriber("fr.x", "sid-A");
  const q = await open();
  assert.equal(await roundTrip(q, "SUB fr.* grp 42\r\n"), "");
  const p = await open();
  assert.equal(await roundTrip(p, "PUB fr.x 3\r\nabc\r\nPUB fr.x _INBOX.r.1 0\r\n\r\n"), "");
  assert.equal(await s.readUntil("0\r\n\r\n"), "MSG fr.x sid-A 3\r\nabc\r\nMSG fr.x sid-A _INBOX.r.1 0\r\n\r\n");
  assert.equal(await q.readUntil("0\r\n\r\n"), "MSG fr.x 42 3\r\nabc\r\nMSG fr.x 42 _INBOX.r.1 0\r\n\r\n");
  for (const x of [s, q, p]) x.destroy();
});

test("HMSG framing: 'HMSG <subject> <sid> [reply] <hdr> <total>' with header bytes verbatim (CP-26, CP-42)", async () => {
  const s = await subscriber("hf.x", 5, { verbose: false, pedantic: false, headers: true });
  const p = await open({ verbose: false, pedantic: false, headers: true });
  const hdr = "NATS/1.0\r\nA: b\r\nA: c\r\nKey-Case: V\r\n\r\n";
  await p.send(`HPUB hf.x rp ${hdr.length} ${hdr.length + 2}\r\n${hdr}hi\r\nHPUB hf.x 12 12\r\nNATS/1.0\r\n\r\n\r\nPING\r\n`);
  await p.readUntil("PONG\r\n");
  const want = `HMSG hf.x 5 rp ${hdr.length} ${hdr.length + 2}\r\n${hdr}hi\r\nHMSG hf.x 5 12 12\r\nNATS/1.0\r\n\r\n\r\n`;
  assert.equal(await s.readUntil("\r\n\r\n\r\n"), want);
  s.destroy();
  p.destroy();
});

test("a header message to a subscriber without headers arrives as MSG, headers stripped (CP-43)", async () => {
  const s = await subscriber("hs.x", 9, QUIET);
  const p = await open({ verbose: false, pedantic: false, headers: true });
  const hdr = "NATS/1.0\r\nA: b\r\nC: d\r\n\r\n";
  assert.equal(await roundTrip(p, `HPUB hs.x rr ${hdr.length} ${hdr.length + 2}\r\n${hdr}hi\r\nHPUB hs.x 12 12\r\nNATS/1.0\r\n\r\n\r\n`), "");
  assert.equal(await s.readUntil("MSG hs.x 9 0\r\n\r\n"), "MSG hs.x 9 rr 2\r\nhi\r\nMSG hs.x 9 0\r\n\r\n");
  s.destroy();
  p.destroy();
});

test("no responders: exact bytes 'HMSG <reply> <sid> 16 16' + 'NATS/1.0 503', also on a wildcard inbox (CP-32)", async () => {
  const c = await open({ verbose: false, pedantic: false, headers: true, no_responders: true });
  const got = await roundTrip(c, "SUB _INBOX.nr.* 1\r\nSUB _INBOX.exact 2\r\nPUB nobody.here _INBOX.nr.7 0\r\n\r\nPUB nobody.there _INBOX.exact 2\r\nhi\r\n");
  assert.equal(got, "HMSG _INBOX.nr.7 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\nHMSG _INBOX.exact 2 16 16\r\nNATS/1.0 503\r\n\r\n\r\n");
  // Without a reply subject, or without no_responders, nothing comes back.
  assert.equal(await roundTrip(c, "PUB nobody.here 0\r\n\r\n"), "");
  const h = await open({ verbose: false, pedantic: false, headers: true });
  assert.equal(await roundTrip(h, "SUB _INBOX.q.* 1\r\nPUB nobody.here _INBOX.q.1 0\r\n\r\n"), "");
  c.destroy();
  h.destroy();
});

test("PING gets PONG, with or without CONNECT, bytes after PING ignored (CP-04, CP-46)", async () => {
  const c = await open(null);
  await c.send("PING\r\n");
  assert.equal(await c.readUntil("\r\n"), "PONG\r\n");
  await c.send("PING foo bar\r\nping\r\n");
  assert.equal(await c.readUntil("PONG\r\nPONG\r\n"), "PONG\r\nPONG\r\n");
  c.destroy();
});

test("HPUB on a connection that did not ask for headers: closed, no -ERR (CP-20, CP-27)", async () => {
  const c = await open(QUIET);
  await c.send("HPUB hx 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
  assert.equal(await closedWith(c), "");
});

test("HPUB with header size over total size: closed, no -ERR (CP-26)", async () => {
  const c = await open({ verbose: false, pedantic: false, headers: true });
  await c.send("HPUB hx 14 12\r\nNATS/1.0\r\n\r\nhi\r\n");
  assert.equal(await closedWith(c), "");
});

test("a client sending -ERR is closed; +OK from a client is ignored (CP-52)", async () => {
  const ok = await open();
  assert.equal(await roundTrip(ok, "+OK\r\n"), "");
  ok.destroy();
  const c = await open();
  await c.send("-ERR 'from the client'\r\n");
  assert.equal(await closedWith(c), "");
});

test("malformed CONNECT JSON: closed, no -ERR (CP-22)", async () => {
  for (const line of ['CONNECT {"verbose":false\r\n', "CONNECT xyz\r\n"]) {
    const c = await open(null);
    await c.send(line);
    assert.equal(await closedWith(c), "", JSON.stringify(line));
  }
});

test("the server still serves after every protocol error above", async () => {
  assert.ok(server.alive());
  const c = await open();
  assert.equal(await roundTrip(c, "SUB end 1\r\nPUB end 2\r\nok\r\n"), "MSG end 1 2\r\nok\r\n");
  c.destroy();
});

test("no_header_support: INFO says headers:false; HPUB closes the connection without -ERR even after CONNECT headers:true; PUB works (CP-20, CFG-15)", async () => {
  const s = await startServer({ config: "no_header_support: true\n" });
  try {
    const { client: c, info } = await rawHandshake(s.port, { verbose: false, pedantic: false, headers: true });
    assert.equal(info.headers, false);
    assert.equal(await roundTrip(c, "SUB nh 1\r\nPUB nh 2\r\nok\r\n"), "MSG nh 1 2\r\nok\r\n");
    await c.send("HPUB nh 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
    assert.equal(await closedWith(c), "");
  } finally {
    await s.stop();
  }
});
