/* The mqtt { } block (ne_mqtt_conf.h). */
#include "mqtt/ne_mqtt_conf.h"

#include <string.h>

#include "core/ne_error.h"
#include "core/ne_fmt.h"

typedef struct mqtt_ctx {
    ne_conf *conf;
    ne_mqtt_options *o;
    char *err;
    size_t err_cap;
    int64_t port; /* as given: 0 none, -1 any */
} mqtt_ctx;

static int fail_conf(mqtt_ctx *c)
{
    return ne_conf_fail(c->conf, c->err, c->err_cap);
}

static int fail_at(mqtt_ctx *c, const ne_conf_node *node, int rc, const char *what)
{
    return ne_conf_fail_at(c->conf, node, c->err, c->err_cap, rc, what);
}

static int copy_string(mqtt_ctx *c, ne_conf_node *node, char *dst, size_t cap)
{
    const char *text;
    size_t len;
    if (ne_conf_as_string(c->conf, node, &text, &len) != NE_OK) {
        return fail_conf(c);
    }
    if (len >= cap) {
        return fail_at(c, node, NE_ERR_RANGE, "value is too long");
    }
    memcpy(dst, text, len + 1);
    return NE_OK;
}

static int apply_port(mqtt_ctx *c, ne_conf_node *n)
{
    int64_t v;
    if (ne_conf_as_int(c->conf, n, &v) != NE_OK) {
        return fail_conf(c);
    }
    if (v < -1 || v > 65535) {
        return fail_at(c, n, NE_ERR_RANGE, "port out of range");
    }
    c->port = v;
    return NE_OK;
}

static int apply_listen(mqtt_ctx *c, ne_conf_node *n)
{
    if (n->type == NE_CONF_INT) {
        return apply_port(c, n);
    }
    const char *text;
    size_t len;
    if (ne_conf_as_string(c->conf, n, &text, &len) != NE_OK) {
        return fail_conf(c);
    }
    uint16_t port = 0;
    int rc = ne_parse_hostport(text, len, c->o->host, sizeof(c->o->host), &port);
    if (rc != NE_OK) {
        return fail_at(c, n, rc, rc == NE_ERR_RANGE ? "host is too long" : "expected host:port");
    }
    c->port = port;
    return NE_OK;
}

/* authorization { user, password, token, timeout } (nats-server's
 * parseSimpleAuth: nothing else). */
static int apply_authorization(mqtt_ctx *c, ne_conf_node *map)
{
    ne_mqtt_options *o = c->o;
    if (ne_conf_expect(c->conf, map, NE_CONF_MAP) != NE_OK) {
        return fail_conf(c);
    }
    for (ne_conf_node *n = ne_conf_first(c->conf, map); n != NULL; n = ne_conf_next(c->conf, n)) {
        int rc = NE_OK;
        if (ne_conf_key_is(c->conf, n, "user") || ne_conf_key_is(c->conf, n, "username")) {
            rc = copy_string(c, n, o->auth_user, sizeof(o->auth_user));
        } else if (ne_conf_key_is(c->conf, n, "pass") || ne_conf_key_is(c->conf, n, "password")) {
            rc = copy_string(c, n, o->auth_pass, sizeof(o->auth_pass));
        } else if (ne_conf_key_is(c->conf, n, "token")) {
            rc = copy_string(c, n, o->auth_token, sizeof(o->auth_token));
        } else if (ne_conf_key_is(c->conf, n, "timeout")) {
            double seconds;
            if (ne_conf_as_float(c->conf, n, &seconds) != NE_OK) {
                return fail_conf(c);
            }
            if (seconds <= 0 || seconds > 3600) {
                return fail_at(c, n, NE_ERR_RANGE, "timeout out of range");
            }
            o->auth_timeout_ms = (uint32_t)(seconds * 1000.0);
        } else {
            return ne_conf_unknown_field(c->conf, n) == NE_OK ? NE_OK : fail_conf(c);
        }
        if (rc != NE_OK) {
            return rc;
        }
    }
    return NE_OK;
}

