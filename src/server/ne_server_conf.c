#include "server/ne_server_conf.h"

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "core/ne_fmt.h"
#include "server/ne_nkey.h"

/* Keys of nats-server's configuration that name features natsedge does not
 * have yet: refused with a clear message instead of being ignored. */
static const char *const not_yet[] = {
    "accounts",
    "no_auth_user",
    "system_account",
    "no_system_account",
    "leafnodes",
    "leaf",
    "mqtt",
    "jetstream",
    "cluster",
    "gateway",
    "websocket",
    "ws",
    "operator",
    "resolver",
    "resolver_preload",
    "mappings",
    "server_tags",
    "default_js_domain",
    "client_advertise",
    "http_base_path",
    "log_size_limit",
    "max_traced_msg_len",
    "syslog",
    "remote_syslog",
    "trusted",
    "trusted_keys",
    "max_sub_tokens",
    "max_closed_clients",
    "connect_error_reports",
    "reconnect_error_reports",
    "prof_port",
    "disable_sublist_cache",
    "no_fast_producer_stall",
};

typedef struct apply_ctx {
    ne_conf *conf;
    ne_server_options *opts;
    ne_board_settings *board;
    char *err;
    size_t err_cap;
} apply_ctx;

static int fail_conf(apply_ctx *a)
{
    ne_fmt(a->err, a->err_cap, "%s", ne_conf_error(a->conf));
    return NE_ERR_INVALID;
}

static int fail_at(apply_ctx *a, ne_conf_node *node, int rc, const char *what)
{
    char pos[128];
    ne_conf_position(a->conf, node, pos, sizeof(pos));
    ne_fmt(a->err, a->err_cap, "%s: %s", pos, what);
    return rc;
}

static bool key_is(const ne_conf *conf, const ne_conf_node *node, const char *key)
{
    const char *k = ne_conf_key(conf, node);
    size_t n = ne_conf_key_len(node);
    if (strlen(key) != n) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = k[i];
        if (c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
        }
        if (c != key[i]) {
            return false;
        }
    }
    return true;
}

static int copy_string(apply_ctx *a, ne_conf_node *node, char *dst, size_t cap)
{
    const char *text;
    size_t len;
    if (ne_conf_as_string(a->conf, node, &text, &len) != NE_OK) {
        return fail_conf(a);
    }
    if (len >= cap) {
        return fail_at(a, node, NE_ERR_RANGE, "value is too long");
    }
    memcpy(dst, text, len + 1);
    return NE_OK;
}

static int get_uint(apply_ctx *a, ne_conf_node *node, uint64_t max, uint64_t *out)
{
    int64_t v;
    if (ne_conf_as_int(a->conf, node, &v) != NE_OK) {
        return fail_conf(a);
    }
    if (v < 0 || (uint64_t)v > max) {
        return fail_at(a, node, NE_ERR_RANGE, "value out of range");
    }
    *out = (uint64_t)v;
    return NE_OK;
}

/* "host:port", ":port" or "port" (listen, http). */
static int parse_hostport(apply_ctx *a, ne_conf_node *node, char *host, size_t host_cap,
                          uint16_t *port)
{
    if (node->type == NE_CONF_INT) {
        uint64_t p;
        int rc = get_uint(a, node, 65535, &p);
        *port = (uint16_t)p;
        return rc;
    }
    const char *text;
    size_t len;
    if (ne_conf_as_string(a->conf, node, &text, &len) != NE_OK) {
        return fail_conf(a);
    }
    const char *colon = NULL;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ':') {
            colon = text + i;
        }
    }
    uint64_t p;
    const char *ptext = colon != NULL ? colon + 1 : text;
    size_t plen = len - (size_t)(ptext - text);
    if (!ne_parse_u64(ptext, plen, 65535, &p)) {
        return fail_at(a, node, NE_ERR_INVALID, "expected host:port");
    }
    if (colon != NULL && colon > text) {
        size_t hlen = (size_t)(colon - text);
        if (hlen >= host_cap) {
            return fail_at(a, node, NE_ERR_RANGE, "host is too long");
        }
        memcpy(host, text, hlen);
        host[hlen] = '\0';
    }
    *port = (uint16_t)p;
    return NE_OK;
}

