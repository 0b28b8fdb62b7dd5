/* The forwarder (docs/store-and-forward.md): natsedge's extension that
 * empties an edge stream into the cloud, once.
 *
 * A stream configured with `forward { prefix, window }` publishes each of
 * its messages, in stream order, on `<prefix>.<subject>` (the subject
 * itself without a prefix) with `Nats-Msg-Id: <server>:<stream>:<seq>` and
 * a reply of its own, and keeps at most `window` of them waiting for their
 * acknowledgement. A message is removed from the stream when the cloud
 * stream's publish ack for it arrives (a duplicate ack counts: the cloud
 * has it), never before. When no ack comes for NE_JS_FORWARD_ACK_WAIT_MS
 * (the link is down, the cloud is away), every unacknowledged message of
 * the window is published again with the same id, so the cloud's duplicate
 * window drops what it already has. At the start and after such a silence
 * one message goes at a time until an acknowledgement arrives: a way to the
 * cloud that opens in the middle of a window (the cloud's interest crossing
 * a returning leaf link) would otherwise lose the window's first messages
 * and store later ones, and the cloud would get them out of order. A probe
 * that reached no receiver here goes again after NE_JS_FORWARD_REPROBE_MS. */
#ifndef NE_JS_FORWARD_H
#define NE_JS_FORWARD_H

#include <stdbool.h>
#include <stdint.h>

#include "js/ne_js_types.h"
#include "json/ne_json_out.h"
#include "router/ne_router.h"

#if NE_FEATURE_JETSTREAM

#if NE_JS_FORWARD_MAX_WINDOW % 64 != 0 || NE_JS_FORWARD_MAX_WINDOW < 64
#error "NE_JS_FORWARD_MAX_WINDOW must be a multiple of 64"
#endif

#define NE_JS_FORWARD_ACK_WAIT_MS 2000u
/* A probe that reached no one goes again after this long. */
#define NE_JS_FORWARD_REPROBE_MS 100u
/* forward's backlog_advisory when the configuration has none: percent of
 * the stream's max_msgs or max_bytes. */
#define NE_JS_FORWARD_BACKLOG_ADVISORY_DEFAULT 80u
/* Publishes per forwarding stream per turn or tick. */
#define NE_JS_FORWARD_PER_TURN 64u

typedef struct ne_js_forward_link {
    ne_js_stream *stream; /* NULL: free */
    uint64_t floor;       /* the lowest sequence not known to be acknowledged */
    uint64_t next;        /* the next sequence to publish */
    uint64_t acked[NE_JS_FORWARD_MAX_WINDOW / 64]; /* bit i: floor + i acknowledged or gone */
    uint64_t progress_ms; /* the last acknowledgement, or the first publish after one */
    /* At the start and after a silence: one publish at a time until an ack
     * shows the way to the cloud is open (interest that has not crossed a
     * returning link yet would lose the first publishes and let later ones
     * through, out of order). */
    bool probing;
    /* The probe reached no one (no link, or the cloud's interest has not
     * crossed it yet): published again at the next tick rather than after
     * the ack wait, so that the drain starts as soon as the way opens. */
    bool unheard;
    uint64_t unheard_ms; /* when it went */
    uint64_t published;
    uint64_t acknowledged;
    uint64_t republished;
    uint64_t skipped;    /* sequences gone before they were forwarded */
    uint64_t refused;    /* publishes refused for want of room (ne_js_forward_refused) */
    uint64_t advisories; /* backlog advisories sent */
    bool backlog_high;   /* above backlog_advisory since the last advisory */
    ne_sub *reply_sub;
    char reply_prefix[24]; /* "$JS.FW.<token>." */
} ne_js_forward_link;

typedef struct ne_js_forwards {
    ne_js_forward_link links[NE_JS_MAX_FORWARDS];
    char subject[NE_MAX_CONTROL_LINE_BYTES + 1]; /* a stored message's subject */
    char publish[NE_MAX_CONTROL_LINE_BYTES + 1]; /* ...with the prefix */
} ne_js_forwards;

struct ne_js;

/* The stream was created with forward: NE_ERR_NOMEM when
 * NE_JS_MAX_FORWARDS are in use or its reply cannot be subscribed. */
int ne_js_forward_stream_started(struct ne_js *js, ne_js_stream *st);
void ne_js_forward_stream_stopped(struct ne_js *js, ne_js_stream *st);
/* The stream refused a publish for want of room (its limits with discard
 * new, the server's or the account's storage, the device): counted. */
void ne_js_forward_refused(struct ne_js *js, const ne_js_stream *st);
/* An acknowledgement (a record of the reply subscription). */
void ne_js_forward_record(struct ne_js *js, ne_js_account *a, ne_slice subject, ne_slice body);
/* /jsz's "forward" object of a forwarding stream (nothing for another):
 * what was published, acknowledged, published again and skipped, the
 * publishes the stream refused and the backlog advisories sent, what waits
 * for an ack, and the backlog (the stream's messages and bytes, the oldest
 * one's age). */
void ne_js_forward_write(struct ne_js *js, ne_json_out *o, const ne_js_stream *st);
/* Publishes what the windows allow; publishes again after a silence. */
void ne_js_forward_tick(struct ne_js *js, ne_js_account *a, uint64_t now_ms);

#endif /* NE_FEATURE_JETSTREAM */

#endif
