// Installing and running natsedge as a service (issue 20): `make install`
// with PREFIX and DESTDIR, `make deb` installed into a throwaway root
// (dpkg -x) whose systemd unit's ExecStart line is run under its
// LimitNOFILE, then its reload, stop and kill signals; natsedge(8) against
// --help; the README's start-up sample against the binary. The binary under
// test is NATSEDGE_BIN (make runs with INSTALL_BIN pointing at it, so nothing
// is rebuilt). natsedge-only: nats-server has its own packaging, and the
// parity pass skips these tests. Every process is bounded in time and
// stopped by PID; the temporary roots are removed at the end.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startServer, stopAll, brokerKind, getJSON, waitFor, rawConnect, parseInfo, freePort } from "./lib/harness.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const BIN = process.env.NATSEDGE_BIN ? resolve(process.env.NATSEDGE_BIN) : "";
const natsedge = brokerKind() === "natsedge";
const skip = !natsedge && "natsedge-only: its own packaging, nats-server has Debian's";
const DIR = mkdtempSync(join(tmpdir(), "natsedge-deploy-"));
const hasDpkg = spawnSync("dpkg-deb", ["--version"], { stdio: "ignore" }).status === 0;

after(async () => {
  await stopAll();
  rmSync(DIR, { recursive: true, force: true });
});

