/* /leafz: the leaf connections as nats-server 2.9 shows them. */
#include <string.h>

#include "core/ne_fmt.h"
#include "core/ne_time.h"
#include "json/ne_json_writer.h"
#include "leaf/ne_leaf.h"
#include "server/ne_server.h"

/* Room asked for the rtt text. */
#define LEAFZ_ITEM_BYTES 64

static void key_u64(ne_json_writer *w, bool *first, const char *name, uint64_t value)
{
    ne_json_writer_key(w, first, name);
    ne_json_writer_u64(w, value);
}

static void key_string(ne_json_writer *w, bool *first, const char *name, const char *value)
{
    ne_json_writer_key(w, first, name);
    ne_json_writer_string(w, value, strlen(value));
}

static void write_subs(ne_json_writer *w, bool *first, const ne_conn *c)
{
    ne_json_writer_key(w, first, "subscriptions_list");
    ne_json_writer_puts(w, "[");
    uint32_t guard = 0;
    for (const ne_sub *s = c->subs; s != NULL && guard++ <= NE_MAX_SUBSCRIPTIONS;
         s = s->conn_next) {
        if (s != c->subs) {
            ne_json_writer_puts(w, ",");
        }
        ne_json_writer_string(w, s->text, s->entry.subject_len);
    }
    ne_json_writer_puts(w, "]");
}

static void write_leaf(ne_json_writer *w, const ne_server *srv, const ne_conn *c, bool subs)
{
    bool f = true;
    ne_json_writer_puts(w, "{");
    key_string(w, &f, "account", srv->opts.accounts[c->acc->index].name);
    key_string(w, &f, "ip", c->ip);
    key_u64(w, &f, "port", c->port);
    ne_json_writer_key(w, &f, "rtt");
    ne_strbuf *sb = ne_json_writer_room(w, LEAFZ_ITEM_BYTES);
    if (sb != NULL) {
        ne_strbuf_putc(sb, '"');
        ne_time_go_duration(sb, c->rtt_ns);
        ne_strbuf_putc(sb, '"');
    }
    key_u64(w, &f, "in_msgs", c->in_msgs);
    key_u64(w, &f, "out_msgs", c->out_msgs);
    key_u64(w, &f, "in_bytes", c->in_bytes);
    key_u64(w, &f, "out_bytes", c->out_bytes);
    key_u64(w, &f, "subscriptions", c->nsubs);
    if (subs && c->nsubs > 0) {
        write_subs(w, &f, c);
    }
    ne_json_writer_puts(w, "}");
}

void ne_leaf_leafz(const ne_server *srv, ne_json_writer *w, bool subs)
{
    uint32_t count = 0;
    for (uint32_t i = 0; i < NE_MAX_LEAF_CONNECTIONS; i++) {
        const ne_leaf_link *link = srv->leaf.links[i];
        count += link != NULL && link->state == NE_LEAF_ESTABLISHED ? 1u : 0u;
    }
    bool f = true;
    ne_json_writer_puts(w, "{");
    key_string(w, &f, "server_id", srv->server_id);
    ne_json_writer_key(w, &f, "now");
    ne_strbuf *sb = ne_json_writer_room(w, LEAFZ_ITEM_BYTES);
    if (sb != NULL) {
        ne_strbuf_putc(sb, '"');
        ne_time_rfc3339(sb, ne_port_wall_ns());
        ne_strbuf_putc(sb, '"');
    }
    key_u64(w, &f, "leafnodes", count);
    ne_json_writer_key(w, &f, "leafs");
    ne_json_writer_puts(w, "[");
    bool first = true;
    for (uint32_t i = 0; i < NE_MAX_LEAF_CONNECTIONS; i++) {
        const ne_leaf_link *link = srv->leaf.links[i];
        if (link == NULL || link->state != NE_LEAF_ESTABLISHED) {
            continue;
        }
        if (!first) {
            ne_json_writer_puts(w, ",");
        }
        first = false;
        write_leaf(w, srv, link->conn, subs);
    }
    ne_json_writer_puts(w, "]}");
}
