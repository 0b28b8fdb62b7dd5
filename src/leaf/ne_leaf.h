/* Leaf nodes: natsedge as a leaf of a nats-server hub (solicited remotes) and
 * as a hub for leafs (accepted leaf connections).
 *
 * A leaf connection is an ne_conn of kind NE_CONN_KIND_LEAF with an
 * ne_leaf_link attached. The peer's interest (LS+/LS-) becomes ordinary
 * subscriptions owned by that connection, so routing finds them like any
 * client's; local interest is sent to each peer through the leaf interest
 * table (one LS+ per subject and queue, with the queue weight).
 *
 * The server calls in at a few points: start, each timer tick, every
 * subscription added or removed, a leaf connection's operations and its
 * teardown, and while routing a message (ne_leaf_route_*). */
#ifndef NE_LEAF_H
#define NE_LEAF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "leaf/ne_leaf_types.h"
#include "proto/ne_proto.h"

struct ne_server;
struct ne_conn;
struct ne_sub;
struct ne_sublist;
struct ne_json_writer;

void ne_leaf_options_default(ne_leaf_options *opts);
/* Checks the leaf options; writes a message into err on failure. */
int ne_leaf_options_check(const ne_leaf_options *opts, char *err, size_t err_cap);

void ne_leaf_init(struct ne_server *srv);
/* Opens the leaf listener (hub role) and schedules the remotes' first
 * connection attempts. */
int ne_leaf_start(struct ne_server *srv);
/* Gives remote `remote` the TLS client configuration the board made from
 * its tls { } block (between ne_server_init and ne_server_start). */
void ne_leaf_set_remote_tls(struct ne_server *srv, uint32_t remote, const ne_tls_config *cfg);
/* Timers: connection attempts, handshake deadlines. */
void ne_leaf_tick(struct ne_server *srv, uint64_t now_ms);
void ne_leaf_shutdown(struct ne_server *srv);
void ne_leaf_log_memory(const struct ne_server *srv);

/* The sublist of the account a connection belongs to. */
struct ne_sublist *ne_leaf_sublist(struct ne_conn *conn);

/* A subscription was inserted (by a client or a leaf peer): its interest is
 * sent to every leaf peer that should know. NE_ERR_NOMEM when the interest
 * table cannot take it (nothing was sent then; the caller removes it). */
int ne_leaf_sub_added(struct ne_server *srv, struct ne_sub *sub);
/* A subscription is about to be removed. */
void ne_leaf_sub_removed(struct ne_server *srv, struct ne_sub *sub);

/* The server's authorization was reloaded: accepted leafs that logged in
 * through it (a users-list entry, the single user or the token) are closed
 * with 'Authorization Violation', to log in again under the new
 * authorization with the new permissions. */
void ne_leaf_auth_reloaded(struct ne_server *srv);

/* A connection accepted on the leaf listener: sends INFO. */
void ne_leaf_accepted(struct ne_conn *conn);
/* Parses a control line read on a leaf connection (LMSG/HMSG in their leaf
 * forms, with op->queue spanning the queue names). */
ne_proto_status ne_leaf_parse_line(const char *line, size_t len, ne_op *op);
/* True for a message operation (LMSG/HMSG) whose payload follows; closes
 * the connection if the link may not carry messages yet. */
bool ne_leaf_carries_payload(struct ne_conn *conn, const ne_op *op);
/* Handles every operation of a leaf connection but LMSG/HMSG payloads. */
void ne_leaf_handle_op(struct ne_conn *conn, const ne_op *op);
/* The leaf connection is being torn down: its interest entries go, its
 * remote schedules a reconnect. */
void ne_leaf_conn_closed(struct ne_conn *conn);

/* Routing. begin clears the targets (false: a leaf's message its remote
 * may not import, to be dropped); add records that a leaf connection's
 * subscription matched (queue NULL for a plain one) and says whether the
 * message may go there; the caller then sends one message per target. */
bool ne_leaf_route_begin(struct ne_conn *pub, ne_slice subject);
bool ne_leaf_route_add(struct ne_conn *pub, struct ne_sub *sub, const char *queue,
                       uint16_t queue_len);
/* True when a queue group named in a leaf message's queue list. */
bool ne_leaf_queue_listed(ne_slice queues, const char *queue, uint16_t queue_len);
/* Writes the LMSG (or HMSG) line for a target; returns its length (0 if it
 * does not fit in cap). */
size_t ne_leaf_msg_line(char *out, size_t cap, const ne_leaf_target *t, ne_slice subject,
                        ne_slice reply, bool as_hmsg, uint32_t hdr_len, uint32_t total_len);

/* Writes the /leafz JSON document into w; subs adds each leaf's
 * subscriptions_list (?subs=1). */
void ne_leaf_leafz(const struct ne_server *srv, struct ne_json_writer *w, bool subs);

/* Parsing of peer input, exposed for tests and fuzzing. */

/* What the INFO of a leaf peer says. */
typedef struct ne_leaf_info {
    char server_id[57];
    char server_name[64];
    char nonce[64];
    char remote_account[64];
    uint64_t client_id;
    uint32_t max_payload;
    bool headers;
    bool info_on_connect;
    bool connect_info;
    bool has_leafnode_urls;
    uint32_t url_count; /* leafnode_urls kept (the first NE_LEAF_MAX_URLS) */
    char urls[NE_LEAF_MAX_URLS][NE_LEAF_HOSTPORT_BYTES];
    bool auth_required;
    bool tls_required;
} ne_leaf_info;

/* NE_ERR_PARSE on malformed JSON. */
int ne_leaf_parse_info(const char *json, size_t len, ne_leaf_info *info);

/* Reads a .creds file: the user JWT and the seed from their dash-fenced
 * blocks. NE_ERR_PARSE when either is missing, NE_ERR_TOO_BIG when one does
 * not fit. */
int ne_leaf_parse_creds(const char *text, size_t len, char *jwt, size_t jwt_cap, char *seed,
                        size_t seed_cap);

/* Signs the nonce with a user seed ("SU..."): writes the base64url
 * signature (86 chars and a NUL) into sig. NE_ERR_PARSE for a bad seed. */
int ne_leaf_sign_nonce(const char *seed, const char *nonce, char sig[90]);

/* A URL split: nats-leaf://user:pass@host:port (scheme optional). */
typedef struct ne_leaf_url {
    char host[128];
    uint16_t port;
    char user[128];
    char pass[128];
    bool tls;
} ne_leaf_url;
int ne_leaf_parse_url(const char *url, ne_leaf_url *out);

#endif
