/* natsedge compile-time configuration: every knob, with its default.
 *
 * Each knob bounds one static pool or buffer. The comment says what it bounds
 * and what one unit costs in RAM, so a board can be sized by reading this file.
 * A profile in config/profiles/ overrides any of them; a run-time config file or
 * command-line flag may lower a limit but never raise it above what is here.
 */
#ifndef NE_CONFIG_DEFAULT_H
#define NE_CONFIG_DEFAULT_H

/* ---- Connections -------------------------------------------------------- */

/* Client connections served at once (max_connections' ceiling). One unit
 * costs sizeof(ne_conn) (about 600 B) plus its read buffer
 * (NE_CONN_READ_BUFFER_BYTES). The next client gets
 * -ERR 'maximum connections exceeded'. */
#ifndef NE_MAX_CONNECTIONS
#define NE_MAX_CONNECTIONS 256
#endif

/* JetStream (src/js, config/ne_config_js.h for its pools): 1 builds it, 0
 * leaves it out (no code, no RAM; -js and a jetstream block are refused as
 * a feature not built). */
#ifndef NE_FEATURE_JETSTREAM
#define NE_FEATURE_JETSTREAM 1
#endif

/* Accounts that may have JetStream, each served by its own internal client
 * (a connection header). Without an accounts block only $G has it. */
#ifndef NE_JS_MAX_ACCOUNTS
#define NE_JS_MAX_ACCOUNTS 4
#endif

/* Internal clients: connections without a socket through which services
 * (the system account's requests, JetStream's accounts) subscribe and
 * publish, and MQTT sessions (one each: it holds the session's
 * subscriptions while its client is offline; NE_MQTT_SESSION_CLIENTS,
 * ne_config_mqtt.h). One unit costs a connection header (about 250 B). */
#ifndef NE_MAX_INTERNAL_CLIENTS
#if NE_FEATURE_JETSTREAM
#define NE_MAX_INTERNAL_CLIENTS (2 + NE_JS_MAX_ACCOUNTS + NE_MQTT_SESSION_CLIENTS)
#else
#define NE_MAX_INTERNAL_CLIENTS (2 + NE_MQTT_SESSION_CLIENTS)
#endif
#endif

/* Bytes of $SYS.REQ.SERVER requests waiting for the system account's
 * service (answered at the end of each loop turn). A request beyond it, or
 * larger than a chunk, is dropped and counted. Costs chunks only while
 * requests wait. */
#ifndef NE_SYS_REQUEST_QUEUE_BYTES
#define NE_SYS_REQUEST_QUEUE_BYTES (2 * NE_CHUNK_BYTES)
#endif

/* Other servers of the cluster the system account's service keeps track of
 * (heard through their $SYS.SERVER.<id>.STATSZ), for statsz active_servers.
 * One unit costs 72 B. A server beyond it is not counted (counted in
 * /varz?natsedge=1 natsedge_auth.system_servers_dropped). */
#ifndef NE_SYS_MAX_SERVERS
#define NE_SYS_MAX_SERVERS 16
#endif

/* Connection-pool slots beyond NE_MAX_CONNECTIONS, which clients never take:
 * monitoring (NE_MAX_HTTP_CONNECTIONS) and leaf connections
 * (NE_MAX_LEAF_CONNECTIONS) have their own, so clients at max_connections
 * cannot lock /varz or a leaf link out. Default: one slot for each of them.
 * A board that cannot afford them may set fewer: monitoring and leafs then
 * share what is left with each other and with the clients' slots; routes
 * (NE_MAX_ROUTES) have theirs too. One unit
 * costs what a client connection costs (reserved for all; resident only
 * when used). */
#ifndef NE_RESERVED_CONNECTIONS
#define NE_RESERVED_CONNECTIONS (NE_MAX_HTTP_CONNECTIONS + NE_MAX_LEAF_CONNECTIONS + NE_MAX_ROUTES)
#endif

/* A connection's read buffer. Control lines and payloads that fit are parsed in
 * place without a copy; a larger payload is assembled in shared chunks. Must be
 * at least NE_MAX_CONTROL_LINE_BYTES + 64. One read per this many bytes: 64 KiB
 * against 16 KiB measured +50% publish rate at 128 B on loopback
 * (docs/performance.md). A connection holds one only while it has input to
 * read or left unparsed (an incomplete line or packet); an idle one holds
 * none (NE_CONN_READ_BUFFERS). */
#ifndef NE_CONN_READ_BUFFER_BYTES
#define NE_CONN_READ_BUFFER_BYTES 65536
#endif

