/* A storage device: opening (recovery, then the catalogue), the catalogue's
 * entries, creating, updating and deleting logs, attaching stream and KV
 * front ends, damage reports and counters.
 *
 * The catalogue is a KV log of its own (id 1, always slot 0): one record per
 * log under the key "cat.<id>", holding its kind, owner, name and the
 * caller's configuration bytes. A replaced record carries the removal of the
 * one it replaces, so a power cut leaves the old entry or the new one. A
 * deletion first marks the entry as deleting (synced), then erases the
 * log's blocks (synced), then removes the entry: an open that finds a
 * deleting entry finishes the job. */
#include "store/ne_store_dev.h"

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "core/ne_fmt.h"
#include "store/ne_store_format.h"
#include "store/ne_store_subjects.h"

#define CAT_VERSION 1u
#define CAT_LIVE 0u
#define CAT_DELETING 1u
#define CAT_FIXED_BYTES 16u
#define CAT_KEY_BYTES 16u
#define CAT_NAME_MAX 255u

/* ---- Geometry -------------------------------------------------------------- */

static int check_geometry(const ne_flash_geometry *g)
{
    uint32_t unit = g->program_bytes;
    if (unit == 0 || (unit & (unit - 1)) != 0 || unit > NE_STORE_PROGRAM_CHUNK_BYTES ||
        NE_STORE_PROGRAM_CHUNK_BYTES % unit != 0) {
        return NE_ERR_INVALID;
    }
    if (g->erase_bytes < 1024 || g->erase_bytes > 16u * 1024 * 1024 || g->erase_bytes % unit != 0 ||
        g->erase_bytes < 8 * unit || g->block_count < 4) {
        return NE_ERR_INVALID;
    }
    if (g->block_count > NE_STORE_MAX_BLOCKS) {
        return NE_ERR_TOO_BIG;
    }
    if ((uint64_t)g->block_count * g->erase_bytes > 0xffffffffull) {
        return NE_ERR_TOO_BIG;
    }
    return NE_OK;
}

static void derive_sizes(ne_store_dev *dev)
{
    uint32_t unit = dev->program_bytes;
    dev->data_start = sf_align_up(SF_BLOCK_HEADER_BYTES, unit);
    dev->data_end = dev->erase_bytes - sf_align_up(SF_FRAME_HEADER_BYTES + SF_COMMIT_BYTES, unit);
    uint32_t slack = 2 * (unit > 128 ? unit : 128);
    dev->slack_bytes = slack;
    uint32_t begin =
        sf_align8(SF_FRAME_HEADER_BYTES + SF_BEGIN_FIXED_BYTES + 8 * NE_STORE_COMPACT_MAX_VICTIMS);
    /* A record must fit a fresh block after its BEGIN, the slack and one
     * unit of padding, in append and compaction blocks alike. */
    int64_t room = (int64_t)dev->data_end - dev->data_start - begin - slack - unit;
    int64_t wbuf = (int64_t)NE_STORE_WRITE_BUFFER_BYTES - begin;
    int64_t max = room < wbuf ? room : wbuf;
    dev->max_frame_bytes = max > 0 ? (uint32_t)max & ~7u : 0;
}

/* ---- Catalogue records ----------------------------------------------------- */

static uint32_t name_hash(const char *name, size_t len)
{
    uint64_t h = ne_store_subject_hash(name, len);
    return (uint32_t)(h ^ (h >> 32));
}

static size_t cat_key(uint32_t id, char key[CAT_KEY_BYTES])
{
    char digits[10];
    size_t n = 0;
    for (uint32_t v = id; n == 0 || v != 0; v /= 10) {
        digits[n++] = (char)('0' + v % 10);
    }
    memcpy(key, "cat.", 4);
    for (size_t i = 0; i < n; i++) {
        key[4 + i] = digits[n - 1 - i];
    }
    return 4 + n;
}

/* Parses "cat.<id>"; 0 when the key is something else. */
static uint32_t cat_id(const char *key, size_t len)
{
    if (len < 5 || len > 14 || memcmp(key, "cat.", 4) != 0) {
        return 0;
    }
    uint64_t id = 0;
    for (size_t i = 4; i < len; i++) {
        if (key[i] < '0' || key[i] > '9') {
            return 0;
        }
        id = id * 10 + (uint64_t)(key[i] - '0');
    }
    return id > 0xffffffffull ? 0 : (uint32_t)id;
}

/* The decoded head of an entry's value. */
typedef struct cat_head {
    uint8_t kind;
    uint8_t state;
    uint32_t owner;
    uint32_t name_len;
    uint32_t config_len;
} cat_head;

