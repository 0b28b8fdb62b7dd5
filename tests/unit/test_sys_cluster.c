/* The system account's events in a cluster (src/sys, docs/cluster.md
 * "System events"): natsedge nodes in one process over the simulated
 * network and clock. $SYS.SERVER.<id>.STATSZ on nats-server 2.9.10's
 * schedule (250 ms after start, then intervals doubling to 30 s), the
 * other servers learned from their STATSZ (statsz active_servers, routes),
 * forgotten on their SHUTDOWN or after 150 s of silence, and the
 * account_connections heartbeat on both of nats-server's subjects. The
 * intervals are the ones probed on nats-server 2.9.10 (PR-01). After each
 * test every node is shut down and every pool must be back to idle. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/ne_error.h"
#include "server/ne_server.h"
#include "sim/ne_sim_clock.h"
#include "sim/ne_sim_net.h"
#include "sys/ne_sys.h"

#define MAX_NODES 3
#define STEP_MS 5
#define WAIT_STEPS 8000 /* 40 s of simulated time */

static ne_sim_net sim;
static ne_sim_host hosts[MAX_NODES];
static ne_server nodes[MAX_NODES];
static bool up[MAX_NODES];
static uint16_t route_ports[MAX_NODES];
static char rx[NE_SIM_BUFFER_BYTES + 1];
/* Everything the client of wait_msg received (one such client per test). */
static char seen[NE_SIM_BUFFER_BYTES + 1];
static size_t seen_len;
static char one_msg[4096];

static void step_node(int i)
{
    ne_loop loop;
    ne_server_loop(&nodes[i], &loop);
    ne_sim_host_step(&hosts[i], &loop);
}

static void step_all(void)
{
    for (int i = 0; i < MAX_NODES; i++) {
        if (up[i]) {
            step_node(i);
        }
    }
    ne_sim_clock_advance(STEP_MS);
}

/* A node with a system user (sys/pw in $SYS), in cluster C1 with routes to
 * the nodes listed (-1 ends), or alone. */
static void start_node(int i, bool cluster, const int *routes)
{
    ne_net net;
    ne_sim_host_init(&sim, &hosts[i], (uint8_t)i, &net);
    ne_server_options opts;
    ne_server_options_default(&opts);
    opts.port = 0;
    snprintf(opts.host, sizeof(opts.host), "127.0.0.1");
    snprintf(opts.server_name, sizeof(opts.server_name), "n%d", i);
    ne_user_entry *e = &opts.users[0];
    snprintf(e->user, sizeof(e->user), "sys");
    snprintf(e->pass, sizeof(e->pass), "pw");
    e->perms = NE_PERM_NONE;
    e->account = opts.system_account;
    opts.user_count = 1;
    if (cluster) {
        ne_cluster_options *c = &opts.cluster;
        c->enabled = true;
        c->listen_port = route_ports[i];
        snprintf(c->name, sizeof(c->name), "C1");
        for (int k = 0; routes[k] >= 0; k++) {
            snprintf(c->routes[c->route_count++], NE_ROUTE_URL_BYTES, "nats-route://127.0.0.1:%u",
                     (unsigned)route_ports[routes[k]]);
        }
    }
    assert_int_equal(ne_server_init(&nodes[i], &opts, &net, NULL), NE_OK);
    assert_int_equal(ne_server_start(&nodes[i]), NE_OK);
    route_ports[i] = ne_server_route_port(&nodes[i]);
    up[i] = true;
}

static void stop_node(int i)
{
    ne_server_shutdown(&nodes[i]);
    step_node(i);
    up[i] = false;
}

static int setup(void **state)
{
    (void)state;
    ne_net net;
    ne_sim_net_init(&sim, &net);
    memset(up, 0, sizeof(up));
    memset(route_ports, 0, sizeof(route_ports));
    seen_len = 0;
    seen[0] = '\0';
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    bool was_up[MAX_NODES];
    memcpy(was_up, up, sizeof(up));
    for (int i = 0; i < MAX_NODES; i++) {
        if (up[i]) {
            ne_server_shutdown(&nodes[i]);
        }
    }
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < MAX_NODES; i++) {
            if (was_up[i]) {
                step_node(i);
            }
        }
    }
    for (int i = 0; i < MAX_NODES; i++) {
        const char *busy = NULL;
        if (was_up[i] && ne_server_pools_in_use(&nodes[i], &busy) != 0) {
            fail_msg("node %d: pool \"%s\" not back to idle", i, busy);
        }
        up[i] = false;
    }
    return 0;
}

