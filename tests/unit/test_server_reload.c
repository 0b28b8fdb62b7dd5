/* Configuration reload (ne_server_reload) and lame duck mode over the
 * simulated network: what may change at run time, what is refused with
 * nats-server's wording, and what happens to the connections (inventory
 * CFG-22, CP-70). After each test the server is shut down and every pool
 * must be back to idle. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/ne_error.h"
#include "server/ne_server.h"
#include "sim/ne_sim_clock.h"
#include "sim/ne_sim_net.h"

static ne_server srv;
static ne_sim_net sim;
static uint16_t port;
static char rx[NE_SIM_BUFFER_BYTES + 1];
static char err[256];

static void with_users(ne_server_options *o)
{
    strcpy(o->users[0].user, "alice");
    strcpy(o->users[0].pass, "a1");
    strcpy(o->users[1].user, "bob");
    strcpy(o->users[1].pass, "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW");
    o->user_count = 2;
}

static void options(ne_server_options *o, void (*tweak)(ne_server_options *))
{
    ne_server_options_default(o);
    o->port = 0;
    if (tweak != NULL) {
        tweak(o);
    }
}

static void start(void (*tweak)(ne_server_options *))
{
    ne_net net;
    ne_sim_net_init(&sim, &net);
    ne_server_options opts;
    options(&opts, tweak);
    assert_int_equal(ne_server_init(&srv, &opts, &net, NULL), NE_OK);
    assert_int_equal(ne_server_start(&srv), NE_OK);
    port = ne_server_client_port(&srv);
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

/* Connects, sends CONNECT and a PING, expects the PONG. */
static int client(const char *connect_json)
{
    int c = ne_sim_connect(&sim, port);
    assert_true(c >= 0);
    step(2);
    take(c);
    char line[256];
    snprintf(line, sizeof(line), "CONNECT %s\r\nPING\r\n", connect_json);
    send_text(c, line);
    step(2);
    assert_non_null(strstr(take(c), "PONG\r\n"));
    return c;
}

static void assert_alive(int c)
{
    send_text(c, "PING\r\n");
    step(2);
    assert_non_null(strstr(take(c), "PONG\r\n"));
    assert_false(ne_sim_server_closed(&sim, c));
}

#define ALICE "{\"verbose\":false,\"protocol\":1,\"user\":\"alice\",\"pass\":\"a1\"}"
#define BOB "{\"verbose\":false,\"protocol\":1,\"user\":\"bob\",\"pass\":\"U*U\"}"

static void test_fixed_options_are_refused_with_nats_server_wording_CFG22(void **state)
{
    (void)state;
    start(NULL);
    ne_server_options next;
    options(&next, NULL);
    next.port = (uint16_t)(port + 1);
    assert_int_equal(ne_server_reload(&srv, &next, err, sizeof(err)), NE_ERR_UNSUPPORTED);
    char want[128];
    snprintf(want, sizeof(want), "config reload not supported for Port: old=%u, new=%u",
             (unsigned)port, (unsigned)(port + 1));
    assert_string_equal(err, want);

    options(&next, NULL);
    strcpy(next.host, "127.0.0.2");
    next.max_payload = 1000; /* reloadable, but the reload is refused as a whole */
    assert_int_equal(ne_server_reload(&srv, &next, err, sizeof(err)), NE_ERR_UNSUPPORTED);
    assert_string_equal(err, "config reload not supported for Host: old=0.0.0.0, new=127.0.0.2");
    assert_int_equal(srv.opts.max_payload, NE_MAX_PAYLOAD_BYTES);

    options(&next, NULL);
    next.max_pending = 1 << 20;
    assert_int_equal(ne_server_reload(&srv, &next, err, sizeof(err)), NE_ERR_UNSUPPORTED);
    assert_non_null(strstr(err, "for MaxPending: old="));

    options(&next, NULL);
    next.lame_duck_duration_ms = 90000;
    assert_int_equal(ne_server_reload(&srv, &next, err, sizeof(err)), NE_ERR_UNSUPPORTED);
    assert_string_equal(err,
                        "config reload not supported for LameDuckDuration: old=2m0s, new=1m30s");

    /* jetstream { sync_interval } is read when the store opens. */
    options(&next, NULL);
    next.js.sync_interval_ms = 120000;
    assert_int_equal(ne_server_reload(&srv, &next, err, sizeof(err)), NE_ERR_UNSUPPORTED);
    assert_string_equal(err, "config reload not supported for SyncInterval: old=always, new=2m0s");

    /* Invalid options are refused with the start-up checks. */
    options(&next, NULL);
    next.max_payload = NE_MAX_PAYLOAD_BYTES + 1;
    assert_int_equal(ne_server_reload(&srv, &next, err, sizeof(err)), NE_ERR_RANGE);

    /* A random port and an unnamed server keep what is in use; /varz's
     * config_load_time moves. */
    uint64_t loaded = srv.conns.id.config_load_wall_ns;
    options(&next, NULL);
    next.ping_max = 5;
    assert_int_equal(ne_server_reload(&srv, &next, err, sizeof(err)), NE_OK);
    assert_true(srv.conns.id.config_load_wall_ns > loaded);
    assert_int_equal(srv.opts.ping_max, 5);
    assert_int_equal(srv.opts.port, 0);
}

