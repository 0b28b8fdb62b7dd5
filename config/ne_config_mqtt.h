/* Compile-time bounds of MQTT (src/mqtt): 3.1.1 and 5.0 clients, their
 * sessions, the messages held for them and the retained messages.
 *
 * Included by ne_config.h after the defaults, so a profile may set any of
 * these and they may refer to the general knobs. NE_FEATURE_MQTT 0 leaves
 * MQTT out: no listener, no pools, no code reached (the linker drops it).
 *
 * RAM, for the defaults below (docs/mqtt.md has the table per profile):
 *   per connection  sizeof(ne_mqtt_client): about 100 B; a connected 5.0
 *                   client that used a topic alias also holds an alias
 *                   table (NE_MQTT_ALIAS_TABLES) of 2 *
 *                   NE_MQTT_TOPIC_ALIAS_MAX * (NE_MQTT_ALIAS_TOPIC_BYTES
 *                   + 2) B;
 *   per session     sizeof(ne_mqtt_session): about 160 B with the client id
 *                   when it fits NE_MQTT_INLINE_CLIENT_ID_BYTES, plus one
 *                   connection header (the session's internal client, which
 *                   holds its subscriptions while it is offline); while
 *                   used, a longer client id (NE_MQTT_CLIENT_ID_BYTES + 1,
 *                   NE_MQTT_LONG_CLIENT_IDS), a filter table (24 B per
 *                   subscription slot, NE_MQTT_SUB_TABLES), an outbound ring
 *                   (32 B per in-flight slot, NE_MQTT_OUT_TABLES) and an
 *                   inbound QoS 2 table (2 B per slot, NE_MQTT_INBOUND_TABLES);
 *   the store       NE_MQTT_MAX_MESSAGES * 40 B + NE_MQTT_STORE_BYTES.
 * ne_server_log_memory prints the figures of a build at start-up. */
#ifndef NE_CONFIG_MQTT_H
#define NE_CONFIG_MQTT_H

/* MQTT at all. */
#ifndef NE_FEATURE_MQTT
#define NE_FEATURE_MQTT 1
#endif

/* MQTT connections at once (the kind's state pool). Each also takes a slot
 * of the connection pool, which NATS clients share, and counts against
 * max_connections as in nats-server. A connection beyond either is closed
 * at once (no CONNACK: the pool is full before CONNECT is read). */
#ifndef NE_MQTT_MAX_CONNECTIONS
#define NE_MQTT_MAX_CONNECTIONS NE_MAX_CONNECTIONS
#endif

/* Sessions, connected and offline (clean session 0 in 3.1.1, a Session
 * Expiry Interval in 5.0). A client that finds every one taken ends the
 * session that has been offline longest (counted in /varz, logged with
 * this knob's name); with none offline it is refused (3.1.1 CONNACK 0x03,
 * 5.0 0x97 Quota exceeded). Each session takes a connection header too. */
#ifndef NE_MQTT_MAX_SESSIONS
#define NE_MQTT_MAX_SESSIONS NE_MQTT_MAX_CONNECTIONS
#endif

/* Topic filters one session may hold. One beyond it gets SUBACK 0x80
 * (3.1.1) or 0x97 Quota exceeded (5.0). A filter ending in "/#" takes two
 * subscriptions of the router (the filter and its parent level, as in
 * nats-server). Costs 24 B per slot per filter table (NE_MQTT_SUB_TABLES). */
#ifndef NE_MQTT_MAX_SUBS_PER_SESSION
#define NE_MQTT_MAX_SUBS_PER_SESSION 32
#endif

/* QoS 1 and 2 messages one session holds on their way to its client:
 * sent and not yet acknowledged, and queued behind them (while the client
 * is offline, or its Receive Maximum is used up). A message beyond it is
 * not queued for that session (counted: mqtt.dropped_inflight). Costs
 * 32 B per slot per outbound ring (NE_MQTT_OUT_TABLES). At most 65535. */
#ifndef NE_MQTT_MAX_INFLIGHT
#define NE_MQTT_MAX_INFLIGHT 64
#endif

/* QoS 2 messages one client may have sent and not yet released (PUBREL):
 * the packet ids a session remembers so that a resent PUBLISH is not
 * delivered twice. 5.0 clients are told it as the Receive Maximum; a
 * client that sends more is disconnected (5.0: 0x93 Receive Maximum
 * exceeded; 3.1.1: closed). Costs 2 B per slot per inbound table
 * (NE_MQTT_INBOUND_TABLES). */
#ifndef NE_MQTT_MAX_INBOUND_QOS2
#define NE_MQTT_MAX_INBOUND_QOS2 32
#endif

