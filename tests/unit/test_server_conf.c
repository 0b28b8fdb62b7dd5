/* Unit tests of applying a configuration file to the server options
 * (src/server/ne_server_conf.c). IDs refer to the inventory (CFG-xx). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/ne_error.h"
#include "server/ne_server_conf.h"

static ne_conf conf;
static ne_server_options opts;
static ne_board_settings board;
static char err[512];

static int apply(const char *text)
{
    ne_server_options_default(&opts);
    memset(&board, 0, sizeof(board));
    board.logtime = true;
    err[0] = '\0';
    int rc = ne_conf_parse_text(&conf, "test.conf", text, strlen(text), NULL);
    if (rc != NE_OK) {
        return rc;
    }
    return ne_server_apply_conf(&conf, &opts, &board, err, sizeof(err));
}

static void test_edge_config_keys_are_applied_CFG15(void **state)
{
    (void)state;
    assert_int_equal(apply("server_name: edge-1\n"
                           "listen: 127.0.0.1:4333\n"
                           "http: 8333\n"
                           "max_payload: 64KB\n"
                           "max_connections = 10\n"
                           "max_pending 1MB\n"
                           "ping_interval: \"30s\"\n"
                           "ping_max: 3\n"
                           "write_deadline: \"2s\"\n"
                           "debug: true\n"
                           "logtime: false\n"
                           "log_file: \"/tmp/x.log\"\n"
                           "store_dir: \"/var/lib/edge\"\n"
                           "authorization { user: u, password: p, timeout: 0.5 }\n"),
                     NE_OK);
    assert_string_equal(opts.server_name, "edge-1");
    assert_string_equal(opts.host, "127.0.0.1");
    assert_int_equal(opts.port, 4333);
    assert_true(opts.http_enabled);
    assert_int_equal(opts.http_port, 8333);
    assert_string_equal(opts.http_host, "127.0.0.1");
    assert_int_equal(opts.max_payload, 64 * 1024);
    assert_int_equal(opts.max_connections, 10);
    assert_int_equal(opts.max_pending, 1024 * 1024);
    assert_int_equal(opts.ping_interval_ms, 30000);
    assert_int_equal(opts.ping_max, 3);
    assert_int_equal(opts.write_deadline_ms, 2000);
    assert_true(board.debug);
    assert_false(board.logtime);
    assert_string_equal(board.log_file, "/tmp/x.log");
    assert_string_equal(opts.js.store_dir, "/var/lib/edge"); /* the storage device */
    assert_string_equal(opts.auth_user, "u");
    assert_string_equal(opts.auth_pass, "p");
    assert_int_equal(opts.auth_timeout_ms, 500);
}

static void test_unknown_field_is_an_error_with_its_position_CFG14(void **state)
{
    (void)state;
    assert_int_not_equal(apply("port: 4222\nbogus: 1\n"), NE_OK);
    assert_string_equal(err, "test.conf:2:1: unknown field \"bogus\"");
}

static void test_features_not_built_yet_are_refused_by_name(void **state)
{
    (void)state;
    assert_int_equal(apply("accounts { A: { mappings: { a: b } } }\n"), NE_ERR_UNSUPPORTED);
    assert_non_null(strstr(err, "account \"mappings\" is not supported yet"));
}

/* jetstream { } and an account's jetstream, as nats-server reads them; a
 * limit beyond the compiled-in pools names the config/ knob (CFG-15,
 * inventory section 4). */
/* jetstream { sync_interval } (alias sync), nats-server 2.10's key:
 * "always" in any case, a duration string or a number of seconds; a zero
 * or negative one and other strings are refused. Unset, it is "always"
 * (0). */