static void test_removed_or_changed_credentials_are_closed_others_stay_CFG22(void **state)
{
    (void)state;
    start(with_users);
    int alice = client(ALICE);
    int bob = client(BOB); /* bcrypt password */
    /* Unchanged users: nobody is closed. */
    ne_server_options next;
    options(&next, with_users);
    next.ping_interval_ms = 60000;
    assert_int_equal(ne_server_reload(&srv, &next, err, sizeof(err)), NE_OK);
    step(2);
    assert_alive(alice);
    assert_alive(bob);
    /* Bob removed, Carol added: Bob gets the violation. */
    options(&next, with_users);
    strcpy(next.users[1].user, "carol");
    strcpy(next.users[1].pass, "c1");
    assert_int_equal(ne_server_reload(&srv, &next, err, sizeof(err)), NE_OK);
    step(2);
    assert_string_equal(take(bob), "-ERR 'Authorization Violation'\r\n");
    assert_true(ne_sim_server_closed(&sim, bob));
    assert_alive(alice);
    int carol = client("{\"verbose\":false,\"user\":\"carol\",\"pass\":\"c1\"}");
    assert_alive(carol);
    /* Alice's password changed: closed, even though hers was right before. */
    options(&next, with_users);
    strcpy(next.users[0].pass, "a2");
    strcpy(next.users[1].user, "carol");
    strcpy(next.users[1].pass, "c1");
    assert_int_equal(ne_server_reload(&srv, &next, err, sizeof(err)), NE_OK);
    step(2);
    assert_string_equal(take(alice), "-ERR 'Authorization Violation'\r\n");
    assert_alive(carol);
    /* No authentication any more: everyone left stays. */
    options(&next, NULL);
    assert_int_equal(ne_server_reload(&srv, &next, err, sizeof(err)), NE_OK);
    step(2);
    assert_alive(carol);
}

static void test_authentication_turned_on_closes_anonymous_clients_CFG22(void **state)
{
    (void)state;
    start(NULL);
    int anon = client("{\"verbose\":false}");
    ne_server_options next;
    options(&next, NULL);
    strcpy(next.auth_token, "t0k3n");
    assert_int_equal(ne_server_reload(&srv, &next, err, sizeof(err)), NE_OK);
    step(2);
    assert_string_equal(take(anon), "-ERR 'Authorization Violation'\r\n");
    assert_true(ne_sim_server_closed(&sim, anon));
    int with_token = client("{\"verbose\":false,\"auth_token\":\"t0k3n\"}");
    assert_alive(with_token);
}

