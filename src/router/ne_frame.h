/* Framing of the NATS-family text protocols (client, leaf, route): control
 * lines and the payloads after them, in place in the read buffer when they
 * fit, else assembled in pool chunks (the connection's spill), as one
 * ne_msg handed to the kind. nats-server's rules for over-long lines, bad
 * arguments and bad payload trailers (CP-03, CP-05..CP-07). */
#ifndef NE_FRAME_H
#define NE_FRAME_H

#include <stdbool.h>
#include <stdint.h>

#include <string.h>

#include "conn/ne_conn.h"
#include "proto/ne_proto.h"
#include "proto/ne_proto_err.h"
#include "router/ne_router.h"

/* What the kind says of an operation before its payload is read. */
typedef enum ne_frame_payload {
    NE_FRAME_NO_PAYLOAD, /* an operation without payload: handle_op */
    NE_FRAME_PAYLOAD,    /* a message whose payload follows: handle_msg once it is in */
    NE_FRAME_REFUSED,    /* the kind closed the connection with its error */
} ne_frame_payload;

typedef struct ne_frame_ops {
    /* Parses one control line (without its terminator). */
    ne_proto_status (*parse)(const char *line, size_t len, ne_op *op);
    /* Whether a payload follows (PUB, HPUB, LMSG...), with the message's
     * sizes and form checked before it is read. */
    ne_frame_payload (*payload)(ne_conn *conn, const ne_op *op);
    /* Every other operation. */
    void (*handle_op)(ne_conn *conn, const ne_op *op);
    /* A whole message; its payload is valid for the call only. */
    void (*handle_msg)(ne_conn *conn, ne_msg *msg);
} ne_frame_ops;

/* The cold paths of ne_frame_input (ne_frame.c). */
void ne_frame_trace(ne_conn *conn, const uint8_t *line, uint32_t len);
/* A line over max_control_line: "maximum control line exceeded" when it
 * starts with a verb, else "Unknown Protocol Operation" (CP-07). */
void ne_frame_overlong(ne_conn *conn, const uint8_t *line, uint32_t len);
/* A line the parser refused (CP-05, CP-06). */
void ne_frame_bad_line(ne_conn *conn, ne_proto_status st, const uint8_t *line, uint32_t len);
/* A message whose payload is not all in buf yet: waits for it in the read
 * buffer, or starts assembling it in chunks. Returns the bytes consumed. */
uint32_t ne_frame_large(ne_conn *conn, const ne_frame_ops *ops, const ne_op *op,
                        const uint8_t *line, uint32_t line_bytes, uint32_t avail);
/* Feeds bytes to the message being assembled; returns the bytes taken. */
uint32_t ne_frame_spill_feed(ne_conn *conn, const ne_frame_ops *ops, const uint8_t *bytes,
                             uint32_t len);

/* Bytes of a control line that count against max_control_line: nats-server
 * counts the arguments, from the first non-blank after the verb (CP-07). */
static inline uint32_t ne_frame_arg_bytes(const uint8_t *line, uint32_t len)
{
    uint32_t i = 0;
    while (i < len && line[i] != ' ' && line[i] != '\t') {
        i++;
    }
    while (i < len && (line[i] == ' ' || line[i] == '\t')) {
        i++;
    }
    return len - i;
}

/* A message whose control line is complete. Returns the bytes consumed from
 * `line`, or 0 to wait for more input. */
static inline uint32_t ne_frame_msg(ne_conn *conn, const ne_frame_ops *ops, const ne_op *op,
                                    const uint8_t *line, uint32_t line_bytes, uint32_t avail)
{
    uint64_t need = (uint64_t)line_bytes + op->total_len + 2;
    const uint8_t *payload = line + line_bytes;
    if (need > avail) {
        return ne_frame_large(conn, ops, op, line, line_bytes, avail);
    }
    if (payload[op->total_len] != '\r' || payload[op->total_len + 1] != '\n') {
        ne_conn_close(conn, NE_CLOSE_PARSE_ERROR, NE_PROTO_ERR_UNKNOWN_OP);
        return avail;
    }
    ne_msg msg;
    NE_MSG_CLEAR(&msg);
    msg.subject = op->subject;
    msg.reply = op->reply;
    msg.queues = op->queue;
    msg.hdr_len = (uint32_t)op->hdr_len;
    msg.total_len = (uint32_t)op->total_len;
    msg.has_headers = op->kind == NE_OP_HPUB || op->kind == NE_OP_HMSG;
    msg.data = payload;
    ops->handle_msg(conn, &msg);
    return (uint32_t)need;
}

/* Parses and handles buf[0, len) for conn; returns the bytes consumed. What
 * is left is an incomplete message that fits the connection's own buffer,
 * unless the connection closed or paused its reads (chunks exhausted).
 * Inline, so that each kind's call with its constant ops table becomes
 * direct calls the compiler can inline (the per-message path). */
static inline uint32_t ne_frame_input(ne_conn *conn, const ne_frame_ops *ops, uint8_t *buf,
                                      uint32_t len)
{
    ne_conn_io *io = conn->io;
    uint32_t max_control_line = conn->set->opts->max_control_line;
    uint32_t pos = 0;
    /* Each pass consumes at least one byte or leaves the loop. */
    while (pos < len && !conn->closing && !io->read_paused) {
        uint32_t avail = len - pos;
        if (io->spill != NULL) {
            pos += ne_frame_spill_feed(conn, ops, buf + pos, avail);
            continue;
        }
        if (ne_conn_hold_input(conn)) {
            break; /* a service is congested: the rest waits for the turn's end */
        }
        const uint8_t *line = buf + pos;
        const uint8_t *nl = memchr(line, '\n', avail);
        if (nl == NULL) {
            /* Verbs are short: a line this long without a blank is over
             * the limit too, and the read buffer must not fill up. */
            if (ne_frame_arg_bytes(line, avail) > max_control_line ||
                avail > max_control_line + 32) {
                ne_frame_overlong(conn, line, avail);
            }
            break;
        }
        uint32_t line_bytes = (uint32_t)(nl - line) + 1;
        uint32_t line_len = line_bytes - 1;
        if (line_len > 0 && line[line_len - 1] == '\r') {
            line_len--;
        }
        /* The arguments are never longer than the line. */
        if (line_len > max_control_line && ne_frame_arg_bytes(line, line_len) > max_control_line) {
            ne_conn_close(conn, NE_CLOSE_MAX_CONTROL_LINE, NE_PROTO_ERR_MAX_CONTROL_LINE);
            break;
        }
        ne_op op;
        ne_proto_status st = ops->parse((const char *)line, line_len, &op);
        if (st == NE_PROTO_UNKNOWN_OP || st == NE_PROTO_BAD_ARGS) {
            ne_frame_bad_line(conn, st, line, line_len);
            break;
        }
        ne_frame_payload fp = ops->payload(conn, &op);
        if (fp == NE_FRAME_REFUSED) {
            break;
        }
        if (fp == NE_FRAME_PAYLOAD) {
            uint32_t used = ne_frame_msg(conn, ops, &op, line, line_bytes, avail);
            if (used == 0) {
                break; /* traced once its payload is taken */
            }
            if (ne_conn_log_enabled(conn, NE_LOG_TRACE)) {
                ne_frame_trace(conn, line, line_len);
            }
            pos += used;
            continue;
        }
        if (ne_conn_log_enabled(conn, NE_LOG_TRACE)) {
            ne_frame_trace(conn, line, line_len);
        }
        if (!conn->closing) {
            ops->handle_op(conn, &op);
        }
        pos += line_bytes;
    }
    return pos;
}

#endif