/* Read buffers (NE_CONN_READ_BUFFER_BYTES each) in the pool the connections
 * with a socket share. The default, one per connection slot
 * (NE_CONN_POOL_SIZE), never runs out; fewer trade RAM for a wait: a
 * connection that needs one when none is free first cuts the connection
 * that has held one longest without sending a byte for
 * NE_PARTIAL_MSG_STALL_MS (closed as a stalled slow producer), else waits
 * with its reads paused (TCP back-pressure) until one is given back.
 * Cost: this many times NE_CONN_READ_BUFFER_BYTES, reserved; resident only
 * for the most buffers held at once. */
#ifndef NE_CONN_READ_BUFFERS
#define NE_CONN_READ_BUFFERS NE_CONN_POOL_SIZE
#endif

/* One read buffer shared by all plain (not TLS, not monitoring) connections:
 * a readable connection reads up to this many bytes at once into it, its
 * messages are parsed there in place, and only an incomplete last message
 * goes back to the connection's own buffer. Fewer, larger reads mean fewer
 * system calls and fewer TCP window updates per message, for one buffer's
 * RAM instead of one per connection. 0 reads into each connection's buffer
 * directly. Must be 0 or at least NE_CONN_READ_BUFFER_BYTES. Cost: this
 * many bytes once. */
#ifndef NE_SHARED_READ_BUFFER_BYTES
#define NE_SHARED_READ_BUFFER_BYTES 262144
#endif

/* A connection whose last read produced more payload for subscribers than
 * it read (fan-out) reads at most this many bytes at a time instead of the
 * whole shared buffer: fan-out 1->4 of 1 KiB and 16 KiB messages went
 * faster with 64 KiB reads, publish and 1:1 delivery with 256 KiB
 * (docs/performance.md). A new connection reads this much at a time until
 * a read shows its messages do not fan out. At most
 * NE_SHARED_READ_BUFFER_BYTES. Costs no RAM by itself. */
#ifndef NE_FANOUT_READ_BYTES
#define NE_FANOUT_READ_BYTES 65536
#endif

/* Longest control line (verb and arguments) a peer may send; nats-server's
 * max_control_line, default 4096. A longer line gets
 * -ERR 'maximum control line exceeded'. Costs no RAM by itself. */
#ifndef NE_MAX_CONTROL_LINE_BYTES
#define NE_MAX_CONTROL_LINE_BYTES 4096
#endif

/* Largest message payload (headers included) that can be configured; the
 * run-time max_payload defaults to this. nats-server's default is 1 MiB.
 * Costs no RAM by itself: large payloads live in shared chunks. */
#ifndef NE_MAX_PAYLOAD_BYTES
#define NE_MAX_PAYLOAD_BYTES (1024 * 1024)
#endif

/* Largest run-time max_pending: outbound bytes queued for one connection before
 * it is closed as a slow consumer. nats-server's default is 64 MiB; edge
 * hardware wants far less. Costs no RAM by itself (bytes sit in chunks). */
#ifndef NE_MAX_PENDING_BYTES
#define NE_MAX_PENDING_BYTES (4 * 1024 * 1024)
#endif

/* Closed connections remembered for /connz?state=closed (ring). One unit costs
 * about 160 B. nats-server keeps 10,000. */
#ifndef NE_CLOSED_CONN_RING
#define NE_CLOSED_CONN_RING 16
#endif

/* Monitoring connections (HTTP) served at once; they come from the connection
 * pool too. When all are waiting for their request, a new one takes the
 * place of the oldest (which is closed without an answer), so clients that
 * send slowly cannot keep others out. */
#ifndef NE_MAX_HTTP_CONNECTIONS
#define NE_MAX_HTTP_CONNECTIONS 4
#endif

/* Time a monitoring client has, from its connection, to send its whole
 * request; then it is closed without an answer. nats-server 2.11 and later
 * set the same 5 s ReadHeaderTimeout on their monitoring server (2.9 has
 * none, but serves any number of connections). Costs no RAM. */
#ifndef NE_HTTP_REQUEST_TIMEOUT_MS
#define NE_HTTP_REQUEST_TIMEOUT_MS 5000
#endif

/* Largest HTTP request header block; a larger one gets 431. Must not exceed
 * NE_CONN_READ_BUFFER_BYTES. Costs no RAM by itself. */
#ifndef NE_HTTP_REQUEST_BYTES
#define NE_HTTP_REQUEST_BYTES 2048
#endif

/* Users in an authorization users list (user/password or nkey). One unit
 * costs about 256 B of the server options. */
#ifndef NE_MAX_USERS
#define NE_MAX_USERS 16
#endif

