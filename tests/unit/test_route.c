/* Cluster routes between natsedge nodes in one process, over the simulated
 * network (port/sim hosts) and the simulated clock: gossip from one seed,
 * messages and interest across the mesh, queue groups (CP-59, PR-03),
 * accounts, leafs on different nodes, a node restarted and a partition
 * healed (interest re-synced, nothing duplicated), duplicate routes, name
 * conflicts, authorization, and a peer whose interest does not fit. After
 * each test every node is shut down and every pool must be back to idle.
 * Route facts without an inventory ID are described in docs/cluster.md. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/ne_error.h"
#include "route/ne_route.h"
#include "server/ne_server.h"
#include "sim/ne_sim_clock.h"
#include "sim/ne_sim_net.h"

#define MAX_NODES 5
#define STEP_MS 5
#define WAIT_STEPS 2000

static ne_sim_net sim;
static ne_sim_host hosts[MAX_NODES];
static ne_server nodes[MAX_NODES];
static bool up[MAX_NODES];
static uint16_t route_ports[MAX_NODES];
static uint16_t leaf_ports[MAX_NODES];
static char rx[NE_SIM_BUFFER_BYTES + 1];
static char acc_text[NE_SIM_BUFFER_BYTES + 1];
/* What a test client received and no wait consumed yet. */
static char pending[NE_SIM_MAX_SOCKETS][16384];

/* How a test wants a node: routes to which nodes, and its extras. */
typedef struct node_spec {
    const char *name;
    const char *cluster;    /* NULL: "C1"; "": none (made up) */
    int routes[MAX_NODES];  /* node indexes, -1 ends */
    const char *route_user; /* credentials in the route URLs */
    const char *route_pass;
    const char *auth_user; /* cluster authorization */
    const char *auth_pass;
    bool accounts;    /* accounts A and B with users a and b */
    bool leaf_listen; /* a leaf hub */
    int leaf_remote;  /* a leaf of node leaf_remote (-1: none) */
    bool no_cluster;
    bool jetstream; /* JetStream (memory streams) on this node */
} node_spec;

static void step_node(int i)
{
    ne_loop loop;
    ne_server_loop(&nodes[i], &loop);
    ne_sim_host_step(&hosts[i], &loop);
}

/* One turn of every running node, then time moves on. */
static void step_all(void)
{
    for (int i = 0; i < MAX_NODES; i++) {
        if (up[i]) {
            step_node(i);
        }
    }
    ne_sim_clock_advance(STEP_MS);
}

static void start_node(int i, const node_spec *spec)
{
    ne_net net;
    ne_sim_host_init(&sim, &hosts[i], (uint8_t)i, &net);
    ne_server_options opts;
    ne_server_options_default(&opts);
    opts.port = 0;
    snprintf(opts.host, sizeof(opts.host), "127.0.0.1"); /* a client URL to give */
    snprintf(opts.server_name, sizeof(opts.server_name), "%s", spec->name);
    ne_cluster_options *c = &opts.cluster;
    if (!spec->no_cluster) {
        c->enabled = true;
        c->listen_port = route_ports[i]; /* 0 the first time: a free one */
        snprintf(c->name, sizeof(c->name), "%s", spec->cluster != NULL ? spec->cluster : "C1");
    }
    for (int k = 0; k < MAX_NODES && spec->routes[k] >= 0; k++) {
        int to = spec->routes[k];
        if (spec->route_user != NULL) {
            snprintf(c->routes[c->route_count], NE_ROUTE_URL_BYTES,
                     "nats-route://%s:%s@127.0.0.1:%u", spec->route_user, spec->route_pass,
                     (unsigned)route_ports[to]);
        } else {
            snprintf(c->routes[c->route_count], NE_ROUTE_URL_BYTES, "nats-route://127.0.0.1:%u",
                     (unsigned)route_ports[to]);
        }
        c->route_count++;
    }
    if (spec->auth_user != NULL) {
        snprintf(c->auth_user, sizeof(c->auth_user), "%s", spec->auth_user);
        snprintf(c->auth_pass, sizeof(c->auth_pass), "%s", spec->auth_pass);
    }
    if (spec->accounts) {
        snprintf(opts.accounts[2].name, NE_ACCOUNT_NAME_BYTES, "A");
        snprintf(opts.accounts[3].name, NE_ACCOUNT_NAME_BYTES, "B");
        opts.accounts[2].default_perms = NE_PERM_NONE;
        opts.accounts[3].default_perms = NE_PERM_NONE;
        opts.account_count = 4;
        for (int u = 0; u < 2; u++) {
            ne_user_entry *e = &opts.users[u];
            snprintf(e->user, sizeof(e->user), "%c", 'a' + u);
            snprintf(e->pass, sizeof(e->pass), "pw");
            e->perms = NE_PERM_NONE;
            e->account = (uint8_t)(2 + u);
        }
        opts.user_count = 2;
    }
    opts.js.enabled = spec->jetstream;
    if (spec->leaf_listen) {
        opts.leaf.listen_enabled = true;
        opts.leaf.listen_port = leaf_ports[i];
    }
    if (spec->leaf_remote >= 0) {
        opts.leaf.remote_count = 1;
        snprintf(opts.leaf.remotes[0].urls[0], NE_LEAF_URL_BYTES, "nats-leaf://127.0.0.1:%u",
                 (unsigned)leaf_ports[spec->leaf_remote]);
        opts.leaf.remotes[0].url_count = 1;
        opts.leaf.reconnect_ms = 100;
    }
    assert_int_equal(ne_server_init(&nodes[i], &opts, &net, NULL), NE_OK);
    assert_int_equal(ne_server_start(&nodes[i]), NE_OK);
    route_ports[i] = ne_server_route_port(&nodes[i]);
    leaf_ports[i] = ne_server_leaf_port(&nodes[i]);
    up[i] = true;
}

static void stop_node(int i)
{
    ne_server_shutdown(&nodes[i]);
    step_node(i);
    up[i] = false;
}

