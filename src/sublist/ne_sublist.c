#include "sublist/ne_sublist.h"

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "sublist/ne_subject.h"

void ne_trie_init(ne_trie *trie)
{
    ne_pool_init(&trie->pool, "trie nodes", &trie->storage, sizeof(ne_trie_node),
                 NE_MAX_TRIE_NODES);
}

int ne_sublist_init(ne_sublist *sl, ne_trie *trie)
{
    memset(sl, 0, sizeof(*sl));
    sl->trie = trie;
    sl->root = ne_pool_alloc(&trie->pool);
    return sl->root != NULL ? NE_OK : NE_ERR_NOMEM;
}

void ne_sublist_deinit(ne_sublist *sl)
{
    if (sl->root == NULL) {
        return;
    }
    NE_ASSERT(sl->count == 0);
    ne_pool_free(&sl->trie->pool, sl->root);
    sl->root = NULL;
}

static bool node_empty(const ne_trie_node *n)
{
    return n->plain == NULL && n->queue == NULL && n->first_child == NULL && n->pwc == NULL &&
           n->fwc == NULL;
}

static ne_trie_node *find_child(const ne_trie_node *n, const char *tok, size_t len)
{
    /* Bounded by the node pool: a sibling list never holds more nodes. */
    for (ne_trie_node *c = n->first_child; c != NULL; c = c->next_sibling) {
        if (c->token_len == len && memcmp(c->token, tok, len) == 0) {
            return c;
        }
    }
    return NULL;
}

/* Frees empty nodes from n up towards the root (never the root itself). */
static void prune(ne_sublist *sl, ne_trie_node *n)
{
    while (n != sl->root && n != NULL && node_empty(n)) {
        ne_trie_node *parent = n->parent;
        if (parent->pwc == n) {
            parent->pwc = NULL;
        } else if (parent->fwc == n) {
            parent->fwc = NULL;
        } else {
            ne_trie_node **pp = &parent->first_child;
            while (*pp != n) {
                pp = &(*pp)->next_sibling;
            }
            *pp = n->next_sibling;
        }
        ne_pool_free(&sl->trie->pool, n);
        n = parent;
    }
}

static bool is_wild(const char *t, size_t n, char w)
{
    return n == 1 && t[0] == w;
}

/* The node for one token below n, created if missing; NULL when the pool is
 * exhausted. */
