/* Compile-time bounds of JetStream (src/js), when NE_FEATURE_JETSTREAM is on.
 *
 * Every stream, consumer, stored message, subject, pending acknowledgement,
 * waiting pull request and remembered message id comes from a pool sized
 * here. When one runs out, the request that needed it gets nats-server's
 * error for a lack of resources (or the limit it names) and everything else
 * keeps working; docs/jetstream.md states the RAM of each unit. The run-time
 * configuration (jetstream { max_memory_store, ... }, an account's
 * jetstream { max_streams, ... }) may lower these and never raise them: a
 * larger value is a configuration error naming the knob. A profile may
 * override any knob (it is included before this file through ne_config.h).
 */
#ifndef NE_CONFIG_JS_H
#define NE_CONFIG_JS_H

#include "ne_config.h"

/* NE_FEATURE_JETSTREAM and NE_JS_MAX_ACCOUNTS are in ne_config_default.h:
 * the number of internal clients depends on them. */

/* Streams of all accounts together. One unit costs sizeof(ne_js_stream)
 * (280 B on x86-64 with the default knobs) plus the text slots of its
 * name, its subjects and its last message id (below). The next STREAM.CREATE gets 10027 "maximum
 * number of streams reached". */
#ifndef NE_JS_MAX_STREAMS
#define NE_JS_MAX_STREAMS 256
#endif

/* Consumers of all streams together. One unit costs sizeof(ne_js_consumer)
 * (about 550 B with the default name length). The next CONSUMER.CREATE gets
 * 10026 "maximum consumers limit reached". */
#ifndef NE_JS_MAX_CONSUMERS
#define NE_JS_MAX_CONSUMERS 1024
#endif

/* Longest stream or consumer name plus its terminator. nats-server allows
 * 255 characters, as does the default here; a longer name gets nats-server's
 * "is too long" error with this bound. Costs this many bytes per consumer;
 * a stream keeps its name in a text slot (below): a short slot when it has
 * at most NE_JS_SHORT_TEXT_BYTES - 2 characters, a text slot up to
 * NE_JS_TEXT_BYTES - 1, a long name slot beyond. */
#ifndef NE_JS_NAME_BYTES
#define NE_JS_NAME_BYTES 256
#endif

/* Long name slots: a stream name longer than NE_JS_TEXT_BYTES - 1 (up to
 * NE_JS_NAME_BYTES - 1) takes one, shared by all streams. When they are all
 * taken such a STREAM.CREATE gets 10023 "insufficient resources" (logged
 * with this knob) and shorter names go on. One unit costs NE_JS_NAME_BYTES
 * + 2 B, rounded up to 8; at least 1. */
#ifndef NE_JS_LONG_NAME_SLOTS
#define NE_JS_LONG_NAME_SLOTS 16
#endif

/* Text slots: one holds a stream subject, a description, a filter or
 * deliver subject, a deliver group or a republish subject, of at most
 * NE_JS_TEXT_BYTES - 1 bytes. A longer one is refused as an invalid
 * configuration naming this knob. A stream subject is also a subscription
 * of JetStream's client: NE_JS_TEXT_BYTES + 5 must fit in
 * NE_SUB_TEXT_BYTES. One unit costs NE_JS_TEXT_BYTES + 2 B. */
#ifndef NE_JS_TEXT_BYTES
#define NE_JS_TEXT_BYTES 120
#endif
#ifndef NE_JS_TEXT_SLOTS
#define NE_JS_TEXT_SLOTS 2048
#endif

/* Short text slots: a text (or stream name) of at most
 * NE_JS_SHORT_TEXT_BYTES - 2 bytes takes one of these instead of a text
 * slot, and a text slot when they are all taken (a longer text never takes
 * one). Most subjects, names, filters and deliver subjects are short: a
 * stream with a name and one subject holds two short slots (64 B) where two
 * text slots would take 256 B. One unit costs NE_JS_SHORT_TEXT_BYTES (a
 * multiple of 8, 8 to 256, at most NE_JS_TEXT_BYTES). When neither kind is
 * left, the request that needed one gets 10023 "insufficient resources",
 * logged with both knobs. NE_JS_SHORT_TEXT_SLOTS + NE_JS_TEXT_SLOTS +
 * NE_JS_LONG_NAME_SLOTS must be below 65535. */
