/* The route protocol's peer input and output that need no server state:
 * RS+/RS-/RMSG/HMSG in their route forms, route URLs, a peer's INFO, and
 * the interest and message lines we send (nats-server 2.9's route protocol,
 * probed: docs/cluster.md). */
#include "route/ne_route.h"

#if NE_FEATURE_ROUTES

#include <string.h>

#include "core/ne_error.h"
#include "core/ne_fmt.h"

/* Account, subject, "+", reply, queues, header size, total size. */
#define NE_ROUTE_MAX_MSG_ARGS (6 + NE_MAX_MATCH_QUEUE_GROUPS)

static bool parse_size(ne_slice s, uint64_t *out)
{
    return ne_parse_u64(s.ptr, s.len, 0x7fffffffu, out);
}

static bool is_marker(ne_slice s, char c)
{
    return s.len == 1 && s.ptr[0] == c;
}

static bool verb_is(const char *line, size_t verb_len, const char *want)
{
    size_t n = strlen(want);
    if (verb_len != n) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = line[i];
        if (c >= 'A' && c <= 'Z') {
            c = (char)(c + ('a' - 'A'));
        }
        if (c != want[i]) {
            return false;
        }
    }
    return true;
}

/* RMSG <account> <subject> <size>
 * RMSG <account> <subject> <reply> <size>
 * RMSG <account> <subject> + <reply> <queue>... <size>
 * RMSG <account> <subject> | <queue>... <size>
 * HMSG: the same with <header size> before <size>. As nats-server reads
 * them, four arguments (five for HMSG) are a reply, whatever it looks like. */
static ne_proto_status parse_route_msg(const char *rest, size_t rest_len, ne_op *op, bool hmsg)
{
    ne_slice args[NE_ROUTE_MAX_MSG_ARGS];
    int n = ne_proto_split_args(rest, rest_len, args, NE_ROUTE_MAX_MSG_ARGS);
    int sizes = hmsg ? 2 : 1;
    if (n < 2 + sizes || n > NE_ROUTE_MAX_MSG_ARGS) {
        return NE_PROTO_BAD_ARGS;
    }
    op->account = args[0];
    op->subject = args[1];
    int q_first = 0, q_end = 0; /* queue names: args[q_first .. q_end) */
    if (n == 3 + sizes) {
        op->reply = args[2];
    } else if (n > 3 + sizes) {
        if (is_marker(args[2], '+')) {
            op->reply = args[3];
            q_first = 4;
        } else if (is_marker(args[2], '|')) {
            q_first = 3;
        } else {
            return NE_PROTO_BAD_ARGS;
        }
        q_end = n - sizes; /* "+ <reply>" may name no queue (nats-server takes it) */
    }
    if (q_end > q_first) {
        op->queue.ptr = args[q_first].ptr;
        op->queue.len = (uint32_t)(args[q_end - 1].ptr + args[q_end - 1].len - args[q_first].ptr);
    }
    if (hmsg && !parse_size(args[n - 2], &op->hdr_len)) {
        return NE_PROTO_BAD_ARGS;
    }
    if (!parse_size(args[n - 1], &op->total_len) || op->hdr_len > op->total_len) {
        return NE_PROTO_BAD_ARGS;
    }
    return NE_PROTO_OK;
}

/* A queue weight: digits, taken up to 0x7fffffff (nats-server takes any
 * number of digits). */
static bool parse_weight(ne_slice s, uint64_t *out)
{
    if (s.len == 0) {
        return false;
    }
    for (uint32_t i = 0; i < s.len; i++) {
        if (s.ptr[i] < '0' || s.ptr[i] > '9') {
            return false;
        }
    }
    if (!ne_parse_u64(s.ptr, s.len, 0x7fffffffu, out)) {
        *out = 0x7fffffffu;
    }
    return true;
}

/* RS+ <account> <subject> [<queue> <weight>], RS- <account> <subject> [<queue>]. */
static ne_proto_status parse_interest(const char *rest, size_t rest_len, ne_op *op, bool plus)
{
    ne_slice args[5];
    int n = ne_proto_split_args(rest, rest_len, args, 4);
    if (plus ? (n != 2 && n != 4) : (n != 2 && n != 3)) {
        return NE_PROTO_BAD_ARGS;
    }
    op->account = args[0];
    op->subject = args[1];
    if (n >= 3) {
        op->queue = args[2];
    }
    if (plus && n == 4 && !parse_weight(args[3], &op->weight)) {
        return NE_PROTO_BAD_ARGS;
    }
    return NE_PROTO_OK;
}