static ne_trie_node *descend(ne_sublist *sl, ne_trie_node *n, const char *tok, size_t len)
{
    ne_trie_node **slot = NULL;
    if (is_wild(tok, len, '*')) {
        slot = &n->pwc;
    } else if (is_wild(tok, len, '>')) {
        slot = &n->fwc;
    } else {
        ne_trie_node *c = find_child(n, tok, len);
        if (c != NULL) {
            return c;
        }
    }
    if (slot != NULL && *slot != NULL) {
        return *slot;
    }
    ne_trie_node *c = ne_pool_alloc(&sl->trie->pool);
    if (c == NULL) {
        return NULL;
    }
    c->parent = n;
    c->token_len = (uint8_t)len;
    memcpy(c->token, tok, len);
    if (slot != NULL) {
        *slot = c;
    } else {
        c->next_sibling = n->first_child;
        n->first_child = c;
    }
    return c;
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

int ne_sublist_insert(ne_sublist *sl, ne_sub_entry *e)
{
    int rc = check_subject(e->subject, e->subject_len);
    if (rc != NE_OK) {
        return rc;
    }
    ne_trie_node *n = sl->root;
    size_t start = 0;
    for (size_t i = 0; i <= e->subject_len; i++) {
        if (i < e->subject_len && e->subject[i] != '.') {
            continue;
        }
        ne_trie_node *next = descend(sl, n, e->subject + start, i - start);
        if (next == NULL) {
            prune(sl, n); /* undo the nodes this insert created */
            return NE_ERR_NOMEM;
        }
        n = next;
        start = i + 1;
    }
    ne_sub_entry **head = e->queue_len > 0 ? &n->queue : &n->plain;
    e->node = n;
    e->prev = NULL;
    e->next = *head;
    if (*head != NULL) {
        (*head)->prev = e;
    }
    *head = e;
    sl->count++;
    sl->inserts++;
    sl->generation++;
    return NE_OK;
}

void ne_sublist_remove(ne_sublist *sl, ne_sub_entry *e)
{
    ne_trie_node *n = e->node;
    NE_ASSERT(n != NULL);
    ne_sub_entry **head = e->queue_len > 0 ? &n->queue : &n->plain;
    if (e->prev != NULL) {
        e->prev->next = e->next;
    } else {
        *head = e->next;
    }
    if (e->next != NULL) {
        e->next->prev = e->prev;
    }
    e->node = NULL;
    e->next = e->prev = NULL;
    sl->count--;
    sl->removes++;
    sl->generation++;
    prune(sl, n);
}

static void collect(const ne_trie_node *n, ne_match_result *res)
{
    for (ne_sub_entry *e = n->plain; e != NULL; e = e->next) {
        if (res->plain_count == NE_MAX_FANOUT) {
            res->overflow = true;
            break;
        }
        res->plain[res->plain_count++] = e;
    }
    for (ne_sub_entry *e = n->queue; e != NULL; e = e->next) {
        if (res->queue_count == NE_MAX_FANOUT) {
            res->overflow = true;
            break;
        }
        res->queue[res->queue_count++] = e;
    }
}

static int queue_cmp(const ne_sub_entry *a, const ne_sub_entry *b)
{
    size_t n = a->queue_len < b->queue_len ? a->queue_len : b->queue_len;
    int c = memcmp(a->queue, b->queue, n);
    return c != 0 ? c : (int)a->queue_len - (int)b->queue_len;
}

/* Sorts queue members by name (shell sort: no recursion, no allocation) and
 * records where each group starts. */
static void group_queues(ne_match_result *res)
{
    uint32_t n = res->queue_count;
    for (uint32_t gap = n / 2; gap > 0; gap /= 2) {
        for (uint32_t i = gap; i < n; i++) {
            ne_sub_entry *tmp = res->queue[i];
            uint32_t j = i;
            while (j >= gap && queue_cmp(res->queue[j - gap], tmp) > 0) {
                res->queue[j] = res->queue[j - gap];
                j -= gap;
            }
            res->queue[j] = tmp;
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        if (i == 0 || queue_cmp(res->queue[i - 1], res->queue[i]) != 0) {
            if (res->group_count == NE_MAX_MATCH_QUEUE_GROUPS) {
                res->overflow = true;
                res->queue_count = i;
                return;
            }
            res->groups[res->group_count].start = i;
            res->groups[res->group_count].count = 0;
            res->group_count++;
        }
        res->groups[res->group_count - 1].count++;
    }
}

void ne_sublist_match(ne_sublist *sl, const char *subject, size_t len, ne_match_result *res)
{
    res->plain_count = 0;
    res->queue_count = 0;
    res->group_count = 0;
    res->overflow = false;
    sl->matches++;
    /* Token boundaries of the first NE_MAX_SUBJECT_TOKENS tokens; deeper
     * tokens can only be matched by a '>' above them. */
    uint32_t tok_start[NE_MAX_SUBJECT_TOKENS];
    uint32_t tok_len[NE_MAX_SUBJECT_TOKENS];
    size_t ntok = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || subject[i] == '.') {
            if (ntok < NE_MAX_SUBJECT_TOKENS) {
                tok_start[ntok] = (uint32_t)start;
                tok_len[ntok] = (uint32_t)(i - start);
            }
            ntok++;
            start = i + 1;
        }
    }
    /* Depth-first walk with an explicit stack: each level pushes at most a
     * literal child and a '*' child. */
    struct {
        const ne_trie_node *node;
        uint32_t depth;
    } stack[2 * NE_MAX_SUBJECT_TOKENS + 2];
    uint32_t top = 0;
    stack[top].node = sl->root;
    stack[top].depth = 0;
    top++;
    while (top > 0) {
        top--;
        const ne_trie_node *n = stack[top].node;
        uint32_t d = stack[top].depth;
        if (d == ntok) {
            collect(n, res);
            continue;
        }
        if (n->fwc != NULL) {
            collect(n->fwc, res);
        }
        if (d >= NE_MAX_SUBJECT_TOKENS) {
            continue;
        }
        const ne_trie_node *lit = find_child(n, subject + tok_start[d], tok_len[d]);
        if (lit != NULL) {
            stack[top].node = lit;
            stack[top].depth = d + 1;
            top++;
        }
        if (n->pwc != NULL) {
            stack[top].node = n->pwc;
            stack[top].depth = d + 1;
            top++;
        }
    }
    if (res->queue_count > 0) {
        group_queues(res);
    }
}
