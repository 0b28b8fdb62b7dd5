#include "sublist/ne_sublist.h"

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "core/ne_subject.h"

/* The pool hands out slots of nodes[] directly, so a node's index is its
 * position in that array; that needs the pool's rounded object size to be
 * the array stride. The pool's free-list link overlays a free node's first
 * bytes, which must not be `live`. */
_Static_assert(sizeof(ne_trie_node) % sizeof(void *) == 0, "node stride must match the pool's");
_Static_assert(offsetof(ne_trie_node, live) >= sizeof(void *), "live overlaps the free-list link");
_Static_assert(NE_TOKEN_BYTES >= 1 && NE_TOKEN_BYTES <= 255, "token_len is a uint8_t");
_Static_assert(NE_MAX_MATCH_QUEUE_GROUPS >= 1 && NE_MAX_MATCH_QUEUE_GROUPS < 255,
               "group_of is a uint8_t (255 marks a dropped member)");
_Static_assert(NE_MAX_TRIE_NODES >= 1 && NE_MAX_TRIE_NODES < (1u << 30),
               "node indexes and the slot count must fit a uint32_t");
_Static_assert((NE_TRIE_SLOTS & (NE_TRIE_SLOTS - 1u)) == 0, "slots must be a power of two");
_Static_assert(NE_TRIE_SLOTS >= 2u * NE_MAX_TRIE_NODES, "the child table must stay half empty");

#define SLOT_MASK (NE_TRIE_SLOTS - 1u)
#define GROUP_NONE 255u

/* ---- Hashing ------------------------------------------------------------- */

/* A token's hash, independent of where it sits: computed once per token of
 * a published subject, then combined with each parent the walk visits.
 * Bytes are gathered into 64-bit words (in byte order, so the value is the
 * same on any endianness) and each word goes through a multiply-xorshift
 * mix. Fed a byte at a time, it lets the match path hash a token while it
 * looks for the dot that ends it, in one pass over the subject. Not keyed:
 * a client able to subscribe can crowd one probe sequence (bounded by the
 * node count); trie->probe_peak shows it. */
#define HASH_SEED 0x9e3779b97f4a7c15ull

typedef struct token_hasher {
    uint64_t h;
    uint64_t word;
    uint32_t shift;
} token_hasher;

static void hasher_reset(token_hasher *th)
{
    th->h = HASH_SEED;
    th->word = 0;
    th->shift = 0;
}

static uint64_t mix_word(uint64_t h, uint64_t w)
{
    h = (h ^ w) * 0xff51afd7ed558ccdull;
    return h ^ (h >> 32);
}

static void hasher_byte(token_hasher *th, uint8_t c)
{
    th->word |= (uint64_t)c << th->shift;
    th->shift += 8;
    if (th->shift == 64) {
        th->h = mix_word(th->h, th->word);
        th->word = 0;
        th->shift = 0;
    }
}

/* The length goes in last, so that "a" and "a\0" differ. */
static uint64_t hasher_finish(const token_hasher *th, size_t len)
{
    uint64_t h = th->shift > 0 ? mix_word(th->h, th->word) : th->h;
    return h ^ ((uint64_t)len * HASH_SEED);
}

static uint64_t token_hash(const char *tok, size_t len)
{
    token_hasher th;
    hasher_reset(&th);
    for (size_t i = 0; i < len; i++) {
        hasher_byte(&th, (uint8_t)tok[i]);
    }
    return hasher_finish(&th, len);
}

static uint32_t child_hash(uint64_t tok_hash, uint32_t parent)
{
    uint64_t h = tok_hash ^ ((uint64_t)parent * 0xc2b2ae3d27d4eb4full);
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return (uint32_t)h;
}

/* ---- Nodes and the child table ------------------------------------------- */

static bool is_wild(const char *t, size_t n, char w)
{
    return n == 1 && t[0] == w;
}

static uint32_t node_alloc(ne_trie *t, uint32_t parent)
{
    ne_trie_node *n = ne_pool_alloc(&t->pool);
    if (n == NULL) {
        return NE_TRIE_NONE;
    }
    n->parent = parent;
    n->pwc = NE_TRIE_NONE;
    n->fwc = NE_TRIE_NONE;
    n->live = 1;
    return (uint32_t)(n - t->nodes);
}

