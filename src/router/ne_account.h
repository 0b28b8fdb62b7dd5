/* Accounts: separate subject spaces on one server, joined only by the
 * streams and services they export and import (inventory CP-84..CP-87).
 *
 * The options name the accounts (index 0 is always "$G", where users outside
 * any account live; "$SYS" is the system account unless system_account names
 * another) and list their exports and imports. At run time each account owns
 * a sublist in the server's shared trie. Routing a message published in an
 * account also delivers it:
 *   - to accounts importing a matching stream, under the subject the import
 *     maps it to (prefix or `to`);
 *   - for a service the account imports, to the exporting account, with the
 *     reply replaced by a "_R_." subject that leads the responses back
 *     (a bounded table of reply maps, NE_MAX_SERVICE_REPLIES).
 * One hop only: a message that arrived through an import is not passed on by
 * the receiving account's imports (differences.md). */
#ifndef NE_ACCOUNT_H
#define NE_ACCOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/ne_options.h"
#include "ne_config.h"
#include "sublist/ne_sublist.h"

typedef struct ne_account {
    uint8_t index;
    ne_sublist sublist;
    uint32_t clients;             /* client connections bound to it */
    uint64_t in_msgs, in_bytes;   /* published by its clients */
    uint64_t out_msgs, out_bytes; /* delivered to its clients */
    uint64_t slow_consumers;
} ne_account;

/* A service request forwarded into an exporting account: responses published
 * there on `reply` go back to `orig` in the importing account. */
typedef struct ne_reply_map {
    uint64_t expires_ms; /* 0: the entry is free */
    uint8_t from;        /* where responses are published */
    uint8_t to;          /* where the requester is */
    bool singleton;      /* gone after the first response */
    uint8_t reply_len;
    uint16_t orig_len;
    char reply[24];
    char orig[NE_PERM_SUBJECT_BYTES];
} ne_reply_map;

/* A response permission (allow_responses): connection cid may publish to
 * reply `remaining` more times until expires_ms. */
typedef struct ne_resp_perm {
    uint64_t cid; /* 0: free */
    uint64_t expires_ms;
    uint32_t remaining;
    uint16_t reply_len;
    char reply[NE_PERM_SUBJECT_BYTES];
} ne_resp_perm;

/* Maps `subject`, matched by filter `from`, to the filter `to`: a literal
 * `to` is the result; otherwise the tokens the '*'s of `from` matched fill
 * the '*'s of `to` in order, and what '>' matched fills its '>'. An empty
 * `to` keeps the subject. Returns the length written to out, 0 when it does
 * not fit in cap. */
size_t ne_account_map_subject(const char *from, size_t from_len, const char *to, size_t to_len,
                              const char *subject, size_t len, char *out, size_t cap);

/* Can `to` receive what `from` matches (same '*' count, '>' in both or in
 * neither, or a literal `to`)? For checking imports in the options. */
bool ne_account_mapping_valid(const char *from, size_t from_len, const char *to, size_t to_len);

#endif