/* The highest bcrypt cost a configured password or token may use. Every
 * check of a bcrypt password runs 2^cost Blowfish key schedules on the event
 * loop (on x86-64 about 55 ms at cost 10, 220 ms at 12; a Cortex-M is a
 * hundred times slower), so a hash of a higher cost is refused when the
 * configuration is read rather than letting a hostile file stall the broker
 * (nats-server accepts up to 31; see docs/configuration.md). Costs no RAM. */
#ifndef NE_BCRYPT_MAX_COST
#define NE_BCRYPT_MAX_COST 12
#endif

/* Accounts, counting "$G" and the system account: 2 to 32. One unit costs
 * about 80 B of options and 80 B of server state (plus a trie root node). */
#ifndef NE_MAX_ACCOUNTS
#define NE_MAX_ACCOUNTS 16
#endif

/* Permission sets (a user's `permissions`, an authorization's or account's
 * `default_permissions`). One unit costs 36 B of options. */
#ifndef NE_MAX_PERMISSION_SETS
#define NE_MAX_PERMISSION_SETS 16
#endif

/* Subjects in all permission lists together. One unit costs
 * NE_PERM_SUBJECT_BYTES + 4 B of options. */
#ifndef NE_MAX_PERM_SUBJECTS
#define NE_MAX_PERM_SUBJECTS 128
#endif

/* Longest subject (with its queue) in a permission list, an export or an
 * import, and longest reply subject kept for allow_responses or a service
 * import's response. */
#ifndef NE_PERM_SUBJECT_BYTES
#define NE_PERM_SUBJECT_BYTES 128
#endif

/* Exports and imports of all accounts together. One unit costs about
 * NE_PERM_SUBJECT_BYTES (exports) or 2 * NE_PERM_SUBJECT_BYTES (imports). */
#ifndef NE_MAX_EXPORTS
#define NE_MAX_EXPORTS 32
#endif
#ifndef NE_MAX_IMPORTS
#define NE_MAX_IMPORTS 32
#endif

/* Service requests in flight through service imports (each maps a "_R_."
 * reply back to the requester's). When full, a request through an import
 * is forwarded without a reply. One unit costs NE_PERM_SUBJECT_BYTES + 40 B. */
#ifndef NE_MAX_SERVICE_REPLIES
#define NE_MAX_SERVICE_REPLIES 256
#endif

/* Reply subjects that users with allow_responses may answer, across all
 * connections. When full, the oldest is forgotten (counted in /varz as
 * natsedge_auth.response_perms_evicted). One unit costs NE_PERM_SUBJECT_BYTES +
 * 24 B. */
#ifndef NE_MAX_RESPONSE_PERMS
#define NE_MAX_RESPONSE_PERMS 256
#endif

/* ---- Subscriptions ------------------------------------------------------ */

/* Subscriptions across all connections. One unit costs sizeof(ne_sub) (about
 * 64 B) plus its subject/queue/sid text in NE_SUB_TEXT_BYTES. */
#ifndef NE_MAX_SUBSCRIPTIONS
#define NE_MAX_SUBSCRIPTIONS 4096
#endif

/* Subscriptions one connection may hold: its share of NE_MAX_SUBSCRIPTIONS,
 * so that one client, broken or hostile, cannot leave the others none. A SUB
 * past it gets -ERR 'maximum subscriptions exceeded' and the connection
 * stays (as at nats-server's max_subscriptions). The max_subscriptions key
 * may lower it; its 0 (nats-server's "no limit") means this share. Default:
 * half the pool. Costs no RAM. */
#ifndef NE_MAX_SUBSCRIPTIONS_PER_CONN
#define NE_MAX_SUBSCRIPTIONS_PER_CONN (NE_MAX_SUBSCRIPTIONS / 2)
#endif

/* Subject-trie nodes one connection's subscriptions may add: the nodes its
 * SUBs created less those its UNSUBs freed. Long subjects with distinct
 * tokens take a node per token, so a connection within its subscription
 * share could still take every node. A SUB past it gets -ERR 'maximum
 * subscriptions exceeded'. Default: half the trie. Costs no RAM. */
#ifndef NE_MAX_TRIE_NODES_PER_CONN
#define NE_MAX_TRIE_NODES_PER_CONN (NE_MAX_TRIE_NODES / 2)
#endif

/* Text stored per subscription: subject, queue group and sid together.
 * A SUB whose text is longer is refused with -ERR 'Invalid Subject'. */
#ifndef NE_SUB_TEXT_BYTES
#define NE_SUB_TEXT_BYTES 128
#endif

/* Nodes of the subject trie (one per distinct token position in use).
 * One unit costs about 40 B plus NE_TOKEN_BYTES, plus about 16 B in the
 * trie's child hash table (a power of two at least twice this count). */
