/* The route protocol's pieces that need no server (src/route/ne_route_proto.c)
 * and the cluster { } block (src/route/ne_route_conf.c): the RS+/RS-/RMSG/HMSG
 * forms nats-server 2.9.10 sends (probed, docs/cluster.md), route URLs, a
 * peer's INFO, the lines we write, and the configuration's refusals in
 * nats-server's words (CFG-05, CFG-15). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/ne_error.h"
#include "route/ne_route.h"
#include "route/ne_route_conf.h"
#include "server/ne_server_conf.h"

static bool slice_is(ne_slice s, const char *text)
{
    return s.len == strlen(text) && memcmp(s.ptr, text, s.len) == 0;
}

static ne_proto_status parse(const char *line, ne_op *op)
{
    return ne_route_parse_line(line, strlen(line), op);
}

static void test_route_interest_lines_parse(void **state)
{
    (void)state;
    ne_op op;
    assert_int_equal(parse("RS+ $G foo", &op), NE_PROTO_OK);
    assert_int_equal(op.kind, NE_OP_RS_PLUS);
    assert_true(slice_is(op.account, "$G"));
    assert_true(slice_is(op.subject, "foo"));
    assert_int_equal(op.queue.len, 0);
    assert_int_equal(parse("RS+ $G bar q1 2", &op), NE_PROTO_OK);
    assert_true(slice_is(op.queue, "q1"));
    assert_int_equal(op.weight, 2);
    assert_int_equal(parse("rs- ACC bar q1", &op), NE_PROTO_OK);
    assert_int_equal(op.kind, NE_OP_RS_MINUS);
    assert_true(slice_is(op.account, "ACC"));
    assert_true(slice_is(op.queue, "q1"));
    /* As nats-server: one argument, or a queue without its weight, is a
     * parse error (the route closes without -ERR). */
    assert_int_equal(parse("RS+ $G", &op), NE_PROTO_BAD_ARGS);
    assert_int_equal(parse("RS+ $G foo q", &op), NE_PROTO_BAD_ARGS);
    assert_int_equal(parse("RS+ $G foo q x", &op), NE_PROTO_BAD_ARGS);
    assert_int_equal(parse("RS+ $G foo q 99999999999", &op), NE_PROTO_OK); /* taken, capped */
    assert_int_equal(op.weight, 0x7fffffff);
    assert_int_equal(parse("RS- $G", &op), NE_PROTO_BAD_ARGS);
    assert_int_equal(parse("RS- $G a b c", &op), NE_PROTO_BAD_ARGS);
}

static void test_route_message_lines_parse(void **state)
{
    (void)state;
    ne_op op;
    assert_int_equal(parse("RMSG $G foo 5", &op), NE_PROTO_OK);
    assert_int_equal(op.kind, NE_OP_RMSG);
    assert_true(slice_is(op.account, "$G"));
    assert_true(slice_is(op.subject, "foo"));
    assert_int_equal(op.reply.len, 0);
    assert_int_equal(op.total_len, 5);
    assert_int_equal(parse("RMSG $G foo reply.x 5", &op), NE_PROTO_OK);
    assert_true(slice_is(op.reply, "reply.x"));
    assert_int_equal(parse("RMSG $G zq | grp 1", &op), NE_PROTO_OK);
    assert_int_equal(op.reply.len, 0);
    assert_true(slice_is(op.queue, "grp"));
    assert_int_equal(parse("RMSG $G bar + rep q1 q2 2", &op), NE_PROTO_OK);
    assert_true(slice_is(op.reply, "rep"));
    assert_true(slice_is(op.queue, "q1 q2"));
    assert_int_equal(op.total_len, 2);
    assert_int_equal(parse("HMSG $G foo 12 14", &op), NE_PROTO_OK);
    assert_int_equal(op.kind, NE_OP_HMSG);
    assert_int_equal(op.hdr_len, 12);
    assert_int_equal(op.total_len, 14);
    assert_int_equal(parse("HMSG $G foo | q 12 14", &op), NE_PROTO_OK);
    assert_true(slice_is(op.queue, "q"));
    assert_int_equal(parse("HMSG $G foo 15 14", &op), NE_PROTO_BAD_ARGS);
    assert_int_equal(parse("RMSG $G foo", &op), NE_PROTO_BAD_ARGS);
    assert_int_equal(parse("RMSG $G foo x q 1", &op), NE_PROTO_BAD_ARGS);
    assert_int_equal(parse("RMSG $G foo -1", &op), NE_PROTO_BAD_ARGS);
    /* The verbs of the other kinds parse as such; the route refuses them. */
    assert_int_equal(parse("PING", &op), NE_PROTO_OK);
    assert_int_equal(op.kind, NE_OP_PING);
    assert_int_equal(parse("MSG foo 1 2", &op), NE_PROTO_OK);
    assert_int_equal(op.kind, NE_OP_MSG);
    assert_int_equal(parse("FOO", &op), NE_PROTO_UNKNOWN_OP);
}