static void node_free(ne_trie *t, uint32_t idx)
{
    t->nodes[idx].live = 0;
    ne_pool_free(&t->pool, &t->nodes[idx]);
}

static bool node_empty(const ne_trie_node *n)
{
    return n->plain == NULL && n->queue == NULL && n->literal_children == 0 &&
           n->pwc == NE_TRIE_NONE && n->fwc == NE_TRIE_NONE;
}

/* Tokens are short and the hash has already matched, so the bytes almost
 * always agree: a plain loop beats a call to memcmp here. */
static bool same_bytes(const char *a, const char *b, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (a[i] != b[i]) {
            return false;
        }
    }
    return true;
}

/* The literal child of `parent` for a token of hash h, or NE_TRIE_NONE.
 * Linear probing ends at an empty slot, and the table is never more than
 * half full, so one exists; the bound is the table size. */
static uint32_t child_find(const ne_trie *t, uint32_t parent, const char *tok, size_t len,
                           uint32_t h)
{
    uint32_t i = h & SLOT_MASK;
    for (uint32_t probe = 0; probe < NE_TRIE_SLOTS; probe++) {
        const ne_trie_slot *s = &t->slots[i];
        if (s->node_plus1 == 0) {
            return NE_TRIE_NONE;
        }
        if (s->hash == h) {
            const ne_trie_node *c = &t->nodes[s->node_plus1 - 1];
            if (c->parent == parent && c->token_len == len && same_bytes(c->token, tok, len)) {
                return s->node_plus1 - 1;
            }
        }
        i = (i + 1) & SLOT_MASK;
    }
    return NE_TRIE_NONE;
}

static void slot_insert(ne_trie *t, uint32_t node, uint32_t h)
{
    NE_ASSERT(t->slots_used < NE_TRIE_SLOTS / 2);
    uint32_t i = h & SLOT_MASK;
    uint32_t probe = 0;
    while (t->slots[i].node_plus1 != 0 && probe < NE_TRIE_SLOTS) {
        i = (i + 1) & SLOT_MASK;
        probe++;
    }
    NE_ASSERT(t->slots[i].node_plus1 == 0);
    NE_ASSERT(node < NE_MAX_TRIE_NODES);
    t->slots[i].node_plus1 = node + 1;
    t->slots[i].hash = h;
    t->slots_used++;
    if (probe > t->probe_peak) {
        t->probe_peak = probe;
    }
}

/* Backward-shift deletion: every later entry of the probe run that may live
 * in the hole moves into it, so no tombstones accumulate and lookups stay as
 * short as on a fresh table. */
static void slot_remove(ne_trie *t, uint32_t node)
{
    uint32_t i = t->nodes[node].hash & SLOT_MASK;
    uint32_t probe = 0;
    while (t->slots[i].node_plus1 != node + 1 && probe < NE_TRIE_SLOTS) {
        NE_ASSERT(t->slots[i].node_plus1 != 0);
        i = (i + 1) & SLOT_MASK;
        probe++;
    }
    NE_ASSERT(t->slots[i].node_plus1 == node + 1);
    uint32_t j = i;
    for (probe = 0; probe < NE_TRIE_SLOTS; probe++) {
        j = (j + 1) & SLOT_MASK;
        if (t->slots[j].node_plus1 == 0) {
            break;
        }
        uint32_t home = t->slots[j].hash & SLOT_MASK;
        /* The entry at j may move back to i unless its home lies after i
         * (cyclically, within i+1 .. j). */
        if (((j - home) & SLOT_MASK) >= ((j - i) & SLOT_MASK)) {
            t->slots[i] = t->slots[j];
            i = j;
        }
    }
    t->slots[i].node_plus1 = 0;
    t->slots[i].hash = 0;
    NE_ASSERT(t->slots_used > 0);
    t->slots_used--;
}

/* Returns empty nodes from n up towards its root (never the root itself)
 * to the trie. Bounded by the depth of a subject, NE_MAX_SUBJECT_TOKENS. */
static void prune(ne_trie *t, uint32_t n)
{
    for (uint32_t level = 0; level <= NE_MAX_SUBJECT_TOKENS; level++) {
        ne_trie_node *node = &t->nodes[n];
        if (node->parent == NE_TRIE_NONE || !node_empty(node)) {
            return;
        }
        uint32_t parent = node->parent;
        ne_trie_node *p = &t->nodes[parent];
        if (p->pwc == n) {
            p->pwc = NE_TRIE_NONE;
        } else if (p->fwc == n) {
            p->fwc = NE_TRIE_NONE;
        } else {
            slot_remove(t, n);
            NE_ASSERT(p->literal_children > 0);
            p->literal_children--;
        }
        node_free(t, n);
        n = parent;
    }
    NE_ASSERT(false); /* deeper than any subject can be */
}

