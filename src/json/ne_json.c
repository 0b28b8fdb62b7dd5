/* The one translation unit that holds jsmn's definitions. Strict mode: a
 * primitive starts a number or true/false/null and is never a key (the rest
 * of the JSON grammar for primitives is checked here, below). */
#define JSMN_STRICT
#include <jsmn.h>

#include "json/ne_json.h"

#include <string.h>

#include "core/ne_error.h"
#include "core/ne_fmt.h"

/* JSON's number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool valid_number(const char *p, size_t len)
{
    size_t i = 0;
    if (i < len && p[i] == '-') {
        i++;
    }
    if (i >= len || p[i] < '0' || p[i] > '9') {
        return false;
    }
    if (p[i] == '0') {
        i++;
    } else {
        while (i < len && p[i] >= '0' && p[i] <= '9') {
            i++;
        }
    }
    if (i < len && p[i] == '.') {
        size_t start = ++i;
        while (i < len && p[i] >= '0' && p[i] <= '9') {
            i++;
        }
        if (i == start) {
            return false;
        }
    }
    if (i < len && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < len && (p[i] == '+' || p[i] == '-')) {
            i++;
        }
        size_t start = i;
        while (i < len && p[i] >= '0' && p[i] <= '9') {
            i++;
        }
        if (i == start) {
            return false;
        }
    }
    return i == len;
}

static bool token_is(const char *text, const jsmntok_t *t, const char *word)
{
    size_t n = strlen(word);
    return (size_t)(t->end - t->start) == n && memcmp(text + t->start, word, n) == 0;
}

/* What jsmn leaves to us: primitives that are exactly true, false, null or
 * a number, and strings without raw control bytes (JSON wants them
 * escaped). nats-server refuses a CONNECT that breaks either rule. */
static bool tokens_valid(const ne_json_doc *doc)
{
    for (int i = 0; i < doc->count; i++) {
        const jsmntok_t *t = &doc->tokens[i];
        const char *p = doc->text + t->start;
        size_t n = (size_t)(t->end - t->start);
        if (t->type == JSMN_PRIMITIVE) {
            if (!token_is(doc->text, t, "true") && !token_is(doc->text, t, "false") &&
                !token_is(doc->text, t, "null") && !valid_number(p, n)) {
                return false;
            }
        } else if (t->type == JSMN_STRING) {
            for (size_t k = 0; k < n; k++) {
                if ((unsigned char)p[k] < 0x20) {
                    return false;
                }
            }
        }
    }
    return true;
}

/* What jsmn does not check about the separators, read from the text: a
 * comma only between two values, a colon only after a key, a value only at
 * the start, after an opening bracket, a comma or a colon, a closing bracket
 * only after a value, a closing bracket or its opening one. This refuses
 * [1,], {,"a":1}, {"a":} and [1 2], which jsmn takes. */
typedef enum item { ITEM_NONE, ITEM_OPEN, ITEM_CLOSE, ITEM_COMMA, ITEM_COLON, ITEM_VALUE } item;

static bool item_may_follow(item prev, item cur)
{
    switch (cur) {
    case ITEM_COMMA:
    case ITEM_COLON:
        return prev == ITEM_VALUE || (cur == ITEM_COMMA && prev == ITEM_CLOSE);
    case ITEM_CLOSE:
        return prev == ITEM_VALUE || prev == ITEM_CLOSE || prev == ITEM_OPEN;
    case ITEM_OPEN:
    case ITEM_VALUE:
        return prev == ITEM_NONE || prev == ITEM_OPEN || prev == ITEM_COMMA || prev == ITEM_COLON;
    case ITEM_NONE:
        break;
    }
    return false;
}

static bool ends_primitive(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '{' || c == '}' || c == '[' ||
           c == ']' || c == ',' || c == ':' || c == '"';
}

static bool separators_valid(const char *text, size_t len)
{
    item prev = ITEM_NONE;
    size_t i = 0;
    while (i < len) { /* each pass consumes at least one byte */
        char c = text[i];
        item cur;
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            i++;
            continue;
        }
        if (c == '{' || c == '[') {
            cur = ITEM_OPEN;
            i++;
        } else if (c == '}' || c == ']') {
            cur = ITEM_CLOSE;
            i++;
        } else if (c == ',') {
            cur = ITEM_COMMA;
            i++;
        } else if (c == ':') {
            cur = ITEM_COLON;
            i++;
        } else if (c == '"') {
            cur = ITEM_VALUE;
            i++;
            while (i < len && text[i] != '"') {
                i += text[i] == '\\' ? 2 : 1;
            }
            i++;
        } else {
            cur = ITEM_VALUE;
            i++; /* c itself: a primitive is never empty */
            while (i < len && !ends_primitive(text[i])) {
                i++;
            }
        }
        if (!item_may_follow(prev, cur)) {
            return false;
        }
        prev = cur;
    }
    return true;
}

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
    return tokens_valid(doc) && separators_valid(text, end) ? NE_OK : NE_ERR_PARSE;
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

/* The magnitude is accumulated unsigned and checked against the limit of
 * its sign before each step, so no value overflows: INT64_MAX for a
 * positive number, its magnitude plus one for a negative one. */
