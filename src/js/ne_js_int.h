/* What the files of src/js share (not for other folders). */
#ifndef NE_JS_INT_H
#define NE_JS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "js/ne_js.h"
#include "js/ne_js_err.h"

#if NE_FEATURE_JETSTREAM

/* nats-server's JSMaxNameLen and JSMaxDescriptionLen, as far as they fit. */
#define NE_JS_MAX_NAME_LEN (NE_JS_NAME_BYTES - 1 < 255 ? NE_JS_NAME_BYTES - 1 : 255)
#define NE_JS_MAX_TEXT_LEN (NE_JS_TEXT_BYTES - 1)

/* nats-server's defaults. */
#define NE_JS_DEFAULT_DUPLICATE_WINDOW_NS (120ull * 1000000000ull)
#define NE_JS_DEFAULT_ACK_WAIT_NS (30ll * 1000000000ll)
#define NE_JS_DEFAULT_MAX_ACK_PENDING 1000
#define NE_JS_DEFAULT_MAX_WAITING 512
#define NE_JS_DEFAULT_INACTIVE_THRESHOLD_NS (5ll * 1000000000ll)
/* A flow control request goes out after this many bytes or messages. */
#define NE_JS_FC_BYTES (256u * 1024u)
#define NE_JS_FC_MSGS 1024u
/* Deliveries per consumer per loop turn: others get their turn. */
#define NE_JS_DELIVERIES_PER_TURN 256u

/* An error with the text for its place holder. */
typedef struct ne_js_error {
    ne_js_err err;
    char arg[160];
} ne_js_error;