/* The child of n for one token, created if missing; NE_TRIE_NONE when the
 * pool is exhausted. */
static uint32_t descend(ne_trie *t, uint32_t n, const char *tok, size_t len)
{
    uint32_t *wild = NULL;
    uint32_t h = 0;
    if (is_wild(tok, len, '*')) {
        wild = &t->nodes[n].pwc;
    } else if (is_wild(tok, len, '>')) {
        wild = &t->nodes[n].fwc;
    }
    if (wild != NULL && *wild != NE_TRIE_NONE) {
        return *wild;
    }
    if (wild == NULL) {
        h = child_hash(token_hash(tok, len), n);
        uint32_t c = child_find(t, n, tok, len, h);
        if (c != NE_TRIE_NONE) {
            return c;
        }
    }
    uint32_t c = node_alloc(t, n);
    if (c == NE_TRIE_NONE) {
        return NE_TRIE_NONE;
    }
    ne_trie_node *child = &t->nodes[c];
    child->token_len = (uint8_t)len;
    memcpy(child->token, tok, len);
    if (wild != NULL) {
        *wild = c; /* n's storage did not move: nodes are never relocated */
    } else {
        child->hash = h;
        slot_insert(t, c, h);
        t->nodes[n].literal_children++;
    }
    return c;
}

void ne_trie_init(ne_trie *trie)
{
    NE_ASSERT(trie != NULL);
    /* Only `live` of a free node is ever read (by ne_trie_check); the pool
     * then threads its free list through the nodes' first bytes. */
    ne_pool_init(&trie->pool, "trie nodes", trie->nodes, sizeof(ne_trie_node), NE_MAX_TRIE_NODES);
    ne_pool_keep_readable(&trie->pool, offsetof(ne_trie_node, live) + 1);
    /* The nodes and the child table are all zero already (see the header):
     * neither is read or written here, so their pages are touched only as
     * subscriptions come. */
    trie->slots_used = 0;
    trie->probe_peak = 0;
}

/* ---- Sublists ------------------------------------------------------------ */

int ne_sublist_init(ne_sublist *sl, ne_trie *trie)
{
    NE_ASSERT(sl != NULL && trie != NULL);
    memset(sl, 0, sizeof(*sl));
    sl->trie = trie;
    sl->root = node_alloc(trie, NE_TRIE_NONE);
    return sl->root != NE_TRIE_NONE ? NE_OK : NE_ERR_NOMEM;
}

void ne_sublist_deinit(ne_sublist *sl)
{
    NE_ASSERT(sl != NULL);
    if (sl->root == NE_TRIE_NONE) {
        return;
    }
    NE_ASSERT(sl->count == 0);
    NE_ASSERT(node_empty(&sl->trie->nodes[sl->root]));
    node_free(sl->trie, sl->root);
    sl->root = NE_TRIE_NONE;
}

/* Checks the limits a subject must meet to be stored. */
static int check_subject(const char *s, size_t len)
{
    if (!ne_subject_valid(s, len)) {
        return NE_ERR_INVALID;
    }
    size_t tokens = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            if (i - start > NE_TOKEN_BYTES || ++tokens > NE_MAX_SUBJECT_TOKENS) {
                return NE_ERR_TOO_BIG;
            }
            start = i + 1;
        }
    }
    return NE_OK;
}

static bool same_queue(const ne_sub_entry *a, const ne_sub_entry *b)
{
    return a->queue_len == b->queue_len &&
           (a->queue == b->queue || memcmp(a->queue, b->queue, a->queue_len) == 0);
}

/* Links e into a node's list. Queue members of one name are kept adjacent
 * (a new member goes right after one of its name) so that matching meets
 * each name once per node; the scan is bounded by the sublist's count. */
