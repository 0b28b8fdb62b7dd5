/* JetStream on a leaf link (ne_leaf.h, docs/store-and-forward.md): the
 * deny rules nats-server applies to a link that does not extend JetStream
 * (inventory LN-33, LN-35).
 *
 * natsedge never extends a JetStream domain over a leaf link (that needs
 * the system account shared and one meta group spanning both sides), so
 * every link denies the un-prefixed API both ways: a request on $JS.API.>
 * is answered by the JetStream of the side it was published on, never by
 * both. The other side's JetStream is reached through its domain's prefix,
 * $JS.<domain>.API.>, which the JetStream service subscribes to and the
 * leaf announces like any other interest. A link whose peer has another
 * domain (or none) also keeps our own domain's API from leaving, so that a
 * peer configured with our domain by mistake does not answer for us. */
#include "leaf/ne_leaf.h"

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_fmt.h"
#include "core/ne_subject.h"

/* The subjects of each deny set, as nats-server lists them in its log. */
static const char *const deny_client[] = {"$JS.API.>", "$KV.>", "$OBJ.>"};
static const char *const deny_system[] = {"$JSC.>", "$NRG.>", "$JS.API.>", "$KV.>", "$OBJ.>"};

/* The API subjects a domain maps to the local API (nats-server's
 * generateJSMappingTable), in the order they are logged. */
static const char *const domain_mapping[][2] = {
    {"INFO", "$JS.API.INFO"},
    {"STREAM.>", "$JS.API.STREAM.>"},
    {"CONSUMER.>", "$JS.API.CONSUMER.>"},
    {"DIRECT.>", "$JS.API.DIRECT.>"},
    {"META.>", "$JS.API.META.>"},
    {"SERVER.>", "$JS.API.SERVER.>"},
    {"ACCOUNT.>", "$JS.API.ACCOUNT.>"},
    {"$KV.>", "$KV.>"},
    {"$OBJ.>", "$OBJ.>"},
};

static const char *const *deny_list(const ne_leaf_link *link, size_t *count)
{
    switch (link->js_deny) {
    case NE_LEAF_JS_DENY_CLIENT:
        *count = NE_ARRAY_LEN(deny_client);
        return deny_client;
    case NE_LEAF_JS_DENY_SYSTEM:
        *count = NE_ARRAY_LEN(deny_system);
        return deny_system;
    default:
        *count = 0;
        return NULL;
    }
}

/* "[a b c]", as Go prints a slice of strings. */
static void format_list(char *out, size_t cap, const char *const *list, size_t count)
{
    ne_strbuf sb;
    ne_strbuf_init(&sb, out, cap);
    ne_strbuf_putc(&sb, '[');
    for (size_t i = 0; i < count; i++) {
        if (i > 0) {
            ne_strbuf_putc(&sb, ' ');
        }
        ne_strbuf_puts(&sb, list[i]);
    }
    ne_strbuf_putc(&sb, ']');
    NE_ASSERT(!sb.truncated);
}

static bool js_on(const ne_leaf_state *st)
{
#if NE_FEATURE_JETSTREAM
    return st->opts->js.enabled;
#else
    (void)st;
    return false;
#endif
}

static const char *own_domain(const ne_leaf_state *st)
{
    return js_on(st) ? st->opts->js.domain : "";
}

/* nats-server's rule: the link does not extend JetStream when the domains
 * differ, when neither side names one and we have no JetStream, or when
 * there is no system account. natsedge never extends it, but says which
 * case it is in the log as nats-server does. */
static bool domains_mismatch(const ne_leaf_state *st, const ne_leaf_link *link)
{
    const char *own = st->opts->js.domain;
    return strcmp(own, link->remote_domain) != 0 || (!js_on(st) && own[0] == '\0') ||
           st->opts->system_account == NE_ACCOUNT_NONE;
}

void ne_leaf_js_setup(ne_leaf_state *st, ne_leaf_link *link)
{
    ne_conn *conn = link->conn;
    NE_ASSERT(conn->acc != NULL);
    const char *acc_name = ne_router_account_name(st->router, conn->acc);
    bool system = conn->acc->index == st->opts->system_account;
    bool mismatch = domains_mismatch(st, link);
    char list[96];
    if (system) {
        link->js_deny = NE_LEAF_JS_DENY_SYSTEM;
        format_list(list, sizeof(list), deny_system, NE_ARRAY_LEN(deny_system));
        ne_conn_logf(conn, NE_LOG_INFO, "System Account Connected from %s",
                     link->remote_name[0] != '\0' ? link->remote_name : link->remote_id);
        ne_conn_logf(conn, NE_LOG_INFO, "JetStream Not Extended, adding denies %s", list);
    } else {
        link->js_deny = NE_LEAF_JS_DENY_CLIENT;
        format_list(list, sizeof(list), deny_client, NE_ARRAY_LEN(deny_client));
        ne_conn_logf(conn, NE_LOG_INFO, "%s %s for account \"%s\"",
                     mismatch ? "JetStream Not Extended, adding deny" : "Adding deny", list,
                     acc_name);
    }
    const char *domain = own_domain(st);
    link->js_deny_own_domain = false;
    if (domain[0] == '\0' || system) {
        return;
    }
    for (size_t i = 0; i < NE_ARRAY_LEN(domain_mapping); i++) {
        ne_conn_logf(conn, NE_LOG_INFO,
                     "Adding JetStream Domain Mapping \"$JS.%s.API.%s\" -> %s to account \"%s\"",
                     domain, domain_mapping[i][0], domain_mapping[i][1], acc_name);
    }
    if (mismatch) {
        link->js_deny_own_domain = true;
        ne_conn_logf(conn, NE_LOG_INFO,
                     "Adding deny \"$JS.%s.API.>\" for outgoing messages to account \"%s\"", domain,
                     acc_name);
    }
}

bool ne_leaf_js_denied(const ne_leaf_link *link, const char *subject, size_t len)
{
    size_t count = 0;
    const char *const *list = deny_list(link, &count);
    for (size_t i = 0; i < count; i++) {
        size_t n = strlen(list[i]);
        if (ne_subject_matches(list[i], n, subject, len) ||
            ne_subject_is_subset(subject, len, list[i], n)) {
            return true;
        }
    }
    return false;
}

/* "$JS.<domain>.API." starts the subject (or it is "$JS.<domain>.API"). */
static bool in_domain_api(const char *domain, const char *subject, size_t len)
{
    size_t dlen = strlen(domain);
    size_t prefix = 4 + dlen + 4; /* "$JS." domain ".API" */
    if (len < prefix || memcmp(subject, "$JS.", 4) != 0 || memcmp(subject + 4, domain, dlen) != 0 ||
        memcmp(subject + 4 + dlen, ".API", 4) != 0) {
        return false;
    }
    return len == prefix || subject[prefix] == '.';
}

bool ne_leaf_js_denied_out(const ne_leaf_state *st, const ne_leaf_link *link, const char *subject,
                           size_t len)
{
    if (ne_leaf_js_denied(link, subject, len)) {
        return true;
    }
    return link->js_deny_own_domain && in_domain_api(own_domain(st), subject, len);
}