static void test_route_lines_written(void **state)
{
    (void)state;
    char out[128];
    size_t n = ne_route_interest_line(out, sizeof(out), true, "$G", "foo", 3, NULL, 0, 0);
    assert_int_equal(n, strlen("RS+ $G foo\r\n"));
    assert_memory_equal(out, "RS+ $G foo\r\n", n);
    n = ne_route_interest_line(out, sizeof(out), true, "$G", "bar", 3, "q1", 2, 2);
    assert_memory_equal(out, "RS+ $G bar q1 2\r\n", n);
    n = ne_route_interest_line(out, sizeof(out), false, "$G", "bar", 3, "q1", 2, 0);
    assert_memory_equal(out, "RS- $G bar q1\r\n", n);
    assert_int_equal(ne_route_interest_line(out, 8, true, "$G", "foo", 3, NULL, 0, 0), 0);

    ne_batch b = {0};
    ne_slice subj = {"zq", 2};
    ne_slice none = {"", 0};
    n = ne_route_msg_line(out, sizeof(out), "$G", &b, subj, none, none, false, 0, 1);
    assert_memory_equal(out, "RMSG $G zq 1\r\n", n);
    b.queue_count = 1;
    b.queue[0] = "grp";
    b.queue_len[0] = 3;
    n = ne_route_msg_line(out, sizeof(out), "$G", &b, subj, none, none, false, 0, 1);
    assert_memory_equal(out, "RMSG $G zq | grp 1\r\n", n);
    ne_slice reply = {"r", 1};
    n = ne_route_msg_line(out, sizeof(out), "ACC", &b, subj, none, reply, true, 12, 14);
    assert_memory_equal(out, "HMSG ACC zq + r grp 12 14\r\n", n);
    b.queue_count = 0;
    n = ne_route_msg_line(out, sizeof(out), "$G", &b, subj, none, reply, false, 12, 14);
    assert_memory_equal(out, "RMSG $G zq r 2\r\n", n); /* headers stripped */
    assert_int_equal(ne_route_msg_line(out, 10, "$G", &b, subj, none, reply, false, 0, 2), 0);
    /* A JetStream delivery's stored subject after its reply, as
     * nats-server sends it (with or without queue groups). */
    ne_slice ack = {"$JS.ACK.S.C.1.1.1.0.0", 21};
    ne_slice shown = {"orders.eu", 9};
    n = ne_route_msg_line(out, sizeof(out), "$G", &b, subj, shown, ack, false, 0, 2);
    assert_memory_equal(out, "RMSG $G zq $JS.ACK.S.C.1.1.1.0.0@orders.eu 2\r\n", n);
    b.queue_count = 1;
    n = ne_route_msg_line(out, sizeof(out), "$G", &b, subj, shown, ack, false, 0, 2);
    assert_memory_equal(out, "RMSG $G zq + $JS.ACK.S.C.1.1.1.0.0@orders.eu grp 2\r\n", n);
    /* Nothing to carry it without a reply. */
    n = ne_route_msg_line(out, sizeof(out), "$G", &b, subj, shown, none, false, 0, 2);
    assert_memory_equal(out, "RMSG $G zq | grp 2\r\n", n);
}

static void test_route_urls_parse(void **state)
{
    (void)state;
    ne_route_url u;
    const char *url = "nats-route://ru:rp@127.0.0.1:6333/";
    assert_int_equal(ne_route_parse_url(url, strlen(url), &u), NE_OK);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 6333);
    assert_string_equal(u.user, "ru");
    assert_string_equal(u.pass, "rp");
    url = "nats://h";
    assert_int_equal(ne_route_parse_url(url, strlen(url), &u), NE_OK);
    assert_int_equal(u.port, 6222);
    url = "[::1]:7";
    assert_int_equal(ne_route_parse_url(url, strlen(url), &u), NE_OK);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 7);
    url = "foo://h:1";
    assert_int_equal(ne_route_parse_url(url, strlen(url), &u), NE_ERR_UNSUPPORTED);
    url = "nats://h:0";
    assert_int_equal(ne_route_parse_url(url, strlen(url), &u), NE_ERR_INVALID);
    url = "nats://h:70000";
    assert_int_equal(ne_route_parse_url(url, strlen(url), &u), NE_ERR_INVALID);
    url = "nats://:1";
    assert_int_equal(ne_route_parse_url(url, strlen(url), &u), NE_ERR_INVALID);
}

