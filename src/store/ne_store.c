/* The store front end: what JetStream sees of a stream's storage. It owns the
 * limits, the subject table and the state counters, and asks the backend
 * (memory or flash) to keep, find and remove records. */
#include "store/ne_store.h"

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "store/ne_store_backend.h"
#include "store/ne_store_subjects.h"
#include "core/ne_subject.h"

uint64_t ne_store_msg_bytes(size_t subject_len, size_t headers_len, size_t payload_len)
{
    return (uint64_t)subject_len + headers_len + payload_len + 16u;
}

/* FNV-1a with a final avalanche: cheap, no tables, and spreads short
 * subjects that differ in one character across the whole table. */
uint64_t ne_store_subject_hash(const char *subject, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t)subject[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h == 0 ? 1 : h;
}

bool ne_store_filter_matches(const ne_store_filter *filter, const char *subject, size_t len)
{
    if (filter == NULL || filter->subject == NULL) {
        return true;
    }
    if (filter->literal) {
        return filter->subject_len == len && memcmp(filter->subject, subject, len) == 0;
    }
    return ne_subject_matches(filter->subject, filter->subject_len, subject, len);
}

int ne_store_out_layout(ne_store_msg *out, void *buf, size_t buf_bytes, uint64_t seq,
                        uint64_t timestamp_ns, size_t subject_len, size_t headers_len,
                        size_t payload_len)
{
    out->seq = seq;
    out->timestamp_ns = timestamp_ns;
    out->subject_len = subject_len;
    out->headers_len = headers_len;
    out->payload_len = payload_len;
    out->subject = NULL;
    out->headers = NULL;
    out->payload = NULL;
    if (buf == NULL || subject_len + headers_len + payload_len > buf_bytes) {
        return NE_ERR_TOO_BIG;
    }
    uint8_t *p = buf;
    out->subject = (const char *)p;
    out->headers = headers_len > 0 ? p + subject_len : NULL;
    out->payload = p + subject_len + headers_len;
    return NE_OK;
}

static bool limits_valid(const ne_store_limits *limits)
{
    return limits->discard == NE_STORE_DISCARD_OLD || limits->discard == NE_STORE_DISCARD_NEW;
}

int ne_store_init_common(ne_store *store, const ne_store_config *cfg,
                         const ne_store_backend *backend, void *impl)
{
    NE_ASSERT(store != NULL && cfg != NULL && backend != NULL && impl != NULL);
    if (cfg->subjects == NULL || cfg->subject_capacity == 0 ||
        (cfg->subject_capacity & (cfg->subject_capacity - 1)) != 0 || !limits_valid(&cfg->limits)) {
        return NE_ERR_INVALID;
    }
    memset(store, 0, sizeof(*store));
    store->backend = backend;
    store->impl = impl;
    store->limits = cfg->limits;
    store->subjects = cfg->subjects;
    store->subject_capacity = cfg->subject_capacity;
    store->subject_max = ne_store_subjects_max(cfg->subject_capacity);
    ne_store_subjects_clear(store->subjects, store->subject_capacity);
    store->state.first_seq = 1;
    return NE_OK;
}

/* ---- Subject bookkeeping ------------------------------------------------- */

static void subject_count_add(ne_store *store, uint64_t hash, uint64_t seq)
{
    int32_t i = ne_store_subjects_find(store->subjects, store->subject_capacity, hash);
    if (i < 0) {
        if (store->state.num_subjects >= store->subject_max) {
            store->state.untracked_msgs++;
            return;
        }
        i = ne_store_subjects_insert(store->subjects, store->subject_capacity, hash);
        store->state.num_subjects++;
    }
    ne_store_subject *e = &store->subjects[i];
    if (e->msgs == 0 || seq < e->first_seq) {
        e->first_seq = seq;
    }
    if (e->msgs == 0 || seq > e->last_seq) {
        e->last_seq = seq;
    }
    e->msgs++;
}

static void subject_count_remove(ne_store *store, uint64_t hash, uint64_t seq)
{
    int32_t i = ne_store_subjects_find(store->subjects, store->subject_capacity, hash);
    if (i < 0) {
        if (store->state.untracked_msgs > 0) {
            store->state.untracked_msgs--;
        }
        return;
    }
    ne_store_subject *e = &store->subjects[i];
    NE_ASSERT(e->msgs > 0);
    e->msgs--;
    if (e->msgs == 0) {
        ne_store_subjects_remove(store->subjects, store->subject_capacity, (uint32_t)i);
        store->state.num_subjects--;
        return;
    }
    if (seq == e->last_seq) {
        e->flags |= NE_STORE_SUBJECT_LAST_STALE;
    }
    if (seq == e->first_seq) {
        e->first_seq = seq + 1;
    }
}