static void test_jetstream_sync_interval(void **state)
{
    (void)state;
    assert_int_equal(apply("jetstream { store_dir: \"/d\" }\n"), NE_OK);
    assert_int_equal(opts.js.sync_interval_ms, 0);
    assert_int_equal(apply("jetstream { sync_interval: \"2m\" }\n"), NE_OK);
    assert_int_equal(opts.js.sync_interval_ms, 120000);
    assert_int_equal(apply("jetstream { sync: 100ms }\n"), NE_OK);
    assert_int_equal(opts.js.sync_interval_ms, 100);
    assert_int_equal(apply("jetstream { sync_interval: 5 }\n"), NE_OK);
    assert_int_equal(opts.js.sync_interval_ms, 5000);
    assert_int_equal(apply("jetstream { sync_interval: \"ALWAYS\" }\n"), NE_OK);
    assert_int_equal(opts.js.sync_interval_ms, 0);
    assert_int_equal(apply("jetstream { sync_interval: always }\n"), NE_OK);
    assert_int_equal(opts.js.sync_interval_ms, 0);
    assert_int_not_equal(apply("jetstream { sync_interval: \"0s\" }\n"), NE_OK);
    assert_non_null(strstr(err, "duration out of range"));
    assert_int_not_equal(apply("jetstream { sync_interval: \"never\" }\n"), NE_OK);
}

static void test_jetstream_block_and_account_limits(void **state)
{
    (void)state;
    assert_int_equal(apply("jetstream { store_dir: \"/data/js\", max_mem: 1M, max_file: \"32M\", "
                           "domain: edge, limits { max_ack_pending: 100 } }\n"),
                     NE_OK);
    assert_true(opts.js.enabled);
    assert_string_equal(opts.js.store_dir, "/data/js");
    assert_int_equal(opts.js.max_memory, 1000000);
    assert_int_equal(opts.js.max_store, 32LL << 20);
    assert_string_equal(opts.js.domain, "edge");
    assert_int_equal(opts.js.max_ack_pending, 100);
    assert_int_equal(apply("jetstream: enabled\n"), NE_OK);
    assert_true(opts.js.enabled);
    assert_int_equal(apply("jetstream: disabled\n"), NE_OK);
    assert_false(opts.js.enabled);
    assert_int_equal(apply("jetstream: foo\n"), NE_ERR_INVALID);
    assert_string_equal(err, "test.conf:1:1: Expected 'enabled' or 'disabled' for string value, "
                             "got 'foo'");
    assert_int_equal(apply("jetstream { max_mem: \"5X\" }\n"), NE_ERR_INVALID);
    assert_non_null(strstr(err, "max_mem_store sizes defined as strings must end in K, M, G, T"));
    assert_int_equal(apply("store_dir: \"/a\"\njetstream { store_dir: \"/b\" }\n"), NE_ERR_INVALID);
    assert_non_null(strstr(err, "Duplicate 'store_dir' configuration"));
    assert_int_equal(apply("jetstream { bogus: 1 }\n"), NE_ERR_INVALID);
    assert_non_null(strstr(err, "unknown field \"bogus\""));
    assert_int_equal(apply("jetstream { max_mem: 1T }\n"), NE_ERR_RANGE);
    assert_non_null(strstr(err, "raise NE_JS_MEM_BLOCKS"));
    /* File storage is one device of at most NE_STORE_MAX_BLOCKS blocks. */
    assert_int_equal(apply("jetstream { max_file: 2G }\n"), NE_ERR_RANGE);
    assert_non_null(strstr(err, "max_file_store 2000000000 is above the compiled-in maximum"));
    assert_non_null(strstr(err, "raise NE_STORE_MAX_BLOCKS"));
    assert_int_equal(apply("jetstream: enabled\n"
                           "accounts { A: { jetstream: { max_mem: 1M, max_streams: 2, "
                           "max_consumers: 3 }, users: [{user: a, password: b}] }, "
                           "B: { users: [{user: c, password: d}] } }\n"),
                     NE_OK);
    assert_true(opts.accounts[2].js.enabled);
    assert_int_equal(opts.accounts[2].js.max_streams, 2);
    assert_int_equal(opts.accounts[2].js.max_consumers, 3);
    assert_true(ne_js_account_enabled(&opts, 2));
    assert_false(ne_js_account_enabled(&opts, 3));
    assert_false(ne_js_account_enabled(&opts, NE_ACCOUNT_GLOBAL));
    assert_int_equal(
        apply("jetstream: enabled\naccounts { A: { jetstream: { max_streams: 100000 } } }\n"),
        NE_ERR_RANGE);
    assert_non_null(strstr(err, "raise NE_JS_MAX_STREAMS"));
    assert_int_equal(apply("accounts { A: { jetstream: bad } }\n"), NE_ERR_INVALID);
    assert_string_equal(err, "Expected 'enabled' or 'disabled' for string value, got 'bad'");
}

