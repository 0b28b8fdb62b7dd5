/* The cluster { } block, read as nats-server 2.9 reads it: name, listen,
 * host/net, port, routes, authorization { user, password, timeout },
 * cluster_advertise/advertise, no_advertise, connect_retries, tls { }. Its
 * refusals use nats-server's words (probed with nats-server -t). */
#include "route/ne_route_conf.h"

#if NE_FEATURE_ROUTES

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "core/ne_fmt.h"
#include "router/ne_authn.h"

typedef struct cluster_ctx {
    ne_conf *conf;
    ne_cluster_options *o;
    char *err;
    size_t err_cap;
    bool auth_timeout_set;
} cluster_ctx;

static int fail_conf(cluster_ctx *c)
{
    return ne_conf_fail(c->conf, c->err, c->err_cap);
}

static int fail_at(cluster_ctx *c, const ne_conf_node *node, int rc, const char *what)
{
    return ne_conf_fail_at(c->conf, node, c->err, c->err_cap, rc, what);
}

static int copy_string(cluster_ctx *c, ne_conf_node *node, char *dst, size_t cap, const char *knob)
{
    const char *text;
    size_t len;
    if (ne_conf_as_string(c->conf, node, &text, &len) != NE_OK) {
        return fail_conf(c);
    }
    if (len >= cap) {
        char what[128];
        ne_fmt(what, sizeof(what), "value is too long (at most %zu bytes%s%s)", cap - 1,
               knob != NULL ? ": raise " : "", knob != NULL ? knob : "");
        return fail_at(c, node, NE_ERR_RANGE, what);
    }
    memcpy(dst, text, len + 1);
    return NE_OK;
}

/* A port: -1 is any free port (our 0), 0 is no cluster (as nats-server,
 * which starts no route listener then). */
static int set_port(cluster_ctx *c, ne_conf_node *n, int64_t v)
{
    if (v < -1 || v > 65535) {
        return fail_at(c, n, NE_ERR_RANGE, "port out of range");
    }
    c->o->enabled = v != 0;
    c->o->listen_port = v < 0 ? 0 : (uint16_t)v;
    return NE_OK;
}

static int apply_listen(cluster_ctx *c, ne_conf_node *n)
{
    if (n->type == NE_CONF_INT) {
        int64_t v;
        if (ne_conf_as_int(c->conf, n, &v) != NE_OK) {
            return fail_conf(c);
        }
        return set_port(c, n, v);
    }
    const char *text;
    size_t len;
    if (ne_conf_as_string(c->conf, n, &text, &len) != NE_OK) {
        return fail_conf(c);
    }
    int rc = ne_route_apply_listen_url(text, c->o, c->err, c->err_cap);
    if (rc != NE_OK) {
        return fail_at(c, n, rc, "expected host:port");
    }
    return NE_OK;
}

static int add_route(cluster_ctx *c, ne_conf_node *item)
{
    const char *text;
    size_t len;
    if (ne_conf_as_string(c->conf, item, &text, &len) != NE_OK) {
        return fail_conf(c);
    }
    ne_cluster_options *o = c->o;
    for (uint32_t i = 0; i < o->route_count; i++) {
        if (strlen(o->routes[i]) == len && memcmp(o->routes[i], text, len) == 0) {
            char what[NE_ROUTE_URL_BYTES + 96];
            ne_fmt(what, sizeof(what),
                   "invalid use of field \"%s\": Duplicate route entry detected", text);
            return fail_at(c, item, NE_ERR_INVALID, what);
        }
    }
    if (o->route_count >= NE_ROUTE_MAX_URLS) {
        return fail_at(c, item, NE_ERR_RANGE, "too many routes: raise NE_ROUTE_MAX_URLS");
    }
    ne_route_url url;
    int rc = ne_route_parse_url(text, len, &url);
    if (rc != NE_OK) {
        char what[NE_ROUTE_URL_BYTES + 64];
        ne_fmt(what, sizeof(what), "route url \"%s\" is not valid (%s)", text, ne_err_name(rc));
        return fail_at(c, item, NE_ERR_INVALID, what);
    }
    return copy_string(c, item, o->routes[o->route_count++], NE_ROUTE_URL_BYTES,
                       "NE_ROUTE_URL_BYTES");
}

