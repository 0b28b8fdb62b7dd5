// MQTT over TLS (mqtt { tls { } }, inventory MQ-25): certificates made here
// with the openssl command line (a CA, a server certificate for 127.0.0.1, a
// client certificate), then MQTT.js (mqtts://) and mosquitto_pub/_sub
// (--cafile, --cert/--key) connect. The same cases run against nats-server
// 2.9.10 with `mqtt { tls }` and JetStream in the parity pass.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import net from "node:net";
import mqtt from "mqtt";
import { stopAll, within, sleep } from "./lib/harness.mjs";
import { startMqtt, inbox, runTool, endAllMqtt } from "./lib/mqtt.mjs";

const DIR = mkdtempSync(join(tmpdir(), "natsedge-mqtt-tls-"));
const f = (name) => join(DIR, name);
const brokers = [];
const clients = new Set();

function openssl(...args) {
  execFileSync("openssl", args, { cwd: DIR, stdio: ["ignore", "ignore", "pipe"] });
}

function issue(name, cn, ext) {
  openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${name}.key`,
    "-out", `${name}.csr`, "-subj", `/CN=${cn}`);
  writeFileSync(f(`${name}.ext`), ext + "\n");
  openssl("x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
    "-out", `${name}.pem`, "-days", "30", "-extfile", `${name}.ext`);
}

before(() => {
  openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
    "-out", "ca.pem", "-days", "30", "-subj", "/CN=natsedge mqtt test CA");
  issue("server", "localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth");
  issue("client", "client", "extendedKeyUsage=clientAuth");
});

after(async () => {
  for (const c of clients) await within(c.endAsync(true), 3000, "MQTT end").catch(() => {});
  await endAllMqtt();
  for (const b of brokers) await b.stop();
  await stopAll();
  rmSync(DIR, { recursive: true, force: true });
});

async function broker(verify) {
  const tls =
    `  tls {\n    cert_file: "${f("server.pem")}"\n    key_file: "${f("server.key")}"\n` +
    (verify ? `    ca_file: "${f("ca.pem")}"\n    verify: true\n` : "") +
    "  }\n";
  const b = await startMqtt({ need: "nats", mqttBlock: tls });
  brokers.push(b);
  return b;
}

function connectTls(b, opts) {
  return within(
    new Promise((resolve, reject) => {
      const c = mqtt.connect(`mqtts://127.0.0.1:${b.mqttPort}`, {
        reconnectPeriod: 0,
        connectTimeout: 5000,
        protocolVersion: 4,
        ca: readFileSync(f("ca.pem")),
        ...opts,
      });
      const box = inbox(c);
      c.once("connect", () => {
        clients.add(c);
        resolve({ c, box });
      });
      c.once("error", (e) => {
        c.end(true);
        reject(e);
      });
    }),
    8000,
    "MQTT over TLS",
  );
}

test("mqtt { tls }: MQTT.js over mqtts and mosquitto_sub with --cafile exchange QoS 0 and 1 (MQ-25)", async () => {
  const b = await broker(false);
  const sub = await connectTls(b, { clientId: "tls-sub" });
  await within(sub.c.subscribeAsync("t/#", { qos: 1 }), 5000, "SUBACK");
  const tool = runTool(
    "mosquitto_sub",
    ["-p", String(b.mqttPort), "-h", "127.0.0.1", "--cafile", f("ca.pem"), "-V", "mqttv311", "-t", "t/#", "-q", "1",
      "-C", "2", "-v", "-W", "8"],
    10000,
  );
  await sleep(500); // mosquitto_sub subscribed
  const pub = await connectTls(b, { clientId: "tls-pub" });
  await within(pub.c.publishAsync("t/a", "zero", { qos: 0 }), 5000, "QoS 0");
  await within(pub.c.publishAsync("t/b", "one", { qos: 1 }), 5000, "PUBACK");
  const msgs = await sub.box.wait(2, 5000, "two messages over TLS");
  assert.deepEqual(msgs.map((m) => `${m.topic}=${m.payload}`).sort(), ["t/a=zero", "t/b=one"]);
  const r = await tool;
  assert.deepEqual(r.out.trim().split("\n").sort(), ["t/a zero", "t/b one"], r.out);
});

test("mqtt { tls }: a plain MQTT CONNECT gets no CONNACK (MQ-25)", async () => {
  const b = await broker(false);
  const s = net.connect({ port: b.mqttPort, host: "127.0.0.1" });
  await within(new Promise((r) => s.once("connect", r)), 5000, "TCP connect");
  let got = Buffer.alloc(0);
  s.on("data", (d) => (got = Buffer.concat([got, d])));
  s.on("error", () => {});
  // CONNECT 3.1.1, client id "plain", clean session.
  s.write(Buffer.from("101100044d5154540402003c0005706c61696e", "hex"));
  await sleep(1000);
  s.destroy();
  assert.ok(got.length === 0 || got[0] !== 0x20, `a CONNACK came back in plain text: ${got.toString("hex")}`);
});

test("mqtt { tls { verify } }: a client certificate of the CA is taken, none is refused (MQ-25)", async () => {
  const b = await broker(true);
  const ok = await connectTls(b, { clientId: "with-cert", cert: readFileSync(f("client.pem")), key: readFileSync(f("client.key")) });
  await within(ok.c.publishAsync("v/x", "fine", { qos: 1 }), 5000, "PUBACK with a client certificate");
  await assert.rejects(connectTls(b, { clientId: "no-cert" }));
  const r = await runTool(
    "mosquitto_pub",
    ["-p", String(b.mqttPort), "-h", "127.0.0.1", "--cafile", f("ca.pem"), "--cert", f("client.pem"), "--key",
      f("client.key"), "-V", "mqttv311", "-t", "v/y", "-m", "m", "-q", "1"],
    10000,
  );
  assert.equal(r.code, 0, r.out);
});