static void test_mqtt_block_is_read_as_nats_server_reads_it_MQ_25_CFG_20(void **state)
{
    (void)state;
    assert_int_equal(apply("mqtt {\n"
                           "  listen: 127.0.0.1:1884\n"
                           "  authorization { username: u, password: p, timeout: 1.5 }\n"
                           "  ack_wait: \"10s\"\n"
                           "  max_ack_pending: 100\n"
                           "  js_domain: hub\n"
                           "  consumer_memory_storage: true\n"
                           "}\n"),
                     NE_OK);
    assert_true(opts.mqtt.enabled);
    assert_string_equal(opts.mqtt.host, "127.0.0.1");
    assert_int_equal(opts.mqtt.port, 1884);
    assert_string_equal(opts.mqtt.auth_user, "u");
    assert_string_equal(opts.mqtt.auth_pass, "p");
    assert_int_equal(opts.mqtt.auth_timeout_ms, 1500);
    assert_int_equal(opts.mqtt.ack_wait_ms, 10000);
    assert_int_equal(opts.mqtt.max_ack_pending, 100);
    /* As nats-server: no port, no MQTT; -1 any free port. */
    assert_int_equal(apply("mqtt { host: 127.0.0.1 }\n"), NE_OK);
    assert_false(opts.mqtt.enabled);
    assert_int_equal(apply("mqtt { port: -1, token: x }\n"), NE_ERR_INVALID);
    assert_non_null(strstr(err, "unknown field \"token\""));
    assert_int_equal(apply("mqtt { port: -1, authorization { token: x } }\n"), NE_OK);
    assert_true(opts.mqtt.enabled);
    assert_int_equal(opts.mqtt.port, 0);
    assert_string_equal(opts.mqtt.auth_token, "x");
    assert_int_equal(apply("mqtt { port: 1883, max_ack_pending: 65536 }\n"), NE_ERR_RANGE);
    assert_non_null(strstr(err, "invalid value 65536, should in [0..65535] range"));
    assert_int_equal(apply("mqtt { port: 1883, tls { cert_file: a, key_file: b, ca_file: c, "
                           "verify: true, timeout: 3 } }\n"),
                     NE_OK);
    assert_true(opts.mqtt.tls);
    assert_true(opts.mqtt.tls_verify);
    assert_string_equal(opts.mqtt.tls_cert_file, "a");
    assert_string_equal(opts.mqtt.tls_key_file, "b");
    assert_string_equal(opts.mqtt.tls_ca_file, "c");
    assert_int_equal(opts.mqtt.tls_timeout_ms, 3000);
    assert_int_equal(apply("mqtt { port: 1883, tls { cert_file: a, insecure: true } }\n"),
                     NE_ERR_UNSUPPORTED);
    assert_non_null(strstr(err, "mqtt tls \"insecure\" is not supported"));
    /* Relations nats-server checks (validateMQTTOptions). */
    assert_int_equal(apply("mqtt { port: 1883, no_auth_user: ghost }\n"), NE_ERR_INVALID);
    assert_non_null(strstr(err, "no_auth_user: \"ghost\" not present"));
    assert_int_equal(apply("authorization { users: [ { user: a, password: b } ] }\n"
                           "mqtt { port: 1883, authorization { username: x, password: y } }\n"),
                     NE_ERR_INVALID);
    assert_non_null(strstr(err, "mqtt authentication username not compatible"));
    assert_int_equal(apply("authorization { users: [ { user: a, password: b } ] }\n"
                           "mqtt { port: 1883, no_auth_user: a }\n"),
                     NE_OK);
    assert_string_equal(opts.mqtt.no_auth_user, "a");
}

