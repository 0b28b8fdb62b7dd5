/* Stream and consumer configurations (ne_js_int.h): read from a request's
 * JSON as nats-server's decoder does (unknown keys ignored, a value of the
 * wrong type refuses the document with 10025 "invalid JSON"), checked by
 * nats-server's rules (checkStreamCfg), and written back in nats-server's
 * field order and omitempty rules. */
#include "js/ne_js_int.h"

#if NE_FEATURE_JETSTREAM

#include <stdarg.h>
#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "core/ne_fmt.h"
#include "core/ne_subject.h"

/* ---- Reading ----------------------------------------------------------------------- */

typedef struct reader {
    ne_js *js;
    const ne_json_doc *doc;
    int obj;
    ne_js_error *e;
    bool ok;
} reader;

static bool is_null(const ne_json_doc *doc, int i)
{
    return doc->tokens[i].type == JSMN_PRIMITIVE && ne_json_token_eq(doc, i, "null");
}

/* The value of key, or -1 when absent or null (null leaves Go's field as it
 * was). */
static int value_of(reader *r, const char *key)
{
    int i = ne_json_find(r->doc, r->obj, key);
    return i < 0 || is_null(r->doc, i) ? -1 : i;
}

static void bad_json(reader *r)
{
    if (r->ok) {
        r->ok = false;
        ne_js_error_set(r->e, NE_JS_ERR_INVALID_JSON, "%s", "");
    }
}

