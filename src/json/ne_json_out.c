/* Streaming JSON output (ne_json_out.h). */
#include "json/ne_json_out.h"

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "core/ne_fmt.h"
#include "core/ne_time.h"

void ne_json_out_init(ne_json_out *o, char *buf, size_t cap, ne_json_sink sink, void *ctx)
{
    NE_ASSERT(cap >= NE_JSON_OUT_MIN_BYTES && sink != NULL);
    memset(o, 0, sizeof(*o));
    o->sink = sink;
    o->ctx = ctx;
    o->buf = buf;
    o->cap = cap;
}

static void flush(ne_json_out *o)
{
    if (o->error == NE_OK && o->len > 0) {
        o->error = o->sink(o->ctx, o->buf, o->len);
        o->total += o->len;
    }
    o->len = 0;
}

/* Room for n more bytes (n <= cap), flushing first if needed; false once
 * the writer has failed. */
static bool room(ne_json_out *o, size_t n)
{
    NE_ASSERT(n <= o->cap);
    if (o->error != NE_OK) {
        return false;
    }
    if (o->len + n > o->cap) {
        flush(o);
    }
    return o->error == NE_OK;
}

static void put(ne_json_out *o, const char *bytes, size_t n)
{
    /* Bounded: each pass copies at least one byte or stops on an error. */
    while (n > 0 && room(o, 1)) {
        size_t take = NE_MIN(n, o->cap - o->len);
        memcpy(o->buf + o->len, bytes, take);
        o->len += take;
        bytes += take;
        n -= take;
    }
}

static void putc1(ne_json_out *o, char c)
{
    if (room(o, 1)) {
        o->buf[o->len++] = c;
    }
}

/* The separator a value needs: none after a key, a comma between array
 * elements. */
static void before_value(ne_json_out *o)
{
    if (o->after_key) {
        o->after_key = false;
        return;
    }
    if (o->depth > 0 && o->in_array[o->depth - 1]) {
        if (!o->first[o->depth - 1]) {
            putc1(o, ',');
        }
        o->first[o->depth - 1] = false;
    }
}

static void open_level(ne_json_out *o, bool array)
{
    before_value(o);
    if (o->depth >= NE_JSON_OUT_MAX_DEPTH) {
        o->error = o->error != NE_OK ? o->error : NE_ERR_TOO_BIG;
        return;
    }
    o->in_array[o->depth] = array;
    o->first[o->depth] = true;
    o->depth++;
    putc1(o, array ? '[' : '{');
}

static void close_level(ne_json_out *o, bool array)
{
    if (o->depth == 0 || o->in_array[o->depth - 1] != array) {
        o->error = o->error != NE_OK ? o->error : NE_ERR_INVALID;
        return;
    }
    o->depth--;
    putc1(o, array ? ']' : '}');
}

void ne_json_begin_object(ne_json_out *o)
{
    open_level(o, false);
}

void ne_json_end_object(ne_json_out *o)
{
    close_level(o, false);
}

void ne_json_begin_array(ne_json_out *o)
{
    open_level(o, true);
}

void ne_json_end_array(ne_json_out *o)
{
    close_level(o, true);
}

int ne_json_out_finish(ne_json_out *o)
{
    flush(o);
    if (o->error == NE_OK && (o->depth != 0 || o->after_key)) {
        o->error = NE_ERR_INVALID;
    }
    return o->error;
}

/* The string body, escaped as JSON needs, in pieces of at most 6 bytes. */
static void put_escaped(ne_json_out *o, const char *text, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t i = 0;
    while (i < len && o->error == NE_OK) {
        /* Copy a run that needs no escape at once. */
        size_t run = i;
        while (run < len && (unsigned char)text[run] >= 0x20 && text[run] != '"' &&
               text[run] != '\\') {
            run++;
        }
        put(o, text + i, run - i);
        i = run;
        if (i == len) {
            break;
        }
        unsigned char c = (unsigned char)text[i++];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            put(o, esc, 2);
        } else {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};
            put(o, esc, 6);
        }
    }
}

void ne_json_key(ne_json_out *o, const char *name)
{
    if (o->depth == 0 || o->in_array[o->depth - 1] || o->after_key) {
        o->error = o->error != NE_OK ? o->error : NE_ERR_INVALID;
        return;
    }
    if (!o->first[o->depth - 1]) {
        putc1(o, ',');
    }
    o->first[o->depth - 1] = false;
    putc1(o, '"');
    put_escaped(o, name, strlen(name));
    put(o, "\":", 2);
    o->after_key = true;
}

void ne_json_string(ne_json_out *o, const char *text, size_t len)
{
    before_value(o);
    putc1(o, '"');
    put_escaped(o, text, len);
    putc1(o, '"');
}