static void test_permissions_are_mapped_CP78_CP80_CP82(void **state)
{
    (void)state;
    assert_int_equal(apply("authorization {\n"
                           "  permissions: { publish: \"_INBOX.>\" }\n"
                           "  users: [\n"
                           "    { user: a, password: a, permissions: {\n"
                           "        publish: { allow: [\"x.>\", \"y\"], deny: \"x.secret\" }\n"
                           "        subscribe: [\"q.* workers\"]\n"
                           "        allow_responses: { max: 3, expires: \"5s\" } } }\n"
                           "    { user: b, password: b }\n"
                           "  ]\n"
                           "}\n"),
                     NE_OK);
    assert_int_equal(opts.perm_count, 2);
    assert_int_equal(opts.default_perms, 0);
    const ne_permissions *p = &opts.perms[opts.users[0].perms];
    assert_true(p->pub_allow.present);
    assert_int_equal(p->pub_allow.count, 2);
    assert_int_equal(p->pub_deny.count, 1);
    assert_int_equal(p->sub_allow.count, 1);
    const ne_perm_subject *q = &opts.perm_subjects[p->sub_allow.first];
    assert_memory_equal(q->text, "q.*workers", 10);
    assert_int_equal(q->subject_len, 3);
    assert_true(p->responses);
    assert_int_equal(p->response_max, 3);
    assert_int_equal(p->response_expires_ms, 5000);
    assert_int_equal(opts.users[1].perms, NE_PERM_NONE);
    const ne_perm_subject *t = opts.perm_subjects;
    assert_true(ne_perm_can_publish(p, t, "x.1", 3));
    assert_false(ne_perm_can_publish(p, t, "x.secret", 8));
    assert_false(ne_perm_can_publish(p, t, "z", 1));
    assert_true(ne_perm_can_subscribe(p, t, "q.a", 3, "workers", 7));
    assert_false(ne_perm_can_subscribe(p, t, "q.a", 3, "others", 6));
    assert_false(ne_perm_can_subscribe(p, t, "q.a", 3, NULL, 0));
    /* allow_responses alone: nothing else may be published. */
    assert_int_equal(apply("authorization { users: [ {user: r, password: r, permissions: "
                           "{ subscribe: \"svc.>\", allow_responses: true }} ] }\n"),
                     NE_OK);
    p = &opts.perms[opts.users[0].perms];
    assert_true(p->pub_allow.present);
    assert_int_equal(p->pub_allow.count, 0);
    assert_false(ne_perm_can_publish(p, opts.perm_subjects, "svc.x", 5));
    assert_int_equal(p->response_max, 1);
    assert_int_equal(p->response_expires_ms, 120000);
}

