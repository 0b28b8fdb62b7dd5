// Monitoring over HTTP for the hostile suites: a broker with a monitoring
// port, and GET requests bounded in time.
import { startServer, waitFor } from "../../interop/lib/harness.mjs";

export const NATS_SERVER = process.env.NATS_SERVER_BIN || "/usr/sbin/nats-server";

// Starts `bin` (default NATSEDGE_BIN, NATSEDGE_SMALL_BIN when `small`,
// NATSEDGE_TINY_BIN when `tiny`)
// with a monitoring port (`mport`) and any further listeners named in
// `ports` (server.ports.<name>; `config` and `args` may be functions of the
// ports, as for startServer). Returns once /varz shows no client: the
// harness's readiness probe is gone, so client counts start from zero.
export async function startMonitored({ bin, config = null, args = [], small = false, tiny = false, ports = [] } = {}) {
  const server = await startServer({
    bin,
    small,
    tiny,
    ports: ["http", ...ports],
    config,
    args: (p) => ["-m", String(p.http), ...(typeof args === "function" ? args(p) : args)],
  });
  server.mport = server.ports.http;
  await waitFor(async () => (await getJson(server, "/varz")).connections === 0, 5000, "the readiness probe gone from /varz");
  return server;
}

// GET `path` on the server's monitoring port: { status, type, text }.
export async function get(server, path, ms = 5000) {
  const res = await fetch(`http://127.0.0.1:${server.mport}${path}`, {
    signal: AbortSignal.timeout(ms),
    redirect: "manual",
  });
  return { status: res.status, type: res.headers.get("content-type") ?? "", text: await res.text() };
}

// GET and JSON.parse of the whole body; throws with the text around the
// first error if the body is not one valid JSON document.
export async function getJson(server, path) {
  const { status, text } = await get(server, path);
  if (status !== 200) throw new Error(`${path}: HTTP ${status}: ${text.slice(0, 200)}`);
  try {
    return JSON.parse(text);
  } catch (e) {
    const m = /position (\d+)/.exec(e.message);
    const at = m ? Number(m[1]) : 0;
    throw new Error(`${path}: ${e.message}; around it: ${JSON.stringify(text.slice(Math.max(0, at - 80), at + 80))}`);
  }
}