#ifndef NE_MAX_TRIE_NODES
#define NE_MAX_TRIE_NODES 8192
#endif

/* Longest single subject token kept in a trie node. */
#ifndef NE_TOKEN_BYTES
#define NE_TOKEN_BYTES 48
#endif

/* Most tokens in one subject (nats-server's max_sub_tokens bound). */
#ifndef NE_MAX_SUBJECT_TOKENS
#define NE_MAX_SUBJECT_TOKENS 32
#endif

/* Most subscriptions one message can match (plain plus queue members). The
 * match result buffer holds this many pointers (8 B each). */
#ifndef NE_MAX_FANOUT
#define NE_MAX_FANOUT 1024
#endif

/* Distinct queue groups one message can match. One unit costs 16 B. */
#ifndef NE_MAX_MATCH_QUEUE_GROUPS
#define NE_MAX_MATCH_QUEUE_GROUPS 64
#endif

/* Each sublist (account) remembers the last subject it matched and, while
 * no subscription changed and the result buffer was not reused, answers the
 * same subject again without walking the trie (a stream of messages on one
 * subject). Longest subject remembered; 0 turns the cache off. Costs this
 * many bytes plus 40 B per account. */
#ifndef NE_MATCH_CACHE_SUBJECT_BYTES
#define NE_MATCH_CACHE_SUBJECT_BYTES 64
#endif

/* ---- Outbound data ------------------------------------------------------ */

/* The shared chunk pool: outbound queues of every connection and payloads
 * larger than a read buffer live here. A chunk is shared between subscribers
 * when a payload is at least NE_SHARE_PAYLOAD_MIN_BYTES. One unit costs
 * NE_CHUNK_BYTES + 16 B. */
#ifndef NE_CHUNK_BYTES
#define NE_CHUNK_BYTES 8192
#endif
#ifndef NE_CHUNK_COUNT
#define NE_CHUNK_COUNT 1024
#endif

/* Chunks of the largest message a peer can send: its subject, reply (and a
 * leaf's queue names), at most a control line, then the payload and CRLF.
 * Derived from the knobs above; not a knob. */
#define NE_MAX_MESSAGE_CHUNKS                                                                      \
    ((NE_MAX_CONTROL_LINE_BYTES + NE_MAX_PAYLOAD_BYTES + 2 + NE_CHUNK_BYTES - 1) / NE_CHUNK_BYTES)

/* The share of the chunk pool that incomplete messages may hold. A payload
 * larger than a read buffer is assembled in chunks taken as its bytes
 * arrive; before its first byte is stored, its whole chain is promised to it
 * from this share, so a message that has started never waits for a chunk. A
 * message that finds the share full waits, holding nothing, with its reads
 * paused. One connection has at most one incomplete message: its bound is
 * the largest message (NE_MAX_MESSAGE_CHUNKS, 129 chunks or 1 MiB on the
 * default profile). Whatever stalled publishers hold, the rest of the pool
 * serves outbound queues, so deliveries, INFO, -ERR and monitoring never
 * wait for a publisher. Default: half the pool (512 chunks, 4 MiB: three
 * largest messages at once), or one largest message where that is more (the
 * tiny profile). Costs no RAM: it is a share of NE_CHUNK_COUNT. */
#ifndef NE_PARTIAL_INPUT_CHUNKS
#define NE_PARTIAL_INPUT_CHUNKS                                                                    \
    (NE_CHUNK_COUNT / 2 > NE_MAX_MESSAGE_CHUNKS ? NE_CHUNK_COUNT / 2 : NE_MAX_MESSAGE_CHUNKS)
#endif

/* Incomplete messages assembled at once: the state of one (where its chain
 * is, what it promised, its deadline) is held only by a connection
 * receiving a payload larger than its read buffer (or an MQTT PUBLISH
 * split across reads), from this pool, until its last byte. A message that
 * finds the pool empty waits as one that finds the share full does: a
 * message stalled for NE_PARTIAL_MSG_STALL_MS is cut to make room, else it
 * waits, holding nothing, with its reads paused. The default, one per
 * connection slot and at most one per chunk of the share, is never the
 * first limit reached. One unit costs 64 B (64-bit), 56 B (32-bit). */
#ifndef NE_PARTIAL_INPUTS
#define NE_PARTIAL_INPUTS                                                                          \
    (NE_CONN_POOL_SIZE < NE_PARTIAL_INPUT_CHUNKS ? NE_CONN_POOL_SIZE : NE_PARTIAL_INPUT_CHUNKS)
#endif

/* References from outbound queues into chunks. A queue needs one per run of
 * consecutive bytes in one chunk. One unit costs 24 B. */