#ifndef NE_JS_SHORT_TEXT_BYTES
#define NE_JS_SHORT_TEXT_BYTES 32
#endif
#ifndef NE_JS_SHORT_TEXT_SLOTS
#define NE_JS_SHORT_TEXT_SLOTS 4096
#endif

/* Subjects one stream may list. Costs 2 B per stream each. */
#ifndef NE_JS_MAX_STREAM_SUBJECTS
#define NE_JS_MAX_STREAM_SUBJECTS 16
#endif

/* Entries of a consumer's backoff list. Costs 8 B per consumer each. */
#ifndef NE_JS_MAX_BACKOFF
#define NE_JS_MAX_BACKOFF 8
#endif

/* The memory store: messages of `storage: memory` streams in blocks of
 * NE_JS_MEM_BLOCK_BYTES, a message taking ceil((64 + subject + headers +
 * payload) / (block - 8)) of them. The region is NE_JS_MEM_BLOCKS *
 * NE_JS_MEM_BLOCK_BYTES (reserved address space: untouched pages stay out of
 * the resident set) plus 4 B of sequence index per block. max_memory_store
 * may be at most the region. When it is full a publish gets 10023
 * "insufficient resources" (discard new) or the stream's oldest messages go
 * (discard old, within the stream's own messages only). */
#ifndef NE_JS_MEM_BLOCK_BYTES
#define NE_JS_MEM_BLOCK_BYTES 256
#endif
#ifndef NE_JS_MEM_BLOCKS
#define NE_JS_MEM_BLOCKS 65536
#endif

/* Distinct subjects with messages, all streams together (the per-subject
 * index behind max_msgs_per_subject, last-by-subject, KV keys). One unit
 * costs 48 B plus 4 B of hash bucket. A message on a new subject when it is
 * full gets 10023 "insufficient resources". */
#ifndef NE_JS_MAX_SUBJECTS
#define NE_JS_MAX_SUBJECTS 16384
#endif

/* Messages delivered and not yet acknowledged, all consumers together. One
 * unit costs 48 B. A consumer that finds it exhausted stops delivering, as
 * at its max_ack_pending, until acks return entries. A consumer's
 * max_ack_pending may not exceed it (10121, "exceeds system limit of"). */
#ifndef NE_JS_MAX_PENDING
#define NE_JS_MAX_PENDING 16384
#endif

/* Pull requests waiting for messages, all consumers together. One unit
 * costs NE_JS_REPLY_BYTES + 64 B. A request beyond it gets
 * 409 Exceeded MaxWaiting, as beyond a consumer's max_waiting. */
#ifndef NE_JS_MAX_WAITING
#define NE_JS_MAX_WAITING 512
#endif

/* Longest reply subject of a pull request kept while it waits; a longer
 * one gets 400 Bad Request. */
#ifndef NE_JS_REPLY_BYTES
#define NE_JS_REPLY_BYTES 128
#endif

/* Message ids remembered for duplicate detection (Nats-Msg-Id within a
 * stream's duplicate_window), all streams together. One unit costs
 * NE_JS_MSG_ID_BYTES + 40 B. A publish with an id when it is full (after
 * forgetting ids past their window) gets 10023 "insufficient resources";
 * an id longer than NE_JS_MSG_ID_BYTES - 1 gets 400 10003 "bad request". */
#ifndef NE_JS_MAX_MSG_IDS
#define NE_JS_MAX_MSG_IDS 4096
#endif
#ifndef NE_JS_MSG_ID_BYTES
#define NE_JS_MSG_ID_BYTES 64
#endif

/* Largest API request body handled (JSON of a stream or consumer
 * configuration, a pull request, a direct get, an ack); a larger API request
 * gets 400 10003 "bad request", a pull request 400, a direct get 408, and
 * of an ack only its verb is read. Costs this many bytes once (plus as much
 * again for the request's subject and reply). */
#ifndef NE_JS_API_REQUEST_BYTES
#define NE_JS_API_REQUEST_BYTES 8192
#endif