static void idle_or_fail(int i)
{
    const char *busy = NULL;
    if (ne_server_pools_in_use(&nodes[i], &busy) != 0) {
        fail_msg("node %d: pool \"%s\" not back to idle", i, busy);
    }
}

static int setup(void **state)
{
    (void)state;
    ne_net net;
    ne_sim_net_init(&sim, &net);
    memset(up, 0, sizeof(up));
    memset(route_ports, 0, sizeof(route_ports));
    memset(leaf_ports, 0, sizeof(leaf_ports));
    memset(pending, 0, sizeof(pending));
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
        if (was_up[i]) {
            idle_or_fail(i);
        }
        up[i] = false;
    }
    return 0;
}

/* Steps until cond holds, bounded. */
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

static uint32_t routes_of(int i)
{
    return ne_route_count(&nodes[i].route);
}

static bool full_mesh_3(void)
{
    return routes_of(0) == 2 && routes_of(1) == 2 && routes_of(2) == 2;
}

static bool pair_up(void)
{
    return routes_of(0) == 1 && routes_of(1) == 1;
}

/* ---- Clients ------------------------------------------------------------------ */

static int client_as(int node, const char *connect)
{
    int c = ne_sim_connect(&sim, ne_server_client_port(&nodes[node]));
    assert_true(c >= 0);
    pending[c][0] = '\0';
    ne_sim_client_write(&sim, c, connect, strlen(connect));
    return c;
}

static int client_of(int node)
{
    return client_as(node, "CONNECT {\"verbose\":false,\"headers\":true}\r\n");
}

static void send_text(int c, const char *text)
{
    assert_int_equal(ne_sim_client_write(&sim, c, text, strlen(text)), strlen(text));
}

/* Steps until c has received `want`; returns what it received up to and
 * including it (the rest stays pending). Bounded. */
static const char *wait_for(int c, const char *want)
{
    size_t len = strlen(pending[c]);
    memcpy(acc_text, pending[c], len + 1);
    pending[c][0] = '\0';
    for (int i = 0; i < WAIT_STEPS; i++) {
        size_t n = ne_sim_client_read(&sim, c, acc_text + len, sizeof(acc_text) - 1 - len);
        len += n;
        acc_text[len] = '\0';
        char *at = strstr(acc_text, want);
        if (at != NULL) {
            char *rest = at + strlen(want);
            size_t rest_len = strlen(rest);
            if (rest_len < sizeof(pending[c])) {
                memcpy(pending[c], rest, rest_len + 1);
            }
            *rest = '\0';
            return acc_text;
        }
        step_all();
    }
    fail_msg("client %d: waited for [%s], got [%.300s]", c, want, acc_text);
    return acc_text;
}