static bool cat_decode(const uint8_t *v, size_t len, cat_head *h)
{
    if (len < CAT_FIXED_BYTES || v[0] != CAT_VERSION) {
        return false;
    }
    h->kind = v[1];
    h->state = v[2];
    h->owner = sf_get32(v + 4);
    h->name_len = sf_get16(v + 8);
    h->config_len = sf_get32(v + 12);
    return h->kind >= NE_STORE_KIND_STREAM && h->kind <= NE_STORE_KIND_RAFT &&
           h->state <= CAT_DELETING && h->name_len >= 1 && h->name_len <= CAT_NAME_MAX &&
           (uint64_t)CAT_FIXED_BYTES + h->name_len + h->config_len == len;
}

/* Writes the catalogue record of one log (replacing the one before) and
 * syncs. The record's value is its head and name (stored as the record's
 * header bytes, from the stack) followed by the configuration (its payload,
 * from the caller): the two are contiguous when loaded. */
static int cat_put(ne_store_dev *dev, uint32_t id, const cat_head *h, const char *name,
                   const void *config)
{
    size_t len = CAT_FIXED_BYTES + h->name_len + h->config_len;
    if (len > ne_store_max_msg_bytes(&dev->meta) - CAT_KEY_BYTES) {
        return NE_ERR_TOO_BIG;
    }
    uint8_t v[CAT_FIXED_BYTES + CAT_NAME_MAX];
    memset(v, 0, CAT_FIXED_BYTES);
    v[0] = CAT_VERSION;
    v[1] = h->kind;
    v[2] = h->state;
    sf_put32(v + 4, h->owner);
    sf_put16(v + 8, (uint16_t)h->name_len);
    sf_put32(v + 12, h->config_len);
    memcpy(v + CAT_FIXED_BYTES, name, h->name_len);
    char key[CAT_KEY_BYTES];
    size_t key_len = cat_key(id, key);
    ne_store_msg m = {.subject = key,
                      .subject_len = key_len,
                      .headers = v,
                      .headers_len = CAT_FIXED_BYTES + h->name_len,
                      .payload = config,
                      .payload_len = h->config_len};
    int rc = ne_store_append(&dev->meta, &m, NULL);
    if (rc != NE_OK) {
        return rc;
    }
    return ne_store_sync(&dev->meta);
}

/* The next log id ("next", a u32): written with each creation, so that
 * the id of a deleted log is not given again even once nothing of it is
 * left to see. Synced with the entry that follows it. */
#define NEXT_KEY "next"

static int next_put(ne_store_dev *dev, uint32_t next_id)
{
    uint8_t v[4];
    sf_put32(v, next_id);
    ne_store_msg m = {
        .subject = NEXT_KEY, .subject_len = sizeof(NEXT_KEY) - 1, .payload = v, .payload_len = 4};
    return ne_store_append(&dev->meta, &m, NULL);
}

/* The value of a loaded catalogue record: its header bytes and payload,
 * contiguous in the load buffer. */
static const uint8_t *cat_value(const ne_store_msg *m, size_t *len)
{
    *len = m->headers_len + m->payload_len;
    return m->headers != NULL ? m->headers : m->payload;
}

/* Loads a log's catalogue record into buf; *h its head, *value its bytes. */
static int cat_load(ne_store_dev *dev, uint32_t id, void *buf, size_t buf_bytes, cat_head *h,
                    const uint8_t **value, size_t *value_len)
{
    char key[CAT_KEY_BYTES];
    size_t key_len = cat_key(id, key);
    ne_store_msg m;
    int rc = ne_store_load_last(&dev->meta, key, key_len, &m, buf, buf_bytes);
    if (rc != NE_OK) {
        *value_len = m.subject_len + m.headers_len + m.payload_len;
        return rc;
    }
    size_t vlen;
    const uint8_t *v = cat_value(&m, &vlen);
    if (!cat_decode(v, vlen, h)) {
        sf_report(dev, NE_STORE_DAMAGE_CATALOGUE, 0xffffffffu, id, 1);
        return NE_ERR_CORRUPT;
    }
    *value = v;
    *value_len = vlen;
    return NE_OK;
}

/* ---- Opening ---------------------------------------------------------------- */

