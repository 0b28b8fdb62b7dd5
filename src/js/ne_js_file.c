/* JetStream's file storage (ne_js_file.h): the store interface
 * (ne_js_store.h) over stream logs of the storage engine, durable consumers'
 * state in consumer logs, the catalogue of both, and their restoration at
 * start-up. */
#include "js/ne_js_int.h"

#if NE_FEATURE_JETSTREAM

#include <stddef.h>
#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "core/ne_fmt.h"
#include "core/ne_subject.h"

/* ---- Objects ------------------------------------------------------------------------ */

static ne_js_file_stream *stream_at(const ne_js_file *f, uint32_t i)
{
    return (ne_js_file_stream *)(void *)(f->streams.storage + (size_t)i * f->streams.object_bytes);
}

static ne_js_file_consumer *consumer_at(const ne_js_file *f, uint32_t i)
{
    return (ne_js_file_consumer *)(void *)(f->consumers.storage +
                                           (size_t)i * f->consumers.object_bytes);
}

static ne_js_file *file_of(const ne_js_store *st)
{
    return st->backend;
}

/* The service a backend belongs to (ne_js embeds it). */
static ne_js *file_js(ne_js_file *f)
{
    return (ne_js *)(void *)((char *)f - offsetof(ne_js, file));
}

static ne_js_file_stream *fs_of(const ne_js_store *st)
{
    return stream_at(file_of(st), st->impl.file.index);
}

static ne_js_file_consumer *fc_of(const ne_js *js, const ne_js_consumer *c)
{
    uint16_t i = js->file.consumer_file[c->slot];
    return i == 0 ? NULL : consumer_at(&js->file, i - 1u);
}

static ne_js_pending *pending_at(const ne_js *js, uint32_t i)
{
    return (ne_js_pending *)(void *)(js->pending_pool.storage +
                                     (size_t)i * js->pending_pool.object_bytes);
}

/* The stream's state as JetStream reports it: a stream that never held a
 * message has first_seq 0 (nats-server's). */
static void copy_state(ne_js_store *st)
{
    ne_store_state s;
    ne_store_get_state(&fs_of(st)->store, &s);
    st->state.msgs = s.msgs;
    st->state.bytes = s.bytes;
    st->state.last_seq = s.last_seq;
    st->state.first_seq = s.msgs == 0 && s.last_seq == 0 ? 0 : s.first_seq;
    st->state.first_ts_ns = s.msgs > 0 ? s.first_ts_ns : 0;
    st->state.last_ts_ns = s.last_ts_ns;
    st->state.num_subjects = s.num_subjects;
}

static const char *filter_ptr(ne_slice filter)
{
    return filter.len > 0 ? filter.ptr : NULL;
}

/* ---- The message cache: the last message loaded, in s->msg ------------------------------- */

static void cache_drop(ne_js_file *f)
{
    f->cache_stream = 0;
    f->cache_seq = 0;
}

static void cache_set(ne_js_file *f, const ne_js_store *st, const ne_store_msg *m)
{
    f->cache = *m;
    f->cache_stream = st->impl.file.index + 1u;
    f->cache_seq = m->seq;
}

static int load(ne_js_store *st, uint64_t seq)
{
    ne_js_file *f = file_of(st);
    if (f->cache_stream == st->impl.file.index + 1u && f->cache_seq == seq) {
        return NE_OK;
    }
    cache_drop(f);
    ne_store_msg m;
    int rc = ne_store_load(&fs_of(st)->store, seq, &m, f->s->msg, sizeof(f->s->msg));
    if (rc == NE_OK) {
        cache_set(f, st, &m);
    }
    return rc == NE_ERR_CORRUPT ? NE_ERR_NOT_FOUND : rc;
}

/* The cached message's metadata into out (its subject copied). */
static int cached_info(const ne_js_file *f, ne_js_msg_info *out)
{
    const ne_store_msg *m = &f->cache;
    out->seq = m->seq;
    out->ts_ns = m->timestamp_ns;
    out->subject_len = (uint32_t)m->subject_len;
    out->hdr_len = (uint32_t)m->headers_len;
    out->data_len = (uint32_t)m->payload_len;
    if (out->subject == NULL) {
        return NE_OK;
    }
    if (m->subject_len >= out->subject_cap) {
        return NE_ERR_TOO_BIG;
    }
    memcpy(out->subject, m->subject, m->subject_len);
    out->subject[m->subject_len] = '\0';
    return NE_OK;
}

/* ---- The store interface ---------------------------------------------------------------- */

/* A stream's subject index is full and no larger table was free: logged
 * once for each run of refusals, with the knob of the class it needed. */
static void subjects_full(ne_js_file *f, const ne_js_file_stream *fs)
{
    if (f->subjects.refused == f->subjects_refused_logged) {
        return;
    }
    f->subjects_refused_logged = f->subjects.refused;
    uint32_t next = fs->store.subject_class == NE_STORE_NO_CLASS ? 0 : fs->store.subject_class + 1u;
    if (next >= f->subjects.class_count) {
        ne_log_warn(file_js(f)->conns->log,
                    "JetStream file stream subject index full (%u subjects, the largest table): "
                    "a message on a new subject is refused",
                    (unsigned)fs->store.state.num_subjects);
        return;
    }
    ne_log_warn(file_js(f)->conns->log,
                "JetStream file stream subject tables exhausted (%u subjects, no free table of "
                "%u entries): raise NE_JS_FILE_SUBJECT_TABLES_%u",
                (unsigned)fs->store.state.num_subjects, (unsigned)f->subjects.classes[next].entries,
                (unsigned)next);
}

