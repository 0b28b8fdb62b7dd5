/* Several servers in one process: a natsedge hub and two natsedge leafs on
 * one simulated network (port/sim hosts), each an ne_server of its own,
 * exchanging messages through the hub. Nothing is shared between them but
 * the network: this is how the cluster and RAFT simulations run many nodes.
 * Inventory LN-10..LN-13, LN-17. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/ne_error.h"
#include "server/ne_server.h"
#include "sim/ne_sim_net.h"

static ne_sim_net sim;
static ne_sim_host leaf_hosts[2];
static ne_server hub;
static ne_server leafs[2];
static char rx[NE_SIM_BUFFER_BYTES + 1];

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* One turn of every server. */
static void step_all(void)
{
    ne_loop loop;
    ne_server_loop(&hub, &loop);
    ne_sim_net_step(&sim, &loop);
    for (int i = 0; i < 2; i++) {
        ne_server_loop(&leafs[i], &loop);
        ne_sim_host_step(&leaf_hosts[i], &loop);
    }
}

static void start_hub(void)
{
    ne_net net;
    ne_sim_net_init(&sim, &net);
    ne_server_options opts;
    ne_server_options_default(&opts);
    opts.port = 0;
    snprintf(opts.server_name, sizeof(opts.server_name), "hub");
    opts.leaf.listen_enabled = true;
    opts.leaf.listen_port = 0;
    assert_int_equal(ne_server_init(&hub, &opts, &net, NULL), NE_OK);
    assert_int_equal(ne_server_start(&hub), NE_OK);
}

static void start_leaf(int i)
{
    ne_net net;
    ne_sim_host_init(&sim, &leaf_hosts[i], (uint8_t)(i + 1), &net);
    ne_server_options opts;
    ne_server_options_default(&opts);
    opts.port = 0;
    snprintf(opts.server_name, sizeof(opts.server_name), "leaf%d", i + 1);
    opts.leaf.remote_count = 1;
    snprintf(opts.leaf.remotes[0].urls[0], NE_LEAF_URL_BYTES, "nats-leaf://127.0.0.1:%u",
             (unsigned)ne_server_leaf_port(&hub));
    opts.leaf.remotes[0].url_count = 1;
    opts.leaf.reconnect_ms = 100;
    assert_int_equal(ne_server_init(&leafs[i], &opts, &net, NULL), NE_OK);
    assert_int_equal(ne_server_start(&leafs[i]), NE_OK);
}

static int setup(void **state)
{
    (void)state;
    start_hub();
    start_leaf(0);
    start_leaf(1);
    /* The leafs solicit on their first timer tick; bounded in time. */
    for (int i = 0; i < 300; i++) {
        step_all();
        if (ne_leaf_connection_count(&hub.leaf) == 2 && leafs[0].leaf.remotes[0].connects == 1 &&
            leafs[1].leaf.remotes[0].connects == 1) {
            return 0;
        }
        sleep_ms(10);
    }
    fail_msg("the leafs did not connect to the hub");
    return -1;
}

static void idle_or_fail(const ne_server *s, const char *who)
{
    const char *busy = NULL;
    if (ne_server_pools_in_use(s, &busy) != 0) {
        fail_msg("%s: pool \"%s\" not back to idle", who, busy);
    }
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) {
        ne_server_shutdown(&leafs[i]);
    }
    ne_server_shutdown(&hub);
    step_all();
    idle_or_fail(&hub, "hub");
    idle_or_fail(&leafs[0], "leaf1");
    idle_or_fail(&leafs[1], "leaf2");
    return 0;
}

static int client_of(const ne_server *s)
{
    int c = ne_sim_connect(&sim, ne_server_client_port(s));
    assert_true(c >= 0);
    static const char hello[] = "CONNECT {\"verbose\":false}\r\n";
    ne_sim_client_write(&sim, c, hello, sizeof(hello) - 1);
    return c;
}

static void send_text(int c, const char *text)
{
    assert_int_equal(ne_sim_client_write(&sim, c, text, strlen(text)), strlen(text));
}

/* Waits (bounded) until a client has received each of `want` (NULL
 * ended); returns everything it got meanwhile. */
static const char *wait_all(int c, const char *const *want)
{
    size_t have = 0;
    rx[0] = '\0';
    for (int i = 0; i < 300; i++) {
        step_all();
        have += ne_sim_client_read(&sim, c, rx + have, sizeof(rx) - 1 - have);
        rx[have] = '\0';
        bool all = true;
        for (const char *const *w = want; *w != NULL; w++) {
            all = all && strstr(rx, *w) != NULL;
        }
        if (all) {
            return rx;
        }
        sleep_ms(5);
    }
    fail_msg("waited for [%s...], got [%s]", want[0], rx);
    return rx;
}

static const char *wait_for(int c, const char *want)
{
    const char *const one[] = {want, NULL};
    return wait_all(c, one);
}

/* A subscription on one leaf is seen by the hub and passed on to the other
 * leaf (a hub passes one leaf's interest to the others, LN-12); a message
 * published on the other leaf crosses both links. */
static void test_leaf_to_leaf_through_the_hub(void **state)
{
    (void)state;
    int sub = client_of(&leafs[0]);
    int pub = client_of(&leafs[1]);
    send_text(sub, "SUB edge.> 1\r\nPING\r\n");
    wait_for(sub, "PONG\r\n");
    /* Until the interest has reached leaf2, a publish there goes nowhere. */
    for (int i = 0; i < 300 && leafs[1].router.accounts[0].sublist.count < 3; i++) {
        step_all();
        sleep_ms(5);
    }
    send_text(pub, "PUB edge.temp 4\r\n21.5\r\n");
    const char *got = wait_for(sub, "MSG edge.temp 1 4\r\n21.5\r\n");
    assert_non_null(got);
}

/* A client of the hub and clients of both leafs: each publishes once and
 * every subscriber hears all three, exactly once each. */
static void test_every_server_hears_every_other(void **state)
{
    (void)state;
    int c[3] = {client_of(&hub), client_of(&leafs[0]), client_of(&leafs[1])};
    for (int i = 0; i < 3; i++) {
        send_text(c[i], "SUB all 1\r\nPING\r\n");
        wait_for(c[i], "PONG\r\n");
    }
    /* Each server knows the other two's interest. */
    for (int i = 0; i < 300; i++) {
        step_all();
        if (hub.router.sub_pool.in_use >= 3 + hub.sys.client->nsubs &&
            leafs[0].router.sub_pool.in_use >= 2 + leafs[0].sys.client->nsubs &&
            leafs[1].router.sub_pool.in_use >= 2 + leafs[1].sys.client->nsubs) {
            break;
        }
        sleep_ms(5);
    }
    send_text(c[0], "PUB all 3\r\nhub\r\n");
    send_text(c[1], "PUB all 2\r\nl1\r\n");
    send_text(c[2], "PUB all 2\r\nl2\r\n");
    static const char *const all[] = {"MSG all 1 3\r\nhub\r\n", "MSG all 1 2\r\nl1\r\n",
                                      "MSG all 1 2\r\nl2\r\n", NULL};
    for (int i = 0; i < 3; i++) {
        const char *got = wait_all(c[i], all);
        /* Once each: no second copy of any of them. */
        for (const char *const *w = all; *w != NULL; w++) {
            assert_null(strstr(strstr(got, *w) + strlen(*w), *w));
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_leaf_to_leaf_through_the_hub, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_server_hears_every_other, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