/* users: [ {user: a, password: b}, {nkey: U...} ] */
static int apply_users(apply_ctx *a, ne_conf_node *list)
{
    if (ne_conf_expect(a->conf, list, NE_CONF_ARRAY) != NE_OK) {
        return fail_conf(a);
    }
    for (ne_conf_node *item = ne_conf_first(a->conf, list); item != NULL;
         item = ne_conf_next(a->conf, item)) {
        if (a->opts->user_count == NE_MAX_USERS) {
            return fail_at(
                a, item, NE_ERR_RANGE,
                "more users than the compiled-in maximum: raise NE_MAX_USERS in config/");
        }
        if (ne_conf_expect(a->conf, item, NE_CONF_MAP) != NE_OK) {
            return fail_conf(a);
        }
        ne_user_entry *u = &a->opts->users[a->opts->user_count];
        memset(u, 0, sizeof(*u));
        for (ne_conf_node *f = ne_conf_first(a->conf, item); f != NULL;
             f = ne_conf_next(a->conf, f)) {
            int rc = NE_OK;
            if (key_is(a->conf, f, "user") || key_is(a->conf, f, "username")) {
                rc = copy_string(a, f, u->user, sizeof(u->user));
            } else if (key_is(a->conf, f, "password") || key_is(a->conf, f, "pass")) {
                rc = copy_string(a, f, u->pass, sizeof(u->pass));
            } else if (key_is(a->conf, f, "nkey")) {
                rc = copy_string(a, f, u->nkey, sizeof(u->nkey));
                uint8_t key[32];
                if (rc == NE_OK &&
                    !ne_nkey_decode_public(u->nkey, strlen(u->nkey), NE_NKEY_PREFIX_USER, key)) {
                    return fail_at(a, f, NE_ERR_INVALID, "not a valid user nkey (U...)");
                }
            } else if (key_is(a->conf, f, "permissions") ||
                       key_is(a->conf, f, "allowed_connection_types") ||
                       key_is(a->conf, f, "account")) {
                return fail_at(a, f, NE_ERR_UNSUPPORTED,
                               "per-user permissions, connection types and accounts are not "
                               "supported yet in natsedge");
            } else {
                return ne_conf_unknown_field(a->conf, f) == NE_OK ? NE_OK : fail_conf(a);
            }
            if (rc != NE_OK) {
                return rc;
            }
        }
        if ((u->nkey[0] == '\0') == (u->user[0] == '\0')) {
            return fail_at(a, item, NE_ERR_INVALID, "a user needs either user or nkey");
        }
        a->opts->user_count++;
    }
    return NE_OK;
}

static int apply_authorization(apply_ctx *a, ne_conf_node *map)
{
    if (ne_conf_expect(a->conf, map, NE_CONF_MAP) != NE_OK) {
        return fail_conf(a);
    }
    for (ne_conf_node *n = ne_conf_first(a->conf, map); n != NULL; n = ne_conf_next(a->conf, n)) {
        int rc = NE_OK;
        if (key_is(a->conf, n, "user") || key_is(a->conf, n, "username")) {
            rc = copy_string(a, n, a->opts->auth_user, sizeof(a->opts->auth_user));
        } else if (key_is(a->conf, n, "password") || key_is(a->conf, n, "pass")) {
            rc = copy_string(a, n, a->opts->auth_pass, sizeof(a->opts->auth_pass));
        } else if (key_is(a->conf, n, "token")) {
            rc = copy_string(a, n, a->opts->auth_token, sizeof(a->opts->auth_token));
        } else if (key_is(a->conf, n, "timeout")) {
            double seconds;
            if (ne_conf_as_float(a->conf, n, &seconds) != NE_OK) {
                return fail_conf(a);
            }
            if (seconds <= 0 || seconds > 3600) {
                return fail_at(a, n, NE_ERR_RANGE, "timeout out of range");
            }
            a->opts->auth_timeout_ms = (uint32_t)(seconds * 1000.0);
        } else if (key_is(a->conf, n, "users")) {
            rc = apply_users(a, n);
        } else if (key_is(a->conf, n, "default_permissions") || key_is(a->conf, n, "permissions")) {
            return fail_at(a, n, NE_ERR_UNSUPPORTED,
                           "permissions are not supported yet in natsedge");
        } else {
            return ne_conf_unknown_field(a->conf, n) == NE_OK ? NE_OK : fail_conf(a);
        }
        if (rc != NE_OK) {
            return rc;
        }
    }
    return NE_OK;
}

