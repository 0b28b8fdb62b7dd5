// The mps2-an385 firmware (bare-metal Cortex-M3, lwIP on a LAN9118) booted
// in QEMU with user networking; the broker's port 4222 is forwarded to a
// free loopback port. nats.js drives it: pub/sub, queue groups,
// request/reply, 8 concurrent clients (the tiny profile's maximum), payloads
// up to its max_payload, a publisher 200 KiB ahead of its subscriber (held
// back by the closed receive window while the 6 KiB of chunks drain), and a
// client that floods until it is cut as a slow consumer while the others
// keep working. Needs NATSEDGE_MPS2_ELF and
// qemu-system-arm; without them the suite fails with the reason
// (SKIP_BOARDS=1 skips it instead). natsedge-only: the nats-server pass
// skips it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Board } from "./lib/board_scenarios.mjs";
import { bootBoard, stopBoards, boardSuite } from "./lib/board.mjs";

const { skip, paths: [ELF] } = boardSuite("mps2-an385", [["NATSEDGE_MPS2_ELF", "firmware"]]);

let q = null;
let board = null;

// The firmware with the broker's port 4222 forwarded to a free loopback
// port (q.port).
before(async () => {
  if (skip) return;
  q = await bootBoard(ELF, [4222]);
  board = new Board("127.0.0.1", q.port);
});

after(async () => {
  if (board) await board.closeAll();
  await stopBoards();
});

test("mps2-an385 (natsedge-only: its Cortex-M firmware): the firmware boots and logs its static memory", { skip }, () => {
  assert.match(q.console(), /lwIP 2\.1\.3 on LAN9118/);
  assert.match(q.console(), /Static memory reserved/);
  assert.match(q.console(), /Listening for client connections on 0\.0\.0\.0:4222/);
});
test("mps2-an385 (natsedge-only: its Cortex-M firmware): pub/sub with wildcards", { skip }, () => board.pubSubWildcards());
test("mps2-an385 (natsedge-only: its Cortex-M firmware): queue groups", { skip }, () => board.queueGroups());
test("mps2-an385 (natsedge-only: its Cortex-M firmware): request/reply", { skip }, () => board.requestReply());
test("mps2-an385 (natsedge-only: its Cortex-M firmware): 8 concurrent clients", { skip }, () => board.concurrent(8, { staggered: true }));
test("mps2-an385 (natsedge-only: its Cortex-M firmware): payloads up to max_payload", { skip }, async () => {
  const max = await board.payloads();
  assert.equal(max, 4096);
});
test("mps2-an385 (natsedge-only: its Cortex-M firmware): a flooding client is cut as a slow consumer, the others keep working", { skip }, async () => {
  const { sent } = await board.slowConsumer();
  assert.ok(sent > 8192, `flooded ${sent} bytes`);
});
test("mps2-an385 (natsedge-only: its Cortex-M firmware): a publisher far ahead of its subscriber is held back, nothing lost", { skip }, () =>
  board.pacedStream({ count: 600, size: 1024, burst: 50, ahead: 200 })
);
test("mps2-an385 (natsedge-only: its Cortex-M firmware): a client vanishing mid-message", { skip }, () => board.vanishMidMessage());
test("mps2-an385 (natsedge-only: its Cortex-M firmware): no fault or assertion on the console", { skip }, async () => {
  await board.requestReply(3);
  assert.equal(q.child.exitCode, null);
  assert.doesNotMatch(q.console(), /\[FTL\]/);
});
