/* NATS-family framing (ne_frame.h). */
#include "router/ne_frame.h"

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "proto/ne_proto_err.h"

/* A payload larger than the read buffer is assembled in a chain of chunks
 * ("spilled") and routed once its last byte is in. The chunks are taken as
 * the bytes arrive, so a stalled publisher holds only what it sent. Before
 * its first byte is stored, the message's whole chain is promised to it
 * (ne_conns_partial_admit: ne_chunk_promise within NE_PARTIAL_INPUT_CHUNKS):
 * a message that has started never waits for a chunk, and a message that
 * cannot get its promise waits holding nothing, its reads paused. So two
 * half-received messages can never each wait for chunks the other holds.
 * What stalled publishers hold is bounded by one message per connection, by
 * the share for all of them, and in time by partial_msg_timeout_ms
 * (conn/ne_conn.c, conn_timers); when the share is full, the sender stalled
 * longest is cut for the message that waits. */
static bool spill_start(ne_conn *conn, const ne_op *op)
{
    ne_conns *set = conn->set;
    size_t head_bytes = (size_t)op->subject.len + op->reply.len + op->queue.len;
    size_t total = head_bytes + op->total_len + 2;
    NE_ASSERT(head_bytes <= NE_MAX_CONTROL_LINE_BYTES && op->total_len <= NE_MAX_PAYLOAD_BYTES);
    uint32_t need = (uint32_t)((total + NE_CHUNK_BYTES - 1) / NE_CHUNK_BYTES);
    if (!ne_conns_partial_admit(conn, need)) {
        return false;
    }
    ne_chunk *head = ne_chunk_alloc_promised(&set->chunks);
    memcpy(head->data, op->subject.ptr, op->subject.len);
    if (op->reply.len > 0) {
        memcpy(head->data + op->subject.len, op->reply.ptr, op->reply.len);
    }
    if (op->queue.len > 0) {
        memcpy(head->data + op->subject.len + op->reply.len, op->queue.ptr, op->queue.len);
    }
    head->used = (uint32_t)head_bytes;
    ne_spill *sp = conn->io->spill;
    sp->head = head;
    sp->tail = head; /* the chunk being filled */
    sp->chunks = need;
    sp->promised = need - 1;
    sp->start_ms = set->now_ms;
    sp->last_ms = set->now_ms;
    sp->remaining = (uint32_t)op->total_len + 2;
    sp->subject_len = op->subject.len;
    sp->reply_len = op->reply.len;
    sp->queue_len = op->queue.len;
    sp->hdr_len = (uint32_t)op->hdr_len;
    sp->total_len = (uint32_t)op->total_len;
    return true;
}

static void spill_finish(ne_conn *conn, const ne_frame_ops *ops)
{
    const ne_spill *sp = conn->io->spill;
    ne_chunk_pools *pools = &conn->set->chunks;
    /* The last two bytes received must be the payload's CRLF (CP-03). */
    ne_chunk *last = sp->tail;
    uint8_t b1, b2;
    if (last->used >= 2) {
        b1 = last->data[last->used - 2];
        b2 = last->data[last->used - 1];
    } else {
        ne_chunk *prev = sp->head;
        for (uint32_t guard = 0; prev->next != last && guard < sp->chunks; guard++) {
            prev = prev->next;
        }
        NE_ASSERT(prev->next == last);
        b1 = prev->data[prev->used - 1];
        b2 = last->data[0];
    }
    /* Every byte is in: the whole chain was taken. */
    NE_ASSERT(sp->promised == 0);
    ne_chunk *head = sp->head;
    ne_msg msg;
    memset(&msg, 0, sizeof(msg));
    msg.subject.ptr = (const char *)head->data;
    msg.subject.len = sp->subject_len;
    msg.reply.ptr = (const char *)head->data + sp->subject_len;
    msg.reply.len = sp->reply_len;
    msg.queues.ptr = (const char *)head->data + sp->subject_len + sp->reply_len;
    msg.queues.len = sp->queue_len;
    msg.hdr_len = sp->hdr_len;
    msg.total_len = sp->total_len;
    msg.has_headers = sp->hdr_len > 0;
    msg.chain = head;
    msg.chain_offset = sp->subject_len + sp->reply_len + sp->queue_len;
    ne_conn_spill_end(conn); /* sp is gone: msg holds what it said */
    if (b1 != '\r' || b2 != '\n') {
        ne_chunk_chain_release(pools, head);
        ne_conn_close(conn, NE_CLOSE_PARSE_ERROR, NE_PROTO_ERR_UNKNOWN_OP);
        return;
    }
    ops->handle_msg(conn, &msg);
    ne_chunk_chain_release(pools, head);
}