static int apply_duration(apply_ctx *a, ne_conf_node *n, uint32_t *out_ms)
{
    int64_t ms;
    if (ne_conf_duration_ms(a->conf, n, &ms) != NE_OK) {
        return fail_conf(a);
    }
    if (ms <= 0 || ms > 0x7fffffff) {
        return fail_at(a, n, NE_ERR_RANGE, "duration out of range");
    }
    *out_ms = (uint32_t)ms;
    return NE_OK;
}

/* lame_duck_duration (at least 30 s, as nats-server) and
 * lame_duck_grace_period (0: the default). */
static int apply_lame_duck(apply_ctx *a, ne_conf_node *n, bool grace)
{
    int64_t ms;
    if (ne_conf_duration_ms(a->conf, n, &ms) != NE_OK) {
        return fail_conf(a);
    }
    if (ms < 0 || ms > 0x7fffffff) {
        return fail_at(a, n, NE_ERR_RANGE, "duration out of range");
    }
    if (grace) {
        if (ms > 0) {
            a->opts->lame_duck_grace_period_ms = (uint32_t)ms;
        }
        return NE_OK;
    }
    if (ms < 30000) {
        return fail_at(a, n, NE_ERR_RANGE, "invalid lame_duck_duration, minimum is 30 seconds");
    }
    a->opts->lame_duck_duration_ms = (uint32_t)ms;
    return NE_OK;
}

/* tls { cert_file, key_file, ca_file, verify, timeout }: the client TLS
 * settings (the files are loaded by the board at start-up). nats-server's
 * other TLS keys are refused by name. */
static int apply_tls(apply_ctx *a, ne_conf_node *map)
{
    static const char *const tls_not_yet[] = {
        "verify_and_map",
        "verify_cert_and_check_known_urls",
        "insecure",
        "cipher_suites",
        "curve_preferences",
        "pinned_certs",
        "connection_rate_limit",
        "handshake_first",
        "ocsp_peer",
        "cert_store",
        "cert_match",
        "cert_match_by",
        "ca_certs_match",
        "min_version",
    };
    ne_server_options *o = a->opts;
    if (ne_conf_expect(a->conf, map, NE_CONF_MAP) != NE_OK) {
        return fail_conf(a);
    }
    for (ne_conf_node *n = ne_conf_first(a->conf, map); n != NULL; n = ne_conf_next(a->conf, n)) {
        int rc = NE_OK;
        if (key_is(a->conf, n, "cert_file")) {
            rc = copy_string(a, n, o->tls_cert_file, sizeof(o->tls_cert_file));
        } else if (key_is(a->conf, n, "key_file")) {
            rc = copy_string(a, n, o->tls_key_file, sizeof(o->tls_key_file));
        } else if (key_is(a->conf, n, "ca_file")) {
            rc = copy_string(a, n, o->tls_ca_file, sizeof(o->tls_ca_file));
        } else if (key_is(a->conf, n, "verify")) {
            rc = ne_conf_as_bool(a->conf, n, &o->tls_verify) == NE_OK ? NE_OK : fail_conf(a);
        } else if (key_is(a->conf, n, "timeout")) {
            /* Seconds, as a number (nats-server) or a duration string. */
            double seconds;
            if (n->type == NE_CONF_STRING) {
                rc = apply_duration(a, n, &o->tls_timeout_ms);
            } else if (ne_conf_as_float(a->conf, n, &seconds) != NE_OK) {
                return fail_conf(a);
            } else if (seconds <= 0 || seconds > 3600) {
                return fail_at(a, n, NE_ERR_RANGE, "timeout out of range");
            } else {
                o->tls_timeout_ms = (uint32_t)(seconds * 1000.0);
            }
        } else {
            for (size_t i = 0; i < NE_ARRAY_LEN(tls_not_yet); i++) {
                if (key_is(a->conf, n, tls_not_yet[i])) {
                    char what[128];
                    ne_fmt(what, sizeof(what),
                           "tls \"%s\" is not supported yet in natsedge (see differences.md)",
                           tls_not_yet[i]);
                    return fail_at(a, n, NE_ERR_UNSUPPORTED, what);
                }
            }
            return ne_conf_unknown_field(a->conf, n) == NE_OK ? NE_OK : fail_conf(a);
        }
        if (rc != NE_OK) {
            return rc;
        }
    }
    if (o->tls_cert_file[0] == '\0' || o->tls_key_file[0] == '\0') {
        return fail_at(a, map, NE_ERR_INVALID, "tls needs cert_file and key_file");
    }
    if (o->tls_verify && o->tls_ca_file[0] == '\0') {
        return fail_at(a, map, NE_ERR_INVALID, "tls verify needs a ca_file");
    }
    o->tls = true;
    return NE_OK;
}

