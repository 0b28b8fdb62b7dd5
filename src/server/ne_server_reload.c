/* Configuration reload (nats-server's SIGHUP, inventory CFG-22): the options
 * nats-server 2.9 can change at run time are applied, any other change
 * refuses the whole reload with nats-server's wording ("config reload not
 * supported for <Field>: old=<v>, new=<v>") and the old options stay.
 *
 * Connections are re-checked against the new authorization settings: each
 * remembers a fingerprint of the configured credential it authenticated with
 * (kind, user or nkey, configured password, token or hash), and one whose
 * credential is no longer configured is closed with Authorization Violation.
 * nats-server re-runs the client's CONNECT instead, which also keeps a client
 * whose password was re-hashed; see differences.md. */
#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "core/ne_fmt.h"
#include "leaf/ne_leaf.h"
#include "server/ne_server.h"

/* A duration as Go prints a time.Duration: "500ms", "30s", "1.5s", "2m0s",
 * "1h0m0s". */
static void go_duration(uint32_t ms, char *out, size_t cap)
{
    if (ms == 0) {
        ne_fmt(out, cap, "0s");
        return;
    }
    if (ms < 1000) {
        ne_fmt(out, cap, "%ums", (unsigned)ms);
        return;
    }
    unsigned h = ms / 3600000u, m = ms / 60000u % 60u, s = ms / 1000u % 60u, frac = ms % 1000u;
    char secs[24];
    if (frac == 0) {
        ne_fmt(secs, sizeof(secs), "%us", s);
    } else {
        char digits[4];
        ne_fmt(digits, sizeof(digits), "%03u", frac);
        int n = 3;
        while (n > 0 && digits[n - 1] == '0') {
            n--;
        }
        ne_fmt(secs, sizeof(secs), "%u.%.*ss", s, n, digits);
    }
    if (h > 0) {
        ne_fmt(out, cap, "%uh%um%s", h, m, secs);
    } else if (m > 0) {
        ne_fmt(out, cap, "%um%s", m, secs);
    } else {
        ne_fmt(out, cap, "%s", secs);
    }
}

/* Seconds as Go prints a float64: "2", "0.5". */
static void go_seconds(uint32_t ms, char *out, size_t cap)
{
    if (ms % 1000u == 0) {
        ne_fmt(out, cap, "%u", (unsigned)(ms / 1000u));
        return;
    }
    char digits[4];
    ne_fmt(digits, sizeof(digits), "%03u", (unsigned)(ms % 1000u));
    int n = 3;
    while (n > 0 && digits[n - 1] == '0') {
        n--;
    }
    ne_fmt(out, cap, "%u.%.*s", (unsigned)(ms / 1000u), n, digits);
}

static int refuse(char *err, size_t cap, const char *field, const char *old_value,
                  const char *new_value)
{
    ne_fmt(err, cap, "config reload not supported for %s: old=%s, new=%s", field, old_value,
           new_value);
    return NE_ERR_UNSUPPORTED;
}

static int refuse_u64(char *err, size_t cap, const char *field, uint64_t old_value,
                      uint64_t new_value)
{
    char a[24], b[24];
    ne_fmt(a, sizeof(a), "%llu", (unsigned long long)old_value);
    ne_fmt(b, sizeof(b), "%llu", (unsigned long long)new_value);
    return refuse(err, cap, field, a, b);
}

static int refuse_duration(char *err, size_t cap, const char *field, uint32_t old_ms,
                           uint32_t new_ms)
{
    char a[32], b[32];
    go_duration(old_ms, a, sizeof(a));
    go_duration(new_ms, b, sizeof(b));
    return refuse(err, cap, field, a, b);
}

/* The options nats-server 2.9 cannot change at run time, by its field names.
 * `next` is the candidate: these are copied into it from `cur` where they are
 * equal in effect (a random port, a server name left to the id). */