// make, without what an enclosing `make interop` passes down (its variables,
// its jobserver): only the install targets run, on the binary under test.
function make(args) {
  const env = { ...process.env };
  for (const k of ["MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"]) delete env[k];
  const r = spawnSync("make", ["--no-print-directory", "-C", ROOT, `INSTALL_BIN=${BIN}`, ...args], {
    encoding: "utf8",
    timeout: 120000,
    env,
  });
  assert.equal(r.status, 0, `make ${args.join(" ")}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

// The [Service] settings of a unit file: key -> value (the last one wins).
function unitSettings(text) {
  const out = {};
  for (const line of text.split("\n")) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]] = m[2];
  }
  return out;
}

// The figures the start-up log gives for one pool: [count, bytes].
function poolLine(logs, name) {
  const m = new RegExp(`\\[INF\\]   ${name.replace(/[/]/g, "\\/")}\\s+(\\d+) x\\s+(\\d+) B`).exec(logs);
  return m ? [Number(m[1]), Number(m[2])] : null;
}

test("natsedge-only (its packaging): make install honours PREFIX and DESTDIR: binary, /etc/natsedge/natsedge.conf, unit, sysusers entry, natsedge(8)", { skip }, () => {
  const dest = join(DIR, "install");
  make(["install", `DESTDIR=${dest}`, "PREFIX=/opt/edge"]);
  for (const f of [
    "opt/edge/sbin/natsedge",
    "etc/natsedge/natsedge.conf",
    "opt/edge/lib/systemd/system/natsedge.service",
    "opt/edge/lib/sysusers.d/natsedge.conf",
    "opt/edge/share/man/man8/natsedge.8",
  ]) {
    assert.ok(existsSync(join(dest, f)), `${f} installed`);
  }
  assert.equal(statSync(join(dest, "opt/edge/sbin/natsedge")).mode & 0o777, 0o755);
  const unit = unitSettings(readFileSync(join(dest, "opt/edge/lib/systemd/system/natsedge.service"), "utf8"));
  assert.equal(unit.ExecStart, "/opt/edge/sbin/natsedge -c /etc/natsedge/natsedge.conf");
  // The installed configuration passes -t as installed.
  const r = spawnSync(join(dest, "opt/edge/sbin/natsedge"), ["-t", "-c", join(dest, "etc/natsedge/natsedge.conf")], { encoding: "utf8", timeout: 10000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  // A second install keeps a configuration that is there.
  const out = make(["install", `DESTDIR=${dest}`, "PREFIX=/opt/edge"]);
  assert.match(out, /keeping .*etc\/natsedge\/natsedge\.conf/);
});

test("natsedge-only (its packaging): make deb builds a package with the same files, its user created by postinst, the configuration a conffile", { skip: skip || (!hasDpkg && "dpkg-deb is not installed") }, () => {
  const debDir = join(DIR, "deb");
  make(["deb", `DEB_DIR=${debDir}`]);
  const version = spawnSync(BIN, ["-v"], { encoding: "utf8" }).stdout.match(/v(\d+\.\d+\.\d+)/)[1];
  const arch = spawnSync("dpkg", ["--print-architecture"], { encoding: "utf8" }).stdout.trim();
  const deb = join(debDir, `natsedge_${version}_${arch}.deb`);
  assert.ok(existsSync(deb), `${deb} built`);
  const field = (name) => spawnSync("dpkg-deb", ["--field", deb, name], { encoding: "utf8" }).stdout.trim();
  assert.equal(field("Package"), "natsedge");
  assert.equal(field("Version"), version);
  assert.match(field("Depends"), /libsodium23/);
  assert.match(field("Depends"), /adduser/);
  const contents = spawnSync("dpkg-deb", ["--contents", deb], { encoding: "utf8" }).stdout;
  for (const f of ["./usr/sbin/natsedge", "./etc/natsedge/natsedge.conf", "./lib/systemd/system/natsedge.service", "./usr/share/man/man8/natsedge.8.gz"]) {
    assert.ok(contents.includes(f), `${f} in the package`);
  }
  const ctrl = join(DIR, "deb-control");
  assert.equal(spawnSync("dpkg-deb", ["--control", deb, ctrl]).status, 0);
  assert.equal(readFileSync(join(ctrl, "conffiles"), "utf8").trim(), "/etc/natsedge/natsedge.conf");
  assert.match(readFileSync(join(ctrl, "postinst"), "utf8"), /adduser --system --group .*natsedge/);
});

test("natsedge-only (its packaging): the package in a throwaway root: the unit's ExecStart runs under its LimitNOFILE, ExecReload reloads, ExecStop stops, KillSignal is lame duck mode", { skip: skip || (!hasDpkg && "dpkg-deb is not installed") }, async () => {
  const debDir = join(DIR, "deb2");
  make(["deb", `DEB_DIR=${debDir}`]);
  const deb = spawnSync("bash", ["-c", `ls ${debDir}/natsedge_*.deb`], { encoding: "utf8" }).stdout.trim();
  const root = join(DIR, "root");
  assert.equal(spawnSync("dpkg", ["-x", deb, root]).status, 0);
  const unit = unitSettings(readFileSync(join(root, "lib/systemd/system/natsedge.service"), "utf8"));
  assert.equal(unit.User, "natsedge");
  assert.equal(unit.Group, "natsedge");
  assert.equal(unit.ExecReload, "/bin/kill -s HUP $MAINPID");
  assert.equal(unit.ExecStop, "/bin/kill -s SIGINT $MAINPID");
  assert.equal(unit.KillSignal, "SIGUSR2");
  const limit = Number(unit.LimitNOFILE);
  // The unit's command line, its paths moved into the throwaway root; the
  // test's own ports on loopback (flags override the file).
  const [exe, ...args] = unit.ExecStart.split(/\s+/);
  assert.equal(exe, "/usr/sbin/natsedge");
  assert.deepEqual(args, ["-c", "/etc/natsedge/natsedge.conf"]);
  const inRoot = (p) => (p.startsWith("/") ? join(root, p) : p);
  const start = () =>
    startServer({
      bin: "/usr/bin/prlimit",
      listen: false,
      ports: ["http"],
      args: (p) => [`--nofile=${limit}:${limit}`, inRoot(exe), ...args.map(inRoot), "-a", "127.0.0.1", "-p", String(p.client), "-m", String(p.http)],
    });
  const s = await start();
  // LimitNOFILE is the file descriptors the port can track: twice the
  // connection pool the binary reserved, and 64 for listeners and files.
  const [pool] = poolLine(s.logs(), "connection I/O");
  assert.equal(limit, pool * 2 + 64);
  const limits = readFileSync(`/proc/${s.pid}/limits`, "utf8");
  assert.match(limits, new RegExp(`Max open files\\s+${limit}\\s+${limit}`));
  assert.match(s.logs(), new RegExp(`Using configuration file: ${join(root, "etc/natsedge/natsedge.conf").replace(/[.]/g, "\\.")}`));
  assert.equal((await getJSON(s.ports.http, "/healthz")).status, "ok");
  const c = await rawConnect(s.port);
  assert.ok(parseInfo(await c.readUntil("\r\n")).client_id > 0);
  c.destroy();
  const signal = (cmd, pid) => {
    const [k, ...rest] = cmd.replace("$MAINPID", String(pid)).split(/\s+/);
    const r = spawnSync(k, rest, { encoding: "utf8", timeout: 5000 });
    assert.equal(r.status, 0, r.stderr);
  };
  signal(unit.ExecReload, s.pid);
  await waitFor(() => s.logs().includes("Reloaded server configuration"), 5000, "the reload");
  assert.ok(s.alive());
  signal(unit.ExecStop, s.pid);
  assert.equal(await s.waitExit(5000), 0);
  assert.match(s.logs(), /Trapped "interrupt" signal/);
  // What ExecStop leaves gets KillSignal: lame duck mode, then exit 0
  // (no client connected).
  const t = await start();
  // No client at all: the start-up probe's connection closed (on a loaded
  // machine it may still be open, and lame duck mode would wait out its
  // 10 s grace period for it).
  await waitFor(async () => (await getJSON(t.ports.http, "/connz")).num_connections === 0, 10000, "no client connected");
  process.kill(t.pid, unit.KillSignal);
  await waitFor(() => t.logs().includes("Entering lame duck mode"), 5000, "lame duck mode");
  assert.equal(await t.waitExit(10000), 0);
});

// The command `make <target> PORT= HTTP_PORT=` runs, as make prints it (-n;
// -o keeps make from building what the target depends on), split into words.
function makeCommand(target, keep, vars, program) {
  const env = { ...process.env };
  for (const k of ["MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"]) delete env[k];
  const r = spawnSync("make", ["--no-print-directory", "-n", "-o", keep, "-C", ROOT, target, ...vars], {
    encoding: "utf8",
    timeout: 60000,
    env,
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const line = r.stdout.replace(/\\\n/g, " ").split("\n").find((l) => l.trim().startsWith(program));
  assert.ok(line, `make -n ${target} prints a ${program} command:\n${r.stdout}`);
  return line.trim().split(/\s+/);
}

test("natsedge-only (its Makefile): make run PORT= HTTP_PORT= serves clients and monitoring on those ports", { skip }, async () => {
  const port = await freePort();
  const http = await freePort();
  const words = makeCommand("run", "all", [`PORT=${port}`, `HTTP_PORT=${http}`], "build/");
  assert.deepEqual(words.slice(1), ["-a", "127.0.0.1", "-p", String(port), "-m", String(http)]);
  const child = spawn(BIN, words.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stderr.on("data", (d) => (log += d));
  child.stdout.on("data", (d) => (log += d));
  const exited = new Promise((r) => child.once("exit", r));
  try {
    await waitFor(() => /Server is ready/.test(log), 10000, "the broker is ready");
    const c = await rawConnect(port);
    const info = parseInfo(await c.readUntil("\r\n", 5000));
    c.destroy();
    assert.equal(info.port, port);
    const varz = await getJSON(http, "/varz");
    assert.equal(varz.port, port);
    assert.equal(varz.http_port, http);
  } finally {
    child.kill("SIGTERM");
    const t = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(t);
  }
});

test("natsedge-only (its docs): every relative link of README.md, differences.md and docs/*.md names a file of the repository", { skip }, () => {
  const files = ["README.md", "differences.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
  const broken = [];
  let links = 0;
  for (const f of files) {
    const text = readFileSync(join(ROOT, f), "utf8").replace(/```[\s\S]*?```/g, "");
    for (const [, url] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(url) || url.startsWith("#")) continue;
      links++;
      const target = resolve(ROOT, dirname(f), url.split("#")[0]);
      if (!target.startsWith(ROOT + "/") || !existsSync(target)) broken.push(`${f}: ${url}`);
    }
  }
  assert.ok(links > 20, `the documents' links are found (${links})`);
  assert.deepEqual(broken, []);
});

