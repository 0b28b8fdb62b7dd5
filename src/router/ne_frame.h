/* Framing of the NATS-family text protocols (client, leaf, route): control
 * lines and the payloads after them, in place in the read buffer when they
 * fit, else assembled in pool chunks (the connection's spill), as one
 * ne_msg handed to the kind. nats-server's rules for over-long lines, bad
 * arguments and bad payload trailers (CP-03, CP-05..CP-07). */
#ifndef NE_FRAME_H
#define NE_FRAME_H

#include <stdbool.h>
#include <stdint.h>

#include "conn/ne_conn.h"
#include "proto/ne_proto.h"
#include "router/ne_router.h"

typedef struct ne_frame_ops {
    /* Parses one control line (without its terminator). */
    ne_proto_status (*parse)(const char *line, size_t len, ne_op *op);
    /* True for an operation whose payload follows (PUB, HPUB, LMSG...); it
     * may close the connection (then the rest is not read). */
    bool (*carries_payload)(ne_conn *conn, const ne_op *op);
    /* Checks a message's sizes and form before its payload is read; false
     * closes (the kind has closed the connection with its error). */
    bool (*payload_allowed)(ne_conn *conn, const ne_op *op);
    /* Every other operation. */
    void (*handle_op)(ne_conn *conn, const ne_op *op);
    /* A whole message; its payload is valid for the call only. */
    void (*handle_msg)(ne_conn *conn, ne_msg *msg);
} ne_frame_ops;

/* Parses and handles buf[0, len) for conn; returns the bytes consumed. What
 * is left is an incomplete message that fits the connection's own buffer,
 * unless the connection closed or paused its reads (chunks exhausted). */
uint32_t ne_frame_input(ne_conn *conn, const ne_frame_ops *ops, uint8_t *buf, uint32_t len);

#endif