/* Session tables, taken from pools shared by all sessions while they are
 * used, so that a session pays only for what it holds:
 *   NE_MQTT_SUB_TABLES    filter tables (NE_MQTT_MAX_SUBS_PER_SESSION slots,
 *                         24 B each), one per session holding a filter;
 *   NE_MQTT_OUT_TABLES    outbound rings (NE_MQTT_MAX_INFLIGHT slots, 32 B
 *                         each), one per session with a QoS 1/2 message
 *                         queued or in flight for it;
 *   NE_MQTT_ALIAS_TABLES  topic alias tables (both ways, 2 *
 *                         NE_MQTT_TOPIC_ALIAS_MAX * (NE_MQTT_ALIAS_TOPIC_BYTES
 *                         + 2) B), one claimed by each connected MQTT 5
 *                         client told a Topic Alias Maximum, taken with its
 *                         first alias either way.
 * One session or connection holds at most one of each, so the defaults
 * (one per session, one per connection) never run out and cost RAM only
 * for the tables in use. Fewer trade RAM for refusals, each as the
 * protocol allows and the rest served: a SUBSCRIBE that finds no filter
 * table gets SUBACK 0x80 (3.1.1) or 0x97 Quota exceeded (5.0); a message
 * that finds no outbound ring is not queued for that session (counted in
 * mqtt.dropped_inflight); a 5.0 client that finds every alias table
 * claimed is told Topic Alias Maximum 0 and is sent no aliases. Each refusal is logged
 * with the knob's name. */
#ifndef NE_MQTT_SUB_TABLES
#define NE_MQTT_SUB_TABLES NE_MQTT_MAX_SESSIONS
#endif
#ifndef NE_MQTT_OUT_TABLES
#define NE_MQTT_OUT_TABLES NE_MQTT_MAX_SESSIONS
#endif
#ifndef NE_MQTT_ALIAS_TABLES
#define NE_MQTT_ALIAS_TABLES NE_MQTT_MAX_CONNECTIONS
#endif

/* Inbound QoS 2 tables (NE_MQTT_MAX_INBOUND_QOS2 packet ids, 2 B each),
 * shared by all sessions as the tables above: a session takes one with
 * the first QoS 2 PUBLISH its client sends and gives it back once every id
 * in it is released (PUBREL). A QoS 2 PUBLISH that finds none is not
 * taken: 5.0 PUBREC 0x97 Quota exceeded, 3.1.1 closed (it has no refusal);
 * counted (mqtt.qos2_refused) and logged with this knob's name. The
 * default, one per session, never runs out. */
#ifndef NE_MQTT_INBOUND_TABLES
#define NE_MQTT_INBOUND_TABLES NE_MQTT_MAX_SESSIONS
#endif

/* Messages kept by the store: QoS 1 and 2 messages held for sessions
 * (one copy however many sessions hold it), retained messages and wills.
 * Costs about 40 B each. */
#ifndef NE_MQTT_MAX_MESSAGES
#define NE_MQTT_MAX_MESSAGES 1024
#endif

/* Bytes of the store: every kept message's topic, properties and payload,
 * in blocks of NE_MQTT_BLOCK_BYTES. A message that finds no room is not
 * kept (a retained one: counted, the old one stays; one for a session:
 * not queued for it, counted). Costs this many bytes plus a pointer per
 * block. */
#ifndef NE_MQTT_STORE_BYTES
#define NE_MQTT_STORE_BYTES (1024 * 1024)
#endif
#ifndef NE_MQTT_BLOCK_BYTES
#define NE_MQTT_BLOCK_BYTES 256
#endif

/* Retained messages, and the bytes of the store they may take together
 * (the rest is kept for in-flight messages). A retained message beyond
 * either is not kept (counted: mqtt.retained_refused, logged with the
 * knob's name); it is still delivered. Costs 8 B per slot. */
#ifndef NE_MQTT_MAX_RETAINED
#define NE_MQTT_MAX_RETAINED 256
#endif
#ifndef NE_MQTT_RETAINED_BYTES
#define NE_MQTT_RETAINED_BYTES (NE_MQTT_STORE_BYTES / 4)
#endif

/* Longest topic name or filter accepted. A PUBLISH to a longer topic is
 * refused (3.1.1: closed; 5.0: PUBACK/PUBREC 0x90, or dropped at QoS 0),
 * a longer filter gets SUBACK 0x80 / 0x8F. Costs stack while delivering. */
#ifndef NE_MQTT_MAX_TOPIC_BYTES
#define NE_MQTT_MAX_TOPIC_BYTES 256
#endif

/* Longest property block of a PUBLISH or a will (5.0): what is forwarded
 * with the message. A longer one is refused as a longer topic is. Costs
 * stack while delivering. */
