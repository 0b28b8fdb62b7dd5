#include "proto/ne_proto.h"

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_fmt.h"
#include "ne_config.h"

#define NE_PROTO_MAX_ARGS 8

static inline bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static inline char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
}

int ne_proto_split_args(const char *text, size_t len, ne_slice *args, int max)
{
    int n = 0;
    size_t i = 0;
    while (i < len) {
        while (i < len && is_space(text[i])) {
            i++;
        }
        if (i == len) {
            break;
        }
        size_t start = i;
        while (i < len && !is_space(text[i])) {
            i++;
        }
        if (n == max) {
            return max + 1;
        }
        args[n].ptr = text + start;
        args[n].len = (uint32_t)(i - start);
        n++;
    }
    return n;
}

/* Verbs are matched case-insensitively (CP-01). The verb ends at the first
 * space or tab, or at the end of the line. */
static bool verb_is(const char *verb, size_t verb_len, const char *want)
{
    size_t n = strlen(want);
    if (verb_len != n) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (lower(verb[i]) != want[i]) {
            return false;
        }
    }
    return true;
}

/* nats-server reads a size of at most 9 digits (its parseSize); a longer
 * one, leading zeros included, is not a size: for PUB and HPUB an argument
 * error, which closes the connection without -ERR (CP-06). */
static bool parse_size(ne_slice s, uint64_t *out)
{
    return s.len <= 9 && ne_parse_u64(s.ptr, s.len, 999999999u, out);
}

static ne_proto_status parse_pub(const ne_slice *args, int n, ne_op *op)
{
    if (n < 2 || n > 3) {
        return NE_PROTO_BAD_ARGS;
    }
    op->subject = args[0];
    if (n == 3) {
        op->reply = args[1];
    }
    return parse_size(args[n - 1], &op->total_len) ? NE_PROTO_OK : NE_PROTO_BAD_ARGS;
}

static ne_proto_status parse_hpub(const ne_slice *args, int n, ne_op *op)
{
    if (n < 3 || n > 4) {
        return NE_PROTO_BAD_ARGS;
    }
    op->subject = args[0];
    if (n == 4) {
        op->reply = args[1];
    }
    if (!parse_size(args[n - 2], &op->hdr_len) || !parse_size(args[n - 1], &op->total_len) ||
        op->hdr_len > op->total_len) {
        return NE_PROTO_BAD_ARGS;
    }
    return NE_PROTO_OK;
}

static ne_proto_status parse_sub(const ne_slice *args, int n, ne_op *op)
{
    if (n < 2 || n > 3) {
        return NE_PROTO_BAD_ARGS;
    }
    op->subject = args[0];
    if (n == 3) {
        op->queue = args[1];
    }
    op->sid = args[n - 1];
    return NE_PROTO_OK;
}

static ne_proto_status parse_unsub(const ne_slice *args, int n, ne_op *op)
{
    if (n < 1 || n > 2) {
        return NE_PROTO_BAD_ARGS;
    }
    op->sid = args[0];
    if (n == 2 && !parse_size(args[1], &op->max_msgs)) {
        /* nats-server takes a maximum that is not a size as none left to
         * deliver: the subscription goes at once (CP-39). */
        op->max_msgs = 0;
    }
    return NE_PROTO_OK;
}

/* MSG <subject> <sid> [reply] <size>, HMSG <subject> <sid> [reply] <hdr> <total>. */
static ne_proto_status parse_msg(const ne_slice *args, int n, ne_op *op, bool headers)
{
    int fixed = headers ? 4 : 3;
    if (n < fixed || n > fixed + 1) {
        return NE_PROTO_BAD_ARGS;
    }
    op->subject = args[0];
    op->sid = args[1];
    if (n == fixed + 1) {
        op->reply = args[2];
    }
    if (headers) {
        if (!parse_size(args[n - 2], &op->hdr_len) || op->hdr_len > 0x7fffffffu) {
            return NE_PROTO_BAD_ARGS;
        }
    }
    if (!parse_size(args[n - 1], &op->total_len) || op->hdr_len > op->total_len) {
        return NE_PROTO_BAD_ARGS;
    }
    return NE_PROTO_OK;
}