static int apply_routes(cluster_ctx *c, ne_conf_node *n)
{
    if (n->type != NE_CONF_ARRAY) {
        char what[96];
        ne_fmt(what, sizeof(what), "interface conversion: interface {} is %s, not []interface {}",
               n->type == NE_CONF_STRING ? "string" : ne_conf_type_name((ne_conf_type)n->type));
        return fail_at(c, n, NE_ERR_INVALID, what);
    }
    ne_conf_mark_used(n);
    for (ne_conf_node *it = ne_conf_first(c->conf, n); it != NULL; it = ne_conf_next(c->conf, it)) {
        int rc = add_route(c, it);
        if (rc != NE_OK) {
            return rc;
        }
    }
    return NE_OK;
}

/* authorization { user, password, timeout }: a single user, as in
 * nats-server (no token, no users list). */
static int apply_authorization(cluster_ctx *c, ne_conf_node *map)
{
    if (ne_conf_expect(c->conf, map, NE_CONF_MAP) != NE_OK) {
        return fail_conf(c);
    }
    ne_cluster_options *o = c->o;
    for (ne_conf_node *n = ne_conf_first(c->conf, map); n != NULL; n = ne_conf_next(c->conf, n)) {
        int rc = NE_OK;
        if (ne_conf_key_is(c->conf, n, "user") || ne_conf_key_is(c->conf, n, "username")) {
            rc = copy_string(c, n, o->auth_user, sizeof(o->auth_user), NULL);
        } else if (ne_conf_key_is(c->conf, n, "password") || ne_conf_key_is(c->conf, n, "pass")) {
            rc = copy_string(c, n, o->auth_pass, sizeof(o->auth_pass), NULL);
            char why[160];
            int src = rc == NE_OK
                          ? ne_authn_check_secret("password", o->auth_pass, why, sizeof(why))
                          : NE_OK;
            if (src != NE_OK) {
                return fail_at(c, n, src, why);
            }
        } else if (ne_conf_key_is(c->conf, n, "timeout")) {
            double seconds;
            if (ne_conf_as_float(c->conf, n, &seconds) != NE_OK) {
                return fail_conf(c);
            }
            if (seconds <= 0 || seconds > 3600) {
                return fail_at(c, n, NE_ERR_RANGE, "timeout out of range");
            }
            o->auth_timeout_ms = (uint32_t)(seconds * 1000);
            c->auth_timeout_set = true;
        } else if (ne_conf_key_is(c->conf, n, "token")) {
            return fail_at(c, map, NE_ERR_INVALID, "Cluster authorization does not support tokens");
        } else if (ne_conf_key_is(c->conf, n, "users") || ne_conf_key_is(c->conf, n, "nkeys")) {
            return fail_at(c, map, NE_ERR_INVALID,
                           "Cluster authorization does not allow multiple users");
        } else if (ne_conf_key_is(c->conf, n, "permissions")) {
            return fail_at(c, n, NE_ERR_UNSUPPORTED,
                           "cluster permissions are not supported yet in natsedge (see "
                           "differences.md)");
        } else {
            return ne_conf_unknown_field(c->conf, n) == NE_OK ? NE_OK : fail_conf(c);
        }
        if (rc != NE_OK) {
            return rc;
        }
    }
    return NE_OK;
}

/* tls { cert_file, key_file, ca_file, verify, timeout }: routes are TLS
 * from their first byte and verify each other's certificates. */
