/* The streaming JSON writer (ne_json_writer.h). The piece is an ne_strbuf
 * over the caller's buffer; one byte of it is the builder's terminator, so a
 * piece carries at most cap - 1 bytes of the document. */
#include "json/ne_json_writer.h"

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"

/* The longest escape of one input byte: \u00XX. */
#define WRITER_ESCAPE_BYTES 6

void ne_json_writer_init(ne_json_writer *w, char *buf, size_t cap, ne_json_sink sink, void *ctx)
{
    NE_ASSERT(buf != NULL && sink != NULL && cap >= 64);
    w->sink = sink;
    w->ctx = ctx;
    w->error = NE_OK;
    ne_strbuf_init(&w->piece, buf, cap);
}

/* Hands the piece to the sink and starts an empty one. */
static void writer_flush(ne_json_writer *w)
{
    if (w->error != NE_OK) {
        return;
    }
    if (w->piece.truncated) {
        /* A caller wrote more than the room it asked for. */
        w->error = NE_ERR_TOO_BIG;
        return;
    }
    if (w->piece.len > 0) {
        int rc = w->sink(w->ctx, w->piece.data, w->piece.len);
        if (rc != NE_OK) {
            w->error = rc;
            return;
        }
    }
    ne_strbuf_init(&w->piece, w->piece.data, w->piece.cap);
}

static size_t writer_free(const ne_json_writer *w)
{
    return w->piece.cap - 1 - w->piece.len;
}

ne_strbuf *ne_json_writer_room(ne_json_writer *w, size_t need)
{
    if (w->error != NE_OK) {
        return NULL;
    }
    if (need > w->piece.cap - 1) {
        w->error = NE_ERR_TOO_BIG;
        return NULL;
    }
    if (writer_free(w) < need) {
        writer_flush(w);
    }
    return w->error == NE_OK ? &w->piece : NULL;
}

void ne_json_writer_raw(ne_json_writer *w, const char *text, size_t len)
{
    /* Bounded: each pass copies at least one byte or stops on an error. */
    size_t done = 0;
    while (done < len && w->error == NE_OK) {
        if (writer_free(w) == 0) {
            writer_flush(w);
            continue;
        }
        size_t n = NE_MIN(len - done, writer_free(w));
        ne_strbuf_append(&w->piece, text + done, n);
        done += n;
    }
}

void ne_json_writer_puts(ne_json_writer *w, const char *text)
{
    ne_json_writer_raw(w, text, strlen(text));
}

void ne_json_writer_escaped(ne_json_writer *w, const char *text, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < len && w->error == NE_OK; i++) {
        ne_strbuf *sb = ne_json_writer_room(w, WRITER_ESCAPE_BYTES);
        if (sb == NULL) {
            return;
        }
        unsigned char c = (unsigned char)text[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            ne_strbuf_append(sb, esc, sizeof(esc));
        } else if (c < 0x20) {
            char esc[WRITER_ESCAPE_BYTES] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};
            ne_strbuf_append(sb, esc, sizeof(esc));
        } else {
            ne_strbuf_putc(sb, (char)c);
        }
    }
}

void ne_json_writer_string(ne_json_writer *w, const char *text, size_t len)
{
    ne_json_writer_raw(w, "\"", 1);
    ne_json_writer_escaped(w, text, len);
    ne_json_writer_raw(w, "\"", 1);
}

void ne_json_writer_u64(ne_json_writer *w, uint64_t value)
{
    char digits[20];
    ne_json_writer_raw(w, digits, ne_fmt_u64(digits, value));
}

void ne_json_writer_key(ne_json_writer *w, bool *first, const char *name)
{
    if (!*first) {
        ne_json_writer_raw(w, ",", 1);
    }
    *first = false;
    ne_json_writer_string(w, name, strlen(name));
    ne_json_writer_raw(w, ":", 1);
}

int ne_json_writer_finish(ne_json_writer *w)
{
    writer_flush(w);
    return w->error;
}