#ifndef NE_OUT_REF_COUNT
#define NE_OUT_REF_COUNT 8192
#endif

/* Payloads at least this large are shared between subscribers (one copy in
 * chunks, referenced by each queue); smaller ones are copied, which is
 * cheaper than a reference: each reference is one more iovec for the kernel
 * to walk. At 1 KiB, fan-out 1->4 took 775 ns of broker CPU per delivered
 * message shared and 490 ns copied (tools/compare, docs/performance.md). */
#ifndef NE_SHARE_PAYLOAD_MIN_BYTES
#define NE_SHARE_PAYLOAD_MIN_BYTES 4096
#endif

/* Longest control line the broker writes to a client or leaf: a MSG, HMSG or
 * LMSG line, a no-responders status line, an -ERR that quotes a subject.
 * Every such writer is told this capacity; a line that would be longer is
 * not sent to that one peer (the message still goes to everyone else),
 * counted in /varz?natsedge=1 as natsedge_delivery.lines_too_long and logged
 * with this knob's name. The default holds the longest line a peer can
 * cause: a publish with the longest control line whose subject a stream
 * import prefixes (NE_PERM_SUBJECT_BYTES) or a service import maps, delivered
 * on the longest sid (NE_SUB_TEXT_BYTES), with room for the verb, the
 * separators and a reply of "_R_." form; so natsedge frames every message
 * nats-server would. Costs this many bytes of stack while delivering (twice
 * through an import). */
#ifndef NE_MAX_OUT_LINE_BYTES
#define NE_MAX_OUT_LINE_BYTES                                                                      \
    (NE_MAX_CONTROL_LINE_BYTES + NE_PERM_SUBJECT_BYTES + NE_SUB_TEXT_BYTES + 64)
#endif

/* Most iovecs gathered in one write of one connection. */
#ifndef NE_WRITE_IOV_MAX
#define NE_WRITE_IOV_MAX 64
#endif

/* ---- Leaf nodes ---------------------------------------------------------- */

/* Remotes (leafnodes { remotes [ ... ] }) a config may name. One unit costs
 * about NE_LEAF_MAX_URLS * NE_LEAF_URL_BYTES + NE_LEAF_JWT_BYTES + the deny
 * lists (2 * NE_LEAF_MAX_DENY * NE_SUB_TEXT_BYTES) of the server options. */
#ifndef NE_MAX_LEAF_REMOTES
#define NE_MAX_LEAF_REMOTES 4
#endif

/* Leaf connections at once, solicited and accepted together (the leaf
 * connection pool). Each also takes a slot of the connection pool (one of
 * NE_RESERVED_CONNECTIONS).
 * One unit costs about 400 B. A further accepted leaf gets
 * -ERR 'maximum connections exceeded'; a remote that finds the pool empty
 * retries after its reconnect delay. */
#ifndef NE_MAX_LEAF_CONNECTIONS
#define NE_MAX_LEAF_CONNECTIONS 8
#endif

/* URLs per remote (url / urls) and the longest URL, user info included. */
#ifndef NE_LEAF_MAX_URLS
#define NE_LEAF_MAX_URLS 4
#endif
#ifndef NE_LEAF_URL_BYTES
#define NE_LEAF_URL_BYTES 256
#endif

/* Largest user JWT of a remote's credentials file. */
#ifndef NE_LEAF_JWT_BYTES
#define NE_LEAF_JWT_BYTES 2048
#endif

/* Subjects in one remote's deny_imports and in its deny_exports. */
#ifndef NE_LEAF_MAX_DENY
#define NE_LEAF_MAX_DENY 8
#endif

/* The leaf interest table: one entry per (leaf connection, subject, queue)
 * whose interest was sent to that peer with LS+. One unit costs
 * NE_SUB_TEXT_BYTES + 16 B, plus a 4 B hash bucket. When it is full a client's
 * SUB that needs a new entry gets -ERR 'maximum subscriptions exceeded'. */
#ifndef NE_LEAF_INTEREST_ENTRIES
#define NE_LEAF_INTEREST_ENTRIES 1024
#endif

/* The share of the leaf interest table one connection's subscriptions may
 * hold (a subscription holds one reference per leaf connection its
 * interest was sent to). A SUB beyond it that needs a new entry gets
 * -ERR 'maximum subscriptions exceeded', and a leaf peer's interest beyond
 * it is not passed on to the other leafs, while other connections' still
 * is: one peer subscribing to ever more subjects cannot fill the table for
 * everyone. 1 to NE_LEAF_INTEREST_ENTRIES. Costs no RAM. */