#ifndef NE_MQTT_MAX_PROPS_BYTES
#define NE_MQTT_MAX_PROPS_BYTES 512
#endif

/* Topic aliases (5.0) each way per connection: the Topic Alias Maximum
 * told to clients, and the most the server assigns itself. 0 turns them
 * off. An alias binds a topic of at most NE_MQTT_ALIAS_TOPIC_BYTES; a
 * client binding a longer one is disconnected (0x83), and the server does
 * not alias longer topics. Costs 2 * this * (NE_MQTT_ALIAS_TOPIC_BYTES +
 * 2) B per alias table (NE_MQTT_ALIAS_TABLES). */
#ifndef NE_MQTT_TOPIC_ALIAS_MAX
#define NE_MQTT_TOPIC_ALIAS_MAX 8
#endif
#ifndef NE_MQTT_ALIAS_TOPIC_BYTES
#define NE_MQTT_ALIAS_TOPIC_BYTES 64
#endif

/* Longest client identifier kept. A longer one is refused (3.1.1 CONNACK
 * 0x02, 5.0 0x85); 23 bytes must be accepted (M3-23). */
#ifndef NE_MQTT_CLIENT_ID_BYTES
#define NE_MQTT_CLIENT_ID_BYTES 128
#endif

/* A client id of at most NE_MQTT_INLINE_CLIENT_ID_BYTES (23..
 * NE_MQTT_CLIENT_ID_BYTES) is kept in its session (this many bytes + 1 per
 * session); a longer one in one of NE_MQTT_LONG_CLIENT_IDS slots
 * (NE_MQTT_CLIENT_ID_BYTES + 1 B each) shared by all sessions, for the
 * session's life. A session whose id finds no slot is refused (3.1.1
 * CONNACK 0x03, 5.0 0x97 Quota exceeded; counted in
 * mqtt.sessions_refused, logged with this knob's name); 23 bytes and less
 * never are (M3-23). The default, one per session, never runs out. */
#ifndef NE_MQTT_INLINE_CLIENT_ID_BYTES
#define NE_MQTT_INLINE_CLIENT_ID_BYTES 23
#endif
#ifndef NE_MQTT_LONG_CLIENT_IDS
#define NE_MQTT_LONG_CLIENT_IDS NE_MQTT_MAX_SESSIONS
#endif

/* The MQTT listener's port when mqtt { } names none (nats-server's). */
#ifndef NE_MQTT_DEFAULT_PORT
#define NE_MQTT_DEFAULT_PORT 1883
#endif

/* Persistence (docs/mqtt.md, "Persistence"): with NE_MQTT_PERSIST 1 and a
 * storage device (the Linux board's file under the configuration's
 * store_dir), persistent sessions (their filters, the QoS 1/2 messages
 * queued or in flight for them with their packet ids, the QoS 2 ids
 * received and not released) and retained messages are kept in one KV log
 * of the store (src/store) and come back at the next start. 0 keeps
 * everything in RAM only and costs nothing. */
#ifndef NE_MQTT_PERSIST
#define NE_MQTT_PERSIST NE_FEATURE_MQTT
#endif
/* Keys of the log: one per persistent session, per kept message and per
 * retained message. A power of two, 7/8 of it usable; a record beyond it
 * is not written (counted in natsedge_mqtt.persist_refused, logged with
 * this knob's name) and its state stays in RAM only. Costs 40 B each. */
#ifndef NE_MQTT_PERSIST_KEYS
#define NE_MQTT_PERSIST_KEYS 2048
#endif
/* The keys' bytes: a session's is its client id + 9, a message's 17, a
 * retained message's its topic + 9, each rounded up to 4. */
#ifndef NE_MQTT_PERSIST_KEY_TEXT_BYTES
#define NE_MQTT_PERSIST_KEY_TEXT_BYTES (128 * 1024)
#endif
/* The largest record written or read: a session (its filters, in-flight
 * entries and QoS 2 ids) or a message (topic, properties and payload, plus
 * 16 B). A larger one is not written (counted, in RAM only). One buffer. */
#ifndef NE_MQTT_PERSIST_RECORD_BYTES
#define NE_MQTT_PERSIST_RECORD_BYTES (30 * 1024)
#endif

/* Internal clients the sessions take: one each, and one for a session
 * ended for room in the turn a new one starts (its internal client is torn
 * down at the end of that turn). */
#if NE_FEATURE_MQTT
#define NE_MQTT_SESSION_CLIENTS (NE_MQTT_MAX_SESSIONS + 1)
#else
#define NE_MQTT_SESSION_CLIENTS 0
#endif

#endif /* NE_CONFIG_MQTT_H */
