/* Structure-aware libFuzzer harness for the whole server over the simulated
 * network: four clients in two accounts (a stream and a service import
 * between them, a user with permissions, no-responders and headers) and a
 * leaf peer on the leaf listener. The input is read as a program of
 * operations, each naming an actor and building a verb whose fields are
 * generated near the compiled limits (subject, token, sid, queue, reply,
 * header and payload sizes, the control line): below, at and one past each.
 * Raw bytes, closes and reconnects, slow readers and idle turns are
 * operations too. The server must never crash (ASan, UBSan), and after
 * shutdown every pool must be back to idle. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/ne_conf.h"
#include "core/ne_error.h"
#include "server/ne_server.h"
#include "server/ne_server_conf.h"
#include "sim/ne_sim_net.h"

#define CLIENTS 4
#define ACTORS (CLIENTS + 1) /* the last one is the leaf peer */
#define MAX_OPS 256
#define LINE_CAP (NE_MAX_CONTROL_LINE_BYTES + 8192)

static ne_server srv;
static ne_sim_net sim;
static ne_conf conf;
static ne_server_options opts;
static ne_loop loop;
static int actor[ACTORS];
static uint8_t sink[NE_SIM_BUFFER_BYTES];
static char line[LINE_CAP];

static const char config_text[] =
    "accounts {\n"
    "  A { users [ { user: a, password: a }, { user: a2, password: a2 } ]\n"
    "      exports [ { stream: \"pub.>\" }, { service: \"svc.>\" } ] }\n"
    "  B { users [ { user: b, password: b, permissions {\n"
    "        publish { deny: [ \"secret.>\" ] }\n"
    "        subscribe { allow: [ \"imp.>\", \"x.>\", \"_INBOX.>\", \"svc.>\" ] } } },\n"
    "        { user: b2, password: b2 } ]\n"
    "      imports [ { stream: { account: A, subject: \"pub.>\" }, prefix: imp },\n"
    "                { service: { account: A, subject: \"svc.>\" }, to: \"svc.>\" } ] }\n"
    "}\n"
    "leafnodes { listen: \"127.0.0.1:7422\" }\n";

static const char *const logins[CLIENTS] = {"a", "a2", "b", "b2"};

static void fail_if(int cond, const char *what)
{
    if (cond) {
        fprintf(stderr, "fuzz_server: %s\n", what);
        abort();
    }
}

/* ---- Reading the program ---------------------------------------------------------- */

typedef struct program {
    const uint8_t *data;
    size_t size;
    size_t pos;
} program;

static uint8_t next(program *p)
{
    return p->pos < p->size ? p->data[p->pos++] : 0;
}

static uint32_t next16(program *p)
{
    return (uint32_t)next(p) << 8 | next(p);
}

/* A length near one of the limits that matter, picked by one byte. */
static size_t near_limit(program *p, size_t cap)
{
    uint8_t b = next(p);
    size_t limits[] = {
        NE_TOKEN_BYTES,         NE_SUB_TEXT_BYTES,
        NE_PERM_SUBJECT_BYTES,  NE_MAX_CONTROL_LINE_BYTES,
        NE_CHUNK_BYTES,         NE_CONN_READ_BUFFER_BYTES,
        4096 /* max_payload */, 128 /* sid */,
    };
    size_t n;
    switch (b & 3) {
    case 0:
        n = (size_t)(b >> 2) % 9; /* short */
        break;
    case 1:
        n = next16(p) % (cap + 1);
        break;
    default: {
        size_t limit = limits[(b >> 2) % (sizeof(limits) / sizeof(limits[0]))];
        int delta = (int)((b >> 5) % 5) - 2; /* limit-2 .. limit+2 */
        n = (size_t)((int)limit + delta);
        break;
    }
    }
    return n < cap ? n : cap;
}

/* A subject of about `len` bytes from tokens that match one another, the
 * import's and the permissions' subjects, and wildcards when allowed. */
static size_t make_subject(program *p, char *out, size_t len, bool wildcards)
{
    static const char *const tokens[] = {"pub", "svc", "imp", "x", "secret", "a", "_INBOX", "$LDS"};
    size_t n = 0;
    uint32_t count = 0;
    while (n < len && count++ < 4096) {
        if (n > 0) {
            out[n++] = '.';
            if (n >= len) {
                break;
            }
        }
        uint8_t b = next(p);
        const char *tok;
        char longtok[NE_TOKEN_BYTES + 3];
        if (wildcards && (b & 0x0f) == 1) {
            tok = (b & 0x10) != 0 ? ">" : "*";
        } else if ((b & 0x0f) == 2) {
            /* One long token, near NE_TOKEN_BYTES. */
            size_t t = NE_TOKEN_BYTES - 2 + (size_t)(b >> 4) % 4;
            memset(longtok, 'a' + (b >> 6), t);
            longtok[t] = '\0';
            tok = longtok;
        } else {
            tok = tokens[b % (sizeof(tokens) / sizeof(tokens[0]))];
        }
        size_t t = strlen(tok);
        if (t > len - n) {
            t = len - n;
        }
        memcpy(out + n, tok, t);
        n += t;
    }
    if (n == 0 && len > 0) {
        out[n++] = 'x';
    }
    return n;
}