/* Bytes of API requests and acknowledgements waiting for the JetStream
 * service of one account (handled at the end of each loop turn). Above
 * NE_JS_QUEUE_HIGH_WATER_BYTES the service is congested: a connection that
 * adds to it has its next operation parsed no further until the queue has
 * drained below the mark (its unparsed input waits in its read buffer and
 * socket); the others go on. A record that finds the queue itself full
 * (each held connection adds at most one operation above the mark) is
 * dropped and counted. Costs chunks only while requests
 * wait. */
#ifndef NE_JS_QUEUE_BYTES
#define NE_JS_QUEUE_BYTES (256 * 1024)
#endif

/* The mark above which JetStream's request queue holds the connections'
 * input back (see NE_JS_QUEUE_BYTES). The room above it takes the records
 * of the operation being handled: at least one largest record. */
#ifndef NE_JS_QUEUE_HIGH_WATER_BYTES
#define NE_JS_QUEUE_HIGH_WATER_BYTES (NE_JS_QUEUE_BYTES / 2)
#endif
#if NE_JS_QUEUE_HIGH_WATER_BYTES >= NE_JS_QUEUE_BYTES
#error "NE_JS_QUEUE_HIGH_WATER_BYTES must be below NE_JS_QUEUE_BYTES"
#endif

/* ---- File storage (`storage: file`, src/js/ne_js_file.c) ----------------------
 *
 * Every file stream and every durable consumer of a file stream is a log on
 * one storage device (src/store): on Linux a file under store_dir of
 * NE_JS_FILE_BLOCK_BYTES x (max_file_store / NE_JS_FILE_BLOCK_BYTES) bytes,
 * at most NE_STORE_MAX_BLOCKS blocks (config/ne_config_store.h): that is the
 * largest max_file_store. The device's own RAM is sizeof(ne_store_dev)
 * (docs/storage.md); NE_STORE_MAX_LOGS bounds streams plus durable
 * consumers on it. */

/* Erase block of the file device: a message on a file stream must fit one
 * (and the store's write buffer). */
#ifndef NE_JS_FILE_BLOCK_BYTES
#define NE_JS_FILE_BLOCK_BYTES (256 * 1024)
#endif
/* Program unit of the file device: each sync pads to it. */
#ifndef NE_JS_FILE_PROGRAM_BYTES
#define NE_JS_FILE_PROGRAM_BYTES 64
#endif
/* File streams at once. One costs sizeof(ne_js_file_stream), about 300 B
 * (its log's front end and a reader); its subject index comes from the
 * tables below. */
#ifndef NE_JS_FILE_STREAMS
#define NE_JS_FILE_STREAMS (NE_JS_MAX_STREAMS < 64 ? NE_JS_MAX_STREAMS : 64)
#endif
/* The subject index of file streams (per subject counts, first and last
 * sequence, KV keys, last per subject, wildcard counts) in tables of up to
 * five size classes shared by every file stream. A stream holds no table
 * until its first message; it then takes one of class 0, and when that is
 * full (7/8 of its entries, or its text) it moves into a free table of the
 * next larger class, giving the smaller one back; an empty stream gives its
 * table back. NE_JS_FILE_SUBJECTS_<k> is a class's entries (a power of two,
 * each class larger than the one before), NE_JS_FILE_SUBJECT_TABLES_<k>
 * how many tables it has (0: no such class). A table costs 40 B per entry
 * plus NE_JS_FILE_SUBJECT_TEXT_PER_ENTRY bytes of subject text per entry
 * (each subject takes its length + 8, rounded up to 4): class 0 by default
 * 16 x 40 + 512 = 1,152 B, class 3 1024 x 40 + 32 KiB = 72 KiB. The storage
 * is reserved once (1.6 MiB by default); a table's memory is touched
 * only when a stream first uses it.
 * When no larger table is free, a stream keeps the one it has: a message on
 * a new subject is refused with 503 10023 "insufficient resources" when its
 * entries are full (logged with the knob to raise), and kept unindexed
 * (found by scanning) when only its text is. Class 0 has a table for every
 * file stream, so every stream can index its first subjects. */