static int apply_tls(cluster_ctx *c, ne_conf_node *map)
{
    if (ne_conf_expect(c->conf, map, NE_CONF_MAP) != NE_OK) {
        return fail_conf(c);
    }
    ne_cluster_options *o = c->o;
    o->tls = true;
    for (ne_conf_node *n = ne_conf_first(c->conf, map); n != NULL; n = ne_conf_next(c->conf, n)) {
        int rc = NE_OK;
        if (ne_conf_key_is(c->conf, n, "cert_file")) {
            rc = copy_string(c, n, o->tls_cert_file, sizeof(o->tls_cert_file), "NE_TLS_PATH_BYTES");
        } else if (ne_conf_key_is(c->conf, n, "key_file")) {
            rc = copy_string(c, n, o->tls_key_file, sizeof(o->tls_key_file), "NE_TLS_PATH_BYTES");
        } else if (ne_conf_key_is(c->conf, n, "ca_file")) {
            rc = copy_string(c, n, o->tls_ca_file, sizeof(o->tls_ca_file), "NE_TLS_PATH_BYTES");
        } else if (ne_conf_key_is(c->conf, n, "verify")) {
            ne_conf_mark_used(n); /* routes always verify each other */
        } else if (ne_conf_key_is(c->conf, n, "timeout")) {
            double seconds;
            if (ne_conf_as_float(c->conf, n, &seconds) != NE_OK) {
                return fail_conf(c);
            }
            if (seconds <= 0 || seconds > 3600) {
                return fail_at(c, n, NE_ERR_RANGE, "timeout out of range");
            }
            o->tls_timeout_ms = (uint32_t)(seconds * 1000);
        } else if (ne_conf_key_is(c->conf, n, "insecure") ||
                   ne_conf_key_is(c->conf, n, "verify_and_map") ||
                   ne_conf_key_is(c->conf, n, "pinned_certs") ||
                   ne_conf_key_is(c->conf, n, "cipher_suites") ||
                   ne_conf_key_is(c->conf, n, "curve_preferences")) {
            char what[128];
            ne_fmt(what, sizeof(what), "cluster tls \"%.*s\" is not supported in natsedge",
                   (int)ne_conf_key_len(n), ne_conf_key(c->conf, n));
            return fail_at(c, n, NE_ERR_UNSUPPORTED, what);
        } else {
            return ne_conf_unknown_field(c->conf, n) == NE_OK ? NE_OK : fail_conf(c);
        }
        if (rc != NE_OK) {
            return rc;
        }
    }
    return NE_OK;
}

static int apply_key(cluster_ctx *c, ne_conf_node *n)
{
    ne_cluster_options *o = c->o;
    if (ne_conf_key_is(c->conf, n, "name")) {
        return copy_string(c, n, o->name, sizeof(o->name), NULL);
    }
    if (ne_conf_key_is(c->conf, n, "listen")) {
        return apply_listen(c, n);
    }
    if (ne_conf_key_is(c->conf, n, "port")) {
        int64_t v;
        if (ne_conf_as_int(c->conf, n, &v) != NE_OK) {
            return fail_conf(c);
        }
        return set_port(c, n, v);
    }
    if (ne_conf_key_is(c->conf, n, "host") || ne_conf_key_is(c->conf, n, "net")) {
        return copy_string(c, n, o->listen_host, sizeof(o->listen_host), NULL);
    }
    if (ne_conf_key_is(c->conf, n, "routes")) {
        return apply_routes(c, n);
    }
    if (ne_conf_key_is(c->conf, n, "authorization")) {
        return apply_authorization(c, n);
    }
    if (ne_conf_key_is(c->conf, n, "tls")) {
        return apply_tls(c, n);
    }
    if (ne_conf_key_is(c->conf, n, "cluster_advertise") ||
        ne_conf_key_is(c->conf, n, "advertise")) {
        return copy_string(c, n, o->advertise, sizeof(o->advertise), NULL);
    }
    if (ne_conf_key_is(c->conf, n, "no_advertise")) {
        return ne_conf_as_bool(c->conf, n, &o->no_advertise) == NE_OK ? NE_OK : fail_conf(c);
    }
    if (ne_conf_key_is(c->conf, n, "connect_retries")) {
        int64_t v;
        if (ne_conf_as_int(c->conf, n, &v) != NE_OK) {
            return fail_conf(c);
        }
        o->connect_retries = v < 0 ? 0u : (uint32_t)NE_MIN(v, (int64_t)1000000);
        return NE_OK;
    }
    if (ne_conf_key_is(c->conf, n, "permissions")) {
        return fail_at(c, n, NE_ERR_UNSUPPORTED,
                       "cluster permissions are not supported yet in natsedge (see "
                       "differences.md)");
    }
    return ne_conf_unknown_field(c->conf, n) == NE_OK ? NE_OK : fail_conf(c);
}