/* Leaf interest: LS+ <subject> [<queue> <weight>], LS- <subject> [<queue>]. */
static ne_proto_status parse_ls(const ne_slice *args, int n, ne_op *op, bool plus)
{
    if (n < 1 || n > (plus ? 3 : 2) || (plus && n == 2)) {
        return NE_PROTO_BAD_ARGS;
    }
    op->subject = args[0];
    if (n >= 2) {
        op->queue = args[1];
    }
    if (plus && n == 3 && !ne_parse_u64(args[2].ptr, args[2].len, 0x7fffffffu, &op->weight)) {
        return NE_PROTO_BAD_ARGS;
    }
    return NE_PROTO_OK;
}

static ne_slice trim(const char *p, size_t len)
{
    while (len > 0 && is_space(*p)) {
        p++;
        len--;
    }
    while (len > 0 && (is_space(p[len - 1]) || p[len - 1] == '\r')) {
        len--;
    }
    ne_slice s = {p, (uint32_t)len};
    return s;
}

/* "PUB <subject> <size>" or "PUB <subject> <reply> <size>" with single
 * spaces, no tab and a size of at most 9 digits: what clients send nearly
 * always. Parsed here without splitting into an argument array: the size is
 * read backwards from the end, then one search for a blank (and one for a
 * tab) splits subject and reply. Any other form (tabs, runs of blanks, lower
 * case, a bad or long size) returns false and the full parser decides. For
 * the lines it takes, the result is the full parser's (fuzz_proto checks
 * it). */
static bool parse_pub_fast(const char *line, size_t len, ne_op *op)
{
    if (len < 7 || line[0] != 'P' || line[1] != 'U' || line[2] != 'B' || line[3] != ' ') {
        return false;
    }
    const char *args = line + 4;
    const char *end = line + len;
    const char *digits = end;
    while (digits > args && (unsigned char)(digits[-1] - '0') <= 9u) {
        digits--;
    }
    size_t ndigits = (size_t)(end - digits);
    /* Nine digits stay below the limit (0x7fffffff) without a check. */
    if (ndigits == 0 || ndigits > 9 || digits - args < 2 || digits[-1] != ' ') {
        return false;
    }
    uint64_t total = 0;
    for (const char *d = digits; d < end; d++) {
        total = total * 10u + (uint64_t)(*d - '0');
    }
    size_t args_len = (size_t)(digits - 1 - args); /* "<subject>" or "<subject> <reply>" */
    if (memchr(args, '\t', args_len) != NULL) {
        return false;
    }
    ne_slice subject = {args, (uint32_t)args_len};
    ne_slice reply = {NULL, 0};
    const char *sp = memchr(args, ' ', args_len);
    if (sp != NULL) {
        const char *r = sp + 1;
        size_t reply_len = (size_t)(args + args_len - r);
        if (sp == args || reply_len == 0 || memchr(r, ' ', reply_len) != NULL) {
            return false;
        }
        subject.len = (uint32_t)(sp - args);
        reply = (ne_slice){r, (uint32_t)reply_len};
    }
    memset(op, 0, sizeof(*op));
    op->kind = NE_OP_PUB;
    op->subject = subject;
    op->reply = reply;
    op->total_len = total;
    return true;
}

ne_proto_status ne_proto_parse_line(const char *line, size_t len, ne_op *op)
{
    if (parse_pub_fast(line, len, op)) {
        return NE_PROTO_OK;
    }
    return ne_proto_parse_line_full(line, len, op);
}

