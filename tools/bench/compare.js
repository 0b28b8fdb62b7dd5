#!/usr/bin/env node
// tools/compare (this file, run through the tools/compare wrapper): natsedge
// against Debian's nats-server, or nats-server against itself (--aa).
//
// For each round and each benchmark it starts a fresh broker A, runs
// build/bench/bench against it, stops it, then does the same with broker B:
// A B A B ... Brokers run pinned to one core (taskset -c 0), the client to the
// other (taskset -c 1). Per run it records the client's BENCH line, the
// broker's CPU (utime+stime from /proc/<pid>/stat), its peak RSS (VmHWM) and
// the CPU used by anything else on the machine in the meantime (/proc/stat),
// which would make the run noisy. Only loopback, only processes it started.
'use strict';

const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..');
const BROKER_CPU = '0';
const CLIENT_CPU = '1';
const CLK_TCK = 100; // checked against getconf at start
const CLIENT_BOUND = 0.9; // client CPU share above which the client may be the limit
const REDO_OTHER = 0.3; // other processes' cores during a pair above which it is run again
const MAX_REDOS = 6;
const REDO_UNTIL_S = 130; // no reruns after this, to stay under 3 minutes

function usage(out) {
  out.write(`usage: tools/compare [--aa] [--rounds N] [--seconds S] [--warmup S] [--only a,b,...]
  --aa          nats-server against itself: the noise floor
  --rounds N    rounds of A B pairs (default 3)
  --seconds S   measured seconds per throughput run (default 1.0)
  --warmup S    seconds before measuring (default 0.25)
  --requests N  request/reply round trips measured (default 10000)
  --only LIST   benchmarks by name (see --list)
  --settle S    before each A B pair, wait for other processes to go quiet
                (< 0.15 core), at most S seconds over the whole run (default 30);
                a pair during which they used > 0.3 core is run once more
                (at most 6 pairs, none after 130 s)
  --nice N      run broker and client at nice -N (needs root): on a shared
                machine, other processes then take less of the two cores
  --list        list the benchmarks
  --report F    print the report of an earlier run again from its .json
env: NATSEDGE_BIN (default build/default/natsedge), NATS_SERVER_BIN (default
/usr/sbin/nats-server), BENCH_BIN (default build/bench/bench).
Writes the report to stdout and, with the raw runs, to build/bench/compare-*.{md,json}.
`);
}

// Throughput benchmarks report one rate; reqrep reports latencies. `per` says
// what the broker CPU is divided by.
const BENCHES = [
  { name: 'pub-16', label: 'pub 16 B', args: ['pub', '--size', '16'], metric: 'pub_rate', per: 'msgs' },
  { name: 'pub-128', label: 'pub 128 B', args: ['pub', '--size', '128'], metric: 'pub_rate', per: 'msgs' },
  { name: 'fanout4-128', label: 'fanout 1→4 128 B', args: ['fanout', '4', '--size', '128'], metric: 'deliver_rate', per: 'delivered' },
  { name: 'queue4-128', label: 'queue 4 128 B', args: ['queue', '4', '--size', '128'], metric: 'deliver_rate', per: 'delivered' },
  { name: 'pubsub-1k', label: 'pubsub 1 KiB', args: ['pubsub', '--size', '1k'], metric: 'deliver_rate', per: 'delivered' },
  { name: 'fanout4-1k', label: 'fanout 1→4 1 KiB', args: ['fanout', '4', '--size', '1k'], metric: 'deliver_rate', per: 'delivered' },
  { name: 'pub-16k', label: 'pub 16 KiB', args: ['pub', '--size', '16k'], metric: 'pub_rate', per: 'msgs' },
  { name: 'pubsub-16k', label: 'pubsub 16 KiB', args: ['pubsub', '--size', '16k'], metric: 'deliver_rate', per: 'delivered' },
  { name: 'fanout4-16k', label: 'fanout 1→4 16 KiB', args: ['fanout', '4', '--size', '16k'], metric: 'deliver_rate', per: 'delivered' },
  { name: 'queue4-16k', label: 'queue 4 16 KiB', args: ['queue', '4', '--size', '16k'], metric: 'deliver_rate', per: 'delivered' },
  { name: 'reqrep-128', label: 'reqrep 128 B', args: ['reqrep', '--size', '128', '--spin'], latency: true, per: 'msgs' },
];

