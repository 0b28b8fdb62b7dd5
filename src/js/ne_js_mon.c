/* JetStream in monitoring (ne_js_int.h): /jsz (with accounts, streams,
 * consumers and config) and /varz's "jetstream" object, in nats-server
 * 2.9.10's shapes (inventory MON-01, MON-06). */
#include "js/ne_js_int.h"

#if NE_FEATURE_JETSTREAM

#include <string.h>

#include "core/ne_error.h"
#include "core/ne_fmt.h"

static uint64_t server_usage(const ne_js *js, uint8_t storage)
{
    uint64_t total = 0;
    for (uint32_t i = 0; i < js->account_count; i++) {
        total += ne_js_account_usage(&js->accounts[i], storage);
    }
    return total;
}

/* Bytes the streams' max_bytes reserve. */
static uint64_t server_reserved(const ne_js *js, uint8_t storage)
{
    uint64_t total = 0;
    for (uint32_t i = 0; i < js->account_count; i++) {
        uint32_t guard = 0;
        for (const ne_js_stream *st = js->accounts[i].streams;
             st != NULL && guard++ < NE_JS_MAX_STREAMS; st = st->next) {
            if (st->cfg.storage == storage && st->cfg.max_bytes > 0) {
                total += (uint64_t)st->cfg.max_bytes;
            }
        }
    }
    return total;
}

/* nats-server shows where its file store lives: <store_dir>/jetstream. */
static void write_config(const ne_js *js, ne_json_out *o)
{
    const ne_js_options *opts = &js->opts->js;
    char dir[NE_JS_STORE_DIR_BYTES + 16];
    ne_fmt(dir, sizeof(dir), "%s/jetstream",
           opts->store_dir[0] != '\0' ? opts->store_dir : "/tmp/nats");
    ne_json_key(o, "config");
    ne_json_begin_object(o);
    ne_json_kv_u64(o, "max_memory", js->max_memory);
    ne_json_kv_u64(o, "max_storage", js->max_store);
    ne_json_kv_string(o, "store_dir", dir);
    if (opts->domain[0] != '\0') {
        ne_json_kv_string(o, "domain", opts->domain);
    }
    ne_json_end_object(o);
}

static void write_api(ne_json_out *o, uint64_t total, uint64_t errors)
{
    ne_json_key(o, "api");
    ne_json_begin_object(o);
    ne_json_kv_u64(o, "total", total);
    ne_json_kv_u64(o, "errors", errors);
    ne_json_end_object(o);
}

/* nats-server's JetStreamStats members. */
static void write_stats(const ne_js *js, ne_json_out *o)
{
    ne_json_kv_u64(o, "memory", server_usage(js, NE_JS_STORAGE_MEMORY));
    ne_json_kv_u64(o, "storage", server_usage(js, NE_JS_STORAGE_FILE));
    ne_json_kv_u64(o, "reserved_memory", server_reserved(js, NE_JS_STORAGE_MEMORY));
    ne_json_kv_u64(o, "reserved_storage", server_reserved(js, NE_JS_STORAGE_FILE));
    ne_json_kv_u64(o, "accounts", js->account_count);
    ne_json_kv_u64(o, "ha_assets", 0);
    write_api(o, js->stats.api_total, js->stats.api_errors);
}

void ne_js_write_pools(const ne_js *js, ne_json_out *o)
{
    ne_json_kv_u64(o, "js_streams", js->stream_pool.in_use);
    ne_json_kv_u64(o, "js_consumers", js->consumer_pool.in_use);
    ne_json_kv_u64(o, "js_short_texts", js->short_text_pool.in_use);
    ne_json_kv_u64(o, "js_texts", js->text_pool.in_use);
    ne_json_kv_u64(o, "js_long_names", js->long_name_pool.in_use);
    ne_json_kv_u64(o, "js_source_sets", js->source_set_pool.in_use);
    ne_json_kv_u64(o, "js_pending", js->pending_pool.in_use);
    ne_json_kv_u64(o, "js_pulls", js->pull_pool.in_use);
    ne_json_kv_u64(o, "js_msg_ids", js->msgid_pool.in_use);
    ne_json_kv_u64(o, "js_mem_blocks", js->mem.blocks.in_use);
    ne_json_kv_u64(o, "js_subjects", js->mem.subjects.in_use);
}

void ne_js_write_varz(const ne_js *js, ne_json_out *o)
{
    ne_json_key(o, "jetstream");
    ne_json_begin_object(o);
    if (js->enabled) {
        write_config(js, o);
        ne_json_key(o, "stats");
        ne_json_begin_object(o);
        write_stats(js, o);
        ne_json_end_object(o);
    }
    ne_json_end_object(o);
}