/* ---- Recovery hooks ------------------------------------------------------ */

void ne_store_recovered_add(ne_store *store, uint64_t seq, uint64_t timestamp_ns,
                            uint64_t subject_hash, uint32_t bytes)
{
    (void)timestamp_ns;
    store->state.msgs++;
    store->state.bytes += bytes;
    subject_count_add(store, subject_hash, seq);
}

/* The numbers come from flash: a damaged device must not trip an assertion,
 * so they are clamped instead. */
void ne_store_recovered_remove(ne_store *store, uint64_t seq, uint64_t subject_hash, uint32_t bytes)
{
    if (store->state.msgs == 0) {
        return;
    }
    store->state.msgs--;
    store->state.bytes -= bytes < store->state.bytes ? bytes : store->state.bytes;
    subject_count_remove(store, subject_hash, seq);
}

/* Re-reads the first live message after the front moved (or at open). */
static int refresh_first(ne_store *store, uint64_t from_seq)
{
    ne_store_rec_info info;
    if (store->state.msgs == 0) {
        store->state.first_seq = store->state.last_seq + 1;
        store->state.first_ts_ns = 0;
        return NE_OK;
    }
    int rc = store->backend->find(store->impl, from_seq, false, NULL, NULL, NULL, 0, &info);
    if (rc == NE_ERR_NOT_FOUND) {
        /* Counted messages the backend cannot find: the counts are wrong. */
        return NE_ERR_CORRUPT;
    }
    if (rc != NE_OK) {
        return rc;
    }
    store->state.first_seq = info.seq;
    store->state.first_ts_ns = info.timestamp_ns;
    return NE_OK;
}

static int apply_limits(ne_store *store);

int ne_store_recovered_done(ne_store *store, uint64_t last_seq, uint64_t last_ts_ns)
{
    store->state.last_seq = last_seq;
    store->state.last_ts_ns = last_ts_ns;
    int rc = refresh_first(store, 1);
    if (rc != NE_OK) {
        return rc;
    }
    return apply_limits(store);
}

/* ---- Removal ------------------------------------------------------------- */

/* Removes one found record and keeps every count right. Removing the first
 * message moves the floor instead of writing a tombstone: the flash store
 * then only has to remember one number. */
static int remove_record(ne_store *store, const ne_store_rec_info *info)
{
    bool front = info->seq == store->state.first_seq;
    int rc = store->backend->remove(store->impl, info, !front);
    if (rc != NE_OK) {
        return rc;
    }
    NE_ASSERT(store->state.msgs > 0 && store->state.bytes >= info->bytes);
    store->state.msgs--;
    store->state.bytes -= info->bytes;
    subject_count_remove(store, info->subject_hash, info->seq);
    if (front) {
        rc = refresh_first(store, info->seq + 1);
        if (rc != NE_OK) {
            return rc;
        }
        return store->backend->set_floor(store->impl, store->state.first_seq, false);
    }
    return NE_OK;
}

static int evict_oldest(ne_store *store)
{
    ne_store_rec_info info;
    NE_ASSERT(store->state.msgs > 0);
    int rc = store->backend->find(store->impl, store->state.first_seq, false, NULL, NULL, NULL, 0,
                                  &info);
    if (rc == NE_ERR_NOT_FOUND) {
        return NE_ERR_CORRUPT;
    }
    if (rc != NE_OK) {
        return rc;
    }
    return remove_record(store, &info);
}

static void literal_filter(ne_store_filter *f, const char *subject, size_t len)
{
    f->subject = subject;
    f->subject_len = len;
    f->literal = true;
}

/* Drops the oldest message of one subject (per-subject limit). */
static int evict_oldest_of_subject(ne_store *store, const char *subject, size_t len, uint64_t hash)
{
    int32_t i = ne_store_subjects_find(store->subjects, store->subject_capacity, hash);
    uint64_t from = store->state.first_seq;
    if (i >= 0 && store->subjects[i].first_seq > from) {
        from = store->subjects[i].first_seq;
    }
    ne_store_filter f;
    literal_filter(&f, subject, len);
    ne_store_rec_info info;
    int rc = store->backend->find(store->impl, from, false, &f, NULL, NULL, 0, &info);
    if (rc == NE_ERR_NOT_FOUND) {
        return NE_ERR_CORRUPT;
    }
    if (rc != NE_OK) {
        return rc;
    }
    return remove_record(store, &info);
}

