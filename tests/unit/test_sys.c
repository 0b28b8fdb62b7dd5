/* The system account's service (src/sys) over the simulated network: its
 * requests answered, its bounded request queue, its pool of internal
 * clients. After each test the server is shut down and every pool must be
 * back to idle. IDs refer to shared/reference/nats-inventory.md (PR-01,
 * MON-08). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "conf/ne_conf.h"
#include "core/ne_error.h"
#include "server/ne_server.h"
#include "server/ne_server_conf.h"
#include "sim/ne_sim_net.h"

static ne_server srv;
static ne_sim_net sim;
static ne_conf conf;
static ne_server_options opts;
static char rx[NE_SIM_BUFFER_BYTES + 1];

static const char config_text[] = "accounts { SYS { users [ { user: sys, password: sys } ] } }\n"
                                  "system_account: SYS\n";

static int setup(void **state)
{
    (void)state;
    static const ne_conf_io io = {NULL, NULL, NULL};
    ne_board_settings board;
    memset(&board, 0, sizeof(board));
    ne_server_options_default(&opts);
    char err[256];
    assert_int_equal(
        ne_conf_parse_text(&conf, "sys.conf", config_text, sizeof(config_text) - 1, &io), NE_OK);
    assert_int_equal(ne_server_apply_conf(&conf, &opts, &board, err, sizeof(err)), NE_OK);
    opts.port = 0;
    ne_net net;
    ne_sim_net_init(&sim, &net);
    assert_int_equal(ne_server_init(&srv, &opts, &net, NULL), NE_OK);
    assert_int_equal(ne_server_start(&srv), NE_OK);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ne_server_shutdown(&srv);
    const char *busy = NULL;
    if (ne_server_pools_in_use(&srv, &busy) != 0) {
        fail_msg("pool \"%s\" not back to idle", busy);
    }
    return 0;
}

static void step(int n)
{
    ne_loop loop;
    ne_server_loop(&srv, &loop);
    for (int i = 0; i < n; i++) {
        ne_sim_net_step(&sim, &loop);
    }
}

static const char *take(int client)
{
    size_t n = ne_sim_client_read(&sim, client, rx, sizeof(rx) - 1);
    rx[n] = '\0';
    return rx;
}

static void send_text(int client, const char *text)
{
    assert_int_equal(ne_sim_client_write(&sim, client, text, strlen(text)), strlen(text));
}

/* A client of the system account, with headers (the no-responders status)
 * and an inbox subscription. */
static int sys_client(void)
{
    int c = ne_sim_connect(&sim, ne_server_client_port(&srv));
    assert_true(c >= 0);
    step(2);
    take(c);
    send_text(c, "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,"
                 "\"no_responders\":true,\"protocol\":1,\"user\":\"sys\",\"pass\":\"sys\"}\r\n"
                 "SUB inbox.> 1\r\nPING\r\n");
    step(2);
    assert_non_null(strstr(take(c), "PONG\r\n"));
    return c;
}

static size_t count_of(const char *text, const char *what)
{
    size_t n = 0;
    for (const char *p = strstr(text, what); p != NULL; p = strstr(p + 1, what)) {
        n++;
    }
    return n;
}

/* PING is answered with nats-server's envelope: the server object and
 * statsz (PR-01); a monitoring name by server id too (MON-08). */
static void test_ping_and_named_requests_are_answered_PR01(void **state)
{
    (void)state;
    int c = sys_client();
    char line[256];
    snprintf(line, sizeof(line),
             "PUB $SYS.REQ.SERVER.PING inbox.1 0\r\n\r\n"
             "PUB $SYS.REQ.SERVER.%s.VARZ inbox.2 0\r\n\r\nPING\r\n",
             srv.conns.id.server_id);
    send_text(c, line);
    step(4);
    const char *got = take(c);
    assert_non_null(strstr(got, "MSG inbox.1 1 "));
    assert_non_null(strstr(got, "\"statsz\":{"));
    assert_non_null(strstr(got, "MSG inbox.2 1 "));
    assert_non_null(strstr(got, "\"max_payload\":"));
    assert_int_equal(srv.sys.stats.requests, 2);
}

/* Requests beyond NE_SYS_REQUEST_QUEUE_BYTES in one turn, or larger than a
 * chunk, are not taken: the requester hears no responders (503), as from a
 * nats-server that has nobody on the subject, the drop is counted, and the
 * service answers again on the next turn. */
