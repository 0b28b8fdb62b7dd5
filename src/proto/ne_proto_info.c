/* INFO lines (ne_proto_info.h). */
#include "proto/ne_proto_info.h"

#include <string.h>

#include "core/ne_fmt.h"

static void put_string(ne_strbuf *sb, const char *key, const char *value)
{
    ne_strbuf_puts(sb, key);
    ne_strbuf_json_string(sb, value, strlen(value));
}

size_t ne_proto_write_info(char *out, size_t cap, const ne_info_fields *f)
{
    ne_strbuf sb;
    ne_strbuf_init(&sb, out, cap);
    put_string(&sb, "INFO {\"server_id\":", f->server_id);
    put_string(&sb, ",\"server_name\":", f->server_name);
    put_string(&sb, ",\"version\":", f->version);
    ne_strbuf_printf(&sb, ",\"proto\":%u", f->proto != 0 ? (unsigned)f->proto : 1u);
    put_string(&sb, ",\"go\":", f->go);
    put_string(&sb, ",\"host\":", f->host);
    ne_strbuf_printf(&sb, ",\"port\":%u,\"headers\":%s,\"max_payload\":%u", (unsigned)f->port,
                     f->headers ? "true" : "false", (unsigned)f->max_payload);
    if (f->jetstream) {
        ne_strbuf_puts(&sb, ",\"jetstream\":true");
    }
    if (f->domain != NULL && f->domain[0] != '\0') {
        put_string(&sb, ",\"domain\":", f->domain);
    }
    if (f->auth_required) {
        ne_strbuf_puts(&sb, ",\"auth_required\":true");
    }
    if (f->tls_required) {
        ne_strbuf_puts(&sb, f->tls_verify ? ",\"tls_required\":true,\"tls_verify\":true"
                                          : ",\"tls_required\":true");
    }
    if (f->nonce != NULL && f->nonce[0] != '\0') {
        put_string(&sb, ",\"nonce\":", f->nonce);
    }
    if (f->ldm) {
        ne_strbuf_puts(&sb, ",\"ldm\":true");
    }
    if (f->has_client_id) {
        ne_strbuf_printf(&sb, ",\"client_id\":%llu", (unsigned long long)f->client_id);
    }
    if (f->client_ip != NULL) {
        put_string(&sb, ",\"client_ip\":", f->client_ip);
    }
    if (f->ip != NULL) {
        put_string(&sb, ",\"ip\":", f->ip);
    }
    if (f->cluster != NULL) {
        put_string(&sb, ",\"cluster\":", f->cluster);
        if (f->cluster_dynamic) {
            ne_strbuf_puts(&sb, ",\"cluster_dynamic\":true");
        }
    }
    if (f->connect_urls != NULL) {
        ne_strbuf_puts(&sb, ",\"connect_urls\":[");
        ne_strbuf_puts(&sb, f->connect_urls);
        ne_strbuf_putc(&sb, ']');
    }
    if (f->info_on_connect) {
        ne_strbuf_puts(&sb, ",\"info_on_connect\":true");
    }
    if (f->connect_info) {
        ne_strbuf_puts(&sb, ",\"connect_info\":true");
    }
    if (f->leafnode_url != NULL) {
        put_string(&sb, ",\"leafnode_urls\":[", f->leafnode_url);
        ne_strbuf_putc(&sb, ']');
    }
    if (f->remote_account != NULL) {
        put_string(&sb, ",\"remote_account\":", f->remote_account);
    }
    if (!f->leave_open) {
        ne_strbuf_puts(&sb, f->trailing_space ? "} \r\n" : "}\r\n");
    }
    return sb.truncated ? 0 : sb.len;
}