void ne_json_cstring(ne_json_out *o, const char *text)
{
    ne_json_string(o, text, strlen(text));
}

void ne_json_u64(ne_json_out *o, uint64_t value)
{
    char digits[24];
    size_t n = ne_fmt_u64(digits, sizeof(digits), value);
    before_value(o);
    put(o, digits, n);
}

void ne_json_i64(ne_json_out *o, int64_t value)
{
    before_value(o);
    if (value < 0) {
        putc1(o, '-');
    }
    char digits[24];
    uint64_t magnitude = value < 0 ? (uint64_t)0 - (uint64_t)value : (uint64_t)value;
    put(o, digits, ne_fmt_u64(digits, sizeof(digits), magnitude));
}

void ne_json_bool(ne_json_out *o, bool value)
{
    ne_json_raw(o, value ? "true" : "false");
}

void ne_json_milli(ne_json_out *o, uint64_t thousandths)
{
    char text[32];
    size_t n = ne_fmt(text, sizeof(text), "%llu.%03llu", (unsigned long long)(thousandths / 1000),
                      (unsigned long long)(thousandths % 1000));
    before_value(o);
    put(o, text, n);
}

void ne_json_raw(ne_json_out *o, const char *json)
{
    before_value(o);
    put(o, json, strlen(json));
}

/* Base64 in groups of 3 bytes (4 characters), 16 groups per read. */
void ne_json_base64(ne_json_out *o, ne_json_reader read, void *ctx, size_t len)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    before_value(o);
    putc1(o, '"');
    uint8_t in[48];
    char out[64];
    size_t done = 0;
    /* Bounded: each pass consumes up to 48 bytes of len. */
    while (done < len && o->error == NE_OK) {
        size_t n = NE_MIN(len - done, sizeof(in));
        read(ctx, done, in, n);
        size_t k = 0;
        size_t i = 0;
        for (; i + 3 <= n; i += 3) {
            uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
            out[k++] = alphabet[(v >> 18) & 63];
            out[k++] = alphabet[(v >> 12) & 63];
            out[k++] = alphabet[(v >> 6) & 63];
            out[k++] = alphabet[v & 63];
        }
        if (i < n) {
            /* Only the last read can end with a partial group. */
            uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0u);
            out[k++] = alphabet[(v >> 18) & 63];
            out[k++] = alphabet[(v >> 12) & 63];
            out[k++] = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
            out[k++] = '=';
        }
        put(o, out, k);
        done += n;
    }
    putc1(o, '"');
}

/* A time text from one of ne_time's writers, quoted. */
static void quoted(ne_json_out *o, void (*format)(ne_strbuf *, uint64_t), uint64_t value)
{
    char text[48];
    ne_strbuf sb;
    ne_strbuf_init(&sb, text, sizeof(text));
    format(&sb, value);
    before_value(o);
    if (sb.truncated) {
        o->error = o->error != NE_OK ? o->error : NE_ERR_TOO_BIG;
        return;
    }
    putc1(o, '"');
    put(o, text, sb.len);
    putc1(o, '"');
}

void ne_json_time(ne_json_out *o, uint64_t unix_ns)
{
    quoted(o, ne_time_rfc3339, unix_ns);
}

void ne_json_duration(ne_json_out *o, uint64_t ns)
{
    quoted(o, ne_time_go_duration, ns);
}

void ne_json_uptime(ne_json_out *o, uint64_t ns)
{
    quoted(o, ne_time_uptime, ns);
}

void ne_json_kv_string(ne_json_out *o, const char *key, const char *value)
{
    ne_json_key(o, key);
    ne_json_cstring(o, value);
}

void ne_json_kv_u64(ne_json_out *o, const char *key, uint64_t value)
{
    ne_json_key(o, key);
    ne_json_u64(o, value);
}

void ne_json_kv_i64(ne_json_out *o, const char *key, int64_t value)
{
    ne_json_key(o, key);
    ne_json_i64(o, value);
}

void ne_json_kv_bool(ne_json_out *o, const char *key, bool value)
{
    ne_json_key(o, key);
    ne_json_bool(o, value);
}

void ne_json_kv_raw(ne_json_out *o, const char *key, const char *json)
{
    ne_json_key(o, key);
    ne_json_raw(o, json);
}

void ne_json_kv_time(ne_json_out *o, const char *key, uint64_t unix_ns)
{
    ne_json_key(o, key);
    ne_json_time(o, unix_ns);
}

void ne_json_kv_duration(ne_json_out *o, const char *key, uint64_t ns)
{
    ne_json_key(o, key);
    ne_json_duration(o, ns);
}