ne_proto_status ne_route_parse_line(const char *line, size_t len, ne_op *op)
{
    size_t verb_len = 0;
    while (verb_len < len && line[verb_len] != ' ' && line[verb_len] != '\t') {
        verb_len++;
    }
    const char *rest = line + verb_len;
    size_t rest_len = len - verb_len;
    if (verb_is(line, verb_len, "rmsg") || verb_is(line, verb_len, "hmsg")) {
        memset(op, 0, sizeof(*op));
        bool hmsg = (line[0] | 0x20) == 'h';
        op->kind = hmsg ? NE_OP_HMSG : NE_OP_RMSG;
        return parse_route_msg(rest, rest_len, op, hmsg);
    }
    if (verb_is(line, verb_len, "rs+") || verb_is(line, verb_len, "rs-")) {
        memset(op, 0, sizeof(*op));
        bool plus = line[2] == '+';
        op->kind = plus ? NE_OP_RS_PLUS : NE_OP_RS_MINUS;
        return parse_interest(rest, rest_len, op, plus);
    }
    return ne_proto_parse_line(line, len, op);
}

/* ---- URLs ---------------------------------------------------------------------- */

static bool copy_part(const char *p, size_t n, char *dst, size_t cap)
{
    if (n >= cap) {
        return false;
    }
    memcpy(dst, p, n);
    dst[n] = '\0';
    return true;
}

static bool scheme_is(const char *url, size_t n, const char *scheme)
{
    return strlen(scheme) == n && memcmp(url, scheme, n) == 0;
}

int ne_route_parse_url(const char *url, size_t len, ne_route_url *out)
{
    memset(out, 0, sizeof(*out));
    const char *p = url;
    const char *end = url + len;
    for (const char *q = url; q + 3 <= end; q++) {
        if (q[0] == ':' && q[1] == '/' && q[2] == '/') {
            size_t n = (size_t)(q - url);
            if (!scheme_is(url, n, "nats-route") && !scheme_is(url, n, "nats") &&
                !scheme_is(url, n, "tls")) {
                return NE_ERR_UNSUPPORTED;
            }
            p = q + 3;
            break;
        }
    }
    /* A path ("nats-route://h:p/") is ignored, as nats-server ignores it. */
    const char *slash = memchr(p, '/', (size_t)(end - p));
    if (slash != NULL) {
        end = slash;
    }
    const char *at = NULL;
    for (const char *q = p; q < end; q++) {
        if (*q == '@') {
            at = q;
        }
    }
    if (at != NULL) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *user_end = colon != NULL ? colon : at;
        if (!copy_part(p, (size_t)(user_end - p), out->user, sizeof(out->user)) ||
            (colon != NULL &&
             !copy_part(colon + 1, (size_t)(at - colon - 1), out->pass, sizeof(out->pass)))) {
            return NE_ERR_TOO_BIG;
        }
        p = at + 1;
    }
    const char *host_end = end;
    const char *port_start = NULL;
    if (p < end && *p == '[') {
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (rb == NULL) {
            return NE_ERR_INVALID;
        }
        if (!copy_part(p + 1, (size_t)(rb - p - 1), out->host, sizeof(out->host))) {
            return NE_ERR_TOO_BIG;
        }
        if (rb + 1 < end) {
            if (rb[1] != ':') {
                return NE_ERR_INVALID;
            }
            port_start = rb + 2;
        }
    } else {
        for (const char *q = p; q < end; q++) {
            if (*q == ':') {
                host_end = q;
                port_start = q + 1;
            }
        }
        if (!copy_part(p, (size_t)(host_end - p), out->host, sizeof(out->host))) {
            return NE_ERR_TOO_BIG;
        }
    }
    if (out->host[0] == '\0') {
        return NE_ERR_INVALID;
    }
    uint64_t port = 6222; /* nats-server's default cluster port */
    if (port_start != NULL && !ne_parse_u64(port_start, (size_t)(end - port_start), 65535, &port)) {
        return NE_ERR_INVALID;
    }
    if (port == 0) {
        return NE_ERR_INVALID;
    }
    out->port = (uint16_t)port;
    return NE_OK;
}

/* ---- INFO ---------------------------------------------------------------------- */

static void get_string(const ne_json_doc *doc, const char *key, char *dst, size_t cap)
{
    if (!ne_json_get_string(doc, 0, key, dst, cap, NULL)) {
        dst[0] = '\0';
    }
}

/* connect_urls: the items that fit, each as a JSON string again (a client
 * URL is "host:port"; one with a blank, a comma or a byte JSON must escape
 * is not one, and is not kept). */
static void read_urls(const ne_json_doc *doc, ne_route_info *info)
{
    int idx = ne_json_find(doc, 0, "connect_urls");
    if (idx < 0 || doc->tokens[idx].type != JSMN_ARRAY) {
        return;
    }
    int n = doc->tokens[idx].size;
    int item = idx + 1;
    for (int i = 0; i < n && item < doc->count; i++) {
        char url[NE_ROUTE_HOSTPORT_BYTES];
        size_t len = 0;
        bool plain = doc->tokens[item].type == JSMN_STRING &&
                     ne_json_token_string(doc, item, url, sizeof(url), &len) && len > 0;
        for (size_t k = 0; plain && k < len; k++) {
            plain =
                url[k] > ' ' && url[k] != '"' && url[k] != '\\' && url[k] != ',' && url[k] < 0x7f;
        }
        size_t need = len + 2 + (info->urls_len > 0 ? 1u : 0u);
        if (!plain || info->urls_len + need >= sizeof(info->urls)) {
            info->urls_dropped++;
        } else {
            char *p = info->urls + info->urls_len;
            if (info->urls_len > 0) {
                *p++ = ',';
            }
            *p++ = '"';
            memcpy(p, url, len);
            p += len;
            *p++ = '"';
            *p = '\0';
            info->urls_len += (uint32_t)need;
            info->url_count++;
        }
        item = ne_json_skip(doc, item);
    }
}

