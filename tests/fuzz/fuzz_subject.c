/* libFuzzer harness for subject rules and the trie: the input is split at NUL
 * bytes into subjects; each valid one is inserted, then every piece is
 * matched and the result cross-checked against ne_subject_matches. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sublist/ne_subject.h"
#include "sublist/ne_sublist.h"

static ne_trie trie;
static ne_sublist sl;
static ne_match_result res;
static ne_sub_entry subs[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ne_trie_init(&trie);
    if (ne_sublist_init(&sl, &trie) != 0) {
        abort();
    }
    const char *text = (const char *)data;
    size_t n = 0, start = 0;
    const char *pieces[64];
    size_t lens[64];
    size_t npieces = 0;
    for (size_t i = 0; i <= size && npieces < 64; i++) {
        if (i == size || data[i] == 0) {
            pieces[npieces] = text + start;
            lens[npieces] = i - start;
            npieces++;
            start = i + 1;
        }
    }
    for (size_t i = 0; i < npieces; i++) {
        (void)ne_subject_valid_literal(pieces[i], lens[i]);
        if (lens[i] > 0xffff) {
            continue;
        }
        memset(&subs[n], 0, sizeof(subs[n]));
        subs[n].subject = pieces[i];
        subs[n].subject_len = (uint16_t)lens[i];
        if ((lens[i] & 1) != 0) {
            subs[n].queue = "q";
            subs[n].queue_len = 1;
        }
        if (ne_sublist_insert(&sl, &subs[n]) == 0) {
            n++;
        }
    }
    for (size_t i = 0; i < npieces; i++) {
        ne_sublist_match(&sl, pieces[i], lens[i], &res);
        uint32_t want = 0;
        for (size_t k = 0; k < n; k++) {
            if (ne_subject_matches(subs[k].subject, subs[k].subject_len, pieces[i], lens[i])) {
                want++;
            }
        }
        if (!res.overflow && res.plain_count + res.queue_count != want &&
            ne_subject_token_count(pieces[i], lens[i]) <= NE_MAX_SUBJECT_TOKENS) {
            abort();
        }
    }
    for (size_t k = 0; k < n; k++) {
        ne_sublist_remove(&sl, &subs[k]);
    }
    ne_sublist_deinit(&sl);
    if (trie.pool.in_use != 0) {
        abort();
    }
    return 0;
}