function parseArgs(argv) {
  const o = { aa: false, rounds: 3, seconds: 1.0, warmup: 0.25, requests: 10000, only: null, settle: 30, nice: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    const num = (v, lo, hi) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n < lo || n > hi) throw new Error(`${a}: ${v} is not in [${lo}, ${hi}]`);
      return n;
    };
    if (a === '--aa') o.aa = true;
    else if (a === '--rounds') o.rounds = Math.floor(num(next(), 1, 20));
    else if (a === '--seconds') o.seconds = num(next(), 0.1, 30);
    else if (a === '--warmup') o.warmup = num(next(), 0, 10);
    else if (a === '--requests') o.requests = Math.floor(num(next(), 100, 1e6));
    else if (a === '--only') o.only = next().split(',').filter(Boolean);
    else if (a === '--settle') o.settle = num(next(), 0, 600);
    else if (a === '--nice') o.nice = Math.floor(num(next(), 0, 19));
    else if (a === '--list') o.list = true;
    else if (a === '--report') o.report = next();
    else if (a === '-h' || a === '--help') o.help = true;
    else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Resolves true once the broker accepts a connection and sends INFO.
function probeInfo(port, timeoutMs) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    const done = (v) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (buf.includes('\n')) done(buf.startsWith('INFO '));
    });
    sock.on('error', () => done(false));
    sock.on('close', () => done(false));
  });
}

async function waitReady(child, port, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    if (await probeInfo(port, 500)) return true;
    await sleep(20);
  }
  return false;
}

// taskset (and nice) exec the program, so the pid of the child is the program's.
function pinned(opts, cpu, argv) {
  const t = ['taskset', '-c', cpu, ...argv];
  return opts.nice > 0 ? ['nice', '-n', String(-opts.nice), ...t] : t;
}

const started = new Set(); // brokers this script started and has not yet stopped

async function stopBroker(child) {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const t = await Promise.race([exited.then(() => 'exit'), sleep(3000).then(() => 'timeout')]);
    if (t === 'timeout') {
      child.kill('SIGKILL');
      await exited;
    }
  }
  started.delete(child);
}

async function startBroker(opts, broker, logPath) {
  for (let attempt = 0; attempt < 4; attempt++) {
    const port = await freePort();
    const log = fs.openSync(logPath, 'w');
    const argv = pinned(opts, BROKER_CPU, [broker.bin, '-a', '127.0.0.1', '-p', String(port)]);
    const child = spawn(argv[0], argv.slice(1), {
      stdio: ['ignore', log, log],
    });
    fs.closeSync(log);
    started.add(child);
    if (await waitReady(child, port, 5000)) return { child, port };
    await stopBroker(child);
  }
  throw new Error(`${broker.label} (${broker.bin}) did not start; see ${logPath}`);
}

// utime and stime (fields 14 and 15), in clock ticks.
function procCpuTicks(pid) {
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return { user: Number(f[11]), sys: Number(f[12]) };
}

function procHwmKiB(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'latin1'));
  return m ? Number(m[1]) : NaN;
}

// Busy jiffies of the whole machine (all cores): user nice system irq
// softirq steal. Without IRQ time accounting (this kernel), softirq work done
// in a process's context (loopback TCP, mostly) is in that process's
// utime+stime too, so busy − broker − client is what other processes used.
function machineBusyTicks() {
  const v = fs.readFileSync('/proc/stat', 'latin1').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
}

