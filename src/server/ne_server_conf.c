#include "server/ne_server_conf.h"

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "core/ne_fmt.h"
#include "leaf/ne_leaf_conf.h"
#include "mqtt/ne_mqtt_conf.h"
#include "route/ne_route_conf.h"
#include "auth/ne_nkey.h"
#include "core/ne_subject.h"

/* Keys of nats-server's configuration that name features natsedge does not
 * have yet: refused with a clear message instead of being ignored. */
static const char *const not_yet[] = {
#if !NE_FEATURE_MQTT
    "mqtt",
#endif
#if !NE_FEATURE_ROUTES
    "cluster",
#endif
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
    ne_conf_node *system_account; /* resolved once every account is known */
    ne_conf_node *no_auth_user;
    ne_conf_node *import_nodes[NE_MAX_IMPORTS]; /* for errors found late */
    ne_conf_node *token;                        /* authorization { token } */
    ne_conf_node *single_user;                  /* authorization { user } */
    /* Where the limits checked against each other were written. */
    ne_conf_node *max_payload;
    ne_conf_node *max_pending;
    ne_conf_node *lame_duck_duration;
    ne_conf_node *lame_duck_grace_period;
} apply_ctx;

static int fail_conf(apply_ctx *a)
{
    return ne_conf_fail(a->conf, a->err, a->err_cap);
}

