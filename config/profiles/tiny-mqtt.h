/* tiny-mqtt: the tiny profile (a Cortex-M class board, 8 connections) with
 * MQTT 3.1.1 and 5.0 on port 1883 beside NATS, no JetStream. It is tiny.h
 * with what differs overridden below: small MQTT pools (8 sessions of 4
 * filters and 8 in-flight messages, 32 kept messages in 4 KiB of 64-byte
 * blocks, 8 retained messages) and RAM and flash budgets larger than tiny's
 * by what MQTT takes (docs/mqtt.md has the table): `make BOARD=mps2-an385
 * CONFIG=tiny-mqtt` fails when the firmware exceeds them
 * (docs/footprint.md). */
#include "profiles/tiny.h"

/* ---- Board budgets -------------------------------------------------------- */
/* The whole image, and the broker without lwIP and TLS (tools/footprint).
 * 168 KiB of flash since the firmware reads its settings from a
 * configuration region, as tiny (the configuration parser and its
 * application, about 30 KiB, and the 2 KiB region). */
#undef NE_BOARD_RAM_BUDGET_BYTES
#define NE_BOARD_RAM_BUDGET_BYTES (144 * 1024)
#undef NE_CORE_RAM_BUDGET_BYTES
#define NE_CORE_RAM_BUDGET_BYTES (64 * 1024)
#undef NE_CORE_FLASH_BUDGET_BYTES
#define NE_CORE_FLASH_BUDGET_BYTES (168 * 1024)

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
/* No storage device on this profile (tiny-js has one): sessions and
 * retained messages in RAM. */
#define NE_MQTT_PERSIST 0
