/* tiny-js: the tiny profile (a Cortex-M class board, 8 connections) with
 * JetStream (streams, consumers, KV) kept on a storage partition of the
 * board's flash, MQTT 3.1.1/5.0 on 1883 with its sessions and retained
 * messages kept on a second partition, and TLS toward a leaf hub. It is
 * tiny.h with what differs overridden below: the budgets of a board with
 * 512 KiB of RAM and 512 KiB of flash for the image (`make
 * BOARD=mps2-an385 CONFIG=tiny-js` fails to link when the firmware exceeds
 * them, docs/footprint.md), JetStream's and MQTT's pools, a few more chunks
 * and longer subscription texts (a stream's subjects are subscriptions of
 * JetStream's client). docs/firmware.md says how the storage partitions
 * are laid out and simulated in QEMU, and how the hub's CA is given. */
#include "profiles/tiny.h"

/* ---- Board budgets -------------------------------------------------------- */
#undef NE_BOARD_RAM_BUDGET_BYTES
#define NE_BOARD_RAM_BUDGET_BYTES (512 * 1024)
#undef NE_BOARD_FLASH_BUDGET_BYTES
#define NE_BOARD_FLASH_BUDGET_BYTES (512 * 1024)
#undef NE_BOARD_STACK_BYTES
#define NE_BOARD_STACK_BYTES (16 * 1024)
#undef NE_CORE_RAM_BUDGET_BYTES
#define NE_CORE_RAM_BUDGET_BYTES (352 * 1024)
#undef NE_CORE_FLASH_BUDGET_BYTES
#define NE_CORE_FLASH_BUDGET_BYTES (384 * 1024)
/* The storage partitions (board/mps2-an385/board_store.c): JetStream's
 * device of NE_STORE_MAX_BLOCKS erase blocks of NE_JS_FILE_BLOCK_BYTES
 * (256 KiB), then MQTT's of NE_BOARD_MQTT_STORE_BLOCKS blocks (64 KiB), in
 * a region of the board's flash beside the image (not within its budget). */
#define NE_BOARD_STORE_BYTES (320 * 1024)
#define NE_BOARD_MQTT_STORE_BLOCKS 16

/* TLS toward a leaf hub (board/mps2-an385/board_tls.c): mbedTLS, client
 * only, the hub's CA from the configuration region (docs/firmware.md). Its
 * memory region is tiny's NE_TLS_HEAP_BYTES (64 KiB, two sessions). */
#define NE_BOARD_TLS 1
/* ed25519 (port/sodium, libsodium's reference code): a leaf remote's
 * credentials (a .creds text in files { }) sign the hub's nonce. */
#define NE_BOARD_ED25519 1
/* A user JWT of nats' tools is about 600 bytes without permissions (tiny's
 * 512 does not hold it); 1 KiB leaves room for a few. Costs 512 B of the
 * options and 512 B of the leaf's scratch. */
#undef NE_LEAF_JWT_BYTES
#define NE_LEAF_JWT_BYTES 1024

/* ---- Sizing that differs from tiny ---------------------------------------- */
/* Stream subjects are subscriptions of JetStream's client: NE_JS_TEXT_BYTES
 * + 5 must fit a subscription's text. */
#undef NE_SUB_TEXT_BYTES
#define NE_SUB_TEXT_BYTES 72
#undef NE_MAX_SUBSCRIPTIONS
#define NE_MAX_SUBSCRIPTIONS 128
#undef NE_MAX_TRIE_NODES
#define NE_MAX_TRIE_NODES 128
#undef NE_MAX_FANOUT
#define NE_MAX_FANOUT 128
/* API replies, stored messages on their way out and queued API requests
 * all take chunks. */
#undef NE_CHUNK_COUNT
#define NE_CHUNK_COUNT 48
#undef NE_OUT_REF_COUNT
#define NE_OUT_REF_COUNT 96
/* A stream or consumer configuration document is larger than a CONNECT. */
#undef NE_JSON_MAX_TOKENS
#define NE_JSON_MAX_TOKENS 256

/* ---- Storage (src/store): 4 KiB erase blocks, more logs than tiny -------- */
#undef NE_STORE_MAX_LOGS
#define NE_STORE_MAX_LOGS 16
#undef NE_STORE_META_KEYS
#define NE_STORE_META_KEYS 64

