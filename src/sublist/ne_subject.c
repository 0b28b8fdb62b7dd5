#include "sublist/ne_subject.h"

#include <string.h>

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f';
}

static bool valid(const char *s, size_t len, bool literal)
{
    if (len == 0) {
        return false;
    }
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
        if (n == 1 && (s[start] == '*' || s[start] == '>')) {
            if (literal) {
                return false;
            }
            if (s[start] == '>' && i != len) {
                return false; /* '>' must be the last token */
            }
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
    size_t n = 1;
    for (size_t i = 0; i < len; i++) {
        n += s[i] == '.' ? 1u : 0u;
    }
    return n;
}

/* The token of s starting at *pos; advances *pos past the dot. */
static bool next_token(const char *s, size_t len, size_t *pos, const char **tok, size_t *tok_len)
{
    if (*pos > len) {
        return false;
    }
    const char *dot = memchr(s + *pos, '.', len - *pos);
    size_t end = dot != NULL ? (size_t)(dot - s) : len;
    *tok = s + *pos;
    *tok_len = end - *pos;
    *pos = end + 1;
    return true;
}

static bool is_wild(const char *t, size_t n, char w)
{
    return n == 1 && t[0] == w;
}

bool ne_subject_matches(const char *filter, size_t flen, const char *subject, size_t slen)
{
    size_t fp = 0, sp = 0;
    const char *ft, *st;
    size_t fn, sn;
    while (next_token(filter, flen, &fp, &ft, &fn)) {
        if (!next_token(subject, slen, &sp, &st, &sn)) {
            return false; /* the subject ran out first */
        }
        if (is_wild(ft, fn, '>')) {
            return true;
        }
        if (!is_wild(ft, fn, '*') && (fn != sn || memcmp(ft, st, fn) != 0)) {
            return false;
        }
    }
    return sp > slen; /* both ran out together */
}

bool ne_subject_is_subset(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t ap = 0, bp = 0;
    const char *at, *bt;
    size_t an, bn;
    while (next_token(b, blen, &bp, &bt, &bn)) {
        if (!next_token(a, alen, &ap, &at, &an)) {
            return false;
        }
        if (is_wild(bt, bn, '>')) {
            return true;
        }
        if (is_wild(at, an, '>')) {
            return false; /* a reaches deeper than b allows */
        }
        if (is_wild(bt, bn, '*')) {
            continue;
        }
        if (is_wild(at, an, '*') || an != bn || memcmp(at, bt, an) != 0) {
            return false;
        }
    }
    return ap > alen;
}