static int file_append(ne_js_store *st, const ne_js_msg_in *m, uint64_t ts_ns, uint64_t *seq)
{
    ne_js_file *f = file_of(st);
    const uint8_t *payload = m->data;
    if (payload == NULL && m->data_len > 0) {
        if (m->data_len > sizeof(f->s->msg)) {
            return NE_ERR_TOO_BIG;
        }
        cache_drop(f);
        m->read_at(m->read_ctx, 0, f->s->msg, m->data_len);
        payload = f->s->msg;
    }
    ne_store_msg msg;
    memset(&msg, 0, sizeof(msg));
    msg.timestamp_ns = ts_ns;
    msg.subject = m->subject.ptr;
    msg.subject_len = m->subject.len;
    msg.headers = m->hdr_len > 0 ? m->hdr : NULL;
    msg.headers_len = m->hdr_len;
    msg.payload = payload;
    msg.payload_len = m->data_len;
    ne_js_file_stream *fs = fs_of(st);
    int rc = ne_store_append(&fs->store, &msg, seq);
    if (payload == f->s->msg) {
        cache_drop(f);
    }
    if (rc != NE_OK) {
        /* The device or the subject index is full: a lack of resources. */
        if (ne_store_refused_by(&fs->store) == NE_STORE_LIMIT_SUBJECTS) {
            subjects_full(f, fs);
        }
        return rc == NE_ERR_FULL ? NE_ERR_NOMEM : rc;
    }
    f->dirty = true;
    copy_state(st);
    return NE_OK;
}

static int file_skip_to(ne_js_store *st, uint64_t seq)
{
    NE_ASSERT(seq > st->state.last_seq);
    ne_js_file_stream *fs = fs_of(st);
    uint64_t count = seq - 1u - fs->store.state.last_seq;
    int rc = count > 0 ? ne_store_skip(&fs->store, count, NULL) : NE_OK;
    if (rc == NE_OK) {
        file_of(st)->dirty = true;
        copy_state(st);
        if (st->state.msgs == 0) {
            st->state.first_seq = seq;
        }
    }
    return rc;
}

static int file_info(ne_js_store *st, uint64_t seq, ne_js_msg_info *out)
{
    int rc = load(st, seq);
    return rc == NE_OK ? cached_info(file_of(st), out) : rc;
}

static int file_read(ne_js_store *st, uint64_t seq, uint32_t offset, void *dst, uint32_t len)
{
    int rc = load(st, seq);
    if (rc != NE_OK) {
        return rc;
    }
    const ne_store_msg *m = &file_of(st)->cache;
    uint64_t total = (uint64_t)m->headers_len + m->payload_len;
    if ((uint64_t)offset + len > total) {
        return NE_ERR_RANGE;
    }
    uint8_t *out = dst;
    if (offset < m->headers_len) {
        size_t n = NE_MIN((size_t)len, m->headers_len - offset);
        memcpy(out, m->headers + offset, n);
        out += n;
        len -= (uint32_t)n;
        offset = 0;
    } else {
        offset -= (uint32_t)m->headers_len;
    }
    if (len > 0) {
        memcpy(out, m->payload + offset, len);
    }
    return NE_OK;
}

static int file_next(ne_js_store *st, uint64_t from, ne_slice filter, ne_js_msg_info *out)
{
    ne_js_file *f = file_of(st);
    ne_js_file_stream *fs = fs_of(st);
    cache_drop(f);
    ne_store_msg m;
    int rc = ne_store_read_next(&fs->store, &fs->reader, from, filter_ptr(filter), filter.len, &m,
                                f->s->msg, sizeof(f->s->msg));
    if (rc != NE_OK) {
        return rc == NE_ERR_CORRUPT ? NE_ERR_NOT_FOUND : rc;
    }
    cache_set(f, st, &m);
    return cached_info(f, out);
}

static int file_last(ne_js_store *st, ne_slice filter, ne_js_msg_info *out)
{
    ne_js_file *f = file_of(st);
    ne_js_file_stream *fs = fs_of(st);
    cache_drop(f);
    ne_store_msg m;
    int rc;
    if (filter.len > 0 && ne_js_subject_is_literal(filter)) {
        rc = ne_store_load_last(&fs->store, filter.ptr, filter.len, &m, f->s->msg,
                                sizeof(f->s->msg));
    } else {
        rc = ne_store_load_last_matching(&fs->store, filter_ptr(filter), filter.len, &m, f->s->msg,
                                         sizeof(f->s->msg));
    }
    if (rc != NE_OK) {
        return rc == NE_ERR_CORRUPT ? NE_ERR_NOT_FOUND : rc;
    }
    cache_set(f, st, &m);
    return cached_info(f, out);
}

static uint64_t file_seq_at_time(ne_js_store *st, uint64_t ts_ns)
{
    uint64_t seq = 0;
    if (ne_store_seq_for_time(&fs_of(st)->store, ts_ns, &seq) != NE_OK) {
        return st->state.last_seq + 1;
    }
    return seq;
}

static int file_subject_state(ne_js_store *st, ne_slice subject, ne_js_subject_state *out)
{
    ne_store_simple_state ss;
    memset(out, 0, sizeof(*out));
    if (ne_store_filtered_state(&fs_of(st)->store, 0, subject.ptr, subject.len, &ss) != NE_OK ||
        ss.msgs == 0) {
        return NE_ERR_NOT_FOUND;
    }
    out->msgs = ss.msgs;
    out->first_seq = ss.first_seq;
    out->last_seq = ss.last_seq;
    return NE_OK;
}

typedef struct visit_ctx {
    ne_js_subject_visit visit;
    void *ctx;
} visit_ctx;

/* Any error stops the walk. */
#define VISIT_STOP 1

static int visit_one(void *ctx, const char *subject, size_t subject_len,
                     const ne_store_simple_state *ss)
{
    const visit_ctx *v = ctx;
    ne_js_subject_state s = {ss->msgs, ss->first_seq, ss->last_seq};
    return v->visit(v->ctx, (ne_slice){subject, (uint32_t)subject_len}, &s) ? NE_OK : VISIT_STOP;
}

static void file_each_subject(ne_js_store *st, ne_slice filter, ne_js_subject_visit visit,
                              void *ctx)
{
    visit_ctx v = {visit, ctx};
    (void)ne_store_subjects_state(&fs_of(st)->store, filter_ptr(filter), filter.len, visit_one, &v);
}

static void file_filtered(ne_js_store *st, ne_slice filter, uint64_t from, ne_js_subject_state *out)
{
    ne_store_simple_state ss;
    memset(out, 0, sizeof(*out));
    if (ne_store_filtered_state(&fs_of(st)->store, from, filter_ptr(filter), filter.len, &ss) ==
        NE_OK) {
        out->msgs = ss.msgs;
        out->first_seq = ss.first_seq;
        out->last_seq = ss.last_seq;
    }
}