typedef bool (*cond_fn)(void);
static void wait_until(cond_fn cond, const char *what)
{
    for (int i = 0; i < WAIT_STEPS; i++) {
        if (cond()) {
            return;
        }
        step_all();
    }
    fail_msg("timed out waiting for %s", what);
}

static bool full_mesh_3(void)
{
    for (int i = 0; i < 3; i++) {
        if (ne_route_count(&nodes[i].route) != 2) {
            return false;
        }
    }
    return true;
}

static bool all_know_two(void)
{
    for (int i = 0; i < 3; i++) {
        if (ne_sys_server_count(&nodes[i].sys) != 2) {
            return false;
        }
    }
    return true;
}

static void start_mesh(void)
{
    const int none[] = {-1};
    const int seed[] = {0, -1};
    start_node(0, true, none);
    start_node(1, true, seed);
    start_node(2, true, seed);
    wait_until(full_mesh_3, "a full mesh of three");
}

/* ---- A system user ------------------------------------------------------------- */

static void send_text(int c, const char *text)
{
    assert_int_equal(ne_sim_client_write(&sim, c, text, strlen(text)), strlen(text));
}

/* Reads what c received within `steps` turns of every node. */
static const char *drain(int c, int steps)
{
    size_t len = 0;
    rx[0] = '\0';
    for (int i = 0; i < steps; i++) {
        step_all();
        len += ne_sim_client_read(&sim, c, rx + len, sizeof(rx) - 1 - len);
        rx[len] = '\0';
    }
    return rx;
}

/* Steps until c has received `want`; returns everything received. */
static const char *wait_for(int c, const char *want)
{
    size_t len = 0;
    rx[0] = '\0';
    for (int i = 0; i < WAIT_STEPS; i++) {
        len += ne_sim_client_read(&sim, c, rx + len, sizeof(rx) - 1 - len);
        rx[len] = '\0';
        if (strstr(rx, want) != NULL) {
            return rx;
        }
        step_all();
    }
    fail_msg("client %d: waited for [%s], got [%.300s]", c, want, rx);
    return rx;
}

/* A system user of node `node` subscribed to `subject`. */
static int sys_client(int node, const char *subject)
{
    int c = ne_sim_connect(&sim, ne_server_client_port(&nodes[node]));
    assert_true(c >= 0);
    char text[256];
    snprintf(text, sizeof(text),
             "CONNECT {\"verbose\":false,\"user\":\"sys\",\"pass\":\"pw\"}\r\nSUB %s 1\r\nPING\r\n",
             subject);
    send_text(c, text);
    wait_for(c, "PONG\r\n");
    return c;
}

/* Steps until the client has received a whole message on `subject` (its
 * document ends the line), now or before; returns that message alone, from
 * its subject on. */
static const char *wait_msg(int c, const char *subject)
{
    for (int i = 0; i < WAIT_STEPS; i++) {
        seen_len += ne_sim_client_read(&sim, c, seen + seen_len, sizeof(seen) - 1 - seen_len);
        seen[seen_len] = '\0';
        const char *at = strstr(seen, subject);
        const char *end = at != NULL ? strstr(at, "}\r\n") : NULL;
        if (end != NULL) {
            size_t n = NE_MIN((size_t)(end + 1 - at), sizeof(one_msg) - 1);
            memcpy(one_msg, at, n);
            one_msg[n] = '\0';
            return one_msg;
        }
        step_all();
    }
    fail_msg("client %d: waited for a message on %s, got [%.300s]", c, subject, seen);
    return seen;
}

/* Messages on `subject` the client of wait_msg received from node `name`
 * (their server object's), after polling for `steps` more turns. */
static int msgs_from(int c, const char *subject, const char *name, int steps)
{
    char from[64];
    snprintf(from, sizeof(from), "\"server\":{\"name\":\"%s\"", name);
    for (int i = 0; i < steps; i++) {
        seen_len += ne_sim_client_read(&sim, c, seen + seen_len, sizeof(seen) - 1 - seen_len);
        seen[seen_len] = '\0';
        step_all();
    }
    int n = 0;
    for (const char *at = strstr(seen, subject); at != NULL; at = strstr(at + 1, subject)) {
        const char *doc = strstr(at, "\r\n");
        const char *end = doc != NULL ? strstr(doc + 2, "\r\n") : NULL;
        const char *who = doc != NULL ? strstr(doc, from) : NULL;
        n += who != NULL && end != NULL && who < end ? 1 : 0;
    }
    return n;
}

static int count_of(const char *text, const char *what)
{
    int n = 0;
    size_t w = strlen(what);
    for (const char *p = strstr(text, what); p != NULL; p = strstr(p + w, what)) {
        n++;
    }
    return n;
}