// Waits (bounded by the remaining budget) until other processes use less
// than `maxCores` for a 300 ms sample: nothing of ours runs between pairs, so
// whatever is busy then belongs to someone else and would skew the pair.
async function settle(state, maxCores) {
  const t0 = Date.now();
  for (;;) {
    const b0 = machineBusyTicks();
    await sleep(300);
    const cores = (machineBusyTicks() - b0) / CLK_TCK / 0.3;
    const waited = (Date.now() - t0) / 1000;
    if (cores <= maxCores || waited >= state.budgetS) {
      state.budgetS = Math.max(0, state.budgetS - waited);
      state.waitedS += waited;
      if (cores > maxCores) state.unsettled++;
      return cores;
    }
  }
}

function parseBenchLine(stdout) {
  const line = stdout.split('\n').find((l) => l.startsWith('BENCH '));
  if (!line) return null;
  const r = {};
  const re = /(\w+)=("([^"]*)"|\S+)/g;
  let m;
  while ((m = re.exec(line)) !== null) r[m[1]] = m[3] !== undefined ? m[3] : m[2];
  for (const k of Object.keys(r)) if (k !== 'mode' && k !== 'error' && r[k] !== '' && !Number.isNaN(Number(r[k]))) r[k] = Number(r[k]);
  return r;
}

async function runOne(opts, broker, bench, benchBin, logDir) {
  const logPath = path.join(logDir, `${broker.key}.log`);
  const { child, port } = await startBroker(opts, broker, logPath);
  const pid = child.pid;
  const args = [...bench.args, '--port', String(port), '--quiet', '--warmup', String(opts.warmup)];
  if (bench.latency) args.push('--count', String(opts.requests));
  else args.push('--duration', String(opts.seconds));
  const cpu0 = procCpuTicks(pid);
  const busy0 = machineBusyTicks();
  const t0 = process.hrtime.bigint();
  const argv = pinned(opts, CLIENT_CPU, [benchBin, ...args]);
  const res = spawnSync(argv[0], argv.slice(1), {
    encoding: 'utf8',
    timeout: 60000,
  });
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu1 = procCpuTicks(pid);
  const busy1 = machineBusyTicks();
  const hwm = procHwmKiB(pid);
  await stopBroker(child);
  const r = parseBenchLine(res.stdout || '') || { ok: 0, error: `bench exited ${res.status}: ${(res.stderr || '').trim().slice(0, 300)}` };
  r.broker = broker.key;
  r.bench = bench.name;
  r.wall_s = wallS;
  r.broker_user_s = (cpu1.user - cpu0.user) / CLK_TCK;
  r.broker_sys_s = (cpu1.sys - cpu0.sys) / CLK_TCK;
  r.broker_cpu_s = r.broker_user_s + r.broker_sys_s;
  r.broker_core = r.broker_cpu_s / wallS;
  r.client_core = typeof r.cpu_s === 'number' ? r.cpu_s / wallS : NaN;
  r.other_core = Math.max(0, ((busy1 - busy0) / CLK_TCK - r.broker_cpu_s - (r.cpu_s || 0)) / wallS);
  r.rss_mib = hwm / 1024;
  const per = r[bench.per];
  r.cpu_ns_per_msg = per > 0 ? (r.broker_cpu_s * 1e9) / per : NaN;
  r.user_ns_per_msg = per > 0 ? (r.broker_user_s * 1e9) / per : NaN;
  r.sys_ns_per_msg = per > 0 ? (r.broker_sys_s * 1e9) / per : NaN;
  if (res.stderr && res.stderr.trim() && r.ok !== 1) r.stderr = res.stderr.trim().slice(0, 300);
  return r;
}

function median(xs) {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const h = Math.floor(v.length / 2);
  return v.length % 2 ? v[h] : (v[h - 1] + v[h]) / 2;
}

