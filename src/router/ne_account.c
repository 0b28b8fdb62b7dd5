/* Subject mapping for imports (ne_account.h). */
#include "router/ne_account.h"

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_subject.h"

/* The next token of s[0..len) from *pos: its start and length; false at the
 * end. */
static bool next_token(const char *s, size_t len, size_t *pos, const char **tok, size_t *tok_len)
{
    if (*pos > len) {
        return false;
    }
    size_t start = *pos;
    size_t end = start;
    while (end < len && s[end] != '.') {
        end++;
    }
    *tok = s + start;
    *tok_len = end - start;
    *pos = end + 1;
    return true;
}

static bool is_token(const char *tok, size_t n, char c)
{
    return n == 1 && tok[0] == c;
}

static void count_wildcards(const char *s, size_t len, uint32_t *stars, bool *tail)
{
    size_t pos = 0;
    const char *tok;
    size_t n;
    *stars = 0;
    *tail = false;
    for (uint32_t guard = 0; guard <= len && next_token(s, len, &pos, &tok, &n); guard++) {
        *stars += is_token(tok, n, '*') ? 1u : 0u;
        *tail = *tail || is_token(tok, n, '>');
    }
}

bool ne_account_mapping_valid(const char *from, size_t from_len, const char *to, size_t to_len)
{
    if (to_len == 0) {
        return true;
    }
    uint32_t fs, ts;
    bool ft, tt;
    count_wildcards(from, from_len, &fs, &ft);
    count_wildcards(to, to_len, &ts, &tt);
    return (ts == 0 && !tt) || (fs == ts && ft == tt);
}

size_t ne_account_map_subject(const char *from, size_t from_len, const char *to, size_t to_len,
                              const char *subject, size_t len, char *out, size_t cap)
{
    if (to_len == 0) {
        /* The subject as it is: whatever its token count, never cut. */
        if (len > cap) {
            return 0;
        }
        memcpy(out, subject, len);
        return len;
    }
    /* The subject's tokens that the filter's wildcards matched. Each loop
     * below ends at the end of its filter: a token takes at least one byte
     * (its dot), so the bounds are the filters' lengths. */
    const char *stars[NE_MAX_SUBJECT_TOKENS];
    size_t star_lens[NE_MAX_SUBJECT_TOKENS];
    uint32_t star_count = 0;
    const char *tail = NULL;
    size_t tail_len = 0;
    size_t fpos = 0, spos = 0;
    const char *ft, *st;
    size_t fn, sn;
    for (uint32_t guard = 0; guard <= from_len && next_token(from, from_len, &fpos, &ft, &fn);
         guard++) {
        if (is_token(ft, fn, '>')) {
            tail = subject + spos;
            tail_len = spos <= len ? len - spos : 0;
            break;
        }
        if (!next_token(subject, len, &spos, &st, &sn)) {
            return 0;
        }
        if (is_token(ft, fn, '*') && star_count < NE_MAX_SUBJECT_TOKENS) {
            stars[star_count] = st;
            star_lens[star_count] = sn;
            star_count++;
        }
    }
    size_t w = 0, tpos = 0;
    uint32_t used = 0;
    const char *tt;
    size_t tn;
    for (uint32_t guard = 0; guard <= to_len && next_token(to, to_len, &tpos, &tt, &tn); guard++) {
        const char *piece = tt;
        size_t piece_len = tn;
        if (is_token(tt, tn, '*') && used < star_count) {
            piece = stars[used];
            piece_len = star_lens[used];
            used++;
        } else if (is_token(tt, tn, '>') && tail != NULL) {
            piece = tail;
            piece_len = tail_len;
        }
        if (w + piece_len + 1 > cap) {
            return 0;
        }
        if (w > 0) {
            out[w++] = '.';
        }
        memcpy(out + w, piece, piece_len);
        w += piece_len;
    }
    return w;
}