static uint32_t spill_feed(ne_conn *conn, const ne_frame_ops *ops, const uint8_t *bytes,
                           uint32_t len)
{
    ne_spill *sp = conn->io->spill;
    uint32_t take = NE_MIN(len, sp->remaining);
    /* Check the trailer bytes as they arrive, as nats-server does (CP-03). */
    uint64_t at = (uint64_t)sp->total_len + 2 - sp->remaining; /* index of bytes[0] */
    for (uint64_t pos = NE_MAX(at, (uint64_t)sp->total_len); pos < at + take; pos++) {
        uint8_t want = pos == sp->total_len ? '\r' : '\n';
        if (bytes[pos - at] != want) {
            ne_conn_spill_release(conn);
            ne_conn_close(conn, NE_CLOSE_PARSE_ERROR, NE_PROTO_ERR_UNKNOWN_OP);
            return len;
        }
    }
    /* Each pass fills the tail chunk or takes the next promised one. */
    uint32_t done = 0;
    while (done < take) {
        ne_chunk *c = sp->tail;
        if (c->used == NE_CHUNK_BYTES) {
            NE_ASSERT(sp->promised > 0);
            c->next = ne_chunk_alloc_promised(&conn->set->chunks);
            sp->promised--;
            c = c->next;
            sp->tail = c;
        }
        uint32_t n = NE_MIN(take - done, (uint32_t)NE_CHUNK_BYTES - c->used);
        memcpy(c->data + c->used, bytes + done, n);
        c->used += n;
        done += n;
    }
    if (take > 0) {
        sp->last_ms = conn->set->now_ms;
    }
    sp->remaining -= take;
    if (sp->remaining == 0) {
        spill_finish(conn, ops);
    }
    return take;
}

void ne_frame_trace(ne_conn *conn, const uint8_t *line, uint32_t len)
{
    ne_conn_logf(conn, NE_LOG_TRACE, "<<- [%.*s]", (int)len, (const char *)line);
}

/* True when the line starts with a protocol verb followed by a blank: then an
 * over-long line is "maximum control line exceeded"; otherwise nats-server
 * would have stopped at the first byte that cannot start a verb. */
static bool starts_with_verb(const uint8_t *line, uint32_t len)
{
    static const char *const verbs[] = {"pub",  "hpub", "sub",  "unsub", "connect",
                                        "ping", "pong", "info", "-err"};
    uint32_t n = 0;
    while (n < len && n < 8 && line[n] != ' ' && line[n] != '\t') {
        n++;
    }
    if (n == len || n == 8) {
        return false;
    }
    for (size_t v = 0; v < NE_ARRAY_LEN(verbs); v++) {
        if (strlen(verbs[v]) != n) {
            continue;
        }
        uint32_t i = 0;
        while (i < n && (line[i] | 0x20) == verbs[v][i]) {
            i++;
        }
        if (i == n) {
            return true;
        }
    }
    return false;
}

void ne_frame_overlong(ne_conn *conn, const uint8_t *line, uint32_t len)
{
    if (starts_with_verb(line, len)) {
        ne_conn_close(conn, NE_CLOSE_MAX_CONTROL_LINE, NE_PROTO_ERR_MAX_CONTROL_LINE);
    } else {
        ne_conn_close(conn, NE_CLOSE_PARSE_ERROR, NE_PROTO_ERR_UNKNOWN_OP);
    }
}

void ne_frame_bad_line(ne_conn *conn, ne_proto_status st, const uint8_t *line, uint32_t len)
{
    if (st == NE_PROTO_UNKNOWN_OP) {
        ne_frame_trace(conn, line, len);
        ne_conn_close(conn, NE_CLOSE_PARSE_ERROR, NE_PROTO_ERR_UNKNOWN_OP);
    } else {
        /* Argument errors close without -ERR (CP-06). */
        ne_conn_logf(conn, NE_LOG_DEBUG, "Client parser ERROR: %.*s", (int)len, (const char *)line);
        ne_conn_close(conn, NE_CLOSE_PROTOCOL_VIOLATION, NULL);
    }
}

uint32_t ne_frame_large(ne_conn *conn, const ne_frame_ops *ops, const ne_op *op,
                        const uint8_t *line, uint32_t line_bytes, uint32_t avail)
{
    const uint8_t *payload = line + line_bytes;
    /* nats-server rejects a bad trailer at its first wrong byte (CP-03). */
    uint64_t have = avail - line_bytes;
    if ((have > op->total_len && payload[op->total_len] != '\r') ||
        (have > op->total_len + 1 && payload[op->total_len + 1] != '\n')) {
        ne_conn_close(conn, NE_CLOSE_PARSE_ERROR, NE_PROTO_ERR_UNKNOWN_OP);
        return avail;
    }
    uint64_t need = (uint64_t)line_bytes + op->total_len + 2;
    if (need <= (size_t)NE_CONN_READ_BUFFER_BYTES) {
        return 0; /* the rest fits in the read buffer: wait for it */
    }
    if (!spill_start(conn, op)) {
        ne_conn_pause_reads(conn);
        return 0;
    }
    return line_bytes + spill_feed(conn, ops, line + line_bytes, avail - line_bytes);
}

uint32_t ne_frame_spill_feed(ne_conn *conn, const ne_frame_ops *ops, const uint8_t *bytes,
                             uint32_t len)
{
    return spill_feed(conn, ops, bytes, len);
}
