/* The one translation unit that holds jsmn's definitions. */
#include <jsmn.h>

#include "json/ne_json.h"

#include <string.h>

#include "core/ne_error.h"

int ne_json_parse(ne_json_doc *doc, const char *text, size_t len)
{
    jsmn_parser parser;
    jsmn_init(&parser);
    doc->text = text;
    int n = jsmn_parse(&parser, text, len, doc->tokens, NE_JSON_MAX_TOKENS);
    if (n == JSMN_ERROR_NOMEM) {
        return NE_ERR_TOO_BIG;
    }
    if (n < 1) {
        return NE_ERR_PARSE;
    }
    /* jsmn accepts some non-JSON (several root values); require that the
     * first value spans the whole text apart from white space. */
    size_t end = (size_t)doc->tokens[0].end;
    for (size_t i = end; i < len; i++) {
        char c = text[i];
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
            return NE_ERR_PARSE;
        }
    }
    doc->count = n;
    return NE_OK;
}

int ne_json_skip(const ne_json_doc *doc, int idx)
{
    /* Walk forward counting how many tokens are still owed to the value at
     * idx: each token contributes its children. Bounded by the token count. */
    int pending = 1;
    int i = idx;
    while (pending > 0 && i < doc->count) {
        const jsmntok_t *t = &doc->tokens[i];
        pending--;
        if (t->type == JSMN_OBJECT) {
            pending += t->size * 2;
        } else if (t->type == JSMN_ARRAY) {
            pending += t->size;
        }
        i++;
    }
    return i;
}

bool ne_json_token_eq(const ne_json_doc *doc, int idx, const char *text)
{
    const jsmntok_t *t = &doc->tokens[idx];
    size_t n = strlen(text);
    return (size_t)(t->end - t->start) == n && memcmp(doc->text + t->start, text, n) == 0;
}

int ne_json_find(const ne_json_doc *doc, int obj, const char *key)
{
    if (obj < 0 || obj >= doc->count || doc->tokens[obj].type != JSMN_OBJECT) {
        return -1;
    }
    int members = doc->tokens[obj].size;
    int i = obj + 1;
    for (int m = 0; m < members && i < doc->count; m++) {
        if (doc->tokens[i].type == JSMN_STRING && ne_json_token_eq(doc, i, key) &&
            i + 1 < doc->count) {
            return i + 1;
        }
        i = ne_json_skip(doc, i + 1);
    }
    return -1;
}

bool ne_json_get_bool(const ne_json_doc *doc, int obj, const char *key, bool *out)
{
    int i = ne_json_find(doc, obj, key);
    if (i < 0 || doc->tokens[i].type != JSMN_PRIMITIVE) {
        return false;
    }
    if (ne_json_token_eq(doc, i, "true")) {
        *out = true;
        return true;
    }
    if (ne_json_token_eq(doc, i, "false")) {
        *out = false;
        return true;
    }
    return false;
}

bool ne_json_token_i64(const ne_json_doc *doc, int idx, int64_t *out)
{
    const jsmntok_t *t = &doc->tokens[idx];
    if (t->type != JSMN_PRIMITIVE) {
        return false;
    }
    const char *p = doc->text + t->start;
    int len = t->end - t->start;
    bool negative = false;
    int i = 0;
    if (len > 0 && p[0] == '-') {
        negative = true;
        i = 1;
    }
    if (i >= len || len - i > 19) {
        return false;
    }
    int64_t v = 0;
    for (; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return false;
        }
        v = v * 10 + (p[i] - '0');
    }
    *out = negative ? -v : v;
    return true;
}

bool ne_json_get_i64(const ne_json_doc *doc, int obj, const char *key, int64_t *out)
{
    int i = ne_json_find(doc, obj, key);
    return i >= 0 && ne_json_token_i64(doc, i, out);
}

static int hex_value(char c)
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

/* Writes code point cp as UTF-8; returns bytes written or 0 if no room. */
static size_t put_utf8(char *out, size_t room, uint32_t cp)
{
    if (cp < 0x80 && room >= 1) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800 && room >= 2) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000 && room >= 3) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    if (room >= 4 && cp < 0x110000) {
        out[0] = (char)(0xf0 | (cp >> 18));
        out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[3] = (char)(0x80 | (cp & 0x3f));
        return 4;
    }
    return 0;
}

bool ne_json_token_string(const ne_json_doc *doc, int idx, char *buf, size_t cap, size_t *len)
{
    const jsmntok_t *t = &doc->tokens[idx];
    if (t->type != JSMN_STRING || cap == 0) {
        return false;
    }
    const char *p = doc->text + t->start;
    size_t n = (size_t)(t->end - t->start);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (o + 1 >= cap) {
            return false;
        }
        char c = p[i];
        if (c != '\\') {
            buf[o++] = c;
            continue;
        }
        if (++i >= n) {
            return false;
        }
        switch (p[i]) {
        case '"':
            buf[o++] = '"';
            break;
        case '\\':
            buf[o++] = '\\';
            break;
        case '/':
            buf[o++] = '/';
            break;
        case 'b':
            buf[o++] = '\b';
            break;
        case 'f':
            buf[o++] = '\f';
            break;
        case 'n':
            buf[o++] = '\n';
            break;
        case 'r':
            buf[o++] = '\r';
            break;
        case 't':
            buf[o++] = '\t';
            break;
        case 'u': {
            if (i + 4 >= n) {
                return false;
            }
            uint32_t cp = 0;
            for (int k = 1; k <= 4; k++) {
                int h = hex_value(p[i + (size_t)k]);
                if (h < 0) {
                    return false;
                }
                cp = (cp << 4) | (uint32_t)h;
            }
            i += 4;
            size_t w = put_utf8(buf + o, cap - 1 - o, cp);
            if (w == 0) {
                return false;
            }
            o += w;
            break;
        }
        default:
            return false;
        }
    }
    buf[o] = '\0';
    if (len != NULL) {
        *len = o;
    }
    return true;
}

bool ne_json_get_string(const ne_json_doc *doc, int obj, const char *key, char *buf, size_t cap,
                        size_t *len)
{
    int i = ne_json_find(doc, obj, key);
    return i >= 0 && ne_json_token_string(doc, i, buf, cap, len);
}