test("natsedge-only (its README): the footprint table in README.md adds up and gives docs/footprint.md's tiny figures", { skip }, () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const fp = readFileSync(join(ROOT, "docs/footprint.md"), "utf8");
  const tiny = fp.slice(fp.indexOf("## tiny on Cortex-M3"), fp.indexOf("## gateway"));
  const row = (text, re) => {
    const m = re.exec(text);
    assert.ok(m, `a row ${re}`);
    return m.slice(1).map(Number);
  };
  const [natsFlash, natsRam] = row(tiny, /^\| natsedge \(no lwIP\/TLS\) \| \d+ \| \d+ \| \d+ \| \d+ \| (\d+) \| (\d+) \|$/m);
  const [allFlash, allRam] = row(tiny, /^\| \*\*whole image\*\* \|[^|]*\|[^|]*\|[^|]*\|[^|]*\| \*\*(\d+)\*\* \| \*\*(\d+)\*\* \|$/m);
  const table = readme.slice(readme.indexOf("| module | flash | RAM |"));
  const body = table.slice(0, table.indexOf("**natsedge**"));
  let flash = 0;
  let ram = 0;
  for (const [, f, r] of body.matchAll(/^\| [^*|][^|]* \| (\d+) \| (\d+) \|$/gm)) {
    flash += Number(f);
    ram += Number(r);
  }
  assert.deepEqual(row(table, /^\| \*\*natsedge\*\*[^|]*\| \*\*(\d+)\*\* \| \*\*(\d+)\*\* \|$/m), [natsFlash, natsRam]);
  assert.deepEqual([flash, ram], [natsFlash, natsRam], "the README's rows add up to natsedge");
  assert.deepEqual(row(table, /^\| \*\*whole firmware\*\*[^|]*\| \*\*(\d+)\*\* \| \*\*(\d+)\*\* \|$/m), [allFlash, allRam]);
});

