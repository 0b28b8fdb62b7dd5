/* The NATS protocol's control lines: parsing one line into an operation, and
 * writing the lines the server sends.
 *
 * Framing (finding line ends, waiting for payloads split across reads) is the
 * connection's job; this module sees one complete control line at a time,
 * without its "\r\n", and never copies: the slices point into the line.
 */
#ifndef NE_PROTO_H
#define NE_PROTO_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ne_slice {
    const char *ptr;
    uint32_t len;
} ne_slice;

typedef enum ne_op_kind {
    NE_OP_CONNECT,
    NE_OP_PUB,
    NE_OP_HPUB,
    NE_OP_SUB,
    NE_OP_UNSUB,
    NE_OP_PING,
    NE_OP_PONG,
    NE_OP_OK,
    NE_OP_ERR,
    NE_OP_INFO,
    NE_OP_MSG,
    NE_OP_HMSG,
    NE_OP_LS_PLUS,
    NE_OP_LS_MINUS,
    NE_OP_LMSG,
    NE_OP_RS_PLUS,
    NE_OP_RS_MINUS,
    NE_OP_RMSG,
} ne_op_kind;

typedef struct ne_op {
    ne_op_kind kind;
    ne_slice account; /* RS+ / RS- / RMSG and a route's HMSG */
    ne_slice subject;
    ne_slice reply;     /* empty when absent */
    ne_slice queue;     /* SUB / LS+ / LS- */
    ne_slice sid;       /* SUB / UNSUB / MSG */
    ne_slice text;      /* CONNECT/INFO JSON, -ERR text */
    uint64_t hdr_len;   /* HPUB/HMSG header bytes, 0 otherwise */
    uint64_t total_len; /* payload bytes including headers */
    uint64_t max_msgs;  /* UNSUB limit, 0 when absent */
    uint64_t weight;    /* LS+ / RS+ queue weight */
} ne_op;

/* Result of parsing one control line. */
typedef enum ne_proto_status {
    NE_PROTO_OK = 0,
    NE_PROTO_UNKNOWN_OP = -1, /* unknown verb: -ERR 'Unknown Protocol Operation' */
    NE_PROTO_BAD_ARGS = -2,   /* wrong argument count or size: close, no -ERR */
} ne_proto_status;

/* Parses one control line (without the line terminator). */
ne_proto_status ne_proto_parse_line(const char *line, size_t len, ne_op *op);
/* The same without the fast path for the common PUB form: for tests that
 * check the two agree. */
ne_proto_status ne_proto_parse_line_full(const char *line, size_t len, ne_op *op);

/* Splits text at runs of spaces and tabs into at most max slices; returns the
 * number of arguments found, or max + 1 if there were more. */
int ne_proto_split_args(const char *text, size_t len, ne_slice *args, int max);

/* True when `queue` is one of the blank-separated names in `queues` (a peer
 * message's queue list, LN-18). */
bool ne_proto_queue_listed(ne_slice queues, const char *queue, uint16_t queue_len);

/* ---- Writers ----
 *
 * Each writes one whole line into out, told out's capacity, and returns the
 * line's length, or 0 when the line does not fit: then nothing in out may be
 * sent. A line is never cut short. */

/* The size field(s) of a delivery line: "<total_len - hdr_len>" for MSG (the
 * headers stripped), "<hdr_len> <total_len>" for HMSG. hdr_len <= total_len. */
size_t ne_proto_msg_sizes(char *out, size_t cap, bool hmsg, uint64_t hdr_len, uint64_t total_len);

/* "MSG <subject> <sid> [<reply>] <sizes>\r\n", or "HMSG ..." when hmsg (CP-41,
 * CP-42); sizes as written by ne_proto_msg_sizes; no reply when reply.len is 0. */
size_t ne_proto_msg_line(char *out, size_t cap, bool hmsg, ne_slice subject, ne_slice sid,
                         ne_slice reply, ne_slice sizes);

/* "-ERR '<text>'\r\n" with the text formatted from fmt as ne_fmt does (CP-50). */
size_t ne_proto_err_line(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
size_t ne_proto_err_vline(char *out, size_t cap, const char *fmt, va_list ap);

static inline bool ne_slice_eq(ne_slice a, const char *text, size_t len)
{
    if (a.len != len) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (a.ptr[i] != text[i]) {
            return false;
        }
    }
    return true;
}

#endif