static void link_entry(ne_sublist *sl, ne_trie_node *node, ne_sub_entry *e)
{
    ne_sub_entry **head = e->queue_len > 0 ? &node->queue : &node->plain;
    ne_sub_entry *after = NULL;
    if (e->queue_len > 0) {
        uint32_t guard = 0;
        for (ne_sub_entry *m = node->queue; m != NULL && guard <= sl->count; m = m->next) {
            if (same_queue(m, e)) {
                after = m;
                break;
            }
            guard++;
        }
    }
    if (after != NULL) {
        e->prev = after;
        e->next = after->next;
        if (after->next != NULL) {
            after->next->prev = e;
        }
        after->next = e;
        return;
    }
    e->prev = NULL;
    e->next = *head;
    if (*head != NULL) {
        (*head)->prev = e;
    }
    *head = e;
}

void ne_sublist_each_same(const ne_sublist *sl, const ne_sub_entry *e, ne_sub_entry_visit visit,
                          void *ctx)
{
    NE_ASSERT(sl != NULL && e != NULL && e->node < NE_MAX_TRIE_NODES);
    const ne_trie_node *node = &sl->trie->nodes[e->node];
    NE_ASSERT(node->live);
    const ne_sub_entry *m = e->queue_len > 0 ? node->queue : node->plain;
    /* A queue group's members are adjacent: the walk ends after them. */
    bool in_group = false;
    uint32_t guard = 0;
    for (; m != NULL && guard <= sl->count; m = m->next, guard++) {
        if (e->queue_len > 0 && !same_queue(m, e)) {
            if (in_group) {
                return;
            }
            continue;
        }
        in_group = true;
        if (!visit(ctx, m)) {
            return;
        }
    }
}

int ne_sublist_insert(ne_sublist *sl, ne_sub_entry *e)
{
    NE_ASSERT(sl != NULL && sl->root != NE_TRIE_NONE && e != NULL);
    NE_ASSERT(e->queue_len == 0 || e->queue != NULL);
    int rc = check_subject(e->subject, e->subject_len);
    if (rc != NE_OK) {
        return rc;
    }
    ne_trie *t = sl->trie;
    uint32_t n = sl->root;
    size_t start = 0;
    /* Bounded by the subject's length. */
    for (size_t i = 0; i <= e->subject_len; i++) {
        if (i < e->subject_len && e->subject[i] != '.') {
            continue;
        }
        uint32_t next = descend(t, n, e->subject + start, i - start);
        if (next == NE_TRIE_NONE) {
            prune(t, n); /* undo the nodes this insert created */
            return NE_ERR_NOMEM;
        }
        n = next;
        start = i + 1;
    }
    e->node = n;
    link_entry(sl, &t->nodes[n], e);
    sl->count++;
    sl->inserts++;
    sl->generation++;
    return NE_OK;
}

#if NE_ASSERTIONS
/* The root above node n: a remove must name an entry of this sublist. */
static uint32_t root_of(const ne_trie *t, uint32_t n)
{
    for (uint32_t level = 0; level <= NE_MAX_SUBJECT_TOKENS && t->nodes[n].parent != NE_TRIE_NONE;
         level++) {
        n = t->nodes[n].parent;
    }
    return n;
}
#endif

void ne_sublist_remove(ne_sublist *sl, ne_sub_entry *e)
{
    NE_ASSERT(sl != NULL && e != NULL && sl->count > 0);
    ne_trie *t = sl->trie;
    uint32_t n = e->node;
    NE_ASSERT(n < NE_MAX_TRIE_NODES && t->nodes[n].live);
    NE_ASSERT(root_of(t, n) == sl->root);
    ne_trie_node *node = &t->nodes[n];
    ne_sub_entry **head = e->queue_len > 0 ? &node->queue : &node->plain;
    if (e->prev != NULL) {
        e->prev->next = e->next;
    } else {
        NE_ASSERT(*head == e);
        *head = e->next;
    }
    if (e->next != NULL) {
        e->next->prev = e->prev;
    }
    e->node = NE_TRIE_NONE;
    e->next = NULL;
    e->prev = NULL;
    sl->count--;
    sl->removes++;
    sl->generation++;
    prune(t, n);
}

/* ---- Matching ------------------------------------------------------------ */

/* The published subject cut into tokens once, hashed once. */
typedef struct match_tokens {
    uint32_t count; /* every token, also those past NE_MAX_SUBJECT_TOKENS */
    const char *ptr[NE_MAX_SUBJECT_TOKENS];
    uint32_t len[NE_MAX_SUBJECT_TOKENS];
    uint64_t hash[NE_MAX_SUBJECT_TOKENS];
} match_tokens;

