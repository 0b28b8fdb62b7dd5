// Scenarios shared by the board interop tests (natsedge over lwIP: the TAP
// board and the mps2-an385 firmware in QEMU). Each takes the broker's host
// and port and drives it with nats.js or raw TCP; every wait is bounded.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { spawn } from "node:child_process";
import { connect, createInbox } from "@nats-io/transport-node";
import { rawConnect, sleep, waitFor, within } from "./harness.mjs";

export const sha = (b) => createHash("sha256").update(b).digest("hex");

export function pattern(n, seed) {
  const p = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    p[i] = x & 0xff;
  }
  return p;
}

// Collects `n` messages of a subscription, rejecting after `ms`.
export function collect(sub, n, ms = 5000) {
  return new Promise((resolve, reject) => {
    const got = [];
    if (n === 0) return resolve(got);
    const t = setTimeout(() => reject(new Error(`${sub.getSubject()}: got ${got.length} of ${n}`)), ms);
    (async () => {
      for await (const m of sub) {
        got.push(m);
        if (got.length === n) {
          clearTimeout(t);
          resolve(got);
          return;
        }
      }
    })().catch(reject);
  });
}

// Runs `cmd args`, resolving with its exit code (bounded by `ms`).
export function run(cmd, args, ms = 10000) {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    c.stderr.on("data", (d) => (err += d));
    const t = setTimeout(() => c.kill("SIGKILL"), ms);
    c.once("error", () => {
      clearTimeout(t);
      resolve({ code: -1, err: "cannot run " + cmd });
    });
    c.once("exit", (code) => {
      clearTimeout(t);
      resolve({ code, err });
    });
  });
}

export class Board {
  constructor(host, port) {
    this.host = host;
    this.port = port;
    this.conns = [];
  }

  // A connection; a board with every connection slot taken (the previous
  // test's clients not yet seen closing) refuses it, so retry briefly.
  async client(opts = {}) {
    const deadline = Date.now() + 3000;
    for (;;) {
      try {
        const nc = await connect({ servers: `nats://${this.host}:${this.port}`, reconnect: false, timeout: 5000, ...opts });
        this.conns.push(nc);
        return nc;
      } catch (e) {
        const refused = /maximum connections exceeded|EPIPE|ECONNRESET/.test(String(e?.message));
        if (!refused || Date.now() > deadline) throw e;
        await sleep(100);
      }
    }
  }

  async closeAll() {
    for (const nc of this.conns) if (!nc.isClosed()) await nc.close().catch(() => {});
    this.conns = [];
  }

  raw() {
    return rawConnect(this.port, { host: this.host });
  }

  // Publish and subscribe with both wildcards, across two connections.
  async pubSubWildcards() {
    const a = await this.client();
    const b = await this.client();
    const star = a.subscribe("sensors.*.temp");
    const full = a.subscribe("sensors.>");
    await a.flush();
    b.publish("sensors.kitchen.temp", "21.5");
    b.publish("sensors.kitchen.humidity", "40");
    b.publish("other.kitchen.temp", "x");
    await b.flush();
    const [s] = await collect(star, 1);
    assert.equal(s.subject, "sensors.kitchen.temp");
    assert.equal(s.string(), "21.5");
    const f = await collect(full, 2);
    assert.deepEqual(f.map((m) => m.subject).sort(), ["sensors.kitchen.humidity", "sensors.kitchen.temp"]);
    await a.close();
    await b.close();
  }

  // A queue group shares the messages; a plain subscriber sees them all.
  async queueGroups(count = 30) {
    const members = [await this.client(), await this.client(), await this.client()];
    const plainConn = await this.client();
    const got = [0, 0, 0];
    const subs = members.map((nc, i) =>
      nc.subscribe("jobs", { queue: "workers", callback: () => got[i]++ })
    );
    let plain = 0;
    plainConn.subscribe("jobs", { callback: () => plain++ });
    for (const nc of [...members, plainConn]) await nc.flush();
    const pub = await this.client();
    for (let i = 0; i < count; i++) pub.publish("jobs", `job ${i}`);
    await pub.flush();
    await waitFor(() => plain === count && got.reduce((x, y) => x + y, 0) === count, 5000, "queue deliveries");
    // A PING/PONG on each member after the publisher's: a second copy of a
    // job would have arrived before its PONG.
    for (const nc of members) await nc.flush();
    assert.equal(got.reduce((x, y) => x + y, 0), count, "each job to one member only");
    assert.ok(got.filter((n) => n > 0).length >= 2, `spread over members: ${got}`);
    for (const s of subs) s.unsubscribe();
    for (const nc of [...members, plainConn, pub]) await nc.close();
  }

  // Request/reply through a responder on another connection.
  async requestReply(count = 20) {
    const svc = await this.client();
    svc.subscribe("svc.echo", { callback: (_e, m) => m.respond(`echo:${m.string()}`) });
    await svc.flush();
    const req = await this.client();
    for (let i = 0; i < count; i++) {
      const r = await req.request("svc.echo", `q${i}`, { timeout: 3000 });
      assert.equal(r.string(), `echo:q${i}`);
    }
    await svc.close();
    await req.close();
  }