bool ne_json_token_i64(const ne_json_doc *doc, int idx, int64_t *out)
{
    const jsmntok_t *t = &doc->tokens[idx];
    if (t->type != JSMN_PRIMITIVE) {
        return false;
    }
    const char *p = doc->text + t->start;
    size_t len = (size_t)(t->end - t->start);
    bool negative = len > 0 && p[0] == '-';
    size_t i = negative ? 1 : 0;
    if (i >= len || (p[i] == '0' && len - i > 1)) {
        return false; /* empty, or a leading zero (JSON has none) */
    }
    const uint64_t limit = negative ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    for (; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return false; /* a fraction, an exponent or not a number */
        }
        uint64_t d = (uint64_t)(p[i] - '0');
        if (v > (limit - d) / 10u) {
            return false; /* beyond int64: nats-server's decoder refuses it too */
        }
        v = v * 10u + d;
    }
    /* v >= 1 when negative: "-0" was taken as 0 above only without a sign. */
    *out = negative ? (v == 0 ? 0 : -(int64_t)(v - 1u) - 1) : (int64_t)v;
    return true;
}

bool ne_json_token_u64(const ne_json_doc *doc, int idx, uint64_t *out)
{
    const jsmntok_t *t = &doc->tokens[idx];
    if (t->type != JSMN_PRIMITIVE) {
        return false;
    }
    const char *p = doc->text + t->start;
    size_t len = (size_t)(t->end - t->start);
    if (len == 0 || (p[0] == '0' && len > 1)) {
        return false; /* empty, or a leading zero (JSON has none) */
    }
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return false; /* a sign, a fraction, an exponent or not a number */
        }
        uint64_t d = (uint64_t)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10u) {
            return false; /* beyond uint64 */
        }
        v = v * 10u + d;
    }
    *out = v;
    return true;
}

int ne_json_check(const ne_json_doc *doc, int obj, const char *key, ne_json_kind kind)
{
    int i = ne_json_find(doc, obj, key);
    if (i < 0 || (doc->tokens[i].type == JSMN_PRIMITIVE && ne_json_token_eq(doc, i, "null"))) {
        return NE_OK;
    }
    const jsmntok_t *t = &doc->tokens[i];
    int64_t ignored;
    switch (kind) {
    case NE_JSON_BOOL:
        return t->type == JSMN_PRIMITIVE &&
                       (ne_json_token_eq(doc, i, "true") || ne_json_token_eq(doc, i, "false"))
                   ? NE_OK
                   : NE_ERR_INVALID;
    case NE_JSON_INT:
        return ne_json_token_i64(doc, i, &ignored) ? NE_OK : NE_ERR_INVALID;
    case NE_JSON_STRING:
        return t->type == JSMN_STRING ? NE_OK : NE_ERR_INVALID;
    }
    return NE_ERR_INVALID;
}

bool ne_json_get_i64(const ne_json_doc *doc, int obj, const char *key, int64_t *out)
{
    int i = ne_json_find(doc, obj, key);
    return i >= 0 && ne_json_token_i64(doc, i, out);
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

/* A cut that left the start of a multi-byte UTF-8 character at the end of
 * buf (the next input byte continues it) takes that start back off. */
static size_t whole_characters(const char *buf, size_t o, unsigned char next)
{
    if ((next & 0xc0u) != 0x80u) {
        return o;
    }
    while (o > 0 && ((unsigned char)buf[o - 1] & 0xc0u) == 0x80u) {
        o--;
    }
    if (o > 0 && (unsigned char)buf[o - 1] >= 0xc0u) {
        o--;
    }
    return o;
}

/* Unescapes string token idx into buf. With cut NULL a string that does not
 * fit is false; otherwise it is cut after its last whole character that fits
 * and *cut set. False for a malformed escape either way. */
static bool unescape(const ne_json_doc *doc, int idx, char *buf, size_t cap, size_t *len, bool *cut)
{
    const jsmntok_t *t = &doc->tokens[idx];
    if (t->type != JSMN_STRING || cap == 0) {
        return false;
    }
    const char *p = doc->text + t->start;
    size_t n = (size_t)(t->end - t->start);
    size_t o = 0;
    bool full = false;
    size_t i = 0;
    for (; i < n && !full; i++) {
        if (o + 1 >= cap) {
            full = true;
            break;
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
                int h = ne_hex_value(p[i + (size_t)k]);
                if (h < 0) {
                    return false;
                }
                cp = (cp << 4) | (uint32_t)h;
            }
            size_t w = put_utf8(buf + o, cap - 1 - o, cp);
            if (w == 0) {
                full = true; /* nothing of this character was written */
                break;
            }
            i += 4;
            o += w;
            break;
        }
        default:
            return false;
        }
    }
    if (full) {
        if (cut == NULL) {
            return false;
        }
        *cut = true;
        o = whole_characters(buf, o, (unsigned char)p[i]);
    }
    buf[o] = '\0';
    if (len != NULL) {
        *len = o;
    }
    return true;
}

bool ne_json_token_string(const ne_json_doc *doc, int idx, char *buf, size_t cap, size_t *len)
{
    return unescape(doc, idx, buf, cap, len, NULL);
}

bool ne_json_token_string_cut(const ne_json_doc *doc, int idx, char *buf, size_t cap, size_t *len,
                              bool *cut)
{
    *cut = false;
    return unescape(doc, idx, buf, cap, len, cut);
}

bool ne_json_get_string(const ne_json_doc *doc, int obj, const char *key, char *buf, size_t cap,
                        size_t *len)
{
    int i = ne_json_find(doc, obj, key);
    return i >= 0 && ne_json_token_string(doc, i, buf, cap, len);
}