/* Records one token of the published subject; false when it is empty. */
static bool token_done(match_tokens *mt, const char *s, size_t start, size_t end,
                       const token_hasher *th)
{
    size_t n = end - start;
    if (n == 0) {
        return false;
    }
    if (mt->count < NE_MAX_SUBJECT_TOKENS) {
        mt->ptr[mt->count] = s + start;
        /* A token too long for any node can match no literal child. */
        mt->len[mt->count] = n > NE_TOKEN_BYTES ? NE_TOKEN_BYTES + 1u : (uint32_t)n;
        mt->hash[mt->count] = hasher_finish(th, n);
    }
    mt->count++;
    return true;
}

/* One pass over the subject: cuts it at dots and hashes each token on the
 * way. False when a token is empty: nats-server delivers nothing for such a
 * subject. Tokens past NE_MAX_SUBJECT_TOKENS are only counted: no stored
 * subject reaches them except through a '>' above. */
static bool tokenize(const char *s, size_t len, match_tokens *mt)
{
    mt->count = 0;
    token_hasher th;
    hasher_reset(&th);
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '.') {
            hasher_byte(&th, (uint8_t)s[i]);
            continue;
        }
        if (!token_done(mt, s, start, i, &th)) {
            return false;
        }
        hasher_reset(&th);
        start = i + 1;
    }
    return token_done(mt, s, start, len, &th);
}

static void collect_plain(const ne_trie_node *node, ne_match_result *res)
{
    /* Bounded by NE_MAX_FANOUT additions: it returns on the next one. */
    for (ne_sub_entry *e = node->plain; e != NULL; e = e->next) {
        if (res->plain_count == NE_MAX_FANOUT) {
            res->overflow = true;
            return;
        }
        res->plain[res->plain_count++] = e;
    }
}

/* The group of queue name `e` among those met so far: GROUP_NONE when there
 * is no room for a new one. Groups are numbered in order of first meeting;
 * groups[g].start holds the first member's index until the result is
 * finished, which gives the group's name. Bounded by
 * NE_MAX_MATCH_QUEUE_GROUPS. */
static uint32_t group_for(ne_match_result *res, const ne_sub_entry *e)
{
    for (uint32_t g = 0; g < res->group_count; g++) {
        if (same_queue(res->queue[res->groups[g].start], e)) {
            return g;
        }
    }
    if (res->group_count == NE_MAX_MATCH_QUEUE_GROUPS) {
        res->overflow = true;
        return GROUP_NONE;
    }
    uint32_t g = res->group_count++;
    res->groups[g].start = res->queue_count;
    res->groups[g].count = 0;
    return g;
}

static void collect_queue(const ne_trie_node *node, uint32_t entries, ne_match_result *res)
{
    const ne_sub_entry *prev = NULL;
    uint32_t prev_group = GROUP_NONE;
    /* A node's list is no longer than the sublist's entry count. */
    uint32_t guard = 0;
    for (ne_sub_entry *e = node->queue; e != NULL && guard < entries; e = e->next, guard++) {
        if (res->queue_count == NE_MAX_FANOUT) {
            res->overflow = true;
            return;
        }
        /* Members of one name are adjacent in a node's list. */
        uint32_t g = prev != NULL && same_queue(prev, e) ? prev_group : group_for(res, e);
        prev = e;
        prev_group = g;
        if (g == GROUP_NONE) {
            continue; /* no room for another group: dropped, res->overflow set */
        }
        res->queue[res->queue_count] = e;
        res->group_of[res->queue_count] = (uint8_t)g;
        res->groups[g].count++;
        res->queue_count++;
    }
}

static void collect(const ne_trie_node *node, uint32_t entries, ne_match_result *res)
{
    if (node->plain != NULL) {
        collect_plain(node, res);
    }
    if (node->queue != NULL) {
        collect_queue(node, entries, res);
    }
}

/* Makes each group's members contiguous, in group order, and sets the
 * groups' final start indexes. Usually they already are (one matching node
 * per name), which one pass detects; otherwise an in-place bucket
 * permutation (each swap puts one member in its final bucket, so at most
 * queue_count swaps) does it without a second buffer. */