/* One top-level key. */
static int apply_key(apply_ctx *a, ne_conf_node *n)
{
    ne_server_options *o = a->opts;
    uint64_t v;
    int rc;
    if (key_is(a->conf, n, "listen")) {
        return parse_hostport(a, n, o->host, sizeof(o->host), &o->port);
    }
    if (key_is(a->conf, n, "host") || key_is(a->conf, n, "net")) {
        return copy_string(a, n, o->host, sizeof(o->host));
    }
    if (key_is(a->conf, n, "port")) {
        rc = get_uint(a, n, 65535, &v);
        o->port = (uint16_t)v;
        return rc;
    }
    if (key_is(a->conf, n, "server_name")) {
        return copy_string(a, n, o->server_name, sizeof(o->server_name));
    }
    if (key_is(a->conf, n, "max_payload")) {
        rc = get_uint(a, n, UINT32_MAX, &v);
        o->max_payload = (uint32_t)v;
        return rc;
    }
    if (key_is(a->conf, n, "max_connections") || key_is(a->conf, n, "max_conn")) {
        rc = get_uint(a, n, UINT32_MAX, &v);
        o->max_connections = (uint32_t)v;
        return rc;
    }
    if (key_is(a->conf, n, "max_control_line")) {
        rc = get_uint(a, n, UINT32_MAX, &v);
        o->max_control_line = (uint32_t)v;
        return rc;
    }
    if (key_is(a->conf, n, "max_pending")) {
        return get_uint(a, n, UINT64_MAX / 2, &o->max_pending);
    }
    if (key_is(a->conf, n, "max_subscriptions") || key_is(a->conf, n, "max_subs")) {
        rc = get_uint(a, n, UINT32_MAX, &v);
        o->max_subs = (uint32_t)v;
        return rc;
    }
    if (key_is(a->conf, n, "ping_interval")) {
        return apply_duration(a, n, &o->ping_interval_ms);
    }
    if (key_is(a->conf, n, "ping_max")) {
        rc = get_uint(a, n, 1000000, &v);
        o->ping_max = (uint32_t)v;
        return rc;
    }
    if (key_is(a->conf, n, "write_deadline")) {
        return apply_duration(a, n, &o->write_deadline_ms);
    }
    if (key_is(a->conf, n, "lame_duck_duration")) {
        return apply_lame_duck(a, n, false);
    }
    if (key_is(a->conf, n, "lame_duck_grace_period")) {
        return apply_lame_duck(a, n, true);
    }
    if (key_is(a->conf, n, "no_header_support")) {
        return ne_conf_as_bool(a->conf, n, &o->no_header_support) == NE_OK ? NE_OK : fail_conf(a);
    }
    if (key_is(a->conf, n, "http") || key_is(a->conf, n, "monitor")) {
        o->http_enabled = true;
        return parse_hostport(a, n, o->http_host, sizeof(o->http_host), &o->http_port);
    }
    if (key_is(a->conf, n, "http_port") || key_is(a->conf, n, "monitor_port")) {
        rc = get_uint(a, n, 65535, &v);
        o->http_enabled = v != 0;
        o->http_port = (uint16_t)v;
        return rc;
    }
    if (key_is(a->conf, n, "authorization")) {
        return apply_authorization(a, n);
    }
    if (key_is(a->conf, n, "tls")) {
        return apply_tls(a, n);
    }
    if (key_is(a->conf, n, "https")) {
        o->http_enabled = true;
        o->https = true;
        return parse_hostport(a, n, o->http_host, sizeof(o->http_host), &o->http_port);
    }
    if (key_is(a->conf, n, "https_port")) {
        rc = get_uint(a, n, 65535, &v);
        o->http_enabled = v != 0;
        o->https = v != 0;
        o->http_port = (uint16_t)v;
        return rc;
    }
    if (key_is(a->conf, n, "debug")) {
        return ne_conf_as_bool(a->conf, n, &a->board->debug) == NE_OK ? NE_OK : fail_conf(a);
    }
    if (key_is(a->conf, n, "trace") || key_is(a->conf, n, "trace_verbose")) {
        return ne_conf_as_bool(a->conf, n, &a->board->trace) == NE_OK ? NE_OK : fail_conf(a);
    }
    if (key_is(a->conf, n, "logtime")) {
        return ne_conf_as_bool(a->conf, n, &a->board->logtime) == NE_OK ? NE_OK : fail_conf(a);
    }
    if (key_is(a->conf, n, "log_file") || key_is(a->conf, n, "logfile")) {
        return ne_conf_as_string(a->conf, n, &a->board->log_file, NULL) == NE_OK ? NE_OK
                                                                                 : fail_conf(a);
    }
    if (key_is(a->conf, n, "pid_file") || key_is(a->conf, n, "pidfile")) {
        return ne_conf_as_string(a->conf, n, &a->board->pid_file, NULL) == NE_OK ? NE_OK
                                                                                 : fail_conf(a);
    }
    if (key_is(a->conf, n, "ports_file_dir")) {
        return ne_conf_as_string(a->conf, n, &a->board->ports_file_dir, NULL) == NE_OK
                   ? NE_OK
                   : fail_conf(a);
    }
    for (size_t i = 0; i < NE_ARRAY_LEN(not_yet); i++) {
        if (key_is(a->conf, n, not_yet[i])) {
            char what[128];
            ne_fmt(what, sizeof(what),
                   "\"%s\" is not supported yet in natsedge (see differences.md)", not_yet[i]);
            return fail_at(a, n, NE_ERR_UNSUPPORTED, what);
        }
    }
    return NE_OK; /* left unread: reported as an unknown field below */
}

int ne_server_apply_conf(ne_conf *conf, ne_server_options *opts, ne_board_settings *board,
                         char *err, size_t err_cap)
{
    apply_ctx a = {conf, opts, board, err, err_cap};
    ne_conf_node *root = ne_conf_root(conf);
    for (ne_conf_node *n = ne_conf_first(conf, root); n != NULL; n = ne_conf_next(conf, n)) {
        int rc = apply_key(&a, n);
        if (rc != NE_OK) {
            return rc;
        }
    }
    ne_conf_node *unused = ne_conf_first_unused(conf, root);
    if (unused != NULL) {
        ne_conf_unknown_field(conf, unused);
        return fail_conf(&a);
    }
    if (opts->http_enabled && opts->http_host[0] == '\0') {
        memcpy(opts->http_host, opts->host, sizeof(opts->http_host));
    }
    return ne_server_options_check(opts, err, err_cap);
}