static int file_remove(ne_js_store *st, uint64_t seq, bool erase)
{
    ne_js_file *f = file_of(st);
    ne_js_file_stream *fs = fs_of(st);
    if (f->cache_stream == st->impl.file.index + 1u && f->cache_seq == seq) {
        cache_drop(f);
    }
    int rc = erase ? ne_store_erase(&fs->store, seq) : ne_store_delete(&fs->store, seq);
    if (rc == NE_OK) {
        f->dirty = true;
        copy_state(st);
    }
    return rc;
}

static int file_sync(ne_js_store *st)
{
    return ne_store_sync(&fs_of(st)->store);
}

static void file_drop(ne_js_store *st)
{
    ne_js_file *f = file_of(st);
    ne_js_file_stream *fs = fs_of(st);
    cache_drop(f);
    uint32_t id = fs->log_id;
    (void)ne_store_detach(&fs->store);
    if (!f->closing) {
        int rc = ne_store_dev_delete(&f->s->dev, id);
        if (rc != NE_OK && rc != NE_ERR_NOT_FOUND) {
            /* The stream is gone from RAM; its log may come back at the
             * next start. */
            ne_log_error(file_js(f)->conns->log,
                         "JetStream file store: deleting a stream's log failed: %s",
                         ne_err_name(rc));
        }
    }
    f->dirty = true;
    ne_pool_free(&f->streams, fs);
    memset(&st->state, 0, sizeof(st->state));
}

static const ne_js_store_ops file_ops = {
    .append = file_append,
    .skip_to = file_skip_to,
    .info = file_info,
    .read = file_read,
    .next = file_next,
    .last = file_last,
    .seq_at_time = file_seq_at_time,
    .subject_state = file_subject_state,
    .each_subject = file_each_subject,
    .filtered = file_filtered,
    .remove = file_remove,
    .sync = file_sync,
    .drop = file_drop,
};

/* ---- The device --------------------------------------------------------------------------- */

uint64_t ne_js_file_max_bytes(void)
{
    return (uint64_t)NE_STORE_MAX_BLOCKS * NE_JS_FILE_BLOCK_BYTES;
}

/* The file streams' subject tables: the classes that have tables, smallest
 * first (ne_js_file.h checks their sizes). */
static void subject_pool_init(ne_js_file *f)
{
    ne_js_file_storage *s = f->s;
    ne_store_subject_pool *p = &f->subjects;
    ne_store_subject_pool_init(p);
    int rc = ne_store_subject_pool_add(p, "JetStream file subject tables 0", NE_JS_FILE_SUBJECTS_0,
                                       NE_JS_FILE_SUBJECT_TEXT(0), &s->subjects0,
                                       NE_JS_FILE_SUBJECT_TABLES_0);
#if NE_JS_FILE_SUBJECT_TABLES_1 > 0
    if (rc == NE_OK) {
        rc = ne_store_subject_pool_add(p, "JetStream file subject tables 1", NE_JS_FILE_SUBJECTS_1,
                                       NE_JS_FILE_SUBJECT_TEXT(1), &s->subjects1,
                                       NE_JS_FILE_SUBJECT_TABLES_1);
    }
#endif
#if NE_JS_FILE_SUBJECT_TABLES_2 > 0
    if (rc == NE_OK) {
        rc = ne_store_subject_pool_add(p, "JetStream file subject tables 2", NE_JS_FILE_SUBJECTS_2,
                                       NE_JS_FILE_SUBJECT_TEXT(2), &s->subjects2,
                                       NE_JS_FILE_SUBJECT_TABLES_2);
    }
#endif
#if NE_JS_FILE_SUBJECT_TABLES_3 > 0
    if (rc == NE_OK) {
        rc = ne_store_subject_pool_add(p, "JetStream file subject tables 3", NE_JS_FILE_SUBJECTS_3,
                                       NE_JS_FILE_SUBJECT_TEXT(3), &s->subjects3,
                                       NE_JS_FILE_SUBJECT_TABLES_3);
    }
#endif
#if NE_JS_FILE_SUBJECT_TABLES_4 > 0
    if (rc == NE_OK) {
        rc = ne_store_subject_pool_add(p, "JetStream file subject tables 4", NE_JS_FILE_SUBJECTS_4,
                                       NE_JS_FILE_SUBJECT_TEXT(4), &s->subjects4,
                                       NE_JS_FILE_SUBJECT_TABLES_4);
    }
#endif
    /* Each class must be larger than the one before, in entries and text. */
    NE_ASSERT(rc == NE_OK);
}

void ne_js_file_init(ne_js *js, ne_js_file_storage *s)
{
    ne_js_file *f = &js->file;
    memset(f, 0, sizeof(*f));
    f->s = s;
    ne_pool_init(&f->streams, "JetStream file streams", &s->streams, sizeof(ne_js_file_stream),
                 NE_JS_FILE_STREAMS);
    ne_pool_init(&f->consumers, "JetStream file consumers", &s->consumers,
                 sizeof(ne_js_file_consumer), NE_JS_FILE_CONSUMERS);
    subject_pool_init(f);
    uint64_t blocks = (js->max_store + NE_JS_FILE_BLOCK_BYTES - 1u) / NE_JS_FILE_BLOCK_BYTES;
    if (blocks < 8) {
        blocks = 8;
    }
    if (blocks > NE_STORE_MAX_BLOCKS) {
        blocks = NE_STORE_MAX_BLOCKS;
    }
    f->geometry.program_bytes = NE_JS_FILE_PROGRAM_BYTES;
    f->geometry.erase_bytes = NE_JS_FILE_BLOCK_BYTES;
    f->geometry.block_count = (uint32_t)blocks;
    f->sync_interval_ms = js->opts->js.sync_interval_ms;
}

void ne_js_set_device(ne_js *js, const ne_js_device_port *port)
{
    js->file.port = *port;
    js->file.have_port = port != NULL && port->open != NULL;
}

static const char *store_dir(const ne_js *js)
{
    return js->opts->js.store_dir[0] != '\0' ? js->opts->js.store_dir : "/tmp/nats";
}

/* Logs what recovery found damaged. */
static void log_damage(ne_js *js)
{
    ne_store_damage d;
    for (uint32_t i = 0; i < NE_STORE_MAX_DAMAGE_REPORTS; i++) {
        if (ne_store_dev_damage(&js->file.s->dev, i, &d) != NE_OK) {
            break;
        }
        char line[256];
        size_t len = 0;
        if (d.kind != NE_STORE_DAMAGE_UNATTACHED &&
            ne_store_dev_describe(&js->file.s->dev, &d, line, sizeof(line), &len) == NE_OK) {
            ne_log_warn(js->conns->log, "JetStream file store: %s", line);
        }
    }
}

