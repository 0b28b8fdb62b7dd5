/* libFuzzer harness for the control-line parser: any bytes, any length. The
 * slices it returns must lie inside the line. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "proto/ne_proto.h"

static void check_slice(ne_slice s, const char *line, size_t len)
{
    if (s.len > 0 && (s.ptr < line || s.ptr + s.len > line + len)) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *line = (const char *)data;
    ne_op op;
    if (ne_proto_parse_line(line, size, &op) == NE_PROTO_OK) {
        check_slice(op.subject, line, size);
        check_slice(op.reply, line, size);
        check_slice(op.queue, line, size);
        check_slice(op.sid, line, size);
        check_slice(op.text, line, size);
        if (op.hdr_len > op.total_len) {
            abort();
        }
    }
    return 0;
}