function fmtRate(x) {
  if (!Number.isFinite(x)) return '–';
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)} M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)} k`;
  return x.toFixed(0);
}
const fmt = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '–');

// The rows of one benchmark: one per metric, each with medians and the ratio
// B/A of every round pair.
function metricsOf(bench) {
  if (bench.latency) {
    return [
      { key: 'p50_ns', label: 'p50 latency µs', scale: 1e-3, lowerBetter: true },
      { key: 'p99_ns', label: 'p99 latency µs', scale: 1e-3, lowerBetter: true },
      { key: 'p999_ns', label: 'p99.9 latency µs', scale: 1e-3, lowerBetter: true },
      { key: 'max_ns', label: 'max latency µs', scale: 1e-3, lowerBetter: true },
    ];
  }
  const label = bench.metric === 'pub_rate' ? 'published msgs/s' : 'delivered msgs/s';
  return [{ key: bench.metric, label, rate: true }];
}

function summarize(bench, runsA, runsB) {
  const rows = [];
  const failures = [...runsA, ...runsB].filter((r) => r.ok !== 1);
  for (const m of metricsOf(bench)) {
    const val = (r) => (r.ok === 1 ? r[m.key] : NaN);
    const a = runsA.map(val);
    const b = runsB.map(val);
    const ratios = a.map((x, i) => (Number.isFinite(x) && Number.isFinite(b[i]) && x > 0 ? b[i] / x : NaN));
    const ok = ratios.filter(Number.isFinite);
    // A client near a full core may be what limits the rate: the ratio is
    // then only a bound (>= when it limited B, <= when it limited A).
    const busy = (runs) => !bench.latency && runs.some((r) => r.ok === 1 && r.client_cpu >= CLIENT_BOUND);
    rows.push({
      metric: m,
      boundA: busy(runsA),
      boundB: busy(runsB),
      medA: median(a),
      medB: median(b),
      ratios,
      ratioMed: median(ratios),
      ratioMin: ok.length ? Math.min(...ok) : NaN,
      ratioMax: ok.length ? Math.max(...ok) : NaN,
    });
  }
  const cpuRatios = runsA.map((r, i) => (runsB[i] ? runsB[i].cpu_ns_per_msg / r.cpu_ns_per_msg : NaN)).filter(Number.isFinite);
  const cost = {
    cpuRatioMed: median(cpuRatios),
    cpuRatioMin: cpuRatios.length ? Math.min(...cpuRatios) : NaN,
    cpuRatioMax: cpuRatios.length ? Math.max(...cpuRatios) : NaN,
    cpuA: median(runsA.map((r) => r.cpu_ns_per_msg)),
    cpuB: median(runsB.map((r) => r.cpu_ns_per_msg)),
    userA: median(runsA.map((r) => r.user_ns_per_msg)),
    userB: median(runsB.map((r) => r.user_ns_per_msg)),
    sysA: median(runsA.map((r) => r.sys_ns_per_msg)),
    sysB: median(runsB.map((r) => r.sys_ns_per_msg)),
    rssA: Math.max(...runsA.map((r) => r.rss_mib)),
    rssB: Math.max(...runsB.map((r) => r.rss_mib)),
    coreA: median(runsA.map((r) => r.broker_core)),
    coreB: median(runsB.map((r) => r.broker_core)),
    clientA: median(runsA.map((r) => r.client_cpu)),
    clientB: median(runsB.map((r) => r.client_cpu)),
    other: Math.max(...[...runsA, ...runsB].map((r) => r.other_core)),
  };
  return { bench, rows, cost, failures };
}

function report(opts, A, B, summaries, meta) {
  const out = [];
  const p = (s = '') => out.push(s);
  p(`# tools/compare: ${B.label} / ${A.label}${opts.aa ? ' (A/A: noise floor)' : ''}`);
  p();
  p(`machine: ${meta.nproc} cores, ${meta.cpu}, kernel ${meta.kernel}; ${meta.date}`);
  p(`A = ${A.label}: ${A.bin} (${meta.versionA})`);
  p(`B = ${B.label}: ${B.bin} (${meta.versionB})`);
  p(`broker taskset -c ${BROKER_CPU}, client taskset -c ${CLIENT_CPU}; ${opts.rounds} rounds A B, fresh broker per run; ` +
    `${opts.seconds} s measured after ${opts.warmup} s warm-up; reqrep ${opts.requests} requests (client busy-polls)` +
    `${opts.nice ? `; broker and client at nice -${opts.nice}` : ''}`);
  p(`load average before: ${meta.loadBefore}; after: ${meta.loadAfter}; total ${meta.elapsedS.toFixed(0)} s, ` +
    `of which ${meta.settle.waitedS.toFixed(0)} s waiting for other processes to go quiet` +
    `${meta.settle.unsettled ? ` (${meta.settle.unsettled} pairs started while they were not)` : ''}` +
    `${meta.redos ? `; ${meta.redos} pairs run again because others got busy during them` : ''}`);
  p();
  p(`| benchmark | metric | ${A.label} median | ${B.label} median | B/A median | B/A per round | B/A min–max |`);
  p('| --- | --- | ---: | ---: | ---: | --- | --- |');
  const clientBound = [];
  for (const s of summaries) {
    for (const r of s.rows) {
      const f = (x) => (r.metric.rate ? fmtRate(x) : fmt(x * r.metric.scale, 1));
      const mark = r.boundB && !r.boundA ? '≥ ' : r.boundA && !r.boundB ? '≤ ' : r.boundA ? '? ' : '';
      if (mark) clientBound.push(s.bench.label);
      p(`| ${s.bench.label} | ${r.metric.label} | ${f(r.medA)} | ${f(r.medB)} | ${mark}${fmt(r.ratioMed)} | ` +
        `${r.ratios.map((x) => fmt(x)).join(' ')} | ${fmt(r.ratioMin)}–${fmt(r.ratioMax)} |`);
    }
  }
  if (clientBound.length) {
    p();
    p(`Client-bound (the client used ≥ ${CLIENT_BOUND} of its core in some run, so it may have set the pace): ` +
      `${clientBound.join(', ')}. ≥: only B was client-bound, B/A is a lower bound; ≤: only A was, an upper ` +
      'bound; ?: both were.');
  }
  p();
  p('Broker cost: CPU per message (utime+stime over the run, per delivered message; pub: per published ' +
    'message; reqrep: per request) with the B/A ratio of each round pair; peak RSS (largest VmHWM of the runs); ' +
    'cores = CPU seconds per wall second of the run; other load = cores used by other processes meanwhile.');
  p();
  p(`| benchmark | CPU ns/msg A | CPU ns/msg B | B/A median | B/A min–max | peak RSS MiB A | peak RSS MiB B | B/A | broker core A / B | client core A / B | other load (max) |`);
  p('| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- | --- | ---: |');
  for (const s of summaries) {
    const c = s.cost;
    p(`| ${s.bench.label} | ${fmt(c.cpuA, 0)} | ${fmt(c.cpuB, 0)} | ${fmt(c.cpuRatioMed)} | ` +
      `${fmt(c.cpuRatioMin)}–${fmt(c.cpuRatioMax)} | ${fmt(c.rssA, 1)} | ` +
      `${fmt(c.rssB, 1)} | ${fmt(c.rssB / c.rssA, 3)} | ${fmt(c.coreA)} / ${fmt(c.coreB)} | ` +
      `${fmt(c.clientA)} / ${fmt(c.clientB)} | ${fmt(c.other)} |`);
  }
  p();
  p('Where the broker CPU goes: user time (the broker\'s own code) and system time (the kernel: socket ' +
    'copies, TCP, and on loopback the receiving side\'s TCP work too), ns per message, medians.');
  p();
  p(`| benchmark | user ns/msg A | user ns/msg B | user B/A | system ns/msg A | system ns/msg B | system B/A |`);
  p('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const s of summaries) {
    const c = s.cost;
    p(`| ${s.bench.label} | ${fmt(c.userA, 0)} | ${fmt(c.userB, 0)} | ${fmt(c.userB / c.userA)} | ` +
      `${fmt(c.sysA, 0)} | ${fmt(c.sysB, 0)} | ${fmt(c.sysB / c.sysA)} |`);
  }
  const failures = summaries.flatMap((s) => s.failures);
  if (failures.length) {
    p();
    p('FAILED runs (no rate reported for them):');
    for (const f of failures) p(`- ${f.bench} on ${f.broker}: ${f.error || 'unknown'}${f.stderr ? ` (${f.stderr})` : ''}`);
  }
  if (opts.aa) {
    p();
    const worst = summaries.map((s) => {
      const devs = s.rows.flatMap((r) => r.ratios.filter(Number.isFinite).map((x) => Math.abs(x - 1)));
      const cpu = [s.cost.cpuRatioMin, s.cost.cpuRatioMax].filter(Number.isFinite).map((x) => Math.abs(x - 1));
      return { label: s.bench.label, dev: devs.length ? Math.max(...devs) : NaN, cpu: cpu.length ? Math.max(...cpu) : NaN };
    });
    p('Noise floor (largest |B/A − 1| of any round pair; rate or latency, then CPU per message): ' +
      worst.map((w) => `${w.label} ${fmt(w.dev * 100, 0)}% / ${fmt(w.cpu * 100, 0)}%`).join('; '));
  }
  const noisy = summaries.filter((s) => s.cost.other > 0.2);
  if (noisy.length) {
    p();
    p(`WARNING: other processes used > 0.2 core during: ${noisy.map((s) => s.bench.label).join(', ')}; ` +
      'those rows are noisier than the floor.');
  }
  return out.join('\n') + '\n';
}

