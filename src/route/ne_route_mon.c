/* /routez and /varz's cluster object, as nats-server 2.9 writes them
 * (MON-01, MON-04; the server registers them with the monitoring
 * endpoints: HTTP and $SYS.REQ.SERVER.*.ROUTEZ). */
#include "route/ne_route.h"

#if NE_FEATURE_ROUTES

#include <string.h>

#include "core/ne_error.h"
#include "core/ne_fmt.h"

static void write_subs(ne_json_out *o, const ne_route_state *st, const ne_conn *c, bool detail)
{
    ne_json_key(o, detail ? "subscriptions_list_detail" : "subscriptions_list");
    ne_json_begin_array(o);
    uint32_t guard = 0;
    for (const ne_sub *s = c->subs; s != NULL && guard++ <= NE_MAX_SUBSCRIPTIONS;
         s = s->conn_next) {
        if (!detail) {
            ne_json_string(o, s->text, s->entry.subject_len);
            continue;
        }
        /* A route's subscription is known by "<account> <subject>[ <queue>]". */
        const char *acc = ne_router_account_name(st->router, &st->router->accounts[s->account]);
        char sid[NE_ACCOUNT_NAME_BYTES + NE_SUB_TEXT_BYTES + 2];
        size_t n = strlen(acc);
        memcpy(sid, acc, n);
        sid[n++] = ' ';
        memcpy(sid + n, s->text, s->entry.subject_len);
        n += s->entry.subject_len;
        ne_json_begin_object(o);
        ne_json_key(o, "subject");
        ne_json_string(o, s->text, s->entry.subject_len);
        if (s->entry.queue_len > 0) {
            ne_json_key(o, "qgroup");
            ne_json_string(o, s->entry.queue, s->entry.queue_len);
            sid[n++] = ' ';
            memcpy(sid + n, s->entry.queue, s->entry.queue_len);
            n += s->entry.queue_len;
        }
        ne_json_key(o, "sid");
        ne_json_string(o, sid, n);
        ne_json_kv_u64(o, "msgs", s->delivered);
        ne_json_kv_u64(o, "cid", c->cid);
        ne_json_end_object(o);
    }
    ne_json_end_array(o);
}

static void write_route(ne_json_out *o, const ne_route_state *st, const ne_route_link *link,
                        uint64_t now_ns, bool subs, bool subs_detail)
{
    const ne_conn *c = link->conn;
    const ne_conn_io *io = c->io;
    ne_json_begin_object(o);
    ne_json_kv_u64(o, "rid", c->cid);
    ne_json_kv_string(o, "remote_id", link->remote_id);
    ne_json_kv_bool(o, "did_solicit", link->target >= 0);
    ne_json_kv_bool(o, "is_configured", link->configured);
    char ip[NE_IP_TEXT_BYTES];
    ne_json_kv_string(o, "ip", ne_conn_peer_text(c, ip, sizeof(ip)));
    ne_json_kv_u64(o, "port", io->port);
    ne_json_kv_time(o, "start", c->start_wall_ns);
    uint64_t idle_ns = (st->conns->now_ms - io->last_in_ms) * 1000000u;
    ne_json_kv_time(o, "last_activity", now_ns - idle_ns);
    ne_json_kv_duration(o, "rtt", c->rtt_ns);
    ne_json_key(o, "uptime");
    ne_json_uptime(o, now_ns - c->start_wall_ns);
    ne_json_key(o, "idle");
    ne_json_uptime(o, idle_ns);
    ne_json_kv_u64(o, "pending_size", c->out.bytes);
    ne_json_kv_u64(o, "in_msgs", c->in_msgs);
    ne_json_kv_u64(o, "out_msgs", c->out_msgs);
    ne_json_kv_u64(o, "in_bytes", c->in_bytes);
    ne_json_kv_u64(o, "out_bytes", c->out_bytes);
    ne_json_kv_u64(o, "subscriptions", c->nsubs);
    if ((subs || subs_detail) && c->nsubs > 0) {
        write_subs(o, st, c, subs_detail);
    }
    ne_json_end_object(o);
}

void ne_route_write_routez(const ne_route_state *st, ne_json_out *o, bool subs, bool subs_detail)
{
    uint64_t now_ns = ne_port_wall_ns();
    ne_json_begin_object(o);
    ne_json_kv_string(o, "server_id", st->conns->id.server_id);
    ne_json_kv_time(o, "now", now_ns);
    ne_json_kv_u64(o, "num_routes", ne_route_count(st));
    ne_json_key(o, "routes");
    ne_json_begin_array(o);
    for (uint32_t i = 0; i < NE_MAX_ROUTES; i++) {
        const ne_route_link *link = st->links[i];
        if (link != NULL && link->state == NE_ROUTE_ESTABLISHED && !link->conn->closing) {
            write_route(o, st, link, now_ns, subs, subs_detail);
        }
    }
    ne_json_end_array(o);
    ne_json_end_object(o);
}

/* nats-server leaves out what is empty or zero (omitempty): without a
 * cluster the object is {}. */
void ne_route_write_varz_cluster(const ne_route_state *st, ne_json_out *o)
{
    const ne_cluster_options *c = &st->opts->cluster;
    ne_json_begin_object(o);
    if (!st->active) {
        ne_json_end_object(o);
        return;
    }
    ne_json_kv_string(o, "name", st->cluster_name);
    const char *host = c->listen_host[0] != '\0' ? c->listen_host : st->opts->host;
    if (host[0] != '\0') {
        ne_json_kv_string(o, "addr", host);
    }
    ne_json_kv_u64(o, "cluster_port", st->listener.port);
    ne_json_key(o, "auth_timeout");
    ne_json_milli(o, c->auth_timeout_ms);
    if (c->route_count > 0) {
        ne_json_key(o, "urls");
        ne_json_begin_array(o);
        for (uint32_t i = 0; i < c->route_count; i++) {
            ne_route_url url;
            if (ne_route_parse_url(c->routes[i], strlen(c->routes[i]), &url) != NE_OK) {
                continue;
            }
            char hp[NE_ROUTE_HOSTPORT_BYTES + 8];
            size_t n = ne_fmt(hp, sizeof(hp), "%s:%u", url.host, (unsigned)url.port);
            ne_json_string(o, hp, n);
        }
        ne_json_end_array(o);
    }
    ne_json_key(o, "tls_timeout");
    ne_json_milli(o, c->tls_timeout_ms);
    if (c->tls) {
        ne_json_kv_bool(o, "tls_required", true);
        ne_json_kv_bool(o, "tls_verify", true);
    }
    ne_json_end_object(o);
}

#endif /* NE_FEATURE_ROUTES */