int ne_route_parse_info(const char *json, size_t len, ne_route_info *info, ne_json_doc *doc)
{
    memset(info, 0, sizeof(*info));
    if (ne_json_parse(doc, json, len) != NE_OK || doc->count < 1 ||
        doc->tokens[0].type != JSMN_OBJECT) {
        return NE_ERR_PARSE;
    }
    get_string(doc, "server_id", info->server_id, sizeof(info->server_id));
    get_string(doc, "server_name", info->server_name, sizeof(info->server_name));
    get_string(doc, "cluster", info->cluster, sizeof(info->cluster));
    get_string(doc, "host", info->host, sizeof(info->host));
    get_string(doc, "ip", info->ip, sizeof(info->ip));
    int64_t v = 0;
    if (ne_json_get_i64(doc, 0, "port", &v) && v > 0 && v <= 65535) {
        info->port = (uint16_t)v;
    }
    (void)ne_json_get_bool(doc, 0, "cluster_dynamic", &info->cluster_dynamic);
    (void)ne_json_get_bool(doc, 0, "headers", &info->headers);
    (void)ne_json_get_bool(doc, 0, "auth_required", &info->auth_required);
    (void)ne_json_get_bool(doc, 0, "tls_required", &info->tls_required);
    (void)ne_json_get_bool(doc, 0, "ldm", &info->ldm);
    char gateway[8];
    get_string(doc, "gateway", gateway, sizeof(gateway));
    info->gateway = gateway[0] != '\0';
    read_urls(doc, info);
    return NE_OK;
}

/* ---- Lines we send ------------------------------------------------------------------ */

size_t ne_route_interest_line(char *out, size_t cap, bool plus, const char *account,
                              const char *subject, size_t subject_len, const char *queue,
                              size_t queue_len, uint32_t weight)
{
    ne_strbuf sb;
    ne_strbuf_init(&sb, out, cap);
    ne_strbuf_puts(&sb, plus ? "RS+ " : "RS- ");
    ne_strbuf_puts(&sb, account);
    ne_strbuf_putc(&sb, ' ');
    ne_strbuf_append(&sb, subject, subject_len);
    if (queue_len > 0) {
        ne_strbuf_putc(&sb, ' ');
        ne_strbuf_append(&sb, queue, queue_len);
        if (plus) {
            ne_strbuf_putc(&sb, ' ');
            ne_strbuf_u64(&sb, weight);
        }
    }
    ne_strbuf_puts(&sb, "\r\n");
    return sb.truncated ? 0 : sb.len;
}

size_t ne_route_msg_line(char *out, size_t cap, const char *account, const ne_batch *b,
                         ne_slice subject, ne_slice shown, ne_slice reply, bool as_hmsg,
                         uint32_t hdr_len, uint32_t total_len)
{
    ne_strbuf sb;
    ne_strbuf_init(&sb, out, cap);
    ne_strbuf_puts(&sb, as_hmsg ? "HMSG " : "RMSG ");
    ne_strbuf_puts(&sb, account);
    ne_strbuf_putc(&sb, ' ');
    ne_strbuf_append(&sb, subject.ptr, subject.len);
    if (b->queue_count > 0) {
        if (reply.len > 0) {
            ne_strbuf_puts(&sb, " + ");
            ne_msg_put_reply(&sb, reply, shown);
        } else {
            ne_strbuf_puts(&sb, " |");
        }
        for (uint32_t i = 0; i < b->queue_count; i++) {
            ne_strbuf_putc(&sb, ' ');
            ne_strbuf_append(&sb, b->queue[i], b->queue_len[i]);
        }
    } else if (reply.len > 0) {
        ne_strbuf_putc(&sb, ' ');
        ne_msg_put_reply(&sb, reply, shown);
    }
    ne_strbuf_putc(&sb, ' ');
    if (as_hmsg) {
        ne_strbuf_u64(&sb, hdr_len);
        ne_strbuf_putc(&sb, ' ');
        ne_strbuf_u64(&sb, total_len);
    } else {
        ne_strbuf_u64(&sb, total_len - hdr_len);
    }
    ne_strbuf_puts(&sb, "\r\n");
    return sb.truncated ? 0 : sb.len;
}

#endif /* NE_FEATURE_ROUTES */