static void test_accounts_imports_exports_are_mapped_CP84_CP87(void **state)
{
    (void)state;
    assert_int_equal(
        apply("accounts {\n"
              "  B: { users: [ {user: b, password: b} ]\n"
              "       imports: [ {stream: {account: A, subject: \"ev.>\"}, prefix: p}\n"
              "                  {service: {account: A, subject: \"svc.*\"}, to: \"s.*\"} ] }\n"
              "  A: { users: [ {nkey: UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4} ]\n"
              "       exports: [ {stream: \"ev.>\"}, {service: \"svc.*\", accounts: [B], "
              "response_type: stream} ] }\n"
              "}\n"
              "system_account: A\n"),
        NE_OK);
    assert_int_equal(opts.account_count, 4);
    assert_string_equal(opts.accounts[2].name, "B");
    assert_string_equal(opts.accounts[3].name, "A");
    assert_int_equal(opts.system_account, 3);
    assert_int_equal(opts.users[0].account, 2);
    assert_int_equal(opts.users[1].account, 3);
    assert_int_equal(opts.import_count, 2);
    assert_true(opts.imports[0].prefix);
    assert_string_equal(opts.imports[0].to, "p");
    assert_int_equal(opts.imports[0].from, 3);
    assert_true(opts.imports[1].service);
    assert_int_equal(opts.imports[1].response_type, NE_RESPONSE_STREAM);
    assert_int_equal(opts.exports[1].allowed, 1u << 2);

    /* Errors: an import no export allows, an unknown account, a mapping
     * that drops a wildcard, too many accounts, an unknown no_auth_user. */
    assert_int_equal(apply("accounts { A: { exports: [ {stream: \"a.>\", accounts: [C]} ] }\n"
                           "  B: { imports: [ {stream: {account: A, subject: \"a.>\"}} ] }\n"
                           "  C: {} }\n"),
                     NE_ERR_INVALID);
    assert_non_null(
        strstr(err, "Error adding stream import \"a.>\": stream import not authorized"));
    assert_int_equal(apply("accounts { B: { imports: [ {stream: {account: Z, subject: x}} ] } }\n"),
                     NE_ERR_INVALID);
    assert_non_null(strstr(err, "\"Z\" account not defined for stream import"));
    assert_int_equal(
        apply("accounts { A: { exports: [ {service: \"a.*\"} ] }\n"
              "  B: { imports: [ {service: {account: A, subject: \"a.*\"}, to: \"b.*\"} ] } }\n"),
        NE_OK);
    assert_int_equal(
        apply("accounts { A: { exports: [ {stream: \"a.*\"} ] }\n"
              "  B: { imports: [ {stream: {account: A, subject: \"a.*\"}, to: \"b.>\"} ] } }\n"),
        NE_ERR_INVALID);
    char many[2048];
    size_t n = (size_t)snprintf(many, sizeof(many), "accounts {");
    for (int i = 0; i < NE_MAX_ACCOUNTS; i++) {
        n += (size_t)snprintf(many + n, sizeof(many) - n, "\n acc%d: {}", i);
    }
    snprintf(many + n, sizeof(many) - n, " }\n");
    assert_int_equal(apply(many), NE_ERR_RANGE);
    assert_non_null(strstr(err, "NE_MAX_ACCOUNTS"));
    assert_int_equal(
        apply("authorization { users: [ {user: a, password: a} ] }\nno_auth_user: zed\n"),
        NE_ERR_INVALID);
    assert_non_null(strstr(err, "no_auth_user: \"zed\" not present"));
}

static void test_bcrypt_secrets_are_checked_for_form_and_cost_CP71(void **state)
{
    (void)state;
    assert_int_equal(apply("authorization { user: a, password: "
                           "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW }\n"),
                     NE_OK);
    assert_string_equal(opts.auth_pass,
                        "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW");
    assert_int_equal(
        apply("authorization { users: [ {user: a, password: "
              "\"$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW\"} ] }\n"),
        NE_OK);
    /* A value with bcrypt's prefix that is not a whole hash, or whose cost
     * is above NE_BCRYPT_MAX_COST, is refused rather than failing clients. */
    assert_int_equal(apply("authorization { user: a, password: \"$2a$11$abc\" }\n"),
                     NE_ERR_INVALID);
    assert_non_null(strstr(err, "not a valid bcrypt hash"));
    assert_int_equal(apply("authorization { token: "
                           "\"$2b$31$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW\" }\n"),
                     NE_ERR_RANGE);
    assert_non_null(strstr(err, "cost 31 is above the compiled-in maximum 12"));
    assert_non_null(strstr(err, "NE_BCRYPT_MAX_COST"));
    /* Without the full prefix a "$2" value is a clear-text password. */
    assert_int_equal(apply("authorization { user: a, password: \"$2$abc\" }\n"), NE_OK);
}

static void test_lame_duck_durations_as_nats_server_CP70(void **state)
{
    (void)state;
    assert_int_equal(apply("\n"), NE_OK);
    assert_int_equal(opts.lame_duck_duration_ms, 120000);
    assert_int_equal(opts.lame_duck_grace_period_ms, 10000);
    assert_int_equal(apply("lame_duck_duration: \"45s\"\nlame_duck_grace_period: \"2s\"\n"), NE_OK);
    assert_int_equal(opts.lame_duck_duration_ms, 45000);
    assert_int_equal(opts.lame_duck_grace_period_ms, 2000);
    /* nats-server: at least 30 s, and the grace period strictly shorter. */
    assert_int_equal(apply("lame_duck_duration: \"29s\"\n"), NE_ERR_RANGE);
    assert_non_null(strstr(err, "minimum is 30 seconds"));
    assert_int_equal(apply("lame_duck_duration: \"30s\"\nlame_duck_grace_period: \"30s\"\n"),
                     NE_ERR_RANGE);
    assert_non_null(strstr(err, "strictly lower than lame duck duration"));
}

