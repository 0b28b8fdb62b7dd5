/* Writing a JSON document of any length through a small buffer: text is
 * gathered in a piece buffer the caller provides and handed to a sink each
 * time the piece is full (the monitoring endpoints stream their answers this
 * way into a connection's outbound queue).
 *
 * Nothing is ever cut silently. A string value of any length is escaped and
 * split across pieces as needed; fixed-size items (numbers, times) ask for
 * room first. When the sink refuses a piece, or an item does not fit in an
 * empty piece, the writer records the error, writes nothing more and
 * ne_json_writer_finish returns it: the caller then knows the document is
 * incomplete and must not present it as whole. */
#ifndef NE_JSON_WRITER_H
#define NE_JSON_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ne_fmt.h"

/* Takes len bytes of the document; NE_OK or a negative ne_error. */
typedef int (*ne_json_sink)(void *ctx, const void *bytes, size_t len);

typedef struct ne_json_writer {
    ne_json_sink sink;
    void *ctx;
    ne_strbuf piece; /* over the caller's buffer */
    int error;       /* the first error; NE_OK while all is well */
} ne_json_writer;

/* buf (cap bytes, at least 64) must outlive the writer. */
void ne_json_writer_init(ne_json_writer *w, char *buf, size_t cap, ne_json_sink sink, void *ctx);

/* Room for `need` more bytes in the piece (handing the piece to the sink
 * first when it has less): the caller writes at most `need` bytes into the
 * returned builder. NULL once the writer has failed, or when `need` cannot
 * fit an empty piece (the writer fails with NE_ERR_TOO_BIG). */
ne_strbuf *ne_json_writer_room(ne_json_writer *w, size_t need);

/* Bytes as they are (punctuation, literals); any length. */
void ne_json_writer_raw(ne_json_writer *w, const char *text, size_t len);
void ne_json_writer_puts(ne_json_writer *w, const char *text);
/* A JSON string literal, quotes included: '"' and '\\' escaped with a
 * backslash, bytes below 0x20 as \u00XX; any length. */
void ne_json_writer_string(ne_json_writer *w, const char *text, size_t len);
/* The same escaping without the quotes: a string written in parts between
 * ne_json_writer_raw(w, "\"", 1) calls. */
void ne_json_writer_escaped(ne_json_writer *w, const char *text, size_t len);
void ne_json_writer_u64(ne_json_writer *w, uint64_t value);
/* `"name":` of an object member, preceded by ',' unless *first (which it
 * clears). */
void ne_json_writer_key(ne_json_writer *w, bool *first, const char *name);

/* Hands the rest of the piece to the sink; returns NE_OK if the whole
 * document went to the sink, else the first error. */
int ne_json_writer_finish(ne_json_writer *w);

#endif