static int meta_attach(ne_store_dev *dev)
{
    ne_store_slot *s = &dev->slots[SF_META_SLOT];
    if (s->id == 0) {
        s->id = SF_META_LOG_ID;
        s->next_seq = 1;
    }
    NE_ASSERT(s->id == SF_META_LOG_ID);
    s->kind = NE_STORE_KIND_KV;
    s->flags |= SF_SLOT_CATALOGUED;
    ne_store_config cfg = {.subjects = dev->meta_keys,
                           .subject_capacity = NE_STORE_META_KEYS,
                           .flags = NE_STORE_RAW_KEYS};
    cfg.limits.max_msgs_per_subject = 1;
    return sf_attach(dev, s, &dev->meta, &cfg);
}

/* What the open learns from each catalogue record. */
typedef struct cat_scan {
    ne_store_dev *dev;
    uint32_t deleting[NE_STORE_MAX_LOGS];
    uint32_t deleting_count;
    uint32_t max_id;
} cat_scan;

static int cat_note(void *ctx, uint64_t seq, uint64_t ts_ns, const char *key, size_t key_len,
                    uint32_t bytes)
{
    (void)ts_ns;
    (void)bytes;
    cat_scan *cs = ctx;
    ne_store_dev *dev = cs->dev;
    if (key_len == sizeof(NEXT_KEY) - 1 && memcmp(key, NEXT_KEY, key_len) == 0) {
        ne_store_msg m;
        int rc = ne_store_load(&dev->meta, seq, &m, dev->scratch, sizeof(dev->scratch));
        if (rc == NE_OK && m.payload_len == 4) {
            uint32_t next = sf_get32(m.payload);
            cs->max_id = next - 1 > cs->max_id ? next - 1 : cs->max_id;
        }
        return rc == NE_OK || rc == NE_ERR_CORRUPT || rc == NE_ERR_TOO_BIG ? NE_OK : rc;
    }
    uint32_t id = cat_id(key, key_len);
    if (id <= SF_META_LOG_ID) {
        return NE_OK;
    }
    cs->max_id = id > cs->max_id ? id : cs->max_id;
    /* The value's head, read through the store (it checks the CRC). The
     * buffer is the device's scratch: the record is at most one catalogue
     * entry's head away from what is needed. */
    ne_store_msg m;
    int rc = ne_store_load(&dev->meta, seq, &m, dev->scratch, sizeof(dev->scratch));
    if (rc == NE_ERR_TOO_BIG) {
        /* A large configuration: read it whole. */
        rc = ne_store_load(&dev->meta, seq, &m, dev->cat_buf, sizeof(dev->cat_buf));
    }
    if (rc != NE_OK && rc != NE_ERR_CORRUPT && rc != NE_ERR_TOO_BIG) {
        return rc;
    }
    cat_head h;
    size_t vlen = 0;
    const uint8_t *v = rc == NE_OK ? cat_value(&m, &vlen) : NULL;
    if (v == NULL || !cat_decode(v, vlen, &h)) {
        sf_report(dev, NE_STORE_DAMAGE_CATALOGUE, 0xffffffffu, id, 1);
        return NE_OK;
    }
    ne_store_slot *s = sf_slot_by_id(dev, id);
    if (s == NULL) {
        for (uint32_t i = 1; i < NE_STORE_MAX_LOGS && s == NULL; i++) {
            if (dev->slots[i].id == 0) {
                s = &dev->slots[i];
                s->id = id;
                s->next_seq = 1;
            }
        }
        if (s == NULL) {
            return NE_ERR_TOO_BIG;
        }
    }
    s->kind = h.kind;
    s->owner = h.owner;
    s->name_hash = name_hash((const char *)v + CAT_FIXED_BYTES, h.name_len);
    s->flags |= SF_SLOT_CATALOGUED;
    if (h.state == CAT_DELETING) {
        cs->deleting[cs->deleting_count++] = id;
    }
    return NE_OK;
}

static void free_slot(ne_store_slot *s)
{
    uint16_t index = s->index;
    ne_store_dev *dev = s->dev;
    memset(s, 0, sizeof(*s));
    s->dev = dev;
    s->index = index;
    s->head = -1;
    s->newest_append = -1;
    s->floor_cap = UINT64_MAX;
}

int sf_drop_blocks(ne_store_dev *dev, uint32_t log_id)
{
    ne_store_slot *s = sf_slot_by_id(dev, log_id);
    if (s != NULL) {
        if (dev->wslot == s->index) {
            int rc = sf_flush(dev);
            if (rc != NE_OK) {
                return rc;
            }
            dev->wslot = SF_NONE;
        }
        s->head = -1;
    }
    for (uint32_t i = 0; i < dev->block_count; i++) {
        ne_store_block *b = &dev->blocks[i];
        if (b->state == SF_STATE_DATA && b->log_id == log_id) {
            int rc = sf_erase_block(dev, i);
            if (rc != NE_OK) {
                return rc;
            }
        }
    }
    sf_rebuild_order(dev);
    return sf_flash_sync(dev);
}