static void write_stream_detail(ne_js *js, ne_json_out *o, ne_js_stream *st, const ne_mon_query *q)
{
    ne_json_begin_object(o);
    ne_json_kv_string(o, "name", ne_js_stream_name(js, st));
    ne_js_write_time(o, "created", st->created_ns);
    ne_json_key(o, "cluster");
    ne_json_begin_object(o);
    ne_json_kv_string(o, "leader", js->conns->id.server_id);
    ne_json_end_object(o);
    if (q->js_config) {
        ne_json_key(o, "config");
        ne_js_stream_cfg_write(js, o, &st->cfg);
    }
    ne_js_stream_write_state(js, o, st);
    ne_js_forward_write(js, o, st);
    if (q->js_detail >= 3 && st->consumers != NULL) {
        ne_json_key(o, "consumer_detail");
        ne_json_begin_array(o);
        uint32_t guard = 0;
        for (ne_js_consumer *c = st->consumers; c != NULL && guard++ < NE_JS_MAX_CONSUMERS;
             c = c->next) {
            ne_json_begin_object(o);
            ne_js_consumer_write_info(js, o, c);
            ne_json_end_object(o);
        }
        ne_json_end_array(o);
    }
    ne_json_end_object(o);
}

static void write_account_detail(ne_js *js, ne_json_out *o, ne_js_account *a, const ne_mon_query *q)
{
    const char *name = js->opts->accounts[a->index].name;
    ne_json_begin_object(o);
    ne_json_kv_string(o, "name", name);
    ne_json_kv_string(o, "id", name);
    ne_json_kv_u64(o, "memory", a->memory_bytes);
    ne_json_kv_u64(o, "storage", a->store_bytes);
    /* nats-server writes the account's limits here as unsigned. */
    ne_json_kv_u64(o, "reserved_memory", (uint64_t)a->limits.max_memory);
    ne_json_kv_u64(o, "reserved_storage", (uint64_t)a->limits.max_store);
    ne_json_kv_u64(o, "accounts", 0);
    ne_json_kv_u64(o, "ha_assets", 0);
    write_api(o, a->api_total, a->api_errors);
    if (q->js_detail >= 2 && a->streams != NULL) {
        ne_json_key(o, "stream_detail");
        ne_json_begin_array(o);
        uint32_t guard = 0;
        for (ne_js_stream *st = a->streams; st != NULL && guard++ < NE_JS_MAX_STREAMS;
             st = st->next) {
            write_stream_detail(js, o, st, q);
        }
        ne_json_end_array(o);
    }
    ne_json_end_object(o);
}

static int write_jsz(void *ctx, ne_json_out *o, const ne_mon_query *q, const char **error_text)
{
    ne_js *js = ctx;
    ne_json_begin_object(o);
    ne_json_kv_string(o, "server_id", js->conns->id.server_id);
    ne_json_kv_time(o, "now", ne_port_wall_ns());
    write_config(js, o);
    write_stats(js, o);
    uint64_t streams = 0, consumers = 0, messages = 0, bytes = 0;
    for (uint32_t i = 0; i < js->account_count; i++) {
        uint32_t guard = 0;
        for (const ne_js_stream *st = js->accounts[i].streams;
             st != NULL && guard++ < NE_JS_MAX_STREAMS; st = st->next) {
            streams++;
            consumers += st->consumer_count;
            messages += st->store.state.msgs;
            bytes += st->store.state.bytes;
        }
    }
    ne_json_kv_u64(o, "streams", streams);
    ne_json_kv_u64(o, "consumers", consumers);
    ne_json_kv_u64(o, "messages", messages);
    ne_json_kv_u64(o, "bytes", bytes);
    bool any = false;
    for (uint32_t i = 0; i < js->account_count; i++) {
        ne_js_account *a = &js->accounts[i];
        const char *name = js->opts->accounts[a->index].name;
        bool wanted = q->acc_given ? strcmp(q->acc, name) == 0 : q->js_detail >= 1;
        if (!wanted) {
            continue;
        }
        if (!any) {
            ne_json_key(o, "account_details");
            ne_json_begin_array(o);
            any = true;
        }
        write_account_detail(js, o, a, q);
    }
    if (any) {
        ne_json_end_array(o);
    }
    ne_json_end_object(o);
    return NE_OK;
}

void ne_js_mon_register(ne_js *js)
{
    ne_mon_register(js->mon, "/jsz", NULL, "JSZ", write_jsz, js);
}

#endif /* NE_FEATURE_JETSTREAM */