static void fail(reader *r, ne_js_err err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(reader *r, ne_js_err err, const char *fmt, ...)
{
    if (!r->ok) {
        return;
    }
    r->ok = false;
    r->e->err = err;
    va_list ap;
    va_start(ap, fmt);
    ne_strbuf sb;
    ne_strbuf_init(&sb, r->e->arg, sizeof(r->e->arg));
    ne_strbuf_vprintf(&sb, fmt, ap);
    va_end(ap);
}

static void read_i64(reader *r, const char *key, int64_t *out)
{
    int i = value_of(r, key);
    if (i >= 0 && r->ok && !ne_json_token_i64(r->doc, i, out)) {
        bad_json(r);
    }
}

static void read_u64(reader *r, const char *key, uint64_t *out)
{
    int i = value_of(r, key);
    if (i >= 0 && r->ok && !ne_json_token_u64(r->doc, i, out)) {
        bad_json(r);
    }
}

static void read_int32(reader *r, const char *key, int64_t *out)
{
    int64_t v = 0;
    int i = value_of(r, key);
    if (i < 0 || !r->ok) {
        return;
    }
    if (!ne_json_token_i64(r->doc, i, &v) || v < INT32_MIN || v > INT32_MAX) {
        bad_json(r);
        return;
    }
    *out = v;
}

static void read_bool(reader *r, const char *key, bool *out)
{
    int i = value_of(r, key);
    if (i < 0 || !r->ok) {
        return;
    }
    if (ne_json_token_eq(r->doc, i, "true")) {
        *out = true;
    } else if (ne_json_token_eq(r->doc, i, "false")) {
        *out = false;
    } else {
        bad_json(r);
    }
}

/* A string into buf; *too_long when it does not fit (buf then empty). */
static void read_string(reader *r, int i, char *buf, size_t cap, bool *too_long)
{
    size_t len = 0;
    *too_long = false;
    buf[0] = '\0';
    if (r->doc->tokens[i].type != JSMN_STRING) {
        bad_json(r);
        return;
    }
    if (!ne_json_token_string(r->doc, i, buf, cap, &len)) {
        /* Well formed but too long, or a bad escape. */
        char probe[8];
        bool cut = false;
        if (ne_json_token_string_cut(r->doc, i, probe, sizeof(probe), &len, &cut) && cut) {
            *too_long = true;
        } else {
            bad_json(r);
        }
        buf[0] = '\0';
    }
}

/* A string into a text slot (*slot NE_JS_NO_TEXT when empty). what names
 * the field in the error for one longer than a slot. */
static void read_text_at(reader *r, int i, uint16_t *slot, const char *what)
{
    char *buf = r->js->subject;
    bool too_long = false;
    read_string(r, i, buf, NE_JS_TEXT_BYTES, &too_long);
    if (!r->ok) {
        return;
    }
    if (too_long) {
        fail(r, NE_JS_ERR_STREAM_INVALID_CONFIG, "%s is too long, maximum allowed is %u", what,
             (unsigned)NE_JS_MAX_TEXT_LEN);
        return;
    }
    size_t len = strlen(buf);
    if (len == 0) {
        return;
    }
    *slot = ne_js_text_put(r->js, buf, len);
    if (*slot == NE_JS_NO_TEXT) {
        fail(r, NE_JS_ERR_INSUFFICIENT_RESOURCES, "%s", "");
    }
}

/* A stream's name into a text slot (ne_js_name_put; *slot NE_JS_NO_TEXT
 * when empty). */
static void read_name_slot(reader *r, int i, uint16_t *slot)
{
    char *buf = r->js->subject;
    _Static_assert(sizeof(r->js->subject) >= NE_JS_NAME_BYTES, "a name fits the scratch subject");
    bool too_long = false;
    read_string(r, i, buf, NE_JS_NAME_BYTES, &too_long);
    if (!r->ok) {
        return;
    }
    if (too_long) {
        fail(r, NE_JS_ERR_STREAM_INVALID_CONFIG, "stream name is too long, maximum allowed is %u",
             (unsigned)NE_JS_MAX_NAME_LEN);
        return;
    }
    size_t len = strlen(buf);
    if (len == 0) {
        return;
    }
    *slot = ne_js_name_put(r->js, buf, len);
    if (*slot == NE_JS_NO_TEXT) {
        fail(r, NE_JS_ERR_INSUFFICIENT_RESOURCES, "%s", "");
    }
}

static void read_text(reader *r, const char *key, uint16_t *slot, const char *what)
{
    int i = value_of(r, key);
    if (i >= 0 && r->ok) {
        read_text_at(r, i, slot, what);
    }
}

/* One of names (exact JSON string; icase for discard's lower-case match;
 * alias, when not NULL, is another name of the first). */
static void read_enum_alias(reader *r, const char *key, const char *const *names, uint8_t count,
                            uint8_t *out, bool icase, const char *alias)
{
    int i = ne_json_find(r->doc, r->obj, key);
    if (i < 0 || !r->ok) {
        return;
    }
    char buf[24];
    bool too_long = false;
    if (r->doc->tokens[i].type != JSMN_STRING) {
        bad_json(r); /* null too: the type's decoder refuses it */
        return;
    }
    read_string(r, i, buf, sizeof(buf), &too_long);
    if (!r->ok || too_long) {
        bad_json(r);
        return;
    }
    if (icase) {
        for (char *p = buf; *p != '\0'; p++) {
            *p = *p >= 'A' && *p <= 'Z' ? (char)(*p - 'A' + 'a') : *p;
        }
    }
    for (uint8_t k = 0; k < count; k++) {
        if (names[k] != NULL && strcmp(buf, names[k]) == 0) {
            *out = k;
            return;
        }
    }
    if (alias != NULL && strcmp(buf, alias) == 0) {
        *out = 0;
        return;
    }
    bad_json(r);
}

static void read_enum(reader *r, const char *key, const char *const *names, uint8_t count,
                      uint8_t *out, bool icase)
{
    read_enum_alias(r, key, names, count, out, icase, NULL);
}

/* An object or null, for a key whose contents are checked for type only. */
static int read_object(reader *r, const char *key)
{
    int i = value_of(r, key);
    if (i >= 0 && r->doc->tokens[i].type != JSMN_OBJECT) {
        bad_json(r);
        return -1;
    }
    return i;
}

static const char *const retention_names[] = {"limits", "interest", "workqueue"};
static const char *const discard_names[] = {"old", "new"};
static const char *const storage_names[] = {"file", "memory", "any"};
static const char *const deliver_names[] = {
    "all", "last", "new", "by_start_sequence", "by_start_time", "last_per_subject"};
static const char *const ack_names[] = {"none", "all", "explicit"};
static const char *const replay_names[] = {"instant", "original"};

/* ---- Stream configuration --------------------------------------------------------- */

void ne_js_stream_cfg_init(ne_js_stream_cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->name = NE_JS_NO_TEXT;
    cfg->description = NE_JS_NO_TEXT;
    cfg->template_owner = NE_JS_NO_TEXT;
    cfg->republish_src = NE_JS_NO_TEXT;
    cfg->republish_dest = NE_JS_NO_TEXT;
    for (size_t i = 0; i < NE_JS_MAX_STREAM_SUBJECTS; i++) {
        cfg->subjects[i] = NE_JS_NO_TEXT;
    }
    cfg->storage = 0xff; /* unset: file by default (checkStreamCfg) */
    cfg->forward_prefix = NE_JS_NO_TEXT;
    cfg->sources = NULL;
}

void ne_js_stream_cfg_release(ne_js *js, ne_js_stream_cfg *cfg)
{
    ne_js_text_free(js, &cfg->name);
    ne_js_text_free(js, &cfg->description);
    ne_js_text_free(js, &cfg->template_owner);
    ne_js_text_free(js, &cfg->republish_src);
    ne_js_text_free(js, &cfg->republish_dest);
    for (size_t i = 0; i < NE_JS_MAX_STREAM_SUBJECTS; i++) {
        ne_js_text_free(js, &cfg->subjects[i]);
    }
    cfg->subject_count = 0;
    if (cfg->sources != NULL) {
        for (size_t i = 0; i < NE_JS_MAX_STREAM_SOURCES; i++) {
            ne_js_source_cfg *src = &cfg->sources[i];
            ne_js_text_free(js, &src->name);
            ne_js_text_free(js, &src->filter);
            ne_js_text_free(js, &src->api);
            ne_js_text_free(js, &src->deliver);
        }
        ne_pool_free(&js->source_set_pool, cfg->sources);
        cfg->sources = NULL;
    }
    cfg->source_count = 0;
    cfg->mirror = false;
    ne_js_text_free(js, &cfg->forward_prefix);
    cfg->forward = false;
}

static void read_subjects(reader *r, ne_js_stream_cfg *cfg)
{
    int i = value_of(r, "subjects");
    if (i < 0 || !r->ok) {
        return;
    }
    const ne_json_doc *doc = r->doc;
    if (doc->tokens[i].type != JSMN_ARRAY) {
        bad_json(r);
        return;
    }
    int n = doc->tokens[i].size;
    int at = i + 1;
    for (int k = 0; k < n && r->ok; k++, at = ne_json_skip(doc, at)) {
        if (is_null(doc, at)) {
            /* Go decodes null into "": an invalid subject, refused later. */
            if (cfg->subject_count >= NE_JS_MAX_STREAM_SUBJECTS) {
                fail(r, NE_JS_ERR_STREAM_INVALID_CONFIG,
                     "too many subjects, maximum allowed is %u (NE_JS_MAX_STREAM_SUBJECTS)",
                     (unsigned)NE_JS_MAX_STREAM_SUBJECTS);
                return;
            }
            cfg->subjects[cfg->subject_count++] = NE_JS_NO_TEXT;
            continue;
        }
        if (doc->tokens[at].type != JSMN_STRING) {
            bad_json(r);
            return;
        }
        if (cfg->subject_count >= NE_JS_MAX_STREAM_SUBJECTS) {
            fail(r, NE_JS_ERR_STREAM_INVALID_CONFIG,
                 "too many subjects, maximum allowed is %u (NE_JS_MAX_STREAM_SUBJECTS)",
                 (unsigned)NE_JS_MAX_STREAM_SUBJECTS);
            return;
        }
        uint16_t slot = NE_JS_NO_TEXT;
        read_text_at(r, at, &slot, "subject");
        cfg->subjects[cfg->subject_count++] = slot;
    }
}

/* placement { cluster, tags } is accepted (one server: no placement) and
 * its types are checked as nats-server's decoder does. */
static void read_placement(reader *r)
{
    int i = read_object(r, "placement");
    if (i < 0 || !r->ok) {
        return;
    }
    reader sub = *r;
    sub.obj = i;
    int c = value_of(&sub, "cluster");
    if (c >= 0 && r->doc->tokens[c].type != JSMN_STRING) {
        bad_json(r);
    }
    int t = value_of(&sub, "tags");
    if (t >= 0 && r->doc->tokens[t].type != JSMN_ARRAY) {
        bad_json(r);
    }
}

static void read_republish(reader *r, ne_js_stream_cfg *cfg)
{
    int i = read_object(r, "republish");
    if (i < 0 || !r->ok) {
        return;
    }
    reader sub = *r;
    sub.obj = i;
    read_text(&sub, "src", &cfg->republish_src, "republish source");
    read_text(&sub, "dest", &cfg->republish_dest, "republish destination");
    read_bool(&sub, "headers_only", &cfg->republish_headers_only);
    r->ok = sub.ok;
    if (r->ok && cfg->republish_dest == NE_JS_NO_TEXT) {
        /* An empty destination: the transform nats-server would build fails. */
        fail(r, NE_JS_ERR_STREAM_INVALID_CONFIG, "%s",
             "stream configuration for republish not valid");
    }
}

/* One StreamSource object: name, opt_start_seq, filter_subject and
 * external { api, deliver } (store-and-forward.md). */
static void read_source(reader *r, int obj, ne_js_source_cfg *src)
{
    reader sub = *r;
    sub.obj = obj;
    read_text(&sub, "name", &src->name, "source name");
    read_u64(&sub, "opt_start_seq", &src->opt_start_seq);
    int t = value_of(&sub, "opt_start_time");
    if (t >= 0 && sub.ok) {
        char buf[64];
        bool too_long = false;
        read_string(&sub, t, buf, sizeof(buf), &too_long);
        if (sub.ok && (too_long || !ne_js_parse_time(buf, strlen(buf), &src->opt_start_time_ns))) {
            bad_json(&sub);
        }
    }
    read_text(&sub, "filter_subject", &src->filter, "source filter");
    int ext = read_object(&sub, "external");
    if (ext >= 0 && sub.ok) {
        reader x = sub;
        x.obj = ext;
        read_text(&x, "api", &src->api, "external api prefix");
        read_text(&x, "deliver", &src->deliver, "external deliver prefix");
        sub.ok = x.ok;
    }
    r->ok = sub.ok;
}

/* The configuration's set of sources, taken at its first source (false
 * when the pool has none: the request fails with 10023). */
static bool source_set(reader *r, ne_js_stream_cfg *cfg)
{
    if (cfg->sources != NULL) {
        return true;
    }
    ne_js_source_set *set = ne_pool_alloc(&r->js->source_set_pool);
    if (set == NULL) {
        ne_log_warn(r->js->conns->log,
                    "JetStream source sets exhausted (%u): raise NE_JS_SOURCED_STREAMS",
                    (unsigned)NE_JS_SOURCED_STREAMS);
        fail(r, NE_JS_ERR_INSUFFICIENT_RESOURCES, "%s", "");
        return false;
    }
    for (size_t i = 0; i < NE_JS_MAX_STREAM_SOURCES; i++) {
        ne_js_source_cfg *src = &set->entries[i];
        src->name = src->filter = src->api = src->deliver = NE_JS_NO_TEXT;
    }
    cfg->sources = set->entries;
    return true;
}

/* mirror { } or sources [ ] (not both: 10031). */
static void read_sources(reader *r, ne_js_stream_cfg *cfg)
{
    int m = read_object(r, "mirror");
    if (m >= 0 && r->ok && source_set(r, cfg)) {
        cfg->mirror = true;
        cfg->source_count = 1;
        read_source(r, m, &cfg->sources[0]);
    }
    int list = value_of(r, "sources");
    if (list < 0 || !r->ok) {
        return;
    }
    const ne_json_doc *doc = r->doc;
    if (doc->tokens[list].type != JSMN_ARRAY) {
        bad_json(r);
        return;
    }
    int n = doc->tokens[list].size;
    if (n > 0 && cfg->mirror) {
        fail(r, NE_JS_ERR_MIRROR_WITH_SOURCES, "%s", "");
        return;
    }
    int item = list + 1;
    for (int k = 0; k < n && r->ok && item < doc->count; k++) {
        if (doc->tokens[item].type != JSMN_OBJECT) {
            bad_json(r);
            return;
        }
        if (cfg->source_count >= NE_JS_MAX_STREAM_SOURCES) {
            fail(r, NE_JS_ERR_STREAM_INVALID_CONFIG,
                 "too many sources, maximum allowed is %u (NE_JS_MAX_STREAM_SOURCES)",
                 (unsigned)NE_JS_MAX_STREAM_SOURCES);
            return;
        }
        if (!source_set(r, cfg)) {
            return;
        }
        read_source(r, item, &cfg->sources[cfg->source_count++]);
        item = ne_json_skip(doc, item);
    }
}

/* forward { prefix, window, backlog_advisory }: natsedge's extension
 * (store-and-forward.md). */
static void read_forward(reader *r, ne_js_stream_cfg *cfg)
{
    int i = read_object(r, "forward");
    if (i < 0 || !r->ok) {
        return;
    }
    reader sub = *r;
    sub.obj = i;
    cfg->forward = true;
    read_text(&sub, "prefix", &cfg->forward_prefix, "forward prefix");
    uint64_t window = 64;
    read_u64(&sub, "window", &window);
    if (sub.ok && (window == 0 || window > NE_JS_FORWARD_MAX_WINDOW)) {
        fail(&sub, NE_JS_ERR_STREAM_INVALID_CONFIG,
             "forward window must be 1 to %u (NE_JS_FORWARD_MAX_WINDOW)",
             (unsigned)NE_JS_FORWARD_MAX_WINDOW);
    }
    cfg->forward_window = (uint16_t)window;
    uint64_t advisory = NE_JS_FORWARD_BACKLOG_ADVISORY_DEFAULT;
    read_u64(&sub, "backlog_advisory", &advisory);
    if (sub.ok && advisory > 100) {
        fail(&sub, NE_JS_ERR_STREAM_INVALID_CONFIG,
             "forward backlog_advisory must be a percent of the stream's limits, 0 to 100");
    }
    cfg->forward_backlog_advisory = (uint8_t)advisory;
    r->ok = sub.ok;
}

bool ne_js_stream_cfg_parse(ne_js *js, const ne_json_doc *doc, int obj, ne_js_stream_cfg *cfg,
                            ne_js_error *e)
{
    ne_js_stream_cfg_init(cfg);
    ne_js_error_clear(e);
    reader r = {js, doc, obj, e, true};
    if (obj < 0 || doc->tokens[obj].type != JSMN_OBJECT) {
        bad_json(&r);
        return false;
    }
    int i = value_of(&r, "name");
    if (i >= 0) {
        read_name_slot(&r, i, &cfg->name);
    }
    read_text(&r, "description", &cfg->description, "stream description");
    read_subjects(&r, cfg);
    read_enum(&r, "retention", retention_names, 3, &cfg->retention, false);
    read_i64(&r, "max_consumers", &cfg->max_consumers);
    read_i64(&r, "max_msgs", &cfg->max_msgs);
    read_i64(&r, "max_bytes", &cfg->max_bytes);
    read_i64(&r, "max_age", &cfg->max_age_ns);
    read_i64(&r, "max_msgs_per_subject", &cfg->max_msgs_per_subject);
    read_int32(&r, "max_msg_size", &cfg->max_msg_size);
    read_enum(&r, "discard", discard_names, 2, &cfg->discard, true);
    read_enum(&r, "storage", storage_names, 3, &cfg->storage, false);
    read_i64(&r, "num_replicas", &cfg->replicas);
    read_bool(&r, "no_ack", &cfg->no_ack);
    read_text(&r, "template_owner", &cfg->template_owner, "template owner");
    read_i64(&r, "duplicate_window", &cfg->duplicate_window_ns);
    read_placement(&r);
    read_sources(&r, cfg);
    read_forward(&r, cfg);
    read_republish(&r, cfg);
    read_bool(&r, "allow_direct", &cfg->allow_direct);
    read_bool(&r, "mirror_direct", &cfg->mirror_direct);
    read_bool(&r, "discard_new_per_subject", &cfg->discard_new_per_subject);
    read_bool(&r, "sealed", &cfg->sealed);
    read_bool(&r, "deny_delete", &cfg->deny_delete);
    read_bool(&r, "deny_purge", &cfg->deny_purge);
    read_bool(&r, "allow_rollup_hdrs", &cfg->allow_rollup);
    if (!r.ok) {
        ne_js_stream_cfg_release(js, cfg);
    }
    return r.ok;
}

static bool check_fail(ne_js_error *e, const char *text)
{
    ne_js_error_set(e, NE_JS_ERR_STREAM_INVALID_CONFIG, "%s", text);
    return false;
}

/* The stream's configured subjects (none: its name, set by the check). */
static ne_slice subject_at(const ne_js *js, const ne_js_stream_cfg *cfg, uint8_t i)
{
    return ne_js_text_get(js, cfg->subjects[i]);
}

/* nats-server's checkStreamCfg, for a stream without mirror or sources. */
bool ne_js_stream_cfg_check(ne_js *js, ne_js_account *a, ne_js_stream_cfg *cfg, ne_js_error *e)
{
    ne_slice name = ne_js_text_get(js, cfg->name);
    size_t name_len = name.len;
    if (!ne_js_name_valid(name.ptr, name_len)) {
        return check_fail(e, "stream name is required and can not contain '.', '*', '>'");
    }
    if (cfg->storage == 0xff) {
        cfg->storage = NE_JS_STORAGE_FILE;
    }
    if (cfg->replicas == 0) {
        cfg->replicas = 1;
    }
    if (cfg->replicas > 5) {
        return check_fail(e, "maximum replicas is 5");
    }
    if (cfg->replicas < 0) {
        ne_js_error_set(e, NE_JS_ERR_REPLICAS_NEGATIVE, "%s", "");
        return false;
    }
    cfg->max_msgs = cfg->max_msgs == 0 ? -1 : cfg->max_msgs;
    cfg->max_msgs_per_subject = cfg->max_msgs_per_subject == 0 ? -1 : cfg->max_msgs_per_subject;
    cfg->max_bytes = cfg->max_bytes == 0 ? -1 : cfg->max_bytes;
    cfg->max_msg_size = cfg->max_msg_size == 0 ? -1 : cfg->max_msg_size;
    cfg->max_consumers = cfg->max_consumers == 0 ? -1 : cfg->max_consumers;
    /* A mirror keeps no duplicate window (it stores what its origin
     * stored): nats-server leaves it 0. */
    if (cfg->duplicate_window_ns == 0 && !cfg->mirror) {
        int64_t max_window = (int64_t)NE_JS_DEFAULT_DUPLICATE_WINDOW_NS;
        if (js->opts->js.duplicate_window_ns > 0 && max_window > js->opts->js.duplicate_window_ns) {
            max_window = js->opts->js.duplicate_window_ns;
        }
        cfg->duplicate_window_ns =
            cfg->max_age_ns != 0 && cfg->max_age_ns < max_window ? cfg->max_age_ns : max_window;
    }
    if (cfg->max_age_ns > 0 && cfg->max_age_ns < 100000000) {
        return check_fail(e, "max age needs to be >= 100ms");
    }
    if (cfg->duplicate_window_ns < 0) {
        return check_fail(e, "duplicates window can not be negative");
    }
    if (cfg->max_age_ns != 0 && cfg->duplicate_window_ns > cfg->max_age_ns) {
        return check_fail(e, "duplicates window can not be larger then max age");
    }
    if (js->opts->js.duplicate_window_ns > 0 &&
        cfg->duplicate_window_ns > js->opts->js.duplicate_window_ns) {
        return check_fail(e, "duplicates window can not be larger then server limit");
    }
    if (cfg->duplicate_window_ns > 0 && cfg->duplicate_window_ns < 100000000) {
        return check_fail(e, "duplicates window needs to be >= 100ms");
    }
    if (cfg->deny_purge && cfg->allow_rollup) {
        return check_fail(e, "roll-ups require the purge permission");
    }
    if (cfg->discard_new_per_subject) {
        if (cfg->discard != NE_JS_DISCARD_NEW) {
            return check_fail(e, "discard new per subject requires discard new policy to be set");
        }
        if (cfg->max_msgs_per_subject <= 0) {
            return check_fail(e, "discard new per subject requires max msgs per subject > 0");
        }
    }
    if (cfg->forward && cfg->retention != NE_JS_RETENTION_LIMITS) {
        return check_fail(e, "forward needs the limits retention policy");
    }
    if (cfg->mirror && cfg->subject_count > 0) {
        ne_js_error_set(e, NE_JS_ERR_MIRROR_WITH_SUBJECTS, "%s", "");
        return false;
    }
    for (uint8_t i = 0; i < cfg->source_count; i++) {
        ne_slice n = ne_js_text_get(js, cfg->sources[i].name);
        if (n.len == 0 || !ne_js_name_valid(n.ptr, n.len)) {
            return check_fail(e, cfg->mirror ? "mirror configuration requires a stream name"
                                             : "sources configuration requires a stream name");
        }
    }
    /* A stream without subjects takes its name as one, unless it mirrors
     * or sources (checkStreamCfg). */
    if (cfg->subject_count == 0 && cfg->source_count == 0) {
        cfg->subjects[0] = ne_js_text_put(js, name.ptr, name_len);
        if (cfg->subjects[0] == NE_JS_NO_TEXT) {
            if (name_len > NE_JS_MAX_TEXT_LEN) {
                return check_fail(e, "subject is too long (NE_JS_TEXT_BYTES)");
            }
            ne_js_error_set(e, NE_JS_ERR_INSUFFICIENT_RESOURCES, "%s", "");
            return false;
        }
        cfg->subject_count = 1;
    }
    for (uint8_t i = 0; i < cfg->subject_count; i++) {
        ne_slice s = subject_at(js, cfg, i);
        for (uint8_t k = 0; k < i; k++) {
            if (ne_slice_eq(subject_at(js, cfg, k), s.ptr, s.len)) {
                return check_fail(e, "duplicate subjects detected");
            }
        }
        if (s.len > 0 && ne_subject_is_subset(s.ptr, s.len, "$JS.API.>", 9)) {
            return check_fail(e, "subjects overlap with jetstream api");
        }
        if (!ne_subject_valid(s.ptr, s.len)) {
            return check_fail(e, "invalid subject");
        }
    }
    const ne_js_account_limits *l = &a->limits;
    int64_t limit = cfg->storage == NE_JS_STORAGE_MEMORY ? l->memory_max_stream_bytes
                                                         : l->store_max_stream_bytes;
    if (l->max_bytes_required && cfg->max_bytes <= 0) {
        ne_js_error_set(e, NE_JS_ERR_STREAM_MAX_BYTES_REQUIRED, "%s", "");
        return false;
    }
    if (limit > 0 && cfg->max_bytes > limit) {
        ne_js_error_set(e, NE_JS_ERR_STREAM_MAX_STREAM_BYTES_EXCEEDED, "%s", "");
        return false;
    }
    for (uint8_t i = 0; i < cfg->subject_count; i++) {
        for (uint8_t k = 0; k < cfg->subject_count; k++) {
            ne_slice x = subject_at(js, cfg, i), y = subject_at(js, cfg, k);
            if (i != k && ne_js_subjects_collide(x, y)) {
                ne_js_error_set(e, NE_JS_ERR_STREAM_INVALID_CONFIG,
                                "subject \"%.*s\" overlaps with \"%.*s\"", (int)NE_MIN(x.len, 60u),
                                x.ptr, (int)NE_MIN(y.len, 60u), y.ptr);
                return false;
            }
        }
    }
    if (cfg->republish_dest != NE_JS_NO_TEXT) {
        if (cfg->republish_src == NE_JS_NO_TEXT) {
            cfg->republish_src = ne_js_text_put(js, ">", 1);
            if (cfg->republish_src == NE_JS_NO_TEXT) {
                ne_js_error_set(e, NE_JS_ERR_INSUFFICIENT_RESOURCES, "%s", "");
                return false;
            }
        }
        ne_slice src = ne_js_text_get(js, cfg->republish_src);
        ne_slice dest = ne_js_text_get(js, cfg->republish_dest);
        bool src_valid = false, cycle = false;
        for (uint8_t i = 0; i < cfg->subject_count; i++) {
            src_valid = src_valid || ne_js_subjects_collide(src, subject_at(js, cfg, i));
            cycle = cycle || ne_js_subjects_collide(dest, subject_at(js, cfg, i));
        }
        if (!src_valid) {
            return check_fail(
                e, "stream configuration for republish source is not valid subset of subjects");
        }
        if (cycle) {
            return check_fail(e, "stream configuration for republish destination forms a cycle");
        }
        /* A transform: the same wildcards on both sides (natsedge maps
         * them in order, as nats-server's transform does). */
        if (!ne_subject_valid(src.ptr, src.len) || !ne_subject_valid(dest.ptr, dest.len) ||
            ne_subject_token_count(src.ptr, src.len) == 0) {
            return check_fail(e, "stream configuration for republish not valid");
        }
    }
    return true;
}

static bool slot_eq(const ne_js *js, uint16_t a, uint16_t b)
{
    return ne_js_text_eq(js, a, b);
}

/* Streams of the account reached from cfg's mirror or sources on this
 * server: a bit per stream pool index. */
typedef struct origin_walk {
    uint32_t reached[(NE_JS_MAX_STREAMS + 31) / 32];
    bool cycle;
    bool grew;
} origin_walk;

/* Marks the local origins of one stream's configuration; cycle when one
 * of them is the stream being checked (named self). */
static void walk_origins(ne_js *js, ne_js_account *a, const ne_js_stream_cfg *from,
                         const char *self, origin_walk *w)
{
    for (uint8_t i = 0; i < from->source_count; i++) {
        const ne_js_source_cfg *src = &from->sources[i];
        if (src->api != NE_JS_NO_TEXT) {
            continue; /* another domain's stream */
        }
        ne_slice n = ne_js_text_get(js, src->name);
        if (ne_slice_eq(n, self, strlen(self))) {
            w->cycle = true;
            return;
        }
        ne_js_stream *o = ne_js_stream_find(a, n);
        if (o == NULL) {
            continue;
        }
        uint32_t k = (uint32_t)ne_pool_index(&js->stream_pool, o);
        NE_ASSERT(k < NE_JS_MAX_STREAMS);
        if ((w->reached[k / 32] & (1u << (k % 32))) == 0) {
            w->reached[k / 32] |= 1u << (k % 32);
            w->grew = true;
        }
    }
}

/* nats-server's "detected cycle": following mirrors and sources from cfg
 * through the account's streams comes back to cfg's stream. Each pass
 * visits every reached stream once; a pass that reaches no new stream ends
 * the walk, so there are at most NE_JS_MAX_STREAMS passes. */
static bool origins_cycle(ne_js *js, ne_js_account *a, const ne_js_stream_cfg *cfg)
{
    origin_walk w;
    memset(&w, 0, sizeof(w));
    const char *self = ne_js_text_get(js, cfg->name).ptr;
    walk_origins(js, a, cfg, self, &w);
    for (uint32_t pass = 0; pass < NE_JS_MAX_STREAMS && w.grew && !w.cycle; pass++) {
        w.grew = false;
        uint32_t guard = 0;
        for (ne_js_stream *st = a->streams; st != NULL && guard++ < NE_JS_MAX_STREAMS && !w.cycle;
             st = st->next) {
            uint32_t k = (uint32_t)ne_pool_index(&js->stream_pool, st);
            if ((w.reached[k / 32] & (1u << (k % 32))) != 0 &&
                strcmp(ne_js_stream_name(js, st), self) != 0) {
                walk_origins(js, a, &st->cfg, self, &w);
            }
        }
    }
    return w.cycle;
}

/* A filter that no subject of the origin overlaps (an origin without
 * subjects of its own, a mirror or an aggregate, is not checked). */
static bool filter_misses(const ne_js *js, const ne_js_stream *o, ne_slice filter)
{
    if (filter.len == 0 || o->cfg.subject_count == 0) {
        return false;
    }
    for (uint8_t i = 0; i < o->cfg.subject_count; i++) {
        if (ne_js_subjects_collide(ne_js_text_get(js, o->cfg.subjects[i]), filter)) {
            return false;
        }
    }
    return true;
}

bool ne_js_stream_origins_check(ne_js *js, ne_js_account *a, const ne_js_stream_cfg *cfg,
                                ne_js_error *e)
{
    for (uint8_t i = 0; i < cfg->source_count; i++) {
        const ne_js_source_cfg *src = &cfg->sources[i];
        ne_js_stream *o =
            src->api == NE_JS_NO_TEXT ? ne_js_stream_find(a, ne_js_text_get(js, src->name)) : NULL;
        if (o == NULL) {
            continue; /* another domain's, or not there yet: it may come */
        }
        if (cfg->max_msg_size > 0 && o->cfg.max_msg_size > 0 &&
            cfg->max_msg_size < o->cfg.max_msg_size) {
            ne_js_error_set(e,
                            cfg->mirror ? NE_JS_ERR_MIRROR_MAX_MESSAGE_SIZE_TOO_BIG
                                        : NE_JS_ERR_SOURCE_MAX_MESSAGE_SIZE_TOO_BIG,
                            "%s", "");
            return false;
        }
        ne_slice filter = ne_js_text_get(js, src->filter);
        if (!cfg->mirror && filter_misses(js, o, filter)) {
            ne_slice n = ne_js_text_get(js, src->name);
            ne_js_error_set(e, NE_JS_ERR_STREAM_INVALID_CONFIG,
                            "source '%.*s' filter subject '%.*s' does not overlap with any "
                            "origin stream subject",
                            (int)n.len, n.ptr, (int)filter.len, filter.ptr);
            return false;
        }
    }
    if (origins_cycle(js, a, cfg)) {
        return check_fail(e, "detected cycle");
    }
    return true;
}

bool ne_js_stream_sources_equal(const ne_js *js, const ne_js_stream_cfg *x,
                                const ne_js_stream_cfg *y)
{
    if (x->mirror != y->mirror || x->source_count != y->source_count) {
        return false;
    }
    for (uint8_t i = 0; i < x->source_count; i++) {
        const ne_js_source_cfg *a = &x->sources[i], *b = &y->sources[i];
        if (!slot_eq(js, a->name, b->name) || !slot_eq(js, a->filter, b->filter) ||
            !slot_eq(js, a->api, b->api) || !slot_eq(js, a->deliver, b->deliver) ||
            a->opt_start_seq != b->opt_start_seq || a->opt_start_time_ns != b->opt_start_time_ns) {
            return false;
        }
    }
    return true;
}

bool ne_js_stream_cfg_equal(const ne_js *js, const ne_js_stream_cfg *x, const ne_js_stream_cfg *y)
{
    if (!ne_js_stream_sources_equal(js, x, y) || x->forward != y->forward ||
        x->forward_window != y->forward_window ||
        x->forward_backlog_advisory != y->forward_backlog_advisory ||
        !slot_eq(js, x->forward_prefix, y->forward_prefix)) {
        return false;
    }
    if (!slot_eq(js, x->name, y->name) || x->subject_count != y->subject_count ||
        !slot_eq(js, x->description, y->description) ||
        !slot_eq(js, x->template_owner, y->template_owner) ||
        !slot_eq(js, x->republish_src, y->republish_src) ||
        !slot_eq(js, x->republish_dest, y->republish_dest)) {
        return false;
    }
    for (uint8_t i = 0; i < x->subject_count; i++) {
        if (!slot_eq(js, x->subjects[i], y->subjects[i])) {
            return false;
        }
    }
    return x->retention == y->retention && x->discard == y->discard && x->storage == y->storage &&
           x->max_consumers == y->max_consumers && x->max_msgs == y->max_msgs &&
           x->max_bytes == y->max_bytes && x->max_age_ns == y->max_age_ns &&
           x->max_msgs_per_subject == y->max_msgs_per_subject &&
           x->max_msg_size == y->max_msg_size && x->replicas == y->replicas &&
           x->duplicate_window_ns == y->duplicate_window_ns &&
           x->republish_headers_only == y->republish_headers_only && x->no_ack == y->no_ack &&
           x->allow_direct == y->allow_direct && x->mirror_direct == y->mirror_direct &&
           x->discard_new_per_subject == y->discard_new_per_subject && x->sealed == y->sealed &&
           x->deny_delete == y->deny_delete && x->deny_purge == y->deny_purge &&
           x->allow_rollup == y->allow_rollup;
}

/* ---- Writing ---------------------------------------------------------------------- */

static void kv_text(const ne_js *js, ne_json_out *o, const char *key, uint16_t slot, bool omitempty)
{
    ne_slice s = ne_js_text_get(js, slot);
    if (s.len == 0 && omitempty) {
        return;
    }
    ne_json_key(o, key);
    ne_json_string(o, s.ptr, s.len);
}

/* A StreamSource as nats-server writes it (omitempty fields). */
static void write_source(const ne_js *js, ne_json_out *o, const ne_js_source_cfg *src)
{
    ne_json_begin_object(o);
    kv_text(js, o, "name", src->name, false);
    if (src->opt_start_seq > 0) {
        ne_json_kv_u64(o, "opt_start_seq", src->opt_start_seq);
    }
    if (src->opt_start_time_ns > 0) {
        ne_js_write_time(o, "opt_start_time", src->opt_start_time_ns);
    }
    kv_text(js, o, "filter_subject", src->filter, true);
    if (src->api != NE_JS_NO_TEXT || src->deliver != NE_JS_NO_TEXT) {
        ne_json_key(o, "external");
        ne_json_begin_object(o);
        kv_text(js, o, "api", src->api, false);
        kv_text(js, o, "deliver", src->deliver, false);
        ne_json_end_object(o);
    }
    ne_json_end_object(o);
}

void ne_js_stream_cfg_write(const ne_js *js, ne_json_out *o, const ne_js_stream_cfg *cfg)
{
    ne_json_begin_object(o);
    kv_text(js, o, "name", cfg->name, false);
    kv_text(js, o, "description", cfg->description, true);
    if (cfg->subject_count > 0) {
        ne_json_key(o, "subjects");
        ne_json_begin_array(o);
        for (uint8_t i = 0; i < cfg->subject_count; i++) {
            ne_slice s = ne_js_text_get(js, cfg->subjects[i]);
            ne_json_string(o, s.ptr, s.len);
        }
        ne_json_end_array(o);
    }
    ne_json_kv_string(o, "retention", retention_names[cfg->retention]);
    ne_json_kv_i64(o, "max_consumers", cfg->max_consumers);
    ne_json_kv_i64(o, "max_msgs", cfg->max_msgs);
    ne_json_kv_i64(o, "max_bytes", cfg->max_bytes);
    ne_json_kv_i64(o, "max_age", cfg->max_age_ns);
    ne_json_kv_i64(o, "max_msgs_per_subject", cfg->max_msgs_per_subject);
    if (cfg->max_msg_size != 0) {
        ne_json_kv_i64(o, "max_msg_size", cfg->max_msg_size);
    }
    ne_json_kv_string(o, "discard", discard_names[cfg->discard]);
    ne_json_kv_string(o, "storage", storage_names[cfg->storage == 0xff ? 0 : cfg->storage]);
    ne_json_kv_i64(o, "num_replicas", cfg->replicas);
    if (cfg->no_ack) {
        ne_json_kv_bool(o, "no_ack", true);
    }
    kv_text(js, o, "template_owner", cfg->template_owner, true);
    if (cfg->duplicate_window_ns != 0) {
        ne_json_kv_i64(o, "duplicate_window", cfg->duplicate_window_ns);
    }
    if (cfg->republish_dest != NE_JS_NO_TEXT) {
        ne_json_key(o, "republish");
        ne_json_begin_object(o);
        kv_text(js, o, "src", cfg->republish_src, true);
        kv_text(js, o, "dest", cfg->republish_dest, false);
        if (cfg->republish_headers_only) {
            ne_json_kv_bool(o, "headers_only", true);
        }
        ne_json_end_object(o);
    }
    if (cfg->mirror) {
        ne_json_key(o, "mirror");
        write_source(js, o, &cfg->sources[0]);
    } else if (cfg->source_count > 0) {
        ne_json_key(o, "sources");
        ne_json_begin_array(o);
        for (uint8_t i = 0; i < cfg->source_count; i++) {
            write_source(js, o, &cfg->sources[i]);
        }
        ne_json_end_array(o);
    }
    if (cfg->forward) {
        ne_json_key(o, "forward");
        ne_json_begin_object(o);
        kv_text(js, o, "prefix", cfg->forward_prefix, true);
        ne_json_kv_u64(o, "window", cfg->forward_window);
        ne_json_kv_u64(o, "backlog_advisory", cfg->forward_backlog_advisory);
        ne_json_end_object(o);
    }
    ne_json_kv_bool(o, "allow_direct", cfg->allow_direct);
    ne_json_kv_bool(o, "mirror_direct", cfg->mirror_direct);
    if (cfg->discard_new_per_subject) {
        ne_json_kv_bool(o, "discard_new_per_subject", true);
    }
    ne_json_kv_bool(o, "sealed", cfg->sealed);
    ne_json_kv_bool(o, "deny_delete", cfg->deny_delete);
    ne_json_kv_bool(o, "deny_purge", cfg->deny_purge);
    ne_json_kv_bool(o, "allow_rollup_hdrs", cfg->allow_rollup);
    ne_json_end_object(o);
}

/* ---- Consumer configuration --------------------------------------------------------- */

void ne_js_consumer_cfg_init(ne_js_consumer_cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->description = NE_JS_NO_TEXT;
    cfg->filter = NE_JS_NO_TEXT;
    cfg->deliver_subject = NE_JS_NO_TEXT;
    cfg->deliver_group = NE_JS_NO_TEXT;
    cfg->ack_policy = NE_JS_ACK_NONE;
}

void ne_js_consumer_cfg_release(ne_js *js, ne_js_consumer_cfg *cfg)
{
    ne_js_text_free(js, &cfg->description);
    ne_js_text_free(js, &cfg->filter);
    ne_js_text_free(js, &cfg->deliver_subject);
    ne_js_text_free(js, &cfg->deliver_group);
}

static void read_name(reader *r, const char *key, char *buf, size_t cap)
{
    int i = value_of(r, key);
    if (i < 0 || !r->ok) {
        return;
    }
    bool too_long = false;
    read_string(r, i, buf, cap, &too_long);
    if (too_long) {
        fail(r, NE_JS_ERR_CONSUMER_NAME_TOO_LONG, "%u", (unsigned)NE_JS_MAX_NAME_LEN);
    }
}

static void read_backoff(reader *r, ne_js_consumer_cfg *cfg)
{
    int i = value_of(r, "backoff");
    if (i < 0 || !r->ok) {
        return;
    }
    const ne_json_doc *doc = r->doc;
    if (doc->tokens[i].type != JSMN_ARRAY) {
        bad_json(r);
        return;
    }
    int n = doc->tokens[i].size;
    int at = i + 1;
    for (int k = 0; k < n && r->ok; k++, at = ne_json_skip(doc, at)) {
        int64_t v = 0;
        if (!is_null(doc, at) && !ne_json_token_i64(doc, at, &v)) {
            bad_json(r);
            return;
        }
        if (cfg->backoff_count >= NE_JS_MAX_BACKOFF) {
            fail(r, NE_JS_ERR_CONSUMER_CREATE,
                 "backoff has more than %u entries (NE_JS_MAX_BACKOFF)",
                 (unsigned)NE_JS_MAX_BACKOFF);
            return;
        }
        cfg->backoff_ns[cfg->backoff_count++] = v;
    }
}

bool ne_js_consumer_cfg_parse(ne_js *js, const ne_json_doc *doc, int obj, ne_js_consumer_cfg *cfg,
                              ne_js_error *e)
{
    ne_js_consumer_cfg_init(cfg);
    ne_js_error_clear(e);
    reader r = {js, doc, obj, e, true};
    if (obj < 0 || doc->tokens[obj].type != JSMN_OBJECT) {
        bad_json(&r);
        return false;
    }
    read_name(&r, "durable_name", cfg->name, sizeof(cfg->name));
    cfg->durable = cfg->name[0] != '\0';
    char *other = js->subject; /* scratch: the name field */
    other[0] = '\0';
    read_name(&r, "name", other, NE_JS_NAME_BYTES);
    if (r.ok && other[0] != '\0') {
        if (cfg->durable && strcmp(other, cfg->name) != 0) {
            cfg->name_mismatch = true;
        } else {
            memcpy(cfg->name, other, strlen(other) + 1);
            cfg->named = true;
        }
    }
    int d = value_of(&r, "description");
    if (d >= 0 && r.ok) {
        bool too_long = false;
        char *buf = js->subject;
        read_string(&r, d, buf, NE_JS_TEXT_BYTES, &too_long);
        if (too_long) {
            fail(&r, NE_JS_ERR_CONSUMER_DESCRIPTION_TOO_LONG, "%u", (unsigned)NE_JS_MAX_TEXT_LEN);
        } else if (r.ok && buf[0] != '\0') {
            cfg->description = ne_js_text_put(js, buf, strlen(buf));
            if (cfg->description == NE_JS_NO_TEXT) {
                fail(&r, NE_JS_ERR_INSUFFICIENT_RESOURCES, "%s", "");
            }
        }
    }
    /* "undefined" is Go's other name for "all". */
    read_enum_alias(&r, "deliver_policy", deliver_names, 6, &cfg->deliver_policy, false,
                    "undefined");
    read_u64(&r, "opt_start_seq", &cfg->opt_start_seq);
    int t = value_of(&r, "opt_start_time");
    if (t >= 0 && r.ok) {
        char buf[64];
        bool too_long = false;
        read_string(&r, t, buf, sizeof(buf), &too_long);
        if (r.ok && (too_long || !ne_js_parse_time(buf, strlen(buf), &cfg->opt_start_time_ns))) {
            bad_json(&r);
        }
        cfg->has_start_time = r.ok;
    }
    read_enum(&r, "ack_policy", ack_names, 3, &cfg->ack_policy, false);
    read_i64(&r, "ack_wait", &cfg->ack_wait_ns);
    read_i64(&r, "max_deliver", &cfg->max_deliver);
    read_backoff(&r, cfg);
    read_text(&r, "filter_subject", &cfg->filter, "filter subject");
    read_enum(&r, "replay_policy", replay_names, 2, &cfg->replay_policy, false);
    read_u64(&r, "rate_limit_bps", &cfg->rate_limit_bps);
    int sf = value_of(&r, "sample_freq");
    if (sf >= 0 && r.ok) {
        bool too_long = false;
        read_string(&r, sf, cfg->sample_freq, sizeof(cfg->sample_freq), &too_long);
        if (too_long) {
            fail(&r, NE_JS_ERR_CONSUMER_INVALID_SAMPLING, "%s", "value too long");
        }
    }
    read_i64(&r, "max_waiting", &cfg->max_waiting);
    read_i64(&r, "max_ack_pending", &cfg->max_ack_pending);
    read_i64(&r, "idle_heartbeat", &cfg->idle_heartbeat_ns);
    read_bool(&r, "flow_control", &cfg->flow_control);
    read_bool(&r, "headers_only", &cfg->headers_only);
    read_i64(&r, "max_batch", &cfg->max_batch);
    read_i64(&r, "max_expires", &cfg->max_expires_ns);
    read_i64(&r, "max_bytes", &cfg->max_bytes);
    read_text(&r, "deliver_subject", &cfg->deliver_subject, "deliver subject");
    read_text(&r, "deliver_group", &cfg->deliver_group, "deliver group");
    read_i64(&r, "inactive_threshold", &cfg->inactive_threshold_ns);
    read_i64(&r, "num_replicas", &cfg->replicas);
    read_bool(&r, "mem_storage", &cfg->mem_storage);
    read_bool(&r, "direct", &cfg->direct);
    if (!r.ok) {
        /* A text too long for a slot is a consumer error, not a stream's. */
        if (e->err == NE_JS_ERR_STREAM_INVALID_CONFIG) {
            e->err = NE_JS_ERR_CONSUMER_CREATE;
        }
        ne_js_consumer_cfg_release(js, cfg);
    }
    return r.ok;
}

void ne_js_consumer_cfg_write(const ne_js *js, ne_json_out *o, const ne_js_consumer_cfg *cfg)
{
    ne_json_begin_object(o);
    if (cfg->durable) {
        ne_json_kv_string(o, "durable_name", cfg->name);
    }
    if (cfg->named) {
        ne_json_kv_string(o, "name", cfg->name);
    }
    kv_text(js, o, "description", cfg->description, true);
    ne_json_kv_string(o, "deliver_policy", deliver_names[cfg->deliver_policy]);
    if (cfg->opt_start_seq != 0) {
        ne_json_kv_u64(o, "opt_start_seq", cfg->opt_start_seq);
    }
    if (cfg->has_start_time) {
        ne_js_write_time(o, "opt_start_time", cfg->opt_start_time_ns);
    }
    ne_json_kv_string(o, "ack_policy", ack_names[cfg->ack_policy]);
    if (cfg->ack_wait_ns != 0) {
        ne_json_kv_i64(o, "ack_wait", cfg->ack_wait_ns);
    }
    if (cfg->max_deliver != 0) {
        ne_json_kv_i64(o, "max_deliver", cfg->max_deliver);
    }
    if (cfg->backoff_count > 0) {
        ne_json_key(o, "backoff");
        ne_json_begin_array(o);
        for (uint8_t i = 0; i < cfg->backoff_count; i++) {
            ne_json_i64(o, cfg->backoff_ns[i]);
        }
        ne_json_end_array(o);
    }
    kv_text(js, o, "filter_subject", cfg->filter, true);
    ne_json_kv_string(o, "replay_policy", replay_names[cfg->replay_policy]);
    if (cfg->rate_limit_bps != 0) {
        ne_json_kv_u64(o, "rate_limit_bps", cfg->rate_limit_bps);
    }
    if (cfg->sample_freq[0] != '\0') {
        ne_json_kv_string(o, "sample_freq", cfg->sample_freq);
    }
    if (cfg->max_waiting != 0) {
        ne_json_kv_i64(o, "max_waiting", cfg->max_waiting);
    }
    if (cfg->max_ack_pending != 0) {
        ne_json_kv_i64(o, "max_ack_pending", cfg->max_ack_pending);
    }
    if (cfg->idle_heartbeat_ns != 0) {
        ne_json_kv_i64(o, "idle_heartbeat", cfg->idle_heartbeat_ns);
    }
    if (cfg->flow_control) {
        ne_json_kv_bool(o, "flow_control", true);
    }
    if (cfg->headers_only) {
        ne_json_kv_bool(o, "headers_only", true);
    }
    if (cfg->max_batch != 0) {
        ne_json_kv_i64(o, "max_batch", cfg->max_batch);
    }
    if (cfg->max_expires_ns != 0) {
        ne_json_kv_i64(o, "max_expires", cfg->max_expires_ns);
    }
    if (cfg->max_bytes != 0) {
        ne_json_kv_i64(o, "max_bytes", cfg->max_bytes);
    }
    kv_text(js, o, "deliver_subject", cfg->deliver_subject, true);
    kv_text(js, o, "deliver_group", cfg->deliver_group, true);
    if (cfg->inactive_threshold_ns != 0) {
        ne_json_kv_i64(o, "inactive_threshold", cfg->inactive_threshold_ns);
    }
    ne_json_kv_i64(o, "num_replicas", cfg->replicas);
    if (cfg->mem_storage) {
        ne_json_kv_bool(o, "mem_storage", true);
    }
    if (cfg->direct) {
        ne_json_kv_bool(o, "direct", true);
    }
    ne_json_end_object(o);
}

#endif /* NE_FEATURE_JETSTREAM */