test("natsedge-only (its man page): natsedge(8) documents exactly the flags of --help and renders without warnings (tools/check-man.sh)", { skip }, () => {
  const r = spawnSync("bash", [join(ROOT, "tools/check-man.sh"), BIN, join(ROOT, "dist/natsedge.8")], { encoding: "utf8", timeout: 30000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test("natsedge-only (its README): the start-up sample in README.md lists the pools and counts the binary prints", { skip }, async () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const block = readme.match(/On start-up it prints[\s\S]*?```\n([\s\S]*?)```/)[1];
  const s = await startServer({});
  const logs = s.logs();
  await s.stop();
  const pools = [...block.matchAll(/\[INF\]   (\S+(?: \S+)*?)\s+(\d+) x\s+\d+ B/g)];
  assert.ok(pools.length >= 10, "the sample lists the pools");
  for (const [, name, count] of pools) {
    const got = poolLine(logs, name);
    assert.ok(got, `the binary prints the pool "${name}"`);
    assert.equal(got[0], Number(count), `${name}: count`);
  }
  const printed = [...logs.matchAll(/\[INF\]   (\S+(?: \S+)*?)\s+\d+ x\s+\d+ B/g)].map((m) => m[1]);
  assert.deepEqual(pools.map((m) => m[1]), printed, "the same pools in the same order");
  for (const line of ["Starting natsedge", "Static memory reserved", "Server is ready"]) {
    assert.ok(block.includes(line) && logs.includes(line), line);
  }
});