static void test_lower_max_connections_closes_the_newest_clients_CFG22(void **state)
{
    (void)state;
    start(NULL);
    int c[5];
    for (int i = 0; i < 5; i++) {
        c[i] = client("{\"verbose\":false}");
    }
    ne_server_options next;
    options(&next, NULL);
    next.max_connections = 2;
    assert_int_equal(ne_server_reload(&srv, &next, err, sizeof(err)), NE_OK);
    step(2);
    /* The three newest are closed with nats-server's error; the two oldest
     * stay (differences.md: nats-server closes arbitrary ones). */
    for (int i = 0; i < 2; i++) {
        assert_false(ne_sim_server_closed(&sim, c[i]));
        assert_alive(c[i]);
    }
    for (int i = 2; i < 5; i++) {
        assert_true(ne_sim_server_closed(&sim, c[i]));
        assert_string_equal(take(c[i]), "-ERR 'maximum connections exceeded'\r\n");
    }
    assert_int_equal(ne_nats_client_count(&srv.nats), 2);
}

/* bob (no permissions), then alice who may subscribe to foo.> and bar. */
static void with_permissions(ne_server_options *o)
{
    strcpy(o->users[0].user, "bob");
    strcpy(o->users[0].pass, "b1");
    o->users[0].perms = NE_PERM_NONE;
    strcpy(o->users[1].user, "alice");
    strcpy(o->users[1].pass, "a1");
    o->users[1].perms = 0;
    o->user_count = 2;
    o->perm_subjects[0].subject_len = 5;
    memcpy(o->perm_subjects[0].text, "foo.>", 5);
    o->perm_subjects[1].subject_len = 3;
    memcpy(o->perm_subjects[1].text, "bar", 3);
    o->perm_subject_count = 2;
    o->perms[0].sub_allow.first = 0;
    o->perms[0].sub_allow.count = 2;
    o->perms[0].sub_allow.present = true;
    o->perm_count = 1;
}

static void test_permission_reload_removes_disallowed_subscriptions_CP38(void **state)
{
    (void)state;
    start(with_permissions);
    int alice = client("{\"verbose\":false,\"user\":\"alice\",\"pass\":\"a1\"}");
    send_text(alice, "SUB foo.x 1\r\nSUB bar 2\r\nSUB bar q 3\r\nPING\r\n");
    step(2);
    assert_string_equal(take(alice), "PONG\r\n");
    /* Bob removed (alice's index moves to 0), bar no longer allowed. */
    ne_server_options next;
    options(&next, with_permissions);
    next.users[0] = next.users[1];
    next.user_count = 1;
    next.perms[0].sub_allow.count = 1;
    assert_int_equal(ne_server_reload(&srv, &next, err, sizeof(err)), NE_OK);
    step(2);
    assert_string_equal(take(alice),
                        "-ERR 'Permissions Violation for Subscription to \"bar\" (sid \"3\")'\r\n"
                        "-ERR 'Permissions Violation for Subscription to \"bar\" (sid \"2\")'\r\n");
    assert_false(ne_sim_server_closed(&sim, alice));
    assert_int_equal(srv.router.sub_pool.in_use, 1 + srv.sys.client->nsubs);
    /* A user moved to another account is closed rather than moved. */
    options(&next, with_permissions);
    next.users[1].account = 1;
    assert_int_equal(ne_server_reload(&srv, &next, err, sizeof(err)), NE_OK);
    step(2);
    assert_string_equal(take(alice), "-ERR 'Authorization Violation'\r\n");
    assert_true(ne_sim_server_closed(&sim, alice));
}

static void with_permissions_and_leafs(ne_server_options *o)
{
    with_permissions(o);
    o->leaf.listen_enabled = true;
    o->leaf.listen_port = 0;
}

/* A leaf that logged in as a user of the authorization has that user's
 * permissions (LN-40); a reload of the authorization closes it, to log in
 * again under the new one (docs/leafnode.md). */
static void test_reload_closes_leafs_logged_in_through_the_authorization_LN26(void **state)
{
    (void)state;
    start(with_permissions_and_leafs);
    int l = ne_sim_connect(&sim, srv.leaf.listener.port);
    assert_true(l >= 0);
    step(2);
    take(l);
    send_text(l, "CONNECT {\"user\":\"alice\",\"pass\":\"a1\",\"name\":\"leaf\"}\r\n");
    step(2);
    const char *got = take(l);
    assert_non_null(strstr(got, "\"import\":{\"allow\":[\"foo.>\",\"bar\"]},\"export\":{}"));
    assert_non_null(strstr(got, "\"connect_info\":true"));
    assert_int_equal(ne_leaf_connection_count(&srv.leaf), 1);
    ne_server_options next;
    options(&next, with_permissions_and_leafs);
    next.perms[0].sub_allow.count = 1;
    assert_int_equal(ne_server_reload(&srv, &next, err, sizeof(err)), NE_OK);
    step(2);
    assert_non_null(strstr(take(l), "-ERR 'Authorization Violation'\r\n"));
    assert_true(ne_sim_server_closed(&sim, l));
    assert_int_equal(ne_leaf_connection_count(&srv.leaf), 0);
}

