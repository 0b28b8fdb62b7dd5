/* The leaf protocol's peer input and output that need no server state:
 * LMSG/HMSG arguments in their leaf forms, the peer's INFO, credentials
 * files, nonce signing, remote URLs and the message line we send. */
#include <string.h>

#include "core/ne_error.h"
#include "core/ne_fmt.h"
#include "json/ne_json.h"
#include "leaf/ne_leaf.h"
#include "port.h"
#include "auth/ne_nkey.h"

/* Subject, "+", reply, queues, header size, total size. */
#define NE_LEAF_MAX_MSG_ARGS (5 + NE_MAX_MATCH_QUEUE_GROUPS)

static bool parse_size(ne_slice s, uint64_t *out)
{
    return ne_parse_u64(s.ptr, s.len, 0x7fffffffu, out);
}

static bool is_marker(ne_slice s, char c)
{
    return s.len == 1 && s.ptr[0] == c;
}

/* LMSG <subject> [<reply>] <size>
 * LMSG <subject> + <reply> <queue>... <size>
 * LMSG <subject> | <queue>... <size>
 * HMSG: the same with <header size> before <size> (LN-17..LN-19). */
static ne_proto_status parse_leaf_msg(const char *rest, size_t rest_len, ne_op *op, bool hmsg)
{
    ne_slice args[NE_LEAF_MAX_MSG_ARGS];
    int n = ne_proto_split_args(rest, rest_len, args, NE_LEAF_MAX_MSG_ARGS);
    int sizes = hmsg ? 2 : 1;
    if (n < 1 + sizes || n > NE_LEAF_MAX_MSG_ARGS) {
        return NE_PROTO_BAD_ARGS;
    }
    op->subject = args[0];
    int q_first = 0, q_end = 0; /* queue names: args[q_first .. q_end) */
    if (n >= 2 + sizes && is_marker(args[1], '+')) {
        if (n < 4 + sizes) {
            return NE_PROTO_BAD_ARGS;
        }
        op->reply = args[2];
        q_first = 3;
        q_end = n - sizes;
    } else if (n >= 2 + sizes && is_marker(args[1], '|')) {
        if (n < 3 + sizes) {
            return NE_PROTO_BAD_ARGS;
        }
        q_first = 2;
        q_end = n - sizes;
    } else if (n == 2 + sizes) {
        op->reply = args[1];
    } else if (n != 1 + sizes) {
        return NE_PROTO_BAD_ARGS;
    }
    if (q_end > q_first) {
        op->queue.ptr = args[q_first].ptr;
        op->queue.len = (uint32_t)(args[q_end - 1].ptr + args[q_end - 1].len - args[q_first].ptr);
    }
    if (hmsg) {
        if (!parse_size(args[n - 2], &op->hdr_len)) {
            return NE_PROTO_BAD_ARGS;
        }
    }
    if (!parse_size(args[n - 1], &op->total_len) || op->hdr_len > op->total_len) {
        return NE_PROTO_BAD_ARGS;
    }
    return NE_PROTO_OK;
}

ne_proto_status ne_leaf_parse_line(const char *line, size_t len, ne_op *op)
{
    size_t verb_len = 0;
    while (verb_len < len && line[verb_len] != ' ' && line[verb_len] != '\t') {
        verb_len++;
    }
    bool lmsg = verb_len == 4 && (line[0] | 0x20) == 'l' && (line[1] | 0x20) == 'm' &&
                (line[2] | 0x20) == 's' && (line[3] | 0x20) == 'g';
    bool hmsg = verb_len == 4 && (line[0] | 0x20) == 'h' && (line[1] | 0x20) == 'm' &&
                (line[2] | 0x20) == 's' && (line[3] | 0x20) == 'g';
    if (!lmsg && !hmsg) {
        return ne_proto_parse_line(line, len, op);
    }
    memset(op, 0, sizeof(*op));
    op->kind = lmsg ? NE_OP_LMSG : NE_OP_HMSG;
    return parse_leaf_msg(line + verb_len, len - verb_len, op, hmsg);
}

