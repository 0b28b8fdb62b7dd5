// Small process helpers for interop tests that start brokers themselves:
// free loopback ports, start with a bounded wait, stop by PID.
import { spawn } from "node:child_process";
import net from "node:net";

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.once("connect", () => { s.destroy(); resolve(true); });
    s.once("error", () => resolve(false));
  });
}

// Starts `bin args`, waits up to 10 s until every port in `waitPorts` accepts
// connections, and returns { pid, logs(), stop() }.
export async function startProcess(bin, args, waitPorts) {
  const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
  let logs = "";
  child.stdout.on("data", (d) => (logs += d));
  child.stderr.on("data", (d) => (logs += d));
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
      const t = setTimeout(() => child.kill("SIGKILL"), 5000);
      child.once("exit", (code) => { clearTimeout(t); resolve(code); });
      child.kill("SIGTERM");
    });
  const deadline = Date.now() + 10000;
  for (const port of waitPorts) {
    while (!(await canConnect(port))) {
      if (child.exitCode !== null || Date.now() > deadline) {
        await stop();
        throw new Error(`${bin} did not start:\n${logs}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { pid: child.pid, logs: () => logs, stop };
}