/* ---- Tests ------------------------------------------------------------------------ */

/* STATSZ comes 250 ms after start, then at intervals that double up to
 * 30 s: sent at 0.25, 0.75, 1.75, 3.75, 7.75, 15.75, 31.75, 61.75 s, as
 * nats-server 2.9.10 sends them (probed: 1, 2, 4, 8, 16, 30 s apart). */
static void test_statsz_interval_doubles_up_to_30_seconds(void **state)
{
    (void)state;
    const int none[] = {-1};
    uint64_t start_ms = ne_sim_clock_now_ms();
    start_node(0, false, none);
    /* Subscribed before the first one is due (the client's handshake takes
     * a few simulated turns). */
    int c = sys_client(0, "$SYS.SERVER.*.STATSZ");
    assert_true(ne_sim_clock_now_ms() - start_ms < 200);
    char subject[128];
    snprintf(subject, sizeof(subject), "MSG $SYS.SERVER.%s.STATSZ 1 ", nodes[0].conns.id.server_id);
    const uint64_t due_s[] = {250, 750, 1750, 3750, 7750, 15750, 31750, 61750, 91750};
    for (size_t k = 0; k < sizeof(due_s) / sizeof(due_s[0]); k++) {
        /* Nothing before it is due (ticks are 100 ms apart), then one. */
        while (ne_sim_clock_now_ms() - start_ms + STEP_MS < due_s[k]) {
            step_all();
            size_t n = ne_sim_client_read(&sim, c, rx, sizeof(rx) - 1);
            rx[n] = '\0';
            assert_null(strstr(rx, "MSG ")); /* the server's PING may come */
        }
        const char *got = wait_for(c, "\r\n{\"server\":");
        uint64_t at_ms = ne_sim_clock_now_ms() - start_ms;
        assert_true(at_ms >= due_s[k] && at_ms <= due_s[k] + 200);
        assert_non_null(strstr(got, subject));
        drain(c, 2);
    }
}

/* In a cluster every node learns the others from their STATSZ: its own
 * STATSZ then says active_servers 3, names its cluster in the server
 * object and lists its routes by the peer's name; a system user of one
 * node hears every node's STATSZ. */
static void test_statsz_counts_the_servers_of_the_cluster_and_lists_routes(void **state)
{
    (void)state;
    start_mesh();
    wait_until(all_know_two, "every node knowing the two others");
    int c = sys_client(0, "$SYS.SERVER.*.STATSZ");
    for (int i = 0; i < 3; i++) {
        char subject[128];
        snprintf(subject, sizeof(subject), "$SYS.SERVER.%s.STATSZ", nodes[i].conns.id.server_id);
        const char *got = wait_msg(c, subject);
        assert_non_null(strstr(got, "\"cluster\":\"C1\""));
        assert_non_null(strstr(got, "\"active_servers\":3"));
        assert_non_null(strstr(got, "\"routes\":[{\"rid\":"));
        for (int k = 0; k < 3; k++) {
            char name[32];
            snprintf(name, sizeof(name), "\"name\":\"n%d\",\"sent\":", k);
            assert_true((strstr(got, name) != NULL) == (k != i));
        }
    }
}

static bool two_know_one(void)
{
    return ne_sys_server_count(&nodes[0].sys) == 1 && ne_sys_server_count(&nodes[1].sys) == 1;
}

/* A node that shuts down says so ($SYS.SERVER.<id>.SHUTDOWN, the server
 * object alone) and the others forget it at once. */
static void test_shutdown_event_makes_the_others_forget_the_server(void **state)
{
    (void)state;
    start_mesh();
    wait_until(all_know_two, "every node knowing the two others");
    int c = sys_client(0, "$SYS.SERVER.*.SHUTDOWN");
    char subject[128];
    snprintf(subject, sizeof(subject), "MSG $SYS.SERVER.%s.SHUTDOWN 1 ",
             nodes[2].conns.id.server_id);
    stop_node(2);
    const char *got = wait_for(c, "\"time\":");
    assert_non_null(strstr(got, subject));
    assert_non_null(strstr(got, "\r\n{\"name\":\"n2\",\"host\":\"127.0.0.1\",\"id\":\""));
    assert_non_null(strstr(got, "\"cluster\":\"C1\""));
    wait_until(two_know_one, "nodes 0 and 1 forgetting node 2");
}

/* A node cut off without a word is forgotten once it has not been heard of
 * for 150 s (looked for every 90 s: between 150 and 240 s), as nats-server
 * forgets an orphan server; not before. */