static void test_users_list_with_passwords_and_nkeys_CFG16(void **state)
{
    (void)state;
    assert_int_equal(
        apply("authorization { users: [ {user: a, password: b}, "
              "{nkey: UDHWXUD7QAOJQRFCOW474VHK7HALT3QV6QAGOGIPI62B6F4WVCS7FAEM} ] }\n"),
        NE_OK);
    assert_int_equal(opts.user_count, 2);
    assert_string_equal(opts.users[0].user, "a");
    assert_string_equal(opts.users[0].pass, "b");
    assert_string_equal(opts.users[1].nkey,
                        "UDHWXUD7QAOJQRFCOW474VHK7HALT3QV6QAGOGIPI62B6F4WVCS7FAEM");
    /* A damaged key (one character changed: the CRC no longer matches). */
    assert_int_equal(
        apply("authorization { users: [ "
              "{nkey: UDHWXUD7QAOJQRFCOW474VHK7HALT3QV6QAGOGIPI62B6F4WVCS7FAEA} ] }\n"),
        NE_ERR_INVALID);
    assert_non_null(strstr(err, "not a valid user nkey"));
    assert_int_equal(apply("authorization { users: [ {password: b} ] }\n"), NE_ERR_INVALID);
}

static void test_limits_above_the_compiled_maximum_name_the_knob(void **state)
{
    (void)state;
    assert_int_equal(apply("max_connections: 100000000\n"), NE_ERR_RANGE);
    assert_non_null(strstr(err, "NE_MAX_CONNECTIONS"));
    assert_int_equal(apply("max_payload: 1GB\n"), NE_ERR_RANGE);
    assert_non_null(strstr(err, "NE_MAX_PAYLOAD_BYTES"));
    assert_int_equal(apply("max_subscriptions: 100000000\n"), NE_ERR_RANGE);
    assert_non_null(strstr(err, "NE_MAX_SUBSCRIPTIONS_PER_CONN"));
}

/* A limit error names where the limit is written (it named only the knob). */
static void test_limit_errors_name_their_position(void **state)
{
    (void)state;
    assert_int_equal(apply("port: 4222\nmax_connections: 100000000\n"), NE_ERR_RANGE);
    char want[200];
    snprintf(want, sizeof(want),
             "test.conf:2:1: max_connections 100000000 is above the compiled-in maximum %u: "
             "raise NE_MAX_CONNECTIONS in config/",
             (unsigned)NE_MAX_CONNECTIONS);
    assert_string_equal(err, want);
    assert_int_equal(apply("max_pending: 1000\nmax_payload: 2000\n"), NE_ERR_RANGE);
    assert_string_equal(
        err, "test.conf:2:1: max_payload (2000) cannot be higher than max_pending (1000)");
    assert_int_equal(apply("lame_duck_duration: \"30s\"\nlame_duck_grace_period: \"40s\"\n"),
                     NE_ERR_RANGE);
    assert_non_null(strstr(err, "test.conf:2:1: lame duck grace period (40000ms)"));
    assert_int_equal(apply("\n  max_control_line: 16\n"), NE_ERR_RANGE);
    assert_non_null(strstr(err, "test.conf:2:3: max_control_line 16 is too small"));
}

/* nats-server lists every unknown field of a file in one run; natsedge does
 * the same for unknown keys and keys of features not built yet, nested ones
 * included, in file order, then the first wrong value (CFG-14). */
