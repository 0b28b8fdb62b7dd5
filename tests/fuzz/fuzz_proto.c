/* libFuzzer harness for the control-line parser: any bytes, any length. The
 * slices it returns must lie inside the line, and the parser with its PUB
 * fast path must give exactly what the full parser gives. What it parsed is
 * written back as a MSG/HMSG line into buffers of every capacity around the
 * line's length: a whole line or nothing, never a byte past the capacity. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/ne_proto.h"

static void check_slice(ne_slice s, const char *line, size_t len)
{
    if (s.len > 0 && (s.ptr < line || s.ptr + s.len > line + len)) {
        abort();
    }
}

static bool same_slice(ne_slice a, ne_slice b)
{
    return a.len == b.len && (a.len == 0 || a.ptr == b.ptr);
}

/* Field by field: slices carry padding that a struct copy leaves as it was. */
static bool same_op(const ne_op *a, const ne_op *b)
{
    return a->kind == b->kind && same_slice(a->subject, b->subject) &&
           same_slice(a->reply, b->reply) && same_slice(a->queue, b->queue) &&
           same_slice(a->sid, b->sid) && same_slice(a->text, b->text) && a->hdr_len == b->hdr_len &&
           a->total_len == b->total_len && a->max_msgs == b->max_msgs && a->weight == b->weight;
}

static void check_msg_line(const ne_op *op)
{
    static char out[2 * 65536 + 64], sizes[41];
    bool hmsg = op->kind == NE_OP_HPUB;
    size_t sizes_len = ne_proto_msg_sizes(sizes, sizeof(sizes), hmsg, op->hdr_len, op->total_len);
    if (sizes_len == 0 || op->subject.len == 0) {
        abort();
    }
    ne_slice sid = op->reply.len > 0 ? op->reply : (ne_slice){"1", 1};
    ne_slice sz = {sizes, (uint32_t)sizes_len};
    size_t need = (hmsg ? 5 : 4) + op->subject.len + 1 + sid.len + 1 +
                  (op->reply.len > 0 ? op->reply.len + 1u : 0u) + sizes_len + 2;
    if (need + 2 > sizeof(out)) {
        return;
    }
    for (size_t cap = need - 1; cap <= need + 1; cap++) {
        memset(out, '#', need + 2);
        size_t n = ne_proto_msg_line(out, cap, hmsg, op->subject, sid, op->reply, sz);
        if (n != (need <= cap ? need : 0) || out[cap] != '#' ||
            (n > 0 && (memcmp(out, hmsg ? "HMSG " : "MSG ", hmsg ? 5 : 4) != 0 ||
                       memcmp(out + n - 2, "\r\n", 2) != 0))) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *line = (const char *)data;
    ne_op op;
    ne_op full;
    ne_proto_status st = ne_proto_parse_line(line, size, &op);
    if (ne_proto_parse_line_full(line, size, &full) != st) {
        abort();
    }
    if (st == NE_PROTO_OK && !same_op(&op, &full)) {
        abort();
    }
    if (st == NE_PROTO_OK) {
        check_slice(op.subject, line, size);
        check_slice(op.reply, line, size);
        check_slice(op.queue, line, size);
        check_slice(op.sid, line, size);
        check_slice(op.text, line, size);
        if (op.hdr_len > op.total_len) {
            abort();
        }
        if (op.kind == NE_OP_PUB || op.kind == NE_OP_HPUB) {
            check_msg_line(&op);
        }
    }
    return 0;
}