int ne_route_apply_conf(ne_conf *conf, ne_conf_node *map, ne_cluster_options *o, char *err,
                        size_t err_cap)
{
    cluster_ctx c = {conf, o, err, err_cap, false};
    if (map->type != NE_CONF_MAP) {
        char what[96];
        ne_fmt(what, sizeof(what), "Expected map to define cluster, got %s",
               ne_conf_type_name((ne_conf_type)map->type));
        return fail_at(&c, map, NE_ERR_INVALID, what);
    }
    ne_conf_mark_used(map);
    for (ne_conf_node *n = ne_conf_first(conf, map); n != NULL; n = ne_conf_next(conf, n)) {
        int rc = apply_key(&c, n);
        if (rc != NE_OK) {
            return rc;
        }
    }
    /* nats-server's default authorization timeout of TLS routes: the TLS
     * timeout and a second. */
    if (o->tls && !c.auth_timeout_set) {
        o->auth_timeout_ms = o->tls_timeout_ms + 1000;
    }
    return NE_OK;
}

int ne_route_apply_routes_flag(const char *value, ne_cluster_options *o, char *err, size_t err_cap)
{
    size_t len = strlen(value);
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && value[i] != ',') {
            continue;
        }
        size_t a = start, b = i;
        start = i + 1;
        while (a < b && value[a] == ' ') {
            a++;
        }
        while (b > a && value[b - 1] == ' ') {
            b--;
        }
        if (a == b) {
            continue;
        }
        ne_route_url url;
        int rc = ne_route_parse_url(value + a, b - a, &url);
        if (rc != NE_OK) {
            ne_fmt(err, err_cap, "route url \"%.*s\" is not valid (%s)", (int)(b - a), value + a,
                   ne_err_name(rc));
            return NE_ERR_INVALID;
        }
        if (o->route_count >= NE_ROUTE_MAX_URLS) {
            ne_fmt(err, err_cap, "too many routes: raise NE_ROUTE_MAX_URLS");
            return NE_ERR_RANGE;
        }
        if (b - a >= NE_ROUTE_URL_BYTES) {
            ne_fmt(err, err_cap, "route url too long: raise NE_ROUTE_URL_BYTES");
            return NE_ERR_RANGE;
        }
        memcpy(o->routes[o->route_count], value + a, b - a);
        o->routes[o->route_count][b - a] = '\0';
        o->route_count++;
    }
    return NE_OK;
}

int ne_route_apply_listen_url(const char *value, ne_cluster_options *o, char *err, size_t err_cap)
{
    const char *p = value;
    const char *sep = strstr(value, "://");
    if (sep != NULL) {
        p = sep + 3;
    }
    size_t len = strlen(p);
    while (len > 0 && p[len - 1] == '/') {
        len--;
    }
    /* The last ':' separates the port; "-1" is any free port. */
    size_t colon = len;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == ':') {
            colon = i;
        }
    }
    if (colon < len && len - colon == 3 && p[colon + 1] == '-' && p[colon + 2] == '1') {
        if (colon >= sizeof(o->listen_host)) {
            ne_fmt(err, err_cap, "cluster host is too long");
            return NE_ERR_RANGE;
        }
        memcpy(o->listen_host, p, colon);
        o->listen_host[colon] = '\0';
        o->enabled = true;
        o->listen_port = 0;
        return NE_OK;
    }
    uint16_t port = 0;
    int rc = ne_parse_hostport(p, len, o->listen_host, sizeof(o->listen_host), &port);
    if (rc != NE_OK) {
        ne_fmt(err, err_cap, "cluster listen address \"%s\" is not host:port", value);
        return rc;
    }
    o->enabled = port != 0;
    o->listen_port = port;
    return NE_OK;
}

#endif /* NE_FEATURE_ROUTES */