/* Opens the device (create: make it if it does not exist). */
static bool device_ready(ne_js *js, bool create)
{
    ne_js_file *f = &js->file;
    if (f->open) {
        return true;
    }
    if (!f->have_port || f->failed || f->closing) {
        return false;
    }
    int rc = f->port.open(f->port.ctx, store_dir(js), f->geometry, create, &f->flash);
    if (rc == NE_ERR_NOT_FOUND && !create) {
        return false;
    }
    if (rc != NE_OK) {
        ne_log_error(js->conns->log,
                     "JetStream file storage unavailable: cannot open its file in %s: %s",
                     store_dir(js), ne_err_name(rc));
        f->failed = true;
        return false;
    }
    rc = ne_store_dev_open(&f->s->dev, &f->flash, NULL);
    if (rc != NE_OK) {
        ne_log_error(js->conns->log,
                     "JetStream file storage unavailable: the store in %s does not open: %s%s",
                     store_dir(js), ne_err_name(rc),
                     rc == NE_ERR_UNSUPPORTED ? " (written with another max_file_store or version)"
                                              : "");
        f->port.close(f->port.ctx);
        f->failed = true;
        return false;
    }
    log_damage(js);
    f->open = true;
    return true;
}

/* A JSON document into s->doc (a sink that fails when it is full). */
typedef struct doc_sink {
    char *buf;
    size_t cap;
    size_t len;
} doc_sink;

static int doc_write(void *ctx, const char *bytes, size_t len)
{
    doc_sink *d = ctx;
    if (len > d->cap - d->len) {
        return NE_ERR_TOO_BIG;
    }
    memcpy(d->buf + d->len, bytes, len);
    d->len += len;
    return NE_OK;
}

/* {"account":..,"created":..,"config":{..}}: NE_OK with *len, or NE_ERR_TOO_BIG. */
static int stream_doc(ne_js *js, const ne_js_stream *st, size_t *len)
{
    doc_sink d = {js->file.s->doc, sizeof(js->file.s->doc), 0};
    char piece[256];
    ne_json_out o;
    ne_json_out_init(&o, piece, sizeof(piece), doc_write, &d);
    ne_json_begin_object(&o);
    ne_json_kv_string(&o, "account", js->opts->accounts[st->acc->index].name);
    ne_json_kv_u64(&o, "created", st->created_ns);
    ne_json_key(&o, "config");
    ne_js_stream_cfg_write(js, &o, &st->cfg);
    ne_json_end_object(&o);
    int rc = ne_json_out_finish(&o);
    *len = d.len;
    return rc;
}

static int consumer_doc(ne_js *js, const ne_js_consumer *c, size_t *len)
{
    doc_sink d = {js->file.s->doc, sizeof(js->file.s->doc), 0};
    char piece[256];
    ne_json_out o;
    ne_json_out_init(&o, piece, sizeof(piece), doc_write, &d);
    ne_json_begin_object(&o);
    ne_json_kv_u64(&o, "created", c->created_ns);
    ne_json_key(&o, "config");
    ne_js_consumer_cfg_write(js, &o, &c->cfg);
    ne_json_end_object(&o);
    int rc = ne_json_out_finish(&o);
    *len = d.len;
    return rc;
}

/* "<account>/<stream>": stream names have no '/', so the last one splits. */
static size_t stream_log_name(const ne_js *js, const ne_js_stream *st, char *buf, size_t cap)
{
    return ne_fmt(buf, cap, "%s/%s", js->opts->accounts[st->acc->index].name,
                  ne_js_stream_name(js, st));
}

/* The error of a catalogue operation that failed, logged with the knob. */
static void catalogue_error(ne_js *js, const char *what, const char *name, int rc, ne_js_error *e)
{
    const char *why = rc == NE_ERR_NOMEM     ? " (raise NE_STORE_MAX_LOGS)"
                      : rc == NE_ERR_TOO_BIG ? " (raise NE_STORE_MAX_CONFIG_BYTES)"
                      : rc == NE_ERR_FULL    ? " (the file store is full)"
                                             : "";
    ne_log_warn(js->conns->log, "JetStream file store: %s \"%s\" failed: %s%s", what, name,
                ne_err_name(rc), why);
    if (e != NULL) {
        ne_js_error_set(e, NE_JS_ERR_INSUFFICIENT_RESOURCES, "%s", "");
    }
}

bool ne_js_file_stream_open(ne_js *js, ne_js_stream *st, ne_js_error *e)
{
    ne_js_file *f = &js->file;
    if (!device_ready(js, true)) {
        /* As nats-server without file storage (max_file_store 0). */
        ne_js_error_set(e, NE_JS_ERR_STORAGE_RESOURCES_EXCEEDED, "%s", "");
        return false;
    }
    ne_js_file_stream *fs = ne_pool_alloc_uninit(&f->streams);
    if (fs == NULL) {
        ne_log_warn(js->conns->log,
                    "JetStream file streams exhausted (%u): raise NE_JS_FILE_STREAMS",
                    (unsigned)NE_JS_FILE_STREAMS);
        ne_js_error_set(e, NE_JS_ERR_INSUFFICIENT_RESOURCES, "%s", "");
        return false;
    }
    memset(&fs->store, 0, sizeof(fs->store));
    ne_store_reader_init(&fs->reader);
    char name[NE_ACCOUNT_NAME_BYTES + NE_JS_NAME_BYTES + 2];
    size_t name_len = stream_log_name(js, st, name, sizeof(name));
    uint32_t id = f->restoring;
    bool created = false;
    int rc = NE_OK;
    if (id == 0) {
        size_t doc_len = 0;
        rc = name_len == 0 ? NE_ERR_TOO_BIG : stream_doc(js, st, &doc_len);
        if (rc == NE_OK) {
            rc = ne_store_dev_create(&f->s->dev, NE_STORE_KIND_STREAM, 0, name, name_len, f->s->doc,
                                     doc_len, &id);
        }
        created = rc == NE_OK;
        if (rc != NE_OK) {
            ne_pool_free(&f->streams, fs);
            catalogue_error(js, "creating stream", ne_js_stream_name(js, st), rc, e);
            return false;
        }
    }
    ne_store_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.limits.discard = NE_STORE_DISCARD_NEW; /* the stream applies its limits itself */
    cfg.subject_pool = &f->subjects;
    rc = ne_store_attach(&fs->store, &f->s->dev, id, &cfg);
    if (rc != NE_OK) {
        if (created) {
            (void)ne_store_dev_delete(&f->s->dev, id);
        }
        ne_pool_free(&f->streams, fs);
        catalogue_error(js, "opening stream", ne_js_stream_name(js, st), rc, e);
        return false;
    }
    fs->log_id = id;
    memset(&st->store, 0, sizeof(st->store));
    st->store.ops = &file_ops;
    st->store.backend = f;
    st->store.id = st->slot;
    st->store.impl.file.index = ne_pool_index(&f->streams, fs);
    copy_state(&st->store);
    return true;
}

