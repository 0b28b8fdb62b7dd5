/* tiny-mqtt: the tiny profile (a Cortex-M class board, 8 connections) with
 * MQTT 3.1.1 and 5.0 on port 1883 beside NATS, no JetStream. It is tiny.h
 * with what differs overridden below: small MQTT pools (8 sessions of 4
 * filters and 8 in-flight messages, 32 kept messages in 4 KiB of 64-byte
 * blocks, 8 retained messages), persistent sessions and retained messages
 * kept through the store (src/store) on a 64 KiB partition of the board's
 * flash, and RAM and flash budgets larger than tiny's by what MQTT and its
 * store take (docs/mqtt.md has the table): `make BOARD=mps2-an385
 * CONFIG=tiny-mqtt` fails when the firmware exceeds them
 * (docs/footprint.md). The whole image stays within an STM32F4-class part:
 * 160 KiB of its 192 KiB of RAM, 230 KiB of flash plus the 64 KiB
 * partition of its 512 KiB. */
#include "profiles/tiny.h"

/* ---- Board budgets -------------------------------------------------------- */
/* The whole image, and the broker without lwIP and TLS (tools/footprint).
 * The broker's flash was 168 KiB since the firmware reads its settings
 * from a configuration region, as tiny (the configuration parser and its
 * application, about 30 KiB, and the 2 KiB region). The store costs
 * 38 KiB of flash (src/store 31 KiB, MQTT's records 6 KiB) and 17.5 KiB
 * of RAM (the device 10.5 KiB, MQTT's key table and record buffer 7 KiB):
 * the budgets grew by that, from 144 and 192 KiB for the whole image and
 * 64 and 168 KiB for the broker. The partition itself is flash beside the
 * image, outside its budget. */
#undef NE_BOARD_RAM_BUDGET_BYTES
#define NE_BOARD_RAM_BUDGET_BYTES (160 * 1024)
#undef NE_BOARD_FLASH_BUDGET_BYTES
#define NE_BOARD_FLASH_BUDGET_BYTES (230 * 1024)
#undef NE_CORE_RAM_BUDGET_BYTES
#define NE_CORE_RAM_BUDGET_BYTES (82 * 1024)
#undef NE_CORE_FLASH_BUDGET_BYTES
#define NE_CORE_FLASH_BUDGET_BYTES (206 * 1024)
/* The store's recovery after heavy traffic takes the stack to 8.5 KiB
 * (measured in QEMU: the lowest word of the stack written), 7.8 KiB at a
 * boot without persistence: 12 KiB instead of tiny's 10 leaves 3.5 KiB. */
#undef NE_BOARD_STACK_BYTES
#define NE_BOARD_STACK_BYTES (12 * 1024)

/* ---- MQTT ----------------------------------------------------------------- */
/* One session per connection, each with a few filters and a short in-flight
 * window; topics, properties and client ids kept short. */
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

/* ---- Persistence through the store, on the board's flash ------------------ */
/* Persistent sessions and retained messages in one KV log of the store
 * (docs/mqtt.md, Persistence), sized as on tiny-js, whose MQTT pools are
 * these: a key for each of the 8 sessions, 32 kept messages and 8
 * retained messages (48 of the 56 usable), their text (1,600 B at most),
 * and records of up to 2 KiB (a larger message stays in RAM only,
 * counted). 7 KiB of RAM. */
#define NE_MQTT_PERSIST 1
#define NE_MQTT_PERSIST_KEYS 64
#define NE_MQTT_PERSIST_KEY_TEXT_BYTES 2048
#define NE_MQTT_PERSIST_RECORD_BYTES 2048
/* The storage region (board/mps2-an385/board_store.c): MQTT's partition
 * alone, NE_BOARD_MQTT_STORE_BLOCKS erase blocks of NE_JS_FILE_BLOCK_BYTES
 * (4 KiB, an SPI NOR sector) programmed in units of
 * NE_JS_FILE_PROGRAM_BYTES: 64 KiB, as MQTT's partition on tiny-js (the
 * board's partitions are cut in JetStream's block size, JetStream or not). */
#define NE_BOARD_STORE_BYTES (64 * 1024)
#define NE_BOARD_MQTT_STORE_BLOCKS 16
#define NE_JS_FILE_BLOCK_BYTES 4096
#define NE_JS_FILE_PROGRAM_BYTES 64
/* The device holds that one log and its catalogue: tiny's store knobs with
 * as many blocks as the partition has (16 of 64), two logs (of 8) and the
 * keys they take (8 of 32), which saves 7 KiB of RAM; the device is
 * 10.5 KiB. */
#undef NE_STORE_MAX_BLOCKS
#define NE_STORE_MAX_BLOCKS 16
#undef NE_STORE_MAX_LOGS
#define NE_STORE_MAX_LOGS 2
#undef NE_STORE_META_KEYS
#define NE_STORE_META_KEYS 8