static inline void ne_js_error_clear(ne_js_error *e)
{
    e->err = NE_JS_OK;
    e->arg[0] = '\0';
}
void ne_js_error_set(ne_js_error *e, ne_js_err err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- The service (ne_js.c) ------------------------------------------------------ */

/* The wall clock (message times, created, last_active) and the loop's
 * monotonic time (deadlines: ack_wait, expiry, heartbeats, thresholds,
 * duplicate windows), in nanoseconds. */
uint64_t ne_js_now_ns(void);
uint64_t ne_js_mono_ns(const ne_js *js);
ne_js_account *ne_js_account_of(ne_js *js, const ne_conn *client);
/* Text slots (ne_js_types.h). put: a text of at most NE_JS_MAX_TEXT_LEN
 * bytes, a stream name of at most NE_JS_MAX_NAME_LEN; NE_JS_NO_TEXT when it
 * is longer or no slot that holds it is left (logged with the knob). get:
 * the text, NUL-terminated ("" for NE_JS_NO_TEXT). */
uint16_t ne_js_text_put(ne_js *js, const char *text, size_t len);
uint16_t ne_js_name_put(ne_js *js, const char *name, size_t len);
/* Whether ne_js_text_put would find a slot for a text of len bytes once
 * the slot `freed` (NE_JS_NO_TEXT: none) is given back. */
bool ne_js_text_room(const ne_js *js, size_t len, uint16_t freed);
ne_slice ne_js_text_get(const ne_js *js, uint16_t slot);
void ne_js_text_free(ne_js *js, uint16_t *slot);
/* A stream's name, NUL-terminated. */
static inline const char *ne_js_stream_name(const ne_js *js, const ne_js_stream *st)
{
    return ne_js_text_get(js, st->cfg.name).ptr;
}
bool ne_js_text_eq(const ne_js *js, uint16_t a, uint16_t b);

/* Writes the error object {"code","err_code","description"}. */
void ne_js_write_error(ne_json_out *o, const ne_js_error *e);
/* A time as nats-server writes a time.Time: RFC 3339 with nanoseconds, Go's
 * zero time for 0. */
void ne_js_write_time(ne_json_out *o, const char *key, uint64_t unix_ns);

typedef void (*ne_js_doc_fn)(ne_js *js, ne_json_out *o, const void *arg);
/* Publishes a JSON document on subject as the account's client. False when
 * the chunk pool could not hold it (counted). */
bool ne_js_send_json(ne_js *js, ne_js_account *a, ne_slice subject, ne_js_doc_fn write,
                     const void *arg);
/* Publishes a message (headers and payload given contiguous). */
bool ne_js_send(ne_js *js, ne_js_account *a, ne_slice subject, ne_slice reply, const char *hdr,
                uint32_t hdr_len, const uint8_t *data, uint32_t data_len);
/* Publishes a stored message on subject (subscribers see `shown`, len 0:
 * the subject) with reply: its headers, then extra header lines (each
 * ending in CRLF) inserted before their end, then its payload unless
 * headers_only. *bytes: the body length published. NE_OK,
 * NE_ERR_NOT_FOUND (gone), NE_ERR_NOMEM (the chunk pool; nothing sent). */
int ne_js_send_stored(ne_js *js, ne_js_account *a, ne_js_stream *st, const ne_js_msg_info *info,
                      ne_slice subject, ne_slice shown, ne_slice reply, const char *extra,
                      uint32_t extra_len, bool headers_only, uint32_t *bytes);
/* The same with the extra lines first, after the status line: a header
 * they carry is the one a reader taking the first of a name finds (the
 * forwarder's Nats-Msg-Id before one the publisher gave: nats-server
 * deduplicates on the first). *delivered: the receivers it reached. */
int ne_js_send_stored_first(ne_js *js, ne_js_account *a, ne_js_stream *st,
                            const ne_js_msg_info *info, ne_slice subject, ne_slice reply,
                            const char *extra, uint32_t extra_len, uint32_t *bytes,
                            uint32_t *delivered);
/* The account's client has work for the end of this turn. */
void ne_js_wake(ne_js *js, ne_js_account *a);

/* Records queued on an account's client, handled at the end of the turn. */
#define NE_JS_REC_REQUEST 1 /* a message on $JS.API, $JS.ACK or $JS.FC */
#define NE_JS_REC_PUBACK 2  /* a stored publish's acknowledgement to send */
/* A request or ack whose body was larger than NE_JS_API_REQUEST_BYTES:
 * only its first NE_JS_CUT_PREFIX_BYTES are kept (an ack's verb). */
#define NE_JS_REC_CUT 3
#define NE_JS_CUT_PREFIX_BYTES 16u
#if NE_JS_API_REQUEST_BYTES < 16
#error "NE_JS_API_REQUEST_BYTES must be at least 16"
#endif
/* Queues a record: subject, reply and body, whole or not at all (false:
 * the queue is beyond NE_JS_QUEUE_BYTES or the chunk pool is empty;
 * counted). */
bool ne_js_queue_record(ne_js *js, ne_js_account *a, uint8_t type, uint8_t sid, ne_slice subject,
                        ne_slice reply, const void *body, uint32_t body_len);

/* ---- Headers, times and durations (ne_js_hdr.c) ---------------------------------- */

/* The value of header `name` (case-insensitive) in a NATS/1.0 block. */
bool ne_js_hdr_get(const uint8_t *hdr, uint32_t len, const char *name, ne_slice *value);
/* RFC 3339 (with optional fraction and offset) to Unix ns. */
bool ne_js_parse_time(const char *text, size_t len, uint64_t *unix_ns);
/* Go's time.ParseDuration to ns (non-negative only). */
bool ne_js_parse_duration(const char *text, size_t len, int64_t *ns);
/* Names: non-empty, no white space, '.', '*', '>' (nats-server isValidName). */
bool ne_js_name_valid(const char *name, size_t len);
bool ne_js_has_path_separator(const char *name, size_t len);
/* Subjects collide: some subject matches both filters. */
bool ne_js_subjects_collide(ne_slice a, ne_slice b);
bool ne_js_subject_is_literal(ne_slice s);

/* ---- Configurations (ne_js_conf.c) ------------------------------------------------ */

/* Parses a StreamConfig document into cfg (text into slots; release with
 * ne_js_stream_cfg_release). Errors: invalid JSON (10025), resources. */
bool ne_js_stream_cfg_parse(ne_js *js, const ne_json_doc *doc, int obj, ne_js_stream_cfg *cfg,
                            ne_js_error *e);
void ne_js_stream_cfg_init(ne_js_stream_cfg *cfg);
void ne_js_stream_cfg_release(ne_js *js, ne_js_stream_cfg *cfg);
/* nats-server's checkStreamCfg: defaults, then every rule. */
bool ne_js_stream_cfg_check(ne_js *js, ne_js_account *a, ne_js_stream_cfg *cfg, ne_js_error *e);
bool ne_js_stream_cfg_equal(const ne_js *js, const ne_js_stream_cfg *x, const ne_js_stream_cfg *y);
/* The checks of a new stream's mirror or sources against the account's
 * streams they name (nats-server's, where the origin exists): a cycle
 * through mirrors and sources back to the stream (500 10052 "detected
 * cycle"), a max_msg_size below the origin's (10030 mirror, 10046 source),
 * a source filter that no subject of the origin overlaps (10052). */
bool ne_js_stream_origins_check(ne_js *js, ne_js_account *a, const ne_js_stream_cfg *cfg,
                                ne_js_error *e);
/* Same mirror or sources (and which one it is). */
bool ne_js_stream_sources_equal(const ne_js *js, const ne_js_stream_cfg *x,
                                const ne_js_stream_cfg *y);
void ne_js_stream_cfg_write(const ne_js *js, ne_json_out *o, const ne_js_stream_cfg *cfg);

bool ne_js_consumer_cfg_parse(ne_js *js, const ne_json_doc *doc, int obj, ne_js_consumer_cfg *cfg,
                              ne_js_error *e);
void ne_js_consumer_cfg_init(ne_js_consumer_cfg *cfg);
void ne_js_consumer_cfg_release(ne_js *js, ne_js_consumer_cfg *cfg);
void ne_js_consumer_cfg_write(const ne_js *js, ne_json_out *o, const ne_js_consumer_cfg *cfg);

/* ---- Streams (ne_js_stream.c) ------------------------------------------------------ */

ne_js_stream *ne_js_stream_find(ne_js_account *a, ne_slice name);
/* Creates a stream from a checked cfg (taken over on success). */
bool ne_js_stream_create(ne_js *js, ne_js_account *a, ne_js_stream_cfg *cfg, ne_js_stream **out,
                         ne_js_error *e);
bool ne_js_stream_update(ne_js *js, ne_js_stream *st, ne_js_stream_cfg *cfg, ne_js_error *e);
/* advise: the advisories (and 409 Consumer Deleted to waiting pulls);
 * false at shutdown. */
void ne_js_stream_delete(ne_js *js, ne_js_stream *st, bool advise);
/* A message published on one of the stream's subjects (the deliver op). */
void ne_js_stream_inbound(ne_js *js, ne_js_stream *st, const ne_msg *msg);
/* A mirror's or source's copy of its origin's message: its Nats-Expected-*
 * headers are not checked again; stored with time ts_ns (a mirror's: the
 * origin's; 0: now). */
void ne_js_stream_copy_in(ne_js *js, ne_js_stream *st, const ne_msg *msg, uint64_t ts_ns);
/* A stored publish's acknowledgement record, handled at the turn's end. */
void ne_js_stream_puback(ne_js *js, ne_js_account *a, ne_slice reply, const uint8_t *body,
                         uint32_t len);
/* Removes one message, telling the consumers. */
int ne_js_stream_remove(ne_js *js, ne_js_stream *st, uint64_t seq, bool erase);
/* STREAM.PURGE: filter (len 0: all), seq (0: none), keep (0: none). */
bool ne_js_stream_purge(ne_js *js, ne_js_stream *st, ne_slice filter, uint64_t seq, uint64_t keep,
                        uint64_t *purged, ne_js_error *e);
/* max_age by the wall clock, duplicate windows by the monotonic one. */
void ne_js_stream_tick(ne_js *js, ne_js_stream *st, uint64_t wall_ns, uint64_t mono_ns);
/* Interest and workqueue retention: removes seq once no consumer needs it. */
void ne_js_stream_check_interest(ne_js *js, ne_js_stream *st, uint64_t seq);
/* Interest retention after a consumer left: what no one needs goes. */
void ne_js_stream_check_all_interest(ne_js *js, ne_js_stream *st);
void ne_js_stream_write_state(const ne_js *js, ne_json_out *o, const ne_js_stream *st);
/* STREAM.INFO's options: the subjects map (filter, offset, at most limit
 * entries) and the deleted sequences. */
typedef struct ne_js_state_options {
    ne_slice subjects_filter;
    uint64_t offset;
    uint64_t limit;
    bool deleted_details;
} ne_js_state_options;
void ne_js_stream_write_state_with(const ne_js *js, ne_json_out *o, ne_js_stream *st,
                                   const ne_js_state_options *opt);
/* Bytes the account's streams of a storage type may hold. */
uint64_t ne_js_account_usage(const ne_js_account *a, uint8_t storage);

/* ---- Consumers (ne_js_consumer.c) --------------------------------------------------- */

ne_js_consumer *ne_js_consumer_find(ne_js_stream *st, ne_slice name);
/* The stream's consumers that are not direct (a mirror's or a source's on
 * its origin): what CONSUMER.NAMES/LIST, STREAM.INFO's consumer_count and
 * max_consumers count, as nats-server 2.9.10 does. */
uint32_t ne_js_public_consumers(const ne_js_stream *st);
/* CONSUMER.CREATE and DURABLE.CREATE (cfg is taken over on success). */
bool ne_js_consumer_create(ne_js *js, ne_js_stream *st, ne_js_consumer_cfg *cfg,
                           ne_js_consumer **out, bool *created, ne_js_error *e);
void ne_js_consumer_delete(ne_js *js, ne_js_consumer *c, bool advise);
void ne_js_consumer_write_info(ne_js *js, ne_json_out *o, ne_js_consumer *c);
/* A message stored: its sequence and subject, and the sequence of the
 * subject's previous last message (0: none). */
void ne_js_consumer_appended(ne_js *js, ne_js_consumer *c, uint64_t seq, ne_slice subject,
                             uint64_t prev_last);
/* A message removed (its subject given). */
void ne_js_consumer_removed(ne_js *js, ne_js_consumer *c, uint64_t seq, ne_slice subject);
/* The stream was purged: messages below first_seq are gone. */
void ne_js_consumer_purged(ne_js *js, ne_js_consumer *c, uint64_t first_seq);
/* Publishes an advisory on $JS.EVENT.ADVISORY.<what> in the account. */
void ne_js_advise(ne_js *js, ne_js_account *a, const char *subject, ne_js_doc_fn write,
                  const void *arg);
/* The fields every advisory starts with: type, id, timestamp. */
void ne_js_advisory_head(ne_js *js, ne_json_out *o, const char *type);
/* Interest and workqueue retention: does c still need seq? */
bool ne_js_consumer_needs(const ne_js_consumer *c, uint64_t seq, ne_slice subject, const ne_js *js);
/* Delivers what it can now (at most budget messages); true if it stopped
 * at the budget with more to deliver. */
bool ne_js_consumer_deliver(ne_js *js, ne_js_consumer *c, uint32_t budget);
/* $JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>; cut: the body was larger
 * than NE_JS_API_REQUEST_BYTES (400 Bad Request). */
void ne_js_consumer_next_request(ne_js *js, ne_js_consumer *c, ne_slice reply, ne_slice body,
                                 bool cut);
/* An ack subject names a consumer that exists (nats-server subscribes
 * $JS.ACK.<stream>.<consumer>.> per consumer: an ack for another has no
 * subscriber, and a request gets no responders). */
bool ne_js_consumer_ack_known(ne_js_account *a, ne_slice subject);
/* $JS.ACK.<stream>.<consumer>...; cut: body holds only the first
 * NE_JS_CUT_PREFIX_BYTES of a larger one. */
void ne_js_consumer_ack(ne_js *js, ne_js_account *a, ne_slice subject, ne_slice reply,
                        ne_slice body, bool cut);
/* $JS.FC.<stream>.<consumer>.<n>: a flow control reply. */
void ne_js_consumer_fc_reply(ne_js *js, ne_js_account *a, ne_slice subject);
/* now_ns: the loop's monotonic time. */
void ne_js_consumer_tick(ne_js *js, ne_js_consumer *c, uint64_t now_ns);
/* Push consumers' interest: a subscription on subject was added (+1) or
 * removed (-1) in account a. */
void ne_js_consumer_interest(ne_js *js, ne_js_account *a, ne_slice subject, ne_slice queue,
                             int delta);

/* Restores a consumer's delivery state from its log (ne_js_file.c): the
 * delivered and ack floor sequences and the pending acknowledgements, due
 * again at the times they hold. */
void ne_js_consumer_restore(ne_js *js, ne_js_consumer *c, uint64_t dseq, uint64_t delivered_sseq,
                            uint64_t adflr, uint64_t asflr, const ne_store_pending *pending,
                            uint32_t count);
/* Remembers a message id of the duplicate window at restart (ts_ns: its
 * message's time). */
void ne_js_stream_remember_id(ne_js *js, ne_js_stream *st, ne_slice id, uint64_t seq,
                              uint64_t ts_ns);

/* ---- File storage (ne_js_file.c) ------------------------------------------------------------ */

void ne_js_file_init(ne_js *js, ne_js_file_storage *s);
/* Opens the device if it holds data and restores its streams and consumers. */
int ne_js_file_start(ne_js *js);
/* Syncs and closes the device (shutdown, after every stream was let go). */
void ne_js_file_close(ne_js *js);
/* Objects of the file pools in use. */
uint32_t ne_js_file_in_use(const ne_js *js);
/* A file stream's store: a new log in the catalogue (or the one being
 * restored), attached. False with e set. */
bool ne_js_file_stream_open(ne_js *js, ne_js_stream *st, ne_js_error *e);
/* The stream's configuration changed: its catalogue entry follows. */
void ne_js_file_stream_updated(ne_js *js, ne_js_stream *st);
/* A consumer was created: a durable one of a file stream gets its state
 * log (or, restoring, its log attached and its state restored). False with
 * e set: the consumer must go. */
bool ne_js_file_consumer_created(ne_js *js, ne_js_consumer *c, ne_js_error *e);
void ne_js_file_consumer_updated(ne_js *js, ne_js_consumer *c);
/* The consumer goes: its log is deleted (at shutdown: written and kept). */
void ne_js_file_consumer_deleted(ne_js *js, ne_js_consumer *c);
/* Writes the consumer's state if it changed and syncs: before a double
 * ack's confirmation. False when that failed (no confirmation then). */
bool ne_js_file_consumer_sync(ne_js *js, ne_js_consumer *c);
/* Syncs what changed: before a publish's acknowledgement. False when the
 * sync failed (the publish is not acknowledged then). */
bool ne_js_file_sync(ne_js *js);
/* The end of an account's turn: its consumers' states written, then the
 * device synced. */
void ne_js_file_turn_end(ne_js *js, ne_js_account *a);

/* ---- The API (ne_js_api.c) ---------------------------------------------------------- */

/* A request on $JS.API.<rest> (rest: after "$JS.API."); cut: the body was
 * larger than NE_JS_API_REQUEST_BYTES and is not there (400 10003 "bad
 * request" where it would be read). */
void ne_js_api_request(ne_js *js, ne_js_account *a, ne_slice rest, ne_slice reply, ne_slice body,
                       bool cut);

/* ---- Monitoring (ne_js_mon.c) ---------------------------------------------------------- */

void ne_js_mon_register(ne_js *js);

#endif /* NE_FEATURE_JETSTREAM */

#endif
