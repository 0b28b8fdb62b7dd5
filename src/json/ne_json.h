/* Reading JSON (CONNECT, INFO, and later API requests) over jsmn tokens in a
 * bounded array. Writing JSON goes through ne_strbuf (core/ne_fmt.h). */
#ifndef NE_JSON_H
#define NE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ne_config.h" /* NE_JSON_MAX_TOKENS may come from a profile */

/* jsmn is header-only: this header sees its declarations only; ne_json.c
 * includes it once without JSMN_HEADER to hold the definitions. */
#ifndef JSMN_H
#define JSMN_HEADER
#include <jsmn.h>
#undef JSMN_HEADER
#endif

#ifndef NE_JSON_MAX_TOKENS
#define NE_JSON_MAX_TOKENS 256
#endif

typedef struct ne_json_doc {
    const char *text;
    int count;
    jsmntok_t tokens[NE_JSON_MAX_TOKENS];
} ne_json_doc;

/* Tokenizes text. NE_ERR_PARSE if it is not one JSON value (white space
 * around it allowed): bad structure, a primitive other than true, false,
 * null or a JSON number, a raw control byte in a string. NE_ERR_TOO_BIG if
 * it has more than NE_JSON_MAX_TOKENS tokens. Token 0 is the root value. */
int ne_json_parse(ne_json_doc *doc, const char *text, size_t len);

/* Index of the value of `key` in object token obj, or -1. */
int ne_json_find(const ne_json_doc *doc, int obj, const char *key);

/* Index of the token after the value at idx (skipping nested values). */
int ne_json_skip(const ne_json_doc *doc, int idx);

/* Typed reads of a key of object obj. They return true when the key is
 * present with the right type; false leaves *out unchanged. */
bool ne_json_get_bool(const ne_json_doc *doc, int obj, const char *key, bool *out);
/* An integer in int64's range, in JSON's form (no fraction, exponent or
 * leading zero); any other number is false, never wrapped. */
bool ne_json_get_i64(const ne_json_doc *doc, int obj, const char *key, int64_t *out);
/* Copies the unescaped string into buf (NUL-terminated); false if absent,
 * not a string, malformed or longer than cap - 1 (set *too_long then). */
bool ne_json_get_string(const ne_json_doc *doc, int obj, const char *key, char *buf, size_t cap,
                        size_t *len);

/* Unescapes the string token idx into buf; false if it does not fit or is bad. */
bool ne_json_token_string(const ne_json_doc *doc, int idx, char *buf, size_t cap, size_t *len);
/* As ne_json_token_string, but a string that does not fit is cut after its
 * last whole character (escape or UTF-8 sequence) that fits, and *cut is set;
 * false only for a token that is not a well-formed string or cap 0. */
bool ne_json_token_string_cut(const ne_json_doc *doc, int idx, char *buf, size_t cap, size_t *len,
                              bool *cut);
bool ne_json_token_i64(const ne_json_doc *doc, int idx, int64_t *out);
/* A number token read as Go decodes into a uint64: 0 to 18446744073709551615,
 * no sign, fraction or exponent. */
bool ne_json_token_u64(const ne_json_doc *doc, int idx, uint64_t *out);
bool ne_json_token_eq(const ne_json_doc *doc, int idx, const char *text);

/* The Go type a field of nats-server's JSON is decoded into. */
typedef enum ne_json_kind {
    NE_JSON_BOOL,
    NE_JSON_INT, /* int64 */
    NE_JSON_STRING,
} ne_json_kind;

/* Whether key of object obj could be decoded as kind, as nats-server's
 * decoder sees it: NE_OK when absent, null or of the kind (an integer within
 * int64); NE_ERR_INVALID otherwise (nats-server then refuses the whole
 * document). */
int ne_json_check(const ne_json_doc *doc, int obj, const char *key, ne_json_kind kind);

#endif