#ifndef NE_LEAF_INTEREST_PER_CONNECTION
#define NE_LEAF_INTEREST_PER_CONNECTION (NE_LEAF_INTEREST_ENTRIES / 2)
#endif

/* Delay between connection attempts of a remote (nats-server: 1 s; the
 * leafnodes reconnect key changes it at run time), and the delay after the
 * hub reported a loop or a permissions violation (nats-server: 30 s). */
#ifndef NE_LEAF_DEFAULT_RECONNECT_MS
#define NE_LEAF_DEFAULT_RECONNECT_MS 1000
#endif
#ifndef NE_LEAF_ERROR_DELAY_MS
#define NE_LEAF_ERROR_DELAY_MS 30000
#endif

/* Time for a solicited leaf to connect and complete the INFO/CONNECT
 * exchange (nats-server: 1 s dial, 1 s first INFO, 2 s connect INFO). */
#ifndef NE_LEAF_HANDSHAKE_TIMEOUT_MS
#define NE_LEAF_HANDSHAKE_TIMEOUT_MS 4000
#endif

/* A remote that cannot connect logs the failure at [ERR] on the first
 * attempt and every this many attempts in a row after it, at [DBG] in
 * between (nats-server's connect_error_reports and reconnect_error_reports,
 * 3600 by default: once an hour at the default 1 s reconnect). Costs nothing. */
#ifndef NE_LEAF_CONNECT_ERROR_REPORTS
#define NE_LEAF_CONNECT_ERROR_REPORTS 3600
#endif

/* ---- Cluster routes ------------------------------------------------------ */

/* Routes: the connections between the nodes of a cluster (natsedge and
 * nats-server nodes alike, a full mesh; docs/cluster.md). 0 leaves them out
 * of the build: no route state, no cluster { } block (refused), no --routes.
 * The tiny profile has none. */
#ifndef NE_FEATURE_ROUTES
#define NE_FEATURE_ROUTES 1
#endif

/* Route connections at once, solicited and accepted together (the route
 * link pool): the other nodes of the cluster, plus the duplicates a
 * handshake may briefly open when two nodes connect to each other at once.
 * Each also takes a connection slot (NE_RESERVED_CONNECTIONS). One unit
 * costs about 450 B. A further accepted route is closed at once, a
 * solicited one is retried later; counted in /varz natsedge_routes
 * (links_refused) and logged with this knob. None without routes. */
#ifndef NE_MAX_ROUTES
#define NE_MAX_ROUTES (8 * NE_FEATURE_ROUTES)
#endif

/* Routes a configuration may name (cluster { routes [...] }, --routes) and
 * routes learned from other nodes (gossip), and the longest route URL, user
 * info included. One unit costs NE_ROUTE_URL_BYTES + 96 B. A URL learned
 * beyond it is not connected to (logged, counted): that node still connects
 * to this one. */
#ifndef NE_ROUTE_MAX_URLS
#define NE_ROUTE_MAX_URLS 8
#endif
#ifndef NE_ROUTE_URL_BYTES
#define NE_ROUTE_URL_BYTES 256
#endif

/* Subscriptions one route's peer may hold here (its RS+ interest), out of
 * the subscription pool and within a connection's share of it
 * (NE_MAX_SUBSCRIPTIONS_PER_CONN, NE_MAX_TRIE_NODES_PER_CONN). A peer whose
 * interest does not fit is disconnected and the route retried later
 * (counted and logged with the knob to raise): a node that knows only part
 * of a peer's interest would lose that peer's messages silently. Costs no
 * RAM by itself. */
#ifndef NE_ROUTE_MAX_REMOTE_SUBS
#define NE_ROUTE_MAX_REMOTE_SUBS NE_MAX_SUBSCRIPTIONS_PER_CONN
#endif

/* The client URLs of the cluster that clients are told about (INFO
 * connect_urls: this node's and every route's), as JSON text. URLs beyond
 * it are left out (logged). Costs this many bytes once, and as much stack
 * while an INFO is written; 1 without routes. */
#ifndef NE_CLUSTER_URLS_BYTES
#define NE_CLUSTER_URLS_BYTES (1 + 1023 * NE_FEATURE_ROUTES)
#endif

/* The client URLs one route's peer announces (its INFO connect_urls) that
 * are kept, as JSON text. Costs this many bytes per route link. */
#ifndef NE_ROUTE_PEER_URLS_BYTES
#define NE_ROUTE_PEER_URLS_BYTES 192
#endif

/* Delay before a dropped or refused route is tried again, doubled after
 * each failure up to NE_ROUTE_RECONNECT_MAX_MS, with up to 100 ms of
 * jitter (nats-server: 1 s, jitter included, never longer); back to the
 * first delay once a route is up. */
