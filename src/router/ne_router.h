/* The router (floor 4, docs/architecture.md): messages, subscriptions,
 * accounts and their imports, permission checks, match and deliver.
 *
 * The router knows no connection kind. A kind hands it a message
 * (ne_router_publish); the router asks the publisher's kind whether it may
 * publish, matches the subject in the publisher's account, and hands the
 * message to each matching subscription's connection through that kind's
 * deliver op, or, for subscriptions that stand for a peer's interest (leaf
 * and route connections: sub->peer), once per peer through its
 * deliver_batch op naming every queue group it was picked for. Interest
 * changes are told to the observers registered by the kinds that propagate
 * interest (ne_router_observe); a refusal undoes the subscription.
 *
 * Ownership: subscriptions come from the router's pool and belong to their
 * connection until ne_router_unsubscribe or the connection's teardown. A
 * message (ne_msg) belongs to the caller of ne_router_publish; its payload
 * is valid for the duration of the call (kinds that keep it copy it into
 * their queue or reference its chunks). */
#ifndef NE_ROUTER_H
#define NE_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/ne_bcrypt.h"
#include "conf/ne_options.h"
#include "conn/ne_conn.h"
#include "core/ne_fmt.h"
#include "core/ne_chunk.h"
#include "core/ne_rng.h"
#include "ne_config.h"
#include "proto/ne_proto.h"
#include "router/ne_account.h"
#include "router/ne_perm.h"
#include "sublist/ne_sublist.h"

/* A subscription: the sublist entry plus what the router keeps about it. */
#if NE_MAX_SUBSCRIPTIONS_PER_CONN < 1 || NE_MAX_SUBSCRIPTIONS_PER_CONN > NE_MAX_SUBSCRIPTIONS
#error "NE_MAX_SUBSCRIPTIONS_PER_CONN must be between 1 and NE_MAX_SUBSCRIPTIONS"
#endif
#if NE_MAX_TRIE_NODES_PER_CONN < NE_MAX_SUBJECT_TOKENS ||                                          \
    NE_MAX_TRIE_NODES_PER_CONN > NE_MAX_TRIE_NODES
#error "NE_MAX_TRIE_NODES_PER_CONN must hold one longest subject and fit in NE_MAX_TRIE_NODES"
#endif

typedef struct ne_sub {
    ne_sub_entry entry; /* first member */
    ne_conn *conn;
    struct ne_sub *conn_next;
    struct ne_sub *conn_prev;
    uint64_t delivered;
    /* 0: no auto-unsubscribe; at most 999,999,999 (UNSUB's size, CP-39),
     * 32 bits so that the fields below fit where a 64-bit one left room. */
    uint32_t max_msgs;
    bool withhold; /* wildcard over a subscribe deny entry (CP-81) */
    bool peer;     /* a peer's interest (LS+, RS+): batched per peer */
    /* Takes its own connection's messages although the connection set
     * no_echo: false when created; its owner sets it (a service that
     * consumes what it publishes: JetStream's mirrors and sources of a
     * stream on this server). Interest observers have seen it by then. */
    bool echo;
    /* The account whose sublist holds it (index of the router's accounts):
     * its connection's, or the one a peer's interest named (RS+ <account>). */
    uint8_t account;
    /* A peer's queue member that competes with local members for a message
     * published here, counted as this many members (a cluster peer's RS+
     * weight, CP-59); 0: a member of last resort, taken only when no local
     * member takes the message (a leaf's LS+, whatever its weight). */
    uint16_t member_weight;
    uint16_t sid_len;
    /* The interest observers' own record of this subscription: the peers its
     * interest was announced to, one bit per peer link (the leaf kind's link
     * index), so that its removal takes back exactly that. */
    uint32_t announced;
    char text[NE_SUB_TEXT_BYTES]; /* subject, then queue, then sid */
} ne_sub;

static inline const char *ne_sub_sid(const ne_sub *sub)
{
    return sub->text + sub->entry.subject_len + sub->entry.queue_len;
}

/* A published message as routing sees it. The payload (headers included) is
 * followed by its "\r\n", either contiguous at `data` or in a chunk chain
 * from chain_offset. */
