#!/usr/bin/env node
// tools/bench/selftest.js: proves that build/bench/bench notices what it must
// notice. A tiny NATS broker in this process (loopback, a free port) routes
// messages correctly or with one fault injected: a message dropped,
// duplicated, reordered, or given to two queue members. Each case runs the
// bench against it and checks the exit status (0 clean, 1 fault found) and
// that a failed run printed no rate. For js-multi the broker also answers the
// few JetStream requests the mode makes (streams, publish acks, durable pull
// consumers, acks, consumer info), with a publish ack dropped or sent twice,
// or a fetched message dropped. Not part of `make test`; run it after
// changing tools/bench: `node tools/bench/selftest.js`.
'use strict';

const net = require('net');
const path = require('path');
const { spawn } = require('child_process');

const ROOT = path.resolve(__dirname, '..', '..');
const BENCH = path.resolve(ROOT, process.env.BENCH_BIN || 'build/bench/bench');
const FAULT_AT = 1000; // the message (1-based, in publication order) that is faulted

function startBroker(fault) {
  const subs = []; // { conn, subject, queue, sid }
  const rr = new Map(); // queue group -> next member index
  let published = 0;
  let held = null;

  const deliver = (sub, subject, reply, payload) => {
    const hdr = reply ? `MSG ${subject} ${sub.sid} ${reply} ${payload.length}\r\n`
      : `MSG ${subject} ${sub.sid} ${payload.length}\r\n`;
    sub.conn.write(Buffer.concat([Buffer.from(hdr), payload, Buffer.from('\r\n')]));
  };

  const route = (subject, reply, payload) => {
    const matches = subs.filter((s) => s.subject === subject);
    const plain = matches.filter((s) => !s.queue);
    const groups = new Map();
    for (const s of matches.filter((x) => x.queue)) {
      if (!groups.has(s.queue)) groups.set(s.queue, []);
      groups.get(s.queue).push(s);
    }
    const targets = [...plain];
    for (const [q, members] of groups) {
      const i = (rr.get(q) || 0) % members.length;
      rr.set(q, i + 1);
      targets.push(members[i]);
      if (fault === 'queue-twice' && published === FAULT_AT) targets.push(members[(i + 1) % members.length]);
    }
    return targets.map((t) => () => deliver(t, subject, reply, payload));
  };

  // JetStream, as much as js-multi needs: streams by subject, consumer C.
  const streams = new Map(); // name -> { subject, msgs: [], acked: Set, next: 0 }
  let jsPublished = 0; // messages fetched
  const inboxSub = (reply) => subs.find((s) => s.subject.endsWith('.>') && reply.startsWith(s.subject.slice(0, -1)));
  // A reply to `inbox`; a fetched message keeps its subject and carries its ack subject.
  const send = (inbox, payload, subject = inbox, ackReply = null) => {
    const sub = inbox && inboxSub(inbox);
    if (!sub) return;
    const body = Buffer.from(payload);
    const hdr = ackReply ? `MSG ${subject} ${sub.sid} ${ackReply} ${body.length}\r\n` : `MSG ${subject} ${sub.sid} ${body.length}\r\n`;
    sub.conn.write(Buffer.concat([Buffer.from(hdr), body, Buffer.from('\r\n')]));
  };
  const onJs = (subject, reply, payload) => {
    const t = subject.split('.');
    if (subject.startsWith('$JS.API.STREAM.DELETE.')) {
      streams.delete(t[4]);
      send(reply, '{"success":true}');
    } else if (subject.startsWith('$JS.API.STREAM.CREATE.')) {
      const cfg = JSON.parse(payload.toString());
      streams.set(t[4], { subject: cfg.subjects[0], msgs: [], acked: new Set(), next: 0 });
      send(reply, `{"config":{"name":"${t[4]}"}}`);
    } else if (subject.startsWith('$JS.API.CONSUMER.DURABLE.CREATE.')) {
      send(reply, '{"name":"C"}');
    } else if (subject.startsWith('$JS.API.CONSUMER.INFO.')) {
      const st = streams.get(t[4]);
      send(reply, `{"name":"C","ack_floor":{"consumer_seq":${st.acked.size},"stream_seq":${st.acked.size}}}`);
    } else if (subject.startsWith('$JS.API.CONSUMER.MSG.NEXT.')) {
      const name = t[5];
      const st = streams.get(name);
      const { batch } = JSON.parse(payload.toString());
      for (let i = 0; i < batch && st.next < st.msgs.length; i++) {
        const seq = ++st.next;
        jsPublished++;
        if (fault === 'js-drop-fetch' && jsPublished === FAULT_AT) continue;
        send(reply, st.msgs[seq - 1], st.subject, `$JS.ACK.${name}.C.1.${seq}.${seq}.0.0`);
      }
    } else if (subject.startsWith('$JS.ACK.')) {
      streams.get(t[2]).acked.add(Number(t[5]));
    } else {
      for (const [name, st] of streams) {
        if (st.subject !== subject) continue;
        st.msgs.push(payload);
        published++;
        const ack = `{"stream":"${name}","seq":${st.msgs.length}}`;
        if (fault === 'js-drop-ack' && published === FAULT_AT) return true;
        send(reply, ack);
        if (fault === 'js-dup-ack' && published === FAULT_AT) send(reply, ack);
        return true;
      }
      return false;
    }
    return true;
  };

  const onPub = (subject, reply, payload) => {
    if ((subject.startsWith('$JS.') || streams.size > 0) && onJs(subject, reply, payload)) return;
    published++;
    const sends = route(subject, reply, payload);
    const now = () => sends.forEach((f) => f());
    if (fault === 'drop' && published === FAULT_AT) return;
    if (fault === 'reorder' && published === FAULT_AT) {
      held = now;
      return;
    }
    now();
    if (fault === 'duplicate' && published === FAULT_AT) now();
    if (held) {
      held();
      held = null;
    }
  };

  const server = net.createServer((conn) => {
    conn.setNoDelay(true);
    let buf = Buffer.alloc(0);
    conn.write('INFO {"server_id":"selftest","version":"0.0.0","max_payload":1048576,"proto":1}\r\n');
    conn.on('data', (d) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      let pos = 0;
      for (;;) {
        const nl = buf.indexOf('\n', pos);
        if (nl < 0) break;
        const line = buf.toString('latin1', pos, nl).replace(/\r$/, '');
        const t = line.split(' ');
        const verb = t[0].toUpperCase();
        if (verb === 'PUB') {
          const size = Number(t[t.length - 1]);
          if (buf.length < nl + 1 + size + 2) break;
          onPub(t[1], t.length === 4 ? t[2] : null, buf.subarray(nl + 1, nl + 1 + size));
          pos = nl + 1 + size + 2;
          continue;
        }
        pos = nl + 1;
        if (verb === 'PING') conn.write('PONG\r\n');
        else if (verb === 'SUB') subs.push({ conn, subject: t[1], queue: t.length === 4 ? t[2] : null, sid: t[t.length - 1] });
      }
      buf = buf.subarray(pos);
    });
    conn.on('error', () => {});
    conn.on('close', () => {
      for (let i = subs.length - 1; i >= 0; i--) if (subs[i].conn === conn) subs.splice(i, 1);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function runBench(port, args) {
  return new Promise((resolve) => {
    const child = spawn(BENCH, [...args, '--port', String(port), '--timeout', '3'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

const CASES = [
  { fault: 'none', args: ['pubsub', '--count', '5000'], want: 0 },
  { fault: 'none', args: ['pub', '--count', '5000', '--size', '16'], want: 0 },
  { fault: 'none', args: ['fanout', '3', '--count', '5000'], want: 0 },
  { fault: 'none', args: ['queue', '3', '--count', '5000'], want: 0 },
  { fault: 'none', args: ['reqrep', '--count', '500'], want: 0 },
  { fault: 'none', args: ['pubsub', '--count', '5000', '--size', '16k'], want: 0 },
  { fault: 'drop', args: ['pubsub', '--count', '5000'], want: 1, expect: /lost/ },
  { fault: 'drop', args: ['fanout', '3', '--count', '5000', '--size', '2'], want: 1, expect: /expected seq|lost/ },
  { fault: 'drop', args: ['queue', '3', '--count', '5000'], want: 1, expect: /lost/ },
  { fault: 'duplicate', args: ['fanout', '3', '--count', '5000'], want: 1, expect: /duplicate|extra/ },
  { fault: 'duplicate', args: ['pubsub', '--count', '5000', '--size', '16k'], want: 1, expect: /duplicate|extra/ },
  { fault: 'reorder', args: ['pubsub', '--count', '5000'], want: 1, expect: /lost|reordered/ },
  { fault: 'reorder', args: ['queue', '1', '--count', '5000'], want: 1, expect: /reordered/ },
  { fault: 'queue-twice', args: ['queue', '3', '--count', '5000'], want: 1, expect: /twice/ },
  { fault: 'drop', args: ['reqrep', '--count', `${FAULT_AT + 10}`], want: 1, expect: /no reply/ },
  { fault: 'none', args: ['js-multi', '--count', '3000'], want: 0 },
  { fault: 'none', args: ['js-multi', '16', '--count', '5000', '--batch', '32'], want: 0 },
  { fault: 'js-drop-ack', args: ['js-multi', '16', '--count', '5000'], want: 1, expect: /no ack/ },
  { fault: 'js-dup-ack', args: ['js-multi', '16', '--count', '5000'], want: 1, expect: /twice/ },
  { fault: 'js-drop-fetch', args: ['js-multi', '16', '--count', '5000'], want: 1, expect: /fetch stalled/ },
];

async function main() {
  let failed = 0;
  for (const c of CASES) {
    const server = await startBroker(c.fault);
    const { code, out } = await runBench(server.address().port, c.args);
    server.close();
    // The last BENCH line: js-multi reports its publish phase before a fetch fails.
    const line = out.split('\n').filter((l) => l.startsWith('BENCH ')).pop() || '';
    const rateShown = /(?:pub_rate|deliver_rate|rate|p50_ns)=/.test(line);
    const good = code === c.want && (c.want === 0 ? rateShown : !rateShown && c.expect.test(line));
    if (!good) failed++;
    process.stdout.write(`${good ? 'ok  ' : 'FAIL'} fault=${c.fault.padEnd(13)} ${c.args.join(' ').padEnd(36)} exit ${code}` +
      `${c.want ? `  ${(/error="([^"]*)"/.exec(line) || [])[1] || ''}` : ''}\n`);
    if (!good) process.stdout.write(out);
  }
  process.stdout.write(failed ? `selftest: ${failed} case(s) failed\n` : 'selftest: all cases passed\n');
  return failed ? 1 : 0;
}

main().then((code) => process.exit(code));
