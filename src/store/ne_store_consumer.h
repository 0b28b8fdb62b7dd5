/* A consumer's delivery state on a storage device (nats-server's
 * ConsumerStore): what was delivered (consumer and stream sequence), the ack
 * floor, and the messages delivered but not yet acknowledged, each with its
 * consumer sequence, last delivery time and delivery count (redeliveries).
 *
 * The state lives in RAM, in the pending array the caller gives (its
 * capacity is the consumer's max_ack_pending: the store never holds more),
 * and in a log of kind NE_STORE_KIND_CONSUMER on the device: every change is
 * a small record (a delivery 72 B, an ack 64 B on flash), and now and then
 * the whole state is written as one snapshot record, after which the older
 * records are dropped; a batch of changes may be one record
 * (ne_store_consumer_changes). Attaching replays the log, up to the first record
 * missing (damaged, or torn behind a write cache that kept later ones): the
 * log is cut back there, durably, so the state is always one the consumer
 * held, never later changes without earlier ones.
 *
 * Durability as every device log: a change is durable once
 * ne_store_consumer_sync (or ne_store_dev_sync) has returned NE_OK after it
 * (JetStream syncs before confirming an ack it was asked to confirm). A
 * change not yet synced may be lost by a power cut, never half applied.
 *
 * A full device refuses a change with NE_ERR_FULL and the state stays as it
 * was: no record of the log is dropped to make room (the log is not a stream
 * with a discard policy). A snapshot that finds no room is tried again after
 * the next change; until one is written and synced the log only grows, so a
 * device that fills up needs room made elsewhere (a stream's messages).
 *
 * RAM per consumer: sizeof(ne_store_consumer) (about 280 B) plus 32 B per
 * pending entry (the caller's array), plus the snapshot buffer
 * (NE_STORE_CONSUMER_SNAPSHOT_BYTES(capacity)), which every consumer of one
 * event loop may share. The snapshot is one record, so the capacity is
 * bounded by the device's largest record: (ne_store_max_msg_bytes - 64) / 32
 * entries (about 110 with 4 KiB erase blocks, 1000 with 32 KiB and more).
 */
#ifndef NE_STORE_CONSUMER_H
#define NE_STORE_CONSUMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/ne_store.h"
#include "store/ne_store_dev.h"

typedef enum ne_store_ack_policy {
    NE_STORE_ACK_NONE = 0,     /* delivered is acknowledged: nothing pending */
    NE_STORE_ACK_ALL = 1,      /* an ack covers every message up to it */
    NE_STORE_ACK_EXPLICIT = 2, /* each message is acknowledged on its own */
} ne_store_ack_policy;

/* A message delivered and not yet acknowledged (32 B). */
typedef struct ne_store_pending {
    uint64_t stream_seq;
    uint64_t consumer_seq; /* the consumer sequence of its first delivery */
    uint64_t timestamp_ns; /* its last delivery */
    uint32_t deliveries;   /* 1, then one more per redelivery */
    uint32_t reserved;
} ne_store_pending;

/* A sequence pair: a message by its consumer and its stream sequence. */
typedef struct ne_store_seq_pair {
    uint64_t consumer_seq;
    uint64_t stream_seq;
} ne_store_seq_pair;

/* Bytes of the buffer a snapshot of up to `capacity` pending entries is
 * written from and read into (its record: a 1-byte key, 48 B, 32 B per
 * entry). */
#define NE_STORE_CONSUMER_SNAPSHOT_BYTES(capacity) (64u + 32u * (size_t)(capacity))

typedef struct ne_store_consumer_config {
    ne_store_ack_policy ack_policy;
    ne_store_pending *pending; /* capacity entries: max_ack_pending */
    uint32_t pending_capacity;
    uint8_t *snapshot_buf; /* NE_STORE_CONSUMER_SNAPSHOT_BYTES(capacity), may be shared */
    size_t snapshot_bytes;
    uint32_t max_blocks; /* erase blocks the log may hold, 0: no limit but the device's */
} ne_store_consumer_config;

/* A consumer's state. Fill it with ne_store_consumer_attach. */
typedef struct ne_store_consumer {
    ne_store log;
    ne_store_ack_policy ack_policy;
    ne_store_pending *pending; /* sorted by stream sequence */
    uint32_t pending_count;
    uint32_t pending_capacity;
    uint8_t *snapshot_buf;
    size_t snapshot_bytes;
    ne_store_seq_pair delivered;
    ne_store_seq_pair ack_floor;
    uint64_t snapshot_seq; /* the newest snapshot record, not yet the log's first: 0 none */
    uint32_t changes_since_snapshot;
} ne_store_consumer;