static void test_silent_server_is_forgotten_after_150_seconds(void **state)
{
    (void)state;
    start_mesh();
    wait_until(all_know_two, "every node knowing the two others");
    ne_sim_partition(&sim, 0, 2);
    ne_sim_partition(&sim, 1, 2);
    uint64_t cut_ms = ne_sim_clock_now_ms();
    /* Big steps: only the timers matter now. */
    while (ne_sim_clock_now_ms() - cut_ms < 145000) {
        step_all();
        ne_sim_clock_advance(500);
        assert_int_equal(ne_sys_server_count(&nodes[0].sys), 2);
    }
    while (ne_sys_server_count(&nodes[0].sys) != 1 && ne_sim_clock_now_ms() - cut_ms < 245000) {
        step_all();
        ne_sim_clock_advance(500);
    }
    assert_int_equal(ne_sys_server_count(&nodes[0].sys), 1);
    assert_int_equal(ne_sys_server_count(&nodes[1].sys), 1);
    /* Healed, node 2 is heard again (its STATSZ) and counted again. */
    ne_sim_heal(&sim, 0, 2);
    ne_sim_heal(&sim, 1, 2);
    while (ne_sys_server_count(&nodes[0].sys) != 2 && ne_sim_clock_now_ms() - cut_ms < 300000) {
        step_all();
        ne_sim_clock_advance(100);
    }
    assert_int_equal(ne_sys_server_count(&nodes[0].sys), 2);
}

/* account_connections goes out on nats-server's two subjects, the older
 * $SYS.SERVER.ACCOUNT.<acc>.CONNS first, and again every 30 s while the
 * account has clients. */
static void test_account_connections_on_both_subjects_and_every_30_seconds(void **state)
{
    (void)state;
    const int none[] = {-1};
    start_node(0, false, none);
    int c = sys_client(0, "$SYS.*.ACCOUNT.>");
    int c2 = sys_client(0, "$SYS.ACCOUNT.*.SERVER.CONNS");
    (void)c2;
    /* The two system users: the account has clients. */
    const char *got = drain(c, 20);
    assert_int_equal(count_of(got, "MSG $SYS.SERVER.ACCOUNT.$SYS.CONNS 1 "), 1);
    uint64_t from_ms = ne_sim_clock_now_ms();
    got = wait_for(c, "MSG $SYS.SERVER.ACCOUNT.$SYS.CONNS 1 ");
    uint64_t after_ms = ne_sim_clock_now_ms() - from_ms;
    assert_true(after_ms >= 29000 && after_ms <= 30200);
    assert_non_null(strstr(got, "\"type\":\"io.nats.server.advisory.v1.account_connections\""));
    assert_non_null(strstr(got, "\"conns\":2"));
    got = wait_for(c2, "MSG $SYS.ACCOUNT.$SYS.SERVER.CONNS 1 ");
}

static bool pair_up(void)
{
    return ne_route_count(&nodes[0].route) == 1 && ne_route_count(&nodes[1].route) == 1;
}

/* A route that comes up sends $G's account_connections (nats-server
 * registers a route in $G as a connection it does not count: conns 0); a
 * route that goes sends nothing, and neither sends CONNECT or DISCONNECT. */
static void test_route_up_sends_global_account_connections(void **state)
{
    (void)state;
    const int none[] = {-1};
    const int seed[] = {0, -1};
    start_node(0, true, none);
    int c = sys_client(0, "$SYS.>");
    start_node(1, true, seed);
    wait_until(pair_up, "a route");
    const char *conns = "$SYS.SERVER.ACCOUNT.$G.CONNS";
    assert_int_equal(msgs_from(c, conns, "n0", 20), 1);
    assert_int_equal(msgs_from(c, "$SYS.ACCOUNT.$G.SERVER.CONNS", "n0", 0), 1);
    assert_non_null(strstr(seen, "\"acc\":\"$G\",\"conns\":0,\"leafnodes\":0,\"total_conns\":0"));
    assert_null(strstr(seen, "$SYS.ACCOUNT.$G.CONNECT"));
    stop_node(1);
    assert_int_equal(msgs_from(c, conns, "n0", 100), 1);
    assert_null(strstr(seen, "$SYS.ACCOUNT.$G.DISCONNECT"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_statsz_interval_doubles_up_to_30_seconds, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_statsz_counts_the_servers_of_the_cluster_and_lists_routes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_event_makes_the_others_forget_the_server,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_silent_server_is_forgotten_after_150_seconds, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_account_connections_on_both_subjects_and_every_30_seconds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_route_up_sends_global_account_connections, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