typedef struct ne_msg {
    ne_slice subject;
    /* The subject subscribers see when it is not the one the message is
     * routed on (a JetStream push delivery is routed on the consumer's
     * deliver subject and shows the stored message's subject); len 0: the
     * routed subject. Leaf peers get it after the reply ("reply@shown"). */
    ne_slice shown;
    ne_slice reply;
    ne_slice queues; /* from a peer: the queue groups it is for (LN-18); only those get it */
    uint32_t hdr_len;
    uint32_t total_len;
    bool has_headers; /* HPUB: deliver as HMSG to header-capable subscribers */
    bool from_peer;   /* published by a peer: only the queue groups in `queues` */
    /* Queue members of this node before any peer's (a message another node
     * of the cluster routed here for one of our members, CP-59). */
    bool local_first;
    /* The account it is published in (an index of the router's accounts):
     * set by the publishing kind with in_account when it is not the
     * publisher's own (a route's RMSG names one), by the router otherwise. */
    bool in_account;
    uint8_t account;
    bool share; /* several deliveries: worth writing the payload into chunks once */
    const uint8_t *data;
    ne_chunk *chain;
    uint32_t chain_offset;
    bool chain_owned; /* the chain was made here from `data` and must be released */
    /* Set by the router for each routing of a message (an import's copy
     * gets its own): a delivering kind that works something out once per
     * message and subscriber set keys it on this. */
    uint64_t seq;
    /* A delivering kind's cache of the encoded message, valid for one
     * message (the NATS client kind lays its MSG line out once). */
    uint64_t scratch_id;
    uint16_t head_len;
    uint32_t tail_len;
    uint8_t size_len;
    uint8_t hsize_len;
    char size_text[20];
    char hsize_text[41];
} ne_msg;

/* The subject a subscriber's delivery line carries. */
static inline ne_slice ne_msg_shown(const ne_msg *m)
{
    return m->shown.len > 0 ? m->shown : m->subject;
}

/* A peer's "$JS.ACK.<...>@<subject>" reply (a leaf's LMSG, a route's
 * RMSG): splits it into the reply and the subject its subscribers are
 * shown, as nats-server does for replies of the JetStream ack prefix.
 * False (nothing changed) for any other. */
bool ne_msg_split_reply(ne_slice *reply, ne_slice *shown);
/* Appends a message's reply for a peer's LMSG or RMSG line, with a
 * JetStream delivery's shown subject (len 0: none) after it as
 * "reply@shown", as nats-server sends it. */
void ne_msg_put_reply(ne_strbuf *sb, ne_slice reply, ne_slice shown);

/* Clears a message up to its size texts, which need no clearing. */
#define NE_MSG_CLEAR(m) memset((m), 0, offsetof(ne_msg, size_text))

/* What one peer gets of one message: whether a plain subscription matched,
 * and each queue group it was picked for (LN-17..LN-19). */
typedef struct ne_batch {
    bool plain;
    uint32_t queue_count;
    const char *queue[NE_MAX_MATCH_QUEUE_GROUPS];
    uint16_t queue_len[NE_MAX_MATCH_QUEUE_GROUPS];
} ne_batch;

/* Interest observers (kinds that propagate interest: leaf, route). added
 * may refuse (NE_ERR_NOMEM: its table is full), which undoes the
 * subscription; removed is told before a subscription goes. Both are told
 * while the subscription is in its account's sublist. */
typedef struct ne_interest_observer {
    int (*added)(void *ctx, ne_sub *sub);
    void (*removed)(void *ctx, ne_sub *sub);
    void *ctx;
} ne_interest_observer;

/* Client observers (system events): a connection was bound to its account
 * and counted there (joined), or is leaving it (left, before its state is
 * released); a peer connection (conn->peer_role set) came up or is going
 * in its account without being counted as a client (peer, may be NULL). */
typedef struct ne_client_observer {
    void (*joined)(void *ctx, ne_conn *conn);
    void (*left)(void *ctx, ne_conn *conn);
    void (*peer)(void *ctx, ne_conn *conn, bool up);
    void *ctx;
} ne_client_observer;

