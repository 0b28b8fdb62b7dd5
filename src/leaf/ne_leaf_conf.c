/* The leafnodes { } block of a configuration file, read as nats-server 2.9
 * reads it: remotes (url/urls, account/local, credentials/creds, hub,
 * deny_imports, deny_exports, no_randomize, tls), reconnect, and the hub
 * role's listen/host/port and authorization. */
#include "leaf/ne_leaf_conf.h"

#include <string.h>

#include "core/ne_error.h"
#include "core/ne_fmt.h"
#include "router/ne_authn.h"

typedef struct leaf_ctx {
    ne_conf *conf;
    ne_leaf_options *o;
    char *err;
    size_t err_cap;
} leaf_ctx;

static int fail_conf(leaf_ctx *c)
{
    return ne_conf_fail(c->conf, c->err, c->err_cap);
}

static int fail_at(leaf_ctx *c, const ne_conf_node *node, int rc, const char *what)
{
    return ne_conf_fail_at(c->conf, node, c->err, c->err_cap, rc, what);
}

static int copy_string(leaf_ctx *c, ne_conf_node *node, char *dst, size_t cap, const char *knob)
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

/* A string or an array of strings into a fixed list. */
static int string_list(leaf_ctx *c, ne_conf_node *node, char (*list)[NE_LEAF_URL_BYTES],
                       uint32_t max, uint32_t *count)
{
    if (node->type == NE_CONF_STRING) {
        if (*count >= max) {
            return fail_at(c, node, NE_ERR_RANGE, "too many urls: raise NE_LEAF_MAX_URLS");
        }
        return copy_string(c, node, list[(*count)++], NE_LEAF_URL_BYTES, "NE_LEAF_URL_BYTES");
    }
    if (ne_conf_expect(c->conf, node, NE_CONF_ARRAY) != NE_OK) {
        return fail_conf(c);
    }
    for (ne_conf_node *it = ne_conf_first(c->conf, node); it != NULL;
         it = ne_conf_next(c->conf, it)) {
        if (*count >= max) {
            return fail_at(c, it, NE_ERR_RANGE, "too many urls: raise NE_LEAF_MAX_URLS");
        }
        int rc = copy_string(c, it, list[(*count)++], NE_LEAF_URL_BYTES, "NE_LEAF_URL_BYTES");
        if (rc != NE_OK) {
            return rc;
        }
    }
    return NE_OK;
}

static int subject_list(leaf_ctx *c, ne_conf_node *node, char (*list)[NE_SUB_TEXT_BYTES],
                        uint32_t *count)
{
    if (node->type == NE_CONF_STRING) {
        if (*count >= NE_LEAF_MAX_DENY) {
            return fail_at(c, node, NE_ERR_RANGE, "too many subjects: raise NE_LEAF_MAX_DENY");
        }
        return copy_string(c, node, list[(*count)++], NE_SUB_TEXT_BYTES, "NE_SUB_TEXT_BYTES");
    }
    if (ne_conf_expect(c->conf, node, NE_CONF_ARRAY) != NE_OK) {
        return fail_conf(c);
    }
    for (ne_conf_node *it = ne_conf_first(c->conf, node); it != NULL;
         it = ne_conf_next(c->conf, it)) {
        if (*count >= NE_LEAF_MAX_DENY) {
            return fail_at(c, it, NE_ERR_RANGE, "too many subjects: raise NE_LEAF_MAX_DENY");
        }
        int rc = copy_string(c, it, list[(*count)++], NE_SUB_TEXT_BYTES, "NE_SUB_TEXT_BYTES");
        if (rc != NE_OK) {
            return rc;
        }
    }
    return NE_OK;
}