/* ---- JetStream -------------------------------------------------------------- */
#undef NE_FEATURE_JETSTREAM
#define NE_FEATURE_JETSTREAM 1
#define NE_JS_MAX_ACCOUNTS 2
#define NE_JS_MAX_STREAMS 8
#define NE_JS_MAX_CONSUMERS 16
#define NE_JS_NAME_BYTES 64
#define NE_JS_TEXT_BYTES 64
/* Text of at most 30 bytes (most names and subjects) in short slots of
 * 32 B, longer text in the 48 text slots; names are no longer than a text
 * slot holds, so one long name slot (the least) is never used. */
#define NE_JS_SHORT_TEXT_SLOTS 96
#define NE_JS_TEXT_SLOTS 48
#define NE_JS_LONG_NAME_SLOTS 1
#define NE_JS_MAX_STREAM_SUBJECTS 4
#define NE_JS_MAX_BACKOFF 4
/* Memory streams: 32 KiB in 256-byte blocks. */
#define NE_JS_MEM_BLOCKS 128
#define NE_JS_MAX_SUBJECTS 256
#define NE_JS_MAX_PENDING 128
#define NE_JS_MAX_WAITING 16
#define NE_JS_MAX_MSG_IDS 64
#define NE_JS_API_REQUEST_BYTES 4096
#define NE_JS_QUEUE_BYTES (16 * 1024)
/* The file device: 4 KiB erase blocks (an SPI NOR sector), 64 of them. A
 * message on a file stream fits one block and the store's write buffer. */
#define NE_JS_FILE_BLOCK_BYTES 4096
#define NE_JS_FILE_PROGRAM_BYTES 64
#define NE_JS_FILE_STREAMS 8
/* Subject tables: one of 16 entries for each file stream, four of 64 for
 * the streams with more subjects (27 KiB in all). */
#define NE_JS_FILE_SUBJECTS_0 16
#define NE_JS_FILE_SUBJECT_TABLES_0 8
#define NE_JS_FILE_SUBJECTS_1 64
#define NE_JS_FILE_SUBJECT_TABLES_1 4
#define NE_JS_FILE_SUBJECT_TABLES_2 0
#define NE_JS_FILE_SUBJECT_TABLES_3 0
#define NE_JS_FILE_SUBJECT_TABLES_4 0
#define NE_JS_FILE_CONSUMERS 8
#define NE_JS_FILE_PENDING 64
#define NE_JS_MAX_STREAM_SOURCES 1
#define NE_JS_MAX_SOURCE_LINKS 2
#define NE_JS_MAX_FORWARDS 1
#define NE_JS_FORWARD_MAX_WINDOW 64

/* ---- MQTT (as tiny-mqtt), persisted on its own partition ------------------ */
#undef NE_FEATURE_MQTT
#define NE_FEATURE_MQTT 1
#define NE_MQTT_MAX_CONNECTIONS 8
#define NE_MQTT_MAX_SESSIONS 8
#define NE_MQTT_MAX_SUBS_PER_SESSION 4
#define NE_MQTT_MAX_INFLIGHT 8
#define NE_MQTT_MAX_INBOUND_QOS2 4
#define NE_MQTT_MAX_MESSAGES 32
#define NE_MQTT_STORE_BYTES (4 * 1024)
#define NE_MQTT_BLOCK_BYTES 64
#define NE_MQTT_MAX_RETAINED 8
#define NE_MQTT_RETAINED_BYTES 1024
#define NE_MQTT_MAX_TOPIC_BYTES 64
#define NE_MQTT_MAX_PROPS_BYTES 48
#define NE_MQTT_TOPIC_ALIAS_MAX 2
#define NE_MQTT_ALIAS_TOPIC_BYTES 32
#define NE_MQTT_CLIENT_ID_BYTES 32
/* Every id (32 B at most) in its session: the long id pool is unused. */
#define NE_MQTT_INLINE_CLIENT_ID_BYTES 32
#define NE_MQTT_LONG_CLIENT_IDS 1
#define NE_MQTT_PERSIST 1
#define NE_MQTT_PERSIST_KEYS 64
#define NE_MQTT_PERSIST_KEY_TEXT_BYTES 2048
#define NE_MQTT_PERSIST_RECORD_BYTES 2048
