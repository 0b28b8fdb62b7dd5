/* tiny: a Cortex-M class board. 8 connections, 64 subscriptions, small chunks.
 * Sized so that the broker (leaf node included, lwIP and TLS excluded) stays
 * within NE_CORE_RAM_BUDGET_BYTES on the mps2-an385 firmware: `make
 * BOARD=mps2-an385` fails when it does not (docs/footprint.md). */
#define NE_MAX_CONNECTIONS 8
/* No reserved slots (each costs a connection, about 1 KiB, over the RAM
 * budget): the one leaf remote and monitoring share the 8 slots with the
 * clients, so 8 clients lock them out. */
#define NE_RESERVED_CONNECTIONS 0
#define NE_CONN_READ_BUFFER_BYTES 576
/* Peer addresses as text (46 B for each of the 8 connections) rather than
 * binary: the address parser and writer would cost more flash (about
 * 1.5 KiB) than the 232 B of RAM they save here. */
#define NE_CONN_PEER_BINARY 0
/* Assertions stay on; a failed one reports its file and line without its
 * expression's text (4.4 KiB of flash for the few hundred of them). */
#define NE_ASSERT_TEXTS 0
#define NE_MAX_CONTROL_LINE_BYTES 512
#define NE_MAX_PAYLOAD_BYTES (4 * 1024)
#define NE_MAX_PENDING_BYTES (8 * 1024)
#define NE_CLOSED_CONN_RING 1
#define NE_MAX_SUBSCRIPTIONS 64
#define NE_SUB_TEXT_BYTES 40
#define NE_MAX_TRIE_NODES 56
#define NE_TOKEN_BYTES 32
#define NE_MAX_SUBJECT_TOKENS 16
#define NE_MAX_FANOUT 64
#define NE_MAX_MATCH_QUEUE_GROUPS 8
#define NE_CHUNK_BYTES 512
#define NE_CHUNK_COUNT 12
#define NE_OUT_REF_COUNT 40
#define NE_SHARE_PAYLOAD_MIN_BYTES 256
#define NE_WRITE_IOV_MAX 8
#define NE_LOG_LINE_BYTES 160
/* TLS: two sessions (about 22 KiB each once established, 28 KiB during a
 * handshake) and the certificates. */
#define NE_TLS_MAX_SESSIONS 2
#define NE_TLS_HEAP_BYTES (64 * 1024)
#define NE_TLS_PATH_BYTES 96
/* JSON documents (CONNECT, a hub's INFO): tokens per document. */
#define NE_JSON_MAX_TOKENS 96
#define NE_MAX_USERS 2
#define NE_MAX_ACCOUNTS 4
#define NE_MAX_PERMISSION_SETS 4
#define NE_MAX_PERM_SUBJECTS 8
#define NE_PERM_SUBJECT_BYTES 64
#define NE_MAX_EXPORTS 4
/* Other servers the system events count: without routes only a leaf's hub
 * cluster can be heard (72 B each). */
#define NE_SYS_MAX_SERVERS 2
#define NE_MAX_IMPORTS 4
#define NE_MAX_SERVICE_REPLIES 4
#define NE_MAX_RESPONSE_PERMS 4
/* Leaf: one remote to the cloud, no accepted leafs to speak of. */
#define NE_MAX_LEAF_REMOTES 1
#define NE_MAX_LEAF_CONNECTIONS 1
#define NE_LEAF_MAX_URLS 2
#define NE_LEAF_URL_BYTES 128
#define NE_LEAF_JWT_BYTES 512
#define NE_LEAF_MAX_DENY 2
#define NE_LEAF_INTEREST_ENTRIES 16
/* No cluster routes: a Cortex-M board is one node. */
#define NE_FEATURE_ROUTES 0
/* Board budgets (board/mps2-an385, enforced when the firmware links): the
 * whole image, and the broker without lwIP and TLS (tools/footprint). */
#define NE_BOARD_RAM_BUDGET_BYTES (128 * 1024)
#define NE_BOARD_FLASH_BUDGET_BYTES (192 * 1024)
#define NE_BOARD_STACK_BYTES (10 * 1024)
#define NE_CORE_RAM_BUDGET_BYTES (48 * 1024)
/* 136 KiB since the firmware reads its settings from a configuration region
 * in flash (board/mps2-an385/conf_region.h): the configuration parser and
 * its application (src/conf, src/server/ne_server_conf.c, the leafnodes
 * block: about 30 KiB) and the 2 KiB region are linked in. */
#define NE_CORE_FLASH_BUDGET_BYTES (136 * 1024)
#define NE_SHARED_READ_BUFFER_BYTES 0
/* No MQTT here (it has a profile of its own, tiny-mqtt). */
#define NE_FEATURE_MQTT 0
/* The firmware's configuration region (board/mps2-an385/conf_region.h): a
 * nats-server configuration file of at most this many bytes in flash, parsed
 * at boot in the server's own storage before the server starts (the parse
 * must fit in sizeof(ne_server): a static assertion checks it). */
#define NE_BOARD_CONF_REGION_BYTES 2048
#define NE_CONF_MAX_FILE_BYTES NE_BOARD_CONF_REGION_BYTES
#define NE_CONF_ARENA_BYTES (2 * NE_BOARD_CONF_REGION_BYTES)
#define NE_CONF_MAX_NODES 160
#define NE_CONF_MAX_DEPTH 8
#define NE_CONF_MAX_INCLUDE_DEPTH 2
#define NE_CONF_MAX_ENV_DEPTH 1
#define NE_CONF_MAX_FILES 4
#define NE_CONF_ERROR_BYTES 160
#define NE_CONF_MAX_REJECTED 8
/* Storage (src/store, config/ne_config_store.h): one partition of SPI NOR
 * with 4 KiB erase blocks, up to 256 KiB; at most 8 logs (streams, their
 * consumers, a KV log for MQTT sessions and retained messages), messages up
 * to 3.5 KiB (a record fits one erase block and the write buffer). No
 * compression (no pack buffers, no snappy table). About 17.5 KiB of RAM for
 * the device (docs/storage.md, Sizing), plus each log's front end. */
#define NE_STORE_MAX_BLOCKS 64
#define NE_STORE_MAX_LOGS 8
#define NE_STORE_META_KEYS 32
#define NE_STORE_MAX_CONFIG_BYTES 512
#define NE_STORE_MAX_DAMAGE_REPORTS 4
#define NE_STORE_BLOCK_MAX_RECORDS 128
#define NE_STORE_WRITE_BUFFER_BYTES 4096
#define NE_STORE_PROGRAM_CHUNK_BYTES 256
#define NE_STORE_READ_BUFFER_BYTES 512
#define NE_STORE_READ_WINDOWS 1 /* flash reads are cheap here: RAM first */
#define NE_STORE_PACK_RAW_BYTES 0
#define NE_STORE_MAX_SUBJECT_BYTES 128
/* No JetStream on the plain tiny profile (tiny-js has it). */
#define NE_FEATURE_JETSTREAM 0
/* JetStream is not built here: its options keep only short texts (a
 * store_dir or domain longer than 15 bytes is refused as too long), so the
 * options copy in ne_server stays within the RAM budget. */
#define NE_JS_STORE_DIR_BYTES 16
#define NE_JS_DOMAIN_BYTES 16
/* CRC-32C a byte at a time: 1 KiB of tables instead of 8 KiB of flash. */
#define NE_CRC32C_SLICE_BY_8 0