void ne_js_file_stream_updated(ne_js *js, ne_js_stream *st)
{
    if (st->cfg.storage != NE_JS_STORAGE_FILE || st->store.ops != &file_ops) {
        return;
    }
    size_t len = 0;
    int rc = stream_doc(js, st, &len);
    if (rc == NE_OK) {
        rc = ne_store_dev_update(&js->file.s->dev, fs_of(&st->store)->log_id, js->file.s->doc, len);
    }
    if (rc != NE_OK) {
        catalogue_error(js, "updating stream", ne_js_stream_name(js, st), rc, NULL);
    }
}

/* ---- Consumers -------------------------------------------------------------------------- */

static bool persisted(const ne_js_consumer *c)
{
    return c->stream->cfg.storage == NE_JS_STORAGE_FILE && c->cfg.durable && !c->cfg.mem_storage;
}

static ne_store_ack_policy store_policy(const ne_js_consumer *c)
{
    return c->cfg.ack_policy == NE_JS_ACK_ALL ? NE_STORE_ACK_ALL : NE_STORE_ACK_EXPLICIT;
}

bool ne_js_file_consumer_created(ne_js *js, ne_js_consumer *c, ne_js_error *e)
{
    ne_js_file *f = &js->file;
    if (!persisted(c)) {
        return true;
    }
    if (c->cfg.ack_policy != NE_JS_ACK_NONE &&
        (c->cfg.max_ack_pending <= 0 || c->cfg.max_ack_pending > NE_JS_FILE_PENDING)) {
        ne_js_error_set(e, NE_JS_ERR_CONSUMER_CREATE,
                        "max ack pending of a durable consumer of a file stream is at most %u "
                        "(NE_JS_FILE_PENDING)",
                        (unsigned)NE_JS_FILE_PENDING);
        return false;
    }
    if (!device_ready(js, true)) {
        ne_js_error_set(e, NE_JS_ERR_STORAGE_RESOURCES_EXCEEDED, "%s", "");
        return false;
    }
    ne_js_file_consumer *fc = ne_pool_alloc_uninit(&f->consumers);
    if (fc == NULL) {
        ne_log_warn(js->conns->log,
                    "JetStream file consumers exhausted (%u): raise NE_JS_FILE_CONSUMERS",
                    (unsigned)NE_JS_FILE_CONSUMERS);
        ne_js_error_set(e, NE_JS_ERR_INSUFFICIENT_RESOURCES, "%s", "");
        return false;
    }
    memset(&fc->sc, 0, sizeof(fc->sc));
    fc->written = 0;
    uint32_t id = f->restoring;
    bool created = false;
    int rc = NE_OK;
    if (id == 0) {
        size_t doc_len = 0;
        rc = consumer_doc(js, c, &doc_len);
        if (rc == NE_OK) {
            rc = ne_store_dev_create(&f->s->dev, NE_STORE_KIND_CONSUMER,
                                     fs_of(&c->stream->store)->log_id, c->name, strlen(c->name),
                                     f->s->doc, doc_len, &id);
        }
        created = rc == NE_OK;
    }
    ne_store_consumer_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.ack_policy = store_policy(c);
    cfg.pending = fc->pending;
    cfg.pending_capacity = NE_JS_FILE_PENDING;
    cfg.snapshot_buf = f->s->snapshot;
    cfg.snapshot_bytes = sizeof(f->s->snapshot);
    if (rc == NE_OK) {
        rc = ne_store_consumer_attach(&fc->sc, &f->s->dev, id, &cfg);
        if (rc != NE_OK && created) {
            (void)ne_store_dev_delete(&f->s->dev, id);
        }
    }
    if (rc != NE_OK) {
        ne_pool_free(&f->consumers, fc);
        catalogue_error(js, "creating consumer", c->name, rc, e);
        return false;
    }
    fc->log_id = id;
    f->consumer_file[c->slot] = (uint16_t)(ne_pool_index(&f->consumers, fc) + 1u);
    if (f->restoring != 0) {
        const ne_store_consumer *sc = &fc->sc;
        ne_js_consumer_restore(js, c, sc->delivered.consumer_seq, sc->delivered.stream_seq,
                               sc->ack_floor.consumer_seq, sc->ack_floor.stream_seq, sc->pending,
                               sc->pending_count);
    }
    return true;
}

void ne_js_file_consumer_updated(ne_js *js, ne_js_consumer *c)
{
    ne_js_file_consumer *fc = fc_of(js, c);
    if (fc == NULL) {
        return;
    }
    size_t len = 0;
    int rc = consumer_doc(js, c, &len);
    if (rc == NE_OK) {
        rc = ne_store_dev_update(&js->file.s->dev, fc->log_id, js->file.s->doc, len);
    }
    if (rc != NE_OK) {
        catalogue_error(js, "updating consumer", c->name, rc, NULL);
    }
}

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v;
    h *= 0x100000001b3ull;
    return h ^ (h >> 29);
}

/* A digest of what the consumer's log holds. */
static uint64_t digest(const ne_js *js, const ne_js_consumer *c)
{
    uint64_t h = 0xcbf29ce484222325ull;
    h = mix(h, c->dseq);
    h = mix(h, c->sseq);
    h = mix(h, c->adflr);
    h = mix(h, c->asflr);
    uint32_t i = c->pending_head;
    for (uint32_t guard = 0; i != NE_JS_NONE && guard < NE_JS_MAX_PENDING; guard++) {
        const ne_js_pending *p = pending_at(js, i);
        h = mix(h, p->sseq);
        h = mix(h, p->dseq);
        h = mix(h, p->dc);
        i = p->next;
    }
    return h | 1u;
}

