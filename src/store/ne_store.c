/* The store front end: what JetStream sees of a stream's storage. It owns the
 * limits, the subject table and the state counters, and asks the backend
 * (a device log or memory) to keep, find and remove records. */
#include "store/ne_store.h"

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "core/ne_subject.h"
#include "store/ne_store_backend.h"
#include "store/ne_store_subjects.h"

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
        return filter->subject_len == len &&
               (len == 0 || memcmp(filter->subject, subject, len) == 0);
    }
    if (filter->prefix) {
        return len >= filter->subject_len &&
               (filter->subject_len == 0 ||
                memcmp(filter->subject, subject, filter->subject_len) == 0);
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
    bool no_table = cfg->subjects == NULL && cfg->subject_capacity == 0;
    if ((cfg->subject_pool != NULL &&
         (!no_table || cfg->subject_text != NULL || cfg->subject_text_bytes != 0)) ||
        (!no_table && (cfg->subjects == NULL || cfg->subject_capacity == 0 ||
                       (cfg->subject_capacity & (cfg->subject_capacity - 1)) != 0)) ||
        !limits_valid(&cfg->limits) ||
        (cfg->subject_text == NULL && cfg->subject_text_bytes != 0) ||
        cfg->subject_text_bytes > 0x80000000u || (cfg->flags & ~NE_STORE_RAW_KEYS) != 0) {
        return NE_ERR_INVALID;
    }
    memset(store, 0, sizeof(*store));
    store->backend = backend;
    store->impl = impl;
    store->limits = cfg->limits;
    store->subjects = cfg->subjects;
    store->subject_capacity = cfg->subject_capacity;
    store->subject_max = ne_store_subjects_max(cfg->subject_capacity);
    store->subject_text = cfg->subject_text_bytes > 0 ? cfg->subject_text : NULL;
    store->subject_text_bytes = cfg->subject_text_bytes;
    store->subject_pool = cfg->subject_pool;
    store->subject_class = NE_STORE_NO_CLASS;
    store->flags = cfg->flags;
    ne_store_subjects_clear(store);
    store->state.first_seq = 1;
    return NE_OK;
}

size_t ne_store_max_msg_bytes(const ne_store *store)
{
    return store->backend->max_record_bytes(store->impl);
}

static int status(const ne_store *store)
{
    return store->backend->status(store->impl);
}

/* ---- Subject bookkeeping ------------------------------------------------- */

static bool tracks_subjects(const ne_store *store)
{
    return store->subject_capacity > 0 || store->subject_pool != NULL;
}

/* The subjects' bytes are kept (a pool's tables always keep them, also
 * while the store holds no table). */
static bool has_text(const ne_store *store)
{
    return store->subject_text != NULL || store->subject_pool != NULL;
}

/* A table from a pool goes back when no subject is left in it. Called where
 * a public operation ends (no entry index is held then). */
static void subjects_settle(ne_store *store)
{
    if (store->subject_pool != NULL && store->state.num_subjects == 0) {
        ne_store_subjects_release(store);
    }
}

static void subject_count_add(ne_store *store, uint64_t hash, uint64_t seq, const char *subject,
                              size_t len)
{
    if (!tracks_subjects(store)) {
        return;
    }
    int32_t i = ne_store_subjects_find(store, hash, subject, len);
    if (i < 0) {
        if (!ne_store_subjects_make_room(store, store->state.num_subjects, len) ||
            (i = ne_store_subjects_insert(store, hash, subject, len)) < 0) {
            store->state.untracked_msgs++;
            return;
        }
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
    if (!tracks_subjects(store)) {
        return;
    }
    int32_t i = ne_store_subjects_find_hash(store, hash);
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
        ne_store_subjects_remove(store, (uint32_t)i);
        store->state.num_subjects--;
        return;
    }
    if (seq == e->last_seq) {
        e->flags |= NE_STORE_SUBJECT_LAST_STALE;
    }
    if (seq == e->first_seq) {
        e->first_seq = seq + 1;
        e->flags |= NE_STORE_SUBJECT_FIRST_STALE;
    }
}

/* ---- Recovery hooks ------------------------------------------------------ */

void ne_store_recovered_add(ne_store *store, uint64_t seq, uint64_t timestamp_ns,
                            const char *subject, size_t subject_len, uint32_t bytes)
{
    (void)timestamp_ns;
    store->state.msgs++;
    store->state.bytes += bytes;
    subject_count_add(store, ne_store_subject_hash(subject, subject_len), seq, subject,
                      subject_len);
}

/* The numbers come from the backend's recovery: a damaged device must not
 * trip an assertion, so they are clamped instead. */
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
    int rc = store->backend->find(store->impl, from_seq, false, NULL, NULL, NULL, 0, &info, NULL);
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
static int apply_deferred_limits(ne_store *store);

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

/* ---- Filters --------------------------------------------------------------- */

static bool raw_keys(const ne_store *store)
{
    return (store->flags & NE_STORE_RAW_KEYS) != 0;
}

static void literal_filter(ne_store_filter *f, const char *subject, size_t len)
{
    f->subject = subject;
    f->subject_len = len;
    f->literal = true;
    f->prefix = false;
}

/* Subjects: NULL or ">" match all, wildcards allowed. Raw keys: NULL or
 * ">" match all, a key ending in '>' matches the keys it prefixes, any
 * other matches itself. */
