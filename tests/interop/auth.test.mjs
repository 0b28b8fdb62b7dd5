// Authentication with real clients, the same configuration file run under
// nats-server and natsedge (inventory CP-71..CP-73, CFG-16): a users list with
// passwords and an NKey user (nonce in INFO, ed25519 signature in CONNECT).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { connect, nkeyAuthenticator } from "@nats-io/transport-node";
import { createUser } from "@nats-io/nkeys";
import { startServer, stopAll, rawConnect, parseInfo } from "./lib/harness.mjs";

const kp = createUser();
const stranger = createUser();
let server;

before(async () => {
  server = await startServer({
    config:
      "authorization {\n  timeout: 2\n  users: [\n" +
      "    { user: alice, password: wonderland }\n" +
      `    { nkey: ${kp.getPublicKey()} }\n  ]\n}\n`,
  });
});

after(async () => {
  await stopAll();
});

const url = () => `127.0.0.1:${server.port}`;

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
  await nc.flush();
  await nc.close();
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
  for await (const m of sub) assert.equal(m.string(), "signed");
  await nc.close();
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
