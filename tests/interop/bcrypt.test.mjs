// bcrypt-hashed secrets (inventory CP-71, CP-72, CFG-12, CFG-16): the same
// configuration files run under nats-server and natsedge. The hashes were
// made with Debian's libxcrypt when this test was written; a password is
// checked with bcrypt when the configured value starts with $2a$, $2b$, $2x$
// or $2y$ and a two-digit cost, and in clear otherwise.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { startServer, stopAll, rawHandshake } from "./lib/harness.mjs";

const HATTER = "$2a$06$uyPCmFIzyscBicW90v2oG./0d8KeF2pzHsnZWNrQHHKMkifK04GAa"; // "hatter"
const MARCH_HARE = "$2y$05$tRiA3fZ1OSz9Wi5AlBa09.bJjdfe28pOchLh6keVHulPL7Mf/rsWe"; // "march-hare"
const TEA_PARTY = "$2b$06$peZkA0F48m0FRSP4N1FYX.oJfFramY6k.ycvwwSLUqzxIGw8yqi8a"; // "tea-party"
const QUEEN = "$2a$06$T4a3jG8VSFQE.PXyrwWQDOnSzwBOoW.hH0i6F7OtdGbaLkjDFdBDq"; // "queen-of-hearts"

let users, single, token;

before(async () => {
  // A bare $2a$ value is a string, not a variable (CFG-12); $2y$ is quoted.
  users = await startServer({
    config:
      "authorization {\n  users: [\n" +
      `    { user: bob, password: ${HATTER} }\n` +
      `    { user: dave, password: "${MARCH_HARE}" }\n` +
      "    { user: erin, password: clear-text }\n  ]\n}\n",
  });
  single = await startServer({ config: `authorization { user: carol, password: "${QUEEN}" }\n` });
  token = await startServer({ config: `authorization { token: "${TEA_PARTY}" }\n` });
});

after(async () => {
  await stopAll();
});

const opts = (server, extra) => ({ servers: `127.0.0.1:${server.port}`, reconnect: false, ...extra });

test("users list: bcrypt passwords ($2a$ bare, $2y$ quoted) accept the right password (CP-71)", async () => {
  for (const [user, pass] of [["bob", "hatter"], ["dave", "march-hare"], ["erin", "clear-text"]]) {
    const nc = await connect(opts(users, { user, pass }));
    await nc.flush();
    await nc.close();
  }
});

test("users list: a wrong password, or the hash itself, is an Authorization Violation (CP-71)", async () => {
  for (const [user, pass] of [["bob", "Hatter"], ["bob", HATTER], ["dave", "march-har"], ["bob", ""]]) {
    await assert.rejects(connect(opts(users, { user, pass })), /authorization violation/i, `${user}/${pass}`);
  }
});

test("a clear-text password in the configuration is warned about at start-up, bcrypt ones are not", async () => {
  assert.match(users.logs(), /\[WRN\] Plaintext passwords detected, use nkeys or bcrypt/);
  assert.doesNotMatch(single.logs(), /Plaintext passwords detected/);
  assert.doesNotMatch(token.logs(), /Plaintext passwords detected/);
});

test("single user with a bcrypt password: right accepted, wrong refused on the wire (CP-71)", async () => {
  const nc = await connect(opts(single, { user: "carol", pass: "queen-of-hearts" }));
  await nc.flush();
  await nc.close();
  const { client } = await rawHandshake(single.port, { verbose: false, user: "carol", pass: "queen-of-spades" });
  assert.ok(await client.closedWithin(5000));
  assert.match(client.received(), /-ERR 'Authorization Violation'\r\n/);
});

test("a bcrypt token: right accepted, wrong refused (CP-72)", async () => {
  const nc = await connect(opts(token, { token: "tea-party" }));
  await nc.flush();
  await nc.close();
  await assert.rejects(connect(opts(token, { token: "coffee-party" })), /authorization violation/i);
});