  // `n` connections open at once, each talking to its neighbour. With
  // `staggered` they connect one after the other (QEMU's user networking
  // forwards through a listen backlog of one: simultaneous connects would
  // wait for the host's SYN retransmissions), then all work at once.
  async concurrent(n, { staggered = false } = {}) {
    const conns = [];
    if (staggered) {
      for (let i = 0; i < n; i++) conns.push(await this.client());
    } else {
      conns.push(...(await Promise.all(Array.from({ length: n }, () => this.client()))));
    }
    const subs = conns.map((nc, i) => nc.subscribe(`peer.${i}`));
    await Promise.all(conns.map((nc) => nc.flush()));
    conns.forEach((nc, i) => nc.publish(`peer.${(i + 1) % n}`, `from ${i}`));
    await Promise.all(conns.map((nc) => nc.flush()));
    const got = await Promise.all(subs.map((s) => collect(s, 1, 10000)));
    got.forEach(([m], i) => assert.equal(m.string(), `from ${(i + n - 1) % n}`));
    await Promise.all(conns.map((nc) => nc.close()));
  }

  // Payloads of every size class up to the broker's max_payload, intact.
  async payloads() {
    const a = await this.client();
    const b = await this.client();
    const max = a.info.max_payload;
    const sizes = [0, 1, 1000, 4096, Math.floor(max / 2), max - 1, max];
    const sub = a.subscribe("blob");
    await a.flush();
    for (const [i, n] of sizes.entries()) b.publish("blob", pattern(n, i + 1));
    await b.flush();
    const got = await collect(sub, sizes.length, 15000);
    got.forEach((m, i) => {
      assert.equal(m.data.length, sizes[i]);
      assert.equal(sha(m.data), sha(pattern(sizes[i], i + 1)));
    });
    await a.close();
    await b.close();
    return max;
  }

  // A raw TCP publisher sends `count` messages of `size` bytes in bursts of
  // `burst`, as fast as its socket takes them, staying at most `ahead`
  // messages ahead of a nats.js subscriber (application-level pacing: a
  // publisher faster than its subscriber for long is a slow consumer case,
  // as with nats-server). Every message arrives, in order, through lwIP's
  // receive window (opened only as the broker reads) and send buffer.
  async pacedStream({ count = 4000, size = 2048, burst = 100, ahead = 400, ms = 30000 } = {}) {
    const sub = await this.client();
    let got = 0;
    let inOrder = true;
    sub.subscribe("bp.stream", {
      callback: (_e, m) => {
        if (Number(m.string().slice(0, 8)) !== got) inOrder = false;
        got++;
      },
    });
    await sub.flush();
    const r = await this.raw();
    const deadline = Date.now() + ms;
    try {
      await r.send("CONNECT {\"verbose\":false,\"pedantic\":false}\r\n");
      const pad = "p".repeat(size - 8);
      for (let sent = 0; sent < count; ) {
        let chunk = "";
        for (let i = 0; i < burst && sent < count; i++, sent++) {
          chunk += `PUB bp.stream ${size}\r\n${String(sent).padStart(8, "0")}${pad}\r\n`;
        }
        assert.ok(await r.send(chunk), "the publisher was disconnected");
        await waitFor(() => got >= sent - ahead || Date.now() > deadline, ms, "the subscriber");
        assert.ok(Date.now() <= deadline, `stalled: received ${got} of ${sent} sent`);
      }
      await waitFor(() => got >= count || Date.now() > deadline, ms, "the last messages");
      assert.equal(got, count, `received ${got} of ${count}`);
      assert.ok(inOrder, "messages arrived out of order");
    } finally {
      r.destroy();
    }
    await sub.close();
  }

  // A client that disappears in the middle of a message: the broker drops it
  // and the others are unaffected.
  async vanishMidMessage() {
    const watcher = await this.client();
    const sub = watcher.subscribe("half");
    await watcher.flush();
    for (const mode of ["end", "destroy"]) {
      const r = await this.raw();
      await r.send("CONNECT {\"verbose\":false}\r\nPUB half 1000\r\n" + "x".repeat(400));
      if (mode === "end") r.socket.end();
      else r.socket.resetAndDestroy();
      await within(r.closed(), 5000, "the half-sent client's close");
    }
    const other = await this.client();
    other.publish("half", "whole");
    await other.flush();
    const [m] = await collect(sub, 1);
    assert.equal(m.string(), "whole", "the half message was never delivered");
    await watcher.close();
    await other.close();
  }

  // A client that subscribes to what it publishes and never reads: the
  // broker cuts it as a slow consumer (pending bytes or write deadline)
  // while the others keep working. Bounded by `ms`.
  async slowConsumer({ chunk = 1024, ms = 15000 } = {}) {
    const svc = await this.client();
    svc.subscribe("svc.alive", { callback: (_e, m) => m.respond("yes") });
    await svc.flush();
    const req = await this.client();
    const r = await this.raw();
    let sent = 0;
    let answered = 0;
    try {
      await r.send("CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB flood 1\r\nPING\r\n");
      await r.readUntil("PONG", 5000);
      r.socket.pause(); // never read again
      const batch = `PUB flood ${chunk}\r\n${"z".repeat(chunk)}\r\n`.repeat(8);
      const deadline = Date.now() + ms;
      let nextCheck = 0;
      while (!r.isClosed() && Date.now() < deadline) {
        if (r.socket.writableLength < 64 * 1024) {
          r.socket.write(batch);
          sent += batch.length;
        } else {
          await Promise.race([r.closed(), sleep(50)]);
        }
        if (Date.now() >= nextCheck) {
          const m = await req.request("svc.alive", "", { timeout: 3000 });
          assert.equal(m.string(), "yes");
          answered++;
          nextCheck = Date.now() + 250;
        }
      }
      assert.ok(r.isClosed(), `the flooding client was not cut within ${ms} ms (sent ${sent} bytes)`);
    } finally {
      r.destroy();
    }
    for (let i = 0; i < 5; i++) {
      const m = await req.request("svc.alive", "", { timeout: 3000 });
      assert.equal(m.string(), "yes");
    }
    await svc.close();
    await req.close();
    return { sent, answered };
  }
}

export { createInbox };