static int check_fixed(const ne_server *srv, ne_server_options *next, char *err, size_t cap)
{
    const ne_server_options *cur = &srv->opts;
    if (strcmp(cur->host, next->host) != 0) {
        return refuse(err, cap, "Host", cur->host, next->host);
    }
    /* A random port (0) means the one in use, as in nats-server. */
    uint16_t in_use = cur->port != 0 ? cur->port : ne_server_client_port(srv);
    if (next->port != 0 && next->port != in_use) {
        return refuse_u64(err, cap, "Port", in_use, next->port);
    }
    next->port = cur->port;
    if (next->server_name[0] == '\0' && strcmp(cur->server_name, srv->conns.id.server_id) == 0) {
        memcpy(next->server_name, cur->server_name, sizeof(next->server_name));
    }
    if (strcmp(cur->server_name, next->server_name) != 0) {
        return refuse(err, cap, "ServerName", cur->server_name, next->server_name);
    }
    if (cur->max_pending != next->max_pending) {
        return refuse_u64(err, cap, "MaxPending", cur->max_pending, next->max_pending);
    }
    if (cur->max_subs != next->max_subs) {
        return refuse_u64(err, cap, "MaxSubs", cur->max_subs, next->max_subs);
    }
    if (cur->no_header_support != next->no_header_support) {
        return refuse(err, cap, "NoHeaderSupport", cur->no_header_support ? "true" : "false",
                      next->no_header_support ? "true" : "false");
    }
    if (cur->http_enabled != next->http_enabled || cur->http_port != next->http_port) {
        return refuse_u64(err, cap, "HTTPPort", cur->http_enabled ? cur->http_port : 0,
                          next->http_enabled ? next->http_port : 0);
    }
    if (strcmp(cur->http_host, next->http_host) != 0) {
        return refuse(err, cap, "HTTPHost", cur->http_host, next->http_host);
    }
    if (cur->js.sync_interval_ms != next->js.sync_interval_ms) {
        /* Read when the store opens (nats-server 2.10: "Requires Restart"). */
        char a[32], b[32];
        go_duration(cur->js.sync_interval_ms, a, sizeof(a));
        go_duration(next->js.sync_interval_ms, b, sizeof(b));
        return refuse(err, cap, "SyncInterval", cur->js.sync_interval_ms == 0 ? "always" : a,
                      next->js.sync_interval_ms == 0 ? "always" : b);
    }
    if (cur->lame_duck_duration_ms != next->lame_duck_duration_ms) {
        return refuse_duration(err, cap, "LameDuckDuration", cur->lame_duck_duration_ms,
                               next->lame_duck_duration_ms);
    }
    if (cur->lame_duck_grace_period_ms != next->lame_duck_grace_period_ms) {
        return refuse_duration(err, cap, "LameDuckGracePeriod", cur->lame_duck_grace_period_ms,
                               next->lame_duck_grace_period_ms);
    }
    /* Anything else that differs (options added since, e.g. TLS or leaf
     * nodes) is not reloadable until this file says how to apply it. */
    ne_server_options candidate = *next;
    candidate.auth_timeout_ms = cur->auth_timeout_ms;
    memcpy(candidate.auth_user, cur->auth_user, sizeof(candidate.auth_user));
    memcpy(candidate.auth_pass, cur->auth_pass, sizeof(candidate.auth_pass));
    memcpy(candidate.auth_token, cur->auth_token, sizeof(candidate.auth_token));
    memcpy(candidate.users, cur->users, sizeof(candidate.users));
    candidate.user_count = cur->user_count;
    candidate.max_connections = cur->max_connections;
    candidate.max_payload = cur->max_payload;
    candidate.max_control_line = cur->max_control_line;
    candidate.ping_interval_ms = cur->ping_interval_ms;
    candidate.ping_max = cur->ping_max;
    candidate.write_deadline_ms = cur->write_deadline_ms;
    candidate.default_perms = cur->default_perms;
    for (uint32_t i = 0; i < NE_MAX_ACCOUNTS; i++) {
        candidate.accounts[i].default_perms = cur->accounts[i].default_perms;
    }
    memcpy(candidate.perms, cur->perms, sizeof(candidate.perms));
    candidate.perm_count = cur->perm_count;
    memcpy(candidate.perm_subjects, cur->perm_subjects, sizeof(candidate.perm_subjects));
    candidate.perm_subject_count = cur->perm_subject_count;
    candidate.mqtt.ack_wait_ms = cur->mqtt.ack_wait_ms;
    candidate.mqtt.max_ack_pending = cur->mqtt.max_ack_pending;
    if (memcmp(&candidate, cur, sizeof(candidate)) != 0) {
        ne_fmt(err, cap,
               "config reload not supported for an option natsedge cannot change at run time "
               "(see docs/configuration.md)");
        return NE_ERR_UNSUPPORTED;
    }
    return NE_OK;
}

static bool users_equal(const ne_server_options *a, const ne_server_options *b, bool nkeys)
{
    uint32_t ia = 0, ib = 0;
    for (;;) {
        while (ia < a->user_count && (a->users[ia].nkey[0] != '\0') != nkeys) {
            ia++;
        }
        while (ib < b->user_count && (b->users[ib].nkey[0] != '\0') != nkeys) {
            ib++;
        }
        if (ia == a->user_count || ib == b->user_count) {
            return ia == a->user_count && ib == b->user_count;
        }
        if (memcmp(&a->users[ia], &b->users[ib], sizeof(ne_user_entry)) != 0) {
            return false;
        }
        ia++;
        ib++;
    }
}