#ifndef NE_JS_FILE_SUBJECT_TEXT_PER_ENTRY
#define NE_JS_FILE_SUBJECT_TEXT_PER_ENTRY 32
#endif
#ifndef NE_JS_FILE_SUBJECTS_0
#define NE_JS_FILE_SUBJECTS_0 16
#endif
#ifndef NE_JS_FILE_SUBJECT_TABLES_0
#define NE_JS_FILE_SUBJECT_TABLES_0 NE_JS_FILE_STREAMS
#endif
#ifndef NE_JS_FILE_SUBJECTS_1
#define NE_JS_FILE_SUBJECTS_1 64
#endif
#ifndef NE_JS_FILE_SUBJECT_TABLES_1
#define NE_JS_FILE_SUBJECT_TABLES_1 32
#endif
#ifndef NE_JS_FILE_SUBJECTS_2
#define NE_JS_FILE_SUBJECTS_2 256
#endif
#ifndef NE_JS_FILE_SUBJECT_TABLES_2
#define NE_JS_FILE_SUBJECT_TABLES_2 16
#endif
#ifndef NE_JS_FILE_SUBJECTS_3
#define NE_JS_FILE_SUBJECTS_3 1024
#endif
#ifndef NE_JS_FILE_SUBJECT_TABLES_3
#define NE_JS_FILE_SUBJECT_TABLES_3 8
#endif
#ifndef NE_JS_FILE_SUBJECTS_4
#define NE_JS_FILE_SUBJECTS_4 4096
#endif
#ifndef NE_JS_FILE_SUBJECT_TABLES_4
#define NE_JS_FILE_SUBJECT_TABLES_4 2
#endif
/* Durable consumers of file streams whose state is kept on the device. One
 * costs about 300 B plus 32 B per pending entry below. */
#ifndef NE_JS_FILE_CONSUMERS
#define NE_JS_FILE_CONSUMERS (NE_JS_MAX_CONSUMERS < 64 ? NE_JS_MAX_CONSUMERS : 64)
#endif
/* Most acknowledgements pending for one durable consumer of a file stream
 * (its max_ack_pending may not be higher): the consumer's state is written
 * as one record, which must fit the store's write buffer (32 B each). */
#ifndef NE_JS_FILE_PENDING
#define NE_JS_FILE_PENDING 1000
#endif

/* Longest store_dir and domain. */
#ifndef NE_JS_STORE_DIR_BYTES
#define NE_JS_STORE_DIR_BYTES 256
#endif
#ifndef NE_JS_DOMAIN_BYTES
#define NE_JS_DOMAIN_BYTES 64
#endif

/* Sources of one stream (a mirror is one); each takes a text slot or more
 * for its names and 24 B in a set of NE_JS_SOURCED_STREAMS (below). */
#ifndef NE_JS_MAX_STREAM_SOURCES
#define NE_JS_MAX_STREAM_SOURCES 4
#endif

/* Mirrors and sources running at once, all streams together: each keeps
 * its position, its deliver and reply subjects (about 200 B). */
#ifndef NE_JS_MAX_SOURCE_LINKS
#define NE_JS_MAX_SOURCE_LINKS 16
#endif

/* Streams with a mirror or sources, plus the configuration being parsed:
 * each holds one set of NE_JS_MAX_STREAM_SOURCES source configurations
 * (24 B each) instead of every stream carrying one. A stream with a mirror
 * or sources takes a link each (NE_JS_MAX_SOURCE_LINKS), so the default
 * never refuses what the links allow. When the sets are all taken, a
 * STREAM.CREATE or UPDATE naming a mirror or sources gets 10023
 * "insufficient resources", logged with this knob. At least 1. */
#ifndef NE_JS_SOURCED_STREAMS
#define NE_JS_SOURCED_STREAMS (NE_JS_MAX_SOURCE_LINKS + 1)
#endif

/* Streams forwarding to the cloud at once (natsedge's forward extension,
 * docs/store-and-forward.md), and the largest window of publishes one may
 * have waiting for their acknowledgement (a multiple of 64). */
#ifndef NE_JS_MAX_FORWARDS
#define NE_JS_MAX_FORWARDS 8
#endif
#ifndef NE_JS_FORWARD_MAX_WINDOW
#define NE_JS_FORWARD_MAX_WINDOW 256
#endif

#endif /* NE_CONFIG_JS_H */