static void test_requests_beyond_the_queue_get_no_responders(void **state)
{
    (void)state;
    int c = sys_client();
    /* Requests whose options body fills about a third of the queue. */
    char body[NE_SYS_REQUEST_QUEUE_BYTES / 3];
    memset(body, ' ', sizeof(body));
    body[0] = '{';
    body[sizeof(body) - 1] = '}';
    enum { SENT = 6 };
    static char batch[SENT * (sizeof(body) + 96)];
    size_t n = 0;
    for (int i = 0; i < SENT; i++) {
        n += (size_t)snprintf(batch + n, sizeof(batch) - n,
                              "PUB $SYS.REQ.SERVER.PING.VARZ inbox.%d %zu\r\n", i, sizeof(body));
        memcpy(batch + n, body, sizeof(body));
        n += sizeof(body);
        memcpy(batch + n, "\r\n", 2);
        n += 2;
    }
    assert_int_equal(ne_sim_client_write(&sim, c, batch, n), n);
    step(6);
    const char *got = take(c);
    size_t answered = count_of(got, "\"max_payload\":");
    size_t refused = count_of(got, "NATS/1.0 503");
    assert_true(answered >= 1 && answered < SENT);
    assert_int_equal(answered + refused, SENT);
    assert_int_equal(srv.sys.stats.requests_dropped, refused);
    /* One request larger than a chunk: never taken. */
    static char big[NE_CHUNK_BYTES + 64];
    memset(big, ' ', sizeof(big));
    big[0] = '{';
    big[sizeof(big) - 1] = '}';
    char head[96];
    int h = snprintf(head, sizeof(head), "PUB $SYS.REQ.SERVER.PING.VARZ inbox.big %zu\r\n",
                     sizeof(big));
    assert_int_equal(ne_sim_client_write(&sim, c, head, (size_t)h), (size_t)h);
    assert_int_equal(ne_sim_client_write(&sim, c, big, sizeof(big)), sizeof(big));
    send_text(c, "\r\n");
    step(4);
    got = take(c);
    assert_non_null(strstr(got, "HMSG inbox.big 1 "));
    assert_non_null(strstr(got, "NATS/1.0 503"));
    assert_int_equal(srv.sys.stats.requests_dropped, refused + 1);
    /* The queue drained: answered again. */
    send_text(c, "PUB $SYS.REQ.SERVER.PING inbox.again 0\r\n\r\n");
    step(4);
    assert_non_null(strstr(take(c), "MSG inbox.again 1 "));
}

/* The internal clients' places (NE_MAX_INTERNAL_CLIENTS): the service holds
 * one; the others can be taken, then none more, and no socket's place is
 * used for them. */
static void test_internal_clients_are_bounded(void **state)
{
    (void)state;
    ne_conn *taken[NE_MAX_INTERNAL_CLIENTS];
    uint32_t n = 0;
    while (n < NE_MAX_INTERNAL_CLIENTS) {
        ne_conn *c = ne_conn_new_internal(&srv.conns, srv.sys.kind);
        if (c == NULL) {
            break;
        }
        c->acc = &srv.router.accounts[0];
        taken[n++] = c;
    }
    assert_int_equal(n, NE_MAX_INTERNAL_CLIENTS - 1);
    assert_int_equal(srv.conns.internal_count, NE_MAX_INTERNAL_CLIENTS);
    /* Sockets still get every place of theirs. */
    int c = sys_client();
    send_text(c, "PING\r\n");
    step(2);
    assert_non_null(strstr(take(c), "PONG\r\n"));
    for (uint32_t i = 0; i < n; i++) {
        ne_conn_close(taken[i], NE_CLOSE_SERVER_SHUTDOWN, NULL);
    }
    step(2);
    assert_int_equal(srv.conns.internal_count, 1);
    ne_conn *again = ne_conn_new_internal(&srv.conns, srv.sys.kind);
    assert_non_null(again);
    again->acc = &srv.router.accounts[0];
    ne_conn_close(again, NE_CLOSE_SERVER_SHUTDOWN, NULL);
    step(2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ping_and_named_requests_are_answered_PR01, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_requests_beyond_the_queue_get_no_responders, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_internal_clients_are_bounded, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