/* Finishes a deletion the open found half done: the entry said deleting. */
static int finish_delete(ne_store_dev *dev, uint32_t id)
{
    int rc = sf_drop_blocks(dev, id);
    if (rc != NE_OK) {
        return rc;
    }
    /* The small records kept for it in the catalogue ("l.<id>.*": a RAFT
     * log's term, vote and snapshot) go first, its entry last. */
    char key[CAT_KEY_BYTES + 2];
    size_t key_len = cat_key(id, key);
    char prefix[CAT_KEY_BYTES + 2];
    prefix[0] = 'l';
    memcpy(prefix + 1, key + 3, key_len - 3);
    prefix[key_len - 2] = '.';
    prefix[key_len - 1] = '>';
    ne_store_purge_req owned = {.subject = prefix, .subject_len = key_len};
    rc = ne_store_purge(&dev->meta, &owned, NULL);
    ne_store_purge_req req = {.subject = key, .subject_len = key_len};
    if (rc == NE_OK) {
        rc = ne_store_purge(&dev->meta, &req, NULL);
    }
    if (rc == NE_OK) {
        rc = ne_store_sync(&dev->meta);
    }
    ne_store_slot *s = sf_slot_by_id(dev, id);
    if (rc == NE_OK && s != NULL) {
        free_slot(s);
    }
    return rc;
}

static int open_catalogue(ne_store_dev *dev)
{
    sf_rebuild_order(dev);
    int rc = meta_attach(dev);
    if (rc != NE_OK) {
        return rc;
    }
    static const cat_scan empty = {0};
    cat_scan cs = empty;
    cs.dev = dev;
    rc = sf_walk_live(dev, &dev->slots[SF_META_SLOT], cat_note, &cs);
    if (rc != NE_OK) {
        return rc;
    }
    uint32_t max_id = cs.max_id > SF_META_LOG_ID ? cs.max_id : SF_META_LOG_ID;
    for (uint32_t i = 1; i < NE_STORE_MAX_LOGS; i++) {
        ne_store_slot *s = &dev->slots[i];
        max_id = s->id > max_id ? s->id : max_id;
        if (s->id != 0 && !(s->flags & SF_SLOT_CATALOGUED)) {
            /* Blocks of a log no entry names: rot in the catalogue, or a
             * bug. Kept as they are, never compacted or erased. */
            s->flags |= SF_SLOT_ORPHAN;
            sf_report(dev, NE_STORE_DAMAGE_ORPHAN, 0xffffffffu, s->id, s->data_blocks);
        }
    }
    dev->next_log_id = max_id + 1;
    for (uint32_t i = 0; i < cs.deleting_count; i++) {
        rc = finish_delete(dev, cs.deleting[i]);
        if (rc != NE_OK) {
            return rc;
        }
    }
    rc = sf_erase_retired(dev);
    sf_rebuild_order(dev);
    return rc;
}

int ne_store_dev_open(ne_store_dev *dev, const ne_flash *flash, ne_snappy_table *compress_table)
{
    NE_ASSERT(dev != NULL && flash != NULL);
    int rc = check_geometry(&flash->geometry);
    if (rc != NE_OK) {
        return rc;
    }
    memset(dev, 0, sizeof(*dev));
    dev->flash = *flash;
    dev->table = compress_table;
    dev->block_count = flash->geometry.block_count;
    dev->program_bytes = flash->geometry.program_bytes;
    dev->erase_bytes = flash->geometry.erase_bytes;
    dev->wslot = SF_NONE;
    dev->wdel_off = SF_NONE;
    dev->next_serial = 1;
    for (uint32_t i = 0; i < NE_STORE_MAX_LOGS; i++) {
        dev->slots[i].index = (uint16_t)i;
        free_slot(&dev->slots[i]);
        dev->slots[i].dev = dev;
    }
    for (uint32_t i = 0; i < NE_STORE_MAX_BLOCKS; i++) {
        dev->blocks[i].slot = SF_NO_SLOT;
    }
    derive_sizes(dev);
    if (dev->max_frame_bytes < 256) {
        return NE_ERR_INVALID;
    }
    /* Behind a write cache (a file's page cache after a process was
     * killed), what reads return may not be on the medium yet: a block that
     * reads blank while its erase is still cached would be taken without
     * one (sf_prepare_block), and a cut could then mix its old lines with
     * new ones. The open first makes the medium what it reads. */
    rc = sf_flash_sync(dev);
    if (rc != NE_OK) {
        return rc;
    }
    rc = sf_recover(dev);
    if (rc == NE_OK) {
        rc = open_catalogue(dev);
    }
    if (rc != NE_OK) {
        dev->failed = rc;
    }
    return rc;
}

