/* Bounded text formatting without libc's stdio (which src/ may not use).
 *
 * ne_fmt understands: %s %.*s %c %d %i %u %ld %lu %lld %llu %zu %x %lx %llx
 * %zx, %X in the same forms (upper-case hex), %%, with an optional width and
 * '0' flag for integers. Output is always
 * NUL-terminated when cap > 0. Output that does not fit is cut at cap - 1:
 * the builder sets `truncated`, ne_fmt returns 0, so that a caller sending
 * the bytes never sends a cut line (and a caller logging them still has the
 * cut text).
 */
#ifndef NE_FMT_H
#define NE_FMT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A bounded text builder over a caller's buffer. */
typedef struct ne_strbuf {
    char *data;
    size_t cap;
    size_t len;
    bool truncated; /* set once anything did not fit */
} ne_strbuf;

static inline void ne_strbuf_init(ne_strbuf *sb, char *data, size_t cap)
{
    sb->data = data;
    sb->cap = cap;
    sb->len = 0;
    sb->truncated = false;
    if (cap > 0) {
        data[0] = '\0';
    }
}

void ne_strbuf_append(ne_strbuf *sb, const void *bytes, size_t len);
void ne_strbuf_puts(ne_strbuf *sb, const char *text);
void ne_strbuf_putc(ne_strbuf *sb, char c);
void ne_strbuf_u64(ne_strbuf *sb, uint64_t value);
void ne_strbuf_i64(ne_strbuf *sb, int64_t value);
void ne_strbuf_printf(ne_strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ne_strbuf_vprintf(ne_strbuf *sb, const char *fmt, va_list ap);
/* Appends `text` as a JSON string literal, quotes included. */
void ne_strbuf_json_string(ne_strbuf *sb, const char *text, size_t len);

/* Formats into out; returns the length written, or 0 when it did not fit
 * (out then holds the cut text, NUL-terminated). */
size_t ne_fmt(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Writes the decimal form of value into out (no NUL); returns the digit
 * count, or 0 (nothing written) when the digits do not fit cap. 20 bytes
 * hold any value. */
size_t ne_fmt_u64(char *out, size_t cap, uint64_t value);

/* Parses an unsigned decimal; false on empty input, a non-digit or overflow
 * of max. */
bool ne_parse_u64(const char *text, size_t len, uint64_t max, uint64_t *out);

/* Splits "host:port", ":port" or "port" (the last ':' separates them). Copies
 * a non-empty host into host (NUL-terminated) and leaves host alone
 * otherwise. Returns NE_OK, NE_ERR_INVALID when the port is not a number up to
 * 65535, or NE_ERR_RANGE when the host does not fit host_cap. */
int ne_parse_hostport(const char *text, size_t len, char *host, size_t host_cap, uint16_t *port);

/* The value of a hexadecimal digit (either case), -1 for anything else. */
static inline int ne_hex_value(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

#endif