#define NE_ROUTER_MAX_OBSERVERS 4
/* Peer connections one message can go to: leafs and routes. */
#define NE_ROUTER_MAX_PEERS (NE_MAX_LEAF_CONNECTIONS + NE_MAX_ROUTES)

typedef struct ne_router_stats {
    uint64_t in_msgs, in_bytes, out_msgs, out_bytes;
    uint64_t subs_refused;     /* subscription pool, trie or an observer full */
    uint64_t fanout_overflows; /* matches beyond NE_MAX_FANOUT */
    uint64_t fanout_total;     /* deliveries, for /subsz avg_fanout */
    uint64_t fanout_max;
    uint64_t perm_violations;    /* publish and subscribe refusals */
    uint64_t reply_maps_refused; /* service requests forwarded without a reply */
    uint64_t resp_perms_evicted; /* response permissions forgotten when full */
    uint64_t lines_too_long;     /* lines above NE_MAX_OUT_LINE_BYTES, not sent to one peer */
} ne_router_stats;

typedef struct ne_router {
    const ne_server_options *opts;
    ne_conns *conns;
    ne_rng *rng;
    ne_router_stats stats;
    bool routing;     /* inside ne_router_publish: no re-entry (internal clients run at turn end) */
    uint64_t msg_seq; /* the last ne_msg.seq given */
    ne_pool sub_pool;
    ne_account accounts[NE_MAX_ACCOUNTS]; /* as opts.accounts; [0] is $G */
    uint32_t account_count;
    ne_reply_map reply_maps[NE_MAX_SERVICE_REPLIES];
    ne_resp_perm resp_perms[NE_MAX_RESPONSE_PERMS];
    /* Entries of resp_perms ever handed out (a high-water mark): the ones
     * above it were never written, so no scan reads them and a server
     * without allow_responses never makes the table resident. */
    uint32_t resp_perms_used;
    ne_interest_observer observers[NE_ROUTER_MAX_OBSERVERS];
    uint32_t observer_count;
    ne_client_observer client_observers[NE_ROUTER_MAX_OBSERVERS];
    uint32_t client_observer_count;
    /* The peers one message goes to (one batch each), while routing it. */
    ne_conn *peers[NE_ROUTER_MAX_PEERS];
    ne_batch batches[NE_ROUTER_MAX_PEERS];
    uint32_t peer_count;
    ne_bcrypt_state bcrypt; /* work area of a password check (ne_authn.h) */
    ne_match_result match;
    ne_trie trie;
} ne_router;

typedef NE_POOL_STORAGE(ne_sub, NE_MAX_SUBSCRIPTIONS) ne_router_storage;

/* Sets the router up over opts (whose accounts it creates) and the
 * connection layer; NE_ERR_NOMEM when the trie cannot hold the accounts'
 * roots (logged with the knob to raise). */
int ne_router_init(ne_router *r, ne_router_storage *storage, const ne_server_options *opts,
                   ne_conns *conns, ne_rng *rng);
void ne_router_deinit(ne_router *r);
void ne_router_observe(ne_router *r, const ne_interest_observer *obs);
void ne_router_observe_clients(ne_router *r, const ne_client_observer *obs);

/* ---- Subscriptions ---------------------------------------------------------- */

typedef struct ne_sub_spec {
    ne_slice subject;
    ne_slice queue; /* len 0: none */
    ne_slice sid;   /* len 0: none (a peer's interest) */
    bool peer;
    bool withhold;
    /* NULL: conn's account; else the account a peer's interest names. */
    ne_account *account;
    uint16_t member_weight; /* ne_sub.member_weight */
} ne_sub_spec;

/* Creates a subscription for conn in its account (or spec->account), tells
 * the observers and links it to the connection. NE_ERR_INVALID for an invalid subject,
 * NE_ERR_TOO_BIG when subject, queue and sid exceed NE_SUB_TEXT_BYTES,
 * NE_ERR_NOMEM when the pool, the trie or an observer is full (counted in
 * subs_refused and logged with the knob to raise); nothing changed then. */