/* The whole state as one snapshot record (ne_store_consumer_update). */
static int write_state(ne_js *js, const ne_js_consumer *c, ne_store_consumer *sc,
                       ne_store_seq_pair delivered, ne_store_seq_pair floor)
{
    ne_store_pending *out = js->file.s->pending;
    /* Deadlines are kept as wall-clock times: the monotonic clock starts
     * again at a restart. */
    uint64_t wall = ne_js_now_ns();
    uint64_t mono = ne_js_mono_ns(js);
    uint32_t n = 0;
    uint32_t i = c->pending_head;
    for (uint32_t guard = 0; i != NE_JS_NONE && guard < NE_JS_MAX_PENDING && n < NE_JS_FILE_PENDING;
         guard++) {
        const ne_js_pending *p = pending_at(js, i);
        out[n++] = (ne_store_pending){.stream_seq = p->sseq,
                                      .consumer_seq = p->dseq,
                                      .deliveries = p->dc > 0 ? p->dc : 1u,
                                      .timestamp_ns = p->due || p->deadline_ns <= mono
                                                          ? wall
                                                          : wall + (p->deadline_ns - mono)};
        i = p->next;
    }
    if (c->cfg.ack_policy == NE_JS_ACK_NONE) {
        floor = delivered;
        n = 0;
    }
    return ne_store_consumer_update(sc, delivered, floor, out, n);
}

/* The changes since the consumer's state was last written, as one record
 * of the log's (ne_store_consumer_changes): an ack for each entry of the
 * log's state (sc) that left the pending list, a delivery for each entry
 * that came or was delivered again. Its bytes follow the changes, not the
 * pending entries; the store writes a whole snapshot now and then by
 * itself. Both lists are sorted by stream sequence. NE_ERR_RANGE when the
 * changes do not reproduce the state (more changes than a snapshot holds,
 * ack policy all, an ack floor moved otherwise than the store moves it, a
 * message delivered and acknowledged between two writes): the caller then
 * writes the whole state, which replaces what came before it. */
static int write_changes(ne_js *js, const ne_js_consumer *c, ne_store_consumer *sc,
                         ne_store_seq_pair delivered, ne_store_seq_pair floor)
{
    if (sc->ack_policy != NE_STORE_ACK_EXPLICIT) {
        return NE_ERR_RANGE;
    }
    ne_store_change *out = js->file.s->changes;
    uint32_t cap = NE_JS_FILE_PENDING;
    uint32_t n = 0;
    uint32_t li = c->pending_head;
    for (uint32_t i = 0; i < sc->pending_count; i++) {
        const ne_store_pending *have = &sc->pending[i];
        for (uint32_t guard = 0; li != NE_JS_NONE && pending_at(js, li)->sseq < have->stream_seq &&
                                 guard < NE_JS_MAX_PENDING;
             guard++) {
            li = pending_at(js, li)->next;
        }
        if (li != NE_JS_NONE && pending_at(js, li)->sseq == have->stream_seq) {
            if (pending_at(js, li)->dseq != have->consumer_seq) {
                return NE_ERR_RANGE;
            }
            continue;
        }
        if (n == cap) {
            return NE_ERR_RANGE;
        }
        out[n++] = (ne_store_change){.kind = NE_STORE_CHANGE_ACK,
                                     .consumer_seq = have->consumer_seq,
                                     .stream_seq = have->stream_seq};
    }
    uint64_t wall = ne_js_now_ns();
    uint64_t mono = ne_js_mono_ns(js);
    li = c->pending_head;
    for (uint32_t guard = 0; li != NE_JS_NONE && guard < NE_JS_MAX_PENDING; guard++) {
        const ne_js_pending *p = pending_at(js, li);
        li = p->next;
        uint32_t dc = p->dc > 0 ? p->dc : 1u;
        const ne_store_pending *have = ne_store_consumer_find(sc, p->sseq);
        if (have != NULL && have->deliveries == dc) {
            continue;
        }
        if (n == cap) {
            return NE_ERR_RANGE;
        }
        /* Deadlines are kept as wall-clock times: the monotonic clock
         * starts again at a restart. */
        out[n++] = (ne_store_change){.kind = NE_STORE_CHANGE_DELIVERED,
                                     .deliveries = dc,
                                     .consumer_seq = p->dseq,
                                     .stream_seq = p->sseq,
                                     .timestamp_ns = p->due || p->deadline_ns <= mono
                                                         ? wall
                                                         : wall + (p->deadline_ns - mono)};
    }
    int rc = ne_store_consumer_changes(sc, out, n);
    if (rc == NE_ERR_INVALID || rc == NE_ERR_TOO_BIG) {
        return NE_ERR_RANGE;
    }
    if (rc != NE_OK) {
        return rc;
    }
    bool same = sc->pending_count == c->pending_count &&
                sc->delivered.consumer_seq == delivered.consumer_seq &&
                sc->delivered.stream_seq == delivered.stream_seq &&
                sc->ack_floor.consumer_seq == floor.consumer_seq &&
                sc->ack_floor.stream_seq == floor.stream_seq;
    return same ? NE_OK : NE_ERR_RANGE;
}

/* Writes the consumer's state when it changed since it was last written:
 * the changes in one record when they reproduce it, else the whole state.
 * False when it could not be written (logged). */