static void finish_groups(ne_match_result *res)
{
    uint32_t n = res->queue_count;
    bool sorted = true;
    for (uint32_t i = 1; i < n && sorted; i++) {
        sorted = res->group_of[i - 1] <= res->group_of[i];
    }
    uint32_t start = 0;
    uint32_t next[NE_MAX_MATCH_QUEUE_GROUPS];
    for (uint32_t g = 0; g < res->group_count; g++) {
        res->groups[g].start = start;
        next[g] = start;
        start += res->groups[g].count;
    }
    NE_ASSERT(start == n);
    if (sorted) {
        return;
    }
    for (uint32_t g = 0; g < res->group_count; g++) {
        uint32_t end = res->groups[g].start + res->groups[g].count;
        for (uint32_t guard = 0; next[g] < end && guard <= 2u * n; guard++) {
            uint32_t i = next[g];
            uint32_t h = res->group_of[i];
            if (h == g) {
                next[g]++;
                continue;
            }
            uint32_t j = next[h]++;
            ne_sub_entry *e = res->queue[i];
            res->queue[i] = res->queue[j];
            res->queue[j] = e;
            res->group_of[i] = res->group_of[j];
            res->group_of[j] = (uint8_t)h;
        }
        NE_ASSERT(next[g] == end);
    }
}

typedef struct match_frame {
    uint32_t node;
    uint32_t depth;
} match_frame;

/* Depth-first over the trie with an explicit stack. A frame at depth d
 * stands for a node reached by d tokens; popping it pushes at most a literal
 * child and a '*' child at depth d + 1, and depths only grow along a path,
 * so the stack never holds more than one pending frame per depth plus the
 * pair just pushed: NE_MAX_SUBJECT_TOKENS + 1. Each trie node is reached by
 * one path only, so the loop runs at most once per node. */
void ne_sublist_match(ne_sublist *sl, const char *subject, size_t len, ne_match_result *res)
{
    NE_ASSERT(sl != NULL && sl->root != NE_TRIE_NONE && res != NULL);
    NE_ASSERT(subject != NULL || len == 0);
    sl->matches++;
#if NE_MATCH_CACHE_SUBJECT_BYTES > 0
    if (sl->cache_res == res && res->stamp == sl->cache_stamp &&
        sl->cache_generation == sl->generation && sl->cache_len == len && len > 0 &&
        memcmp(sl->cache_subject, subject, len) == 0) {
        sl->cache_hits++;
        if (res->overflow) {
            sl->overflows++;
        }
        return;
    }
#endif
    res->stamp++;
    res->plain_count = 0;
    res->queue_count = 0;
    res->group_count = 0;
    res->overflow = false;
#if NE_MATCH_CACHE_SUBJECT_BYTES > 0
    sl->cache_res = NULL;
    if (len > 0 && len <= NE_MATCH_CACHE_SUBJECT_BYTES) {
        sl->cache_res = res;
        sl->cache_stamp = res->stamp;
        sl->cache_generation = sl->generation;
        sl->cache_len = (uint16_t)len;
        memcpy(sl->cache_subject, subject, len);
    }
#endif
    match_tokens mt;
    if (len == 0 || !tokenize(subject, len, &mt)) {
        return;
    }
    const ne_trie *t = sl->trie;
    const uint32_t ntok = mt.count;
    match_frame stack[NE_MAX_SUBJECT_TOKENS + 2];
    uint32_t top = 0;
    stack[top++] = (match_frame){sl->root, 0};
    for (uint32_t guard = 0; top > 0 && guard < NE_MAX_TRIE_NODES; guard++) {
        match_frame f = stack[--top];
        const ne_trie_node *node = &t->nodes[f.node];
        if (f.depth == ntok) {
            collect(node, sl->count, res);
            continue;
        }
        if (node->fwc != NE_TRIE_NONE) {
            collect(&t->nodes[node->fwc], sl->count, res);
        }
        if (f.depth >= NE_MAX_SUBJECT_TOKENS) {
            continue; /* no stored subject is deeper */
        }
        uint32_t d = f.depth;
        if (top + 2 > NE_ARRAY_LEN(stack)) {
            NE_ASSERT(false); /* impossible by the depth argument above */
            break;
        }
        if (node->literal_children > 0 && mt.len[d] <= NE_TOKEN_BYTES) {
            uint32_t c =
                child_find(t, f.node, mt.ptr[d], mt.len[d], child_hash(mt.hash[d], f.node));
            if (c != NE_TRIE_NONE) {
                stack[top++] = (match_frame){c, d + 1};
            }
        }
        if (node->pwc != NE_TRIE_NONE) {
            stack[top++] = (match_frame){node->pwc, d + 1};
        }
    }
    NE_ASSERT(top == 0);
    if (res->group_count > 0) {
        finish_groups(res);
    }
    if (res->overflow) {
        sl->overflows++;
    }
}