static bool over_total_limits(const ne_store *store)
{
    return (store->limits.max_msgs != 0 && store->state.msgs > store->limits.max_msgs) ||
           (store->limits.max_bytes != 0 && store->state.bytes > store->limits.max_bytes);
}

/* ---- Append -------------------------------------------------------------- */

static int refuse(ne_store *store, ne_store_limit limit, int err)
{
    store->refused = limit;
    return err;
}

static bool msg_valid(const ne_store_msg *msg)
{
    if (msg->subject == NULL || msg->subject_len == 0 ||
        msg->subject_len > NE_STORE_MAX_SUBJECT_BYTES) {
        return false;
    }
    if ((msg->headers == NULL && msg->headers_len != 0) ||
        (msg->payload == NULL && msg->payload_len != 0)) {
        return false;
    }
    return ne_subject_valid_literal(msg->subject, msg->subject_len);
}

/* Limits that refuse before anything is stored, in nats-server's order:
 * size, per subject (discard new per subject), then messages and bytes with
 * discard new, where a subject at its own limit passes because its oldest
 * message will make room. */
static int check_admission(ne_store *store, const ne_store_msg *msg, uint64_t bytes, int32_t entry)
{
    const ne_store_limits *l = &store->limits;
    size_t size = msg->subject_len + msg->headers_len + msg->payload_len;
    if ((l->max_msg_size_bytes != 0 && size > l->max_msg_size_bytes) ||
        size > store->backend->max_record_bytes(store->impl)) {
        return refuse(store, NE_STORE_LIMIT_MSG_SIZE, NE_ERR_TOO_BIG);
    }
    if (entry < 0 && store->state.num_subjects >= store->subject_max) {
        return refuse(store, NE_STORE_LIMIT_SUBJECTS, NE_ERR_FULL);
    }
    bool at_subject_limit = l->max_msgs_per_subject != 0 && entry >= 0 &&
                            store->subjects[entry].msgs >= l->max_msgs_per_subject;
    if (at_subject_limit && l->discard == NE_STORE_DISCARD_NEW && l->discard_new_per_subject) {
        return refuse(store, NE_STORE_LIMIT_MSGS_PER_SUBJECT, NE_ERR_FULL);
    }
    if (l->max_bytes != 0 && bytes > l->max_bytes) {
        return refuse(store, NE_STORE_LIMIT_BYTES, NE_ERR_FULL);
    }
    if (l->discard == NE_STORE_DISCARD_NEW && !at_subject_limit) {
        if (l->max_msgs != 0 && store->state.msgs + 1 > l->max_msgs) {
            return refuse(store, NE_STORE_LIMIT_MSGS, NE_ERR_FULL);
        }
        if (l->max_bytes != 0 && store->state.bytes + bytes > l->max_bytes) {
            return refuse(store, NE_STORE_LIMIT_BYTES, NE_ERR_FULL);
        }
    }
    return NE_OK;
}

/* Stores the record, dropping the oldest messages while the backend has no
 * room and the policy allows it. Bounded: each retry removes a message. */
static int store_with_room(ne_store *store, const ne_store_msg *msg, uint64_t seq, uint64_t hash)
{
    uint64_t bound = store->state.msgs + 1;
    for (uint64_t attempt = 0; attempt <= bound; attempt++) {
        int rc = store->backend->append(store->impl, msg, seq, hash);
        if (rc != NE_ERR_FULL) {
            if (rc == NE_ERR_TOO_BIG) {
                return refuse(store, NE_STORE_LIMIT_MSG_SIZE, rc);
            }
            return rc;
        }
        if (store->limits.discard != NE_STORE_DISCARD_OLD || store->state.msgs == 0) {
            return refuse(store, NE_STORE_LIMIT_SPACE, NE_ERR_FULL);
        }
        rc = evict_oldest(store);
        if (rc != NE_OK) {
            return rc;
        }
    }
    return refuse(store, NE_STORE_LIMIT_SPACE, NE_ERR_FULL);
}

