/* Writing JSON as a stream: the one JSON writer of the broker (monitoring
 * over HTTP, system responses, and later the JetStream API).
 *
 * The writer gathers output in a buffer the caller owns and hands it to a
 * sink whenever the next piece would not fit; a string longer than the
 * buffer is escaped and handed over piece by piece, so any document can be
 * written through a buffer of NE_JSON_OUT_MIN_BYTES. Commas are the
 * writer's: a value after a key, or an element of an array, is separated as
 * JSON needs. Nothing is ever cut silently: when the sink fails, or the
 * nesting is deeper than NE_JSON_OUT_MAX_DEPTH, the writer remembers the
 * first error, writes nothing more, and ne_json_out_finish returns it. */
#ifndef NE_JSON_OUT_H
#define NE_JSON_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NE_JSON_OUT_MAX_DEPTH 16
/* The smallest buffer: the longest number or escape, and a time stamp. */
#define NE_JSON_OUT_MIN_BYTES 64

/* Takes len bytes of the document: NE_OK, or an error that stops the
 * writer (e.g. NE_ERR_NOMEM when a queue cannot take them, NE_ERR_TOO_BIG
 * when a bounded destination is full). */
typedef int (*ne_json_sink)(void *ctx, const char *bytes, size_t len);

typedef struct ne_json_out {
    ne_json_sink sink;
    void *ctx;
    char *buf;
    size_t cap;
    size_t len;
    uint64_t total; /* bytes handed to the sink so far */
    int error;      /* the first error; NE_OK while writing */
    bool after_key; /* the next value belongs to a key just written */
    uint32_t depth;
    bool in_array[NE_JSON_OUT_MAX_DEPTH];
    bool first[NE_JSON_OUT_MAX_DEPTH];
} ne_json_out;

void ne_json_out_init(ne_json_out *o, char *buf, size_t cap, ne_json_sink sink, void *ctx);
/* Hands what is buffered to the sink; returns the first error of the whole
 * document (unbalanced nesting is NE_ERR_INVALID). */
int ne_json_out_finish(ne_json_out *o);

void ne_json_begin_object(ne_json_out *o);
void ne_json_end_object(ne_json_out *o);
void ne_json_begin_array(ne_json_out *o);
void ne_json_end_array(ne_json_out *o);
/* A key of the current object; its value follows. */
void ne_json_key(ne_json_out *o, const char *name);

void ne_json_string(ne_json_out *o, const char *text, size_t len);
void ne_json_cstring(ne_json_out *o, const char *text);
void ne_json_u64(ne_json_out *o, uint64_t value);
void ne_json_i64(ne_json_out *o, int64_t value);
void ne_json_bool(ne_json_out *o, bool value);
/* A number given in thousandths, written with three decimals ("1.250"). */
void ne_json_milli(ne_json_out *o, uint64_t thousandths);
/* Text the caller has made valid JSON (a literal like {}), written as one value. */
void ne_json_raw(ne_json_out *o, const char *json);
/* Copies len bytes from offset of a source into dst. */
typedef void (*ne_json_reader)(void *ctx, size_t offset, void *dst, size_t len);
/* A string value: the standard, padded base64 of len bytes read from a
 * source in pieces (a stored message larger than any buffer). */
void ne_json_base64(ne_json_out *o, ne_json_reader read, void *ctx, size_t len);
/* Times as nats-server writes them: RFC 3339 with nanoseconds, Go's
 * Duration text ("1.5s"), and its uptime text ("1h2m3s"). */
void ne_json_time(ne_json_out *o, uint64_t unix_ns);
void ne_json_duration(ne_json_out *o, uint64_t ns);
void ne_json_uptime(ne_json_out *o, uint64_t ns);

/* key + value in one call. */
void ne_json_kv_string(ne_json_out *o, const char *key, const char *value);
void ne_json_kv_u64(ne_json_out *o, const char *key, uint64_t value);
void ne_json_kv_i64(ne_json_out *o, const char *key, int64_t value);
void ne_json_kv_bool(ne_json_out *o, const char *key, bool value);
void ne_json_kv_raw(ne_json_out *o, const char *key, const char *json);
void ne_json_kv_time(ne_json_out *o, const char *key, uint64_t unix_ns);
void ne_json_kv_duration(ne_json_out *o, const char *key, uint64_t ns);

#endif