bool ne_sublist_cache_valid(const ne_sublist *sl)
{
    return sl->cache_res != NULL && sl->cache_res->stamp == sl->cache_stamp &&
           sl->cache_generation == sl->generation;
}

/* ---- Consistency check (tests, fuzzing) ----------------------------------- */

static bool check_entries(const ne_trie *t, uint32_t idx)
{
    const ne_trie_node *node = &t->nodes[idx];
    const ne_sub_entry *lists[2] = {node->plain, node->queue};
    for (int l = 0; l < 2; l++) {
        const ne_sub_entry *prev = NULL;
        uint32_t guard = 0;
        for (const ne_sub_entry *e = lists[l]; e != NULL; e = e->next) {
            /* The guard stops a cyclic (corrupted) list. */
            if (++guard > (1u << 24) || e->node != idx || e->prev != prev ||
                (e->queue_len > 0) != (l == 1)) {
                return false;
            }
            /* A name seen before must have been seen just before. */
            if (l == 1 && prev != NULL && !same_queue(prev, e)) {
                uint32_t g2 = 0;
                for (const ne_sub_entry *o = lists[1]; o != e && g2 < guard; o = o->next, g2++) {
                    if (same_queue(o, e)) {
                        return false;
                    }
                }
            }
            prev = e;
        }
    }
    return true;
}

static bool check_node(const ne_trie *t, uint32_t idx, uint64_t *literals)
{
    const ne_trie_node *node = &t->nodes[idx];
    if (node->token_len > NE_TOKEN_BYTES || !check_entries(t, idx)) {
        return false;
    }
    *literals += node->literal_children;
    for (int w = 0; w < 2; w++) {
        uint32_t c = w == 0 ? node->pwc : node->fwc;
        if (c != NE_TRIE_NONE &&
            (c >= NE_MAX_TRIE_NODES || !t->nodes[c].live || t->nodes[c].parent != idx ||
             !is_wild(t->nodes[c].token, t->nodes[c].token_len, w == 0 ? '*' : '>'))) {
            return false;
        }
    }
    if (node->fwc != NE_TRIE_NONE) {
        const ne_trie_node *f = &t->nodes[node->fwc];
        if (f->literal_children != 0 || f->pwc != NE_TRIE_NONE || f->fwc != NE_TRIE_NONE) {
            return false; /* nothing follows '>' */
        }
    }
    if (node->parent == NE_TRIE_NONE) {
        return true; /* a root: may be empty */
    }
    if (node->parent >= NE_MAX_TRIE_NODES || !t->nodes[node->parent].live || node_empty(node)) {
        return false; /* dangling, or left unpruned */
    }
    const ne_trie_node *p = &t->nodes[node->parent];
    if (p->pwc == idx || p->fwc == idx) {
        return true;
    }
    uint32_t h = child_hash(token_hash(node->token, node->token_len), node->parent);
    return node->hash == h && child_find(t, node->parent, node->token, node->token_len, h) == idx;
}

bool ne_trie_check(const ne_trie *trie)
{
    uint64_t live = 0, literals = 0;
    for (uint32_t i = 0; i < NE_MAX_TRIE_NODES; i++) {
        if (!trie->nodes[i].live) {
            continue;
        }
        live++;
        if (!check_node(trie, i, &literals)) {
            return false;
        }
    }
    uint32_t used = 0;
    for (uint32_t i = 0; i < NE_TRIE_SLOTS; i++) {
        const ne_trie_slot *s = &trie->slots[i];
        if (s->node_plus1 == 0) {
            continue;
        }
        used++;
        uint32_t node = s->node_plus1 - 1;
        if (node >= NE_MAX_TRIE_NODES || !trie->nodes[node].live ||
            trie->nodes[node].hash != s->hash) {
            return false;
        }
    }
    return live == trie->pool.in_use && used == trie->slots_used && literals == used &&
           used <= NE_TRIE_SLOTS / 2;
}