/* Attaches a consumer log (kind CONSUMER, created with ne_store_dev_create)
 * and replays it. Errors: NE_ERR_NOT_FOUND (no such log), NE_ERR_INVALID
 * (another kind, a bad config), NE_ERR_EXISTS (already attached),
 * NE_ERR_TOO_BIG (a snapshot of pending_capacity entries would not fit one
 * record on this device, or snapshot_bytes is short of it), NE_ERR_FULL
 * (the log holds more pending messages than pending_capacity, or cutting
 * the log back after a loss found no room on the device), NE_ERR_CORRUPT
 * (a record of the log does not decode: reported as damage), and flash
 * errors. */
int ne_store_consumer_attach(ne_store_consumer *c, ne_store_dev *dev, uint32_t id,
                             const ne_store_consumer_config *cfg);

/* Detaches (changes are written, not synced). */
int ne_store_consumer_detach(ne_store_consumer *c);

/* Where delivery starts: the stream sequence before the first to deliver
 * (delivered and the ack floor move there). */
int ne_store_consumer_set_starting(ne_store_consumer *c, uint64_t stream_seq);

/* A message was delivered (UpdateDelivered): consumer sequence, stream
 * sequence, delivery count (1 the first time) and time. A first delivery
 * moves `delivered` and adds a pending entry (ack policies other than none;
 * with none the ack floor follows `delivered`); a redelivery updates its
 * entry. Errors: NE_ERR_FULL (pending_capacity entries pending: JetStream
 * must not deliver past max_ack_pending; or no room on the device: nothing
 * changed), NE_ERR_INVALID (a redelivery with ack policy none, sequences 0),
 * flash errors. */
int ne_store_consumer_delivered(ne_store_consumer *c, uint64_t consumer_seq, uint64_t stream_seq,
                                uint32_t deliveries, uint64_t timestamp_ns);

/* A message was acknowledged (UpdateAcks): its pending entry leaves and the
 * ack floor moves as nats-server moves it. With ack policy all, every
 * pending message up to stream_seq leaves. NE_ERR_NOT_FOUND when it is not
 * pending (a second ack), NE_ERR_INVALID with ack policy none, NE_ERR_FULL
 * when the device has no room for the record (nothing changed), flash
 * errors. */
int ne_store_consumer_ack(ne_store_consumer *c, uint64_t consumer_seq, uint64_t stream_seq);

/* One change of a batch (ne_store_consumer_changes): an ack (kind
 * NE_STORE_CHANGE_ACK: consumer and stream sequence) or a delivery (kind
 * NE_STORE_CHANGE_DELIVERED: both sequences, delivery count and time, as
 * ne_store_consumer_delivered). */
typedef enum ne_store_change_kind {
    NE_STORE_CHANGE_ACK = 1,
    NE_STORE_CHANGE_DELIVERED = 2,
} ne_store_change_kind;

typedef struct ne_store_change {
    ne_store_change_kind kind;
    uint32_t deliveries;
    uint64_t consumer_seq;
    uint64_t stream_seq;
    uint64_t timestamp_ns;
} ne_store_change;

/* Several changes in one record (32 B each), applied in order as the single
 * calls would apply them: what a loop turn changed costs one append, and
 * bytes in proportion to the changes, not to the pending entries. Ack
 * policy explicit only. Every ack must name a pending entry not acked
 * before it in the batch, and the pending entries after the batch must fit
 * pending_capacity; count at most pending_capacity (the record must fit the
 * snapshot buffer it is written from). Errors: NE_ERR_INVALID (another ack
 * policy, a change that does not apply: nothing written), NE_ERR_TOO_BIG
 * (count over pending_capacity), NE_ERR_FULL (no room on the device:
 * nothing changed), flash errors. */
int ne_store_consumer_changes(ne_store_consumer *c, const ne_store_change *changes, uint32_t count);

/* Replaces the whole state (Update: RAFT apply, restores). pending is
 * copied (count entries, any order). NE_ERR_INVALID when the ack floor is
 * above delivered or a pending entry is outside (ack floor, delivered];
 * NE_ERR_FULL over pending_capacity or when the device has no room for the
 * snapshot record (the state stays as it was); flash errors. */
int ne_store_consumer_update(ne_store_consumer *c, ne_store_seq_pair delivered,
                             ne_store_seq_pair ack_floor, const ne_store_pending *pending,
                             uint32_t count);

/* The pending entry of a stream sequence, or NULL. Valid until the next
 * change. */
const ne_store_pending *ne_store_consumer_find(const ne_store_consumer *c, uint64_t stream_seq);

/* Makes every change so far durable; when a snapshot was written since the
 * last sync, the records before it are dropped afterwards. */
int ne_store_consumer_sync(ne_store_consumer *c);

#endif