ne_proto_status ne_proto_parse_line_full(const char *line, size_t len, ne_op *op)
{
    memset(op, 0, sizeof(*op));
    size_t verb_len = 0;
    while (verb_len < len && !is_space(line[verb_len])) {
        verb_len++;
    }
    const char *rest = line + verb_len;
    size_t rest_len = len - verb_len;
    ne_slice args[NE_PROTO_MAX_ARGS];
    int n;

    switch (verb_len == 0 ? '\0' : lower(line[0])) {
    case 'p':
        if (verb_is(line, verb_len, "pub")) {
            op->kind = NE_OP_PUB;
            n = ne_proto_split_args(rest, rest_len, args, NE_PROTO_MAX_ARGS);
            return parse_pub(args, n, op);
        }
        /* PING and PONG ignore anything after the verb (CP-04). */
        if (verb_len >= 4 && verb_is(line, 4, "ping")) {
            op->kind = NE_OP_PING;
            return NE_PROTO_OK;
        }
        if (verb_len >= 4 && verb_is(line, 4, "pong")) {
            op->kind = NE_OP_PONG;
            return NE_PROTO_OK;
        }
        break;
    case 'h':
        if (verb_is(line, verb_len, "hpub")) {
            op->kind = NE_OP_HPUB;
            n = ne_proto_split_args(rest, rest_len, args, NE_PROTO_MAX_ARGS);
            return parse_hpub(args, n, op);
        }
        if (verb_is(line, verb_len, "hmsg")) {
            op->kind = NE_OP_HMSG;
            n = ne_proto_split_args(rest, rest_len, args, NE_PROTO_MAX_ARGS);
            return parse_msg(args, n, op, true);
        }
        break;
    case 's':
        if (verb_is(line, verb_len, "sub")) {
            op->kind = NE_OP_SUB;
            n = ne_proto_split_args(rest, rest_len, args, NE_PROTO_MAX_ARGS);
            return parse_sub(args, n, op);
        }
        break;
    case 'u':
        if (verb_is(line, verb_len, "unsub")) {
            op->kind = NE_OP_UNSUB;
            n = ne_proto_split_args(rest, rest_len, args, NE_PROTO_MAX_ARGS);
            return parse_unsub(args, n, op);
        }
        break;
    case 'c':
        if (verb_is(line, verb_len, "connect")) {
            op->kind = NE_OP_CONNECT;
            op->text = trim(rest, rest_len);
            return NE_PROTO_OK;
        }
        break;
    case 'i':
        if (verb_is(line, verb_len, "info")) {
            op->kind = NE_OP_INFO;
            op->text = trim(rest, rest_len);
            return NE_PROTO_OK;
        }
        break;
    case 'm':
        if (verb_is(line, verb_len, "msg")) {
            op->kind = NE_OP_MSG;
            n = ne_proto_split_args(rest, rest_len, args, NE_PROTO_MAX_ARGS);
            return parse_msg(args, n, op, false);
        }
        break;
    case 'l':
        if (verb_is(line, verb_len, "ls+")) {
            op->kind = NE_OP_LS_PLUS;
            n = ne_proto_split_args(rest, rest_len, args, NE_PROTO_MAX_ARGS);
            return parse_ls(args, n, op, true);
        }
        if (verb_is(line, verb_len, "ls-")) {
            op->kind = NE_OP_LS_MINUS;
            n = ne_proto_split_args(rest, rest_len, args, NE_PROTO_MAX_ARGS);
            return parse_ls(args, n, op, false);
        }
        if (verb_is(line, verb_len, "lmsg")) {
            op->kind = NE_OP_LMSG;
            n = ne_proto_split_args(rest, rest_len, args, NE_PROTO_MAX_ARGS);
            /* split_args says max + 1 when there were more arguments than fit. */
            if (n < 2 || n > NE_PROTO_MAX_ARGS) {
                return NE_PROTO_BAD_ARGS;
            }
            op->subject = args[0];
            if (n == 3) {
                op->reply = args[1];
            }
            /* Queue-targeted forms ("+ reply q..." / "| q...") are read by the
             * leaf module from the raw arguments. */
            return parse_size(args[n - 1], &op->total_len) ? NE_PROTO_OK : NE_PROTO_BAD_ARGS;
        }
        break;
    case '+':
        if (verb_is(line, verb_len, "+ok")) {
            op->kind = NE_OP_OK;
            return NE_PROTO_OK;
        }
        break;
    case '-':
        if (verb_is(line, verb_len, "-err")) {
            op->kind = NE_OP_ERR;
            op->text = trim(rest, rest_len);
            return NE_PROTO_OK;
        }
        break;
    default:
        break;
    }
    return NE_PROTO_UNKNOWN_OP;
}