static size_t fill(char *out, size_t len, char c)
{
    memset(out, c, len);
    return len;
}

/* ---- Actors ------------------------------------------------------------------------ */

static void drain(int a)
{
    if (actor[a] >= 0) {
        (void)ne_sim_client_read(&sim, actor[a], sink, sizeof(sink));
    }
}

static void step(int n)
{
    for (int i = 0; i < n; i++) {
        ne_sim_net_step(&sim, &loop);
        for (int a = 0; a < ACTORS; a++) {
            drain(a);
        }
    }
}

static void send_bytes(int a, const char *bytes, size_t len)
{
    if (actor[a] >= 0 && len > 0) {
        (void)ne_sim_client_write(&sim, actor[a], bytes, len);
    }
}

static void send_text(int a, const char *text)
{
    send_bytes(a, text, strlen(text));
}

static void connect_actor(int a)
{
    uint16_t port = a < CLIENTS ? ne_server_client_port(&srv) : ne_server_leaf_port(&srv);
    actor[a] = ne_sim_connect(&sim, port);
    if (actor[a] < 0) {
        return;
    }
    step(1);
    char text[256];
    if (a < CLIENTS) {
        snprintf(text, sizeof(text),
                 "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,"
                 "\"no_responders\":true,\"protocol\":1,\"user\":\"%s\",\"pass\":\"%s\"}\r\n",
                 logins[a], logins[a]);
    } else {
        snprintf(
            text, sizeof(text),
            "CONNECT {\"name\":\"fuzzleaf\",\"headers\":true,\"user\":\"a\",\"pass\":\"a\"}\r\n");
    }
    send_text(a, text);
    step(2);
}

static void reconnect(int a)
{
    if (actor[a] >= 0) {
        ne_sim_client_close(&sim, actor[a]);
        step(2);
        ne_sim_release(&sim, actor[a]);
        actor[a] = -1;
    }
    connect_actor(a);
}

/* One verb of a client, its fields near the limits. */
static void client_op(program *p, int a, uint8_t op)
{
    char subject[NE_MAX_CONTROL_LINE_BYTES + 8];
    char reply[NE_MAX_CONTROL_LINE_BYTES + 8];
    char extra[NE_MAX_CONTROL_LINE_BYTES + 8];
    size_t n = 0;
    switch (op % 9) {
    case 0: { /* SUB subject [queue] sid */
        size_t sl = make_subject(p, subject, near_limit(p, sizeof(subject) - 1), true);
        size_t ql = (next(p) & 1) != 0 ? fill(extra, near_limit(p, 300), 'q') : 0;
        size_t il = near_limit(p, 300);
        il = il == 0 ? 1 : il;
        n = (size_t)snprintf(line, sizeof(line), "SUB %.*s%s%.*s ", (int)sl, subject,
                             ql > 0 ? " " : "", (int)ql, extra);
        n += fill(line + n, il < sizeof(line) - n - 2 ? il : 1, '1' + (next(p) % 8));
        n += (size_t)snprintf(line + n, sizeof(line) - n, "\r\n");
        break;
    }
    case 1: /* UNSUB sid [max] */
        n = (size_t)snprintf(line, sizeof(line), "UNSUB %c%s\r\n", '1' + (next(p) % 8),
                             (next(p) & 1) != 0 ? " 2" : "");
        break;
    case 2:   /* PUB subject [reply] size */
    case 3: { /* HPUB subject [reply] hdr total */
        size_t sl = make_subject(p, subject, near_limit(p, sizeof(subject) - 1), false);
        size_t rl = (next(p) & 1) != 0 ? make_subject(p, reply, near_limit(p, 300), false) : 0;
        size_t pl = near_limit(p, 5000);
        bool hdr = op % 9 == 3;
        size_t hl = 0;
        char hbuf[600];
        if (hdr) {
            size_t vl = near_limit(p, 500);
            hl = (size_t)snprintf(
                hbuf, sizeof(hbuf), "NATS/1.0\r\nK: %.*s\r\n\r\n", (int)vl,
                "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"
                "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"
                "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"
                "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"
                "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"
                "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"
                "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"
                "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv");
            if (hl >= sizeof(hbuf)) {
                hl = sizeof(hbuf) - 1;
            }
        }
        if (hdr) {
            n = (size_t)snprintf(line, sizeof(line), "HPUB %.*s%s%.*s %zu %zu\r\n", (int)sl,
                                 subject, rl > 0 ? " " : "", (int)rl, reply, hl, hl + pl);
        } else {
            n = (size_t)snprintf(line, sizeof(line), "PUB %.*s%s%.*s %zu\r\n", (int)sl, subject,
                                 rl > 0 ? " " : "", (int)rl, reply, pl);
        }
        if (n >= sizeof(line)) {
            return;
        }
        send_bytes(a, line, n);
        send_bytes(a, hbuf, hl);
        n = fill(line, pl < sizeof(line) - 2 ? pl : 0, 'p');
        line[n++] = '\r';
        line[n++] = '\n';
        break;
    }
    case 4:
        n = (size_t)snprintf(line, sizeof(line), "PING\r\n");
        break;
    case 5: { /* raw bytes from the program */
        size_t len = next(p);
        for (size_t i = 0; i < len; i++) {
            line[n++] = (char)next(p);
        }
        break;
    }
    case 6:
        reconnect(a);
        return;
    case 7: /* a slow reader: a small window for a while */
        if (actor[a] >= 0) {
            ne_sim_set_client_window(&sim, actor[a], (size_t)next(p) * 64);
        }
        return;
    default:
        step(1 + next(p) % 4);
        return;
    }
    if (n < sizeof(line)) {
        send_bytes(a, line, n);
    }
}

