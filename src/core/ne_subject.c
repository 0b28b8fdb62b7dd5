#include "core/ne_subject.h"

#include <string.h>

#include "core/ne_assert.h"

/* A cursor over the tokens of a subject. */
typedef struct token_cursor {
    const char *s;
    size_t len;
    size_t pos;
    bool done;
} token_cursor;

static void cursor_init(token_cursor *c, const char *s, size_t len)
{
    c->s = s;
    c->len = len;
    c->pos = 0;
    c->done = false;
}

/* The next token (possibly empty); false once every token was returned.
 * Each call consumes at least one byte or finishes, so a caller's loop over
 * it is bounded by the subject's length plus one. */
static bool cursor_next(token_cursor *c, const char **tok, size_t *tok_len)
{
    if (c->done) {
        return false;
    }
    const char *start = c->s + c->pos;
    const char *dot = c->pos < c->len ? memchr(start, '.', c->len - c->pos) : NULL;
    size_t end = dot != NULL ? (size_t)(dot - c->s) : c->len;
    *tok = start;
    *tok_len = end - c->pos;
    c->pos = end + 1;
    c->done = dot == NULL;
    return true;
}

static bool is_wild(const char *t, size_t n, char w)
{
    return n == 1 && t[0] == w;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f';
}

/* One pass over the bytes: a dot closes a token, which must not be empty,
 * and nothing may follow a '>' token. */
static bool valid(const char *s, size_t len, bool literal)
{
    if (len == 0) {
        return false;
    }
    NE_ASSERT(s != NULL);
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '.') {
            if (is_space(s[i])) {
                return false;
            }
            continue;
        }
        size_t n = i - start;
        if (n == 0) {
            return false; /* empty token: leading, trailing or double dot */
        }
        bool pwc = is_wild(s + start, n, '*');
        bool fwc = is_wild(s + start, n, '>');
        if (literal && (pwc || fwc)) {
            return false;
        }
        if (fwc && i != len) {
            return false; /* '>' must be the last token */
        }
        start = i + 1;
    }
    return true;
}

bool ne_subject_valid(const char *s, size_t len)
{
    return valid(s, len, false);
}

bool ne_subject_valid_literal(const char *s, size_t len)
{
    return valid(s, len, true);
}

size_t ne_subject_token_count(const char *s, size_t len)
{
    if (len == 0) {
        return 0;
    }
    NE_ASSERT(s != NULL);
    size_t n = 1;
    for (size_t i = 0; i < len; i++) {
        n += s[i] == '.' ? 1u : 0u;
    }
    return n;
}

/* The filter is checked whole first so that the token walk below can rely
 * on '>' being last and no token being empty; this function is not on the
 * routing hot path (the trie is), so clarity wins over one saved pass. */
bool ne_subject_matches(const char *filter, size_t flen, const char *subject, size_t slen)
{
    if (slen == 0 || !ne_subject_valid(filter, flen)) {
        return false;
    }
    NE_ASSERT(subject != NULL);
    token_cursor fc, sc;
    cursor_init(&fc, filter, flen);
    cursor_init(&sc, subject, slen);
    const char *ft, *st;
    size_t fn, sn;
    /* Bounded by the filter's tokens. */
    while (cursor_next(&fc, &ft, &fn)) {
        if (!cursor_next(&sc, &st, &sn) || sn == 0) {
            return false; /* the subject ran out first, or has an empty token */
        }
        if (is_wild(ft, fn, '>')) {
            /* One or more tokens: the rest must still be well formed, as the
             * trie refuses subjects with empty tokens whatever matches them. */
            while (cursor_next(&sc, &st, &sn)) {
                if (sn == 0) {
                    return false;
                }
            }
            return true;
        }
        if (!is_wild(ft, fn, '*') && (fn != sn || memcmp(ft, st, fn) != 0)) {
            return false;
        }
    }
    return !cursor_next(&sc, &st, &sn); /* both ran out together */
}

/* Token by token: where b has '>' the rest of a (one or more tokens) is
 * covered; where a has '>' and b does not, a reaches subjects b cannot; a
 * '*' in b covers any single token of a, but a '*' in a is only covered by
 * a '*' (or '>') in b. Both must end together. */
bool ne_subject_is_subset(const char *a, size_t alen, const char *b, size_t blen)
{
    if (!ne_subject_valid(a, alen) || !ne_subject_valid(b, blen)) {
        return false;
    }
    token_cursor ac, bc;
    cursor_init(&ac, a, alen);
    cursor_init(&bc, b, blen);
    const char *at, *bt;
    size_t an, bn;
    /* Bounded by b's tokens. */
    while (cursor_next(&bc, &bt, &bn)) {
        if (!cursor_next(&ac, &at, &an)) {
            return false;
        }
        if (is_wild(bt, bn, '>')) {
            return true;
        }
        if (is_wild(at, an, '>')) {
            return false;
        }
        if (is_wild(bt, bn, '*')) {
            continue;
        }
        if (is_wild(at, an, '*') || an != bn || memcmp(at, bt, an) != 0) {
            return false;
        }
    }
    return !cursor_next(&ac, &at, &an);
}
