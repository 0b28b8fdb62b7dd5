// The tiny-js firmware's leaf remote with JWT credentials toward a
// nats-server hub in operator mode (QEMU): the .creds text is carried by
// the configuration region (files { } and the remote's credentials,
// docs/firmware.md), written into a copy of the image by
// tools/conf_region.c. The board signs the hub's nonce with the seed
// (ed25519 from libsodium's reference code, port/sodium): the link comes up
// and carries messages both ways. Creds whose seed is not the JWT's user
// get no link, and the board logs the hub's Authorization Violation; a
// credentials that names no entry of files { }, or an entry that is no
// .creds, is refused with its position. Needs NATSEDGE_MPS2_JS_ELF,
// NATSEDGE_MPS2_JS_CONF_TOOL (make CONFIG=tiny-js conf-tool) and
// qemu-system-arm; without them the suite fails with the reason
// (SKIP_BOARDS=1 skips it instead). natsedge-only: the nats-server pass
// skips it (a firmware of natsedge's own; the hub is nats-server in both).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, credsAuthenticator } from "@nats-io/transport-node";
import { createOperator, createAccount, createUser } from "@nats-io/nkeys";
import { encodeOperator, encodeAccount, encodeUser, fmtCreds } from "@nats-io/jwt";
import { collect } from "./lib/board_scenarios.mjs";
import { sleep, getJSON, stopAll, waitFor, within } from "./lib/harness.mjs";
import { bootBoard, confTool, hubServer, stopBoards, boardSuite } from "./lib/board.mjs";

const { skip, paths: [ELF, TOOL] } = boardSuite("mps2-an385 tiny-js creds", [["NATSEDGE_MPS2_JS_ELF", "tiny-js firmware"], ["NATSEDGE_MPS2_JS_CONF_TOOL", "tiny-js configuration tool, make CONFIG=tiny-js conf-tool"]]);
const NAME = "mps2-an385 tiny-js leaf with JWT credentials (natsedge-only: its Cortex-M firmware)";
const DIR = skip ? "" : mkdtempSync(join(tmpdir(), "natsedge-mps2-creds-"));

after(async () => {
  await stopBoards();
  await stopAll();
  if (DIR) rmSync(DIR, { recursive: true, force: true });
});

const { tool, writeText, imageWith } = confTool(TOOL, DIR, ELF);

// fmtCreds gives bytes; the configuration takes the text.
const credsText = (jwt, kp) => new TextDecoder().decode(fmtCreds(jwt, kp));

// An operator, the account EDGE it trusts (leaf connections allowed), and
// a user of that account: what a cloud gives an edge as its .creds.
async function makeIdentity() {
  const okp = createOperator();
  const akp = createAccount();
  const ukp = createUser();
  const ojwt = await encodeOperator("cloud-op", okp);
  const ajwt = await encodeAccount("EDGE", akp, { limits: { conn: -1, leaf: -1, subs: -1, payload: -1, data: -1, imports: -1, exports: -1, wildcards: true } }, { signer: okp });
  const ujwt = await encodeUser("edge-leaf", ukp, akp);
  return { ojwt, akp, ajwt, ujwt, ukp, creds: credsText(ujwt, ukp) };
}

// A nats-server hub in operator mode: its leafnode listener takes only a
// user JWT of a trusted account with the nonce signed by the user's key.
function startHub(id) {
  return hubServer(
    (p) =>
      `operator: ${id.ojwt}\nresolver: MEMORY\nresolver_preload: { ${id.akp.getPublicKey()}: ${id.ajwt} }\n` +
      `leafnodes { listen: "127.0.0.1:${p.leaf}" }\nhttp: "127.0.0.1:${p.http}"\n`,
  );
}

// The board's configuration: a leaf remote whose credentials name the
// .creds text pasted into files { } as it is.
function edgeConf(hubLeafPort, credsText, { credsName = "edge.creds" } = {}) {
  return [
    "server_name: edge-creds",
    `leafnodes { remotes [ { url: "nats-leaf://10.0.2.2:${hubLeafPort}", credentials: "${credsName}" } ], reconnect: 1 }`,
    "files {",
    `  "edge.creds": "${credsText.trim()}"`,
    "}",
    "",
  ].join("\n");
}

// The board with 4222 forwarded to a free loopback port (q.port).
const boot = (image) => bootBoard(image, [4222]);