#ifndef NE_ROUTE_RECONNECT_MS
#define NE_ROUTE_RECONNECT_MS 1000
#endif
#ifndef NE_ROUTE_RECONNECT_MAX_MS
#define NE_ROUTE_RECONNECT_MAX_MS 8000
#endif

/* Time a route connection has, from the TCP connection, to complete its
 * INFO/CONNECT exchange (TLS included); then it is closed. nats-server has
 * its cluster authorization timeout (2 s) only when authorization is
 * configured, and a dial timeout of 1 s. Costs no RAM. */
#ifndef NE_ROUTE_HANDSHAKE_TIMEOUT_MS
#define NE_ROUTE_HANDSHAKE_TIMEOUT_MS 4000
#endif

/* ---- Timers and defaults ------------------------------------------------- */

/* Default server PING interval and outstanding-PING limit (nats-server: 2m, 2). */
#ifndef NE_DEFAULT_PING_INTERVAL_MS
#define NE_DEFAULT_PING_INTERVAL_MS (120 * 1000)
#endif
#ifndef NE_DEFAULT_PING_MAX
#define NE_DEFAULT_PING_MAX 2
#endif

/* First PING to a client after its CONNECT (nats-server: at most 2 s). */
#ifndef NE_FIRST_PING_INTERVAL_MS
#define NE_FIRST_PING_INTERVAL_MS 2000
#endif

/* Default auth timeout when authentication is configured (nats-server: 2 s). */
#ifndef NE_DEFAULT_AUTH_TIMEOUT_MS
#define NE_DEFAULT_AUTH_TIMEOUT_MS 2000
#endif

/* Default write deadline (nats-server: 10 s): a connection that accepts no
 * bytes for this long while data is pending is closed as a slow consumer. */
#ifndef NE_DEFAULT_WRITE_DEADLINE_MS
#define NE_DEFAULT_WRITE_DEADLINE_MS (10 * 1000)
#endif

/* Time a message larger than a read buffer may take to arrive, from its
 * control line to its last byte. A publisher that takes longer is closed
 * (`Slow Producer (Message Deadline)` in /connz) and its chunks return to
 * the pool. nats-server has no such limit and waits for a stalled publisher
 * for ever; here that publisher would hold part of a fixed pool. 10 s, as
 * the write deadline that cuts a slow consumer: a 1 MiB message then needs
 * 0.8 Mbit/s. 0: no deadline. Costs no RAM. */
#ifndef NE_PARTIAL_MSG_TIMEOUT_MS
#define NE_PARTIAL_MSG_TIMEOUT_MS (10 * 1000)
#endif

/* When the share of incomplete messages (NE_PARTIAL_INPUT_CHUNKS) is full
 * and another message waits for room, an incomplete message that received no
 * byte for at least this long is cut to make room (`Slow Producer (Stalled
 * Message)`): the stalled sender pays, not the next one. When such a message
 * waits for chunks held by outbound queues, a subscriber whose socket took no
 * byte for this long is closed as a slow consumer, even below max_pending.
 * Costs no RAM. */
#ifndef NE_PARTIAL_MSG_STALL_MS
#define NE_PARTIAL_MSG_STALL_MS 1000
#endif

/* ---- TLS (port/mbedtls) --------------------------------------------------- */

/* TLS sessions open at once: client connections, HTTPS monitoring and leaf
 * remotes together. A TLS client beyond it gets
 * -ERR 'maximum connections exceeded' after INFO, as at max_connections.
 * One unit costs 416 B of static pool (the mbedTLS context) and 32 B of the
 * connection layer's TLS state (ne_conn_tls, 64-bit); its record buffers and
 * keys come from NE_TLS_HEAP_BYTES. */
#ifndef NE_TLS_MAX_SESSIONS
#define NE_TLS_MAX_SESSIONS 128
#endif

/* The static region mbedTLS allocates from (MBEDTLS_MEMORY_BUFFER_ALLOC_C):
 * certificates, keys and CA chains of each configuration, then per session
 * its record buffers (MBEDTLS_SSL_IN_CONTENT_LEN + MBEDTLS_SSL_OUT_CONTENT_LEN
 * and overhead, about 22 KiB measured while established) and, during the
 * handshake only, its key exchange (a further ~10-20 KiB; docs/tls.md has
 * the measured figures). When the region cannot hold a new session, that
 * connection is refused and the others keep working. Reserved address space
 * only: untouched pages stay non-resident. */
#ifndef NE_TLS_HEAP_BYTES
#define NE_TLS_HEAP_BYTES (NE_TLS_MAX_SESSIONS * 24 * 1024 + 192 * 1024)
#endif