static bool persist(ne_js *js, ne_js_consumer *c)
{
    ne_js_file *f = &js->file;
    ne_js_file_consumer *fc = fc_of(js, c);
    if (fc == NULL) {
        return true;
    }
    uint64_t d = digest(js, c);
    if (d == fc->written) {
        return true;
    }
    if (c->pending_count > NE_JS_FILE_PENDING) {
        ne_log_warn(js->conns->log,
                    "JetStream consumer \"%s\": %u acknowledgements pending, more than its file "
                    "state holds (NE_JS_FILE_PENDING %u): not written",
                    c->name, (unsigned)c->pending_count, (unsigned)NE_JS_FILE_PENDING);
        return false;
    }
    uint64_t delivered_sseq = c->sseq > 0 ? c->sseq - 1u : 0;
    ne_store_seq_pair delivered = {c->dseq, delivered_sseq};
    ne_store_seq_pair floor = {NE_MIN(c->adflr, c->dseq), NE_MIN(c->asflr, delivered_sseq)};
    int rc = NE_ERR_RANGE;
    if (c->cfg.ack_policy != NE_JS_ACK_NONE) {
        rc = write_changes(js, c, &fc->sc, delivered, floor);
    }
    if (rc == NE_ERR_RANGE) {
        rc = write_state(js, c, &fc->sc, delivered, floor);
    }
    f->dirty = true; /* also after an error: records before it may be written */
    if (rc != NE_OK) {
        ne_log_warn(js->conns->log, "JetStream consumer \"%s\": its state was not written: %s",
                    c->name, ne_err_name(rc));
        return false;
    }
    fc->written = d;
    return true;
}

/* Once the device is synced, each consumer log drops the states before its
 * newest (ne_store_consumer_sync): the log holds one state, not all. */
static void trim_consumer_logs(ne_js *js)
{
    for (uint32_t i = 0; i < js->account_count; i++) {
        uint32_t guard = 0;
        for (ne_js_stream *st = js->accounts[i].streams; st != NULL && guard++ < NE_JS_MAX_STREAMS;
             st = st->next) {
            uint32_t cguard = 0;
            for (ne_js_consumer *c = st->consumers; c != NULL && cguard++ < NE_JS_MAX_CONSUMERS;
                 c = c->next) {
                ne_js_file_consumer *fc = fc_of(js, c);
                if (fc != NULL && fc->sc.snapshot_seq != 0) {
                    (void)ne_store_consumer_sync(&fc->sc);
                }
            }
        }
    }
}

static bool sync_now(ne_js *js)
{
    ne_js_file *f = &js->file;
    int rc = ne_store_dev_sync(&f->s->dev);
    if (rc != NE_OK) {
        ne_log_error(js->conns->log, "JetStream file store: sync failed: %s", ne_err_name(rc));
        return false;
    }
    f->dirty = false;
    f->unsynced = false;
    trim_consumer_logs(js);
    return true;
}

/* sync_interval: what changed is written to the device (the OS), so a
 * killed process loses nothing of it; the device is synced once the oldest
 * change not synced is an interval old (nats-server's promise: synced no
 * later than the interval), at the end of a turn or at a timer tick. */
static bool flush_periodic(ne_js *js)
{
    ne_js_file *f = &js->file;
    if (f->dirty) {
        int rc = ne_store_dev_flush(&f->s->dev);
        if (rc != NE_OK) {
            ne_log_error(js->conns->log, "JetStream file store: write failed: %s", ne_err_name(rc));
            return false;
        }
        f->dirty = false;
        if (!f->unsynced) {
            f->unsynced = true;
            f->unsynced_ms = js->conns->now_ms;
        }
    }
    if (f->unsynced && js->conns->now_ms - f->unsynced_ms >= f->sync_interval_ms) {
        return sync_now(js);
    }
    return true;
}

/* True when everything changed so far is durable: synced (sync_interval
 * "always", the default), or written to the device with a sync due within
 * the interval. */
static bool sync_device(ne_js *js)
{
    ne_js_file *f = &js->file;
    if (!f->open || (!f->dirty && !f->unsynced)) {
        return !f->open || !f->failed;
    }
    if (f->sync_interval_ms != 0) {
        return flush_periodic(js);
    }
    return sync_now(js);
}

bool ne_js_file_consumer_sync(ne_js *js, ne_js_consumer *c)
{
    bool written = persist(js, c);
    return sync_device(js) && written;
}

bool ne_js_file_sync(ne_js *js)
{
    return sync_device(js);
}

void ne_js_file_consumer_deleted(ne_js *js, ne_js_consumer *c)
{
    ne_js_file *f = &js->file;
    ne_js_file_consumer *fc = fc_of(js, c);
    if (fc == NULL) {
        return;
    }
    if (f->closing) {
        (void)persist(js, c);
    }
    (void)ne_store_consumer_detach(&fc->sc);
    if (!f->closing) {
        (void)ne_store_dev_delete(&f->s->dev, fc->log_id);
    }
    f->dirty = true;
    f->consumer_file[c->slot] = 0;
    ne_pool_free(&f->consumers, fc);
}

void ne_js_file_turn_end(ne_js *js, ne_js_account *a)
{
    ne_js_file *f = &js->file;
    if (!f->open) {
        return;
    }
    uint32_t guard = 0;
    for (ne_js_stream *st = a->streams; st != NULL && guard++ < NE_JS_MAX_STREAMS; st = st->next) {
        if (st->cfg.storage != NE_JS_STORAGE_FILE) {
            continue;
        }
        uint32_t cguard = 0;
        for (ne_js_consumer *c = st->consumers; c != NULL && cguard++ < NE_JS_MAX_CONSUMERS;
             c = c->next) {
            (void)persist(js, c);
        }
    }
    (void)sync_device(js);
}

/* ---- Start-up: the streams and consumers of the catalogue --------------------------------- */

static ne_js_account *account_named(ne_js *js, const char *name, size_t len)
{
    for (uint32_t i = 0; i < js->account_count; i++) {
        const char *n = js->opts->accounts[js->accounts[i].index].name;
        if (strlen(n) == len && memcmp(n, name, len) == 0) {
            return &js->accounts[i];
        }
    }
    return NULL;
}

/* The duplicate window again, from the Nats-Msg-Id headers of the messages
 * stored within it. */
static void restore_ids(ne_js *js, ne_js_stream *st)
{
    if (st->cfg.duplicate_window_ns <= 0 || st->store.state.msgs == 0) {
        return;
    }
    uint64_t wall = ne_js_now_ns();
    uint64_t window = (uint64_t)st->cfg.duplicate_window_ns;
    uint64_t from = st->store.ops->seq_at_time(&st->store, wall > window ? wall - window : 0);
    uint8_t hdr[1024];
    ne_js_msg_info info;
    uint64_t guard = 0;
    while (guard++ <= st->store.state.msgs) {
        memset(&info, 0, sizeof(info));
        if (st->store.ops->next(&st->store, from, (ne_slice){"", 0}, &info) != NE_OK) {
            break;
        }
        from = info.seq + 1;
        ne_slice id;
        if (info.hdr_len == 0 || info.hdr_len > sizeof(hdr) ||
            st->store.ops->read(&st->store, info.seq, 0, hdr, info.hdr_len) != NE_OK ||
            !ne_js_hdr_get(hdr, info.hdr_len, "Nats-Msg-Id", &id) || id.len == 0 ||
            id.len >= NE_JS_MSG_ID_BYTES) {
            continue;
        }
        ne_js_stream_remember_id(js, st, id, info.seq, info.ts_ns);
    }
}

