/* Small keyed records: a stream with raw keys and one message per key. */
#include "store/ne_store_kv.h"

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "store/ne_store_format.h"

int ne_store_kv_attach(ne_store_kv *kv, ne_store_dev *dev, uint32_t id,
                       const ne_store_kv_config *cfg)
{
    NE_ASSERT(kv != NULL && dev != NULL && cfg != NULL);
    if (dev->failed != NE_OK) {
        return dev->failed;
    }
    ne_store_slot *s = sf_slot_by_id(dev, id);
    if (s == NULL || !(s->flags & SF_SLOT_CATALOGUED) || s->id == SF_META_LOG_ID) {
        return NE_ERR_NOT_FOUND;
    }
    if (s->kind != NE_STORE_KIND_KV) {
        return NE_ERR_INVALID;
    }
    if (s->flags & SF_SLOT_ATTACHED) {
        return NE_ERR_EXISTS;
    }
    if (cfg->keys == NULL || cfg->key_capacity == 0) {
        return NE_ERR_INVALID;
    }
    ne_store_config scfg = {.subjects = cfg->keys,
                            .subject_capacity = cfg->key_capacity,
                            .subject_text = cfg->key_text,
                            .subject_text_bytes = cfg->key_text_bytes,
                            .max_blocks = cfg->max_blocks,
                            .flags = NE_STORE_RAW_KEYS};
    scfg.limits.max_msgs_per_subject = 1;
    /* A full device refuses a put; no other key leaves to make room. */
    scfg.limits.discard = NE_STORE_DISCARD_NEW;
    return sf_attach(dev, s, &kv->log, &scfg);
}

int ne_store_kv_detach(ne_store_kv *kv)
{
    return ne_store_detach(&kv->log);
}

int ne_store_kv_put(ne_store_kv *kv, const void *key, size_t key_len, const void *value,
                    size_t value_len)
{
    ne_store_msg m = {
        .subject = key, .subject_len = key_len, .payload = value, .payload_len = value_len};
    return ne_store_append(&kv->log, &m, NULL);
}

int ne_store_kv_get(ne_store_kv *kv, const void *key, size_t key_len, void *buf, size_t buf_bytes,
                    const uint8_t **value, size_t *value_len)
{
    ne_store_msg m;
    int rc = ne_store_load_last(&kv->log, key, key_len, &m, buf, buf_bytes);
    *value = rc == NE_OK ? m.payload : NULL;
    *value_len = m.payload_len;
    return rc;
}

int ne_store_kv_delete(ne_store_kv *kv, const void *key, size_t key_len)
{
    uint64_t msgs = 0;
    uint64_t seq = 0;
    int rc = ne_store_subject_state(&kv->log, key, key_len, &msgs, &seq);
    if (rc != NE_OK) {
        return rc;
    }
    return ne_store_delete(&kv->log, seq);
}

typedef struct list_call {
    ne_store_kv_fn fn;
    void *ctx;
} list_call;

static int list_one(void *ctx, const char *subject, size_t len, const ne_store_simple_state *st)
{
    list_call *c = ctx;
    return c->fn(c->ctx, subject, len, st->last_seq);
}

int ne_store_kv_list(ne_store_kv *kv, const void *prefix, size_t prefix_len, ne_store_kv_fn fn,
                     void *ctx)
{
    /* A prefix filter is the prefix followed by '>' (raw keys). */
    char filter[NE_STORE_MAX_SUBJECT_BYTES + 1];
    if (prefix_len > NE_STORE_MAX_SUBJECT_BYTES) {
        return NE_ERR_INVALID;
    }
    if (prefix_len > 0) {
        memcpy(filter, prefix, prefix_len);
    }
    filter[prefix_len] = '>';
    list_call c = {.fn = fn, .ctx = ctx};
    return ne_store_subjects_state(&kv->log, filter, prefix_len + 1, list_one, &c);
}

uint64_t ne_store_kv_count(const ne_store_kv *kv)
{
    return kv->log.state.msgs;
}

int ne_store_kv_sync(ne_store_kv *kv)
{
    return ne_store_sync(&kv->log);
}