/* One verb of the leaf peer: LS+, LS-, LMSG, HMSG, raw bytes. */
static void leaf_op(program *p, uint8_t op)
{
    char subject[NE_MAX_CONTROL_LINE_BYTES + 8];
    char extra[1024];
    size_t n = 0;
    size_t sl = make_subject(p, subject, near_limit(p, sizeof(subject) - 1), (op & 1) == 0);
    switch (op % 5) {
    case 0: { /* LS+ subject [queue weight] */
        size_t ql = (next(p) & 1) != 0 ? fill(extra, near_limit(p, 300), 'g') : 0;
        n = (size_t)snprintf(line, sizeof(line), "LS+ %.*s%s%.*s%s\r\n", (int)sl, subject,
                             ql > 0 ? " " : "", (int)ql, extra, ql > 0 ? " 1" : "");
        break;
    }
    case 1:
        n = (size_t)snprintf(line, sizeof(line), "LS- %.*s\r\n", (int)sl, subject);
        break;
    case 2:
    case 3: { /* LMSG subject [reply] [| queues] size */
        size_t pl = near_limit(p, 5000);
        size_t ql = (next(p) & 1) != 0 ? fill(extra, near_limit(p, 300), 'g') : 0;
        n = (size_t)snprintf(line, sizeof(line), "LMSG %.*s%s%.*s %zu\r\n", (int)sl, subject,
                             ql > 0 ? " | " : "", (int)ql, extra, pl);
        if (n >= sizeof(line)) {
            return;
        }
        send_bytes(CLIENTS, line, n);
        n = fill(line, pl < sizeof(line) - 2 ? pl : 0, 'l');
        line[n++] = '\r';
        line[n++] = '\n';
        break;
    }
    default: {
        size_t len = next(p);
        for (size_t i = 0; i < len; i++) {
            line[n++] = (char)next(p);
        }
        break;
    }
    }
    if (n < sizeof(line)) {
        send_bytes(CLIENTS, line, n);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const ne_conf_io io = {NULL, NULL, NULL};
    ne_board_settings board;
    memset(&board, 0, sizeof(board));
    ne_server_options_default(&opts);
    char err[256];
    fail_if(ne_conf_parse_text(&conf, "fuzz.conf", config_text, sizeof(config_text) - 1, &io) !=
                NE_OK,
            ne_conf_error(&conf));
    fail_if(ne_server_apply_conf(&conf, &opts, &board, err, sizeof(err)) != NE_OK, err);
    opts.port = 0;
    opts.leaf.listen_port = 0;
    opts.max_payload = 4096;
    opts.max_pending = 64 * 1024;
    ne_net net;
    ne_sim_net_init(&sim, &net);
    fail_if(ne_server_init(&srv, &opts, &net, NULL) != NE_OK || ne_server_start(&srv) != NE_OK,
            "server start");
    ne_server_loop(&srv, &loop);
    for (int a = 0; a < ACTORS; a++) {
        actor[a] = -1;
        connect_actor(a);
    }
    program p = {data, size, 0};
    for (int i = 0; i < MAX_OPS && p.pos < p.size; i++) {
        uint8_t b = next(&p);
        int a = b % ACTORS;
        uint8_t op = b / ACTORS;
        if (a < CLIENTS) {
            client_op(&p, a, op);
        } else {
            leaf_op(&p, op);
        }
        step(1);
    }
    for (int a = 0; a < ACTORS; a++) {
        if (actor[a] >= 0) {
            ne_sim_client_close(&sim, actor[a]);
        }
    }
    step(3);
    ne_server_shutdown(&srv);
    const char *busy = NULL;
    fail_if(ne_server_pools_in_use(&srv, &busy) != 0, busy != NULL ? busy : "a pool");
    return 0;
}