static int enforce_subject_limit(ne_store *store, const char *subject, size_t len, uint64_t hash)
{
    uint32_t max = store->limits.max_msgs_per_subject;
    if (max == 0) {
        return NE_OK;
    }
    for (uint64_t guard = 0; guard <= store->state.msgs; guard++) {
        int32_t i = ne_store_subjects_find(store->subjects, store->subject_capacity, hash);
        if (i < 0 || store->subjects[i].msgs <= max) {
            return NE_OK;
        }
        int rc = evict_oldest_of_subject(store, subject, len, hash);
        if (rc != NE_OK) {
            return rc;
        }
    }
    return NE_OK;
}

static int enforce_total_limits(ne_store *store)
{
    uint64_t bound = store->state.msgs;
    for (uint64_t i = 0; i <= bound && over_total_limits(store); i++) {
        int rc = evict_oldest(store);
        if (rc != NE_OK) {
            return rc;
        }
    }
    return NE_OK;
}

int ne_store_append(ne_store *store, const ne_store_msg *msg, uint64_t *seq_out)
{
    NE_ASSERT(store != NULL && msg != NULL);
    store->refused = NE_STORE_LIMIT_NONE;
    int failed = store->backend->status(store->impl);
    if (failed != NE_OK) {
        return failed;
    }
    if (!msg_valid(msg)) {
        return NE_ERR_INVALID;
    }
    uint64_t bytes = ne_store_msg_bytes(msg->subject_len, msg->headers_len, msg->payload_len);
    uint64_t hash = ne_store_subject_hash(msg->subject, msg->subject_len);
    int32_t entry = ne_store_subjects_find(store->subjects, store->subject_capacity, hash);
    int rc = check_admission(store, msg, bytes, entry);
    if (rc != NE_OK) {
        return rc;
    }
    uint64_t seq = store->state.last_seq + 1;
    rc = store_with_room(store, msg, seq, hash);
    if (rc != NE_OK) {
        return rc;
    }
    /* Room-making may have emptied a subject and freed its entry, so the
     * subject is counted again from scratch; the table check above left
     * room for it (evictions only free entries). */
    store->state.msgs++;
    store->state.bytes += bytes;
    store->state.last_seq = seq;
    store->state.last_ts_ns = msg->timestamp_ns;
    if (store->state.msgs == 1) {
        store->state.first_seq = seq;
        store->state.first_ts_ns = msg->timestamp_ns;
    }
    subject_count_add(store, hash, seq);
    if (seq_out != NULL) {
        *seq_out = seq;
    }
    rc = enforce_subject_limit(store, msg->subject, msg->subject_len, hash);
    if (rc != NE_OK) {
        return rc;
    }
    return enforce_total_limits(store);
}

ne_store_limit ne_store_refused_by(const ne_store *store)
{
    return store->refused;
}

/* ---- Lookups ------------------------------------------------------------- */

int ne_store_load(ne_store *store, uint64_t seq, ne_store_msg *out, void *buf, size_t buf_bytes)
{
    NE_ASSERT(store != NULL && out != NULL);
    int failed = store->backend->status(store->impl);
    if (failed != NE_OK) {
        return failed;
    }
    if (seq < store->state.first_seq || seq > store->state.last_seq || store->state.msgs == 0) {
        return NE_ERR_NOT_FOUND;
    }
    ne_store_rec_info info;
    return store->backend->find(store->impl, seq, true, NULL, out, buf, buf_bytes, &info);
}

static int make_filter(ne_store_filter *f, const char *filter, size_t len)
{
    f->subject = NULL;
    f->subject_len = 0;
    f->literal = false;
    if (filter == NULL || (len == 1 && filter[0] == '>')) {
        return NE_OK;
    }
    if (!ne_subject_valid(filter, len)) {
        return NE_ERR_INVALID;
    }
    f->subject = filter;
    f->subject_len = len;
    f->literal = ne_subject_valid_literal(filter, len);
    return NE_OK;
}