/* Everything c received within `steps` turns, pending included. */
static const char *drain(int c, int steps)
{
    size_t len = strlen(pending[c]);
    memcpy(rx, pending[c], len + 1);
    pending[c][0] = '\0';
    for (int i = 0; i < steps; i++) {
        step_all();
        len += ne_sim_client_read(&sim, c, rx + len, sizeof(rx) - 1 - len);
        rx[len] = '\0';
    }
    return rx;
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

/* A PING/PONG round trip: what the client sent before is processed. */
static void flush_client(int c)
{
    send_text(c, "PING\r\n");
    wait_for(c, "PONG\r\n");
}

/* A route peer's subscription on subject at node `node` (its RS+ arrived),
 * NULL if none. */
static const ne_sub *route_sub(int node, const char *subject)
{
    const ne_route_state *st = &nodes[node].route;
    for (uint32_t i = 0; i < NE_MAX_ROUTES; i++) {
        const ne_route_link *l = st->links[i];
        if (l == NULL || l->state != NE_ROUTE_ESTABLISHED) {
            continue;
        }
        for (const ne_sub *s = l->conn->subs; s != NULL; s = s->conn_next) {
            if (s->entry.subject_len == strlen(subject) &&
                memcmp(s->text, subject, s->entry.subject_len) == 0) {
                return s;
            }
        }
    }
    return NULL;
}

static bool has_route_interest(int node, const char *subject)
{
    return route_sub(node, subject) != NULL;
}

/* Any subscription on subject at node `node` (a client's, a peer's). */
static bool has_sub(int node, const char *subject)
{
    for (const ne_conn *c = nodes[node].conns.active; c != NULL; c = c->next) {
        for (const ne_sub *s = c->subs; s != NULL; s = s->conn_next) {
            if (s->entry.subject_len == strlen(subject) &&
                memcmp(s->text, subject, s->entry.subject_len) == 0) {
                return true;
            }
        }
    }
    return false;
}

/* Everything c receives until each of `want` (NULL ended) is there, and
 * for `extra` turns after: for counting copies. */
static char collected[NE_SIM_BUFFER_BYTES + 1];
static const char *collect(int c, const char *const *want, int extra)
{
    size_t len = strlen(pending[c]);
    memcpy(collected, pending[c], len + 1);
    pending[c][0] = '\0';
    bool all = false;
    for (int i = 0; i < WAIT_STEPS && !all; i++) {
        step_all();
        len += ne_sim_client_read(&sim, c, collected + len, sizeof(collected) - 1 - len);
        collected[len] = '\0';
        all = true;
        for (const char *const *w = want; *w != NULL; w++) {
            all = all && strstr(collected, *w) != NULL;
        }
    }
    if (!all) {
        fail_msg("client %d: waited for [%s...], got [%.300s]", c, want[0], collected);
    }
    for (int i = 0; i < extra; i++) {
        step_all();
        len += ne_sim_client_read(&sim, c, collected + len, sizeof(collected) - 1 - len);
        collected[len] = '\0';
    }
    return collected;
}

static int interest_node;
static const char *interest_subject;
static bool interest_seen(void)
{
    return has_route_interest(interest_node, interest_subject);
}
static bool interest_gone(void)
{
    return !has_route_interest(interest_node, interest_subject);
}

static void wait_interest(int node, const char *subject)
{
    interest_node = node;
    interest_subject = subject;
    wait_until(interest_seen, subject);
}

static void wait_no_interest(int node, const char *subject)
{
    interest_node = node;
    interest_subject = subject;
    wait_until(interest_gone, subject);
}

/* Three nodes: 1 and 2 know only node 0 (the seed). */
static void start_mesh_from_seed(void)
{
    node_spec s0 = {.name = "n0", .routes = {-1}, .leaf_remote = -1};
    node_spec s1 = {.name = "n1", .routes = {0, -1}, .leaf_remote = -1};
    node_spec s2 = {.name = "n2", .routes = {0, -1}, .leaf_remote = -1};
    start_node(0, &s0);
    start_node(1, &s1);
    start_node(2, &s2);
    wait_until(full_mesh_3, "a full mesh of three");
}

static bool n0_alone(void);

/* ---- Tests ------------------------------------------------------------------------ */

/* Two nodes given only the seed's URL find each other through its INFO
 * (gossip) and the mesh is full; INFO connect_urls lists every node's
 * client URL (CP-11). */
static void test_route_gossip_from_one_seed_makes_a_full_mesh(void **state)
{
    (void)state;
    start_mesh_from_seed();
    const ne_route_state *st1 = &nodes[1].route;
    bool one_to_two = false;
    for (uint32_t i = 0; i < NE_MAX_ROUTES; i++) {
        const ne_route_link *l = st1->links[i];
        one_to_two = one_to_two || (l != NULL && l->state == NE_ROUTE_ESTABLISHED &&
                                    strcmp(l->remote_id, nodes[2].conns.id.server_id) == 0);
    }
    assert_true(one_to_two);
    int c = client_of(0);
    const char *info = wait_for(c, "\r\n");
    char url[32];
    for (int i = 0; i < 3; i++) {
        snprintf(url, sizeof(url), "\"127.0.0.1:%u\"", (unsigned)ne_server_client_port(&nodes[i]));
        assert_non_null(strstr(info, url));
    }
    assert_non_null(strstr(info, "\"cluster\":\"C1\""));
}

/* As nats-server: no connect_urls until a route brought a URL (a node
 * alone sends none); then this node's and the peers', and this node's
 * still once the peer is gone (CP-11). */
static void test_route_connect_urls_appear_with_the_first_peer_CP11(void **state)
{
    (void)state;
    node_spec s0 = {.name = "n0", .routes = {-1}, .leaf_remote = -1};
    start_node(0, &s0);
    int alone = client_of(0);
    const char *info = wait_for(alone, "\r\n");
    assert_null(strstr(info, "connect_urls"));
    assert_non_null(strstr(info, "\"cluster\":\"C1\""));
    node_spec s1 = {.name = "n1", .routes = {0, -1}, .leaf_remote = -1};
    start_node(1, &s1);
    wait_until(pair_up, "a route");
    char both[64];
    snprintf(both, sizeof(both), "\"connect_urls\":[\"127.0.0.1:%u\",\"127.0.0.1:%u\"]",
             (unsigned)ne_server_client_port(&nodes[0]),
             (unsigned)ne_server_client_port(&nodes[1]));
    int c = client_of(0);
    assert_non_null(strstr(wait_for(c, "\r\n"), both));
    stop_node(1);
    wait_until(n0_alone, "node 0 alone");
    char own[48];
    snprintf(own, sizeof(own), "\"connect_urls\":[\"127.0.0.1:%u\"]",
             (unsigned)ne_server_client_port(&nodes[0]));
    int later = client_of(0);
    assert_non_null(strstr(wait_for(later, "\r\n"), own));
}

/* A subscription on one node gets messages published on each of the
 * others, wildcards included, exactly once (no message goes back onto a
 * route). */
static void test_route_messages_cross_every_pair_once(void **state)
{
    (void)state;
    start_mesh_from_seed();
    int sub[3], pub[3];
    for (int i = 0; i < 3; i++) {
        sub[i] = client_of(i);
        send_text(sub[i], "SUB all.> 1\r\nSUB all.*.x 2\r\n");
        flush_client(sub[i]);
        pub[i] = client_of(i);
    }
    for (int i = 0; i < 3; i++) {
        wait_interest(i, "all.>");
        wait_interest(i, "all.*.x");
    }
    send_text(pub[0], "PUB all.n0.x 2\r\nn0\r\n");
    send_text(pub[1], "PUB all.n1.x 2\r\nn1\r\n");
    send_text(pub[2], "PUB all.n2.y 2\r\nn2\r\n");
    static const char *const want[] = {"MSG all.n0.x 1 2\r\nn0\r\n", "MSG all.n0.x 2 2\r\nn0\r\n",
                                       "MSG all.n1.x 1 2\r\nn1\r\n", "MSG all.n1.x 2 2\r\nn1\r\n",
                                       "MSG all.n2.y 1 2\r\nn2\r\n", NULL};
    for (int i = 0; i < 3; i++) {
        const char *got = collect(sub[i], want, 60);
        for (const char *const *w = want; *w != NULL; w++) {
            assert_int_equal(count_of(got, *w), 1);
        }
        assert_int_equal(count_of(got, "MSG all.n2.y 2"), 0);
    }
}

/* A queue group with members on every node: each message reaches exactly
 * one member (CP-58, CP-59). */
static void test_route_queue_group_one_member_per_message_CP59(void **state)
{
    (void)state;
    start_mesh_from_seed();
    int member[3];
    for (int i = 0; i < 3; i++) {
        member[i] = client_of(i);
        send_text(member[i], "SUB jobs workers 1\r\n");
        flush_client(member[i]);
    }
    for (int i = 0; i < 3; i++) {
        wait_interest(i, "jobs");
    }
    int pub = client_of(0);
    for (int m = 0; m < 60; m++) {
        char line[64];
        snprintf(line, sizeof(line), "PUB jobs 3\r\n%03d\r\n", m);
        send_text(pub, line);
    }
    flush_client(pub);
    int total = 0;
    int seen[60] = {0};
    for (int i = 0; i < 3; i++) {
        const char *got = drain(member[i], 80);
        for (const char *p = strstr(got, "MSG jobs 1 3\r\n"); p != NULL;
             p = strstr(p + 1, "MSG jobs 1 3\r\n")) {
            int v = (p[14] - '0') * 100 + (p[15] - '0') * 10 + (p[16] - '0');
            assert_true(v >= 0 && v < 60);
            seen[v]++;
            total++;
        }
    }
    assert_int_equal(total, 60);
    for (int v = 0; v < 60; v++) {
        assert_int_equal(seen[v], 1);
    }
}

/* A message published on a node whose queue group has members on other
 * nodes goes to its own member about as often as to each other one: a
 * route's member counts by its weight (PR-03: a quarter of the time in a
 * 4-node mesh with one member each; here one local member against three
 * on one other node). */
static void test_route_queue_weight_spreads_local_publishes_PR03(void **state)
{
    (void)state;
    node_spec s0 = {.name = "n0", .routes = {-1}, .leaf_remote = -1};
    node_spec s1 = {.name = "n1", .routes = {0, -1}, .leaf_remote = -1};
    start_node(0, &s0);
    start_node(1, &s1);
    wait_until(pair_up, "a route");
    int local = client_of(0);
    send_text(local, "SUB w g 1\r\n");
    flush_client(local);
    int remote = client_of(1);
    send_text(remote, "SUB w g 1\r\nSUB w g 2\r\nSUB w g 3\r\n");
    flush_client(remote);
    /* The weight 3 has reached node 0. */
    for (int i = 0; i < WAIT_STEPS; i++) {
        const ne_sub *s = route_sub(0, "w");
        if (s != NULL && s->member_weight == 3) {
            break;
        }
        step_all();
    }
    assert_int_equal(route_sub(0, "w")->member_weight, 3);
    int pub = client_of(0);
    for (int m = 0; m < 400; m++) {
        send_text(pub, "PUB w 1\r\nx\r\n");
        if (m % 50 == 49) {
            flush_client(pub);
        }
    }
    flush_client(pub);
    int here = count_of(drain(local, 60), "MSG w 1 1\r\n");
    int there = count_of(drain(remote, 60), "MSG w ");
    assert_int_equal(here + there, 400);
    /* Expected 100 here (sd 8.7): far from both "all here" and "half". */
    assert_true(here > 50 && here < 160);
}

/* Messages node `from` sent on its route to node `to`. */
static uint64_t out_msgs_between(int from, int to)
{
    const ne_route_state *st = &nodes[from].route;
    for (uint32_t k = 0; k < NE_MAX_ROUTES; k++) {
        const ne_route_link *l = st->links[k];
        if (l != NULL && strcmp(l->remote_id, nodes[to].conns.id.server_id) == 0) {
            return l->conn->out_msgs;
        }
    }
    fail_msg("no route from node %d to node %d", from, to);
    return 0;
}

/* A message that arrives from a route for a queue group goes to a member
 * of this node, never back onto a route (CP-59). */
static void test_route_message_from_route_prefers_local_member_CP59(void **state)
{
    (void)state;
    start_mesh_from_seed();
    int m1 = client_of(1);
    send_text(m1, "SUB task q 1\r\n");
    flush_client(m1);
    int m2 = client_of(2);
    send_text(m2, "SUB task q 1\r\n");
    flush_client(m2);
    wait_interest(0, "task");
    /* What nodes 1 and 2 send each other before: their own STATSZ. */
    uint64_t between[3] = {0, 0, 0};
    uint64_t statsz[3] = {0, 0, 0};
    for (int i = 1; i < 3; i++) {
        between[i] = out_msgs_between(i, 3 - i);
        statsz[i] = nodes[i].sys.stats.statsz;
    }
    /* Node 0 has no member: each of its messages goes to one route, whose
     * node delivers it to its own member. */
    int pub = client_of(0);
    for (int m = 0; m < 40; m++) {
        send_text(pub, "PUB task 1\r\nt\r\n");
    }
    flush_client(pub);
    int a = count_of(drain(m1, 60), "MSG task 1 1\r\n");
    int b = count_of(drain(m2, 60), "MSG task 1 1\r\n");
    assert_int_equal(a + b, 40);
    /* Node 1 and 2 forwarded nothing to each other: what went between them
     * meanwhile was their own STATSZ (the system service's, docs/cluster.md). */
    for (int i = 1; i < 3; i++) {
        assert_int_equal(out_msgs_between(i, 3 - i) - between[i],
                         nodes[i].sys.stats.statsz - statsz[i]);
    }
}

/* A request from one node answered on another, headers carried (HMSG on
 * the route). */
static void test_route_request_reply_and_headers(void **state)
{
    (void)state;
    start_mesh_from_seed();
    int svc = client_of(2);
    send_text(svc, "SUB svc.echo 1\r\n");
    flush_client(svc);
    int req = client_of(0);
    send_text(req, "SUB _INBOX.r1 9\r\n");
    flush_client(req);
    wait_interest(0, "svc.echo");
    wait_interest(2, "_INBOX.r1");
    send_text(req, "HPUB svc.echo _INBOX.r1 21 23\r\nNATS/1.0\r\nX-Id: 7\r\n\r\nhi\r\n");
    wait_for(svc, "HMSG svc.echo 1 _INBOX.r1 21 23\r\nNATS/1.0\r\nX-Id: 7\r\n\r\nhi\r\n");
    send_text(svc, "PUB _INBOX.r1 4\r\npong\r\n");
    wait_for(req, "MSG _INBOX.r1 9 4\r\npong\r\n");
}

/* A publish on subject with a body, from client c. */
static void pub_text(int c, const char *subject, const char *reply, const char *body)
{
    char line[256];
    snprintf(line, sizeof(line), "PUB %s %s %zu\r\n", subject, reply, strlen(body));
    send_text(c, line);
    send_text(c, body);
    send_text(c, "\r\n");
}

/* A JetStream push consumer's deliveries to a subscriber on another node
 * show the stored message's subject, as on the consumer's own node: the
 * RMSG is routed on the deliver subject and carries the stored subject
 * after the ack reply ("reply@subject"), as nats-server's routes do (the
 * subscriber saw the deliver subject before). */
static void test_route_jetstream_delivery_shows_the_stored_subject(void **state)
{
    (void)state;
    node_spec s0 = {.name = "n0", .routes = {-1}, .leaf_remote = -1, .jetstream = true};
    node_spec s1 = {.name = "n1", .routes = {0, -1}, .leaf_remote = -1};
    start_node(0, &s0);
    start_node(1, &s1);
    wait_until(pair_up, "two nodes routed");
    int sub = client_of(1);
    send_text(sub, "SUB dlv.x 1\r\n");
    flush_client(sub);
    wait_interest(0, "dlv.x");
    int c = client_of(0);
    send_text(c, "SUB in.> 9\r\n");
    pub_text(c, "$JS.API.STREAM.CREATE.S", "in.1",
             "{\"name\":\"S\",\"subjects\":[\"orders.>\"],\"storage\":\"memory\"}");
    wait_for(c, "\"created\"");
    pub_text(c, "$JS.API.CONSUMER.CREATE.S.D", "in.2",
             "{\"stream_name\":\"S\",\"config\":{\"durable_name\":\"D\","
             "\"deliver_subject\":\"dlv.x\",\"ack_policy\":\"explicit\"}}");
    wait_for(c, "\"num_pending\"");
    pub_text(c, "orders.eu", "", "hi");
    const char *got = wait_for(sub, "\r\nhi\r\n");
    assert_non_null(strstr(got, "MSG orders.eu 1 $JS.ACK.S."));
    assert_null(strstr(got, "dlv.x"));
    /* The ack from the other node reaches the consumer: its reply is the
     * ack subject without the '@'. */
    const char *ack = strstr(got, "$JS.ACK.S.");
    char reply[128];
    size_t n = strcspn(ack, " ");
    assert_true(n < sizeof(reply));
    memcpy(reply, ack, n);
    reply[n] = '\0';
    assert_null(strchr(reply, '@'));
    pub_text(sub, reply, "", "+ACK");
    flush_client(sub);
    pub_text(c, "$JS.API.CONSUMER.INFO.S.D", "in.3", "");
    wait_for(c, "\"ack_floor\":{\"consumer_seq\":1,\"stream_seq\":1");
}

/* UNSUB withdraws the interest from the routes (RS-): the message no
 * longer crosses. */
static void test_route_unsubscribe_withdraws_interest(void **state)
{
    (void)state;
    start_mesh_from_seed();
    int sub = client_of(1);
    send_text(sub, "SUB gone 1\r\n");
    flush_client(sub);
    wait_interest(0, "gone");
    send_text(sub, "UNSUB 1\r\n");
    flush_client(sub);
    wait_no_interest(0, "gone");
    uint64_t before = nodes[0].router.stats.out_msgs;
    int pub = client_of(0);
    send_text(pub, "PUB gone 1\r\nx\r\n");
    flush_client(pub);
    assert_int_equal(nodes[0].router.stats.out_msgs, before);
}

/* Accounts travel with the interest and the messages (RS+ <account>,
 * RMSG <account>): a user of account A on one node hears A's publishes on
 * another, not B's. */
static void test_route_accounts_are_carried(void **state)
{
    (void)state;
    node_spec s0 = {.name = "n0", .routes = {-1}, .accounts = true, .leaf_remote = -1};
    node_spec s1 = {.name = "n1", .routes = {0, -1}, .accounts = true, .leaf_remote = -1};
    start_node(0, &s0);
    start_node(1, &s1);
    wait_until(pair_up, "a route");
    int a_sub = client_as(1, "CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"pw\"}\r\n");
    send_text(a_sub, "SUB news 1\r\n");
    flush_client(a_sub);
    wait_interest(0, "news");
    int a_pub = client_as(0, "CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"pw\"}\r\n");
    int b_pub = client_as(0, "CONNECT {\"verbose\":false,\"user\":\"b\",\"pass\":\"pw\"}\r\n");
    send_text(b_pub, "PUB news 1\r\nB\r\n");
    flush_client(b_pub);
    send_text(a_pub, "PUB news 1\r\nA\r\n");
    const char *got = wait_for(a_sub, "MSG news 1 1\r\nA\r\n");
    assert_null(strstr(got, "\r\nB\r\n"));
}

/* Leafs of different nodes see each other's interest through the
 * cluster: a subscriber on a leaf of node 0 hears a publisher on a leaf of
 * node 1 (issue 19; LN-12's hub role). */
static void test_route_leafs_of_different_nodes_meet(void **state)
{
    (void)state;
    node_spec s0 = {.name = "n0", .routes = {-1}, .leaf_listen = true, .leaf_remote = -1};
    node_spec s1 = {.name = "n1", .routes = {0, -1}, .leaf_listen = true, .leaf_remote = -1};
    start_node(0, &s0);
    start_node(1, &s1);
    wait_until(pair_up, "a route");
    node_spec l2 = {.name = "leaf2", .routes = {-1}, .leaf_remote = 0, .no_cluster = true};
    node_spec l3 = {.name = "leaf3", .routes = {-1}, .leaf_remote = 1, .no_cluster = true};
    start_node(2, &l2);
    start_node(3, &l3);
    for (int i = 0; i < WAIT_STEPS && (ne_leaf_connection_count(&nodes[0].leaf) != 1 ||
                                       ne_leaf_connection_count(&nodes[1].leaf) != 1);
         i++) {
        step_all();
    }
    int sub = client_of(2);
    send_text(sub, "SUB edge.temp 1\r\n");
    flush_client(sub);
    wait_interest(1, "edge.temp");
    /* ...and node 1 passed it on to its leaf. */
    for (int i = 0; i < WAIT_STEPS && !has_sub(3, "edge.temp"); i++) {
        step_all();
    }
    assert_true(has_sub(3, "edge.temp"));
    int pub = client_of(3);
    send_text(pub, "PUB edge.temp 4\r\n21.5\r\n");
    const char *got = wait_for(sub, "MSG edge.temp 1 4\r\n21.5\r\n");
    assert_int_equal(count_of(got, "MSG edge.temp"), 1);
    assert_int_equal(count_of(drain(sub, 60), "MSG edge.temp"), 0);
}

static bool n0_has_one(void)
{
    return routes_of(0) == 1;
}

/* A node killed and started again on its route port: the others reconnect
 * (their configured route, or gossip), its interest comes back and its
 * subscribers hear the others again, once. */
static void test_route_node_restart_resyncs_interest(void **state)
{
    (void)state;
    start_mesh_from_seed();
    int sub0 = client_of(0);
    send_text(sub0, "SUB back 1\r\n");
    flush_client(sub0);
    stop_node(1);
    wait_until(n0_has_one, "node 0 down to one route");
    node_spec s1 = {.name = "n1", .routes = {0, -1}, .leaf_remote = -1};
    start_node(1, &s1);
    wait_until(full_mesh_3, "the mesh again");
    wait_interest(1, "back");
    int pub = client_of(1);
    send_text(pub, "PUB back 2\r\nok\r\n");
    const char *got = wait_for(sub0, "MSG back 1 2\r\nok\r\n");
    assert_int_equal(count_of(got, "MSG back"), 1);
    assert_int_equal(count_of(drain(sub0, 60), "MSG back"), 0);
}

static bool n0_alone(void)
{
    return routes_of(0) == 0;
}

/* A partition cuts node 0 off; its routes go, clients of the others keep
 * working among themselves; healed, the routes come back with the
 * interest and no message is duplicated. */
static void test_route_partition_heals_with_interest(void **state)
{
    (void)state;
    start_mesh_from_seed();
    int sub0 = client_of(0);
    send_text(sub0, "SUB p 1\r\n");
    flush_client(sub0);
    int sub2 = client_of(2);
    send_text(sub2, "SUB p 1\r\n");
    flush_client(sub2);
    wait_interest(1, "p");
    ne_sim_partition(&sim, 0, 1);
    ne_sim_partition(&sim, 0, 2);
    wait_until(n0_alone, "node 0 cut off");
    int pub1 = client_of(1);
    send_text(pub1, "PUB p 3\r\ncut\r\n");
    wait_for(sub2, "MSG p 1 3\r\ncut\r\n");
    assert_int_equal(count_of(drain(sub0, 40), "cut"), 0);
    ne_sim_heal(&sim, 0, 1);
    ne_sim_heal(&sim, 0, 2);
    wait_until(full_mesh_3, "the mesh healed");
    wait_interest(1, "p");
    send_text(pub1, "PUB p 4\r\nheal\r\n");
    const char *got = wait_for(sub0, "MSG p 1 4\r\nheal\r\n");
    assert_int_equal(count_of(got, "heal"), 1);
    assert_int_equal(count_of(drain(sub0, 60), "heal"), 0);
    assert_int_equal(count_of(drain(sub2, 20), "heal"), 1);
}

/* Two nodes configured with each other's URL end with one route between
 * them; the second is closed as a duplicate. */
static void test_route_duplicate_routes_resolve_to_one(void **state)
{
    (void)state;
    node_spec s0 = {.name = "n0", .routes = {-1}, .leaf_remote = -1};
    start_node(0, &s0);
    node_spec s1 = {.name = "n1", .routes = {0, -1}, .leaf_remote = -1};
    start_node(1, &s1);
    /* Node 0 learns node 1's port only now: restart it routed to node 1
     * too, so that both solicit each other. */
    stop_node(0);
    node_spec s0b = {.name = "n0", .routes = {1, -1}, .leaf_remote = -1};
    start_node(0, &s0b);
    wait_until(pair_up, "one route each");
    for (int i = 0; i < 600; i++) {
        step_all();
    }
    assert_int_equal(routes_of(0), 1);
    assert_int_equal(routes_of(1), 1);
    /* ...and it carries messages. */
    int sub = client_of(1);
    send_text(sub, "SUB d 1\r\n");
    flush_client(sub);
    wait_interest(0, "d");
    int pub = client_of(0);
    send_text(pub, "PUB d 1\r\n!\r\n");
    wait_for(sub, "MSG d 1 1\r\n!\r\n");
}

/* A node of another cluster name is refused by the one it connects to
 * ("Cluster Name Conflict"), counted, and keeps being retried. */
static void test_route_cluster_name_conflict_refused(void **state)
{
    (void)state;
    node_spec s0 = {.name = "n0", .routes = {-1}, .leaf_remote = -1};
    node_spec s1 = {.name = "n1", .cluster = "OTHER", .routes = {0, -1}, .leaf_remote = -1};
    start_node(0, &s0);
    start_node(1, &s1);
    for (int i = 0; i < 600; i++) {
        step_all();
    }
    assert_int_equal(routes_of(0), 0);
    assert_int_equal(routes_of(1), 0);
    assert_true(nodes[0].route.stats.name_conflicts + nodes[1].route.stats.name_conflicts > 0);
    assert_true(nodes[1].route.targets[0].attempts >= 2);
}

/* A made-up cluster name gives way to a configured one. */
static void test_route_dynamic_cluster_name_adopts_configured(void **state)
{
    (void)state;
    node_spec s0 = {.name = "n0", .routes = {-1}, .leaf_remote = -1};
    node_spec s1 = {.name = "n1", .cluster = "", .routes = {0, -1}, .leaf_remote = -1};
    start_node(0, &s0);
    start_node(1, &s1);
    assert_true(nodes[1].route.dynamic);
    wait_until(pair_up, "a route");
    assert_string_equal(nodes[1].route.cluster_name, "C1");
}

/* Cluster authorization: a route with the wrong password is refused
 * (Authorization Violation) and retried; with the right one it is up. */
static void test_route_authorization(void **state)
{
    (void)state;
    node_spec s0 = {
        .name = "n0", .routes = {-1}, .auth_user = "ru", .auth_pass = "rp", .leaf_remote = -1};
    node_spec bad = {.name = "n1",
                     .routes = {0, -1},
                     .route_user = "ru",
                     .route_pass = "nope",
                     .leaf_remote = -1};
    start_node(0, &s0);
    start_node(1, &bad);
    for (int i = 0; i < 600; i++) {
        step_all();
    }
    assert_int_equal(routes_of(0), 0);
    assert_true(nodes[1].route.targets[0].attempts >= 2);
    stop_node(1);
    node_spec good = {
        .name = "n1", .routes = {0, -1}, .route_user = "ru", .route_pass = "rp", .leaf_remote = -1};
    start_node(1, &good);
    wait_until(pair_up, "an authorized route");
}

/* The cluster's password may be a bcrypt hash (the route sends it clear). */
static void test_route_authorization_with_a_bcrypt_password(void **state)
{
    (void)state;
    node_spec s0 = {.name = "n0",
                    .routes = {-1},
                    .auth_user = "ru",
                    .auth_pass = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
                    .leaf_remote = -1};
    node_spec s1 = {.name = "n1",
                    .routes = {0, -1},
                    .route_user = "ru",
                    .route_pass = "U*U",
                    .leaf_remote = -1};
    start_node(0, &s0);
    start_node(1, &s1);
    wait_until(pair_up, "a route authorized by a bcrypt password");
}

/* A peer announcing more interest than this node may hold for it
 * (NE_ROUTE_MAX_REMOTE_SUBS) is disconnected, counted, and tried again;
 * clients keep working meanwhile. The test plays the peer. */
static void test_route_peer_interest_exhaustion_closes_the_route(void **state)
{
    (void)state;
    node_spec s0 = {.name = "n0", .routes = {-1}, .leaf_remote = -1};
    start_node(0, &s0);
    int peer = ne_sim_connect(&sim, route_ports[0]);
    assert_true(peer >= 0);
    wait_for(peer, "\r\n"); /* the node's INFO */
    send_text(peer, "CONNECT {\"name\":\"NFAKE\",\"cluster\":\"C1\",\"headers\":true}\r\n"
                    "INFO {\"server_id\":\"NFAKE\",\"server_name\":\"fake\",\"cluster\":\"C1\","
                    "\"host\":\"127.0.0.1\",\"port\":1,\"headers\":true}\r\n");
    wait_for(peer, "\r\nPING\r\n"); /* the line, not a subject ending in PING */
    assert_int_equal(routes_of(0), 1);
    char line[64];
    for (uint32_t i = 0; i <= NE_ROUTE_MAX_REMOTE_SUBS; i++) {
        size_t n = (size_t)snprintf(line, sizeof(line), "RS+ $G flood.%u\r\n", (unsigned)i);
        ne_sim_client_write(&sim, peer, line, n);
        if (i % 256 == 255) {
            step_all();
        }
    }
    wait_for(peer, "-ERR 'maximum subscriptions exceeded'\r\n");
    for (int i = 0; i < 10 && !ne_sim_server_closed(&sim, peer); i++) {
        step_all();
    }
    assert_true(ne_sim_server_closed(&sim, peer));
    assert_int_equal(nodes[0].route.stats.interest_exhausted, 1);
    assert_int_equal(routes_of(0), 0);
    /* Clients were not touched. */
    int c = client_of(0);
    send_text(c, "SUB ok 1\r\nPUB ok 2\r\nhi\r\n");
    wait_for(c, "MSG ok 1 2\r\nhi\r\n");
    ne_sim_client_close(&sim, peer);
}

/* What a route peer may not do: a client's verbs, RS+ before the
 * handshake (the connection closes). */
static void test_route_client_verbs_on_a_route_close_it_CP05(void **state)
{
    (void)state;
    node_spec s0 = {.name = "n0", .routes = {-1}, .leaf_remote = -1};
    start_node(0, &s0);
    int early = ne_sim_connect(&sim, route_ports[0]);
    wait_for(early, "\r\n");
    send_text(early, "RS+ $G x\r\n");
    for (int i = 0; i < 20 && !ne_sim_server_closed(&sim, early); i++) {
        step_all();
    }
    assert_true(ne_sim_server_closed(&sim, early));
    int client = ne_sim_connect(&sim, route_ports[0]);
    wait_for(client, "\r\n");
    send_text(client, "CONNECT {\"lang\":\"go\",\"cluster\":\"C1\"}\r\n");
    wait_for(client, "-ERR 'attempted to connect to route port'\r\n");
    int peer = ne_sim_connect(&sim, route_ports[0]);
    wait_for(peer, "\r\n");
    send_text(peer, "CONNECT {\"name\":\"NFAKE\",\"cluster\":\"C1\"}\r\n"
                    "INFO {\"server_id\":\"NFAKE\",\"cluster\":\"C1\",\"port\":1}\r\n"
                    "MSG x 1 1\r\nx\r\n");
    wait_for(peer, "-ERR 'Unknown Protocol Operation'\r\n");
    ne_sim_client_close(&sim, early);
    ne_sim_client_close(&sim, client);
    ne_sim_client_close(&sim, peer);
}

/* A peer of another cluster whose name is as long as a name can be gets
 * the whole refusal; the text did not fit the close's line and the node
 * stopped on an assertion (a remote crash). */
static void test_route_long_cluster_name_refused_whole(void **state)
{
    (void)state;
    node_spec s0 = {.name = "n0",
                    .cluster = "C123456789012345678901234567890123456789012345678901234567890X",
                    .routes = {-1},
                    .leaf_remote = -1};
    start_node(0, &s0);
    int peer = ne_sim_connect(&sim, route_ports[0]);
    wait_for(peer, "\r\n");
    char connect[256];
    snprintf(connect, sizeof(connect), "CONNECT {\"name\":\"NFAKE\",\"cluster\":\"%s\"}\r\n",
             "O12345678901234567890123456789012345678901234567890123456789012");
    send_text(peer, connect);
    const char *got = wait_for(peer, "\"'\r\n");
    assert_non_null(strstr(got,
                           "-ERR 'Rejecting connection, cluster name "
                           "\"O12345678901234567890123456789012345678901234567890123456789012\" "
                           "does not match "
                           "\"C123456789012345678901234567890123456789012345678901234567890X\"'"));
    for (int i = 0; i < 20 && !ne_sim_server_closed(&sim, peer); i++) {
        step_all();
    }
    assert_true(ne_sim_server_closed(&sim, peer));
    ne_sim_client_close(&sim, peer);
}

/* A reload that changes the cluster block is refused as a whole; the
 * routes stay (docs/configuration.md). */
static void test_route_reload_of_the_cluster_is_refused(void **state)
{
    (void)state;
    node_spec s0 = {.name = "n0", .routes = {-1}, .leaf_remote = -1};
    node_spec s1 = {.name = "n1", .routes = {0, -1}, .leaf_remote = -1};
    start_node(0, &s0);
    start_node(1, &s1);
    wait_until(pair_up, "a route");
    ne_server_options next = nodes[1].opts;
    next.cluster.route_count = 0;
    char err[256];
    assert_int_equal(ne_server_reload(&nodes[1], &next, err, sizeof(err)), NE_ERR_UNSUPPORTED);
    assert_non_null(strstr(err, "config reload not supported"));
    assert_int_equal(nodes[1].opts.cluster.route_count, 1);
    for (int i = 0; i < 100; i++) {
        step_all();
    }
    assert_true(pair_up());
}

/* A configured route that cannot connect is tried again after 1 s, then
 * 2, 4 and 8 s, never longer, each with at most 100 ms of jitter
 * (NE_ROUTE_RECONNECT_MS, NE_ROUTE_RECONNECT_MAX_MS); the simulated clock
 * times the attempts. */
static void test_route_reconnect_backs_off(void **state)
{
    (void)state;
    node_spec s0 = {.name = "n0", .routes = {-1}, .leaf_remote = -1};
    start_node(0, &s0);
    node_spec s1 = {.name = "n1", .routes = {0, -1}, .leaf_remote = -1};
    sim.refuse_connect = true;
    start_node(1, &s1);
    const ne_route_target *t = &nodes[1].route.targets[0];
    uint64_t at[7] = {0};
    uint64_t seen = 0;
    for (int i = 0; i < 12000 && seen < 7; i++) {
        step_all();
        if (t->attempts > seen) {
            at[seen++] = ne_sim_clock_now_ms();
        }
    }
    assert_int_equal(seen, 7);
    static const uint64_t want[] = {1000, 2000, 4000, 8000, 8000, 8000};
    for (int k = 0; k < 6; k++) {
        uint64_t gap = at[k + 1] - at[k];
        /* The tick (100 ms) and the jitter (< 100 ms) may add to it. */
        assert_true(gap >= want[k] && gap <= want[k] + 200 + STEP_MS);
    }
    sim.refuse_connect = false;
    wait_until(pair_up, "the route at last");
    assert_int_equal(nodes[1].route.targets[0].failures, 0);
}

/* A route learned by gossip is tried again connect_retries more times (0
 * by default: once) after its server went, then given up; a configured one
 * never is (nats-server's rule). */
static void test_route_learned_route_given_up(void **state)
{
    (void)state;
    start_mesh_from_seed();
    /* Node 1 learned node 2 from node 0's gossip and solicited it. */
    const ne_route_state *st1 = &nodes[1].route;
    int learned = -1;
    for (int i = 0; i < NE_ROUTE_MAX_TARGETS; i++) {
        if (st1->targets[i].in_use && !st1->targets[i].configured) {
            learned = i;
        }
    }
    assert_true(learned >= 0);
    assert_string_equal(st1->targets[learned].remote_id, nodes[2].conns.id.server_id);
    stop_node(2);
    /* Its one more attempt goes to a port nobody answers on: it times out
     * (NE_ROUTE_HANDSHAKE_TIMEOUT_MS), and the route is given up. */
    for (int i = 0; i < WAIT_STEPS * 2 && st1->targets[learned].in_use; i++) {
        step_all();
    }
    assert_false(st1->targets[learned].in_use);
    assert_true(st1->targets[0].in_use && st1->targets[0].configured);
}

/* A configured route that leads back to the node itself is closed and
 * never tried again. */
static void test_route_to_self_is_not_tried_again(void **state)
{
    (void)state;
    node_spec s0 = {.name = "n0", .routes = {-1}, .leaf_remote = -1};
    start_node(0, &s0);
    stop_node(0);
    node_spec self = {.name = "n0", .routes = {0, -1}, .leaf_remote = -1}; /* its own port */
    start_node(0, &self);
    const ne_route_target *t = &nodes[0].route.targets[0];
    for (int i = 0; i < 1200; i++) { /* 6 s */
        step_all();
    }
    assert_true(t->self);
    assert_int_equal(t->attempts, 1);
    assert_int_equal(routes_of(0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_route_gossip_from_one_seed_makes_a_full_mesh, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_route_connect_urls_appear_with_the_first_peer_CP11,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_route_messages_cross_every_pair_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_route_queue_group_one_member_per_message_CP59, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_route_queue_weight_spreads_local_publishes_PR03, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_route_message_from_route_prefers_local_member_CP59,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_route_request_reply_and_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_route_unsubscribe_withdraws_interest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_route_accounts_are_carried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_route_leafs_of_different_nodes_meet, setup, teardown),
        cmocka_unit_test_setup_teardown(test_route_node_restart_resyncs_interest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_route_partition_heals_with_interest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_route_duplicate_routes_resolve_to_one, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_route_cluster_name_conflict_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_route_dynamic_cluster_name_adopts_configured, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_route_authorization, setup, teardown),
        cmocka_unit_test_setup_teardown(test_route_authorization_with_a_bcrypt_password, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_route_peer_interest_exhaustion_closes_the_route, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_route_client_verbs_on_a_route_close_it_CP05, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_route_long_cluster_name_refused_whole, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_route_reload_of_the_cluster_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_route_reconnect_backs_off, setup, teardown),
        cmocka_unit_test_setup_teardown(test_route_learned_route_given_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_route_to_self_is_not_tried_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_route_jetstream_delivery_shows_the_stored_subject,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
