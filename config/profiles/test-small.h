/* test-small: the default profile with small pools, so that the interop tests
 * can drive every pool to exhaustion with a handful of clients. */
#define NE_MAX_CONNECTIONS 8
/* Read buffers for 4 of the 8 connections with input in flight at once, so
 * that tests/hostile/pools.test.mjs holds them all with stalled input. */
#define NE_CONN_READ_BUFFERS 4
/* States of incomplete messages for 2 of the 8 connections at once, so that
 * tests/hostile/mqtt.test.mjs takes them all with stalled PUBLISHes. */
#define NE_PARTIAL_INPUTS 2
/* MQTT session tables for 4 of the 8 sessions (tests/hostile/mqtt.test.mjs
 * takes them all). */
#define NE_MQTT_SUB_TABLES 4
#define NE_MQTT_OUT_TABLES 4
#define NE_MQTT_ALIAS_TABLES 4
#define NE_MQTT_LONG_CLIENT_IDS 4
#define NE_MQTT_INBOUND_TABLES 4
#define NE_MAX_SUBSCRIPTIONS 32
#define NE_MAX_TRIE_NODES 64
#define NE_CHUNK_BYTES 4096
#define NE_CHUNK_COUNT 96
#define NE_OUT_REF_COUNT 512
#define NE_MAX_PAYLOAD_BYTES (64 * 1024)
#define NE_MAX_PENDING_BYTES (128 * 1024)
/* Stalled publishers are cut sooner, so that tests need not wait long. */
#define NE_PARTIAL_MSG_TIMEOUT_MS 3000
#define NE_PARTIAL_MSG_STALL_MS 500
/* TLS: a pool of 6 sessions in a region that holds only 3 established ones
 * (about 22 KiB each, docs/tls.md), so that tls.test.mjs exhausts the
 * region before the pool. */
#define NE_TLS_MAX_SESSIONS 6
#define NE_TLS_HEAP_BYTES (80 * 1024)
#define NE_MAX_LEAF_CONNECTIONS 2
#define NE_LEAF_INTEREST_ENTRIES 16
#define NE_MAX_SERVICE_REPLIES 2
#define NE_MAX_RESPONSE_PERMS 2
/* Lines to clients no longer than a control line and 64 bytes: a long
 * subject delivered on a long sid does not fit, so the interop tests see a
 * delivery skipped for one subscriber while the others get it
 * (tests/hostile/boundary.test.mjs). */
#define NE_MAX_OUT_LINE_BYTES (NE_MAX_CONTROL_LINE_BYTES + 64)
/* Two routes at once, so that a third node finds the route pool full
 * (tests/hostile/route_peers.test.mjs); a route's peer may hold the
 * connection share of the subscription pool (16): a nats-server peer's
 * system-account interest alone is more (about 25 subjects that fit). */
#define NE_MAX_ROUTES 2
/* JetStream pools small enough that tests/interop/jetstream_limits.test.mjs
 * drives each one to exhaustion with a handful of requests. */
#define NE_JS_MAX_STREAMS 3
#define NE_JS_MAX_CONSUMERS 3
#define NE_JS_MEM_BLOCKS 512
#define NE_JS_MAX_SUBJECTS 8
#define NE_JS_MAX_PENDING 4
#define NE_JS_MAX_WAITING 2
#define NE_JS_MAX_MSG_IDS 4
#define NE_JS_SHORT_TEXT_SLOTS 6
#define NE_JS_TEXT_SLOTS 10
#define NE_JS_LONG_NAME_SLOTS 1
#define NE_JS_SOURCED_STREAMS 2
