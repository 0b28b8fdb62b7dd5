/* tiny: a Cortex-M class board. 8 connections, 64 subscriptions, small chunks. */
#define NE_MAX_CONNECTIONS 8
#define NE_CONN_READ_BUFFER_BYTES 1536
#define NE_MAX_CONTROL_LINE_BYTES 512
#define NE_MAX_PAYLOAD_BYTES (8 * 1024)
#define NE_MAX_PENDING_BYTES (16 * 1024)
#define NE_CLOSED_CONN_RING 4
#define NE_MAX_SUBSCRIPTIONS 64
#define NE_SUB_TEXT_BYTES 96
#define NE_MAX_TRIE_NODES 128
#define NE_TOKEN_BYTES 32
#define NE_MAX_SUBJECT_TOKENS 16
#define NE_MAX_FANOUT 64
#define NE_MAX_MATCH_QUEUE_GROUPS 8
#define NE_CHUNK_BYTES 512
#define NE_CHUNK_COUNT 48
#define NE_OUT_REF_COUNT 128
#define NE_SHARE_PAYLOAD_MIN_BYTES 256
#define NE_WRITE_IOV_MAX 8
#define NE_LOG_LINE_BYTES 160
/* TLS: two sessions (about 22 KiB each once established, 28 KiB during a
 * handshake) and the certificates. */
#define NE_TLS_MAX_SESSIONS 2
#define NE_TLS_HEAP_BYTES (64 * 1024)
