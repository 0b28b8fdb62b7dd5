/* gateway: an ARM Linux or x86 edge gateway with tens of MiB to spare. */
#define NE_MAX_CONNECTIONS 1024
#define NE_CONN_READ_BUFFER_BYTES 32768
#define NE_SHARED_READ_BUFFER_BYTES 131072
#define NE_MAX_PAYLOAD_BYTES (1024 * 1024)
#define NE_MAX_PENDING_BYTES (8 * 1024 * 1024)
#define NE_CLOSED_CONN_RING 64
#define NE_MAX_SUBSCRIPTIONS 16384
#define NE_MAX_TRIE_NODES 32768
#define NE_CHUNK_BYTES 16384
#define NE_CHUNK_COUNT 2048
#define NE_OUT_REF_COUNT 32768
/* Storage (src/store, config/ne_config_store.h): one file (or partition) of
 * up to 2048 erase blocks, e.g. 2 GiB of 1 MiB blocks; up to 1024 logs
 * (streams, consumers, KV and RAFT logs); messages up to NE_MAX_PAYLOAD_BYTES
 * (the write buffer holds one, and the erase blocks must too: 2 MiB blocks
 * for 1 MiB messages). About 3.8 MiB of RAM for the device
 * (docs/storage.md, Sizing), plus each log's front end. */
#define NE_STORE_MAX_BLOCKS 2048
#define NE_STORE_MAX_LOGS 1024
#define NE_STORE_META_KEYS 4096
#define NE_STORE_MAX_CONFIG_BYTES 8192
#define NE_STORE_MAX_DAMAGE_REPORTS 64
#define NE_STORE_BLOCK_MAX_RECORDS 8192
#define NE_STORE_WRITE_BUFFER_BYTES (1024 * 1024 + 4096)
#define NE_STORE_PROGRAM_CHUNK_BYTES (64 * 1024)
#define NE_STORE_READ_BUFFER_BYTES (64 * 1024)
#define NE_STORE_PACK_RAW_BYTES (64 * 1024)
#define NE_STORE_MAX_SUBJECT_BYTES 1024