/* Reads a credentials file through the parser's file access. */
static int load_creds(leaf_ctx *c, ne_conf_node *node, ne_leaf_remote_options *ro)
{
    const char *path;
    if (ne_conf_as_string(c->conf, node, &path, NULL) != NE_OK) {
        return fail_conf(c);
    }
    if (c->conf->io == NULL || c->conf->io->load == NULL) {
        return fail_at(c, node, NE_ERR_UNSUPPORTED, "credentials files cannot be read here");
    }
    /* Read into the parse's unused arena, not onto the stack (a small
     * board reads its configuration with little stack to spare). */
    size_t cap = 0;
    char *buf = ne_conf_scratch(c->conf, &cap);
    size_t len = 0;
    int rc = c->conf->io->load(c->conf->io->ctx, path, buf, cap, &len);
    if (rc == NE_ERR_NOT_FOUND) {
        /* nats-server reads the file when it connects: a configuration
         * naming one that is not there yet passes its -t. */
        ro->creds_missing = true;
        return copy_string(c, node, ro->creds_file, sizeof(ro->creds_file), "NE_TLS_PATH_BYTES");
    }
    if (rc != NE_OK) {
        char what[NE_LEAF_URL_BYTES + 64];
        ne_fmt(what, sizeof(what), "cannot read credentials file \"%s\" (%s)", path,
               ne_err_name(rc));
        return fail_at(c, node, rc, what);
    }
    rc = ne_leaf_parse_creds(buf, len, ro->jwt, sizeof(ro->jwt), ro->seed, sizeof(ro->seed));
    memset(buf, 0, len); /* the seed does not stay in memory */
    if (rc != NE_OK) {
        char what[NE_LEAF_URL_BYTES + 96];
        ne_fmt(what, sizeof(what), "credentials file \"%s\" %s", path,
               rc == NE_ERR_TOO_BIG ? "holds a JWT above NE_LEAF_JWT_BYTES"
                                    : "needs a user JWT and a user seed (SU...)");
        return fail_at(c, node, rc, what);
    }
    return NE_OK;
}

/* tls { ca_file, cert_file, key_file, verify, timeout } of a remote. */
static int apply_remote_tls(leaf_ctx *c, ne_conf_node *map, ne_leaf_remote_options *ro)
{
    if (ne_conf_expect(c->conf, map, NE_CONF_MAP) != NE_OK) {
        return fail_conf(c);
    }
    ro->tls = true;
    for (ne_conf_node *n = ne_conf_first(c->conf, map); n != NULL; n = ne_conf_next(c->conf, n)) {
        int rc = NE_OK;
        if (ne_conf_key_is(c->conf, n, "ca_file")) {
            rc = copy_string(c, n, ro->tls_ca_file, sizeof(ro->tls_ca_file), "NE_TLS_PATH_BYTES");
        } else if (ne_conf_key_is(c->conf, n, "cert_file")) {
            rc = copy_string(c, n, ro->tls_cert_file, sizeof(ro->tls_cert_file),
                             "NE_TLS_PATH_BYTES");
        } else if (ne_conf_key_is(c->conf, n, "key_file")) {
            rc = copy_string(c, n, ro->tls_key_file, sizeof(ro->tls_key_file), "NE_TLS_PATH_BYTES");
        } else if (ne_conf_key_is(c->conf, n, "verify") || ne_conf_key_is(c->conf, n, "timeout")) {
            ne_conf_mark_used(n); /* a client always verifies the hub; one deadline */
        } else if (ne_conf_key_is(c->conf, n, "insecure")) {
            rc = ne_conf_reject(c->conf, n,
                                "tls \"%s\" is not supported in natsedge: the hub's "
                                "certificate is always verified (see differences.md)");
        } else {
            rc = ne_conf_reject(c->conf, n, NULL);
        }
        if (rc != NE_OK) {
            return rc;
        }
    }
    return NE_OK;
}

static int apply_remote(leaf_ctx *c, ne_conf_node *map)
{
    if (ne_conf_expect(c->conf, map, NE_CONF_MAP) != NE_OK) {
        return fail_conf(c);
    }
    if (c->o->remote_count >= NE_MAX_LEAF_REMOTES) {
        return fail_at(c, map, NE_ERR_RANGE, "too many remotes: raise NE_MAX_LEAF_REMOTES");
    }
    ne_leaf_remote_options *ro = &c->o->remotes[c->o->remote_count++];
    memset(ro, 0, sizeof(*ro));
    for (ne_conf_node *n = ne_conf_first(c->conf, map); n != NULL; n = ne_conf_next(c->conf, n)) {
        int rc = NE_OK;
        if (ne_conf_key_is(c->conf, n, "url") || ne_conf_key_is(c->conf, n, "urls")) {
            rc = string_list(c, n, ro->urls, NE_LEAF_MAX_URLS, &ro->url_count);
        } else if (ne_conf_key_is(c->conf, n, "account") || ne_conf_key_is(c->conf, n, "local")) {
            rc = copy_string(c, n, ro->account, sizeof(ro->account), NULL);
        } else if (ne_conf_key_is(c->conf, n, "credentials") ||
                   ne_conf_key_is(c->conf, n, "creds")) {
            rc = load_creds(c, n, ro);
        } else if (ne_conf_key_is(c->conf, n, "deny_imports") ||
                   ne_conf_key_is(c->conf, n, "deny_import")) {
            rc = subject_list(c, n, ro->deny_imports, &ro->deny_import_count);
        } else if (ne_conf_key_is(c->conf, n, "deny_exports") ||
                   ne_conf_key_is(c->conf, n, "deny_export")) {
            rc = subject_list(c, n, ro->deny_exports, &ro->deny_export_count);
        } else if (ne_conf_key_is(c->conf, n, "hub")) {
            rc = ne_conf_as_bool(c->conf, n, &ro->hub) == NE_OK ? NE_OK : fail_conf(c);
        } else if (ne_conf_key_is(c->conf, n, "no_randomize") ||
                   ne_conf_key_is(c->conf, n, "dont_randomize")) {
            rc = ne_conf_as_bool(c->conf, n, &ro->no_randomize) == NE_OK ? NE_OK : fail_conf(c);
        } else if (ne_conf_key_is(c->conf, n, "tls")) {
            rc = apply_remote_tls(c, n, ro);
        } else {
            rc = ne_conf_reject(c->conf, n, NULL);
        }
        if (rc != NE_OK) {
            return rc;
        }
    }
    return NE_OK;
}

