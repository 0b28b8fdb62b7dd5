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

/* Tokenizes text. NE_ERR_PARSE if malformed, NE_ERR_TOO_BIG if it has more
 * than NE_JSON_MAX_TOKENS tokens. Token 0 is the root value. */
int ne_json_parse(ne_json_doc *doc, const char *text, size_t len);

/* Index of the value of `key` in object token obj, or -1. */
int ne_json_find(const ne_json_doc *doc, int obj, const char *key);

/* Index of the token after the value at idx (skipping nested values). */
int ne_json_skip(const ne_json_doc *doc, int idx);

/* Typed reads of a key of object obj. They return true when the key is
 * present with the right type; false leaves *out unchanged. */
bool ne_json_get_bool(const ne_json_doc *doc, int obj, const char *key, bool *out);
bool ne_json_get_i64(const ne_json_doc *doc, int obj, const char *key, int64_t *out);
/* Copies the unescaped string into buf (NUL-terminated); false if absent,
 * not a string, malformed or longer than cap - 1 (set *too_long then). */
bool ne_json_get_string(const ne_json_doc *doc, int obj, const char *key, char *buf, size_t cap,
                        size_t *len);

/* Unescapes the string token idx into buf; false if it does not fit or is bad. */
bool ne_json_token_string(const ne_json_doc *doc, int idx, char *buf, size_t cap, size_t *len);
bool ne_json_token_i64(const ne_json_doc *doc, int idx, int64_t *out);
bool ne_json_token_eq(const ne_json_doc *doc, int idx, const char *text);

#endif
