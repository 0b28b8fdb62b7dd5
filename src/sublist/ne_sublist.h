/* The subject trie: subscriptions by subject, with '*' and '>' wildcards and
 * queue groups, on static storage.
 *
 * A trie (ne_trie) owns the node storage and may hold any number of sublists
 * (one per account). A subscription is an ne_sub_entry embedded in the
 * caller's object; the trie links it in place and never copies its text, so
 * the subject and queue text must stay valid while it is inserted. */
#ifndef NE_SUBLIST_H
#define NE_SUBLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ne_pool.h"
#include "ne_config.h"

struct ne_trie_node;

typedef struct ne_sub_entry {
    const char *subject; /* set by the caller before insert */
    uint16_t subject_len;
    const char *queue; /* NULL / queue_len 0: a plain subscription */
    uint16_t queue_len;
    /* Private to the sublist. */
    struct ne_sub_entry *next;
    struct ne_sub_entry *prev;
    struct ne_trie_node *node;
} ne_sub_entry;

typedef struct ne_trie_node {
    struct ne_trie_node *parent;
    struct ne_trie_node *first_child; /* literal children, a sibling list */
    struct ne_trie_node *next_sibling;
    struct ne_trie_node *pwc; /* the '*' child */
    struct ne_trie_node *fwc; /* the '>' child */
    ne_sub_entry *plain;
    ne_sub_entry *queue;
    uint8_t token_len;
    char token[NE_TOKEN_BYTES];
} ne_trie_node;

typedef struct ne_trie {
    ne_pool pool; /* pool.exhausted counts refused inserts */
    NE_POOL_STORAGE(ne_trie_node, NE_MAX_TRIE_NODES) storage;
} ne_trie;

typedef struct ne_sublist {
    ne_trie *trie;
    ne_trie_node *root;
    uint32_t count;
    uint64_t generation; /* changes on every insert and remove */
    uint64_t inserts;
    uint64_t removes;
    uint64_t matches;
} ne_sublist;

typedef struct ne_match_group {
    uint32_t start;
    uint32_t count;
} ne_match_group;

typedef struct ne_match_result {
    uint32_t plain_count;
    uint32_t queue_count;
    uint32_t group_count;
    bool overflow; /* more matches than fit: the extra ones were dropped */
    ne_sub_entry *plain[NE_MAX_FANOUT];
    ne_sub_entry *queue[NE_MAX_FANOUT]; /* members of one group are contiguous */
    ne_match_group groups[NE_MAX_MATCH_QUEUE_GROUPS];
} ne_match_result;

void ne_trie_init(ne_trie *trie);

/* Takes a root node: NE_ERR_NOMEM if the trie has none left. */
int ne_sublist_init(ne_sublist *sl, ne_trie *trie);
/* The sublist must be empty; returns its root to the trie. */
void ne_sublist_deinit(ne_sublist *sl);

/* NE_ERR_INVALID: not a valid subject. NE_ERR_TOO_BIG: a token longer than
 * NE_TOKEN_BYTES or more than NE_MAX_SUBJECT_TOKENS tokens. NE_ERR_NOMEM: the
 * trie's nodes are exhausted; the trie is then exactly as before. */
int ne_sublist_insert(ne_sublist *sl, ne_sub_entry *e);
/* Removes an inserted entry and prunes nodes left empty. */
void ne_sublist_remove(ne_sublist *sl, ne_sub_entry *e);
/* Every subscription matching a literal subject, queue members grouped by
 * queue name. */
void ne_sublist_match(ne_sublist *sl, const char *subject, size_t len, ne_match_result *res);

#endif