static void test_every_refused_key_is_reported_in_one_run_CFG14(void **state)
{
    (void)state;
    assert_int_equal(apply("port: 4222\n"
                           "foo: 1\n"
                           "gateway { port: 7222 }\n"
                           "authorization { baz: 2, user: a, password: b }\n"
                           "websocket { port: 8080 }\n"
                           "tls { cert_file: c, key_file: k, insecure: true }\n"
                           "bar { x: 1 }\n"),
                     NE_ERR_INVALID);
    assert_string_equal(err, "test.conf:2:1: unknown field \"foo\"\n"
                             "test.conf:3:1: \"gateway\" is not supported yet in natsedge (see "
                             "differences.md)\n"
                             "test.conf:4:17: unknown field \"baz\"\n"
                             "test.conf:5:1: \"websocket\" is not supported yet in natsedge (see "
                             "differences.md)\n"
                             "test.conf:6:34: tls \"insecure\" is not supported yet in natsedge "
                             "(see differences.md)\n"
                             "test.conf:7:1: unknown field \"bar\"");
    /* Only features not built: NE_ERR_UNSUPPORTED. */
    assert_int_equal(apply("websocket {}\ngateway {}\n"), NE_ERR_UNSUPPORTED);
    assert_non_null(strstr(err, "test.conf:2:1: \"gateway\""));
    /* A wrong value comes last; the keys after it are still read. */
    assert_int_equal(apply("max_connections: 100000000\nfoo: 1\n"), NE_ERR_RANGE);
    assert_non_null(strstr(err, "test.conf:2:1: unknown field \"foo\"\ntest.conf:1:1: "
                                "max_connections 100000000"));
    /* Inside the leafnodes block too. */
    assert_int_equal(apply("leafnodes { colour: red, remotes [ { url: h, shade: dark } ] }\n"),
                     NE_ERR_INVALID);
    assert_string_equal(err, "test.conf:1:13: unknown field \"colour\"\n"
                             "test.conf:1:46: unknown field \"shade\"");
}

/* More refused keys than are kept, or than err holds: the report says how
 * many it leaves out, and never cuts a line. */
static void test_refused_keys_beyond_the_report_are_counted(void **state)
{
    (void)state;
    char text[1024];
    size_t n = 0;
    for (int i = 0; i < NE_CONF_MAX_REJECTED + 4; i++) {
        n += (size_t)snprintf(text + n, sizeof(text) - n, "k%02d: 1\n", i);
    }
    assert_int_equal(ne_conf_parse_text(&conf, "t", text, n, NULL), NE_OK);
    ne_server_options_default(&opts);
    char big[2048];
    assert_int_equal(ne_server_apply_conf(&conf, &opts, &board, big, sizeof(big)), NE_ERR_INVALID);
    assert_non_null(strstr(big, "t:1:1: unknown field \"k00\"\n"));
    assert_non_null(strstr(big, "\n(4 more not shown)"));
    assert_int_equal(ne_conf_rejected_count(&conf), NE_CONF_MAX_REJECTED + 4);
    /* 120 bytes: three lines of 26 bytes fit beside the last line. */
    char small[120];
    size_t written = ne_conf_write_rejected(&conf, small, sizeof(small));
    assert_int_equal(written, strlen(small));
    assert_string_equal(small, "t:1:1: unknown field \"k00\"\n"
                               "t:2:1: unknown field \"k01\"\n"
                               "t:3:1: unknown field \"k02\"\n"
                               "(17 more not shown)");
}

static void test_wrong_types_are_errors_with_position(void **state)
{
    (void)state;
    assert_int_not_equal(apply("port: \"abc\"\n"), NE_OK);
    assert_non_null(strstr(err, "test.conf:1:"));
    assert_int_not_equal(apply("listen: \"nohost:notaport\"\n"), NE_OK);
    assert_non_null(strstr(err, "expected host:port"));
}

/* listen and leafnodes.listen take "host:port", ":port" or "port" the same way. */
static void test_host_port_forms_for_client_and_leaf_listeners(void **state)
{
    (void)state;
    assert_int_equal(apply("listen: \"10.0.0.1:4555\"\n"), NE_OK);
    assert_string_equal(opts.host, "10.0.0.1");
    assert_int_equal(opts.port, 4555);
    assert_int_equal(apply("listen: \":4556\"\nleafnodes { listen: \"127.0.0.2:7422\" }\n"), NE_OK);
    assert_int_equal(opts.port, 4556);
    assert_string_equal(opts.leaf.listen_host, "127.0.0.2");
    assert_int_equal(opts.leaf.listen_port, 7422);
    assert_int_equal(apply("leafnodes { listen: \"7423\" }\n"), NE_OK);
    assert_int_equal(opts.leaf.listen_port, 7423);
    assert_int_not_equal(apply("leafnodes { listen: \"h:70000\" }\n"), NE_OK);
    assert_non_null(strstr(err, "expected host:port"));
    char line[512];
    memset(line, 'h', sizeof(line));
    memcpy(line, "listen: \"", 9);
    memcpy(line + 400, ":4222\"\n", 8);
    line[408] = '\0';
    assert_int_not_equal(apply(line), NE_OK);
    assert_non_null(strstr(err, "host is too long"));
}

