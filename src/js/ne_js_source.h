/* Mirrors and sources (docs/store-and-forward.md, inventory JS-26b): a
 * stream that copies another stream's messages, local or in another
 * domain reached through an API prefix ($JS.hub.API over a leaf link).
 *
 * As nats-server does it: for each mirror or source the stream's account
 * client asks the origin, on <api>.CONSUMER.CREATE.<origin>, for an
 * ephemeral push consumer (ack none, flow control, 1 s heartbeats,
 * `direct`) delivering to a subject only this link subscribes to. Each
 * delivery is stored in order: a mirror at the origin's own sequence, a
 * source with a Nats-Stream-Source header. Flow control requests are
 * answered. A gap in the consumer's sequence, a heartbeat that says
 * messages were missed, or no message or heartbeat for
 * NE_JS_SOURCE_STALL_MS means the consumer is given up and a new one asked
 * for from the next origin sequence: the link's position survives every
 * outage of the link, so nothing is stored twice or skipped. */
#ifndef NE_JS_SOURCE_H
#define NE_JS_SOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "js/ne_js_types.h"
#include "json/ne_json_out.h"
#include "router/ne_router.h"

#if NE_FEATURE_JETSTREAM

/* Without a message or a heartbeat for this long a link starts over. */
#define NE_JS_SOURCE_STALL_MS 3000u
/* An unanswered create request is asked again after this long, doubled
 * for each further one unanswered up to NE_JS_SOURCE_RETRY_MAX_MS: on a
 * slow link the answer may wait behind what earlier consumers still push
 * through it, and every new consumer adds to that. */
#define NE_JS_SOURCE_RETRY_MS 2000u
#define NE_JS_SOURCE_RETRY_MAX_MS 60000u
/* Heartbeat interval asked of the origin's consumer (nats-server's). */
#define NE_JS_SOURCE_HEARTBEAT_NS 1000000000ull

#define NE_JS_SOURCE_TOKEN_LEN 8
/* The largest header block a sourced message may have, with its
 * Nats-Stream-Source line (a larger one is not stored, and counted). */
#define NE_JS_SOURCE_HEADER_BYTES 2048
#define NE_JS_SOURCE_SUBJECT_BYTES (NE_JS_TEXT_BYTES + 16)

typedef enum ne_js_source_state {
    NE_JS_SOURCE_FREE = 0,
    NE_JS_SOURCE_WAIT,     /* a create request is due at retry_ms */
    NE_JS_SOURCE_CREATING, /* asked; the answer is due by retry_ms */
    NE_JS_SOURCE_RUNNING,
} ne_js_source_state;

/* One mirror or source of a stream while it runs. */
typedef struct ne_js_source_link {
    ne_js_stream *stream;
    uint8_t index;      /* in stream->cfg.sources */
    uint8_t state;      /* ne_js_source_state */
    bool restart;       /* found in routing: start over at the next turn */
    uint64_t last_sseq; /* the origin's sequence last stored (or skipped) */
    uint64_t dseq;      /* the consumer's sequence last seen */
    uint64_t last_active_ms;
    uint64_t retry_ms;
    uint64_t stored; /* messages stored */
    uint64_t restarts;
    uint64_t lag;          /* the origin's messages still to come (its last delivery's) */
    uint64_t last_seen_ms; /* the last answer, message or heartbeat (0: none yet) */
    uint8_t error;         /* ne_js_err of the last refused create (0: none) */
    uint8_t unanswered;    /* create requests in a row with no answer nor delivery */
    ne_sub *deliver_sub;
    ne_sub *reply_sub;
    char deliver[NE_JS_SOURCE_SUBJECT_BYTES];
    char reply[32];
} ne_js_source_link;

typedef struct ne_js_sources {
    ne_js_source_link links[NE_JS_MAX_SOURCE_LINKS];
    /* A create request being written, a header block being built. */
    char request[NE_JS_SOURCE_SUBJECT_BYTES * 4 + 512];
    char header[NE_JS_SOURCE_HEADER_BYTES];
    uint64_t dropped; /* deliveries that could not be stored */
} ne_js_sources;

struct ne_js;

/* The stream was created (or recovered) with mirror or sources: its links
 * start at the next tick. NE_ERR_NOMEM when NE_JS_MAX_SOURCE_LINKS are in
 * use (the stream is refused). */
int ne_js_source_stream_started(struct ne_js *js, ne_js_stream *st);
/* Whether count links fit, the stream's own counted as free (an update
 * of its sources). */
bool ne_js_source_room(const struct ne_js *js, const ne_js_stream *st, uint32_t count);
/* The stream goes: its links unsubscribe and are freed. */
void ne_js_source_stream_stopped(struct ne_js *js, ne_js_stream *st);
/* A delivery on a link's deliver subject, in routing: stored now, or a
 * status answered at the end of the turn. */
bool ne_js_source_deliver(struct ne_js *js, ne_js_account *a, const ne_sub *sub, ne_msg *msg);
/* A record for the sources: a create answer (sid 'R'), or an empty
 * message to publish (sid 'P': flow control). */
void ne_js_source_record(struct ne_js *js, ne_js_account *a, uint8_t sid, ne_slice subject,
                         ne_slice body);
/* STREAM.INFO's "mirror" or "sources" (nats-server 2.9's StreamSourceInfo:
 * name, external, lag, active in ns or -1 without a consumer, and the
 * error that refused the last consumer); nothing for a stream without. */
void ne_js_source_write_info(const struct ne_js *js, ne_json_out *o, const ne_js_stream *st);
/* Every tick and turn: links that are due ask for a consumer. */
void ne_js_source_tick(struct ne_js *js, ne_js_account *a, uint64_t now_ms);

#endif /* NE_FEATURE_JETSTREAM */

#endif