int ne_router_subscribe(ne_router *r, ne_conn *conn, const ne_sub_spec *spec, ne_sub **out);
/* Removes one subscription (observers told first). */
void ne_router_unsubscribe(ne_router *r, ne_sub *sub);
/* A connection is torn down: every subscription of it goes, and its
 * response permissions. */
void ne_router_conn_gone(ne_router *r, ne_conn *conn);
ne_sub *ne_router_find_sid(const ne_conn *conn, ne_slice sid);
/* A peer's subscription for exactly (subject, queue) in account acc
 * (NULL: the connection's own). */
ne_sub *ne_router_find_interest(const ne_conn *conn, const ne_account *acc, ne_slice subject,
                                ne_slice queue);
/* The account a subscription is in. */
ne_account *ne_router_sub_account(ne_router *r, const ne_sub *sub);
/* Every subscription of every connection (walks for observers that send
 * their whole interest to a new peer). */
typedef void (*ne_sub_visit)(void *ctx, ne_sub *sub);
void ne_router_each_sub(ne_router *r, ne_sub_visit visit, void *ctx);
/* Total subscriptions in every account. */
uint32_t ne_router_sub_count(const ne_router *r);

/* ---- Accounts --------------------------------------------------------------- */

/* Binds conn to an account and counts it there; the client observers hear
 * `joined`. ne_router_leave undoes it (and they hear `left`). */
void ne_router_join(ne_router *r, ne_conn *conn, ne_account *acc);
void ne_router_leave(ne_router *r, ne_conn *conn);
/* A peer connection in conn->acc is up (registered with its peer), or is
 * going (before its state is released): the client observers hear `peer`.
 * It is not counted among the account's clients. */
void ne_router_peer_up(ne_router *r, ne_conn *conn, bool up);
/* The account of that name ("" is $G), NULL if the options have none. */
ne_account *ne_router_account_named(ne_router *r, const char *name);
const char *ne_router_account_name(const ne_router *r, const ne_account *acc);
/* The connection's permissions, NULL when it has none. */
static inline const ne_permissions *ne_router_perms(const ne_conn *conn)
{
    const ne_server_options *o = conn->set->opts;
    return conn->perms == NE_PERM_NONE ? NULL : &o->perms[conn->perms];
}

/* ---- Publishing ------------------------------------------------------------- */

/* Routes msg from pub: counts it, asks pub's kind (may_publish), matches
 * in pub's account, delivers, then the account's imports. NE_OK with the
 * number of deliveries in *delivered (a service import counts as one: the
 * import is interest of its own), or NE_ERR_PERMISSION when pub's kind
 * refused it. */
int ne_router_publish(ne_router *r, ne_conn *pub, ne_msg *msg, uint32_t *delivered);
/* Delivers in one account from the server itself (system events, internal
 * services): no publisher checks, no imports, no peers. */
uint32_t ne_router_publish_in(ne_router *r, uint8_t account, ne_msg *msg);

/* A line for conn that would be longer than NE_MAX_OUT_LINE_BYTES (`what`:
 * "MSG", "-ERR"...): not sent at all, since a cut line would corrupt the
 * peer's protocol stream; counted (lines_too_long) and logged with the knob
 * to raise. */
void ne_router_line_too_long(ne_router *r, const ne_conn *conn, const char *what);

/* Response permissions (allow_responses, CP-82): may conn publish to
 * subject as a response to a message it received? Uses up one response. */
bool ne_router_resp_perm_use(ne_router *r, const ne_conn *conn, ne_slice subject);
/* Forgets the response permissions of a connection that is gone. */
void ne_router_resp_perms_release(ne_router *r, uint64_t cid);

/* For the kinds' deliver ops: queues a delivery line and the payload
 * (headers stripped unless as_hmsg) for conn, whole or not at all; a large
 * payload for several subscribers is written into chunks once and
 * referenced (msg->share). False when the connection could not take it (it
 * is closed as a slow consumer then). *payload_bytes: the payload queued. */
bool ne_router_queue(ne_conn *conn, const char *line, size_t n, ne_msg *msg, bool as_hmsg,
                     uint32_t *payload_bytes);

#endif
