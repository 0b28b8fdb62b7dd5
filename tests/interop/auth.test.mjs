// Authentication with real clients, the same configuration file run under
// nats-server and natsedge (inventory CP-71..CP-73, CFG-16): a users list with
// passwords and an NKey user (nonce in INFO, ed25519 signature in CONNECT).
// Every wait is bounded (`within`, the raw client's deadlines).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { connect, nkeyAuthenticator } from "@nats-io/transport-node";
import { createUser } from "@nats-io/nkeys";
import { startServer, stopAll, rawConnect, rawHandshake, parseInfo, within } from "./lib/harness.mjs";

const kp = createUser();
const stranger = createUser();
// bcrypt (cost 6, Debian's libxcrypt) of "P" repeated 72 times: bcrypt reads
// a password's first 72 bytes only.
const P72 = "P".repeat(72);
const P72_HASH = "$2b$06$TPfpN1UCy1hSYH42P72O2uk61qNTvQ58Ln/yvVtGSJ7ntGL1jeaES";
const Q127 = "Q".repeat(127);
let server;

before(async () => {
  server = await startServer({
    config:
      "authorization {\n  timeout: 2\n  users: [\n" +
      "    { user: alice, password: wonderland }\n" +
      `    { user: long, password: "${Q127}" }\n` +
      `    { user: hashed, password: "${P72_HASH}" }\n` +
      `    { nkey: ${kp.getPublicKey()} }\n  ]\n}\n`,
  });
});

after(async () => {
  await stopAll();
});

const url = () => `127.0.0.1:${server.port}`;
const MS = 5000;

// A raw client's CONNECT with `user`/`pass`, then PING: "PONG" when it was
// accepted, the -ERR when refused.
async function rawLogin(user, pass) {
  const { client } = await rawHandshake(server.port, { verbose: false, pedantic: false, user, pass });
  await client.send("PING\r\n");
  const got = await client.readUntil(/PONG\r\n|-ERR '[^']*'\r\n/);
  client.destroy();
  return got;
}

test("INFO asks for authentication and carries a nonce when nkey users exist (CP-11, CP-73)", async () => {
  const c = await rawConnect(server.port);
  const info = parseInfo(await c.readUntil(/\r\n/));
  assert.equal(info.auth_required, true);
  assert.equal(typeof info.nonce, "string");
  assert.ok(info.nonce.length >= 11);
  c.destroy();
});

test("a user from the list with the right password is accepted", async () => {
  const nc = await connect({ servers: url(), user: "alice", pass: "wonderland", reconnect: false });
  await within(nc.flush(), MS, "flush");
  await within(nc.close(), MS, "close");
});

test("a wrong password is refused with Authorization Violation (CP-71)", async () => {
  await assert.rejects(
    connect({ servers: url(), user: "alice", pass: "nope", reconnect: false }),
    /authorization violation/i,
  );
});

test("no credentials at all are refused (CP-09)", async () => {
  await assert.rejects(connect({ servers: url(), reconnect: false }), /authorization violation/i);
});

test("an nkey user signs the nonce and is accepted; pub/sub works (CP-73)", async () => {
  const nc = await connect({ servers: url(), authenticator: nkeyAuthenticator(kp.getSeed()), reconnect: false });
  const sub = nc.subscribe("nk.x", { max: 1 });
  nc.publish("nk.x", "signed");
  const got = within((async () => {
    for await (const m of sub) return m.string();
  })(), MS, "the signed message");
  assert.equal(await got, "signed");
  await within(nc.close(), MS, "close");
});

test("an nkey that is not in the list is refused", async () => {
  await assert.rejects(
    connect({ servers: url(), authenticator: nkeyAuthenticator(stranger.getSeed()), reconnect: false }),
    /authorization violation/i,
  );
});

test("a listed nkey with a bad signature is refused", async () => {
  const c = await rawConnect(server.port);
  await c.readUntil(/\r\n/);
  const badSig = Buffer.from(stranger.sign(new TextEncoder().encode("not the nonce"))).toString("base64url");
  await c.send(`CONNECT {"verbose":false,"nkey":"${kp.getPublicKey()}","sig":"${badSig}"}\r\n`);
  assert.ok(await c.closedWithin(5000));
  assert.match(c.received(), /-ERR 'Authorization Violation'\r\n/);
});

// natsedge keeps a CONNECT password in a 128-byte field: a longer one is
// refused whole (differences.md, "bcrypt costs and malformed hashes"), never
// compared by the 127 bytes that fit. nats-server compares it whole.
test("CONNECT passwords over 127 bytes: refused by natsedge, compared whole by nats-server; never matched by a prefix (CP-71)", async () => {
  // A configured password of 127 bytes: exactly it is accepted; it plus one
  // byte is a different password, refused by both.
  assert.equal(await rawLogin("long", Q127), "PONG\r\n");
  assert.equal(await rawLogin("long", Q127 + "x"), "-ERR 'Authorization Violation'\r\n");
  // bcrypt reads 72 bytes: 127 bytes starting with the right 72 match on both.
  assert.equal(await rawLogin("hashed", P72 + "y".repeat(55)), "PONG\r\n");
  // 128 bytes starting with the right 72: nats-server's bcrypt accepts them,
  // natsedge refuses a password longer than its field.
  assert.equal(
    await rawLogin("hashed", P72 + "y".repeat(56)),
    server.kind === "natsedge" ? "-ERR 'Authorization Violation'\r\n" : "PONG\r\n",
  );
  assert.equal(await rawLogin("hashed", P72.slice(1)), "-ERR 'Authorization Violation'\r\n");
});
