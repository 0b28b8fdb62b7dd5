/* Permission checks over the lists of the server options (ne_perm.h). Lists
 * are short (NE_MAX_PERM_SUBJECTS in all), so a linear scan is the whole
 * algorithm. */
#include "router/ne_perm.h"

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_subject.h"

/* What a list says about a subject: some entry without a queue matches it,
 * some entry with a queue matches it, and whether one of those names the
 * queue given. */
typedef struct list_match {
    bool plain;
    bool queued;
    bool queue_named;
} list_match;

/* A queue entry names queue q when equal, or when the entry is a wildcard
 * pattern that q falls within (nats-server's queueMatches). */
static bool queue_named(const ne_perm_subject *e, const char *q, size_t qlen)
{
    const char *eq = e->text + e->subject_len;
    if (e->queue_len == qlen && memcmp(eq, q, qlen) == 0) {
        return true;
    }
    return ne_subject_is_subset(q, qlen, eq, e->queue_len);
}

static list_match match_list(const ne_perm_list *l, const ne_perm_subject *table,
                             const char *subject, size_t len, const char *queue, size_t qlen)
{
    list_match m = {false, false, false};
    NE_ASSERT(l->first + l->count <= NE_MAX_PERM_SUBJECTS);
    for (uint32_t i = 0; i < l->count; i++) {
        const ne_perm_subject *e = &table[l->first + i];
        if (!ne_subject_matches(e->text, e->subject_len, subject, len)) {
            continue;
        }
        if (e->queue_len == 0) {
            m.plain = true;
        } else {
            m.queued = true;
            if (qlen > 0 && queue_named(e, queue, qlen)) {
                m.queue_named = true;
            }
        }
    }
    return m;
}

bool ne_perm_can_publish(const ne_permissions *p, const ne_perm_subject *table, const char *subject,
                         size_t len)
{
    if (p->pub_allow.present && !match_list(&p->pub_allow, table, subject, len, NULL, 0).plain) {
        return false;
    }
    return !match_list(&p->pub_deny, table, subject, len, NULL, 0).plain;
}

bool ne_perm_can_subscribe(const ne_permissions *p, const ne_perm_subject *table,
                           const char *subject, size_t len, const char *queue, size_t qlen)
{
    /* As nats-server's canSubscribe: for a queue subscription that queue
     * entries match, the queue entries decide, whatever the plain ones say
     * (in the allow list and in the deny list alike). */
    if (p->sub_allow.present) {
        list_match m = match_list(&p->sub_allow, table, subject, len, queue, qlen);
        bool allowed = (qlen > 0 && m.queued) ? m.queue_named : m.plain;
        if (!allowed) {
            return false;
        }
    }
    list_match d = match_list(&p->sub_deny, table, subject, len, queue, qlen);
    if (qlen > 0 && d.queued) {
        return !d.queue_named;
    }
    return !d.plain;
}

/* Length of the token at the start of s (up to its '.' or the end). */
static size_t token_len(const char *s, size_t len)
{
    const char *dot = memchr(s, '.', len);
    return dot != NULL ? (size_t)(dot - s) : len;
}

static bool is_token(const char *t, size_t n, char c)
{
    return n == 1 && t[0] == c;
}

/* nats-server 2.9's Sublist.ReverseMatch for one entry: does the wildcard
 * subscription `sub` cover the list entry `e`, whose tokens it takes as they
 * are? A '>' of sub covers one or more tokens of any kind, a '*' one literal
 * token, a literal token the same literal token; a wildcard token of e is
 * covered by nothing else than a '>'. Bounded: each pass consumes a token of
 * each. */
static bool covers_entry(const char *sub, size_t slen, const char *e, size_t elen)
{
    size_t si = 0, ei = 0;
    while (si < slen) {
        const char *st = sub + si;
        size_t sn = token_len(st, slen - si);
        if (is_token(st, sn, '>')) {
            return ei < elen;
        }
        if (ei >= elen) {
            return false;
        }
        const char *et = e + ei;
        size_t en = token_len(et, elen - ei);
        if (is_token(et, en, '*') || is_token(et, en, '>')) {
            return false;
        }
        if (!is_token(st, sn, '*') && (sn != en || memcmp(st, et, sn) != 0)) {
            return false;
        }
        si += sn + 1;
        ei += en + 1;
    }
    return ei >= elen;
}

bool ne_perm_announces_interest(const ne_permissions *p, const ne_perm_subject *table,
                                const char *subject, size_t len)
{
    if (p->pub_allow.present && !match_list(&p->pub_allow, table, subject, len, NULL, 0).plain) {
        bool covered = false;
        if (!ne_subject_valid_literal(subject, len)) {
            for (uint32_t i = 0; i < p->pub_allow.count && !covered; i++) {
                const ne_perm_subject *e = &table[p->pub_allow.first + i];
                covered = e->queue_len == 0 && covers_entry(subject, len, e->text, e->subject_len);
            }
        }
        if (!covered) {
            return false;
        }
    }
    return !match_list(&p->pub_deny, table, subject, len, NULL, 0).plain;
}

bool ne_perm_withholds(const ne_permissions *p, const ne_perm_subject *table, const char *subject,
                       size_t len)
{
    return match_list(&p->sub_deny, table, subject, len, NULL, 0).plain;
}

bool ne_perm_deny_overlaps(const ne_permissions *p, const ne_perm_subject *table,
                           const char *filter, size_t len)
{
    for (uint32_t i = 0; i < p->sub_deny.count; i++) {
        const ne_perm_subject *e = &table[p->sub_deny.first + i];
        if (e->queue_len == 0 && (ne_subject_is_subset(e->text, e->subject_len, filter, len) ||
                                  ne_subject_is_subset(filter, len, e->text, e->subject_len) ||
                                  ne_subject_matches(filter, len, e->text, e->subject_len))) {
            return true;
        }
    }
    return false;
}