static void restore_consumers(ne_js *js, ne_js_stream *st, uint32_t stream_log)
{
    ne_js_file *f = &js->file;
    ne_store_entry e;
    uint32_t after = 0;
    for (uint32_t guard = 0; guard <= NE_STORE_MAX_LOGS; guard++) {
        int rc = ne_store_dev_next_entry(&f->s->dev, after, &e, f->s->entry, sizeof(f->s->entry));
        if (rc == NE_ERR_NOT_FOUND) {
            break;
        }
        after = e.id;
        if (rc != NE_OK || e.kind != NE_STORE_KIND_CONSUMER || e.owner != stream_log) {
            continue;
        }
        ne_js_error err;
        ne_js_error_clear(&err);
        int64_t created = 0;
        int cfg_tok = -1;
        if (ne_json_parse(&js->doc, (const char *)e.config, e.config_len) == NE_OK) {
            (void)ne_json_get_i64(&js->doc, 0, "created", &created);
            cfg_tok = ne_json_find(&js->doc, 0, "config");
        }
        ne_js_consumer_cfg *cfg = &js->consumer_cfg;
        if (cfg_tok < 0 || !ne_js_consumer_cfg_parse(js, &js->doc, cfg_tok, cfg, &err)) {
            ne_log_warn(js->conns->log,
                        "JetStream file store: consumer \"%.*s\" of stream \"%s\" has a "
                        "configuration that does not parse: left on disk",
                        (int)e.name_len, e.name, ne_js_stream_name(js, st));
            continue;
        }
        ne_js_consumer *c = NULL;
        bool made = false;
        f->restoring = e.id;
        bool ok = ne_js_consumer_create(js, st, cfg, &c, &made, &err);
        f->restoring = 0;
        ne_js_consumer_cfg_release(js, cfg);
        if (!ok || !made) {
            ne_log_warn(js->conns->log,
                        "JetStream file store: consumer \"%.*s\" of stream \"%s\" not restored "
                        "(error %u): left on disk",
                        (int)e.name_len, e.name, ne_js_stream_name(js, st), (unsigned)err.err);
            continue;
        }
        if (created > 0) {
            c->created_ns = (uint64_t)created;
        }
    }
}

static void restore_stream(ne_js *js, const ne_store_entry *e)
{
    ne_js_file *f = &js->file;
    size_t slash = e->name_len;
    while (slash > 0 && e->name[slash - 1] != '/') {
        slash--;
    }
    ne_js_account *a = slash > 0 ? account_named(js, e->name, slash - 1) : NULL;
    if (a == NULL) {
        ne_log_warn(js->conns->log,
                    "JetStream file store: stream \"%.*s\" belongs to no account with "
                    "JetStream: left on disk",
                    (int)e->name_len, e->name);
        return;
    }
    ne_js_error err;
    ne_js_error_clear(&err);
    int64_t created = 0;
    int cfg_tok = -1;
    if (ne_json_parse(&js->doc, (const char *)e->config, e->config_len) == NE_OK) {
        (void)ne_json_get_i64(&js->doc, 0, "created", &created);
        cfg_tok = ne_json_find(&js->doc, 0, "config");
    }
    ne_js_stream_cfg *cfg = &js->stream_cfg;
    if (cfg_tok < 0 || !ne_js_stream_cfg_parse(js, &js->doc, cfg_tok, cfg, &err)) {
        ne_log_warn(js->conns->log,
                    "JetStream file store: stream \"%.*s\" has a configuration that does not "
                    "parse: left on disk",
                    (int)e->name_len, e->name);
        return;
    }
    ne_js_stream *st = NULL;
    bool ok = ne_js_stream_cfg_check(js, a, cfg, &err);
    if (ok) {
        f->restoring = e->id;
        ok = ne_js_stream_create(js, a, cfg, &st, &err);
        f->restoring = 0;
    }
    ne_js_stream_cfg_release(js, cfg);
    if (!ok) {
        ne_log_warn(js->conns->log,
                    "JetStream file store: stream \"%.*s\" not restored (error %u %s): left on "
                    "disk",
                    (int)e->name_len, e->name, (unsigned)err.err, err.arg);
        return;
    }
    if (created > 0) {
        st->created_ns = (uint64_t)created;
    }
    restore_ids(js, st);
    restore_consumers(js, st, e->id);
    ne_log_info(js->conns->log, "  Restored stream \"%s\": %llu messages, %u consumers",
                ne_js_stream_name(js, st), (unsigned long long)st->store.state.msgs,
                (unsigned)st->consumer_count);
}

int ne_js_file_start(ne_js *js)
{
    ne_js_file *f = &js->file;
    if (!device_ready(js, false)) {
        return NE_OK;
    }
    ne_store_entry e;
    uint32_t after = 0;
    for (uint32_t guard = 0; guard <= NE_STORE_MAX_LOGS; guard++) {
        int rc = ne_store_dev_next_entry(&f->s->dev, after, &e, f->s->entry, sizeof(f->s->entry));
        if (rc == NE_ERR_NOT_FOUND) {
            break;
        }
        after = e.id;
        if (rc != NE_OK || e.kind != NE_STORE_KIND_STREAM) {
            continue;
        }
        restore_stream(js, &e);
    }
    (void)sync_device(js);
    return NE_OK;
}

void ne_js_file_close(ne_js *js)
{
    ne_js_file *f = &js->file;
    if (!f->open) {
        return;
    }
    f->dirty = true;
    (void)sync_now(js);
    f->open = false;
    f->port.close(f->port.ctx);
}

uint32_t ne_js_file_in_use(const ne_js *js)
{
    return js->file.streams.in_use + js->file.consumers.in_use +
           ne_store_subject_pool_in_use(&js->file.subjects);
}

#endif /* NE_FEATURE_JETSTREAM */