/* users: [ { user, password, account } ] of accepted leafs. */
static int apply_users(leaf_ctx *c, ne_conf_node *list)
{
    if (ne_conf_expect(c->conf, list, NE_CONF_ARRAY) != NE_OK) {
        return fail_conf(c);
    }
    for (ne_conf_node *item = ne_conf_first(c->conf, list); item != NULL;
         item = ne_conf_next(c->conf, item)) {
        if (c->o->user_count >= NE_MAX_USERS) {
            return fail_at(c, item, NE_ERR_RANGE, "too many leafnode users: raise NE_MAX_USERS");
        }
        if (ne_conf_expect(c->conf, item, NE_CONF_MAP) != NE_OK) {
            return fail_conf(c);
        }
        ne_leaf_user *u = &c->o->users[c->o->user_count];
        memset(u, 0, sizeof(*u));
        for (ne_conf_node *f = ne_conf_first(c->conf, item); f != NULL;
             f = ne_conf_next(c->conf, f)) {
            int rc;
            if (ne_conf_key_is(c->conf, f, "user") || ne_conf_key_is(c->conf, f, "username")) {
                rc = copy_string(c, f, u->user, sizeof(u->user), NULL);
            } else if (ne_conf_key_is(c->conf, f, "password") ||
                       ne_conf_key_is(c->conf, f, "pass")) {
                rc = copy_string(c, f, u->pass, sizeof(u->pass), NULL);
            } else if (ne_conf_key_is(c->conf, f, "account")) {
                rc = copy_string(c, f, u->account, sizeof(u->account), NULL);
            } else {
                rc = ne_conf_reject(c->conf, f, NULL);
            }
            if (rc != NE_OK) {
                return rc;
            }
        }
        if (u->user[0] == '\0') {
            return fail_at(c, item, NE_ERR_INVALID, "a leafnode user needs user and password");
        }
        char why[160];
        int src = ne_authn_check_secret("password", u->pass, why, sizeof(why));
        if (src != NE_OK) {
            return fail_at(c, item, src, why);
        }
        c->o->user_count++;
    }
    return NE_OK;
}

static int apply_authorization(leaf_ctx *c, ne_conf_node *map)
{
    if (ne_conf_expect(c->conf, map, NE_CONF_MAP) != NE_OK) {
        return fail_conf(c);
    }
    for (ne_conf_node *n = ne_conf_first(c->conf, map); n != NULL; n = ne_conf_next(c->conf, n)) {
        int rc;
        if (ne_conf_key_is(c->conf, n, "user") || ne_conf_key_is(c->conf, n, "username")) {
            rc = copy_string(c, n, c->o->auth_user, sizeof(c->o->auth_user), NULL);
        } else if (ne_conf_key_is(c->conf, n, "password") || ne_conf_key_is(c->conf, n, "pass")) {
            rc = copy_string(c, n, c->o->auth_pass, sizeof(c->o->auth_pass), NULL);
            char why[160];
            int src = rc == NE_OK
                          ? ne_authn_check_secret("password", c->o->auth_pass, why, sizeof(why))
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
            c->o->auth_timeout_ms = (uint32_t)(seconds * 1000);
            rc = NE_OK;
        } else if (ne_conf_key_is(c->conf, n, "account")) {
            rc = copy_string(c, n, c->o->auth_account, sizeof(c->o->auth_account), NULL);
        } else if (ne_conf_key_is(c->conf, n, "users")) {
            rc = apply_users(c, n);
        } else {
            rc = ne_conf_reject(c->conf, n, NULL);
        }
        if (rc != NE_OK) {
            return rc;
        }
    }
    return NE_OK;
}