bool ne_proto_queue_listed(ne_slice queues, const char *queue, uint16_t queue_len)
{
    ne_slice names[NE_MAX_MATCH_QUEUE_GROUPS];
    int n = ne_proto_split_args(queues.ptr, queues.len, names, NE_MAX_MATCH_QUEUE_GROUPS);
    n = n > NE_MAX_MATCH_QUEUE_GROUPS ? NE_MAX_MATCH_QUEUE_GROUPS : n;
    for (int i = 0; i < n; i++) {
        if (names[i].len == queue_len && memcmp(names[i].ptr, queue, queue_len) == 0) {
            return true;
        }
    }
    return false;
}

/* ---- Writers -------------------------------------------------------------- */

size_t ne_proto_msg_sizes(char *out, size_t cap, bool hmsg, uint64_t hdr_len, uint64_t total_len)
{
    NE_ASSERT(hdr_len <= total_len);
    if (!hmsg) {
        return ne_fmt_u64(out, cap, total_len - hdr_len);
    }
    size_t n = ne_fmt_u64(out, cap, hdr_len);
    if (n == 0 || n == cap) {
        return 0;
    }
    out[n] = ' ';
    size_t m = ne_fmt_u64(out + n + 1, cap - n - 1, total_len);
    return m == 0 ? 0 : n + 1 + m;
}

static size_t put(char *p, const char *text, size_t len)
{
    memcpy(p, text, len);
    return len;
}

/* The length is known before a byte is written: a line that does not fit
 * leaves out untouched. */
size_t ne_proto_msg_line(char *out, size_t cap, bool hmsg, ne_slice subject, ne_slice sid,
                         ne_slice reply, ne_slice sizes)
{
    NE_ASSERT(subject.len > 0 && sid.len > 0 && sizes.len > 0);
    size_t verb_len = hmsg ? 5 : 4;
    size_t need = verb_len + (size_t)subject.len + 1 + sid.len + 1 +
                  (reply.len > 0 ? (size_t)reply.len + 1 : 0) + sizes.len + 2;
    if (need > cap) {
        return 0;
    }
    char *p = out;
    p += put(p, hmsg ? "HMSG " : "MSG ", verb_len);
    p += put(p, subject.ptr, subject.len);
    *p++ = ' ';
    p += put(p, sid.ptr, sid.len);
    *p++ = ' ';
    if (reply.len > 0) {
        p += put(p, reply.ptr, reply.len);
        *p++ = ' ';
    }
    p += put(p, sizes.ptr, sizes.len);
    *p++ = '\r';
    *p++ = '\n';
    NE_ASSERT((size_t)(p - out) == need);
    return need;
}

size_t ne_proto_err_vline(char *out, size_t cap, const char *fmt, va_list ap)
{
    ne_strbuf sb;
    ne_strbuf_init(&sb, out, cap);
    ne_strbuf_puts(&sb, "-ERR '");
    ne_strbuf_vprintf(&sb, fmt, ap);
    ne_strbuf_puts(&sb, "'\r\n");
    return sb.truncated ? 0 : sb.len;
}

size_t ne_proto_err_line(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = ne_proto_err_vline(out, cap, fmt, ap);
    va_end(ap);
    return n;
}
