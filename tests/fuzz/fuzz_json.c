/* libFuzzer harness for the JSON reader (src/json): any bytes as a document.
 * Parsing never reads outside the text; every number read is in int64's
 * range without overflow (UBSan); every string read, whole or cut, fits its
 * buffer, is NUL-terminated, and a cut string is a prefix of the whole one
 * that ends on a character boundary. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/ne_error.h"
#include "json/ne_json.h"

static ne_json_doc doc;

/* Lead bytes followed by the continuation bytes they announce. */
static bool valid_utf8(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        size_t n = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
        if (n == 0 || i + n > len) {
            return false;
        }
        for (size_t k = 1; k < n; k++) {
            if (((unsigned char)s[i + k] & 0xc0u) != 0x80u) {
                return false;
            }
        }
        i += n;
    }
    return true;
}

static void check_strings(int idx)
{
    static char whole[4096], part[4096];
    size_t whole_len = 0;
    bool fits = ne_json_token_string(&doc, idx, whole, sizeof(whole), &whole_len);
    if (fits && (whole_len >= sizeof(whole) || whole[whole_len] != '\0')) {
        abort();
    }
    for (size_t cap = 1; cap <= 8; cap++) {
        size_t len = 0;
        bool cut = false;
        if (!ne_json_token_string_cut(&doc, idx, part, cap, &len, &cut)) {
            continue;
        }
        if (len >= cap || part[len] != '\0') {
            abort();
        }
        if (fits &&
            (len > whole_len || memcmp(part, whole, len) != 0 || cut != (whole_len > len))) {
            abort();
        }
        /* Never half of a UTF-8 sequence the input had whole. */
        if (cut && fits && valid_utf8(whole, whole_len) &&
            ((unsigned char)whole[len] & 0xc0u) == 0x80u) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (ne_json_parse(&doc, (const char *)data, size) != NE_OK) {
        return 0;
    }
    for (int i = 0; i < doc.count; i++) {
        const jsmntok_t *t = &doc.tokens[i];
        if (t->start < 0 || t->end < t->start || (size_t)t->end > size) {
            abort();
        }
        int64_t v;
        (void)ne_json_token_i64(&doc, i, &v);
        if (t->type == JSMN_STRING) {
            check_strings(i);
        }
    }
    static const char *const keys[] = {"protocol", "verbose", "name"};
    static const ne_json_kind kinds[] = {NE_JSON_INT, NE_JSON_BOOL, NE_JSON_STRING};
    for (size_t k = 0; k < 3; k++) {
        (void)ne_json_check(&doc, 0, keys[k], kinds[k]);
    }
    return 0;
}