int ne_store_dev_sync(ne_store_dev *dev)
{
    if (dev->failed != NE_OK) {
        return dev->failed;
    }
    /* Floors held back by replacements get a second round (sf_sync_log). */
    for (int round = 0; round < 2; round++) {
        bool again = false;
        for (uint32_t i = 0; i < NE_STORE_MAX_LOGS; i++) {
            ne_store_slot *s = &dev->slots[i];
            if (s->flags & SF_SLOT_ATTACHED) {
                int rc = sf_write_floor(dev, s, false);
                if (rc != NE_OK) {
                    return rc;
                }
            }
        }
        int rc = sf_sync_log(dev, NULL);
        if (rc != NE_OK) {
            return rc;
        }
        for (uint32_t i = 0; i < NE_STORE_MAX_LOGS; i++) {
            const ne_store_slot *s = &dev->slots[i];
            again = again || ((s->flags & SF_SLOT_ATTACHED) && s->floor_seq > s->floor_written);
        }
        if (!again) {
            break;
        }
    }
    return NE_OK;
}

/* ne_store_dev_sync without the port's sync: the floors are written as far
 * as they may go now (one held back by a replacement waits for a sync), then
 * the write buffer is programmed. */
int ne_store_dev_flush(ne_store_dev *dev)
{
    if (dev->failed != NE_OK) {
        return dev->failed;
    }
    for (uint32_t i = 0; i < NE_STORE_MAX_LOGS; i++) {
        ne_store_slot *s = &dev->slots[i];
        if (s->flags & SF_SLOT_ATTACHED) {
            int rc = sf_write_floor(dev, s, false);
            if (rc != NE_OK) {
                return rc;
            }
        }
    }
    return sf_flush(dev);
}

/* ---- Catalogue API ------------------------------------------------------------ */

static int fill_entry(ne_store_dev *dev, ne_store_slot *s, ne_store_entry *out, void *buf,
                      size_t buf_bytes)
{
    memset(out, 0, sizeof(*out));
    out->id = s->id;
    out->kind = (ne_store_kind)s->kind;
    out->owner = s->owner;
    out->attached = (s->flags & SF_SLOT_ATTACHED) != 0;
    cat_head h;
    const uint8_t *v = NULL;
    size_t vlen = 0;
    int rc = cat_load(dev, s->id, buf, buf_bytes, &h, &v, &vlen);
    if (rc == NE_ERR_TOO_BIG) {
        out->config_len = vlen;
        return rc;
    }
    if (rc != NE_OK) {
        return rc;
    }
    out->name = (const char *)v + CAT_FIXED_BYTES;
    out->name_len = h.name_len;
    out->config = v + CAT_FIXED_BYTES + h.name_len;
    out->config_len = h.config_len;
    return NE_OK;
}

static bool listed(const ne_store_slot *s)
{
    return s->id > SF_META_LOG_ID && (s->flags & SF_SLOT_CATALOGUED);
}

int ne_store_dev_next_entry(ne_store_dev *dev, uint32_t after_id, ne_store_entry *out, void *buf,
                            size_t buf_bytes)
{
    NE_ASSERT(dev != NULL && out != NULL);
    if (dev->failed != NE_OK) {
        return dev->failed;
    }
    ne_store_slot *best = NULL;
    for (uint32_t i = 0; i < NE_STORE_MAX_LOGS; i++) {
        ne_store_slot *s = &dev->slots[i];
        if (listed(s) && s->id > after_id && (best == NULL || s->id < best->id)) {
            best = s;
        }
    }
    if (best == NULL) {
        return NE_ERR_NOT_FOUND;
    }
    int rc = fill_entry(dev, best, out, buf, buf_bytes);
    out->id = best->id;
    return rc;
}