let identity = null;
const identityOnce = async () => (identity ??= await makeIdentity());

test(`${NAME}: the board signs the hub's nonce with the seed from files { } and the link carries messages both ways (LN-24, LN-25, IOP-02)`, { skip }, async () => {
  const id = await identityOnce();
  const hub = await startHub(id);
  const q = await boot(imageWith("creds", edgeConf(hub.ports.leaf, id.creds)));
  try {
    assert.match(q.console(), /Configuration region: creds\.conf/);
    await waitFor(async () => (await getJSON(hub.ports.http, "/leafz")).leafnodes === 1, 30000, "the board's leaf on the hub");
    const leafz = await getJSON(hub.ports.http, "/leafz");
    assert.equal(leafz.leafs[0].account, id.akp.getPublicKey());
    const edge = await within(connect({ servers: `127.0.0.1:${q.port}` }), 10000, "connect to the board");
    const cloud = await within(connect({ servers: `127.0.0.1:${hub.port}`, authenticator: credsAuthenticator(new TextEncoder().encode(id.creds)) }), 10000, "connect to the hub");
    const down = edge.subscribe("cmd.board", { max: 1 });
    const up = cloud.subscribe("telemetry.board", { max: 1 });
    await within(edge.flush(), 5000, "edge flush");
    await within(cloud.flush(), 5000, "hub flush");
    // Interest crosses the link asynchronously: publish until it arrives.
    const gotDown = collect(down, 1, 20000);
    const gotUp = collect(up, 1, 20000);
    let done = false;
    Promise.all([gotDown, gotUp]).then(() => (done = true), () => (done = true));
    for (let i = 0; i < 100 && !done; i++) {
      cloud.publish("cmd.board", "reboot");
      edge.publish("telemetry.board", "21.5");
      await sleep(200);
    }
    assert.equal((await gotDown)[0].string(), "reboot");
    assert.equal((await gotUp)[0].string(), "21.5");
    await within(edge.close(), 5000, "close");
    await within(cloud.close(), 5000, "close");
    assert.doesNotMatch(q.console(), /\[FTL\]|Authorization Violation/);
  } finally {
    await q.stop();
    await hub.stop();
  }
});

test(`${NAME}: creds whose seed is not the JWT's user get no link, and the board logs the hub's refusal (LN-25)`, { skip }, async () => {
  const id = await identityOnce();
  const hub = await startHub(id);
  // The right user JWT, signed with another user's seed: a bad signature.
  const q = await boot(imageWith("wrong", edgeConf(hub.ports.leaf, credsText(id.ujwt, createUser()))));
  try {
    // The whole line (the UART delivers it in pieces).
    await waitFor(() => /Authorization Violation[^\n]*\n/.test(q.console()), 30000, "the hub's refusal on the board's console");
    assert.match(q.console(), /\[ERR\] 10\.0\.2\.2:\d+ - lid:\d+ - Leafnode error from 10\.0\.2\.2:\d+: 'Authorization Violation'/);
    // Refused for its signature: the board read the creds and sent the JWT.
    assert.doesNotMatch(q.console(), /Credentials file/);
    await sleep(2000);
    assert.equal((await getJSON(hub.ports.http, "/leafz")).leafnodes, 0);
    assert.doesNotMatch(q.console(), /\[FTL\]/);
  } finally {
    await q.stop();
    await hub.stop();
  }
});

test(`${NAME}: credentials that name no entry of files { }, or an entry that is no .creds: refused with the position`, { skip }, async () => {
  const id = await identityOnce();
  const missing = tool(["check", writeText("missing.conf", edgeConf(7422, id.creds, { credsName: "nope.creds" }))]);
  assert.notEqual(missing.status, 0);
  assert.match(missing.stderr + missing.stdout, /missing\.conf:2:\d+: credentials "nope\.creds" is not in files \{ \}/);
  const jwtOnly = id.creds.slice(0, id.creds.indexOf("------END NATS USER JWT------") + 30);
  const malformed = tool(["check", writeText("malformed.conf", edgeConf(7422, jwtOnly))]);
  assert.notEqual(malformed.status, 0);
  assert.match(malformed.stderr + malformed.stdout, /malformed\.conf:2:\d+: credentials file "edge\.creds" needs a user JWT and a user seed/);
  const ok = tool(["check", writeText("ok.conf", edgeConf(7422, id.creds))]);
  assert.equal(ok.status, 0, ok.stderr);
});
