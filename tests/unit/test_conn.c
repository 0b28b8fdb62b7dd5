/* The connection layer on its own (src/conn), over the simulated network
 * with a bare kind: what a connection's I/O part keeps of its peer. After
 * each test every pool of the layer is back to idle. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "conn/ne_conn.h"
#include "core/ne_error.h"
#include "server/ne_server.h"
#include "sim/ne_sim_net.h"

static ne_conns set;
static ne_conns_storage storage;
static ne_sim_net sim;
static ne_server_options opts;
static const ne_log quiet = {NE_LOG_ERROR, NULL, NULL};
static const ne_conn_ops bare_ops = {0};
static uint8_t bare;

static int setup(void **state)
{
    (void)state;
    ne_net net;
    ne_sim_net_init(&sim, &net);
    ne_server_options_default(&opts);
    memset(&set, 0, sizeof(set));
    ne_conns_init(&set, &storage, &opts, &net, &quiet);
    bare = ne_conns_kind(&set, "Test", "cid", &bare_ops, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ne_conns_close_all(&set, NE_CLOSE_SERVER_SHUTDOWN);
    ne_conns_turn_end(&set, 0, false);
    const ne_pool *pools[] = {
        &set.conn_pool,
        &set.io_pool,
        &set.rbuf_pool,
        &set.spill_pool,
        &set.tls_pool,
#if NE_CONN_PEER_BINARY
        &set.name_pool,
#endif
    };
    for (size_t i = 0; i < sizeof(pools) / sizeof(pools[0]); i++) {
        if (pools[i]->in_use != 0) {
            fail_msg("pool \"%s\" not back to idle", pools[i]->name);
        }
    }
    return 0;
}

/* An outbound socket for ne_conn_new (nothing listens: it is never read). */
static ne_sock outbound(void)
{
    ne_sock sock;
    assert_int_equal(set.net.ops->connect(set.net.ctx, "peer", 4222, &sock), NE_OK);
    return sock;
}

static void assert_peer(const ne_conn *conn, const char *want)
{
    char text[NE_IP_TEXT_BYTES];
    assert_string_equal(ne_conn_peer_text(conn, text, sizeof(text)), want);
}

/* An accepted connection's address is kept in binary and shown as the port
 * wrote it; the I/O part holds no text for it (issue 17: 46 bytes of text
 * in every connection before). */
static void test_peer_address_kept_in_binary_reads_back_as_given(void **state)
{
    (void)state;
    const char *addrs[] = {"127.0.0.1", "10.20.30.40", "::1", "fe80::1:2", "::ffff:192.168.0.1"};
    for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
        ne_conn *c = ne_conn_new(&set, bare, outbound(), addrs[i], 4222);
        assert_non_null(c);
#if NE_CONN_PEER_BINARY
        assert_null(c->io->peer_name);
#endif
        assert_peer(c, addrs[i]);
    }
#if NE_CONN_PEER_BINARY
    assert_int_equal(set.name_pool.in_use, 0);
#endif
    /* The writer takes its capacity: a buffer too small gets "". */
    ne_conn *c = ne_conn_new(&set, bare, outbound(), "10.20.30.40", 4222);
    char small[8];
    assert_string_equal(ne_conn_peer_text(c, small, sizeof(small)), "");
}

#if NE_CONN_PEER_BINARY
/* An outbound connection made to a host name keeps the name in a slot of
 * NE_CONN_PEER_NAMES while it lasts; with every slot held, the next named
 * connection is not made (NULL: its caller retries as when the connection
 * pool is full) while numeric ones still are; a slot given back is the
 * next one's. */
static void test_host_names_take_a_slot_of_NE_CONN_PEER_NAMES(void **state)
{
    (void)state;
    ne_conn *named[NE_CONN_PEER_NAMES];
    char name[64];
    for (int i = 0; i < NE_CONN_PEER_NAMES; i++) {
        snprintf(name, sizeof(name), "leaf-hub-%d.example.net", i);
        named[i] = ne_conn_new(&set, bare, outbound(), name, 7422);
        assert_non_null(named[i]);
        assert_peer(named[i], name);
    }
    ne_sock sock = outbound();
    assert_null(ne_conn_new(&set, bare, sock, "one-too-many.example.net", 7422));
    assert_int_equal(set.name_pool.exhausted, 1);
    set.net.ops->close(set.net.ctx, sock);
    assert_non_null(ne_conn_new(&set, bare, outbound(), "192.0.2.7", 7422));
    ne_conn_close(named[0], NE_CLOSE_CLIENT_CLOSED, NULL);
    ne_conns_turn_end(&set, 0, false);
    ne_conn *again = ne_conn_new(&set, bare, outbound(), "one-too-many.example.net", 7422);
    assert_non_null(again);
    assert_peer(again, "one-too-many.example.net");
}

/* A name longer than a slot holds is refused whole, never cut. */
static void test_host_name_longer_than_a_slot_is_refused(void **state)
{
    (void)state;
    char name[NE_CONN_PEER_NAME_BYTES + 1];
    memset(name, 'h', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    ne_sock sock = outbound();
    assert_null(ne_conn_new(&set, bare, sock, name, 7422));
    set.net.ops->close(set.net.ctx, sock);
    name[NE_CONN_PEER_NAME_BYTES - 1] = '\0'; /* the longest kept */
    ne_conn *c = ne_conn_new(&set, bare, outbound(), name, 7422);
    assert_non_null(c);
    assert_peer(c, name);
}
#endif

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_peer_address_kept_in_binary_reads_back_as_given),
#if NE_CONN_PEER_BINARY
        T(test_host_names_take_a_slot_of_NE_CONN_PEER_NAMES),
        T(test_host_name_longer_than_a_slot_is_refused),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