/* nats-server 2.9.10's route INFO, as probed, and its gossip form. */
static void test_route_info_parse(void **state)
{
    (void)state;
    static ne_json_doc doc;
    ne_route_info info;
    const char *json =
        "{\"server_id\":\"NC4ZXL\",\"server_name\":\"A\",\"version\":\"2.9.10\",\"proto\":2,"
        "\"go\":\"go1.19.8\",\"host\":\"127.0.0.1\",\"port\":35765,\"headers\":true,"
        "\"auth_required\":true,\"max_payload\":1048576,\"nonce\":\"cFHlr_wkrrHe7VA\","
        "\"cluster\":\"C1\",\"connect_urls\":[\"127.0.0.1:46983\",\"127.0.0.1:14999\"],"
        "\"lnoc\":true}";
    assert_int_equal(ne_route_parse_info(json, strlen(json), &info, &doc), NE_OK);
    assert_string_equal(info.server_id, "NC4ZXL");
    assert_string_equal(info.server_name, "A");
    assert_string_equal(info.cluster, "C1");
    assert_string_equal(info.host, "127.0.0.1");
    assert_int_equal(info.port, 35765);
    assert_true(info.headers);
    assert_true(info.auth_required);
    assert_int_equal(info.url_count, 2);
    assert_string_equal(info.urls, "\"127.0.0.1:46983\",\"127.0.0.1:14999\"");
    json = "{\"server_id\":\"NTHIRD\",\"server_name\":\"third\",\"version\":\"\",\"proto\":0,"
           "\"go\":\"\",\"host\":\"127.0.0.1\",\"port\":9,\"headers\":false,\"max_payload\":0,"
           "\"ip\":\"nats-route://127.0.0.1:9/\",\"cluster\":\"C1\",\"connect_urls\":[\"a,b\","
           "\"ok:1\"]}";
    assert_int_equal(ne_route_parse_info(json, strlen(json), &info, &doc), NE_OK);
    assert_string_equal(info.ip, "nats-route://127.0.0.1:9/");
    /* A URL that is not host:port-like text is not kept. */
    assert_int_equal(info.url_count, 1);
    assert_int_equal(info.urls_dropped, 1);
    assert_int_equal(ne_route_parse_info("[1]", 3, &info, &doc), NE_ERR_PARSE);
    assert_int_equal(ne_route_parse_info("{", 1, &info, &doc), NE_ERR_PARSE);
}

/* ---- The cluster block (CFG-05, CFG-15) ---------------------------------------- */

static ne_conf conf;
static ne_server_options opts;
static ne_board_settings board;
static char err[256];

static int apply(const char *text)
{
    ne_server_options_default(&opts);
    memset(&board, 0, sizeof(board));
    err[0] = '\0';
    int rc = ne_conf_parse_text(&conf, "test.conf", text, strlen(text), NULL);
    if (rc != NE_OK) {
        return rc;
    }
    return ne_server_apply_conf(&conf, &opts, &board, err, sizeof(err));
}

static void test_cluster_block_is_read_CFG15(void **state)
{
    (void)state;
    int first = apply("cluster {\n"
                      "  name: C1\n"
                      "  listen: \"127.0.0.1:6333\"\n"
                      "  routes: [\"nats-route://127.0.0.1:6334\", \"nats://h:6335\"]\n"
                      "  authorization { user: ru, password: rp, timeout: 0.5 }\n"
                      "  cluster_advertise: \"10.0.0.1:6333\"\n"
                      "  no_advertise: true\n"
                      "  connect_retries: 3\n"
                      "}\n");
    if (first != NE_OK) {
        fail_msg("%s", err);
    }
    const ne_cluster_options *c = &opts.cluster;
    assert_true(c->enabled);
    assert_string_equal(c->name, "C1");
    assert_string_equal(c->listen_host, "127.0.0.1");
    assert_int_equal(c->listen_port, 6333);
    assert_int_equal(c->route_count, 2);
    assert_string_equal(c->routes[1], "nats://h:6335");
    assert_string_equal(c->auth_user, "ru");
    assert_string_equal(c->auth_pass, "rp");
    assert_int_equal(c->auth_timeout_ms, 500);
    assert_string_equal(c->advertise, "10.0.0.1:6333");
    assert_true(c->no_advertise);
    assert_int_equal(c->connect_retries, 3);
    /* -1: any free port; 0 (or none): no route listener, as nats-server. */
    assert_int_equal(apply("cluster { listen: \"127.0.0.1:-1\" }\n"), NE_OK);
    assert_true(opts.cluster.enabled);
    assert_int_equal(opts.cluster.listen_port, 0);
    assert_int_equal(apply("cluster { port: 0 }\n"), NE_OK);
    assert_false(opts.cluster.enabled);
}