static int fail_at(apply_ctx *a, ne_conf_node *node, int rc, const char *what)
{
    return ne_conf_fail_at(a->conf, node, a->err, a->err_cap, rc, what);
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

/* A limit above what was compiled in, reported where it is written and
 * naming the knob to raise (ne_server_options_check says the same without
 * a position, for flags). */
static int check_max(apply_ctx *a, ne_conf_node *node, const char *key, uint64_t value,
                     uint64_t max, const char *knob)
{
    if (value <= max) {
        return NE_OK;
    }
    char what[160];
    ne_fmt(what, sizeof(what), "%s %llu is above the compiled-in maximum %llu: raise %s in config/",
           key, (unsigned long long)value, (unsigned long long)max, knob);
    return fail_at(a, node, NE_ERR_RANGE, what);
}

/* An unsigned limit of `key`, at most its compiled-in maximum. */
static int get_limit(apply_ctx *a, ne_conf_node *node, const char *key, uint64_t max,
                     const char *knob, uint64_t *out)
{
    int rc = get_uint(a, node, UINT64_MAX / 2, out);
    return rc != NE_OK ? rc : check_max(a, node, key, *out, max, knob);
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
    int rc = ne_parse_hostport(text, len, host, host_cap, port);
    if (rc != NE_OK) {
        return fail_at(a, node, rc, rc == NE_ERR_RANGE ? "host is too long" : "expected host:port");
    }
    return NE_OK;
}

/* ---- Permissions (CP-78..CP-83) -------------------------------------------- */

/* One subject of a permission list: "subject" or "subject queue". */
static int add_perm_subject(apply_ctx *a, ne_conf_node *n, ne_perm_list *list)
{
    ne_server_options *o = a->opts;
    const char *text;
    size_t len;
    if (n->type != NE_CONF_STRING) {
        char what[128];
        ne_fmt(what, sizeof(what),
               "Expected subject permissions to be a subject, or array of subjects, got %s",
               ne_conf_type_name((ne_conf_type)n->type));
        return fail_at(a, n, NE_ERR_INVALID, what);
    }
    (void)ne_conf_as_string(a->conf, n, &text, &len);
    if (o->perm_subject_count == NE_MAX_PERM_SUBJECTS) {
        return fail_at(a, n, NE_ERR_RANGE,
                       "more permission subjects than the compiled-in maximum: raise "
                       "NE_MAX_PERM_SUBJECTS in config/");
    }
    size_t subject_len = 0;
    while (subject_len < len && text[subject_len] != ' ' && text[subject_len] != '\t') {
        subject_len++;
    }
    size_t q = subject_len;
    while (q < len && (text[q] == ' ' || text[q] == '\t')) {
        q++;
    }
    size_t queue_len = len - q;
    if (!ne_subject_valid(text, subject_len)) {
        return fail_at(a, n, NE_ERR_INVALID, "invalid subject in permissions");
    }
    if (subject_len + queue_len > NE_PERM_SUBJECT_BYTES) {
        return fail_at(a, n, NE_ERR_RANGE,
                       "permission subject longer than NE_PERM_SUBJECT_BYTES in config/");
    }
    ne_perm_subject *e = &o->perm_subjects[o->perm_subject_count++];
    e->subject_len = (uint16_t)subject_len;
    e->queue_len = (uint16_t)queue_len;
    memcpy(e->text, text, subject_len);
    memcpy(e->text + subject_len, text + q, queue_len);
    list->count++;
    return NE_OK;
}

/* A subject or an array of subjects. */
static int apply_perm_list(apply_ctx *a, ne_conf_node *n, ne_perm_list *list)
{
    list->present = true;
    list->first = (uint16_t)a->opts->perm_subject_count;
    list->count = 0;
    if (n->type != NE_CONF_ARRAY) {
        return add_perm_subject(a, n, list);
    }
    for (ne_conf_node *item = ne_conf_first(a->conf, n); item != NULL;
         item = ne_conf_next(a->conf, item)) {
        int rc = add_perm_subject(a, item, list);
        if (rc != NE_OK) {
            return rc;
        }
    }
    return NE_OK;
}

/* publish/subscribe: a list (allowed subjects) or { allow, deny }. */
static int apply_perm_direction(apply_ctx *a, ne_conf_node *n, ne_perm_list *allow,
                                ne_perm_list *deny)
{
    if (n->type != NE_CONF_MAP) {
        return apply_perm_list(a, n, allow);
    }
    for (ne_conf_node *f = ne_conf_first(a->conf, n); f != NULL; f = ne_conf_next(a->conf, f)) {
        int rc;
        if (ne_conf_key_is(a->conf, f, "allow")) {
            rc = apply_perm_list(a, f, allow);
        } else if (ne_conf_key_is(a->conf, f, "deny")) {
            rc = apply_perm_list(a, f, deny);
        } else {
            rc = ne_conf_reject(a->conf, f, NULL);
        }
        if (rc != NE_OK) {
            return rc;
        }
    }
    return NE_OK;
}

/* allow_responses: true | false | { max, expires } */
static int apply_responses(apply_ctx *a, ne_conf_node *n, ne_permissions *p)
{
    p->response_max = NE_PERM_RESPONSE_MAX_DEFAULT;
    p->response_expires_ms = NE_PERM_RESPONSE_EXPIRES_MS_DEFAULT;
    if (n->type == NE_CONF_BOOL) {
        return ne_conf_as_bool(a->conf, n, &p->responses) == NE_OK ? NE_OK : fail_conf(a);
    }
    if (ne_conf_expect(a->conf, n, NE_CONF_MAP) != NE_OK) {
        return fail_conf(a);
    }
    p->responses = true;
    for (ne_conf_node *f = ne_conf_first(a->conf, n); f != NULL; f = ne_conf_next(a->conf, f)) {
        int rc = NE_OK;
        if (ne_conf_key_is(a->conf, f, "max")) {
            uint64_t v;
            rc = get_uint(a, f, UINT32_MAX, &v);
            p->response_max = v == 0 ? NE_PERM_RESPONSE_MAX_DEFAULT : (uint32_t)v;
        } else if (ne_conf_key_is(a->conf, f, "expires")) {
            int64_t ms;
            if (ne_conf_duration_ms(a->conf, f, &ms) != NE_OK) {
                return fail_conf(a);
            }
            if (ms < 0 || ms > 0x7fffffff) {
                return fail_at(a, f, NE_ERR_RANGE, "duration out of range");
            }
            p->response_expires_ms = ms == 0 ? NE_PERM_RESPONSE_EXPIRES_MS_DEFAULT : (uint32_t)ms;
        } else {
            rc = ne_conf_reject(a->conf, f, NULL);
        }
        if (rc != NE_OK) {
            return rc;
        }
    }
    return NE_OK;
}

/* permissions { publish, subscribe, allow_responses }: a new permission
 * set, its index in *out. */
static int apply_permissions(apply_ctx *a, ne_conf_node *map, uint16_t *out)
{
    ne_server_options *o = a->opts;
    if (ne_conf_expect(a->conf, map, NE_CONF_MAP) != NE_OK) {
        return fail_conf(a);
    }
    if (o->perm_count == NE_MAX_PERMISSION_SETS) {
        return fail_at(a, map, NE_ERR_RANGE,
                       "more permission sets than the compiled-in maximum: raise "
                       "NE_MAX_PERMISSION_SETS in config/");
    }
    ne_permissions *p = &o->perms[o->perm_count];
    memset(p, 0, sizeof(*p));
    for (ne_conf_node *f = ne_conf_first(a->conf, map); f != NULL; f = ne_conf_next(a->conf, f)) {
        int rc;
        if (ne_conf_key_is(a->conf, f, "publish") || ne_conf_key_is(a->conf, f, "pub") ||
            ne_conf_key_is(a->conf, f, "import")) {
            rc = apply_perm_direction(a, f, &p->pub_allow, &p->pub_deny);
        } else if (ne_conf_key_is(a->conf, f, "subscribe") || ne_conf_key_is(a->conf, f, "sub") ||
                   ne_conf_key_is(a->conf, f, "export")) {
            rc = apply_perm_direction(a, f, &p->sub_allow, &p->sub_deny);
        } else if (ne_conf_key_is(a->conf, f, "allow_responses") ||
                   ne_conf_key_is(a->conf, f, "allow_response")) {
            rc = apply_responses(a, f, p);
        } else {
            rc = ne_conf_reject(a->conf, f, NULL);
        }
        if (rc != NE_OK) {
            return rc;
        }
    }
    /* With allow_responses and no publish section nothing else may be
     * published (nats-server's parseUserPermissions). */
    if (p->responses && !p->pub_allow.present && !p->pub_deny.present) {
        p->pub_allow.present = true;
        p->pub_allow.first = (uint16_t)o->perm_subject_count;
    }
    *out = (uint16_t)o->perm_count++;
    return NE_OK;
}

/* users: [ {user: a, password: b}, {nkey: U...} ], in account `account`. */
static int apply_users(apply_ctx *a, ne_conf_node *list, uint8_t account)
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
        u->perms = NE_PERM_NONE;
        u->account = account;
        for (ne_conf_node *f = ne_conf_first(a->conf, item); f != NULL;
             f = ne_conf_next(a->conf, f)) {
            int rc = NE_OK;
            if (ne_conf_key_is(a->conf, f, "user") || ne_conf_key_is(a->conf, f, "username")) {
                rc = copy_string(a, f, u->user, sizeof(u->user));
            } else if (ne_conf_key_is(a->conf, f, "password") ||
                       ne_conf_key_is(a->conf, f, "pass")) {
                rc = copy_string(a, f, u->pass, sizeof(u->pass));
            } else if (ne_conf_key_is(a->conf, f, "nkey")) {
                rc = copy_string(a, f, u->nkey, sizeof(u->nkey));
                uint8_t key[32];
                if (rc == NE_OK &&
                    !ne_nkey_decode_public(u->nkey, strlen(u->nkey), NE_NKEY_PREFIX_USER, key)) {
                    return fail_at(a, f, NE_ERR_INVALID, "not a valid user nkey (U...)");
                }
            } else if (ne_conf_key_is(a->conf, f, "permissions") ||
                       ne_conf_key_is(a->conf, f, "permission")) {
                rc = apply_permissions(a, f, &u->perms);
            } else if (ne_conf_key_is(a->conf, f, "allowed_connection_types") ||
                       ne_conf_key_is(a->conf, f, "account")) {
                rc = ne_conf_reject(a->conf, f,
                                    "a user's \"%s\" is not supported yet in natsedge (define "
                                    "users inside accounts { }; see differences.md)");
            } else {
                rc = ne_conf_reject(a->conf, f, NULL);
            }
            if (rc != NE_OK) {
                return rc;
            }
        }
        if ((u->nkey[0] == '\0') == (u->user[0] == '\0')) {
            return fail_at(a, item, NE_ERR_INVALID, "a user needs either user or nkey");
        }
        /* A second entry of a name would never be reached by a login (the
         * first one answers): refused as nats-server refuses it. */
        for (uint32_t i = 0; i < a->opts->user_count && u->user[0] != '\0'; i++) {
            if (strcmp(a->opts->users[i].user, u->user) == 0) {
                /* The whole name fits: it is NUL-terminated within u->user. */
                char what[sizeof(u->user) + sizeof("Duplicate user \"\" detected")];
                ne_fmt(what, sizeof(what), "Duplicate user \"%s\" detected", u->user);
                return fail_at(a, item, NE_ERR_INVALID, what);
            }
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
        if (ne_conf_key_is(a->conf, n, "user") || ne_conf_key_is(a->conf, n, "username")) {
            a->single_user = n;
            rc = copy_string(a, n, a->opts->auth_user, sizeof(a->opts->auth_user));
        } else if (ne_conf_key_is(a->conf, n, "password") || ne_conf_key_is(a->conf, n, "pass")) {
            rc = copy_string(a, n, a->opts->auth_pass, sizeof(a->opts->auth_pass));
        } else if (ne_conf_key_is(a->conf, n, "token")) {
            a->token = n;
            rc = copy_string(a, n, a->opts->auth_token, sizeof(a->opts->auth_token));
        } else if (ne_conf_key_is(a->conf, n, "timeout")) {
            double seconds;
            if (ne_conf_as_float(a->conf, n, &seconds) != NE_OK) {
                return fail_conf(a);
            }
            if (seconds <= 0 || seconds > 3600) {
                return fail_at(a, n, NE_ERR_RANGE, "timeout out of range");
            }
            a->opts->auth_timeout_ms = (uint32_t)(seconds * 1000.0);
        } else if (ne_conf_key_is(a->conf, n, "users")) {
            rc = apply_users(a, n, NE_ACCOUNT_GLOBAL);
        } else if (ne_conf_key_is(a->conf, n, "default_permissions") ||
                   ne_conf_key_is(a->conf, n, "default_permission") ||
                   ne_conf_key_is(a->conf, n, "permissions")) {
            rc = apply_permissions(a, n, &a->opts->default_perms);
        } else {
            rc = ne_conf_reject(a->conf, n, NULL);
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
        if (ne_conf_key_is(a->conf, n, "cert_file")) {
            rc = copy_string(a, n, o->tls_cert_file, sizeof(o->tls_cert_file));
        } else if (ne_conf_key_is(a->conf, n, "key_file")) {
            rc = copy_string(a, n, o->tls_key_file, sizeof(o->tls_key_file));
        } else if (ne_conf_key_is(a->conf, n, "ca_file")) {
            rc = copy_string(a, n, o->tls_ca_file, sizeof(o->tls_ca_file));
        } else if (ne_conf_key_is(a->conf, n, "verify")) {
            rc = ne_conf_as_bool(a->conf, n, &o->tls_verify) == NE_OK ? NE_OK : fail_conf(a);
        } else if (ne_conf_key_is(a->conf, n, "timeout")) {
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
            const char *what = NULL; /* unknown field */
            for (size_t i = 0; i < NE_ARRAY_LEN(tls_not_yet) && what == NULL; i++) {
                if (ne_conf_key_is(a->conf, n, tls_not_yet[i])) {
                    what = "tls \"%s\" is not supported yet in natsedge (see differences.md)";
                }
            }
            rc = ne_conf_reject(a->conf, n, what);
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

/* ---- Accounts (CP-84..CP-87) ------------------------------------------------- */

static int find_account(const ne_server_options *o, const char *name, size_t len)
{
    for (uint32_t i = 0; i < o->account_count; i++) {
        if (strlen(o->accounts[i].name) == len && memcmp(o->accounts[i].name, name, len) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static int account_of_string(apply_ctx *a, ne_conf_node *n, const char *what, uint8_t *out)
{
    const char *text;
    size_t len;
    if (ne_conf_as_string(a->conf, n, &text, &len) != NE_OK) {
        return fail_conf(a);
    }
    int idx = find_account(a->opts, text, len);
    if (idx < 0) {
        char msg[160];
        ne_fmt(msg, sizeof(msg), "\"%.*s\" account not defined for %s", (int)NE_MIN(len, 64), text,
               what);
        return fail_at(a, n, NE_ERR_INVALID, msg);
    }
    *out = (uint8_t)idx;
    return NE_OK;
}

/* A subject of an export or import, kept in a fixed field. */
static int copy_subject(apply_ctx *a, ne_conf_node *n, char *dst, bool wildcards)
{
    int rc = copy_string(a, n, dst, NE_PERM_SUBJECT_BYTES);
    if (rc != NE_OK) {
        return rc;
    }
    size_t len = strlen(dst);
    bool ok = wildcards ? ne_subject_valid(dst, len) : ne_subject_valid_literal(dst, len);
    return ok ? NE_OK : fail_at(a, n, NE_ERR_INVALID, "invalid subject");
}

static int apply_export(apply_ctx *a, ne_conf_node *item, uint8_t account)
{
    ne_server_options *o = a->opts;
    if (ne_conf_expect(a->conf, item, NE_CONF_MAP) != NE_OK) {
        return fail_conf(a);
    }
    if (o->export_count == NE_MAX_EXPORTS) {
        return fail_at(a, item, NE_ERR_RANGE,
                       "more exports than the compiled-in maximum: raise NE_MAX_EXPORTS in "
                       "config/");
    }
    ne_export_conf *e = &o->exports[o->export_count];
    memset(e, 0, sizeof(*e));
    e->account = account;
    bool named = false;
    for (ne_conf_node *f = ne_conf_first(a->conf, item); f != NULL; f = ne_conf_next(a->conf, f)) {
        int rc = NE_OK;
        if (ne_conf_key_is(a->conf, f, "stream") || ne_conf_key_is(a->conf, f, "service")) {
            e->service = ne_conf_key_is(a->conf, f, "service");
            named = true;
            rc = copy_subject(a, f, e->subject, true);
        } else if (ne_conf_key_is(a->conf, f, "accounts")) {
            if (ne_conf_expect(a->conf, f, NE_CONF_ARRAY) != NE_OK) {
                return fail_conf(a);
            }
            for (ne_conf_node *n = ne_conf_first(a->conf, f); n != NULL && rc == NE_OK;
                 n = ne_conf_next(a->conf, n)) {
                uint8_t idx;
                rc = account_of_string(a, n, "export", &idx);
                e->allowed |= rc == NE_OK ? (1u << idx) : 0u;
            }
        } else if (ne_conf_key_is(a->conf, f, "response_type") ||
                   ne_conf_key_is(a->conf, f, "response")) {
            const char *t;
            size_t tl;
            if (ne_conf_as_string(a->conf, f, &t, &tl) != NE_OK) {
                return fail_conf(a);
            }
            if (tl == 9 && memcmp(t, "singleton", 9) == 0) {
                e->response_type = NE_RESPONSE_SINGLETON;
            } else if (tl == 6 && memcmp(t, "stream", 6) == 0) {
                e->response_type = NE_RESPONSE_STREAM;
            } else if (tl == 7 && memcmp(t, "chunked", 7) == 0) {
                e->response_type = NE_RESPONSE_CHUNKED;
            } else {
                return fail_at(a, f, NE_ERR_INVALID,
                               "response_type must be singleton, stream or chunked");
            }
        } else if (ne_conf_key_is(a->conf, f, "latency") ||
                   ne_conf_key_is(a->conf, f, "response_threshold") ||
                   ne_conf_key_is(a->conf, f, "account_token_position") ||
                   ne_conf_key_is(a->conf, f, "advertise")) {
            rc = ne_conf_reject(a->conf, f,
                                "export \"%s\" is not supported yet in natsedge (latency "
                                "tracking, response thresholds, tokens; see differences.md)");
        } else {
            rc = ne_conf_reject(a->conf, f, NULL);
        }
        if (rc != NE_OK) {
            return rc;
        }
    }
    if (!named) {
        return fail_at(a, item, NE_ERR_INVALID, "an export needs stream or service");
    }
    o->export_count++;
    return NE_OK;
}

/* {stream|service: {account: A, subject: S}, prefix|to: ...} */
static int apply_import(apply_ctx *a, ne_conf_node *item, uint8_t account)
{
    ne_server_options *o = a->opts;
    if (ne_conf_expect(a->conf, item, NE_CONF_MAP) != NE_OK) {
        return fail_conf(a);
    }
    if (o->import_count == NE_MAX_IMPORTS) {
        return fail_at(a, item, NE_ERR_RANGE,
                       "more imports than the compiled-in maximum: raise NE_MAX_IMPORTS in "
                       "config/");
    }
    ne_import_conf *imp = &o->imports[o->import_count];
    memset(imp, 0, sizeof(*imp));
    imp->account = account;
    bool named = false;
    for (ne_conf_node *f = ne_conf_first(a->conf, item); f != NULL; f = ne_conf_next(a->conf, f)) {
        int rc = NE_OK;
        if (ne_conf_key_is(a->conf, f, "stream") || ne_conf_key_is(a->conf, f, "service")) {
            imp->service = ne_conf_key_is(a->conf, f, "service");
            named = true;
            if (ne_conf_expect(a->conf, f, NE_CONF_MAP) != NE_OK) {
                return fail_conf(a);
            }
            bool has_account = false;
            for (ne_conf_node *g = ne_conf_first(a->conf, f); g != NULL && rc == NE_OK;
                 g = ne_conf_next(a->conf, g)) {
                if (ne_conf_key_is(a->conf, g, "account")) {
                    has_account = true;
                    rc = account_of_string(a, g, imp->service ? "service import" : "stream import",
                                           &imp->from);
                } else if (ne_conf_key_is(a->conf, g, "subject")) {
                    rc = copy_subject(a, g, imp->subject, true);
                } else {
                    rc = ne_conf_reject(a->conf, g, NULL);
                }
            }
            if (rc == NE_OK && (!has_account || imp->subject[0] == '\0')) {
                return fail_at(a, f, NE_ERR_INVALID, "an import needs account and subject");
            }
        } else if (ne_conf_key_is(a->conf, f, "prefix")) {
            imp->prefix = true;
            rc = copy_subject(a, f, imp->to, false);
        } else if (ne_conf_key_is(a->conf, f, "to") ||
                   ne_conf_key_is(a->conf, f, "local_subject")) {
            rc = copy_subject(a, f, imp->to, true);
        } else if (ne_conf_key_is(a->conf, f, "share")) {
            bool share;
            /* Shares latency tracking, which natsedge does not have. */
            rc = ne_conf_as_bool(a->conf, f, &share) == NE_OK ? NE_OK : fail_conf(a);
        } else {
            rc = ne_conf_reject(a->conf, f, NULL);
        }
        if (rc != NE_OK) {
            return rc;
        }
    }
    if (!named) {
        return fail_at(a, item, NE_ERR_INVALID, "an import needs stream or service");
    }
    if (imp->prefix && imp->service) {
        return fail_at(a, item, NE_ERR_INVALID, "a service import takes to, not prefix");
    }
    a->import_nodes[o->import_count++] = item;
    return NE_OK;
}

static int apply_list(apply_ctx *a, ne_conf_node *list, uint8_t account,
                      int (*apply_item)(apply_ctx *, ne_conf_node *, uint8_t))
{
    if (ne_conf_expect(a->conf, list, NE_CONF_ARRAY) != NE_OK) {
        return fail_conf(a);
    }
    for (ne_conf_node *item = ne_conf_first(a->conf, list); item != NULL;
         item = ne_conf_next(a->conf, item)) {
        int rc = apply_item(a, item, account);
        if (rc != NE_OK) {
            return rc;
        }
    }
    return NE_OK;
}

/* ---- JetStream (jetstream { }, an account's jetstream { }) --------------------- */

/* A size of the jetstream block (nats-server's getStorageSize), with its
 * wording for a string without a unit. */
static int get_size(apply_ctx *a, ne_conf_node *n, const char *what, int64_t *out)
{
    if (n->type == NE_CONF_STRING) {
        const char *text;
        size_t len;
        (void)ne_conf_as_string(a->conf, n, &text, &len);
        char last = len > 0 ? text[len - 1] : 'K';
        if (last != 'K' && last != 'M' && last != 'G' && last != 'T') {
            char msg[128];
            ne_fmt(msg, sizeof(msg), "%s sizes defined as strings must end in K, M, G, T", what);
            return fail_at(a, n, NE_ERR_INVALID, msg);
        }
    }
    return ne_conf_as_size(a->conf, n, out) == NE_OK ? NE_OK : fail_conf(a);
}

/* "enabled"/"disabled" (any case), as nats-server reads a jetstream string. */
static int get_enabled_text(apply_ctx *a, ne_conf_node *n, bool positioned, bool *out)
{
    const char *text;
    size_t len;
    (void)ne_conf_as_string(a->conf, n, &text, &len);
    char lower[16];
    size_t k = 0;
    for (; k < len && k < sizeof(lower) - 1; k++) {
        char c = text[k];
        lower[k] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    lower[k] = '\0';
    if (len < sizeof(lower) && (strcmp(lower, "enabled") == 0 || strcmp(lower, "enable") == 0)) {
        *out = true;
        return NE_OK;
    }
    if (len < sizeof(lower) && (strcmp(lower, "disabled") == 0 || strcmp(lower, "disable") == 0)) {
        *out = false;
        return NE_OK;
    }
    char msg[160];
    ne_fmt(msg, sizeof(msg), "Expected 'enabled' or 'disabled' for string value, got '%.*s'",
           (int)NE_MIN(len, (size_t)64), text);
    if (!positioned) {
        ne_fmt(a->err, a->err_cap, "%s", msg);
        return NE_ERR_INVALID;
    }
    return fail_at(a, n, NE_ERR_INVALID, msg);
}

static void js_account_limits_default(ne_js_account_limits *l)
{
    l->max_memory = -1;
    l->max_store = -1;
    l->max_streams = -1;
    l->max_consumers = -1;
    l->max_ack_pending = -1;
    l->memory_max_stream_bytes = -1;
    l->store_max_stream_bytes = -1;
    l->max_bytes_required = false;
}

static int get_int(apply_ctx *a, ne_conf_node *n, int64_t *out)
{
    return ne_conf_as_int(a->conf, n, out) == NE_OK ? NE_OK : fail_conf(a);
}

/* An account's jetstream: true/false, "enabled"/"disabled", or its limits
 * (nats-server's parseJetStreamForAccount). */
static int apply_account_jetstream(apply_ctx *a, ne_conf_node *n, ne_js_account_limits *l)
{
    js_account_limits_default(l);
    if (n->type == NE_CONF_BOOL) {
        return ne_conf_as_bool(a->conf, n, &l->enabled) == NE_OK ? NE_OK : fail_conf(a);
    }
    if (n->type == NE_CONF_STRING) {
        return get_enabled_text(a, n, false, &l->enabled);
    }
    if (n->type != NE_CONF_MAP) {
        char msg[96];
        ne_fmt(msg, sizeof(msg), "Expected map, bool or string to define JetStream, got %s",
               n->type == NE_CONF_INT ? "int64" : ne_conf_type_name((ne_conf_type)n->type));
        return fail_at(a, n, NE_ERR_INVALID, msg);
    }
    (void)ne_conf_expect(a->conf, n, NE_CONF_MAP);
    l->enabled = true;
    for (ne_conf_node *f = ne_conf_first(a->conf, n); f != NULL; f = ne_conf_next(a->conf, f)) {
        int rc;
        const ne_conf *c = a->conf;
        if (ne_conf_key_is(c, f, "max_memory") || ne_conf_key_is(c, f, "max_mem") ||
            ne_conf_key_is(c, f, "mem") || ne_conf_key_is(c, f, "memory")) {
            rc = get_size(a, f, "max_memory", &l->max_memory);
        } else if (ne_conf_key_is(c, f, "max_store") || ne_conf_key_is(c, f, "max_file") ||
                   ne_conf_key_is(c, f, "max_disk") || ne_conf_key_is(c, f, "store") ||
                   ne_conf_key_is(c, f, "disk")) {
            rc = get_size(a, f, "max_store", &l->max_store);
        } else if (ne_conf_key_is(c, f, "max_streams") || ne_conf_key_is(c, f, "streams")) {
            rc = get_int(a, f, &l->max_streams);
        } else if (ne_conf_key_is(c, f, "max_consumers") || ne_conf_key_is(c, f, "consumers")) {
            rc = get_int(a, f, &l->max_consumers);
        } else if (ne_conf_key_is(c, f, "max_bytes_required") ||
                   ne_conf_key_is(c, f, "max_stream_bytes") || ne_conf_key_is(c, f, "max_bytes")) {
            rc =
                ne_conf_as_bool(a->conf, f, &l->max_bytes_required) == NE_OK ? NE_OK : fail_conf(a);
        } else if (ne_conf_key_is(c, f, "mem_max_stream_bytes") ||
                   ne_conf_key_is(c, f, "memory_max_stream_bytes")) {
            rc = get_size(a, f, "mem_max_stream_bytes", &l->memory_max_stream_bytes);
        } else if (ne_conf_key_is(c, f, "disk_max_stream_bytes") ||
                   ne_conf_key_is(c, f, "store_max_stream_bytes")) {
            rc = get_size(a, f, "store_max_stream_bytes", &l->store_max_stream_bytes);
        } else if (ne_conf_key_is(c, f, "max_ack_pending")) {
            rc = get_int(a, f, &l->max_ack_pending);
        } else {
            rc = ne_conf_unknown_field(a->conf, f) == NE_OK ? NE_OK : fail_conf(a);
        }
        if (rc != NE_OK) {
            return rc;
        }
    }
    return NE_OK;
}

/* store_dir at the top level or in the jetstream block, not both. */
static int apply_store_dir(apply_ctx *a, ne_conf_node *n)
{
    if (a->opts->js.store_dir[0] != '\0') {
        return fail_at(a, n, NE_ERR_INVALID, "Duplicate 'store_dir' configuration");
    }
    return copy_string(a, n, a->opts->js.store_dir, sizeof(a->opts->js.store_dir));
}

/* jetstream { limits { max_ack_pending, max_request_batch, duplicate_window } } */
static int apply_jetstream_limits(apply_ctx *a, ne_conf_node *n)
{
    ne_js_options *js = &a->opts->js;
    if (ne_conf_expect(a->conf, n, NE_CONF_MAP) != NE_OK) {
        return fail_conf(a);
    }
    for (ne_conf_node *f = ne_conf_first(a->conf, n); f != NULL; f = ne_conf_next(a->conf, f)) {
        int rc;
        if (ne_conf_key_is(a->conf, f, "max_ack_pending")) {
            rc = get_int(a, f, &js->max_ack_pending);
        } else if (ne_conf_key_is(a->conf, f, "max_request_batch")) {
            rc = get_int(a, f, &js->max_request_batch);
        } else if (ne_conf_key_is(a->conf, f, "duplicate_window")) {
            const char *text;
            size_t len;
            rc = ne_conf_as_string(a->conf, f, &text, &len) == NE_OK ? NE_OK : fail_conf(a);
            if (rc == NE_OK &&
                ne_conf_parse_duration(text, len, &js->duplicate_window_ns) != NE_OK) {
                rc = fail_at(a, f, NE_ERR_INVALID, "invalid duplicate_window duration");
            }
        } else {
            rc = ne_conf_unknown_field(a->conf, f) == NE_OK ? NE_OK : fail_conf(a);
        }
        if (rc != NE_OK) {
            return rc;
        }
    }
    return NE_OK;
}

/* sync_interval (or sync): "always" in any case, or a duration (nats-server
 * 2.10's key; 2.9.10 refuses it). A zero duration is refused (nats-server
 * 2.10 takes it as its default, two minutes). */
static int apply_sync_interval(apply_ctx *a, ne_conf_node *n)
{
    const char *text;
    size_t len;
    if (n->type == NE_CONF_STRING && ne_conf_as_string(a->conf, n, &text, &len) == NE_OK &&
        len == sizeof("always") - 1) {
        bool always = true;
        for (size_t i = 0; i < len; i++) {
            char ch = text[i] >= 'A' && text[i] <= 'Z' ? (char)(text[i] - 'A' + 'a') : text[i];
            always = always && ch == "always"[i];
        }
        if (always) {
            a->opts->js.sync_interval_ms = 0;
            return NE_OK;
        }
    }
    return apply_duration(a, n, &a->opts->js.sync_interval_ms);
}

/* jetstream: true/false, "enabled"/"disabled", or { store_dir,
 * max_memory_store, max_file_store, domain, enabled, limits, sync_interval }
 * (nats-server's parseJetStream). */
static int apply_jetstream(apply_ctx *a, ne_conf_node *n)
{
    ne_js_options *js = &a->opts->js;
    if (n->type == NE_CONF_BOOL) {
        return ne_conf_as_bool(a->conf, n, &js->enabled) == NE_OK ? NE_OK : fail_conf(a);
    }
    if (n->type == NE_CONF_STRING) {
        return get_enabled_text(a, n, true, &js->enabled);
    }
    if (n->type != NE_CONF_MAP) {
        char msg[96];
        ne_fmt(msg, sizeof(msg), "Expected map, bool or string to define JetStream, got %s",
               n->type == NE_CONF_INT ? "int64" : ne_conf_type_name((ne_conf_type)n->type));
        return fail_at(a, n, NE_ERR_INVALID, msg);
    }
    (void)ne_conf_expect(a->conf, n, NE_CONF_MAP);
    bool enable = true;
    for (ne_conf_node *f = ne_conf_first(a->conf, n); f != NULL; f = ne_conf_next(a->conf, f)) {
        int rc;
        const ne_conf *c = a->conf;
        if (ne_conf_key_is(c, f, "store") || ne_conf_key_is(c, f, "store_dir") ||
            ne_conf_key_is(c, f, "storedir")) {
            rc = apply_store_dir(a, f);
        } else if (ne_conf_key_is(c, f, "max_memory_store") ||
                   ne_conf_key_is(c, f, "max_mem_store") || ne_conf_key_is(c, f, "max_mem")) {
            rc = get_size(a, f, "max_mem_store", &js->max_memory);
        } else if (ne_conf_key_is(c, f, "max_file_store") || ne_conf_key_is(c, f, "max_file")) {
            rc = get_size(a, f, "max_file_store", &js->max_store);
        } else if (ne_conf_key_is(c, f, "domain")) {
            rc = copy_string(a, f, js->domain, sizeof(js->domain));
        } else if (ne_conf_key_is(c, f, "enable") || ne_conf_key_is(c, f, "enabled")) {
            rc = ne_conf_as_bool(a->conf, f, &enable) == NE_OK ? NE_OK : fail_conf(a);
        } else if (ne_conf_key_is(c, f, "limits")) {
            rc = apply_jetstream_limits(a, f);
        } else if (ne_conf_key_is(c, f, "sync") || ne_conf_key_is(c, f, "sync_interval")) {
            rc = apply_sync_interval(a, f);
        } else if (ne_conf_key_is(c, f, "key") || ne_conf_key_is(c, f, "ek") ||
                   ne_conf_key_is(c, f, "encryption_key") || ne_conf_key_is(c, f, "cipher") ||
                   ne_conf_key_is(c, f, "extension_hint") || ne_conf_key_is(c, f, "unique_tag") ||
                   ne_conf_key_is(c, f, "max_outstanding_catchup")) {
            char what[128];
            ne_fmt(what, sizeof(what),
                   "jetstream \"%.*s\" is not supported yet in natsedge (see differences.md)",
                   (int)ne_conf_key_len(f), ne_conf_key(a->conf, f));
            rc = fail_at(a, f, NE_ERR_UNSUPPORTED, what);
        } else {
            rc = ne_conf_unknown_field(a->conf, f) == NE_OK ? NE_OK : fail_conf(a);
        }
        if (rc != NE_OK) {
            return rc;
        }
    }
    js->enabled = enable;
    return NE_OK;
}

static int apply_account(apply_ctx *a, ne_conf_node *map, uint8_t account)
{
    if (ne_conf_expect(a->conf, map, NE_CONF_MAP) != NE_OK) {
        return fail_conf(a);
    }
    for (ne_conf_node *f = ne_conf_first(a->conf, map); f != NULL; f = ne_conf_next(a->conf, f)) {
        int rc;
        if (ne_conf_key_is(a->conf, f, "users")) {
            rc = apply_users(a, f, account);
        } else if (ne_conf_key_is(a->conf, f, "exports")) {
            rc = apply_list(a, f, account, apply_export);
        } else if (ne_conf_key_is(a->conf, f, "imports")) {
            rc = apply_list(a, f, account, apply_import);
        } else if (ne_conf_key_is(a->conf, f, "default_permissions") ||
                   ne_conf_key_is(a->conf, f, "default_permission")) {
            rc = apply_permissions(a, f, &a->opts->accounts[account].default_perms);
        } else if (ne_conf_key_is(a->conf, f, "jetstream")) {
            rc = apply_account_jetstream(a, f, &a->opts->accounts[account].js);
        } else if (ne_conf_key_is(a->conf, f, "mappings") || ne_conf_key_is(a->conf, f, "maps") ||
                   ne_conf_key_is(a->conf, f, "nkey") || ne_conf_key_is(a->conf, f, "limits")) {
            rc = ne_conf_reject(a->conf, f,
                                "account \"%s\" is not supported yet in natsedge (see "
                                "differences.md)");
        } else {
            rc = ne_conf_reject(a->conf, f, NULL);
        }
        if (rc != NE_OK) {
            return rc;
        }
    }
    return NE_OK;
}

/* accounts { NAME { users, exports, imports, default_permissions } }: every
 * name first, so that exports and imports may name accounts defined later. */
static int apply_accounts(apply_ctx *a, ne_conf_node *map)
{
    ne_server_options *o = a->opts;
    if (ne_conf_expect(a->conf, map, NE_CONF_MAP) != NE_OK) {
        return fail_conf(a);
    }
    for (ne_conf_node *n = ne_conf_first(a->conf, map); n != NULL; n = ne_conf_next(a->conf, n)) {
        const char *name = ne_conf_key(a->conf, n);
        size_t len = ne_conf_key_len(n);
        if (len == 0 || len >= NE_ACCOUNT_NAME_BYTES) {
            return fail_at(a, n, NE_ERR_RANGE, "account name is empty or too long");
        }
        if (find_account(o, name, len) >= 0) {
            continue;
        }
        if (o->account_count == NE_MAX_ACCOUNTS) {
            return fail_at(a, n, NE_ERR_RANGE,
                           "more accounts than the compiled-in maximum: raise NE_MAX_ACCOUNTS "
                           "in config/");
        }
        ne_account_conf *acc = &o->accounts[o->account_count++];
        memcpy(acc->name, name, len);
        acc->name[len] = '\0';
        acc->default_perms = NE_PERM_NONE;
    }
    for (ne_conf_node *n = ne_conf_first(a->conf, map); n != NULL; n = ne_conf_next(a->conf, n)) {
        int idx = find_account(o, ne_conf_key(a->conf, n), ne_conf_key_len(n));
        NE_ASSERT(idx >= 0);
        int rc = apply_account(a, n, (uint8_t)idx);
        if (rc != NE_OK) {
            return rc;
        }
    }
    return NE_OK;
}

/* Every import must be covered by an export of its account that the
 * importer may use (nats-server refuses the configuration otherwise). */
static int check_imports(apply_ctx *a)
{
    const ne_server_options *o = a->opts;
    for (uint32_t i = 0; i < o->import_count; i++) {
        const ne_import_conf *imp = &o->imports[i];
        bool authorized = false;
        for (uint32_t k = 0; k < o->export_count && !authorized; k++) {
            const ne_export_conf *e = &o->exports[k];
            authorized = e->account == imp->from && e->service == imp->service &&
                         (e->allowed == 0 || (e->allowed & (1u << imp->account)) != 0) &&
                         ne_subject_is_subset(imp->subject, strlen(imp->subject), e->subject,
                                              strlen(e->subject));
            if (authorized) {
                a->opts->imports[i].response_type = e->response_type;
            }
        }
        const char *kind = imp->service ? "service" : "stream";
        char what[NE_PERM_SUBJECT_BYTES + 96];
        if (!authorized) {
            ne_fmt(what, sizeof(what), "Error adding %s import \"%s\": %s import not authorized",
                   kind, imp->subject, kind);
            return fail_at(a, a->import_nodes[i], NE_ERR_INVALID, what);
        }
        bool mapping_ok =
            imp->prefix ||
            (imp->service ? ne_account_mapping_valid(imp->to, strlen(imp->to), imp->subject,
                                                     strlen(imp->subject))
                          : ne_account_mapping_valid(imp->subject, strlen(imp->subject), imp->to,
                                                     strlen(imp->to)));
        if (!mapping_ok) {
            ne_fmt(what, sizeof(what),
                   "Error adding %s import \"%s\": \"to\" must have the same wildcards", kind,
                   imp->subject);
            return fail_at(a, a->import_nodes[i], NE_ERR_INVALID, what);
        }
    }
    return NE_OK;
}

/* system_account and no_auth_user name what may be defined after them. */
static int resolve_names(apply_ctx *a)
{
    ne_server_options *o = a->opts;
    if (a->system_account != NULL) {
        int rc = account_of_string(a, a->system_account, "system_account", &o->system_account);
        if (rc != NE_OK) {
            return rc;
        }
    }
    if (a->no_auth_user != NULL) {
        int rc = copy_string(a, a->no_auth_user, o->no_auth_user, sizeof(o->no_auth_user));
        if (rc != NE_OK) {
            return rc;
        }
        bool found = false;
        for (uint32_t i = 0; i < o->user_count && !found; i++) {
            found = strcmp(o->users[i].user, o->no_auth_user) == 0;
        }
        if (!found) {
            char what[160];
            ne_fmt(what, sizeof(what),
                   "no_auth_user: \"%s\" not present as user or nkey in authorization block "
                   "or account configuration",
                   o->no_auth_user);
            return fail_at(a, a->no_auth_user, NE_ERR_INVALID, what);
        }
    }
    return check_imports(a);
}

/* One top-level key. */
static int apply_key(apply_ctx *a, ne_conf_node *n)
{
    ne_server_options *o = a->opts;
    uint64_t v;
    int rc;
    if (ne_conf_key_is(a->conf, n, "listen")) {
        return parse_hostport(a, n, o->host, sizeof(o->host), &o->port);
    }
    if (ne_conf_key_is(a->conf, n, "host") || ne_conf_key_is(a->conf, n, "net")) {
        return copy_string(a, n, o->host, sizeof(o->host));
    }
    if (ne_conf_key_is(a->conf, n, "port")) {
        rc = get_uint(a, n, 65535, &v);
        o->port = (uint16_t)v;
        return rc;
    }
    if (ne_conf_key_is(a->conf, n, "server_name")) {
        return copy_string(a, n, o->server_name, sizeof(o->server_name));
    }
    if (ne_conf_key_is(a->conf, n, "max_payload")) {
        a->max_payload = n;
        rc = get_limit(a, n, "max_payload", NE_MAX_PAYLOAD_BYTES, "NE_MAX_PAYLOAD_BYTES", &v);
        o->max_payload = (uint32_t)v;
        return rc;
    }
    if (ne_conf_key_is(a->conf, n, "max_connections") || ne_conf_key_is(a->conf, n, "max_conn")) {
        rc = get_limit(a, n, "max_connections", NE_MAX_CONNECTIONS, "NE_MAX_CONNECTIONS", &v);
        o->max_connections = (uint32_t)v;
        return rc;
    }
    if (ne_conf_key_is(a->conf, n, "max_control_line")) {
        rc = get_limit(a, n, "max_control_line", NE_MAX_CONTROL_LINE_BYTES,
                       "NE_MAX_CONTROL_LINE_BYTES", &v);
        o->max_control_line = (uint32_t)v;
        if (rc == NE_OK && v < 32) {
            char what[64];
            ne_fmt(what, sizeof(what), "max_control_line %u is too small (at least 32)",
                   (unsigned)v);
            return fail_at(a, n, NE_ERR_RANGE, what);
        }
        return rc;
    }
    if (ne_conf_key_is(a->conf, n, "max_pending")) {
        a->max_pending = n;
        return get_limit(a, n, "max_pending", NE_MAX_PENDING_BYTES, "NE_MAX_PENDING_BYTES",
                         &o->max_pending);
    }
    if (ne_conf_key_is(a->conf, n, "max_subscriptions") || ne_conf_key_is(a->conf, n, "max_subs")) {
        rc = get_limit(a, n, "max_subscriptions", NE_MAX_SUBSCRIPTIONS_PER_CONN,
                       "NE_MAX_SUBSCRIPTIONS_PER_CONN", &v);
        o->max_subs = (uint32_t)v;
        return rc;
    }
    if (ne_conf_key_is(a->conf, n, "ping_interval")) {
        return apply_duration(a, n, &o->ping_interval_ms);
    }
    if (ne_conf_key_is(a->conf, n, "ping_max")) {
        rc = get_uint(a, n, 1000000, &v);
        o->ping_max = (uint32_t)v;
        return rc;
    }
    if (ne_conf_key_is(a->conf, n, "write_deadline")) {
        return apply_duration(a, n, &o->write_deadline_ms);
    }
    if (ne_conf_key_is(a->conf, n, "lame_duck_duration")) {
        a->lame_duck_duration = n;
        return apply_lame_duck(a, n, false);
    }
    if (ne_conf_key_is(a->conf, n, "lame_duck_grace_period")) {
        a->lame_duck_grace_period = n;
        return apply_lame_duck(a, n, true);
    }
    if (ne_conf_key_is(a->conf, n, "no_header_support")) {
        return ne_conf_as_bool(a->conf, n, &o->no_header_support) == NE_OK ? NE_OK : fail_conf(a);
    }
    if (ne_conf_key_is(a->conf, n, "http") || ne_conf_key_is(a->conf, n, "monitor")) {
        o->http_enabled = true;
        return parse_hostport(a, n, o->http_host, sizeof(o->http_host), &o->http_port);
    }
    if (ne_conf_key_is(a->conf, n, "http_port") || ne_conf_key_is(a->conf, n, "monitor_port")) {
        rc = get_uint(a, n, 65535, &v);
        o->http_enabled = v != 0;
        o->http_port = (uint16_t)v;
        return rc;
    }
    if (ne_conf_key_is(a->conf, n, "leafnodes") || ne_conf_key_is(a->conf, n, "leaf")) {
        return ne_leaf_apply_conf(a->conf, n, &o->leaf, a->err, a->err_cap);
    }
#if NE_FEATURE_MQTT
    if (ne_conf_key_is(a->conf, n, "mqtt")) {
        return ne_mqtt_apply_conf(a->conf, n, &o->mqtt, a->err, a->err_cap);
    }
#endif
#if NE_FEATURE_ROUTES
    if (ne_conf_key_is(a->conf, n, "cluster")) {
        return ne_route_apply_conf(a->conf, n, &o->cluster, a->err, a->err_cap);
    }
#endif
    if (ne_conf_key_is(a->conf, n, "authorization")) {
        return apply_authorization(a, n);
    }
    if (ne_conf_key_is(a->conf, n, "jetstream")) {
        return apply_jetstream(a, n);
    }
    if (ne_conf_key_is(a->conf, n, "store_dir") || ne_conf_key_is(a->conf, n, "storedir")) {
        return apply_store_dir(a, n);
    }
    if (ne_conf_key_is(a->conf, n, "accounts")) {
        return apply_accounts(a, n);
    }
    if (ne_conf_key_is(a->conf, n, "system_account")) {
        a->system_account = n;
        ne_conf_mark_used(n); /* read by resolve_names, once every account is known */
        return NE_OK;
    }
    if (ne_conf_key_is(a->conf, n, "no_system_account")) {
        bool off;
        if (ne_conf_as_bool(a->conf, n, &off) != NE_OK) {
            return fail_conf(a);
        }
        o->system_account = off ? NE_ACCOUNT_NONE : o->system_account;
        return NE_OK;
    }
    if (ne_conf_key_is(a->conf, n, "no_auth_user")) {
        a->no_auth_user = n;
        ne_conf_mark_used(n); /* read by resolve_names */
        return NE_OK;
    }
    if (ne_conf_key_is(a->conf, n, "tls")) {
        return apply_tls(a, n);
    }
    if (ne_conf_key_is(a->conf, n, "https")) {
        o->http_enabled = true;
        o->https = true;
        return parse_hostport(a, n, o->http_host, sizeof(o->http_host), &o->http_port);
    }
    if (ne_conf_key_is(a->conf, n, "https_port")) {
        rc = get_uint(a, n, 65535, &v);
        o->http_enabled = v != 0;
        o->https = v != 0;
        o->http_port = (uint16_t)v;
        return rc;
    }
    if (ne_conf_key_is(a->conf, n, "debug")) {
        return ne_conf_as_bool(a->conf, n, &a->board->debug) == NE_OK ? NE_OK : fail_conf(a);
    }
    if (ne_conf_key_is(a->conf, n, "trace") || ne_conf_key_is(a->conf, n, "trace_verbose")) {
        return ne_conf_as_bool(a->conf, n, &a->board->trace) == NE_OK ? NE_OK : fail_conf(a);
    }
    if (ne_conf_key_is(a->conf, n, "logtime")) {
        return ne_conf_as_bool(a->conf, n, &a->board->logtime) == NE_OK ? NE_OK : fail_conf(a);
    }
    if (ne_conf_key_is(a->conf, n, "log_file") || ne_conf_key_is(a->conf, n, "logfile")) {
        return ne_conf_as_string(a->conf, n, &a->board->log_file, NULL) == NE_OK ? NE_OK
                                                                                 : fail_conf(a);
    }
    if (ne_conf_key_is(a->conf, n, "pid_file") || ne_conf_key_is(a->conf, n, "pidfile")) {
        return ne_conf_as_string(a->conf, n, &a->board->pid_file, NULL) == NE_OK ? NE_OK
                                                                                 : fail_conf(a);
    }
    if (ne_conf_key_is(a->conf, n, "ports_file_dir")) {
        return ne_conf_as_string(a->conf, n, &a->board->ports_file_dir, NULL) == NE_OK
                   ? NE_OK
                   : fail_conf(a);
    }
    for (size_t i = 0; i < NE_ARRAY_LEN(not_yet); i++) {
        if (ne_conf_key_is(a->conf, n, not_yet[i])) {
            return ne_conf_reject(a->conf, n,
                                  "\"%s\" is not supported yet in natsedge (see differences.md)");
        }
    }
    return NE_OK; /* left unread: reported as an unknown field below */
}

/* A token or a single user together with users (authorization's list or
 * the accounts'): a client could only ever log in one way, the others
 * being silently unreachable (the token or the single user is checked
 * first). Refused with nats-server's words. */
static int check_auth_kinds(apply_ctx *a)
{
    if (a->opts->user_count == 0) {
        return NE_OK;
    }
    bool in_accounts = false;
    for (uint32_t i = 0; i < a->opts->user_count; i++) {
        in_accounts = in_accounts || a->opts->users[i].account != NE_ACCOUNT_GLOBAL;
    }
    if (a->token != NULL) {
        return fail_at(a, a->token, NE_ERR_INVALID,
                       in_accounts ? "Can not have a token and accounts"
                                   : "Can not have a token and a users array");
    }
    if (a->single_user != NULL) {
        return fail_at(a, a->single_user, NE_ERR_INVALID,
                       in_accounts ? "Can not have a single user/pass and accounts"
                                   : "Can not have a single user/pass and a users array");
    }
    return NE_OK;
}

/* Limits that must agree with each other, reported at the key that was
 * written (the later one's default being what it disagrees with). */
static int check_relations(apply_ctx *a)
{
    const ne_server_options *o = a->opts;
    if ((uint64_t)o->max_payload > o->max_pending) {
        char what[128];
        ne_fmt(what, sizeof(what), "max_payload (%u) cannot be higher than max_pending (%llu)",
               o->max_payload, (unsigned long long)o->max_pending);
        return fail_at(a, a->max_payload != NULL ? a->max_payload : a->max_pending, NE_ERR_RANGE,
                       what);
    }
    if (o->lame_duck_grace_period_ms >= o->lame_duck_duration_ms) {
        char what[128];
        ne_fmt(what, sizeof(what),
               "lame duck grace period (%ums) should be strictly lower than lame duck duration "
               "(%ums)",
               o->lame_duck_grace_period_ms, o->lame_duck_duration_ms);
        return fail_at(a,
                       a->lame_duck_grace_period != NULL ? a->lame_duck_grace_period
                                                         : a->lame_duck_duration,
                       NE_ERR_RANGE, what);
    }
    return NE_OK;
}

/* Reads every key. A value that is wrong is reported (rc, message in err)
 * but the reading goes on with the next top-level key, so that the keys
 * refused after it are reported too; later wrong values are not (their
 * messages go to a scratch buffer). */
static int apply_all(apply_ctx *a)
{
    ne_conf *conf = a->conf;
    ne_conf_node *root = ne_conf_root(conf);
    char *err = a->err;
    size_t err_cap = a->err_cap;
    char scratch[160];
    int first_rc = NE_OK;
    for (ne_conf_node *n = ne_conf_first(conf, root); n != NULL; n = ne_conf_next(conf, n)) {
        int rc = apply_key(a, n);
        if (rc != NE_OK && first_rc == NE_OK) {
            first_rc = rc;
            a->err = scratch;
            a->err_cap = sizeof(scratch);
        }
    }
    a->err = err;
    a->err_cap = err_cap;
    /* Unknown top-level keys: every one of them, with the refused ones. */
    uint32_t guard = conf->node_count;
    for (ne_conf_node *n = ne_conf_first_unused(conf, root); n != NULL && guard-- > 0;
         n = ne_conf_next_unused(conf, root, n)) {
        (void)ne_conf_reject(conf, n, NULL);
    }
    if (first_rc != NE_OK || ne_conf_rejected_count(conf) > 0) {
        return first_rc; /* the checks below may rest on what was refused */
    }
    int rc = resolve_names(a);
    if (rc == NE_OK) {
        rc = check_auth_kinds(a);
    }
    if (rc == NE_OK && (a->max_payload != NULL || a->max_pending != NULL ||
                        a->lame_duck_duration != NULL || a->lame_duck_grace_period != NULL)) {
        rc = check_relations(a);
    }
    return rc;
}

/* The report: every key refused, in file order, then the error that stopped
 * the reading, if any. The error is in err already: it is moved to the end
 * of err while the list is written in front of it, then joined to it, so
 * that neither is cut. */
static int report(apply_ctx *a, int rc)
{
    ne_conf *conf = a->conf;
    if (ne_conf_rejected_count(conf) == 0) {
        return rc;
    }
    size_t hard_len = rc != NE_OK ? strlen(a->err) : 0;
    NE_ASSERT(hard_len < a->err_cap);
    char *hard = a->err + a->err_cap - hard_len - 1;
    memmove(hard, a->err, hard_len + 1);
    size_t room = a->err_cap - hard_len - 1; /* ends with the '\n' before the error */
    size_t n = ne_conf_write_rejected(conf, a->err, room);
    if (hard_len > 0) {
        if (n > 0) {
            a->err[n++] = '\n';
        }
        memmove(a->err + n, hard, hard_len + 1);
    }
    if (rc != NE_OK) {
        return rc;
    }
    return conf->rejected_unknown ? NE_ERR_INVALID : NE_ERR_UNSUPPORTED;
}

int ne_server_apply_conf(ne_conf *conf, ne_server_options *opts, ne_board_settings *board,
                         char *err, size_t err_cap)
{
    NE_ASSERT(err != NULL && err_cap > 0);
    apply_ctx a;
    memset(&a, 0, sizeof(a));
    a.conf = conf;
    a.opts = opts;
    a.board = board;
    a.err = err;
    a.err_cap = err_cap;
    err[0] = '\0';
    int rc = report(&a, apply_all(&a));
    if (rc != NE_OK) {
        return rc;
    }
    if (opts->http_enabled && opts->http_host[0] == '\0') {
        memcpy(opts->http_host, opts->host, sizeof(opts->http_host));
    }
    return ne_server_options_check(opts, err, err_cap);
}