/* tls { cert_file, key_file, ca_file, verify, timeout } (nats-server's
 * keys; the ones natsedge's engine does not have are refused by name). */
static int apply_tls(mqtt_ctx *c, ne_conf_node *map)
{
    ne_mqtt_options *o = c->o;
    if (ne_conf_expect(c->conf, map, NE_CONF_MAP) != NE_OK) {
        return fail_conf(c);
    }
    o->tls = true;
    for (ne_conf_node *n = ne_conf_first(c->conf, map); n != NULL; n = ne_conf_next(c->conf, n)) {
        int rc = NE_OK;
        if (ne_conf_key_is(c->conf, n, "cert_file")) {
            rc = copy_string(c, n, o->tls_cert_file, sizeof(o->tls_cert_file));
        } else if (ne_conf_key_is(c->conf, n, "key_file")) {
            rc = copy_string(c, n, o->tls_key_file, sizeof(o->tls_key_file));
        } else if (ne_conf_key_is(c->conf, n, "ca_file")) {
            rc = copy_string(c, n, o->tls_ca_file, sizeof(o->tls_ca_file));
        } else if (ne_conf_key_is(c->conf, n, "verify")) {
            if (ne_conf_as_bool(c->conf, n, &o->tls_verify) != NE_OK) {
                return fail_conf(c);
            }
        } else if (ne_conf_key_is(c->conf, n, "timeout")) {
            double seconds;
            if (ne_conf_as_float(c->conf, n, &seconds) != NE_OK) {
                return fail_conf(c);
            }
            if (seconds <= 0 || seconds > 3600) {
                return fail_at(c, n, NE_ERR_RANGE, "timeout out of range");
            }
            o->tls_timeout_ms = (uint32_t)(seconds * 1000.0);
        } else if (ne_conf_key_is(c->conf, n, "insecure") ||
                   ne_conf_key_is(c->conf, n, "verify_and_map") ||
                   ne_conf_key_is(c->conf, n, "pinned_certs") ||
                   ne_conf_key_is(c->conf, n, "cipher_suites") ||
                   ne_conf_key_is(c->conf, n, "curve_preferences")) {
            char what[128];
            ne_fmt(what, sizeof(what), "mqtt tls \"%.*s\" is not supported in natsedge",
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

static int apply_key(mqtt_ctx *c, ne_conf_node *n)
{
    ne_mqtt_options *o = c->o;
    ne_conf *conf = c->conf;
    if (ne_conf_key_is(conf, n, "listen")) {
        return apply_listen(c, n);
    }
    if (ne_conf_key_is(conf, n, "port")) {
        return apply_port(c, n);
    }
    if (ne_conf_key_is(conf, n, "host") || ne_conf_key_is(conf, n, "net")) {
        return copy_string(c, n, o->host, sizeof(o->host));
    }
    if (ne_conf_key_is(conf, n, "authorization") || ne_conf_key_is(conf, n, "authentication")) {
        return apply_authorization(c, n);
    }
    if (ne_conf_key_is(conf, n, "no_auth_user")) {
        return copy_string(c, n, o->no_auth_user, sizeof(o->no_auth_user));
    }
    if (ne_conf_key_is(conf, n, "ack_wait") || ne_conf_key_is(conf, n, "ackwait")) {
        int64_t ms;
        if (ne_conf_duration_ms(conf, n, &ms) != NE_OK) {
            return fail_conf(c);
        }
        if (ms < 0 || ms > 0x7fffffff) {
            return fail_at(c, n, NE_ERR_RANGE, "ack_wait out of range");
        }
        o->ack_wait_ms = (uint32_t)ms;
        return NE_OK;
    }
    if (ne_conf_key_is(conf, n, "max_ack_pending") || ne_conf_key_is(conf, n, "max_pending") ||
        ne_conf_key_is(conf, n, "max_inflight")) {
        int64_t v;
        if (ne_conf_as_int(conf, n, &v) != NE_OK) {
            return fail_conf(c);
        }
        if (v < 0 || v > 0xffff) {
            char what[80];
            ne_fmt(what, sizeof(what), "invalid value %lld, should in [0..%d] range", (long long)v,
                   0xffff);
            return fail_at(c, n, NE_ERR_RANGE, what);
        }
        o->max_ack_pending = (uint32_t)v;
        return NE_OK;
    }
    if (ne_conf_key_is(conf, n, "tls")) {
        return apply_tls(c, n);
    }
    if (ne_conf_key_is(conf, n, "js_domain") || ne_conf_key_is(conf, n, "stream_replicas") ||
        ne_conf_key_is(conf, n, "consumer_replicas") ||
        ne_conf_key_is(conf, n, "consumer_memory_storage") ||
        ne_conf_key_is(conf, n, "consumer_inactive_threshold") ||
        ne_conf_key_is(conf, n, "consumer_auto_cleanup")) {
        ne_conf_mark_used(n); /* nats-server's JetStream layout: natsedge has none */
        return NE_OK;
    }
    return ne_conf_unknown_field(conf, n) == NE_OK ? NE_OK : fail_conf(c);
}

int ne_mqtt_apply_conf(ne_conf *conf, ne_conf_node *map, ne_mqtt_options *o, char *err,
                       size_t err_cap)
{
    mqtt_ctx c = {conf, o, err, err_cap, 0};
    if (ne_conf_expect(conf, map, NE_CONF_MAP) != NE_OK) {
        return fail_conf(&c);
    }
    for (ne_conf_node *n = ne_conf_first(conf, map); n != NULL; n = ne_conf_next(conf, n)) {
        int rc = apply_key(&c, n);
        if (rc != NE_OK) {
            return rc;
        }
    }
    /* As nats-server: MQTT is served once a port is given. */
    o->enabled = c.port != 0;
    o->port = c.port > 0 ? (uint16_t)c.port : 0;
    return NE_OK;
}

int ne_mqtt_options_check(const ne_server_options *o, char *err, size_t err_cap)
{
    const ne_mqtt_options *mo = &o->mqtt;
    if (!mo->enabled) {
        return NE_OK;
    }
    if (mo->no_auth_user[0] != '\0') {
        bool found = false;
        for (uint32_t i = 0; i < o->user_count && !found; i++) {
            found = strcmp(o->users[i].user, mo->no_auth_user) == 0;
        }
        if (!found) {
            ne_fmt(err, err_cap,
                   "no_auth_user: \"%s\" not present as user or nkey in authorization block or "
                   "account configuration",
                   mo->no_auth_user);
            return NE_ERR_INVALID;
        }
    }
    if (mo->tls && (mo->tls_cert_file[0] == '\0' || mo->tls_key_file[0] == '\0')) {
        ne_fmt(err, err_cap, "mqtt tls needs cert_file and key_file");
        return NE_ERR_INVALID;
    }
    if (mo->tls && mo->tls_verify && mo->tls_ca_file[0] == '\0') {
        ne_fmt(err, err_cap, "mqtt tls verify needs ca_file (there is no system trust store)");
        return NE_ERR_INVALID;
    }
    if (o->user_count > 0 && mo->auth_user[0] != '\0') {
        ne_fmt(err, err_cap,
               "mqtt authentication username not compatible with presence of "
               "users/nkeys");
        return NE_ERR_INVALID;
    }
    if (o->user_count > 0 && mo->auth_token[0] != '\0') {
        ne_fmt(err, err_cap,
               "mqtt authentication token not compatible with presence of "
               "users/nkeys");
        return NE_ERR_INVALID;
    }
    return NE_OK;
}