function firstLine(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 5000 });
  return ((r.stdout || '') + (r.stderr || '')).trim().split('\n')[0] || '?';
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`compare: ${e.message}\n`);
    usage(process.stderr);
    return 2;
  }
  if (opts.help) {
    usage(process.stdout);
    return 0;
  }
  if (opts.report) {
    const saved = JSON.parse(fs.readFileSync(opts.report, 'utf8'));
    const benches = BENCHES.filter((b) => saved.runs.A[b.name]);
    const summaries = benches.map((b) => summarize(b, saved.runs.A[b.name], saved.runs.B[b.name]));
    process.stdout.write(report(saved.opts, saved.A, saved.B, summaries, saved.meta));
    return 0;
  }
  if (opts.list) {
    for (const b of BENCHES) process.stdout.write(`${b.name}\t${b.label}\n`);
    return 0;
  }
  process.chdir(ROOT);
  const benchBin = path.resolve(process.env.BENCH_BIN || 'build/bench/bench');
  const natsServer = process.env.NATS_SERVER_BIN || '/usr/sbin/nats-server';
  const natsedge = path.resolve(process.env.NATSEDGE_BIN || 'build/default/natsedge');
  const A = { key: 'A', label: 'nats-server', bin: natsServer };
  const B = opts.aa
    ? { key: 'B', label: 'nats-server (B)', bin: natsServer }
    : { key: 'B', label: 'natsedge', bin: natsedge };
  if (opts.aa) A.label = 'nats-server (A)';
  for (const f of [benchBin, A.bin, B.bin]) {
    try {
      fs.accessSync(f, fs.constants.X_OK);
    } catch {
      process.stderr.write(`compare: ${f} is missing or not executable` +
        (f === natsedge ? ' (build it with make, set NATSEDGE_BIN, or run tools/compare --aa)' : '') + '\n');
      return 2;
    }
  }
  const tck = Number(firstLine('getconf', ['CLK_TCK']));
  if (tck !== CLK_TCK) {
    process.stderr.write(`compare: CLK_TCK is ${tck}, expected ${CLK_TCK}\n`);
    return 2;
  }
  if (os.cpus().length < 2) {
    process.stderr.write('compare: needs 2 cores (broker and client pinned apart)\n');
    return 2;
  }
  const benches = opts.only ? BENCHES.filter((b) => opts.only.includes(b.name)) : BENCHES;
  if (benches.length === 0) {
    process.stderr.write('compare: --only matched no benchmark (see --list)\n');
    return 2;
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const logDir = path.resolve('build/bench/logs');
  fs.mkdirSync(logDir, { recursive: true });
  const meta = {
    nproc: os.cpus().length,
    cpu: (/model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'latin1')) || [])[1] || '?',
    kernel: os.release(),
    date: new Date().toISOString(),
    versionA: firstLine(A.bin, ['--version']),
    versionB: opts.aa ? firstLine(B.bin, ['--version'])
      : `${firstLine(B.bin, ['--version'])}; tree ${firstLine('git', ['log', '-1', '--format=%h'])}`,
    loadBefore: fs.readFileSync('/proc/loadavg', 'latin1').split(' ').slice(0, 3).join(' '),
  };
  const onSignal = async () => {
    for (const c of [...started]) await stopBroker(c);
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const t0 = Date.now();
  const runs = { A: new Map(), B: new Map() };
  for (const b of benches) {
    runs.A.set(b.name, []);
    runs.B.set(b.name, []);
  }
  const settleState = { budgetS: opts.settle, waitedS: 0, unsettled: 0 };
  const discarded = [];
  let redos = 0;
  for (let round = 1; round <= opts.rounds; round++) {
    for (const b of benches) {
      // A pair during which other processes used more than REDO_OTHER core is
      // run again (at most MAX_REDOS times per compare, and not late in it).
      for (let attempt = 0; ; attempt++) {
        await settle(settleState, 0.15);
        const pair = [];
        for (const broker of [A, B]) {
          const r = await runOne(opts, broker, b, benchBin, logDir);
          r.round = round;
          pair.push(r);
          const v = b.latency ? `p50 ${fmt(r.p50_ns / 1e3, 1)} µs p99 ${fmt(r.p99_ns / 1e3, 1)} µs`
            : `${fmtRate(r[b.metric])} msgs/s`;
          process.stderr.write(`round ${round} ${b.name.padEnd(12)} ${broker.label.padEnd(16)} ` +
            `${r.ok === 1 ? v : `FAILED: ${r.error}`}  cpu ${fmt(r.cpu_ns_per_msg, 0)} ns/msg  ` +
            `rss ${fmt(r.rss_mib, 1)} MiB  other ${fmt(r.other_core)}\n`);
        }
        const noisy = Math.max(...pair.map((r) => r.other_core)) > REDO_OTHER;
        const late = (Date.now() - t0) / 1000 > REDO_UNTIL_S;
        if (noisy && attempt === 0 && redos < MAX_REDOS && !late) {
          redos++;
          discarded.push(...pair);
          process.stderr.write(`round ${round} ${b.name}: other processes were busy, running the pair again\n`);
          continue;
        }
        runs.A.get(b.name).push(pair[0]);
        runs.B.get(b.name).push(pair[1]);
        break;
      }
    }
  }
  meta.elapsedS = (Date.now() - t0) / 1000;
  meta.settle = settleState;
  meta.redos = redos;
  meta.loadAfter = fs.readFileSync('/proc/loadavg', 'latin1').split(' ').slice(0, 3).join(' ');
  const summaries = benches.map((b) => summarize(b, runs.A.get(b.name), runs.B.get(b.name)));
  const text = report(opts, A, B, summaries, meta);
  process.stdout.write(text);
  const base = path.resolve(`build/bench/compare-${opts.aa ? 'aa' : 'ab'}-${stamp}`);
  fs.writeFileSync(`${base}.md`, text);
  fs.writeFileSync(`${base}.json`, JSON.stringify({ opts, meta, A, B, runs: { A: Object.fromEntries(runs.A), B: Object.fromEntries(runs.B) }, discarded }, null, 1));
  process.stderr.write(`compare: report and raw runs in ${path.relative(ROOT, base)}.{md,json}\n`);
  return summaries.some((s) => s.failures.length) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  async (e) => {
    process.stderr.write(`compare: ${e.stack || e}\n`);
    for (const c of [...started]) await stopBroker(c);
    process.exit(2);
  },
);
