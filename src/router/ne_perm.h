/* Permissions of a user: which subjects it may publish to and subscribe to
 * (inventory CP-78..CP-83).
 *
 * Lists live in the server options: a permission set names ranges of
 * ne_perm_subject entries in one shared table. An allow list that is absent
 * allows everything; one that is present allows only what it matches, so a
 * present but empty allow list allows nothing (how allow_responses without a
 * publish section behaves). A deny list wins over the allow list. Matching
 * takes the checked subject literally, as nats-server does: a SUB to
 * "foo.*" is allowed by "foo.*" or "foo.>" but not by "foo.bar". */
#ifndef NE_PERM_H
#define NE_PERM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/ne_options.h"

/* nats-server's defaults for `allow_responses: true`. */

/* May a client with permissions p publish to subject? (pub allow/deny only;
 * response permissions are the server's to track.) */
bool ne_perm_can_publish(const ne_permissions *p, const ne_perm_subject *table, const char *subject,
                         size_t len);

/* May it subscribe to subject, in queue group queue (qlen 0: none)? */
bool ne_perm_can_subscribe(const ne_permissions *p, const ne_perm_subject *table,
                           const char *subject, size_t len, const char *queue, size_t qlen);

/* A wildcard subscription broader than a deny entry is allowed, but the
 * messages the deny list names must not reach it (CP-81): true when a
 * message on `subject` must be withheld from a subscription of a client
 * with permissions p. */
bool ne_perm_withholds(const ne_permissions *p, const ne_perm_subject *table, const char *subject,
                       size_t len);

/* May interest in `subject` (a subscription, wildcards allowed) be
 * announced to a peer that publishes with permissions p? A leaf
 * connection's user sees its permissions from the other side (LN-41): the
 * hub tells it only of subscriptions it may publish to. As nats-server 2.9
 * checks it for a leaf: an allow entry matches the subscription's subject
 * taken literally, or the subscription is a wildcard that covers an allow
 * entry (">" or "a.>" cover "a.b.*"; a '*' covers only a literal token); no
 * deny entry matches it literally. */
bool ne_perm_announces_interest(const ne_permissions *p, const ne_perm_subject *table,
                                const char *subject, size_t len);

/* Does any deny entry lie inside the wildcard subscription `filter`? (Only
 * then does delivery to it need ne_perm_withholds.) */
bool ne_perm_deny_overlaps(const ne_permissions *p, const ne_perm_subject *table,
                           const char *filter, size_t len);

#endif
