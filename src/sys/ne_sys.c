/* The system account's advisories (ne_sys.h). */
#include "sys/ne_sys.h"

#include <string.h>

#include "auth/ne_nkey.h"
#include "core/ne_error.h"
#include "core/ne_fmt.h"
#include "core/ne_time.h"

/* The system account, when it exists and someone listens in it. */
static bool listeners(const ne_sys *sys)
{
    uint8_t acc = sys->opts->system_account;
    return acc != NE_ACCOUNT_NONE && sys->router->accounts[acc].sublist.count > 0;
}

/* The fields every advisory starts with: type, id, timestamp, server. */
static void event_head(ne_sys *sys, ne_strbuf *sb, const char *type, uint64_t now_ns)
{
    char id[NE_NKEY_NONCE_LEN + 1];
    if (ne_nkey_nonce(id) != NE_OK) {
        ne_fmt(id, sizeof(id), "%llu", (unsigned long long)sys->seq);
    }
    ne_strbuf_printf(sb, "{\"type\":\"io.nats.server.advisory.v1.%s\",\"id\":\"%s\",", type, id);
    ne_strbuf_puts(sb, "\"timestamp\":\"");
    ne_time_rfc3339(sb, now_ns);
    ne_strbuf_puts(sb, "\",\"server\":{\"name\":");
    ne_strbuf_json_string(sb, sys->opts->server_name, strlen(sys->opts->server_name));
    ne_strbuf_puts(sb, ",\"host\":");
    ne_strbuf_json_string(sb, sys->opts->host, strlen(sys->opts->host));
    ne_strbuf_printf(sb,
                     ",\"id\":\"%s\",\"ver\":\"" NE_ADVERTISED_VERSION
                     "\",\"seq\":%llu,\"jetstream\":false,\"time\":\"",
                     sys->conns->id.server_id, (unsigned long long)++sys->seq);
    ne_time_rfc3339(sb, now_ns);
    ne_strbuf_puts(sb, "\"}");
}

/* Publishes a document written into a buffer of buf_bytes by sb, which was
 * given two bytes less so that the payload's CRLF fits after it; a
 * document that did not fit is not sent. */
static void publish(ne_sys *sys, const char *subject, ne_strbuf *sb, size_t buf_bytes)
{
    if (sb->truncated || sb->len + 2 > buf_bytes) {
        return;
    }
    memcpy(sb->data + sb->len, "\r\n", 2);
    ne_msg msg;
    memset(&msg, 0, sizeof(msg));
    msg.subject = (ne_slice){subject, (uint32_t)strlen(subject)};
    msg.reply = (ne_slice){"", 0};
    msg.total_len = (uint32_t)sb->len;
    msg.data = (const uint8_t *)sb->data;
    sys->events++;
    (void)ne_router_publish_in(sys->router, sys->opts->system_account, &msg);
}

/* $SYS.ACCOUNT.<account>.SERVER.CONNS: the account's connection count, sent
 * whenever it changes (account_connections advisory). */
static void account_conns_event(ne_sys *sys, const ne_account *acc)
{
    const char *name = ne_router_account_name(sys->router, acc);
    char subject[NE_ACCOUNT_NAME_BYTES + 32];
    ne_fmt(subject, sizeof(subject), "$SYS.ACCOUNT.%s.SERVER.CONNS", name);
    char body[1024];
    ne_strbuf sb;
    ne_strbuf_init(&sb, body, sizeof(body) - 2);
    event_head(sys, &sb, "account_connections", ne_port_wall_ns());
    ne_strbuf_puts(&sb, ",\"acc\":");
    ne_strbuf_json_string(&sb, name, strlen(name));
    ne_strbuf_printf(&sb,
                     ",\"conns\":%u,\"leafnodes\":0,\"total_conns\":%u,"
                     "\"sent\":{\"msgs\":%llu,\"bytes\":%llu},"
                     "\"received\":{\"msgs\":%llu,\"bytes\":%llu},\"slow_consumers\":%llu}",
                     (unsigned)acc->clients, (unsigned)acc->clients,
                     (unsigned long long)acc->out_msgs, (unsigned long long)acc->out_bytes,
                     (unsigned long long)acc->in_msgs, (unsigned long long)acc->in_bytes,
                     (unsigned long long)acc->slow_consumers);
    publish(sys, subject, &sb, sizeof(body));
}