static int make_filter(const ne_store *store, ne_store_filter *f, const char *filter, size_t len)
{
    f->subject = NULL;
    f->subject_len = 0;
    f->literal = false;
    f->prefix = false;
    if (filter == NULL || (len == 1 && filter[0] == '>')) {
        return NE_OK;
    }
    if (raw_keys(store)) {
        if (len > NE_STORE_MAX_SUBJECT_BYTES) {
            return NE_ERR_INVALID;
        }
        f->subject = filter;
        if (len > 0 && filter[len - 1] == '>') {
            f->subject_len = len - 1;
            f->prefix = true;
        } else {
            f->subject_len = len;
            f->literal = true;
        }
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

static bool subject_valid_literal(const ne_store *store, const char *subject, size_t len)
{
    if (subject == NULL && len != 0) {
        return false;
    }
    if (raw_keys(store)) {
        return len <= NE_STORE_MAX_SUBJECT_BYTES;
    }
    return subject != NULL && len > 0 && len <= NE_STORE_MAX_SUBJECT_BYTES &&
           ne_subject_valid_literal(subject, len);
}

/* ---- Removal ------------------------------------------------------------- */

/* Removes one found record and keeps every count right. Removing the first
 * message moves the floor instead of writing a tombstone: a device log then
 * only has to remember one number. */
static int remove_found(ne_store *store, const ne_store_rec_info *info, bool erase)
{
    bool front = info->seq == store->state.first_seq;
    int rc = erase ? store->backend->erase(store->impl, info)
                   : store->backend->remove(store->impl, info, !front);
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
        return store->backend->set_floor(store->impl, store->state.first_seq,
                                         store->state.last_seq + 1, false);
    }
    return NE_OK;
}

static int remove_record(ne_store *store, const ne_store_rec_info *info)
{
    return remove_found(store, info, false);
}

static int find_oldest(ne_store *store, ne_store_rec_info *info)
{
    int rc = store->backend->find(store->impl, store->state.first_seq, false, NULL, NULL, NULL, 0,
                                  info, NULL);
    return rc == NE_ERR_NOT_FOUND ? NE_ERR_CORRUPT : rc;
}

static int evict_oldest(ne_store *store)
{
    NE_ASSERT(store->state.msgs > 0);
    ne_store_rec_info info;
    int rc = find_oldest(store, &info);
    if (rc != NE_OK) {
        return rc;
    }
    return remove_record(store, &info);
}

/* The oldest message of one subject. */
static int find_oldest_of_subject(ne_store *store, const char *subject, size_t len, uint64_t hash,
                                  ne_store_rec_info *info)
{
    int32_t i = ne_store_subjects_find(store, hash, subject, len);
    uint64_t from = store->state.first_seq;
    if (i >= 0 && store->subjects[i].first_seq > from) {
        from = store->subjects[i].first_seq;
    }
    ne_store_filter f;
    literal_filter(&f, subject, len);
    int rc = store->backend->find(store->impl, from, false, &f, NULL, NULL, 0, info, NULL);
    return rc == NE_ERR_NOT_FOUND ? NE_ERR_CORRUPT : rc;
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

static bool msg_valid(const ne_store *store, const ne_store_msg *msg)
{
    if ((msg->headers == NULL && msg->headers_len != 0) ||
        (msg->payload == NULL && msg->payload_len != 0)) {
        return false;
    }
    return subject_valid_literal(store, msg->subject, msg->subject_len);
}

static uint32_t subject_msgs(const ne_store *store, int32_t entry)
{
    return entry >= 0 ? store->subjects[entry].msgs : 0;
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
    if (tracks_subjects(store) && entry < 0 &&
        !ne_store_subjects_make_room(store, store->state.num_subjects, msg->subject_len)) {
        return refuse(store, NE_STORE_LIMIT_SUBJECTS, NE_ERR_FULL);
    }
    bool at_subject_limit =
        l->max_msgs_per_subject != 0 && subject_msgs(store, entry) >= l->max_msgs_per_subject;
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
 * room and the policy allows it: as many as the backend says can make room
 * (its oldest block's), never any when removing them cannot help. Bounded:
 * each retry follows removals. A replaced record that leaves as one of the
 * oldest needs no replacing. */
static int store_with_room(ne_store *store, const ne_store_msg *msg, uint64_t seq, uint64_t hash,
                           ne_store_rec_info **replace)
{
    uint64_t bound = store->state.msgs + 1;
    for (uint64_t attempt = 0; attempt <= bound; attempt++) {
        int rc = store->backend->append(store->impl, msg, seq, hash, *replace);
        if (rc != NE_ERR_FULL) {
            if (rc == NE_ERR_TOO_BIG) {
                return refuse(store, NE_STORE_LIMIT_MSG_SIZE, rc);
            }
            return rc;
        }
        uint64_t up_to = store->limits.discard == NE_STORE_DISCARD_OLD && store->state.msgs > 0
                             ? store->backend->room_by_dropping(store->impl)
                             : 0;
        uint64_t dropped = 0;
        for (uint64_t i = 0; i < bound && store->state.msgs > 0; i++) {
            ne_store_rec_info info;
            rc = find_oldest(store, &info);
            if (rc != NE_OK) {
                return rc;
            }
            if (info.seq > up_to) {
                break;
            }
            if (*replace != NULL && (*replace)->seq == info.seq) {
                *replace = NULL;
            }
            rc = remove_record(store, &info);
            if (rc != NE_OK) {
                return rc;
            }
            dropped++;
        }
        if (dropped == 0) {
            return refuse(store, NE_STORE_LIMIT_SPACE, NE_ERR_FULL);
        }
    }
    return refuse(store, NE_STORE_LIMIT_SPACE, NE_ERR_FULL);
}

static int enforce_subject_limit(ne_store *store, const char *subject, size_t len, uint64_t hash)
{
    uint32_t max = store->limits.max_msgs_per_subject;
    if (max == 0 || !tracks_subjects(store)) {
        return NE_OK;
    }
    for (uint64_t guard = 0; guard <= store->state.msgs; guard++) {
        int32_t i = ne_store_subjects_find(store, hash, subject, len);
        if (i < 0 || store->subjects[i].msgs <= max) {
            return NE_OK;
        }
        ne_store_rec_info info;
        int rc = find_oldest_of_subject(store, subject, len, hash, &info);
        if (rc == NE_OK) {
            rc = remove_record(store, &info);
        }
        if (rc == NE_ERR_FULL) {
            /* The subject held more than its limit (a deferred one) and the
             * message just stored replaced only one: the rest waits for
             * room, the append stands. */
            store->limits_deferred = true;
            return NE_OK;
        }
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

/* Counts in the new message, and out the one it replaced. */
static int account_append(ne_store *store, const ne_store_msg *msg, uint64_t seq, uint64_t hash,
                          uint64_t bytes, const ne_store_rec_info *replaced)
{
    store->state.msgs++;
    store->state.bytes += bytes;
    store->state.last_seq = seq;
    store->state.last_ts_ns = msg->timestamp_ns;
    if (store->state.msgs == 1) {
        store->state.first_seq = seq;
        store->state.first_ts_ns = msg->timestamp_ns;
    }
    subject_count_add(store, hash, seq, msg->subject, msg->subject_len);
    if (replaced == NULL) {
        return NE_OK;
    }
    NE_ASSERT(store->state.msgs > 1 && store->state.bytes >= replaced->bytes);
    store->state.msgs--;
    store->state.bytes -= replaced->bytes;
    subject_count_remove(store, replaced->subject_hash, replaced->seq);
    if (replaced->seq != store->state.first_seq) {
        return NE_OK;
    }
    int rc = refresh_first(store, replaced->seq + 1);
    if (rc != NE_OK) {
        return rc;
    }
    return store->backend->set_floor(store->impl, store->state.first_seq, seq + 1, false);
}

static int append_common(ne_store *store, const ne_store_msg *msg, uint64_t seq)
{
    store->refused = NE_STORE_LIMIT_NONE;
    int failed = status(store);
    if (failed != NE_OK) {
        return failed;
    }
    if (!msg_valid(store, msg)) {
        return NE_ERR_INVALID;
    }
    int rc = apply_deferred_limits(store);
    if (rc != NE_OK) {
        return rc;
    }
    uint64_t bytes = ne_store_msg_bytes(msg->subject_len, msg->headers_len, msg->payload_len);
    uint64_t hash = ne_store_subject_hash(msg->subject, msg->subject_len);
    int32_t entry = ne_store_subjects_find(store, hash, msg->subject, msg->subject_len);
    rc = check_admission(store, msg, bytes, entry);
    if (rc != NE_OK) {
        return rc;
    }
    /* A subject at its limit replaces its oldest message in the same record,
     * so that a power cut keeps both changes or neither. */
    ne_store_rec_info old;
    ne_store_rec_info *replace = NULL;
    uint32_t per_subject = store->limits.max_msgs_per_subject;
    if (per_subject != 0 && subject_msgs(store, entry) >= per_subject) {
        rc = find_oldest_of_subject(store, msg->subject, msg->subject_len, hash, &old);
        if (rc != NE_OK) {
            return rc;
        }
        replace = &old;
    }
    rc = store_with_room(store, msg, seq, hash, &replace);
    if (rc != NE_OK) {
        return rc;
    }
    rc = account_append(store, msg, seq, hash, bytes, replace);
    if (rc != NE_OK) {
        return rc;
    }
    rc = enforce_subject_limit(store, msg->subject, msg->subject_len, hash);
    if (rc != NE_OK) {
        return rc;
    }
    return enforce_total_limits(store);
}

int ne_store_append(ne_store *store, const ne_store_msg *msg, uint64_t *seq_out)
{
    NE_ASSERT(store != NULL && msg != NULL);
    uint64_t seq = store->state.last_seq + 1;
    int rc = append_common(store, msg, seq);
    if (rc == NE_OK && seq_out != NULL) {
        *seq_out = seq;
    }
    return rc;
}

int ne_store_append_at(ne_store *store, const ne_store_msg *msg, uint64_t seq)
{
    NE_ASSERT(store != NULL && msg != NULL);
    if (seq <= store->state.last_seq || seq == UINT64_MAX) {
        return NE_ERR_RANGE;
    }
    return append_common(store, msg, seq);
}

int ne_store_skip(ne_store *store, uint64_t count, uint64_t *first_out)
{
    NE_ASSERT(store != NULL);
    int failed = status(store);
    if (failed != NE_OK) {
        return failed;
    }
    if (count == 0 || count > UINT64_MAX - 2 - store->state.last_seq) {
        return NE_ERR_RANGE;
    }
    uint64_t first = store->state.last_seq + 1;
    uint64_t next = first + count;
    /* The floor stays where removals left it: skipped sequences were never
     * stored, so a truncation may go back into them. */
    uint64_t floor = store->state.msgs == 0 ? 0 : store->state.first_seq;
    int rc = store->backend->set_floor(store->impl, floor, next, false);
    if (rc != NE_OK) {
        return rc;
    }
    store->state.last_seq = next - 1;
    if (store->state.msgs == 0) {
        store->state.first_seq = next;
    }
    if (first_out != NULL) {
        *first_out = first;
    }
    return NE_OK;
}

ne_store_limit ne_store_refused_by(const ne_store *store)
{
    return store->refused;
}

/* ---- Lookups ------------------------------------------------------------- */

int ne_store_load(ne_store *store, uint64_t seq, ne_store_msg *out, void *buf, size_t buf_bytes)
{
    NE_ASSERT(store != NULL && out != NULL);
    int failed = status(store);
    if (failed != NE_OK) {
        return failed;
    }
    if (seq < store->state.first_seq || seq > store->state.last_seq || store->state.msgs == 0) {
        return NE_ERR_NOT_FOUND;
    }
    ne_store_rec_info info;
    return store->backend->find(store->impl, seq, true, NULL, out, buf, buf_bytes, &info, NULL);
}

void ne_store_reader_init(ne_store_reader *reader)
{
    memset(reader, 0, sizeof(*reader));
}

int ne_store_read_next(ne_store *store, ne_store_reader *reader, uint64_t from_seq,
                       const char *filter, size_t filter_len, ne_store_msg *out, void *buf,
                       size_t buf_bytes)
{
    NE_ASSERT(store != NULL && out != NULL);
    int failed = status(store);
    if (failed != NE_OK) {
        return failed;
    }
    ne_store_filter f;
    int rc = make_filter(store, &f, filter, filter_len);
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
    return store->backend->find(store->impl, from_seq, false, &f, out, buf, buf_bytes, &info,
                                reader);
}

int ne_store_load_next(ne_store *store, uint64_t from_seq, const char *filter, size_t filter_len,
                       ne_store_msg *out, void *buf, size_t buf_bytes)
{
    return ne_store_read_next(store, NULL, from_seq, filter, filter_len, out, buf, buf_bytes);
}

/* Calls back for each message matching f from `from`, in order, until fn
 * says stop (fn returns 1) or there are no more. Bounded by the messages. */
typedef int (*walk_fn)(void *ctx, const ne_store_rec_info *info);
static int walk(ne_store *store, const ne_store_filter *f, uint64_t from, walk_fn fn, void *ctx)
{
    ne_store_reader reader;
    ne_store_reader_init(&reader);
    uint64_t bound = store->state.msgs; /* fn may remove what it is shown */
    for (uint64_t guard = 0; guard <= bound; guard++) {
        ne_store_rec_info info;
        int rc = store->backend->find(store->impl, from, false, f, NULL, NULL, 0, &info, &reader);
        if (rc == NE_ERR_NOT_FOUND) {
            return NE_OK;
        }
        if (rc != NE_OK) {
            return rc;
        }
        rc = fn(ctx, &info);
        if (rc != NE_OK) {
            return rc == 1 ? NE_OK : rc;
        }
        from = info.seq + 1;
    }
    return NE_OK;
}

/* What walks below count. */
typedef struct tally {
    uint64_t below; /* stop at this sequence (0: never) */
    uint64_t count;
    uint64_t first;
    uint64_t last;
} tally;

static int tally_one(void *ctx, const ne_store_rec_info *info)
{
    tally *t = ctx;
    if (t->below != 0 && info->seq >= t->below) {
        return 1;
    }
    if (t->count == 0) {
        t->first = info->seq;
    }
    t->last = info->seq;
    t->count++;
    return NE_OK;
}

/* Messages matching f in [from, below) (below 0: to the end). */
static int count_range(ne_store *store, const ne_store_filter *f, uint64_t from, uint64_t below,
                       tally *t)
{
    memset(t, 0, sizeof(*t));
    t->below = below;
    return walk(store, f, from, tally_one, t);
}

/* Makes entry i's last_seq exact again after its newest message left. */
static int subject_refresh_last(ne_store *store, int32_t i, const ne_store_filter *f)
{
    ne_store_subject *e = &store->subjects[i];
    if ((e->flags & NE_STORE_SUBJECT_LAST_STALE) == 0) {
        return NE_OK;
    }
    uint64_t from = e->first_seq > store->state.first_seq ? e->first_seq : store->state.first_seq;
    tally t;
    int rc = count_range(store, f, from, 0, &t);
    if (rc != NE_OK) {
        return rc;
    }
    if (t.count == 0) {
        return NE_ERR_CORRUPT;
    }
    e = &store->subjects[i];
    e->last_seq = t.last;
    e->flags &= (uint16_t)~NE_STORE_SUBJECT_LAST_STALE;
    return NE_OK;
}

/* Makes entry i's first_seq exact again after its oldest message left. */
static int subject_refresh_first(ne_store *store, int32_t i, const ne_store_filter *f)
{
    ne_store_subject *e = &store->subjects[i];
    if ((e->flags & NE_STORE_SUBJECT_FIRST_STALE) == 0) {
        return NE_OK;
    }
    uint64_t from = e->first_seq > store->state.first_seq ? e->first_seq : store->state.first_seq;
    ne_store_rec_info info;
    int rc = store->backend->find(store->impl, from, false, f, NULL, NULL, 0, &info, NULL);
    if (rc != NE_OK) {
        return rc == NE_ERR_NOT_FOUND ? NE_ERR_CORRUPT : rc;
    }
    e = &store->subjects[i];
    e->first_seq = info.seq;
    e->flags &= (uint16_t)~NE_STORE_SUBJECT_FIRST_STALE;
    return NE_OK;
}

/* Both ends of entry i exact; the filter is its own subject. */
static int subject_exact(ne_store *store, int32_t i, const char *subject, size_t len)
{
    ne_store_filter f;
    literal_filter(&f, subject, len);
    int rc = subject_refresh_first(store, i, &f);
    return rc == NE_OK ? subject_refresh_last(store, i, &f) : rc;
}

/* The newest message of a subject by walking its messages: used when the
 * subject is not in the table. */
static int scan_last(ne_store *store, const ne_store_filter *f, uint64_t *last_seq)
{
    tally t;
    int rc = count_range(store, f, store->state.first_seq, 0, &t);
    if (rc != NE_OK) {
        return rc;
    }
    *last_seq = t.last;
    return t.count > 0 ? NE_OK : NE_ERR_NOT_FOUND;
}

int ne_store_load_last(ne_store *store, const char *subject, size_t subject_len, ne_store_msg *out,
                       void *buf, size_t buf_bytes)
{
    NE_ASSERT(store != NULL && out != NULL);
    int failed = status(store);
    if (failed != NE_OK) {
        return failed;
    }
    if (!subject_valid_literal(store, subject, subject_len)) {
        return NE_ERR_INVALID;
    }
    ne_store_filter f;
    literal_filter(&f, subject, subject_len);
    ne_store_rec_info info;
    uint64_t hash = ne_store_subject_hash(subject, subject_len);
    int32_t i = ne_store_subjects_find(store, hash, subject, subject_len);
    if (i >= 0) {
        int rc = subject_refresh_last(store, i, &f);
        if (rc != NE_OK) {
            return rc;
        }
        rc = store->backend->find(store->impl, store->subjects[i].last_seq, true, &f, out, buf,
                                  buf_bytes, &info, NULL);
        if (rc != NE_ERR_NOT_FOUND) {
            return rc;
        }
        /* Another subject with the same hash: fall back to a scan. */
    } else if (store->state.untracked_msgs == 0 && tracks_subjects(store)) {
        return NE_ERR_NOT_FOUND;
    }
    uint64_t last = 0;
    int rc = scan_last(store, &f, &last);
    if (rc != NE_OK) {
        return rc;
    }
    return store->backend->find(store->impl, last, true, &f, out, buf, buf_bytes, &info, NULL);
}

int ne_store_subject_state(ne_store *store, const char *subject, size_t subject_len, uint64_t *msgs,
                           uint64_t *last_seq)
{
    NE_ASSERT(store != NULL && msgs != NULL && last_seq != NULL);
    *msgs = 0;
    *last_seq = 0;
    int failed = status(store);
    if (failed != NE_OK) {
        return failed;
    }
    if (!subject_valid_literal(store, subject, subject_len)) {
        return NE_ERR_INVALID;
    }
    uint64_t hash = ne_store_subject_hash(subject, subject_len);
    int32_t i = ne_store_subjects_find(store, hash, subject, subject_len);
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

int ne_store_seq_for_time(ne_store *store, uint64_t ts_ns, uint64_t *seq_out)
{
    NE_ASSERT(store != NULL && seq_out != NULL);
    int failed = status(store);
    if (failed != NE_OK) {
        return failed;
    }
    *seq_out = store->state.last_seq + 1;
    if (store->state.msgs == 0) {
        return NE_OK;
    }
    ne_store_rec_info info;
    int rc = store->backend->find_time(store->impl, store->state.first_seq, ts_ns, false, &info);
    if (rc == NE_OK) {
        *seq_out = info.seq;
    }
    return rc == NE_ERR_NOT_FOUND ? NE_OK : rc;
}

/* ---- Counting ------------------------------------------------------------- */

/* Calls fn for every table entry whose subject matches f (all of them when
 * f matches everything). NE_ERR_UNSUPPORTED when a wildcard needs the
 * subjects' bytes and there is no arena. Entries do not move while fn runs
 * unless fn removes (none below does). Bounded by the table's capacity. */
typedef int (*entry_fn)(ne_store *store, void *ctx, int32_t index);
static int for_each_entry(ne_store *store, const ne_store_filter *f, entry_fn fn, void *ctx)
{
    bool all = f == NULL || f->subject == NULL;
    if (!all && !f->literal && !has_text(store)) {
        return NE_ERR_UNSUPPORTED;
    }
    if (f != NULL && f->literal) {
        uint64_t hash = ne_store_subject_hash(f->subject, f->subject_len);
        int32_t i = ne_store_subjects_find(store, hash, f->subject, f->subject_len);
        return i >= 0 ? fn(store, ctx, i) : NE_OK;
    }
    for (uint32_t i = 0; i < store->subject_capacity; i++) {
        if (store->subjects[i].hash == 0) {
            continue;
        }
        size_t len;
        const char *text = ne_store_subjects_text(store, i, &len);
        if (!all && (text == NULL || !ne_store_filter_matches(f, text, len))) {
            continue;
        }
        int rc = fn(store, ctx, (int32_t)i);
        if (rc != NE_OK) {
            return rc;
        }
    }
    return NE_OK;
}

/* Exactness of an entry needs its subject's bytes (or, without them, the
 * literal filter that found it). */
static int entry_exact(ne_store *store, int32_t i, const ne_store_filter *f)
{
    size_t len;
    const char *text = ne_store_subjects_text(store, (uint32_t)i, &len);
    if (text != NULL) {
        /* The bytes live in the arena, which refreshing does not touch. */
        return subject_exact(store, i, text, len);
    }
    NE_ASSERT(f != NULL && f->literal);
    return subject_exact(store, i, f->subject, f->subject_len);
}

typedef struct filtered {
    const ne_store_filter *f;
    uint64_t from;
    ne_store_simple_state st;
    bool last_per_subject;
} filtered;

static void widen(ne_store_simple_state *st, uint64_t msgs, uint64_t first, uint64_t last)
{
    if (msgs == 0) {
        return;
    }
    if (st->msgs == 0 || first < st->first_seq) {
        st->first_seq = first;
    }
    if (last > st->last_seq) {
        st->last_seq = last;
    }
    st->msgs += msgs;
}

/* One subject's share of a filtered state from `from`: all of it, none, or
 * (straddling) counted by reading the shorter side of `from`. */
static int filtered_entry(ne_store *store, void *ctx, int32_t i)
{
    filtered *q = ctx;
    int rc = entry_exact(store, i, q->f);
    if (rc != NE_OK) {
        return rc;
    }
    const ne_store_subject *e = &store->subjects[i];
    if (e->last_seq < q->from) {
        return NE_OK;
    }
    if (q->last_per_subject) {
        widen(&q->st, 1, e->last_seq, e->last_seq);
        return NE_OK;
    }
    if (e->first_seq >= q->from) {
        widen(&q->st, e->msgs, e->first_seq, e->last_seq);
        return NE_OK;
    }
    size_t len;
    const char *text = ne_store_subjects_text(store, (uint32_t)i, &len);
    ne_store_filter lit;
    if (text != NULL) {
        literal_filter(&lit, text, len);
    } else {
        lit = *q->f;
    }
    uint64_t first = e->first_seq;
    uint64_t last = e->last_seq;
    uint32_t msgs = e->msgs;
    tally t;
    if (q->from - first <= last - q->from) {
        /* Fewer sequences below from: count those, the rest are above. */
        rc = count_range(store, &lit, first, q->from, &t);
        if (rc != NE_OK) {
            return rc;
        }
        uint64_t above = msgs > t.count ? msgs - t.count : 0;
        if (above == 0) {
            return NE_OK;
        }
        ne_store_rec_info info;
        rc = store->backend->find(store->impl, q->from, false, &lit, NULL, NULL, 0, &info, NULL);
        if (rc != NE_OK) {
            return rc == NE_ERR_NOT_FOUND ? NE_ERR_CORRUPT : rc;
        }
        widen(&q->st, above, info.seq, last);
        return NE_OK;
    }
    rc = count_range(store, &lit, q->from, 0, &t);
    if (rc != NE_OK) {
        return rc;
    }
    widen(&q->st, t.count, t.first, t.last);
    return NE_OK;
}

static int filtered_query(ne_store *store, uint64_t from_seq, const char *filter, size_t filter_len,
                          bool last_per_subject, ne_store_simple_state *out)
{
    memset(out, 0, sizeof(*out));
    int failed = status(store);
    if (failed != NE_OK) {
        return failed;
    }
    ne_store_filter f;
    int rc = make_filter(store, &f, filter, filter_len);
    if (rc != NE_OK) {
        return rc;
    }
    if (store->state.msgs == 0 || from_seq > store->state.last_seq) {
        return NE_OK;
    }
    if (from_seq < store->state.first_seq) {
        from_seq = store->state.first_seq;
    }
    bool all = f.subject == NULL;
    if (!last_per_subject && all && from_seq == store->state.first_seq) {
        /* Everything: the state says it when the last sequence is a message. */
        out->msgs = store->state.msgs;
        out->first_seq = store->state.first_seq;
        out->last_seq = store->state.last_seq;
        ne_store_rec_info info;
        rc = store->backend->find(store->impl, store->state.last_seq, true, NULL, NULL, NULL, 0,
                                  &info, NULL);
        if (rc == NE_OK) {
            return NE_OK;
        }
        memset(out, 0, sizeof(*out));
        /* The last sequence was removed: fall through to a count. */
    }
    if (!tracks_subjects(store) || store->state.untracked_msgs > 0 ||
        (!all && !f.literal && !has_text(store) && !last_per_subject)) {
        if (last_per_subject) {
            return NE_ERR_UNSUPPORTED;
        }
        /* The table does not cover every message: read them. */
        tally t;
        rc = count_range(store, all ? NULL : &f, from_seq, 0, &t);
        if (rc == NE_OK) {
            out->msgs = t.count;
            out->first_seq = t.first;
            out->last_seq = t.last;
        }
        return rc;
    }
    filtered q = {.f = &f, .from = from_seq, .last_per_subject = last_per_subject};
    rc = for_each_entry(store, &f, filtered_entry, &q);
    *out = q.st;
    return rc;
}

int ne_store_filtered_state(ne_store *store, uint64_t from_seq, const char *filter,
                            size_t filter_len, ne_store_simple_state *out)
{
    NE_ASSERT(store != NULL && out != NULL);
    return filtered_query(store, from_seq, filter, filter_len, false, out);
}

int ne_store_num_pending(ne_store *store, uint64_t from_seq, const char *filter, size_t filter_len,
                         bool last_per_subject, uint64_t *count)
{
    NE_ASSERT(store != NULL && count != NULL);
    ne_store_simple_state st;
    int rc = filtered_query(store, from_seq, filter, filter_len, last_per_subject, &st);
    *count = st.msgs;
    return rc;
}

typedef struct subjects_call {
    ne_store_subject_fn fn;
    void *ctx;
    const ne_store_filter *f;
} subjects_call;

static int subjects_entry(ne_store *store, void *ctx, int32_t i)
{
    subjects_call *c = ctx;
    int rc = entry_exact(store, i, c->f);
    if (rc != NE_OK) {
        return rc;
    }
    const ne_store_subject *e = &store->subjects[i];
    ne_store_simple_state st = {
        .msgs = e->msgs, .first_seq = e->first_seq, .last_seq = e->last_seq};
    size_t len;
    const char *text = ne_store_subjects_text(store, (uint32_t)i, &len);
    if (text == NULL) {
        text = c->f->subject;
        len = c->f->subject_len;
    }
    return c->fn(c->ctx, text, len, &st);
}

int ne_store_subjects_state(ne_store *store, const char *filter, size_t filter_len,
                            ne_store_subject_fn fn, void *ctx)
{
    NE_ASSERT(store != NULL && fn != NULL);
    int failed = status(store);
    if (failed != NE_OK) {
        return failed;
    }
    ne_store_filter f;
    int rc = make_filter(store, &f, filter, filter_len);
    if (rc != NE_OK) {
        return rc;
    }
    if (!tracks_subjects(store) || (!has_text(store) && !f.literal)) {
        return NE_ERR_UNSUPPORTED;
    }
    subjects_call c = {.fn = fn, .ctx = ctx, .f = &f};
    return for_each_entry(store, &f, subjects_entry, &c);
}

typedef struct newest {
    uint64_t seq;
    const ne_store_filter *f;
} newest;

static int newest_entry(ne_store *store, void *ctx, int32_t i)
{
    newest *n = ctx;
    int rc = entry_exact(store, i, n->f);
    if (rc == NE_OK && store->subjects[i].last_seq > n->seq) {
        n->seq = store->subjects[i].last_seq;
    }
    return rc;
}

int ne_store_load_last_matching(ne_store *store, const char *filter, size_t filter_len,
                                ne_store_msg *out, void *buf, size_t buf_bytes)
{
    NE_ASSERT(store != NULL && out != NULL);
    int failed = status(store);
    if (failed != NE_OK) {
        return failed;
    }
    ne_store_filter f;
    int rc = make_filter(store, &f, filter, filter_len);
    if (rc != NE_OK) {
        return rc;
    }
    if (f.literal) {
        return ne_store_load_last(store, f.subject, f.subject_len, out, buf, buf_bytes);
    }
    uint64_t last = 0;
    if (tracks_subjects(store) && store->state.untracked_msgs == 0 &&
        (f.subject == NULL || has_text(store))) {
        newest n = {.seq = 0, .f = &f};
        rc = for_each_entry(store, &f, newest_entry, &n);
        if (rc != NE_OK) {
            return rc;
        }
        if (n.seq == 0) {
            return NE_ERR_NOT_FOUND;
        }
        last = n.seq;
    } else {
        rc = scan_last(store, f.subject == NULL ? NULL : &f, &last);
        if (rc != NE_OK) {
            return rc;
        }
    }
    ne_store_rec_info info;
    return store->backend->find(store->impl, last, true, NULL, out, buf, buf_bytes, &info, NULL);
}

typedef struct gaps {
    ne_store_gap_fn fn;
    void *ctx;
    uint64_t expect;
} gaps;

static int gap_one(void *ctx, const ne_store_rec_info *info)
{
    gaps *g = ctx;
    if (info->seq > g->expect) {
        int rc = g->fn(g->ctx, g->expect, info->seq - g->expect);
        if (rc != NE_OK) {
            return rc;
        }
    }
    g->expect = info->seq + 1;
    return NE_OK;
}

int ne_store_deleted(ne_store *store, ne_store_gap_fn fn, void *ctx)
{
    NE_ASSERT(store != NULL && fn != NULL);
    int failed = status(store);
    if (failed != NE_OK) {
        return failed;
    }
    if (store->state.msgs == 0) {
        return NE_OK;
    }
    gaps g = {.fn = fn, .ctx = ctx, .expect = store->state.first_seq};
    int rc = walk(store, NULL, store->state.first_seq, gap_one, &g);
    if (rc == NE_OK && g.expect <= store->state.last_seq) {
        rc = fn(ctx, g.expect, store->state.last_seq + 1 - g.expect);
    }
    return rc;
}

/* ---- Delete, purge, expire ----------------------------------------------- */

static int delete_common(ne_store *store, uint64_t seq, bool erase)
{
    NE_ASSERT(store != NULL);
    int failed = status(store);
    if (failed != NE_OK) {
        return failed;
    }
    if (store->state.msgs == 0 || seq < store->state.first_seq || seq > store->state.last_seq) {
        return NE_ERR_NOT_FOUND;
    }
    ne_store_rec_info info;
    int rc = store->backend->find(store->impl, seq, true, NULL, NULL, NULL, 0, &info, NULL);
    if (rc != NE_OK) {
        return rc;
    }
    return remove_found(store, &info, erase);
}

int ne_store_delete(ne_store *store, uint64_t seq)
{
    int rc = delete_common(store, seq, false);
    subjects_settle(store);
    return rc;
}

int ne_store_erase(ne_store *store, uint64_t seq)
{
    int rc = delete_common(store, seq, true);
    subjects_settle(store);
    return rc;
}

static int purge_everything(ne_store *store, uint64_t next, uint64_t *purged)
{
    int rc = store->backend->set_floor(store->impl, next, next, true);
    if (rc != NE_OK) {
        return rc;
    }
    *purged += store->state.msgs;
    store->state.msgs = 0;
    store->state.bytes = 0;
    store->state.first_seq = next;
    store->state.first_ts_ns = 0;
    store->state.num_subjects = 0;
    store->state.untracked_msgs = 0;
    if (next - 1 > store->state.last_seq) {
        store->state.last_seq = next - 1;
    }
    ne_store_subjects_clear(store);
    return NE_OK;
}

/* Counts the messages matching f (for keep with a filter). */
static int count_matching(ne_store *store, const ne_store_filter *f, uint64_t *count)
{
    *count = 0;
    if (f->literal && store->state.untracked_msgs == 0 && tracks_subjects(store)) {
        uint64_t hash = ne_store_subject_hash(f->subject, f->subject_len);
        int32_t i = ne_store_subjects_find(store, hash, f->subject, f->subject_len);
        *count = i >= 0 ? store->subjects[i].msgs : 0;
        return NE_OK;
    }
    tally t;
    int rc = count_range(store, f, store->state.first_seq, 0, &t);
    *count = t.count;
    return rc;
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
        int rc = store->backend->find(store->impl, from, false, f, NULL, NULL, 0, &info, NULL);
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

static int purge_msgs(ne_store *store, const ne_store_purge_req *req, uint64_t *purged)
{
    NE_ASSERT(store != NULL);
    uint64_t dummy = 0;
    if (purged == NULL) {
        purged = &dummy;
    }
    *purged = 0;
    int failed = status(store);
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
    int rc = make_filter(store, &f, req->subject, req->subject_len);
    if (rc != NE_OK) {
        return rc;
    }
    if (store->state.msgs == 0) {
        return NE_OK;
    }
    bool everything = f.subject == NULL && req->keep == 0 &&
                      (req->up_to_seq == 0 || req->up_to_seq > store->state.last_seq);
    if (everything) {
        return purge_everything(store, store->state.last_seq + 1, purged);
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

static int set_first_seq(ne_store *store, uint64_t seq, uint64_t *purged)
{
    NE_ASSERT(store != NULL);
    uint64_t dummy = 0;
    if (purged == NULL) {
        purged = &dummy;
    }
    *purged = 0;
    int failed = status(store);
    if (failed != NE_OK) {
        return failed;
    }
    if (seq == 0 || seq == UINT64_MAX) {
        return NE_ERR_RANGE;
    }
    if (seq > store->state.last_seq) {
        /* Empty, and sequences go on from seq. */
        return purge_everything(store, seq, purged);
    }
    if (seq <= store->state.first_seq) {
        return NE_OK;
    }
    return purge_walk(store, NULL, seq, UINT64_MAX, purged);
}

/* What truncation takes out of the counts, before the backend drops the
 * records. A subject whose count drops to 0 keeps its entry (count 0)
 * until the backend has truncated (sweep_empty_subjects), so that a
 * truncation the backend refuses can count every record back
 * (recount_tail) without the subjects' text. */
static int uncount_one(void *ctx, const ne_store_rec_info *info)
{
    ne_store *store = ctx;
    NE_ASSERT(store->state.msgs > 0 && store->state.bytes >= info->bytes);
    store->state.msgs--;
    store->state.bytes -= info->bytes;
    int32_t i =
        tracks_subjects(store) ? ne_store_subjects_find_hash(store, info->subject_hash) : -1;
    if (i >= 0 && store->subjects[i].msgs == 1) {
        store->subjects[i].msgs = 0;
        return NE_OK;
    }
    subject_count_remove(store, info->subject_hash, info->seq);
    return NE_OK;
}

static void sweep_empty_subjects(ne_store *store)
{
    uint32_t i = 0;
    for (uint32_t guard = 0; guard < 2 * store->subject_capacity + 1 && i < store->subject_capacity;
         guard++) {
        ne_store_subject *e = &store->subjects[i];
        if (e->hash != 0 && e->msgs == 0) {
            /* The removal may shift a later entry into i: look again. */
            ne_store_subjects_remove(store, i);
            store->state.num_subjects--;
            continue;
        }
        i++;
    }
}

/* Counts back the records above last_seq (a truncation the backend
 * refused: they are all still there), `count` of them. */
static int recount_tail(ne_store *store, uint64_t last_seq, uint64_t count)
{
    ne_store_reader reader;
    ne_store_reader_init(&reader);
    uint64_t from = last_seq + 1;
    for (uint64_t k = 0; k < count; k++) {
        ne_store_rec_info info;
        int rc =
            store->backend->find(store->impl, from, false, NULL, NULL, NULL, 0, &info, &reader);
        if (rc != NE_OK) {
            return rc == NE_ERR_NOT_FOUND ? NE_ERR_CORRUPT : rc;
        }
        store->state.msgs++;
        store->state.bytes += info.bytes;
        int32_t i =
            tracks_subjects(store) ? ne_store_subjects_find_hash(store, info.subject_hash) : -1;
        if (i >= 0) {
            ne_store_subject *e = &store->subjects[i];
            if (e->msgs == 0 || info.seq < e->first_seq) {
                e->first_seq = info.seq;
            }
            if (e->msgs == 0 || info.seq > e->last_seq) {
                e->last_seq = info.seq;
            }
            e->msgs++;
        } else if (tracks_subjects(store)) {
            store->state.untracked_msgs++;
        }
        from = info.seq + 1;
    }
    return NE_OK;
}

static int truncate_tail(ne_store *store, uint64_t last_seq)
{
    NE_ASSERT(store != NULL);
    int failed = status(store);
    if (failed != NE_OK) {
        return failed;
    }
    if (last_seq >= store->state.last_seq) {
        return NE_OK;
    }
    /* Below the first message is refused; an empty store may go back as
     * far as its last removal (the sequences after it were skipped, or
     * lost with a power cut, never stored: the backend checks). */
    if (last_seq + 1 < store->state.first_seq && store->state.msgs > 0) {
        return NE_ERR_RANGE;
    }
    uint64_t msgs_before = store->state.msgs;
    int rc = walk(store, NULL, last_seq + 1, uncount_one, store);
    if (rc == NE_OK) {
        rc = store->backend->truncate(store->impl, last_seq);
    }
    if (rc != NE_OK) {
        /* Refused (no room: nothing changed), or failed: the records above
         * last_seq are counted back as they still are. */
        int rrc = recount_tail(store, last_seq, msgs_before - store->state.msgs);
        sweep_empty_subjects(store);
        return rc == NE_ERR_FULL && rrc != NE_OK ? rrc : rc;
    }
    sweep_empty_subjects(store);
    store->state.last_seq = last_seq;
    store->state.last_ts_ns = 0;
    if (store->state.msgs == 0) {
        store->state.first_seq = last_seq + 1;
        store->state.first_ts_ns = 0;
        return NE_OK;
    }
    ne_store_rec_info info;
    rc = store->backend->find(store->impl, last_seq, true, NULL, NULL, NULL, 0, &info, NULL);
    if (rc == NE_OK) {
        store->state.last_ts_ns = info.timestamp_ns;
    }
    return rc == NE_ERR_NOT_FOUND ? NE_OK : rc;
}

/* Messages leave by their own time, wherever they are: the backend skips
 * what cannot be that old. Bounded by the messages. */
static int expire_old(ne_store *store, uint64_t now_ns, uint64_t *expired)
{
    NE_ASSERT(store != NULL);
    uint64_t dummy = 0;
    if (expired == NULL) {
        expired = &dummy;
    }
    *expired = 0;
    int failed = status(store);
    if (failed != NE_OK) {
        return failed;
    }
    uint64_t max_age = store->limits.max_age_ns;
    if (max_age == 0 || now_ns < max_age) {
        return NE_OK;
    }
    uint64_t cutoff = now_ns - max_age;
    uint64_t from = store->state.first_seq;
    uint64_t bound = store->state.msgs;
    for (uint64_t i = 0; i < bound && store->state.msgs > 0; i++) {
        ne_store_rec_info info;
        int rc = store->backend->find_time(store->impl, from, cutoff, true, &info);
        if (rc == NE_ERR_NOT_FOUND) {
            break;
        }
        if (rc != NE_OK) {
            return rc;
        }
        rc = remove_record(store, &info);
        if (rc != NE_OK) {
            return rc;
        }
        (*expired)++;
        from = info.seq + 1;
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
                rc = store->backend->find(store->impl, from, false, NULL, NULL, NULL, 0, &info,
                                          NULL);
                if (rc != NE_OK || info.subject_hash == hash) {
                    break;
                }
                from = info.seq + 1;
            }
            if (rc != NE_OK) {
                return rc == NE_ERR_NOT_FOUND ? NE_ERR_CORRUPT : rc;
            }
            rc = remove_record(store, &info);
            if (rc == NE_ERR_FULL) {
                /* No room for the tombstone: this subject keeps its extra
                 * messages until there is (nothing was removed). */
                store->limits_deferred = true;
                break;
            }
            if (rc != NE_OK) {
                return rc;
            }
        }
    }
    return enforce_total_limits(store);
}

/* Applies max_msgs_per_subject again where a full device deferred it. */
static int apply_deferred_limits(ne_store *store)
{
    if (!store->limits_deferred) {
        return NE_OK;
    }
    store->limits_deferred = false;
    return apply_limits(store);
}

int ne_store_set_limits(ne_store *store, const ne_store_limits *limits)
{
    NE_ASSERT(store != NULL && limits != NULL);
    int failed = status(store);
    if (failed != NE_OK) {
        return failed;
    }
    if (!limits_valid(limits)) {
        return NE_ERR_INVALID;
    }
    store->limits = *limits;
    int rc = apply_limits(store);
    subjects_settle(store);
    return rc;
}

int ne_store_sync(ne_store *store)
{
    NE_ASSERT(store != NULL);
    int rc = apply_deferred_limits(store);
    if (rc != NE_OK) {
        return rc;
    }
    return store->backend->sync(store->impl);
}

int ne_store_compact(ne_store *store, uint32_t *reclaimed)
{
    NE_ASSERT(store != NULL);
    uint32_t dummy = 0;
    int rc = store->backend->compact(store->impl, reclaimed != NULL ? reclaimed : &dummy);
    if (rc != NE_OK) {
        return rc;
    }
    return apply_deferred_limits(store);
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

/* ---- Removals that may leave no subject ------------------------------------ */

int ne_store_purge(ne_store *store, const ne_store_purge_req *req, uint64_t *purged)
{
    int rc = purge_msgs(store, req, purged);
    subjects_settle(store);
    return rc;
}

int ne_store_set_first(ne_store *store, uint64_t seq, uint64_t *purged)
{
    int rc = set_first_seq(store, seq, purged);
    subjects_settle(store);
    return rc;
}

int ne_store_truncate(ne_store *store, uint64_t last_seq)
{
    int rc = truncate_tail(store, last_seq);
    subjects_settle(store);
    return rc;
}

int ne_store_expire(ne_store *store, uint64_t now_ns, uint64_t *expired)
{
    int rc = expire_old(store, now_ns, expired);
    subjects_settle(store);
    return rc;
}
