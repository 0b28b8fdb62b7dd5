// JetStream helpers for the interop suites: a broker started with -js and
// its own store directory (removed when it stops), and $JS.API requests
// answered as parsed JSON. Both passes use them: natsedge and nats-server
// 2.9.10 get the same flags.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer } from "./harness.mjs";

// startServer with -js -sd <a fresh directory>; args may be a function of
// the ports, as startServer's.
export async function startJs({ args = [], ...opts } = {}) {
  const sd = mkdtempSync(join(tmpdir(), "natsedge-js-"));
  let server;
  try {
    server = await startServer({
      ...opts,
      args: (ports) => ["-js", "-sd", sd, ...(typeof args === "function" ? args(ports) : args)],
    });
  } catch (e) {
    rmSync(sd, { recursive: true, force: true });
    throw e;
  }
  const stop = server.stop.bind(server);
  server.stop = async () => {
    const code = await stop();
    rmSync(sd, { recursive: true, force: true });
    return code;
  };
  server.storeDir = sd;
  return server;
}

// A request on subject with a JSON (or raw string) body; the JSON answer.
export async function api(nc, subject, body = "", timeout = 5000) {
  const payload = typeof body === "string" ? body : JSON.stringify(body);
  const m = await nc.request(subject, payload, { timeout });
  return JSON.parse(new TextDecoder().decode(m.data));
}

// A memory stream's configuration: most suites use memory storage, which
// leaves nothing on disk between tests (file storage and restarts:
// jetstream_file.test.mjs).
export function memStream(name, subjects, extra = {}) {
  return { name, subjects, storage: "memory", ...extra };
}