int ne_store_dev_find(ne_store_dev *dev, ne_store_kind kind, uint32_t owner, const char *name,
                      size_t name_len, ne_store_entry *out, void *buf, size_t buf_bytes)
{
    NE_ASSERT(dev != NULL && out != NULL);
    if (dev->failed != NE_OK) {
        return dev->failed;
    }
    if (name == NULL || name_len == 0 || name_len > CAT_NAME_MAX) {
        return NE_ERR_INVALID;
    }
    uint32_t hash = name_hash(name, name_len);
    for (uint32_t i = 0; i < NE_STORE_MAX_LOGS; i++) {
        ne_store_slot *s = &dev->slots[i];
        if (!listed(s) || s->kind != kind || s->owner != owner || s->name_hash != hash) {
            continue;
        }
        int rc = fill_entry(dev, s, out, buf, buf_bytes);
        if (rc != NE_OK) {
            return rc;
        }
        if (out->name_len == name_len && memcmp(out->name, name, name_len) == 0) {
            return NE_OK;
        }
    }
    return NE_ERR_NOT_FOUND;
}

/* True when a log of this kind, owner and name exists (reading the
 * candidates' names into the device's scratch). */
static int name_taken(ne_store_dev *dev, ne_store_kind kind, uint32_t owner, const char *name,
                      size_t name_len)
{
    uint32_t hash = name_hash(name, name_len);
    for (uint32_t i = 0; i < NE_STORE_MAX_LOGS; i++) {
        ne_store_slot *s = &dev->slots[i];
        if (!listed(s) || s->kind != kind || s->owner != owner || s->name_hash != hash) {
            continue;
        }
        /* The name is at the start of the value: a buffer for the key, the
         * head and the name is enough to compare it. */
        ne_store_entry e;
        int rc = fill_entry(dev, s, &e, dev->cat_buf, sizeof(dev->cat_buf));
        if (rc != NE_OK) {
            return rc == NE_ERR_CORRUPT ? NE_OK : rc;
        }
        if (e.name_len == name_len && memcmp(e.name, name, name_len) == 0) {
            return NE_ERR_EXISTS;
        }
    }
    return NE_OK;
}

int ne_store_dev_create(ne_store_dev *dev, ne_store_kind kind, uint32_t owner, const char *name,
                        size_t name_len, const void *config, size_t config_len, uint32_t *id_out)
{
    NE_ASSERT(dev != NULL);
    if (dev->failed != NE_OK) {
        return dev->failed;
    }
    if (name == NULL || name_len == 0 || name_len > CAT_NAME_MAX || kind < NE_STORE_KIND_STREAM ||
        kind > NE_STORE_KIND_RAFT || (config == NULL && config_len != 0)) {
        return NE_ERR_INVALID;
    }
    if (config_len > NE_STORE_MAX_CONFIG_BYTES) {
        return NE_ERR_TOO_BIG;
    }
    int rc = name_taken(dev, kind, owner, name, name_len);
    if (rc != NE_OK) {
        return rc;
    }
    ne_store_slot *s = NULL;
    for (uint32_t i = 1; i < NE_STORE_MAX_LOGS && s == NULL; i++) {
        if (dev->slots[i].id == 0) {
            s = &dev->slots[i];
        }
    }
    if (s == NULL) {
        return NE_ERR_NOMEM;
    }
    uint32_t id = dev->next_log_id;
    if (id == UINT32_MAX) {
        return NE_ERR_NOMEM;
    }
    cat_head h = {.kind = (uint8_t)kind,
                  .state = CAT_LIVE,
                  .owner = owner,
                  .name_len = (uint32_t)name_len,
                  .config_len = (uint32_t)config_len};
    rc = next_put(dev, id + 1);
    if (rc == NE_OK) {
        rc = cat_put(dev, id, &h, name, config);
    }
    if (rc != NE_OK) {
        return rc;
    }
    dev->next_log_id++;
    free_slot(s);
    s->id = id;
    s->kind = (uint8_t)kind;
    s->owner = owner;
    s->name_hash = name_hash(name, name_len);
    s->flags = SF_SLOT_CATALOGUED;
    s->next_seq = 1;
    s->next_written = 1;
    if (id_out != NULL) {
        *id_out = id;
    }
    return NE_OK;
}

int ne_store_dev_update(ne_store_dev *dev, uint32_t id, const void *config, size_t config_len)
{
    NE_ASSERT(dev != NULL);
    if (dev->failed != NE_OK) {
        return dev->failed;
    }
    ne_store_slot *s = sf_slot_by_id(dev, id);
    if (s == NULL || !listed(s)) {
        return NE_ERR_NOT_FOUND;
    }
    if (config == NULL && config_len != 0) {
        return NE_ERR_INVALID;
    }
    if (config_len > NE_STORE_MAX_CONFIG_BYTES) {
        return NE_ERR_TOO_BIG;
    }
    /* The old entry's name comes along: read it into the scratch. */
    ne_store_entry e;
    char name[CAT_NAME_MAX];
    int rc = fill_entry(dev, s, &e, dev->cat_buf, sizeof(dev->cat_buf));
    if (rc != NE_OK) {
        return rc;
    }
    memcpy(name, e.name, e.name_len);
    cat_head h = {.kind = s->kind,
                  .state = CAT_LIVE,
                  .owner = s->owner,
                  .name_len = (uint32_t)e.name_len,
                  .config_len = (uint32_t)config_len};
    return cat_put(dev, id, &h, name, config);
}