size_t ne_leaf_msg_line(char *out, size_t cap, const ne_batch *t, ne_slice subject, ne_slice shown,
                        ne_slice reply, bool as_hmsg, uint32_t hdr_len, uint32_t total_len)
{
    if (reply.len == 0) {
        shown = (ne_slice){"", 0};
    }
    ne_strbuf sb;
    ne_strbuf_init(&sb, out, cap);
    ne_strbuf_puts(&sb, as_hmsg ? "HMSG " : "LMSG ");
    ne_strbuf_append(&sb, subject.ptr, subject.len);
    if (t->queue_count > 0) {
        if (reply.len > 0) {
            ne_strbuf_puts(&sb, " + ");
            ne_msg_put_reply(&sb, reply, shown);
        } else {
            ne_strbuf_puts(&sb, " |");
        }
        for (uint32_t i = 0; i < t->queue_count; i++) {
            ne_strbuf_putc(&sb, ' ');
            ne_strbuf_append(&sb, t->queue[i], t->queue_len[i]);
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

static void get_string(const ne_json_doc *doc, const char *key, char *dst, size_t cap)
{
    if (!ne_json_get_string(doc, 0, key, dst, cap, NULL)) {
        dst[0] = '\0';
    }
}

int ne_leaf_parse_info(const char *json, size_t len, ne_leaf_info *info, ne_json_doc *doc)
{
    memset(info, 0, sizeof(*info));
    if (ne_json_parse(doc, json, len) != NE_OK || doc->count < 1 ||
        doc->tokens[0].type != JSMN_OBJECT) {
        return NE_ERR_PARSE;
    }
    get_string(doc, "server_id", info->server_id, sizeof(info->server_id));
    get_string(doc, "server_name", info->server_name, sizeof(info->server_name));
    get_string(doc, "nonce", info->nonce, sizeof(info->nonce));
    get_string(doc, "remote_account", info->remote_account, sizeof(info->remote_account));
    get_string(doc, "domain", info->domain, sizeof(info->domain));
    int64_t v = 0;
    if (ne_json_get_i64(doc, 0, "client_id", &v) && v > 0) {
        info->client_id = (uint64_t)v;
    }
    if (ne_json_get_i64(doc, 0, "max_payload", &v) && v > 0 && v <= 0x7fffffff) {
        info->max_payload = (uint32_t)v;
    }
    (void)ne_json_get_bool(doc, 0, "headers", &info->headers);
    (void)ne_json_get_bool(doc, 0, "info_on_connect", &info->info_on_connect);
    (void)ne_json_get_bool(doc, 0, "connect_info", &info->connect_info);
    (void)ne_json_get_bool(doc, 0, "auth_required", &info->auth_required);
    (void)ne_json_get_bool(doc, 0, "tls_required", &info->tls_required);
    (void)ne_json_get_bool(doc, 0, "jetstream", &info->jetstream);
    int idx = ne_json_find(doc, 0, "leafnode_urls");
    info->has_leafnode_urls = idx >= 0 && doc->tokens[idx].type == JSMN_ARRAY;
    if (info->has_leafnode_urls) {
        int n = doc->tokens[idx].size;
        int item = idx + 1;
        for (int i = 0; i < n && item < doc->count; i++) {
            if (doc->tokens[item].type == JSMN_STRING && info->url_count < NE_LEAF_MAX_URLS &&
                ne_json_token_string(doc, item, info->urls[info->url_count], sizeof(info->urls[0]),
                                     NULL) &&
                info->urls[info->url_count][0] != '\0') {
                info->url_count++;
            }
            item = ne_json_skip(doc, item);
        }
    }
    return NE_OK;
}

/* The block after a "-----BEGIN ...-----" line up to the next line of
 * dashes: returns its trimmed text. */
static bool fenced_block(const char *text, size_t len, size_t *pos, const char **out,
                         size_t *out_len)
{
    /* Find an opening fence: a line starting with at least three dashes. */
    size_t i = *pos;
    while (i < len) {
        size_t line_end = i;
        while (line_end < len && text[line_end] != '\n') {
            line_end++;
        }
        bool fence =
            line_end - i >= 3 && text[i] == '-' && text[i + 1] == '-' && text[i + 2] == '-';
        i = line_end < len ? line_end + 1 : len;
        if (!fence) {
            continue;
        }
        size_t start = i;
        size_t end = start;
        while (end < len) {
            size_t le = end;
            while (le < len && text[le] != '\n') {
                le++;
            }
            size_t s = end;
            while (s < le && (text[s] == ' ' || text[s] == '\t')) {
                s++;
            }
            if (le - s >= 3 && text[s] == '-' && text[s + 1] == '-' && text[s + 2] == '-') {
                break;
            }
            end = le < len ? le + 1 : len;
        }
        if (end >= len) {
            return false; /* no closing fence */
        }
        /* Trim white space around the block. */
        size_t a = start, b = end;
        while (a < b && (text[a] == ' ' || text[a] == '\t' || text[a] == '\r' || text[a] == '\n')) {
            a++;
        }
        while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\t' || text[b - 1] == '\r' ||
                         text[b - 1] == '\n')) {
            b--;
        }
        /* Skip past the closing fence line. */
        while (end < len && text[end] != '\n') {
            end++;
        }
        *pos = end < len ? end + 1 : len;
        *out = text + a;
        *out_len = b - a;
        return true;
    }
    return false;
}

int ne_leaf_parse_creds(const char *text, size_t len, char *jwt, size_t jwt_cap, char *seed,
                        size_t seed_cap)
{
    size_t pos = 0;
    const char *block;
    size_t block_len;
    if (!fenced_block(text, len, &pos, &block, &block_len) || block_len == 0) {
        return NE_ERR_PARSE;
    }
    if (block_len >= jwt_cap) {
        return NE_ERR_TOO_BIG;
    }
    memcpy(jwt, block, block_len);
    jwt[block_len] = '\0';
    if (!fenced_block(text, len, &pos, &block, &block_len) || block_len == 0) {
        return NE_ERR_PARSE;
    }
    if (block_len >= seed_cap) {
        return NE_ERR_TOO_BIG;
    }
    memcpy(seed, block, block_len);
    seed[block_len] = '\0';
    /* A JWT has no white space inside; a seed is "SU" and base32. */
    for (size_t i = 0; jwt[i] != '\0'; i++) {
        if (jwt[i] == ' ' || jwt[i] == '\n' || jwt[i] == '\r' || jwt[i] == '\t') {
            return NE_ERR_PARSE;
        }
    }
    if (seed[0] != 'S' || seed[1] != 'U') {
        return NE_ERR_PARSE;
    }
    return NE_OK;
}

int ne_leaf_sign_nonce(const char *seed, const char *nonce, char sig[90])
{
    uint8_t key[32];
    if (!ne_nkey_decode_user_seed(seed, strlen(seed), key)) {
        return NE_ERR_PARSE;
    }
    uint8_t raw[64];
    int rc = ne_port_ed25519_sign(raw, (const uint8_t *)nonce, strlen(nonce), key);
    memset(key, 0, sizeof(key));
    if (rc != NE_OK) {
        return rc;
    }
    (void)ne_b64url_encode(raw, sizeof(raw), sig);
    return NE_OK;
}

static bool copy_part(const char *p, size_t n, char *dst, size_t cap)
{
    if (n >= cap) {
        return false;
    }
    memcpy(dst, p, n);
    dst[n] = '\0';
    return true;
}

int ne_leaf_parse_url(const char *url, ne_leaf_url *out)
{
    memset(out, 0, sizeof(*out));
    size_t len = strlen(url);
    const char *p = url;
    const char *sep = strstr(url, "://");
    if (sep != NULL) {
        size_t scheme_len = (size_t)(sep - url);
        if (scheme_len == 3 && memcmp(url, "tls", 3) == 0) {
            out->tls = true;
        } else if (!((scheme_len == 4 && memcmp(url, "nats", 4) == 0) ||
                     (scheme_len == 9 && memcmp(url, "nats-leaf", 9) == 0))) {
            return NE_ERR_UNSUPPORTED;
        }
        p = sep + 3;
    }
    const char *end = url + len;
    /* Anything after a '/' is a path: ignored as nats-server does. */
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
        if (colon != NULL) {
            if (!copy_part(p, (size_t)(colon - p), out->user, sizeof(out->user)) ||
                !copy_part(colon + 1, (size_t)(at - colon - 1), out->pass, sizeof(out->pass))) {
                return NE_ERR_TOO_BIG;
            }
        } else if (!copy_part(p, (size_t)(at - p), out->user, sizeof(out->user))) {
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
        if (rb + 1 < end && rb[1] == ':') {
            port_start = rb + 2;
        }
    } else {
        const char *colon = NULL;
        for (const char *q = p; q < end; q++) {
            if (*q == ':') {
                colon = q;
            }
        }
        if (colon != NULL) {
            host_end = colon;
            port_start = colon + 1;
        }
        if (!copy_part(p, (size_t)(host_end - p), out->host, sizeof(out->host))) {
            return NE_ERR_TOO_BIG;
        }
    }
    if (out->host[0] == '\0') {
        return NE_ERR_INVALID;
    }
    uint64_t port = 7422; /* nats-server's default leaf port */
    if (port_start != NULL && !ne_parse_u64(port_start, (size_t)(end - port_start), 65535, &port)) {
        return NE_ERR_INVALID;
    }
    if (port == 0) {
        return NE_ERR_INVALID;
    }
    out->port = (uint16_t)port;
    return NE_OK;
}
