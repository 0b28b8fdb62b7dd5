/* /leafz: the leaf connections as nats-server 2.9 shows them (the server
 * registers it with the monitoring endpoints: HTTP and
 * $SYS.REQ.SERVER.*.LEAFZ). */
#include <string.h>

#include "leaf/ne_leaf.h"

static void write_leaf(ne_json_out *o, const ne_leaf_state *st, const ne_leaf_link *link, bool subs)
{
    const ne_conn *c = link->conn;
    ne_json_begin_object(o);
    ne_json_kv_string(o, "account", ne_router_account_name(st->router, c->acc));
    char ip[NE_IP_TEXT_BYTES];
    ne_json_kv_string(o, "ip", ne_conn_peer_text(c, ip, sizeof(ip)));
    ne_json_kv_u64(o, "port", c->io->port);
    ne_json_kv_duration(o, "rtt", c->rtt_ns);
    ne_json_kv_u64(o, "in_msgs", c->in_msgs);
    ne_json_kv_u64(o, "out_msgs", c->out_msgs);
    ne_json_kv_u64(o, "in_bytes", c->in_bytes);
    ne_json_kv_u64(o, "out_bytes", c->out_bytes);
    ne_json_kv_u64(o, "subscriptions", c->nsubs);
    if (subs && c->nsubs > 0) {
        ne_json_key(o, "subscriptions_list");
        ne_json_begin_array(o);
        uint32_t guard = 0;
        for (const ne_sub *s = c->subs; s != NULL && guard++ <= NE_MAX_SUBSCRIPTIONS;
             s = s->conn_next) {
            ne_json_string(o, s->text, s->entry.subject_len);
        }
        ne_json_end_array(o);
    }
    ne_json_end_object(o);
}

void ne_leaf_write_leafz(const ne_leaf_state *st, ne_json_out *o, bool subs)
{
    uint32_t count = 0;
    for (uint32_t i = 0; i < NE_MAX_LEAF_CONNECTIONS; i++) {
        const ne_leaf_link *link = st->links[i];
        count += link != NULL && link->state == NE_LEAF_ESTABLISHED ? 1u : 0u;
    }
    ne_json_begin_object(o);
    ne_json_kv_string(o, "server_id", st->conns->id.server_id);
    ne_json_kv_time(o, "now", ne_port_wall_ns());
    ne_json_kv_u64(o, "leafnodes", count);
    ne_json_key(o, "leafs");
    ne_json_begin_array(o);
    for (uint32_t i = 0; i < NE_MAX_LEAF_CONNECTIONS; i++) {
        const ne_leaf_link *link = st->links[i];
        if (link != NULL && link->state == NE_LEAF_ESTABLISHED) {
            write_leaf(o, st, link, subs);
        }
    }
    ne_json_end_array(o);
    ne_json_end_object(o);
}