/* What nats-server 2.9.10 -t refuses, with its words (probed). */
static void test_cluster_block_refusals_in_nats_server_words(void **state)
{
    (void)state;
    assert_int_equal(apply("cluster { listen: \"127.0.0.1:-1\", authorization { token: abc } }"),
                     NE_ERR_INVALID);
    assert_non_null(strstr(err, "Cluster authorization does not support tokens"));
    assert_int_equal(apply("cluster { listen: \"127.0.0.1:-1\", authorization { users: [ {user: a, "
                           "password: b} ] } }"),
                     NE_ERR_INVALID);
    assert_non_null(strstr(err, "Cluster authorization does not allow multiple users"));
    assert_int_equal(apply("cluster { listen: \"127.0.0.1:-1\", pool_size: 3 }"), NE_ERR_INVALID);
    assert_non_null(strstr(err, "unknown field \"pool_size\""));
    assert_int_equal(apply("cluster { listen: \"127.0.0.1:-1\", routes: \"nats://a:1\" }"),
                     NE_ERR_INVALID);
    assert_non_null(strstr(err, "is string, not []interface {}"));
    assert_int_equal(
        apply("cluster { listen: \"127.0.0.1:-1\", routes: [\"nats://a:1\", \"nats://a:1\"] }"),
        NE_ERR_INVALID);
    assert_non_null(strstr(err, "Duplicate route entry detected"));
    /* natsedge's own: a route URL it cannot use, cluster permissions. */
    assert_int_equal(apply("cluster { listen: \"127.0.0.1:-1\", routes: [\"foo://x:1\"] }"),
                     NE_ERR_INVALID);
    assert_int_equal(apply("cluster { listen: \"127.0.0.1:-1\", permissions { import: a } }"),
                     NE_ERR_UNSUPPORTED);
    assert_int_equal(apply("cluster { listen: \"127.0.0.1:-1\", tls { cert_file: a } }"),
                     NE_ERR_INVALID);
    assert_non_null(strstr(err, "cluster tls needs cert_file, key_file and ca_file"));
}

/* The command line's cluster flags (CFG-05). */
static void test_cluster_flags_values(void **state)
{
    (void)state;
    ne_cluster_options c;
    ne_route_options_default(&c);
    char e[128];
    assert_int_equal(
        ne_route_apply_routes_flag("nats://a:1, nats-route://u:p@b:2", &c, e, sizeof(e)), NE_OK);
    assert_int_equal(c.route_count, 2);
    assert_string_equal(c.routes[1], "nats-route://u:p@b:2");
    assert_int_equal(ne_route_apply_routes_flag("nats://a:x", &c, e, sizeof(e)), NE_ERR_INVALID);
    assert_int_equal(ne_route_apply_listen_url("nats://127.0.0.1:-1", &c, e, sizeof(e)), NE_OK);
    assert_true(c.enabled);
    assert_int_equal(c.listen_port, 0);
    assert_string_equal(c.listen_host, "127.0.0.1");
    assert_int_equal(ne_route_apply_listen_url("nats://0.0.0.0:6222", &c, e, sizeof(e)), NE_OK);
    assert_int_equal(c.listen_port, 6222);
    assert_string_equal(c.listen_host, "0.0.0.0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_interest_lines_parse),
        cmocka_unit_test(test_route_message_lines_parse),
        cmocka_unit_test(test_route_lines_written),
        cmocka_unit_test(test_route_urls_parse),
        cmocka_unit_test(test_route_info_parse),
        cmocka_unit_test(test_cluster_block_is_read_CFG15),
        cmocka_unit_test(test_cluster_block_refusals_in_nats_server_words),
        cmocka_unit_test(test_cluster_flags_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