int ne_store_load_next(ne_store *store, uint64_t from_seq, const char *filter, size_t filter_len,
                       ne_store_msg *out, void *buf, size_t buf_bytes)
{
    NE_ASSERT(store != NULL && out != NULL);
    int failed = store->backend->status(store->impl);
    if (failed != NE_OK) {
        return failed;
    }
    ne_store_filter f;
    int rc = make_filter(&f, filter, filter_len);
    if (rc != NE_OK) {
        return rc;
    }
    if (store->state.msgs == 0 || from_seq > store->state.last_seq) {
        return NE_ERR_NOT_FOUND;
    }
    if (from_seq < store->state.first_seq) {
        from_seq = store->state.first_seq;
    }
    ne_store_rec_info info;
    return store->backend->find(store->impl, from_seq, false, &f, out, buf, buf_bytes, &info);
}

/* The newest message of a subject by walking its messages forward: used
 * when the table's last_seq is stale or the subject is not in the table.
 * Bounded by the number of messages. */
static int scan_last_of_subject(ne_store *store, const ne_store_filter *f, uint64_t from,
                                uint64_t *last_seq)
{
    ne_store_rec_info info;
    bool found = false;
    for (uint64_t guard = 0; guard <= store->state.msgs; guard++) {
        int rc = store->backend->find(store->impl, from, false, f, NULL, NULL, 0, &info);
        if (rc == NE_ERR_NOT_FOUND) {
            break;
        }
        if (rc != NE_OK) {
            return rc;
        }
        found = true;
        *last_seq = info.seq;
        from = info.seq + 1;
    }
    return found ? NE_OK : NE_ERR_NOT_FOUND;
}

/* Makes entry i's last_seq exact again after its newest message left. */
static int subject_refresh_last(ne_store *store, int32_t i, const ne_store_filter *f)
{
    ne_store_subject *e = &store->subjects[i];
    if ((e->flags & NE_STORE_SUBJECT_LAST_STALE) == 0) {
        return NE_OK;
    }
    uint64_t from = e->first_seq > store->state.first_seq ? e->first_seq : store->state.first_seq;
    uint64_t last = 0;
    int rc = scan_last_of_subject(store, f, from, &last);
    if (rc != NE_OK) {
        return rc == NE_ERR_NOT_FOUND ? NE_ERR_CORRUPT : rc;
    }
    e = &store->subjects[i];
    e->last_seq = last;
    e->flags &= ~NE_STORE_SUBJECT_LAST_STALE;
    return NE_OK;
}

int ne_store_load_last(ne_store *store, const char *subject, size_t subject_len, ne_store_msg *out,
                       void *buf, size_t buf_bytes)
{
    NE_ASSERT(store != NULL && out != NULL);
    int failed = store->backend->status(store->impl);
    if (failed != NE_OK) {
        return failed;
    }
    if (subject == NULL || !ne_subject_valid_literal(subject, subject_len)) {
        return NE_ERR_INVALID;
    }
    ne_store_filter f;
    literal_filter(&f, subject, subject_len);
    ne_store_rec_info info;
    uint64_t hash = ne_store_subject_hash(subject, subject_len);
    int32_t i = ne_store_subjects_find(store->subjects, store->subject_capacity, hash);
    if (i >= 0) {
        int rc = subject_refresh_last(store, i, &f);
        if (rc != NE_OK) {
            return rc;
        }
        rc = store->backend->find(store->impl, store->subjects[i].last_seq, true, &f, out, buf,
                                  buf_bytes, &info);
        if (rc != NE_ERR_NOT_FOUND) {
            return rc;
        }
        /* Another subject with the same hash: fall back to a scan. */
    } else if (store->state.untracked_msgs == 0) {
        return NE_ERR_NOT_FOUND;
    }
    uint64_t last = 0;
    int rc = scan_last_of_subject(store, &f, store->state.first_seq, &last);
    if (rc != NE_OK) {
        return rc;
    }
    return store->backend->find(store->impl, last, true, &f, out, buf, buf_bytes, &info);
}

int ne_store_subject_state(ne_store *store, const char *subject, size_t subject_len, uint64_t *msgs,
                           uint64_t *last_seq)
{
    NE_ASSERT(store != NULL && msgs != NULL && last_seq != NULL);
    *msgs = 0;
    *last_seq = 0;
    int failed = store->backend->status(store->impl);
    if (failed != NE_OK) {
        return failed;
    }
    if (subject == NULL || !ne_subject_valid_literal(subject, subject_len)) {
        return NE_ERR_INVALID;
    }
    uint64_t hash = ne_store_subject_hash(subject, subject_len);
    int32_t i = ne_store_subjects_find(store->subjects, store->subject_capacity, hash);
    if (i < 0) {
        return NE_ERR_NOT_FOUND;
    }
    ne_store_filter f;
    literal_filter(&f, subject, subject_len);
    int rc = subject_refresh_last(store, i, &f);
    if (rc != NE_OK) {
        return rc;
    }
    *msgs = store->subjects[i].msgs;
    *last_seq = store->subjects[i].last_seq;
    return NE_OK;
}

