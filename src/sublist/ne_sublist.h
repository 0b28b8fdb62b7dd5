/* The subject trie: subscriptions by subject, with '*' and '>' wildcards and
 * queue groups, on static storage.
 *
 * A trie (ne_trie) owns the node storage and may hold any number of sublists
 * (one per account, say); sublists sharing a trie never see each other's
 * subscriptions. Each sublist costs one root node. A node stands for one
 * token position in use; nodes left without subscriptions or children are
 * returned to the trie at once.
 *
 * A subscription is an ne_sub_entry embedded in the caller's object; the
 * sublist links it in place and never copies its text, so the subject and
 * queue text must stay valid and unchanged while it is inserted.
 *
 * Single-threaded, like the rest of the core. Nothing here allocates. */
#ifndef NE_SUBLIST_H
#define NE_SUBLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ne_pool.h"
#include "ne_config.h"

/* "No node" in a node index field. */
#define NE_TRIE_NONE UINT32_MAX

/* Slots of the trie's child table: a power of two at least twice the node
 * count, so that the open-addressed table stays at most half full. */
#define NE_TRIE_P2_(x)                                                                             \
    ((((x) | ((x) >> 1) | ((x) >> 2) | ((x) >> 4) | ((x) >> 8) | ((x) >> 16)) + 1u))
#define NE_TRIE_SLOTS NE_TRIE_P2_((2u * (uint32_t)NE_MAX_TRIE_NODES) - 1u)

typedef struct ne_sub_entry {
    const char *subject; /* set by the caller before insert */
    uint16_t subject_len;
    const char *queue; /* queue_len 0: a plain subscription */
    uint16_t queue_len;
    /* Private to the sublist. */
    struct ne_sub_entry *next;
    struct ne_sub_entry *prev;
    uint32_t node; /* index of the node holding the entry */
} ne_sub_entry;

/* Private to the sublist; in the header only so that storage can be static. */
typedef struct ne_trie_node {
    ne_sub_entry *plain; /* plain subscriptions on exactly this subject */
    ne_sub_entry *queue; /* queue subscriptions, members of one name adjacent */
    uint32_t parent;     /* NE_TRIE_NONE for a sublist's root */
    uint32_t pwc;        /* the '*' child */
    uint32_t fwc;        /* the '>' child */
    uint32_t hash;       /* of (parent, token): the key of a literal child */
    uint32_t literal_children;
    uint8_t live; /* allocated (kept clear of the pool's free-list link) */
    uint8_t token_len;
    char token[NE_TOKEN_BYTES];
} ne_trie_node;

/* One slot of the child table: the literal child's index plus one (0: an
 * empty slot, so that a table of zero bytes is empty) and its hash, so that
 * most mismatches never touch the node. */
typedef struct ne_trie_slot {
    uint32_t node_plus1;
    uint32_t hash;
} ne_trie_slot;

typedef struct ne_trie {
    ne_pool pool;        /* pool.exhausted counts refused inserts */
    uint32_t slots_used; /* literal nodes in the child table */
    uint32_t probe_peak; /* longest probe sequence an insert met: a sign of
                          * clustering (or of hash flooding) */
    ne_trie_node nodes[NE_MAX_TRIE_NODES];
    ne_trie_slot slots[NE_TRIE_SLOTS];
} ne_trie;

typedef struct ne_sublist {
    ne_trie *trie;
    uint32_t root;       /* NE_TRIE_NONE after a failed init or deinit */
    uint32_t count;      /* entries inserted */
    uint64_t generation; /* +1 on every insert and remove: invalidates caches */
    uint64_t inserts;
    uint64_t removes;
    uint64_t matches;
    uint64_t overflows; /* matches whose result dropped entries (res->overflow) */
    /* The one-entry match cache (NE_MATCH_CACHE_SUBJECT_BYTES): the result
     * buffer and its fill stamp, and the generation, of the last match. */
    uint64_t cache_hits;
    const struct ne_match_result *cache_res;
    uint64_t cache_stamp;
    uint64_t cache_generation;
    uint16_t cache_len;
#if NE_MATCH_CACHE_SUBJECT_BYTES > 0
    char cache_subject[NE_MATCH_CACHE_SUBJECT_BYTES];
#endif
} ne_sublist;