int ne_store_dev_delete(ne_store_dev *dev, uint32_t id)
{
    NE_ASSERT(dev != NULL);
    if (dev->failed != NE_OK) {
        return dev->failed;
    }
    ne_store_slot *s = sf_slot_by_id(dev, id);
    if (s == NULL || !listed(s)) {
        return NE_ERR_NOT_FOUND;
    }
    if (s->flags & SF_SLOT_ATTACHED) {
        return NE_ERR_EXISTS;
    }
    ne_store_entry e;
    char name[CAT_NAME_MAX];
    int rc = fill_entry(dev, s, &e, dev->cat_buf, sizeof(dev->cat_buf));
    if (rc != NE_OK && rc != NE_ERR_TOO_BIG) {
        return rc;
    }
    /* Deleting: the entry keeps its name, loses its configuration. */
    size_t name_len = rc == NE_OK ? e.name_len : 1;
    if (rc == NE_OK) {
        memcpy(name, e.name, e.name_len);
    } else {
        name[0] = '?';
    }
    cat_head h = {.kind = s->kind,
                  .state = CAT_DELETING,
                  .owner = s->owner,
                  .name_len = (uint32_t)name_len,
                  .config_len = 0};
    rc = cat_put(dev, id, &h, name, NULL);
    if (rc != NE_OK) {
        return rc;
    }
    return finish_delete(dev, id);
}

/* ---- Attaching streams and KV logs -------------------------------------------- */

static int attach_add(void *ctx, uint64_t seq, uint64_t ts_ns, const char *subject,
                      size_t subject_len, uint32_t bytes)
{
    ne_store_recovered_add(ctx, seq, ts_ns, subject, subject_len, bytes);
    return NE_OK;
}

int sf_attach(ne_store_dev *dev, ne_store_slot *s, ne_store *store, const ne_store_config *cfg)
{
    int rc = ne_store_init_common(store, cfg, &sf_log_backend, s);
    if (rc != NE_OK) {
        return rc;
    }
    s->front = store;
    s->flags |= SF_SLOT_ATTACHED;
    s->max_blocks = cfg->max_blocks;
    memset(&s->hint, 0, sizeof(s->hint));
    store->state.corrupt_records = s->corrupt_records;
    rc = sf_walk_live(dev, s, attach_add, store);
    if (rc != NE_OK) {
        ne_store_subjects_release(store);
        s->front = NULL;
        s->flags &= (uint8_t)~SF_SLOT_ATTACHED;
        return rc;
    }
    rc = ne_store_recovered_done(store, s->next_seq - 1, s->last_ts_ns);
    if (rc != NE_OK) {
        /* The caller will not detach a store that failed to attach. */
        ne_store_subjects_release(store);
    }
    return rc;
}

int ne_store_attach(ne_store *store, ne_store_dev *dev, uint32_t id, const ne_store_config *cfg)
{
    NE_ASSERT(store != NULL && dev != NULL && cfg != NULL);
    if (dev->failed != NE_OK) {
        return dev->failed;
    }
    ne_store_slot *s = sf_slot_by_id(dev, id);
    if (s == NULL || !listed(s)) {
        return NE_ERR_NOT_FOUND;
    }
    if (s->kind != NE_STORE_KIND_STREAM && s->kind != NE_STORE_KIND_KV) {
        return NE_ERR_INVALID;
    }
    if (s->flags & SF_SLOT_ATTACHED) {
        return NE_ERR_EXISTS;
    }
    return sf_attach(dev, s, store, cfg);
}

int ne_store_detach(ne_store *store)
{
    NE_ASSERT(store != NULL && store->backend == &sf_log_backend);
    ne_store_slot *s = store->impl;
    ne_store_dev *dev = s->dev;
    int rc = NE_OK;
    if (dev->failed == NE_OK) {
        rc = sf_write_floor(dev, s, false);
        if (rc == NE_OK && dev->wslot == s->index) {
            rc = sf_flush(dev);
        }
    }
    ne_store_subjects_release(store);
    s->front = NULL;
    s->flags &= (uint8_t)~SF_SLOT_ATTACHED;
    return rc;
}