/* Longest certificate, key or CA file path in the options. */
#ifndef NE_TLS_PATH_BYTES
#define NE_TLS_PATH_BYTES 256
#endif

/* Default TLS handshake timeout (nats-server's tls timeout: 2 s). */
#ifndef NE_DEFAULT_TLS_TIMEOUT_MS
#define NE_DEFAULT_TLS_TIMEOUT_MS 2000
#endif

/* ---- Logging ------------------------------------------------------------- */

/* Longest formatted log line; longer lines are cut. Stack cost only. */
#ifndef NE_LOG_LINE_BYTES
#define NE_LOG_LINE_BYTES 512
#endif

/* ---- Features ------------------------------------------------------------ */

/* Assertions: on unless a board turns them off to save flash. */
#ifndef NE_ASSERTIONS
#define NE_ASSERTIONS 1
#endif

/* 1: a failed assertion reports its expression's text with its file and
 * line; 0: its file and line only, and the texts of the few hundred
 * assertions (several KiB) stay out of the flash image. */
#ifndef NE_ASSERT_TEXTS
#define NE_ASSERT_TEXTS 1
#endif

/* CRC-32C (the store's records, snappy framing) eight bytes at a time with
 * 8 KiB of constant tables (1: about four times faster on a CPU with
 * caches), or a byte at a time with 1 KiB (0: the tiny profiles, short of
 * flash). */
#ifndef NE_CRC32C_SLICE_BY_8
#define NE_CRC32C_SLICE_BY_8 1
#endif

/* CRC-32C with the CPU's own instruction where the compiler targets x86-64
 * and the CPU running the broker has SSE4.2 (checked at each call, a load
 * and a test): eight bytes an instruction in three lanes at once instead of
 * eight table lookups, about a seventh of the instructions of slicing-by-8
 * over a 16 KiB record. Elsewhere, and with 0, the tables above. Costs 8 KiB
 * of constant tables (joining the lanes) and a few hundred bytes of code,
 * on x86-64 only. */
#ifndef NE_CRC32C_HARDWARE
#define NE_CRC32C_HARDWARE 1
#endif

/* 1: a connection keeps its peer's address in binary (17 B; core/ne_ip
 * reads and writes the text, about 1.5 KiB of code on Cortex-M) and an
 * outbound connection's host name in a slot of NE_CONN_PEER_NAMES. 0: both
 * as text in the I/O part (46 B per connection, a name of at most 45
 * bytes): for boards with a few connections and little flash. */
#ifndef NE_CONN_PEER_BINARY
#define NE_CONN_PEER_BINARY 1
#endif

/* 1: an idle connection of a kind that parks (MQTT) lets go of its header,
 * its I/O part and its kind's state, and waits in a parked record of 152 B
 * (ne_parked, one per such connection, taken with it) until input, a timer
 * or monitoring needs it; what it let go of stays reserved, so it always
 * comes back. Pays where memory is paged in as it is touched (Linux): the
 * pools' untouched pages stay out of the resident set, and 10,000 idle MQTT
 * clients touch 10,000 parked records instead of 10,000 full connections.
 * On a board, whose pools are reserved whole at link time, it saves nothing
 * and costs the records: 0 there (it needs NE_CONN_PEER_BINARY). */
#ifndef NE_CONN_PARKING
#define NE_CONN_PARKING (NE_FEATURE_MQTT && NE_CONN_PEER_BINARY)
#endif

/* Host names kept for outbound connections made to a name rather than an
 * address (a leaf remote's or a route's URL): a connection keeps its peer's
 * address in binary (17 B), and a name, shown in /leafz, /routez and logs,
 * in a slot of this pool while the connection lasts. An outbound
 * connection that finds none free is not made (retried as when the
 * connection pool is full). Default: one per leaf remote and route, at
 * least one. One unit costs 128 B. */
#ifndef NE_CONN_PEER_NAMES
#define NE_CONN_PEER_NAMES                                                                         \
    (NE_MAX_LEAF_REMOTES + NE_MAX_ROUTES > 0 ? NE_MAX_LEAF_REMOTES + NE_MAX_ROUTES : 1)
#endif

/* Version advertised in INFO: 2.9.x level semantics (see differences.md). */
#ifndef NE_ADVERTISED_VERSION
#define NE_ADVERTISED_VERSION "2.9.25"
#endif

/* ---- Derived (not knobs) --------------------------------------------------- */

/* The connection pool: every client connection plus the reserved slots. */
#define NE_CONN_POOL_SIZE (NE_MAX_CONNECTIONS + NE_RESERVED_CONNECTIONS)

#endif /* NE_CONFIG_DEFAULT_H */