/* $SYS.ACCOUNT.<account>.CONNECT or .DISCONNECT into the system account,
 * with nats-server's advisory JSON (client_connect / client_disconnect). */
static void client_event(ne_sys *sys, ne_conn *conn, bool connect)
{
    ne_conn_desc d;
    ne_conn_kind_of(conn)->ops->describe(conn, &d);
    char subject[NE_ACCOUNT_NAME_BYTES + 32];
    ne_fmt(subject, sizeof(subject), "$SYS.ACCOUNT.%s.%s", d.account,
           connect ? "CONNECT" : "DISCONNECT");
    char body[1536];
    ne_strbuf sb;
    ne_strbuf_init(&sb, body, sizeof(body) - 2);
    uint64_t now_ns = ne_port_wall_ns();
    event_head(sys, &sb, connect ? "client_connect" : "client_disconnect", now_ns);
    ne_strbuf_puts(&sb, ",\"client\":{\"start\":\"");
    ne_time_rfc3339(&sb, conn->start_wall_ns);
    ne_strbuf_puts(&sb, "\",\"host\":");
    const char *ip = conn->io != NULL ? conn->io->ip : "";
    ne_strbuf_json_string(&sb, ip, strlen(ip));
    ne_strbuf_printf(&sb, ",\"id\":%llu,\"acc\":", (unsigned long long)conn->cid);
    ne_strbuf_json_string(&sb, d.account, strlen(d.account));
    if (d.user[0] != '\0') {
        ne_strbuf_puts(&sb, ",\"user\":");
        ne_strbuf_json_string(&sb, d.user, strlen(d.user));
    }
    if (d.name[0] != '\0') {
        ne_strbuf_puts(&sb, ",\"name\":");
        ne_strbuf_json_string(&sb, d.name, strlen(d.name));
    }
    ne_strbuf_puts(&sb, ",\"lang\":");
    ne_strbuf_json_string(&sb, d.lang, strlen(d.lang));
    ne_strbuf_puts(&sb, ",\"ver\":");
    ne_strbuf_json_string(&sb, d.version, strlen(d.version));
    if (!connect) {
        if (conn->rtt_ns > 0) {
            ne_strbuf_printf(&sb, ",\"rtt\":%llu", (unsigned long long)conn->rtt_ns);
        }
        ne_strbuf_puts(&sb, ",\"stop\":\"");
        ne_time_rfc3339(&sb, now_ns);
        ne_strbuf_putc(&sb, '"');
    }
    ne_strbuf_printf(&sb, ",\"kind\":\"%s\",\"client_type\":\"%s\"}", d.kind, d.type);
    if (!connect) {
        ne_strbuf_printf(&sb,
                         ",\"sent\":{\"msgs\":%llu,\"bytes\":%llu},"
                         "\"received\":{\"msgs\":%llu,\"bytes\":%llu},\"reason\":",
                         (unsigned long long)conn->out_msgs, (unsigned long long)conn->out_bytes,
                         (unsigned long long)conn->in_msgs, (unsigned long long)conn->in_bytes);
        const char *reason = ne_close_reason_text(conn->close_reason);
        ne_strbuf_json_string(&sb, reason, strlen(reason));
    }
    ne_strbuf_putc(&sb, '}');
    publish(sys, subject, &sb, sizeof(body));
}

static void joined(void *ctx, ne_conn *conn)
{
    ne_sys *sys = ctx;
    if (listeners(sys)) {
        account_conns_event(sys, conn->acc);
        client_event(sys, conn, true);
    }
}

static void left(void *ctx, ne_conn *conn)
{
    ne_sys *sys = ctx;
    if (listeners(sys)) {
        account_conns_event(sys, conn->acc);
        client_event(sys, conn, false);
    }
}

void ne_sys_init(ne_sys *sys, const ne_server_options *opts, ne_conns *conns, ne_router *router)
{
    sys->opts = opts;
    sys->conns = conns;
    sys->router = router;
    ne_client_observer obs = {joined, left, sys};
    ne_router_observe_clients(router, &obs);
}