typedef struct ne_match_group {
    uint32_t start; /* index in queue[] of the group's first member */
    uint32_t count;
} ne_match_group;

typedef struct ne_match_result {
    uint64_t stamp; /* +1 on every fill: a sublist's cache knows its own fill */
    uint32_t plain_count;
    uint32_t queue_count;
    uint32_t group_count;
    bool overflow; /* more matches than fit: the extra ones were dropped */
    ne_sub_entry *plain[NE_MAX_FANOUT];
    ne_sub_entry *queue[NE_MAX_FANOUT]; /* members of one group are contiguous */
    ne_match_group groups[NE_MAX_MATCH_QUEUE_GROUPS];
    /* Private to the sublist: the group of each queue[] member while
     * matching. */
    uint8_t group_of[NE_MAX_FANOUT];
} ne_match_result;

/* Sets up a trie whose nodes and child table are all zero bytes (static
 * storage never used, or storage the caller cleared: ne_server_init does)
 * or as a trie left them once every sublist on it was deinitialised (no node
 * live, every slot empty). Init reads neither, so pages the subscriptions
 * never reach stay untouched. */
void ne_trie_init(ne_trie *trie);

/* Checks every invariant of the trie's nodes and child table: for tests and
 * fuzzing (O(NE_MAX_TRIE_NODES + NE_TRIE_SLOTS)). True when consistent. */
bool ne_trie_check(const ne_trie *trie);

/* Takes a root node from the trie: NE_ERR_NOMEM if it has none left. */
int ne_sublist_init(ne_sublist *sl, ne_trie *trie);
/* The sublist must be empty; returns its root to the trie. A no-op after a
 * failed init. */
void ne_sublist_deinit(ne_sublist *sl);

/* Links e in. NE_ERR_INVALID: not a valid subject (ne_subject_valid).
 * NE_ERR_TOO_BIG: a token longer than NE_TOKEN_BYTES or more than
 * NE_MAX_SUBJECT_TOKENS tokens. NE_ERR_NOMEM: the trie's nodes are exhausted
 * (counted in trie->pool.exhausted); the trie is then exactly as before.
 * Queue names are compared byte-wise and may hold any byte (CP-60). */
int ne_sublist_insert(ne_sublist *sl, ne_sub_entry *e);
/* Unlinks an entry inserted into this sublist and returns the nodes it
 * leaves empty to the trie. */
void ne_sublist_remove(ne_sublist *sl, ne_sub_entry *e);

/* Calls visit(ctx, other) for each entry on exactly e's subject (the node
 * holding e): the plain entries when e is plain, the members of e's queue
 * group otherwise, e itself included; stops early when visit returns
 * false. e must be inserted in sl. Bounded by sl->count. For observers that
 * count the subscriptions behind one interest (a route's RS+ and its queue
 * weight) without a table of their own. */
typedef bool (*ne_sub_entry_visit)(void *ctx, const ne_sub_entry *other);
void ne_sublist_each_same(const ne_sublist *sl, const ne_sub_entry *e, ne_sub_entry_visit visit,
                          void *ctx);

/* True when the last match into res came from sl's cache. */
bool ne_sublist_cache_valid(const ne_sublist *sl);

/* Every subscription matching the published subject, taken literally (see
 * ne_subject_matches): plain ones in res->plain in no particular order,
 * queue members in res->queue grouped by queue name across all matching
 * subjects (res->groups). Past NE_MAX_FANOUT plain or queue entries, or
 * NE_MAX_MATCH_QUEUE_GROUPS names, the rest are dropped and res->overflow
 * set. A subject with an empty token matches nothing. */
void ne_sublist_match(ne_sublist *sl, const char *subject, size_t len, ne_match_result *res);
/* The same result as last time comes back without a walk when sl matched
 * this subject into this res last, nothing was inserted or removed since and
 * res was not filled by another match meanwhile (counted in cache_hits). A
 * caller must not change res between matches. */

#endif