static void short_lame_duck(ne_server_options *o)
{
    o->lame_duck_duration_ms = 400;
    o->lame_duck_grace_period_ms = 100;
}

static void test_lame_duck_informs_then_closes_every_client_CP70(void **state)
{
    (void)state;
    start(short_lame_duck);
    int proto1 = client("{\"verbose\":false,\"protocol\":1}");
    int proto0 = client("{\"verbose\":false,\"protocol\":0}");
    int silent = ne_sim_connect(&sim, port); /* no CONNECT: no async INFO */
    step(2);
    take(silent);
    ne_server_enter_lame_duck(&srv);
    assert_int_equal(srv.nats.listener.sock, NE_SOCK_INVALID);
    step(2);
    const char *info = take(proto1);
    assert_non_null(strstr(info, "INFO {"));
    assert_non_null(strstr(info, "\"ldm\":true"));
    assert_string_equal(take(proto0), "");
    assert_string_equal(take(silent), "");
    assert_false(ne_server_finished(&srv));
    /* Entering twice changes nothing. */
    ne_server_enter_lame_duck(&srv);
    /* Simulated time, 1 ms per turn: nothing during the 100 ms grace
     * period, then the three clients closed one by one, each close half to
     * one spacing (300 ms / 3 clients) after the previous one (CP-70). */
    int handles[3] = {proto1, proto0, silent};
    uint64_t closed_at[3] = {0, 0, 0};
    uint64_t t0 = ne_sim_clock_now_ms();
    for (int i = 0; i < 1000 && !ne_server_finished(&srv); i++) {
        ne_sim_clock_advance(1);
        step(1);
        for (int k = 0; k < 3; k++) {
            if (closed_at[k] == 0 && ne_sim_server_closed(&sim, handles[k])) {
                closed_at[k] = ne_sim_clock_now_ms() - t0;
            }
        }
    }
    step(2);
    assert_true(ne_server_finished(&srv));
    assert_int_equal(ne_nats_client_count(&srv.nats), 0);
    uint64_t sorted[3] = {closed_at[0], closed_at[1], closed_at[2]};
    for (int a = 0; a < 3; a++) {
        for (int b = a + 1; b < 3; b++) {
            if (sorted[b] < sorted[a]) {
                uint64_t t = sorted[a];
                sorted[a] = sorted[b];
                sorted[b] = t;
            }
        }
    }
    assert_int_equal(sorted[0], 100);
    for (int k = 1; k < 3; k++) {
        assert_true(sorted[k] - sorted[k - 1] >= 50);
        assert_true(sorted[k] - sorted[k - 1] < 100);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_fixed_options_are_refused_with_nats_server_wording_CFG22,
                                  teardown),
        cmocka_unit_test_teardown(test_removed_or_changed_credentials_are_closed_others_stay_CFG22,
                                  teardown),
        cmocka_unit_test_teardown(test_authentication_turned_on_closes_anonymous_clients_CFG22,
                                  teardown),
        cmocka_unit_test_teardown(test_lower_max_connections_closes_the_newest_clients_CFG22,
                                  teardown),
        cmocka_unit_test_teardown(test_permission_reload_removes_disallowed_subscriptions_CP38,
                                  teardown),
        cmocka_unit_test_teardown(test_reload_closes_leafs_logged_in_through_the_authorization_LN26,
                                  teardown),
        cmocka_unit_test_teardown(test_lame_duck_informs_then_closes_every_client_CP70, teardown),
    };
    return cmocka_run_group_tests_name("server_reload", tests, NULL, NULL);
}