/* ---- Delete, purge, expire ----------------------------------------------- */

int ne_store_delete(ne_store *store, uint64_t seq)
{
    NE_ASSERT(store != NULL);
    int failed = store->backend->status(store->impl);
    if (failed != NE_OK) {
        return failed;
    }
    if (store->state.msgs == 0 || seq < store->state.first_seq || seq > store->state.last_seq) {
        return NE_ERR_NOT_FOUND;
    }
    ne_store_rec_info info;
    int rc = store->backend->find(store->impl, seq, true, NULL, NULL, NULL, 0, &info);
    if (rc != NE_OK) {
        return rc;
    }
    return remove_record(store, &info);
}

static int purge_everything(ne_store *store, uint64_t *purged)
{
    uint64_t next = store->state.last_seq + 1;
    int rc = store->backend->set_floor(store->impl, next, true);
    if (rc != NE_OK) {
        return rc;
    }
    *purged = store->state.msgs;
    store->state.msgs = 0;
    store->state.bytes = 0;
    store->state.first_seq = next;
    store->state.first_ts_ns = 0;
    store->state.num_subjects = 0;
    store->state.untracked_msgs = 0;
    ne_store_subjects_clear(store->subjects, store->subject_capacity);
    return NE_OK;
}

/* Counts the messages matching f (for keep with a filter). */
static int count_matching(ne_store *store, const ne_store_filter *f, uint64_t *count)
{
    *count = 0;
    if (f->literal) {
        uint64_t hash = ne_store_subject_hash(f->subject, f->subject_len);
        int32_t i = ne_store_subjects_find(store->subjects, store->subject_capacity, hash);
        if (store->state.untracked_msgs == 0) {
            *count = i >= 0 ? store->subjects[i].msgs : 0;
            return NE_OK;
        }
    }
    ne_store_rec_info info;
    uint64_t from = store->state.first_seq;
    for (uint64_t guard = 0; guard <= store->state.msgs; guard++) {
        int rc = store->backend->find(store->impl, from, false, f, NULL, NULL, 0, &info);
        if (rc == NE_ERR_NOT_FOUND) {
            return NE_OK;
        }
        if (rc != NE_OK) {
            return rc;
        }
        (*count)++;
        from = info.seq + 1;
    }
    return NE_OK;
}

/* Removes matching messages from the front: below up_to (when set) and at
 * most max_remove of them. Bounded by the number of messages. */
static int purge_walk(ne_store *store, const ne_store_filter *f, uint64_t up_to,
                      uint64_t max_remove, uint64_t *purged)
{
    ne_store_rec_info info;
    uint64_t from = store->state.first_seq;
    uint64_t bound = store->state.msgs;
    for (uint64_t guard = 0; guard <= bound && *purged < max_remove; guard++) {
        int rc = store->backend->find(store->impl, from, false, f, NULL, NULL, 0, &info);
        if (rc == NE_ERR_NOT_FOUND) {
            return NE_OK;
        }
        if (rc != NE_OK) {
            return rc;
        }
        if (up_to != 0 && info.seq >= up_to) {
            return NE_OK;
        }
        rc = remove_record(store, &info);
        if (rc != NE_OK) {
            return rc;
        }
        (*purged)++;
        from = info.seq + 1;
    }
    return NE_OK;
}

int ne_store_purge(ne_store *store, const ne_store_purge_req *req, uint64_t *purged)
{
    NE_ASSERT(store != NULL);
    uint64_t dummy = 0;
    if (purged == NULL) {
        purged = &dummy;
    }
    *purged = 0;
    int failed = store->backend->status(store->impl);
    if (failed != NE_OK) {
        return failed;
    }
    ne_store_purge_req all = {0};
    if (req == NULL) {
        req = &all;
    }
    if (req->up_to_seq != 0 && req->keep != 0) {
        return NE_ERR_INVALID;
    }
    ne_store_filter f;
    int rc = make_filter(&f, req->subject, req->subject_len);
    if (rc != NE_OK) {
        return rc;
    }
    if (store->state.msgs == 0) {
        return NE_OK;
    }
    bool everything = f.subject == NULL && req->keep == 0 &&
                      (req->up_to_seq == 0 || req->up_to_seq > store->state.last_seq);
    if (everything) {
        return purge_everything(store, purged);
    }
    uint64_t max_remove = UINT64_MAX;
    if (req->keep != 0) {
        uint64_t matching = store->state.msgs;
        if (f.subject != NULL) {
            rc = count_matching(store, &f, &matching);
            if (rc != NE_OK) {
                return rc;
            }
        }
        if (matching <= req->keep) {
            return NE_OK;
        }
        max_remove = matching - req->keep;
    }
    return purge_walk(store, f.subject != NULL ? &f : NULL, req->up_to_seq, max_remove, purged);
}