static int apply_listen(leaf_ctx *c, ne_conf_node *n)
{
    ne_leaf_options *o = c->o;
    o->listen_enabled = true;
    if (n->type == NE_CONF_INT) {
        int64_t v;
        if (ne_conf_as_int(c->conf, n, &v) != NE_OK || v < 0 || v > 65535) {
            return fail_at(c, n, NE_ERR_RANGE, "port out of range");
        }
        o->listen_port = (uint16_t)v;
        return NE_OK;
    }
    const char *text;
    size_t len;
    if (ne_conf_as_string(c->conf, n, &text, &len) != NE_OK) {
        return fail_conf(c);
    }
    int rc = ne_parse_hostport(text, len, o->listen_host, sizeof(o->listen_host), &o->listen_port);
    if (rc != NE_OK) {
        return fail_at(c, n, rc, rc == NE_ERR_RANGE ? "host is too long" : "expected host:port");
    }
    return NE_OK;
}

int ne_leaf_apply_conf(ne_conf *conf, ne_conf_node *map, ne_leaf_options *o, char *err,
                       size_t err_cap)
{
    leaf_ctx c = {conf, o, err, err_cap};
    if (ne_conf_expect(conf, map, NE_CONF_MAP) != NE_OK) {
        return fail_conf(&c);
    }
    for (ne_conf_node *n = ne_conf_first(conf, map); n != NULL; n = ne_conf_next(conf, n)) {
        int rc = NE_OK;
        if (ne_conf_key_is(conf, n, "remotes")) {
            if (ne_conf_expect(conf, n, NE_CONF_ARRAY) != NE_OK) {
                return fail_conf(&c);
            }
            for (ne_conf_node *r = ne_conf_first(conf, n); r != NULL && rc == NE_OK;
                 r = ne_conf_next(conf, r)) {
                rc = apply_remote(&c, r);
            }
        } else if (ne_conf_key_is(conf, n, "reconnect") ||
                   ne_conf_key_is(conf, n, "reconnect_delay") ||
                   ne_conf_key_is(conf, n, "reconnect_interval")) {
            int64_t ms;
            if (n->type == NE_CONF_INT) {
                int64_t s;
                if (ne_conf_as_int(conf, n, &s) != NE_OK) {
                    return fail_conf(&c);
                }
                ms = s * 1000;
            } else if (ne_conf_duration_ms(conf, n, &ms) != NE_OK) {
                return fail_conf(&c);
            }
            if (ms <= 0 || ms > 3600 * 1000) {
                return fail_at(&c, n, NE_ERR_RANGE, "reconnect out of range");
            }
            o->reconnect_ms = (uint32_t)ms;
        } else if (ne_conf_key_is(conf, n, "listen")) {
            rc = apply_listen(&c, n);
        } else if (ne_conf_key_is(conf, n, "host") || ne_conf_key_is(conf, n, "net")) {
            o->listen_enabled = true;
            rc = copy_string(&c, n, o->listen_host, sizeof(o->listen_host), NULL);
        } else if (ne_conf_key_is(conf, n, "port")) {
            int64_t v;
            if (ne_conf_as_int(conf, n, &v) != NE_OK) {
                return fail_conf(&c);
            }
            if (v < 0 || v > 65535) {
                return fail_at(&c, n, NE_ERR_RANGE, "port out of range");
            }
            o->listen_enabled = true;
            o->listen_port = (uint16_t)v;
        } else if (ne_conf_key_is(conf, n, "authorization")) {
            rc = apply_authorization(&c, n);
        } else if (ne_conf_key_is(conf, n, "tls")) {
            rc = ne_conf_reject(conf, n,
                                "leafnodes \"%s\" is not supported yet in natsedge (see "
                                "differences.md)");
        } else if (ne_conf_key_is(conf, n, "advertise") ||
                   ne_conf_key_is(conf, n, "no_advertise")) {
            ne_conf_mark_used(n); /* one server, nothing to advertise */
        } else {
            rc = ne_conf_reject(conf, n, NULL);
        }
        if (rc != NE_OK) {
            return rc;
        }
    }
    return NE_OK;
}