/* Logins that could never work are refused with nats-server's words: a
 * second user of one name (the first one answers every login), and a token
 * or a single user beside a users list or accounts' users (checked first,
 * they hide the list). */
static void test_unreachable_logins_are_refused_CFG16(void **state)
{
    (void)state;
    assert_int_not_equal(
        apply("authorization { users: [ { user: a, password: x }, { user: a, password: y } ] }\n"),
        NE_OK);
    assert_string_equal(err, "test.conf:1:52: Duplicate user \"a\" detected");
    assert_int_not_equal(apply("accounts {\n"
                               "  A: { users: [ { user: a, password: x } ] }\n"
                               "  B: { users: [ { user: a, password: y } ] }\n"
                               "}\n"),
                         NE_OK);
    assert_string_equal(err, "test.conf:3:17: Duplicate user \"a\" detected");
    assert_int_not_equal(apply("authorization { token: t, users: [ { user: a, password: x } ] }\n"),
                         NE_OK);
    assert_string_equal(err, "test.conf:1:17: Can not have a token and a users array");
    assert_int_not_equal(apply("accounts { A: { users: [ { user: a, password: x } ] } }\n"
                               "authorization { token: t }\n"),
                         NE_OK);
    assert_string_equal(err, "test.conf:2:17: Can not have a token and accounts");
    assert_int_not_equal(
        apply("authorization { user: u, password: p, users: [ { user: a, password: x } ] }\n"),
        NE_OK);
    assert_string_equal(err, "test.conf:1:17: Can not have a single user/pass and a users array");
    /* Each alone, and distinct names, are fine. */
    assert_int_equal(apply("authorization { token: t }\n"), NE_OK);
    assert_int_equal(
        apply("authorization { users: [ { user: a, password: x }, { user: b, password: "
              "y } ] }\n"),
        NE_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edge_config_keys_are_applied_CFG15),
        cmocka_unit_test(test_host_port_forms_for_client_and_leaf_listeners),
        cmocka_unit_test(test_unreachable_logins_are_refused_CFG16),
        cmocka_unit_test(test_unknown_field_is_an_error_with_its_position_CFG14),
        cmocka_unit_test(test_features_not_built_yet_are_refused_by_name),
        cmocka_unit_test(test_jetstream_sync_interval),
        cmocka_unit_test(test_mqtt_block_is_read_as_nats_server_reads_it_MQ_25_CFG_20),
        cmocka_unit_test(test_permissions_are_mapped_CP78_CP80_CP82),
        cmocka_unit_test(test_accounts_imports_exports_are_mapped_CP84_CP87),
        cmocka_unit_test(test_bcrypt_secrets_are_checked_for_form_and_cost_CP71),
        cmocka_unit_test(test_lame_duck_durations_as_nats_server_CP70),
        cmocka_unit_test(test_users_list_with_passwords_and_nkeys_CFG16),
        cmocka_unit_test(test_limits_above_the_compiled_maximum_name_the_knob),
        cmocka_unit_test(test_wrong_types_are_errors_with_position),
        cmocka_unit_test(test_jetstream_block_and_account_limits),
        cmocka_unit_test(test_limit_errors_name_their_position),
        cmocka_unit_test(test_every_refused_key_is_reported_in_one_run_CFG14),
        cmocka_unit_test(test_refused_keys_beyond_the_report_are_counted),
    };
    return cmocka_run_group_tests_name("server_conf", tests, NULL, NULL);
}
