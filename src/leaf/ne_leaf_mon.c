/* /leafz: the leaf connections as nats-server 2.9 shows them. */
#include <string.h>

#include "core/ne_fmt.h"
#include "core/ne_time.h"
#include "leaf/ne_leaf.h"
#include "server/ne_server.h"

/* Pieces are sent when this full; one field is always shorter. */
#define LEAFZ_PIECE_BYTES 1024
#define LEAFZ_FLUSH_AT 640

typedef struct leafz_out {
    ne_conn *conn;
    ne_strbuf sb;
    char buf[LEAFZ_PIECE_BYTES];
} leafz_out;

static ne_strbuf *piece(leafz_out *o)
{
    if (o->sb.len >= LEAFZ_FLUSH_AT) {
        (void)ne_conn_send(o->conn, o->buf, o->sb.len);
        ne_strbuf_init(&o->sb, o->buf, sizeof(o->buf));
    }
    return &o->sb;
}

static void write_leaf(leafz_out *o, const ne_server *srv, const ne_conn *c, bool subs)
{
    ne_strbuf *sb = piece(o);
    const char *account = srv->opts.accounts[c->acc->index].name;
    ne_strbuf_puts(sb, "{\"account\":");
    ne_strbuf_json_string(sb, account, strlen(account));
    ne_strbuf_puts(sb, ",\"ip\":");
    ne_strbuf_json_string(sb, c->ip, strlen(c->ip));
    ne_strbuf_printf(sb, ",\"port\":%u,\"rtt\":\"", (unsigned)c->port);
    ne_time_go_duration(sb, c->rtt_ns);
    ne_strbuf_printf(sb,
                     "\",\"in_msgs\":%llu,\"out_msgs\":%llu,\"in_bytes\":%llu,\"out_bytes\":%llu,"
                     "\"subscriptions\":%u",
                     (unsigned long long)c->in_msgs, (unsigned long long)c->out_msgs,
                     (unsigned long long)c->in_bytes, (unsigned long long)c->out_bytes,
                     (unsigned)c->nsubs);
    if (subs && c->nsubs > 0) {
        ne_strbuf_puts(sb, ",\"subscriptions_list\":[");
        bool first = true;
        uint32_t guard = 0;
        for (const ne_sub *s = c->subs; s != NULL && guard++ <= NE_MAX_SUBSCRIPTIONS;
             s = s->conn_next) {
            sb = piece(o);
            if (!first) {
                ne_strbuf_putc(sb, ',');
            }
            first = false;
            ne_strbuf_json_string(sb, s->text, s->entry.subject_len);
        }
        ne_strbuf_putc(piece(o), ']');
    }
    ne_strbuf_putc(piece(o), '}');
}

void ne_leaf_leafz(ne_conn *http, bool subs)
{
    ne_server *srv = http->srv;
    static leafz_out o; /* single-threaded core; kept off small stacks */
    o.conn = http;
    ne_strbuf_init(&o.sb, o.buf, sizeof(o.buf));
    uint32_t count = 0;
    for (uint32_t i = 0; i < NE_MAX_LEAF_CONNECTIONS; i++) {
        const ne_leaf_link *link = srv->leaf.links[i];
        count += link != NULL && link->state == NE_LEAF_ESTABLISHED ? 1u : 0u;
    }
    ne_strbuf *sb = piece(&o);
    ne_strbuf_puts(sb, "{\"server_id\":");
    ne_strbuf_json_string(sb, srv->server_id, strlen(srv->server_id));
    ne_strbuf_puts(sb, ",\"now\":\"");
    ne_time_rfc3339(sb, ne_port_wall_ns());
    ne_strbuf_printf(sb, "\",\"leafnodes\":%u,\"leafs\":[", (unsigned)count);
    bool first = true;
    for (uint32_t i = 0; i < NE_MAX_LEAF_CONNECTIONS; i++) {
        const ne_leaf_link *link = srv->leaf.links[i];
        if (link == NULL || link->state != NE_LEAF_ESTABLISHED) {
            continue;
        }
        if (!first) {
            ne_strbuf_putc(piece(&o), ',');
        }
        first = false;
        write_leaf(&o, srv, link->conn, subs);
    }
    ne_strbuf_puts(piece(&o), "]}");
    (void)ne_conn_send(o.conn, o.buf, o.sb.len);
}