/* Permissions: the sets, their subjects and the defaults. */
static bool perms_equal(const ne_server_options *a, const ne_server_options *b)
{
    if (a->default_perms != b->default_perms || a->perm_count != b->perm_count ||
        a->perm_subject_count != b->perm_subject_count ||
        memcmp(a->perms, b->perms, sizeof(a->perms)) != 0 ||
        memcmp(a->perm_subjects, b->perm_subjects, sizeof(a->perm_subjects)) != 0) {
        return false;
    }
    for (uint32_t i = 0; i < NE_MAX_ACCOUNTS; i++) {
        if (a->accounts[i].default_perms != b->accounts[i].default_perms) {
            return false;
        }
    }
    return true;
}

/* Logs each change the way nats-server does. */
static void log_changes(ne_server *srv, const ne_server_options *cur, const ne_server_options *next)
{
    ne_log *log = &srv->log;
    char v[32];
    if (strcmp(cur->auth_user, next->auth_user) != 0) {
        ne_log_info(log, "Reloaded: authorization username");
    }
    if (strcmp(cur->auth_pass, next->auth_pass) != 0) {
        ne_log_info(log, "Reloaded: authorization password");
    }
    if (strcmp(cur->auth_token, next->auth_token) != 0) {
        ne_log_info(log, "Reloaded: authorization token");
    }
    if (cur->auth_timeout_ms != next->auth_timeout_ms) {
        go_seconds(next->auth_timeout_ms, v, sizeof(v));
        ne_log_info(log, "Reloaded: authorization timeout = %s", v);
    }
    /* Permissions belong to users in nats-server's options. */
    if (!users_equal(cur, next, false) || !perms_equal(cur, next)) {
        ne_log_info(log, "Reloaded: authorization users");
    }
    if (!users_equal(cur, next, true)) {
        ne_log_info(log, "Reloaded: authorization nkey users");
    }
    if (cur->max_control_line != next->max_control_line) {
        ne_log_info(log, "Reloaded: max_control_line = %u", (unsigned)next->max_control_line);
    }
    if (cur->max_payload != next->max_payload) {
        ne_log_info(log, "Reloaded: max_payload = %u", (unsigned)next->max_payload);
    }
    if (cur->ping_interval_ms != next->ping_interval_ms) {
        go_duration(next->ping_interval_ms, v, sizeof(v));
        ne_log_info(log, "Reloaded: ping_interval = %s", v);
    }
    if (cur->ping_max != next->ping_max) {
        ne_log_info(log, "Reloaded: ping_max = %u", (unsigned)next->ping_max);
    }
    if (cur->write_deadline_ms != next->write_deadline_ms) {
        go_duration(next->write_deadline_ms, v, sizeof(v));
        ne_log_info(log, "Reloaded: write_deadline = %s", v);
    }
    if (cur->mqtt.ack_wait_ms != next->mqtt.ack_wait_ms) {
        go_duration(next->mqtt.ack_wait_ms, v, sizeof(v));
        ne_log_info(log, "Reloaded: MQTT ack_wait = %s", v);
    }
    if (cur->mqtt.max_ack_pending != next->mqtt.max_ack_pending) {
        ne_log_info(log, "Reloaded: MQTT max_ack_pending = %u",
                    (unsigned)next->mqtt.max_ack_pending);
    }
}

int ne_server_reload(ne_server *srv, const ne_server_options *opts, char *err, size_t err_cap)
{
    NE_ASSERT(srv != NULL && opts != NULL && err != NULL);
    int rc = ne_server_options_check(opts, err, err_cap);
    if (rc != NE_OK) {
        return rc;
    }
    ne_server_options next = *opts;
    rc = check_fixed(srv, &next, err, err_cap);
    if (rc != NE_OK) {
        return rc;
    }
    bool auth_changed = !users_equal(&srv->opts, &next, false) || !perms_equal(&srv->opts, &next) ||
                        !users_equal(&srv->opts, &next, true) ||
                        strcmp(srv->opts.auth_user, next.auth_user) != 0 ||
                        strcmp(srv->opts.auth_pass, next.auth_pass) != 0 ||
                        strcmp(srv->opts.auth_token, next.auth_token) != 0;
    bool conns_changed = srv->opts.max_connections != next.max_connections;
    log_changes(srv, &srv->opts, &next);
    if (conns_changed) {
        ne_log_info(&srv->log, "Reloaded: max_connections = %u", (unsigned)next.max_connections);
    }
    srv->opts = next;
    srv->conns.id.config_load_wall_ns = ne_port_wall_ns();
    if (auth_changed || conns_changed) {
        ne_nats_reloaded(&srv->nats, auth_changed);
    }
    if (auth_changed) {
        ne_leaf_auth_reloaded(&srv->leaf);
    }
    return NE_OK;
}