int ne_store_expire(ne_store *store, uint64_t now_ns, uint64_t *expired)
{
    NE_ASSERT(store != NULL);
    uint64_t dummy = 0;
    if (expired == NULL) {
        expired = &dummy;
    }
    *expired = 0;
    int failed = store->backend->status(store->impl);
    if (failed != NE_OK) {
        return failed;
    }
    uint64_t max_age = store->limits.max_age_ns;
    if (max_age == 0 || now_ns < max_age) {
        return NE_OK;
    }
    uint64_t cutoff = now_ns - max_age;
    uint64_t bound = store->state.msgs;
    for (uint64_t i = 0; i < bound && store->state.msgs > 0; i++) {
        if (store->state.first_ts_ns > cutoff) {
            break;
        }
        int rc = evict_oldest(store);
        if (rc != NE_OK) {
            return rc;
        }
        (*expired)++;
    }
    return NE_OK;
}

/* Drops the oldest messages over the limits, whatever the discard policy:
 * after a limit is lowered, and after a recovery brought back removals that
 * were not yet durable (nats-server enforces its limits on both too). */
static int apply_limits(ne_store *store)
{
    uint32_t max = store->limits.max_msgs_per_subject;
    for (uint32_t slot = 0; max != 0 && slot < store->subject_capacity; slot++) {
        /* Removals shift entries, so each slot is revisited until it holds
         * an entry within the limit; bounded by the messages removed. */
        for (uint64_t guard = 0; guard <= store->state.msgs; guard++) {
            ne_store_subject *e = &store->subjects[slot];
            if (e->hash == 0 || e->msgs <= max) {
                break;
            }
            uint64_t hash = e->hash;
            ne_store_rec_info info;
            uint64_t from =
                e->first_seq > store->state.first_seq ? e->first_seq : store->state.first_seq;
            /* Without the text, match by hash; the backend reports it. */
            int rc = NE_ERR_NOT_FOUND;
            for (uint64_t step = 0; step <= store->state.msgs; step++) {
                rc = store->backend->find(store->impl, from, false, NULL, NULL, NULL, 0, &info);
                if (rc != NE_OK || info.subject_hash == hash) {
                    break;
                }
                from = info.seq + 1;
            }
            if (rc != NE_OK) {
                return rc == NE_ERR_NOT_FOUND ? NE_ERR_CORRUPT : rc;
            }
            rc = remove_record(store, &info);
            if (rc != NE_OK) {
                return rc;
            }
        }
    }
    return enforce_total_limits(store);
}

int ne_store_set_limits(ne_store *store, const ne_store_limits *limits)
{
    NE_ASSERT(store != NULL && limits != NULL);
    int failed = store->backend->status(store->impl);
    if (failed != NE_OK) {
        return failed;
    }
    if (!limits_valid(limits)) {
        return NE_ERR_INVALID;
    }
    store->limits = *limits;
    return apply_limits(store);
}

int ne_store_sync(ne_store *store)
{
    NE_ASSERT(store != NULL);
    return store->backend->sync(store->impl);
}

int ne_store_compact(ne_store *store, uint32_t *reclaimed)
{
    NE_ASSERT(store != NULL);
    uint32_t dummy = 0;
    return store->backend->compact(store->impl, reclaimed != NULL ? reclaimed : &dummy);
}

void ne_store_get_state(const ne_store *store, ne_store_state *out)
{
    NE_ASSERT(store != NULL && out != NULL);
    *out = store->state;
    out->num_deleted = 0;
    if (store->state.msgs > 0) {
        out->num_deleted = store->state.last_seq - store->state.first_seq + 1 - store->state.msgs;
    }
}