/* ---- Damage and counters ---------------------------------------------------------- */

int ne_store_dev_damage(const ne_store_dev *dev, uint32_t index, ne_store_damage *out)
{
    if (index >= dev->damage_count) {
        return NE_ERR_NOT_FOUND;
    }
    *out = dev->damage[index];
    return NE_OK;
}

static const char *kind_name(uint8_t kind)
{
    switch (kind) {
    case NE_STORE_KIND_STREAM:
        return "stream";
    case NE_STORE_KIND_KV:
        return "kv";
    case NE_STORE_KIND_CONSUMER:
        return "consumer";
    case NE_STORE_KIND_RAFT:
        return "raft";
    default:
        return "log";
    }
}

int ne_store_dev_describe(ne_store_dev *dev, const ne_store_damage *d, char *buf, size_t cap,
                          size_t *len)
{
    *len = 0;
    /* The log's name from the catalogue, when it has one. */
    char name[64] = "";
    ne_store_slot *s = d->log_id != 0 ? sf_slot_by_id(dev, d->log_id) : NULL;
    if (s != NULL && listed(s)) {
        ne_store_entry e;
        if (fill_entry(dev, s, &e, dev->cat_buf, sizeof(dev->cat_buf)) == NE_OK) {
            size_t n = e.name_len < sizeof(name) - 1 ? e.name_len : sizeof(name) - 1;
            memcpy(name, e.name, n);
            name[n] = '\0';
        }
    }
    ne_strbuf sb;
    ne_strbuf_init(&sb, buf, cap);
    bool where = false;
    if (d->block != 0xffffffffu) {
        ne_strbuf_printf(&sb, "block %u", (unsigned)d->block);
        where = true;
    }
    if (d->log_id == SF_META_LOG_ID) {
        ne_strbuf_printf(&sb, "%sthe catalogue", where ? " of " : "");
    } else if (d->log_id != 0) {
        ne_strbuf_printf(&sb, "%slog %u", where ? " of " : "", (unsigned)d->log_id);
        if (name[0] != '\0') {
            ne_strbuf_printf(&sb, " (%s %s)", kind_name(s->kind), name);
        }
    } else if (!where) {
        ne_strbuf_puts(&sb, "device");
    }
    unsigned long long n = (unsigned long long)d->count;
    switch (d->kind) {
    case NE_STORE_DAMAGE_BLOCK:
        ne_strbuf_puts(&sb, ": unreadable header or first frame; what it held is lost");
        break;
    case NE_STORE_DAMAGE_RECORDS:
        ne_strbuf_printf(&sb, ": %llu record%s failed %s CRC and %s lost", n, n == 1 ? "" : "s",
                         n == 1 ? "its" : "their", n == 1 ? "is" : "are");
        break;
    case NE_STORE_DAMAGE_COMMIT:
        ne_strbuf_puts(&sb, ": compaction COMMIT unreadable; the block is kept (the blocks it "
                            "replaced are gone)");
        break;
    case NE_STORE_DAMAGE_ORPHAN:
        ne_strbuf_printf(&sb, ": %llu block%s of a log the catalogue does not name; kept unread", n,
                         n == 1 ? "" : "s");
        break;
    case NE_STORE_DAMAGE_CATALOGUE:
        ne_strbuf_puts(&sb, ": its catalogue entry is unreadable; the log is skipped");
        break;
    default:
        ne_strbuf_puts(&sb, ": damage of an unknown kind");
        break;
    }
    if (sb.truncated) {
        return NE_ERR_TOO_BIG;
    }
    *len = sb.len;
    return NE_OK;
}

void ne_store_dev_get_stats(const ne_store_dev *dev, ne_store_dev_stats *out)
{
    *out = dev->stats;
    out->blocks_free = 0;
    out->blocks_data = 0;
    out->logs = 0;
    out->erase_min = UINT32_MAX;
    out->erase_max = 0;
    for (uint32_t i = 0; i < dev->block_count; i++) {
        const ne_store_block *b = &dev->blocks[i];
        if (b->state == SF_STATE_DATA) {
            out->blocks_data++;
        } else {
            out->blocks_free++;
        }
        out->erase_min = b->erase_count < out->erase_min ? b->erase_count : out->erase_min;
        out->erase_max = b->erase_count > out->erase_max ? b->erase_count : out->erase_max;
    }
    for (uint32_t i = 0; i < NE_STORE_MAX_LOGS; i++) {
        out->logs += listed(&dev->slots[i]) ? 1u : 0u;
    }
    if (dev->block_count == 0) {
        out->erase_min = 0;
    }
}
