/* MQTT packets (ne_mqtt_codec.h): a bounded reader and writer, the property
 * table, then one decoder and one encoder per packet. */
#include "mqtt/ne_mqtt_codec.h"

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "mqtt/ne_mqtt_topic.h"

/* ---- Reading ---------------------------------------------------------------- */

/* A reader over body[0, avail) of a body of `total` bytes. A read that
 * would go past `total` is malformed; one that needs bytes beyond `avail`
 * (but within total) must wait for them. */
typedef struct rd {
    const uint8_t *p;
    uint32_t avail;
    uint32_t total;
    uint32_t pos;
    bool short_input; /* stopped at avail: more bytes are needed */
    bool bad;         /* stopped at total: malformed */
} rd;

static void rd_init(rd *r, const uint8_t *p, uint32_t avail, uint32_t total)
{
    NE_ASSERT(avail <= total);
    r->p = p;
    r->avail = avail;
    r->total = total;
    r->pos = 0;
    r->short_input = false;
    r->bad = false;
}

static bool rd_ok(const rd *r)
{
    return !r->bad && !r->short_input;
}

/* Can n more bytes be read? Says why not. */
static bool rd_need(rd *r, uint32_t n)
{
    if (!rd_ok(r)) {
        return false;
    }
    if ((uint64_t)r->pos + n > r->total) {
        r->bad = true;
        return false;
    }
    if ((uint64_t)r->pos + n > r->avail) {
        r->short_input = true;
        return false;
    }
    return true;
}

static uint8_t rd_u8(rd *r)
{
    if (!rd_need(r, 1)) {
        return 0;
    }
    return r->p[r->pos++];
}

static uint16_t rd_u16(rd *r)
{
    if (!rd_need(r, 2)) {
        return 0;
    }
    uint16_t v = (uint16_t)((r->p[r->pos] << 8) | r->p[r->pos + 1]);
    r->pos += 2;
    return v;
}

static uint32_t rd_u32(rd *r)
{
    if (!rd_need(r, 4)) {
        return 0;
    }
    const uint8_t *b = r->p + r->pos;
    r->pos += 4;
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}

static uint32_t rd_vbi(rd *r)
{
    uint32_t value = 0;
    for (uint32_t i = 0; i < 4; i++) {
        uint8_t b = rd_u8(r);
        if (!rd_ok(r)) {
            return 0;
        }
        value |= (uint32_t)(b & 0x7fu) << (7 * i);
        if ((b & 0x80u) == 0) {
            return value;
        }
    }
    r->bad = true; /* a fifth byte */
    return 0;
}

/* Two-byte length, then that many bytes. */
static ne_mqtt_bytes rd_bytes(rd *r)
{
    ne_mqtt_bytes b = {NULL, 0};
    uint16_t n = rd_u16(r);
    if (!rd_need(r, n)) {
        return b;
    }
    b.ptr = r->p + r->pos;
    b.len = n;
    r->pos += n;
    return b;
}

/* ---- Writing ------------------------------------------------------------------ */

/* A writer into out[0, cap); with out NULL it only counts. */
typedef struct wr {
    uint8_t *p;
    size_t cap;
    size_t pos;
    bool bad;
} wr;

static void wr_init(wr *w, uint8_t *out, size_t cap)
{
    w->p = out;
    w->cap = cap;
    w->pos = 0;
    w->bad = false;
}

static void wr_raw(wr *w, const void *bytes, size_t n)
{
    if (w->bad) {
        return;
    }
    if (w->p != NULL) {
        if (n > w->cap - w->pos) {
            w->bad = true;
            return;
        }
        if (n > 0) {
            memcpy(w->p + w->pos, bytes, n);
        }
    }
    w->pos += n;
}

static void wr_u8(wr *w, uint8_t v)
{
    wr_raw(w, &v, 1);
}

static void wr_u16(wr *w, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    wr_raw(w, b, 2);
}

static void wr_u32(wr *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    wr_raw(w, b, 4);
}

static void wr_vbi(wr *w, uint32_t v)
{
    uint8_t b[4];
    uint32_t n = ne_mqtt_vbi_encode(b, sizeof(b), v);
    if (n == 0) {
        w->bad = true;
        return;
    }
    wr_raw(w, b, n);
}

static void wr_bytes(wr *w, ne_mqtt_bytes b)
{
    if (b.len > UINT16_MAX) {
        w->bad = true;
        return;
    }
    wr_u16(w, (uint16_t)b.len);
    wr_raw(w, b.ptr, b.len);
}

static size_t wr_done(const wr *w)
{
    return w->bad ? 0 : w->pos;
}

/* ---- Fixed header, variable byte integers -------------------------------------- */

int ne_mqtt_vbi_decode(const uint8_t *p, size_t len, uint32_t *value, uint32_t *size)
{
    rd r;
    uint32_t n = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
    rd_init(&r, p, n, n);
    uint32_t v = rd_vbi(&r);
    if (!rd_ok(&r)) {
        return NE_ERR_PARSE;
    }
    *value = v;
    *size = r.pos;
    return NE_OK;
}

uint32_t ne_mqtt_vbi_size(uint32_t v)
{
    NE_ASSERT(v <= NE_MQTT_MAX_REMAINING);
    return v < 128u ? 1u : v < 16384u ? 2u : v < 2097152u ? 3u : 4u;
}

uint32_t ne_mqtt_vbi_encode(uint8_t *out, size_t cap, uint32_t v)
{
    if (v > NE_MQTT_MAX_REMAINING) {
        return 0;
    }
    uint32_t n = ne_mqtt_vbi_size(v);
    if (cap < n) {
        return 0;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint8_t b = (uint8_t)(v & 0x7fu);
        v >>= 7;
        out[i] = i + 1 < n ? (uint8_t)(b | 0x80u) : b;
    }
    return n;
}

int ne_mqtt_fixed_header(const uint8_t *buf, size_t len, uint8_t *first, uint32_t *remaining,
                         uint32_t *header_len)
{
    if (len < 2) {
        return NE_ERR_WOULD_BLOCK;
    }
    uint32_t value = 0;
    for (uint32_t i = 0; i < 4; i++) {
        if (1 + i >= len) {
            return NE_ERR_WOULD_BLOCK;
        }
        uint8_t b = buf[1 + i];
        value |= (uint32_t)(b & 0x7fu) << (7 * i);
        if ((b & 0x80u) == 0) {
            *first = buf[0];
            *remaining = value;
            *header_len = 2 + i;
            return NE_OK;
        }
    }
    return NE_ERR_PARSE;
}

bool ne_mqtt_flags_valid(uint8_t first)
{
    uint8_t type = first >> 4;
    uint8_t flags = first & 0x0fu;
    switch (type) {
    case NE_MQTT_PUBLISH:
        return true;
    case NE_MQTT_PUBREL:
    case NE_MQTT_SUBSCRIBE:
    case NE_MQTT_UNSUBSCRIBE:
        return flags == 0x02;
    default:
        return flags == 0;
    }
}

/* ---- UTF-8 ------------------------------------------------------------------------ */

bool ne_mqtt_utf8_valid(const uint8_t *p, size_t len)
{
    size_t i = 0;
    /* Each pass consumes one whole character or fails. */
    while (i < len) {
        uint8_t c = p[i];
        if (c < 0x80) {
            if (c == 0) {
                return false; /* U+0000 (M3-11) */
            }
            i++;
            continue;
        }
        uint32_t n;
        uint32_t cp;
        uint32_t min;
        if ((c & 0xe0) == 0xc0) {
            n = 2;
            cp = c & 0x1fu;
            min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            n = 3;
            cp = c & 0x0fu;
            min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            n = 4;
            cp = c & 0x07u;
            min = 0x10000;
        } else {
            return false;
        }
        if (len - i < n) {
            return false;
        }
        for (uint32_t k = 1; k < n; k++) {
            uint8_t cc = p[i + k];
            if ((cc & 0xc0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (cc & 0x3fu);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return false; /* overlong, beyond Unicode, or a surrogate (M3-10) */
        }
        i += n;
    }
    return true;
}

/* ---- Properties ---------------------------------------------------------------------- */

typedef enum prop_type {
    PT_NONE = 0,
    PT_BYTE,
    PT_U16,
    PT_U32,
    PT_VBI,
    PT_STRING,
    PT_BINARY,
    PT_PAIR,
} prop_type;

#define C(ctx) (1u << (ctx))
#define C_PUB_WILL (C(NE_MQTT_CTX_PUBLISH) | C(NE_MQTT_CTX_WILL))
#define C_ALL                                                                                      \
    (C(NE_MQTT_CTX_CONNECT) | C(NE_MQTT_CTX_CONNACK) | C(NE_MQTT_CTX_PUBLISH) |                    \
     C(NE_MQTT_CTX_ACK) | C(NE_MQTT_CTX_SUBSCRIBE) | C(NE_MQTT_CTX_SUBACK) |                       \
     C(NE_MQTT_CTX_UNSUBSCRIBE) | C(NE_MQTT_CTX_UNSUBACK) | C(NE_MQTT_CTX_DISCONNECT) |            \
     C(NE_MQTT_CTX_AUTH) | C(NE_MQTT_CTX_WILL))

/* Every property: its type and the packets it may appear in (M5-10). */
static const struct {
    uint8_t type;
    uint16_t ctx;
} prop_table[NE_MQTT_PROP_SHARED_AVAILABLE + 1] = {
    [NE_MQTT_PROP_PAYLOAD_FORMAT] = {PT_BYTE, C_PUB_WILL},
    [NE_MQTT_PROP_MESSAGE_EXPIRY] = {PT_U32, C_PUB_WILL},
    [NE_MQTT_PROP_CONTENT_TYPE] = {PT_STRING, C_PUB_WILL},
    [NE_MQTT_PROP_RESPONSE_TOPIC] = {PT_STRING, C_PUB_WILL},
    [NE_MQTT_PROP_CORRELATION_DATA] = {PT_BINARY, C_PUB_WILL},
    [NE_MQTT_PROP_SUBSCRIPTION_ID] = {PT_VBI, C(NE_MQTT_CTX_SUBSCRIBE) | C(NE_MQTT_CTX_PUBLISH)},
    [NE_MQTT_PROP_SESSION_EXPIRY] = {PT_U32, C(NE_MQTT_CTX_CONNECT) | C(NE_MQTT_CTX_CONNACK) |
                                                 C(NE_MQTT_CTX_DISCONNECT)},
    [NE_MQTT_PROP_ASSIGNED_CLIENT_ID] = {PT_STRING, C(NE_MQTT_CTX_CONNACK)},
    [NE_MQTT_PROP_SERVER_KEEP_ALIVE] = {PT_U16, C(NE_MQTT_CTX_CONNACK)},
    [NE_MQTT_PROP_AUTH_METHOD] = {PT_STRING, C(NE_MQTT_CTX_CONNECT) | C(NE_MQTT_CTX_CONNACK) |
                                                 C(NE_MQTT_CTX_AUTH)},
    [NE_MQTT_PROP_AUTH_DATA] = {PT_BINARY, C(NE_MQTT_CTX_CONNECT) | C(NE_MQTT_CTX_CONNACK) |
                                               C(NE_MQTT_CTX_AUTH)},
    [NE_MQTT_PROP_REQUEST_PROBLEM_INFO] = {PT_BYTE, C(NE_MQTT_CTX_CONNECT)},
    [NE_MQTT_PROP_WILL_DELAY] = {PT_U32, C(NE_MQTT_CTX_WILL)},
    [NE_MQTT_PROP_REQUEST_RESPONSE_INFO] = {PT_BYTE, C(NE_MQTT_CTX_CONNECT)},
    [NE_MQTT_PROP_RESPONSE_INFO] = {PT_STRING, C(NE_MQTT_CTX_CONNACK)},
    [NE_MQTT_PROP_SERVER_REFERENCE] = {PT_STRING,
                                       C(NE_MQTT_CTX_CONNACK) | C(NE_MQTT_CTX_DISCONNECT)},
    [NE_MQTT_PROP_REASON_STRING] = {PT_STRING, C(NE_MQTT_CTX_CONNACK) | C(NE_MQTT_CTX_ACK) |
                                                   C(NE_MQTT_CTX_SUBACK) | C(NE_MQTT_CTX_UNSUBACK) |
                                                   C(NE_MQTT_CTX_DISCONNECT) | C(NE_MQTT_CTX_AUTH)},
    [NE_MQTT_PROP_RECEIVE_MAXIMUM] = {PT_U16, C(NE_MQTT_CTX_CONNECT) | C(NE_MQTT_CTX_CONNACK)},
    [NE_MQTT_PROP_TOPIC_ALIAS_MAXIMUM] = {PT_U16, C(NE_MQTT_CTX_CONNECT) | C(NE_MQTT_CTX_CONNACK)},
    [NE_MQTT_PROP_TOPIC_ALIAS] = {PT_U16, C(NE_MQTT_CTX_PUBLISH)},
    [NE_MQTT_PROP_MAXIMUM_QOS] = {PT_BYTE, C(NE_MQTT_CTX_CONNACK)},
    [NE_MQTT_PROP_RETAIN_AVAILABLE] = {PT_BYTE, C(NE_MQTT_CTX_CONNACK)},
    [NE_MQTT_PROP_USER_PROPERTY] = {PT_PAIR, C_ALL},
    [NE_MQTT_PROP_MAXIMUM_PACKET_SIZE] = {PT_U32, C(NE_MQTT_CTX_CONNECT) | C(NE_MQTT_CTX_CONNACK)},
    [NE_MQTT_PROP_WILDCARD_AVAILABLE] = {PT_BYTE, C(NE_MQTT_CTX_CONNACK)},
    [NE_MQTT_PROP_SUB_IDS_AVAILABLE] = {PT_BYTE, C(NE_MQTT_CTX_CONNACK)},
    [NE_MQTT_PROP_SHARED_AVAILABLE] = {PT_BYTE, C(NE_MQTT_CTX_CONNACK)},
};

static bool prop_known(uint32_t id)
{
    return id < NE_ARRAY_LEN(prop_table) && prop_table[id].type != PT_NONE;
}

/* A byte property whose only values are 0 and 1. */
static bool prop_is_flag(uint8_t id)
{
    switch (id) {
    case NE_MQTT_PROP_REQUEST_PROBLEM_INFO:
    case NE_MQTT_PROP_REQUEST_RESPONSE_INFO:
    case NE_MQTT_PROP_MAXIMUM_QOS:
    case NE_MQTT_PROP_RETAIN_AVAILABLE:
    case NE_MQTT_PROP_WILDCARD_AVAILABLE:
    case NE_MQTT_PROP_SUB_IDS_AVAILABLE:
    case NE_MQTT_PROP_SHARED_AVAILABLE:
        return true;
    default:
        return false;
    }
}

static void set_byte(ne_mqtt_props *o, uint8_t id, uint8_t v)
{
    switch (id) {
    case NE_MQTT_PROP_PAYLOAD_FORMAT:
        o->payload_format = v;
        break;
    case NE_MQTT_PROP_REQUEST_PROBLEM_INFO:
        o->request_problem_info = v;
        break;
    case NE_MQTT_PROP_REQUEST_RESPONSE_INFO:
        o->request_response_info = v;
        break;
    case NE_MQTT_PROP_MAXIMUM_QOS:
        o->maximum_qos = v;
        break;
    case NE_MQTT_PROP_RETAIN_AVAILABLE:
        o->retain_available = v;
        break;
    case NE_MQTT_PROP_WILDCARD_AVAILABLE:
        o->wildcard_available = v;
        break;
    case NE_MQTT_PROP_SUB_IDS_AVAILABLE:
        o->sub_ids_available = v;
        break;
    default:
        NE_ASSERT(id == NE_MQTT_PROP_SHARED_AVAILABLE);
        o->shared_available = v;
        break;
    }
}

static void set_int(ne_mqtt_props *o, uint8_t id, uint32_t v)
{
    switch (id) {
    case NE_MQTT_PROP_SERVER_KEEP_ALIVE:
        o->server_keep_alive = (uint16_t)v;
        break;
    case NE_MQTT_PROP_RECEIVE_MAXIMUM:
        o->receive_maximum = (uint16_t)v;
        break;
    case NE_MQTT_PROP_TOPIC_ALIAS_MAXIMUM:
        o->topic_alias_maximum = (uint16_t)v;
        break;
    case NE_MQTT_PROP_TOPIC_ALIAS:
        o->topic_alias = (uint16_t)v;
        break;
    case NE_MQTT_PROP_MESSAGE_EXPIRY:
        o->message_expiry = v;
        break;
    case NE_MQTT_PROP_SESSION_EXPIRY:
        o->session_expiry = v;
        break;
    case NE_MQTT_PROP_WILL_DELAY:
        o->will_delay = v;
        break;
    case NE_MQTT_PROP_MAXIMUM_PACKET_SIZE:
        o->maximum_packet_size = v;
        break;
    default:
        NE_ASSERT(id == NE_MQTT_PROP_SUBSCRIPTION_ID);
        if (o->sub_id_count < NE_MQTT_DECODED_SUB_IDS) {
            o->sub_ids[o->sub_id_count] = v;
        }
        o->sub_id_count++;
        break;
    }
}

static ne_mqtt_bytes *bytes_field(ne_mqtt_props *o, uint8_t id)
{
    switch (id) {
    case NE_MQTT_PROP_CONTENT_TYPE:
        return &o->content_type;
    case NE_MQTT_PROP_RESPONSE_TOPIC:
        return &o->response_topic;
    case NE_MQTT_PROP_CORRELATION_DATA:
        return &o->correlation_data;
    case NE_MQTT_PROP_ASSIGNED_CLIENT_ID:
        return &o->assigned_client_id;
    case NE_MQTT_PROP_AUTH_METHOD:
        return &o->auth_method;
    case NE_MQTT_PROP_AUTH_DATA:
        return &o->auth_data;
    case NE_MQTT_PROP_RESPONSE_INFO:
        return &o->response_info;
    case NE_MQTT_PROP_SERVER_REFERENCE:
        return &o->server_reference;
    default:
        NE_ASSERT(id == NE_MQTT_PROP_REASON_STRING);
        return &o->reason_string;
    }
}

/* Reads one property's value into o; sets *reason on a fault. */
static bool prop_value(rd *r, uint8_t id, ne_mqtt_props *o, uint8_t *reason)
{
    uint32_t v = 0;
    switch ((prop_type)prop_table[id].type) {
    case PT_BYTE:
        v = rd_u8(r);
        if (rd_ok(r) && prop_is_flag(id) && v > 1) {
            *reason = NE_MQTT_RC_PROTOCOL_ERROR;
            return false;
        }
        set_byte(o, id, (uint8_t)v);
        break;
    case PT_U16:
        v = rd_u16(r);
        if (rd_ok(r) && id == NE_MQTT_PROP_RECEIVE_MAXIMUM && v == 0) {
            *reason = NE_MQTT_RC_PROTOCOL_ERROR;
            return false;
        }
        set_int(o, id, v);
        break;
    case PT_U32:
        v = rd_u32(r);
        if (rd_ok(r) && id == NE_MQTT_PROP_MAXIMUM_PACKET_SIZE && v == 0) {
            *reason = NE_MQTT_RC_PROTOCOL_ERROR;
            return false;
        }
        set_int(o, id, v);
        break;
    case PT_VBI:
        v = rd_vbi(r);
        if (rd_ok(r) && v == 0) {
            *reason = NE_MQTT_RC_PROTOCOL_ERROR;
            return false;
        }
        set_int(o, id, v);
        break;
    case PT_STRING:
    case PT_BINARY: {
        ne_mqtt_bytes b = rd_bytes(r);
        if (rd_ok(r) && prop_table[id].type == PT_STRING && !ne_mqtt_utf8_valid(b.ptr, b.len)) {
            *reason = NE_MQTT_RC_MALFORMED;
            return false;
        }
        *bytes_field(o, id) = b;
        break;
    }
    case PT_PAIR: {
        ne_mqtt_bytes k = rd_bytes(r);
        ne_mqtt_bytes val = rd_bytes(r);
        if (rd_ok(r) &&
            (!ne_mqtt_utf8_valid(k.ptr, k.len) || !ne_mqtt_utf8_valid(val.ptr, val.len))) {
            *reason = NE_MQTT_RC_MALFORMED;
            return false;
        }
        o->user_count++;
        break;
    }
    case PT_NONE:
        NE_ASSERT(false);
        break;
    }
    if (!rd_ok(r)) {
        *reason = NE_MQTT_RC_MALFORMED;
        return false;
    }
    return true;
}

int ne_mqtt_props_decode(const uint8_t *p, uint32_t len, ne_mqtt_ctx ctx, bool inbound_publish,
                         ne_mqtt_props *out, uint8_t *reason)
{
    memset(out, 0, sizeof(*out));
    out->raw.ptr = p;
    out->raw.len = len;
    rd r;
    rd_init(&r, p, len, len);
    /* Each pass reads at least two bytes (an identifier and a value). */
    while (r.pos < len) {
        uint32_t id = rd_vbi(&r);
        if (!rd_ok(&r) || !prop_known(id) || (prop_table[id].ctx & C(ctx)) == 0) {
            *reason = NE_MQTT_RC_MALFORMED; /* M5-08 */
            return NE_ERR_PARSE;
        }
        bool repeatable = id == NE_MQTT_PROP_USER_PROPERTY ||
                          (id == NE_MQTT_PROP_SUBSCRIPTION_ID && ctx == NE_MQTT_CTX_PUBLISH);
        if ((id == NE_MQTT_PROP_SUBSCRIPTION_ID && inbound_publish) ||
            ((out->present & NE_MQTT_HAS(id)) != 0 && !repeatable)) {
            *reason = NE_MQTT_RC_PROTOCOL_ERROR; /* M5-09, [MQTT-3.3.4-6] */
            return NE_ERR_PARSE;
        }
        if (!prop_value(&r, (uint8_t)id, out, reason)) {
            return NE_ERR_PARSE;
        }
        out->present |= NE_MQTT_HAS(id);
    }
    if ((out->present & NE_MQTT_HAS(NE_MQTT_PROP_AUTH_DATA)) != 0 &&
        (out->present & NE_MQTT_HAS(NE_MQTT_PROP_AUTH_METHOD)) == 0) {
        *reason = NE_MQTT_RC_PROTOCOL_ERROR; /* M5-11 */
        return NE_ERR_PARSE;
    }
    return NE_OK;
}

/* The size of one property's value at p (already decoded once, so well
 * formed). */
static uint32_t prop_value_size(uint8_t id, const uint8_t *p, uint32_t avail)
{
    rd r;
    rd_init(&r, p, avail, avail);
    switch ((prop_type)prop_table[id].type) {
    case PT_BYTE:
        return 1;
    case PT_U16:
        return 2;
    case PT_U32:
        return 4;
    case PT_VBI:
        (void)rd_vbi(&r);
        break;
    case PT_STRING:
    case PT_BINARY:
        (void)rd_bytes(&r);
        break;
    case PT_PAIR:
        (void)rd_bytes(&r);
        (void)rd_bytes(&r);
        break;
    case PT_NONE:
        NE_ASSERT(false);
        break;
    }
    NE_ASSERT(rd_ok(&r));
    return r.pos;
}

bool ne_mqtt_props_next_user(const ne_mqtt_props *props, uint32_t *pos, ne_mqtt_bytes *key,
                             ne_mqtt_bytes *value)
{
    const ne_mqtt_bytes *raw = &props->raw;
    /* Each pass steps over one property. */
    while (*pos < raw->len) {
        rd r;
        rd_init(&r, raw->ptr, raw->len, raw->len);
        r.pos = *pos;
        uint32_t id = rd_vbi(&r);
        NE_ASSERT(rd_ok(&r) && prop_known(id));
        if (id == NE_MQTT_PROP_USER_PROPERTY) {
            *key = rd_bytes(&r);
            *value = rd_bytes(&r);
            NE_ASSERT(rd_ok(&r));
            *pos = r.pos;
            return true;
        }
        *pos = r.pos + prop_value_size((uint8_t)id, raw->ptr + r.pos, raw->len - r.pos);
    }
    return false;
}

static bool is_message_prop(uint32_t id)
{
    return id == NE_MQTT_PROP_PAYLOAD_FORMAT || id == NE_MQTT_PROP_CONTENT_TYPE ||
           id == NE_MQTT_PROP_RESPONSE_TOPIC || id == NE_MQTT_PROP_CORRELATION_DATA ||
           id == NE_MQTT_PROP_USER_PROPERTY;
}

int32_t ne_mqtt_props_message(const ne_mqtt_props *props, uint8_t *out, size_t cap)
{
    const ne_mqtt_bytes *raw = &props->raw;
    size_t written = 0;
    uint32_t pos = 0;
    while (pos < raw->len) {
        rd r;
        rd_init(&r, raw->ptr, raw->len, raw->len);
        r.pos = pos;
        uint32_t id = rd_vbi(&r);
        NE_ASSERT(rd_ok(&r) && prop_known(id));
        uint32_t end = r.pos + prop_value_size((uint8_t)id, raw->ptr + r.pos, raw->len - r.pos);
        if (is_message_prop(id)) {
            if (end - pos > cap - written) {
                return -1;
            }
            memcpy(out + written, raw->ptr + pos, end - pos);
            written += end - pos;
        }
        pos = end;
    }
    return (int32_t)written;
}

/* ---- Writing properties ---------------------------------------------------------------- */

static void wr_prop_fields(wr *w, const ne_mqtt_props *f)
{
    for (uint8_t id = 1; id < NE_ARRAY_LEN(prop_table); id++) {
        if (!prop_known(id) || (f->present & NE_MQTT_HAS(id)) == 0 ||
            id == NE_MQTT_PROP_USER_PROPERTY || id == NE_MQTT_PROP_SUBSCRIPTION_ID) {
            continue;
        }
        wr_u8(w, id);
        switch ((prop_type)prop_table[id].type) {
        case PT_BYTE: {
            uint8_t v = id == NE_MQTT_PROP_PAYLOAD_FORMAT          ? f->payload_format
                        : id == NE_MQTT_PROP_REQUEST_PROBLEM_INFO  ? f->request_problem_info
                        : id == NE_MQTT_PROP_REQUEST_RESPONSE_INFO ? f->request_response_info
                        : id == NE_MQTT_PROP_MAXIMUM_QOS           ? f->maximum_qos
                        : id == NE_MQTT_PROP_RETAIN_AVAILABLE      ? f->retain_available
                        : id == NE_MQTT_PROP_WILDCARD_AVAILABLE    ? f->wildcard_available
                        : id == NE_MQTT_PROP_SUB_IDS_AVAILABLE     ? f->sub_ids_available
                                                                   : f->shared_available;
            wr_u8(w, v);
            break;
        }
        case PT_U16:
            wr_u16(w, id == NE_MQTT_PROP_SERVER_KEEP_ALIVE     ? f->server_keep_alive
                      : id == NE_MQTT_PROP_RECEIVE_MAXIMUM     ? f->receive_maximum
                      : id == NE_MQTT_PROP_TOPIC_ALIAS_MAXIMUM ? f->topic_alias_maximum
                                                               : f->topic_alias);
            break;
        case PT_U32:
            wr_u32(w, id == NE_MQTT_PROP_MESSAGE_EXPIRY   ? f->message_expiry
                      : id == NE_MQTT_PROP_SESSION_EXPIRY ? f->session_expiry
                      : id == NE_MQTT_PROP_WILL_DELAY     ? f->will_delay
                                                          : f->maximum_packet_size);
            break;
        case PT_STRING:
        case PT_BINARY:
            wr_bytes(w, *bytes_field((ne_mqtt_props *)(uintptr_t)f, id));
            break;
        case PT_VBI:
        case PT_PAIR:
        case PT_NONE:
            NE_ASSERT(false);
            break;
        }
    }
}

static void wr_props_body(wr *w, const ne_mqtt_props_out *p)
{
    if (p == NULL) {
        return;
    }
    if (p->fields != NULL) {
        wr_prop_fields(w, p->fields);
    }
    wr_raw(w, p->extra.ptr, p->extra.len);
    for (uint32_t i = 0; i < p->sub_id_count; i++) {
        wr_u8(w, NE_MQTT_PROP_SUBSCRIPTION_ID);
        wr_vbi(w, p->sub_ids[i]);
    }
}

int64_t ne_mqtt_props_size(const ne_mqtt_props_out *p)
{
    wr w;
    wr_init(&w, NULL, 0);
    wr_props_body(&w, p);
    if (w.bad || w.pos > NE_MQTT_MAX_REMAINING) {
        return -1;
    }
    return (int64_t)w.pos;
}

/* The property length, then the properties. */
static void wr_props(wr *w, const ne_mqtt_props_out *p)
{
    int64_t n = ne_mqtt_props_size(p);
    if (n < 0) {
        w->bad = true;
        return;
    }
    wr_vbi(w, (uint32_t)n);
    wr_props_body(w, p);
}

size_t ne_mqtt_prop_put_int(uint8_t *out, size_t cap, uint8_t id, uint32_t value)
{
    if (!prop_known(id)) {
        return 0;
    }
    wr w;
    wr_init(&w, out, cap);
    wr_u8(&w, id);
    switch ((prop_type)prop_table[id].type) {
    case PT_BYTE:
        wr_u8(&w, (uint8_t)value);
        break;
    case PT_U16:
        wr_u16(&w, (uint16_t)value);
        break;
    case PT_U32:
        wr_u32(&w, value);
        break;
    case PT_VBI:
        wr_vbi(&w, value);
        break;
    default:
        return 0;
    }
    return wr_done(&w);
}

size_t ne_mqtt_prop_put_bytes(uint8_t *out, size_t cap, uint8_t id, ne_mqtt_bytes value)
{
    if (!prop_known(id) || (prop_table[id].type != PT_STRING && prop_table[id].type != PT_BINARY)) {
        return 0;
    }
    wr w;
    wr_init(&w, out, cap);
    wr_u8(&w, id);
    wr_bytes(&w, value);
    return wr_done(&w);
}

size_t ne_mqtt_prop_put_pair(uint8_t *out, size_t cap, ne_mqtt_bytes key, ne_mqtt_bytes value)
{
    wr w;
    wr_init(&w, out, cap);
    wr_u8(&w, NE_MQTT_PROP_USER_PROPERTY);
    wr_bytes(&w, key);
    wr_bytes(&w, value);
    return wr_done(&w);
}

/* ---- Decoding packets ---------------------------------------------------------------------- */

/* A property length and block at the reader; NE_ERR_WOULD_BLOCK when the
 * reader stopped at its available bytes. */
static int rd_props(rd *r, ne_mqtt_ctx ctx, bool inbound, ne_mqtt_props *out, uint8_t *reason)
{
    uint32_t n = rd_vbi(r);
    if (rd_ok(r)) {
        (void)rd_need(r, n);
    }
    if (r->short_input) {
        return NE_ERR_WOULD_BLOCK;
    }
    if (r->bad) {
        *reason = NE_MQTT_RC_MALFORMED;
        return NE_ERR_PARSE;
    }
    int rc = ne_mqtt_props_decode(r->p + r->pos, n, ctx, inbound, out, reason);
    r->pos += n;
    return rc;
}

static ne_mqtt_connect_fault connect_fault(uint8_t level, uint8_t code, uint8_t *reason)
{
    *reason = code;
    return level == NE_MQTT_V5 ? NE_MQTT_CONNECT_REFUSE : NE_MQTT_CONNECT_CLOSE;
}

/* The will's properties, topic and payload (M3-21, M5-12). */
static ne_mqtt_connect_fault decode_will(rd *r, ne_mqtt_connect *c, uint8_t *reason)
{
    if (c->level == NE_MQTT_V5 &&
        rd_props(r, NE_MQTT_CTX_WILL, false, &c->will_props, reason) != NE_OK) {
        return connect_fault(c->level, *reason, reason);
    }
    c->will_topic = rd_bytes(r);
    c->will_payload = rd_bytes(r);
    if (!rd_ok(r)) {
        return connect_fault(c->level, NE_MQTT_RC_MALFORMED, reason);
    }
    if (!ne_mqtt_utf8_valid(c->will_topic.ptr, c->will_topic.len)) {
        return connect_fault(c->level, NE_MQTT_RC_MALFORMED, reason);
    }
    if (!ne_mqtt_topic_name_valid(c->will_topic.ptr, c->will_topic.len)) {
        return connect_fault(c->level, NE_MQTT_RC_TOPIC_NAME_INVALID, reason);
    }
    return NE_MQTT_CONNECT_OK;
}

ne_mqtt_connect_fault ne_mqtt_decode_connect(const uint8_t *body, uint32_t len,
                                             ne_mqtt_connect *out, uint8_t *reason)
{
    memset(out, 0, sizeof(*out));
    *reason = NE_MQTT_RC_MALFORMED;
    rd r;
    rd_init(&r, body, len, len);
    ne_mqtt_bytes name = rd_bytes(&r);
    uint8_t level = rd_u8(&r);
    if (!rd_ok(&r) || name.len != 4 || memcmp(name.ptr, "MQTT", 4) != 0) {
        return NE_MQTT_CONNECT_CLOSE; /* M3-19, MQ-01: MQIsdp closed too */
    }
    if (level != NE_MQTT_V311 && level != NE_MQTT_V5) {
        *reason = NE_MQTT_RC_UNSUPPORTED_VERSION;
        return NE_MQTT_CONNECT_BAD_VERSION; /* MB-04: 3.1.1's form */
    }
    out->level = level;
    uint8_t flags = rd_u8(&r);
    out->keep_alive_s = rd_u16(&r);
    if (!rd_ok(&r) || (flags & 0x01u) != 0) {
        return connect_fault(level, NE_MQTT_RC_MALFORMED, reason); /* M3-20 */
    }
    out->clean_start = (flags & 0x02u) != 0;
    out->will = (flags & 0x04u) != 0;
    out->will_qos = (flags >> 3) & 3u;
    out->will_retain = (flags & 0x20u) != 0;
    out->has_password = (flags & 0x40u) != 0;
    out->has_user = (flags & 0x80u) != 0;
    if (out->will_qos == 3 || (!out->will && (out->will_qos != 0 || out->will_retain))) {
        return connect_fault(level, NE_MQTT_RC_MALFORMED, reason); /* M3-21 */
    }
    if (level == NE_MQTT_V311 && out->has_password && !out->has_user) {
        return NE_MQTT_CONNECT_CLOSE; /* M3-22 */
    }
    if (level == NE_MQTT_V5 &&
        rd_props(&r, NE_MQTT_CTX_CONNECT, false, &out->props, reason) != NE_OK) {
        return connect_fault(level, *reason, reason);
    }
    out->client_id = rd_bytes(&r);
    if (!rd_ok(&r)) {
        return connect_fault(level, NE_MQTT_RC_MALFORMED, reason);
    }
    if (!ne_mqtt_utf8_valid(out->client_id.ptr, out->client_id.len)) {
        /* nats-server answers 0x02 (identifier rejected), MQ-06. */
        *reason = NE_MQTT_RC_CLIENT_ID_NOT_VALID;
        return NE_MQTT_CONNECT_REFUSE;
    }
    if (out->will) {
        ne_mqtt_connect_fault f = decode_will(&r, out, reason);
        if (f != NE_MQTT_CONNECT_OK) {
            return f;
        }
    }
    if (out->has_user) {
        out->user = rd_bytes(&r);
        if (rd_ok(&r) && !ne_mqtt_utf8_valid(out->user.ptr, out->user.len)) {
            return connect_fault(level, NE_MQTT_RC_MALFORMED, reason);
        }
    }
    if (out->has_password) {
        out->password = rd_bytes(&r);
    }
    if (!rd_ok(&r) || r.pos != len) {
        return connect_fault(level, NE_MQTT_RC_MALFORMED, reason);
    }
    *reason = NE_MQTT_RC_SUCCESS;
    return NE_MQTT_CONNECT_OK;
}

int ne_mqtt_decode_connack(const uint8_t *body, uint32_t len, uint8_t version, ne_mqtt_connack *out,
                           uint8_t *reason)
{
    memset(out, 0, sizeof(*out));
    *reason = NE_MQTT_RC_MALFORMED;
    rd r;
    rd_init(&r, body, len, len);
    uint8_t flags = rd_u8(&r);
    out->reason = rd_u8(&r);
    if (!rd_ok(&r) || (flags & 0xfeu) != 0) {
        return NE_ERR_PARSE;
    }
    out->session_present = (flags & 1u) != 0;
    if (version == NE_MQTT_V5 &&
        rd_props(&r, NE_MQTT_CTX_CONNACK, false, &out->props, reason) != NE_OK) {
        return NE_ERR_PARSE;
    }
    if (r.pos != len) {
        *reason = NE_MQTT_RC_MALFORMED;
        return NE_ERR_PARSE;
    }
    return NE_OK;
}

int ne_mqtt_decode_publish(uint8_t first, const uint8_t *body, uint32_t avail, uint32_t total,
                           uint8_t version, bool inbound, ne_mqtt_publish *out, uint8_t *reason)
{
    memset(out, 0, sizeof(*out));
    *reason = NE_MQTT_RC_MALFORMED;
    out->qos = NE_MQTT_QOS_OF(first);
    out->dup = (first & NE_MQTT_FLAG_DUP) != 0;
    out->retain = (first & NE_MQTT_FLAG_RETAIN) != 0;
    if (out->qos == 3) {
        return NE_ERR_PARSE; /* M3-03 */
    }
    rd r;
    rd_init(&r, body, avail, total);
    out->topic = rd_bytes(&r);
    if (out->qos > 0) {
        out->packet_id = rd_u16(&r);
    }
    if (r.short_input) {
        return NE_ERR_WOULD_BLOCK;
    }
    if (r.bad) {
        return NE_ERR_PARSE;
    }
    if (out->qos > 0 && out->packet_id == 0) {
        *reason = NE_MQTT_RC_PROTOCOL_ERROR; /* M3-16 */
        return NE_ERR_PARSE;
    }
    if (version == NE_MQTT_V5) {
        int rc = rd_props(&r, NE_MQTT_CTX_PUBLISH, inbound, &out->props, reason);
        if (rc != NE_OK) {
            return rc;
        }
    }
    if (!ne_mqtt_utf8_valid(out->topic.ptr, out->topic.len)) {
        *reason = NE_MQTT_RC_MALFORMED;
        return NE_ERR_PARSE;
    }
    out->head_len = r.pos;
    out->payload_len = total - r.pos;
    out->payload = body + r.pos;
    *reason = NE_MQTT_RC_SUCCESS;
    return NE_OK;
}

int ne_mqtt_decode_ack(const uint8_t *body, uint32_t len, uint8_t version, ne_mqtt_ack *out,
                       uint8_t *reason)
{
    memset(out, 0, sizeof(*out));
    *reason = NE_MQTT_RC_MALFORMED;
    if (len < 2 || (version != NE_MQTT_V5 && len != 2)) {
        return NE_ERR_PARSE; /* M3-06 */
    }
    rd r;
    rd_init(&r, body, len, len);
    out->packet_id = rd_u16(&r);
    if (out->packet_id == 0) {
        *reason = NE_MQTT_RC_PROTOCOL_ERROR;
        return NE_ERR_PARSE;
    }
    if (len >= 3) {
        out->reason = rd_u8(&r);
    }
    if (len >= 4 && rd_props(&r, NE_MQTT_CTX_ACK, false, &out->props, reason) != NE_OK) {
        return NE_ERR_PARSE;
    }
    if (r.pos != len) {
        *reason = NE_MQTT_RC_MALFORMED;
        return NE_ERR_PARSE;
    }
    return NE_OK;
}

/* One filter and, for SUBSCRIBE, its options byte, checked. */
static bool read_filter(rd *r, uint8_t version, bool unsubscribe, ne_mqtt_bytes *filter,
                        ne_mqtt_sub_options *opts, uint8_t *reason)
{
    *reason = NE_MQTT_RC_MALFORMED;
    *filter = rd_bytes(r);
    uint8_t o = unsubscribe ? 0 : rd_u8(r);
    if (!rd_ok(r) || filter->len == 0 || !ne_mqtt_utf8_valid(filter->ptr, filter->len)) {
        return false;
    }
    memset(opts, 0, sizeof(*opts));
    if (unsubscribe) {
        return true;
    }
    opts->qos = o & 3u;
    if (version != NE_MQTT_V5) {
        return (o & 0xfcu) == 0 && opts->qos != 3; /* v3 MQTT-3.8.3-4 */
    }
    opts->no_local = (o & 0x04u) != 0;
    opts->retain_as_published = (o & 0x08u) != 0;
    opts->retain_handling = (o >> 4) & 3u;
    if ((o & 0xc0u) != 0) {
        return false; /* [MQTT-3.8.3-5] */
    }
    if (opts->qos == 3 || opts->retain_handling == 3) {
        *reason = NE_MQTT_RC_PROTOCOL_ERROR;
        return false;
    }
    return true;
}

int ne_mqtt_decode_subscribe(uint8_t first, const uint8_t *body, uint32_t len, uint8_t version,
                             ne_mqtt_subscribe *out, uint8_t *reason)
{
    memset(out, 0, sizeof(*out));
    *reason = NE_MQTT_RC_MALFORMED;
    out->unsubscribe = (first >> 4) == NE_MQTT_UNSUBSCRIBE;
    rd r;
    rd_init(&r, body, len, len);
    out->packet_id = rd_u16(&r);
    if (!rd_ok(&r)) {
        return NE_ERR_PARSE;
    }
    if (out->packet_id == 0) {
        *reason = NE_MQTT_RC_PROTOCOL_ERROR;
        return NE_ERR_PARSE;
    }
    if (version == NE_MQTT_V5 &&
        rd_props(&r, out->unsubscribe ? NE_MQTT_CTX_UNSUBSCRIBE : NE_MQTT_CTX_SUBSCRIBE, false,
                 &out->props, reason) != NE_OK) {
        return NE_ERR_PARSE;
    }
    out->filters = body + r.pos;
    out->filters_len = len - r.pos;
    /* Each pass reads at least three bytes. */
    while (r.pos < len) {
        ne_mqtt_bytes f;
        ne_mqtt_sub_options o;
        if (!read_filter(&r, version, out->unsubscribe, &f, &o, reason)) {
            return NE_ERR_PARSE;
        }
        out->count++;
    }
    if (out->count == 0) {
        *reason = NE_MQTT_RC_PROTOCOL_ERROR; /* M3-27 */
        return NE_ERR_PARSE;
    }
    return NE_OK;
}

bool ne_mqtt_next_filter(const ne_mqtt_subscribe *s, uint32_t *pos, ne_mqtt_bytes *filter,
                         ne_mqtt_sub_options *opts)
{
    if (*pos >= s->filters_len) {
        return false;
    }
    rd r;
    rd_init(&r, s->filters, s->filters_len, s->filters_len);
    r.pos = *pos;
    uint8_t reason;
    /* The version only changes which option bits are read: v5's decoding
     * of a v3 byte is the same QoS with the other bits 0. */
    bool ok = read_filter(&r, NE_MQTT_V5, s->unsubscribe, filter, opts, &reason);
    NE_ASSERT(ok);
    *pos = r.pos;
    return ok;
}

int ne_mqtt_decode_suback(uint8_t first, const uint8_t *body, uint32_t len, uint8_t version,
                          ne_mqtt_suback *out, uint8_t *reason)
{
    memset(out, 0, sizeof(*out));
    *reason = NE_MQTT_RC_MALFORMED;
    bool unsuback = (first >> 4) == NE_MQTT_UNSUBACK;
    rd r;
    rd_init(&r, body, len, len);
    out->packet_id = rd_u16(&r);
    if (!rd_ok(&r)) {
        return NE_ERR_PARSE;
    }
    if (version == NE_MQTT_V5 && rd_props(&r, unsuback ? NE_MQTT_CTX_UNSUBACK : NE_MQTT_CTX_SUBACK,
                                          false, &out->props, reason) != NE_OK) {
        return NE_ERR_PARSE;
    }
    out->codes.ptr = body + r.pos;
    out->codes.len = len - r.pos;
    bool want_codes = !unsuback || version == NE_MQTT_V5;
    if (want_codes != (out->codes.len > 0)) {
        return NE_ERR_PARSE;
    }
    return NE_OK;
}

int ne_mqtt_decode_disconnect(const uint8_t *body, uint32_t len, uint8_t version,
                              ne_mqtt_disconnect *out, uint8_t *reason)
{
    memset(out, 0, sizeof(*out));
    *reason = NE_MQTT_RC_MALFORMED;
    if (version != NE_MQTT_V5) {
        return len == 0 ? NE_OK : NE_ERR_PARSE;
    }
    rd r;
    rd_init(&r, body, len, len);
    if (len >= 1) {
        out->reason = rd_u8(&r);
    }
    if (len >= 2 && rd_props(&r, NE_MQTT_CTX_DISCONNECT, false, &out->props, reason) != NE_OK) {
        return NE_ERR_PARSE;
    }
    if (r.pos != len) {
        *reason = NE_MQTT_RC_MALFORMED;
        return NE_ERR_PARSE;
    }
    return NE_OK;
}

int ne_mqtt_decode_auth(const uint8_t *body, uint32_t len, ne_mqtt_disconnect *out, uint8_t *reason)
{
    memset(out, 0, sizeof(*out));
    *reason = NE_MQTT_RC_MALFORMED;
    rd r;
    rd_init(&r, body, len, len);
    if (len >= 1) {
        out->reason = rd_u8(&r);
    }
    if (len >= 2 && rd_props(&r, NE_MQTT_CTX_AUTH, false, &out->props, reason) != NE_OK) {
        return NE_ERR_PARSE;
    }
    if (r.pos != len) {
        *reason = NE_MQTT_RC_MALFORMED;
        return NE_ERR_PARSE;
    }
    if ((out->props.present & NE_MQTT_HAS(NE_MQTT_PROP_AUTH_METHOD)) == 0) {
        *reason = NE_MQTT_RC_PROTOCOL_ERROR; /* M5-11 */
        return NE_ERR_PARSE;
    }
    return NE_OK;
}

/* ---- Encoding packets -------------------------------------------------------------------- */

/* Every encoder describes its body once as a function over a writer; the
 * body is measured first (the fixed header needs its length), then
 * written after the fixed header. */
typedef void (*body_fn)(wr *w, const void *args);

static size_t encode(uint8_t *out, size_t cap, uint8_t first, body_fn body, const void *args,
                     uint32_t trailing)
{
    wr m;
    wr_init(&m, NULL, 0);
    body(&m, args);
    if (m.bad || m.pos + trailing > NE_MQTT_MAX_REMAINING) {
        return 0;
    }
    wr w;
    wr_init(&w, out, cap);
    wr_u8(&w, first);
    wr_vbi(&w, (uint32_t)m.pos + trailing);
    body(&w, args);
    return wr_done(&w);
}

typedef struct connack_args {
    uint8_t version;
    bool session_present;
    uint8_t reason;
    const ne_mqtt_props_out *props;
} connack_args;

static void connack_body(wr *w, const void *a)
{
    const connack_args *c = a;
    wr_u8(w, c->session_present ? 1 : 0);
    wr_u8(w, c->reason);
    if (c->version == NE_MQTT_V5) {
        wr_props(w, c->props);
    }
}

size_t ne_mqtt_encode_connack(uint8_t *out, size_t cap, uint8_t version, bool session_present,
                              uint8_t reason, const ne_mqtt_props_out *props)
{
    connack_args a = {version, session_present, reason, props};
    return encode(out, cap, NE_MQTT_CONNACK << 4, connack_body, &a, 0);
}

typedef struct publish_args {
    uint8_t version;
    uint8_t qos;
    ne_mqtt_bytes topic;
    uint16_t packet_id;
    const ne_mqtt_props_out *props;
} publish_args;

static void publish_body(wr *w, const void *a)
{
    const publish_args *p = a;
    wr_bytes(w, p->topic);
    if (p->qos > 0) {
        wr_u16(w, p->packet_id);
    }
    if (p->version == NE_MQTT_V5) {
        wr_props(w, p->props);
    }
}

size_t ne_mqtt_encode_publish_head(uint8_t *out, size_t cap, uint8_t version, uint8_t first,
                                   ne_mqtt_bytes topic, uint16_t packet_id,
                                   const ne_mqtt_props_out *props, uint32_t payload_len)
{
    NE_ASSERT((first >> 4) == NE_MQTT_PUBLISH && NE_MQTT_QOS_OF(first) != 3);
    publish_args a = {version, (uint8_t)NE_MQTT_QOS_OF(first), topic, packet_id, props};
    return encode(out, cap, first, publish_body, &a, payload_len);
}

typedef struct ack_args {
    uint8_t version;
    uint16_t packet_id;
    uint8_t reason;
    const ne_mqtt_props_out *props;
} ack_args;

static bool props_empty(const ne_mqtt_props_out *p)
{
    return p == NULL || ne_mqtt_props_size(p) == 0;
}

static void ack_body(wr *w, const void *a)
{
    const ack_args *k = a;
    wr_u16(w, k->packet_id);
    if (k->version != NE_MQTT_V5 || (k->reason == 0 && props_empty(k->props))) {
        return;
    }
    wr_u8(w, k->reason);
    if (!props_empty(k->props)) {
        wr_props(w, k->props);
    }
}

size_t ne_mqtt_encode_ack(uint8_t *out, size_t cap, uint8_t version, ne_mqtt_type type,
                          uint16_t packet_id, uint8_t reason, const ne_mqtt_props_out *props)
{
    NE_ASSERT(type >= NE_MQTT_PUBACK && type <= NE_MQTT_PUBCOMP);
    ack_args a = {version, packet_id, reason, props};
    uint8_t first = (uint8_t)((type << 4) | (type == NE_MQTT_PUBREL ? 0x02 : 0));
    return encode(out, cap, first, ack_body, &a, 0);
}

typedef struct suback_args {
    uint8_t version;
    bool unsuback;
    uint16_t packet_id;
    const ne_mqtt_props_out *props;
    const uint8_t *codes;
    uint32_t count;
} suback_args;

static void suback_body(wr *w, const void *a)
{
    const suback_args *s = a;
    wr_u16(w, s->packet_id);
    if (s->version == NE_MQTT_V5) {
        wr_props(w, s->props);
    }
    if (!s->unsuback || s->version == NE_MQTT_V5) {
        wr_raw(w, s->codes, s->count);
    }
}

size_t ne_mqtt_encode_suback(uint8_t *out, size_t cap, uint8_t version, ne_mqtt_type type,
                             uint16_t packet_id, const ne_mqtt_props_out *props,
                             const uint8_t *codes, uint32_t count)
{
    NE_ASSERT(type == NE_MQTT_SUBACK || type == NE_MQTT_UNSUBACK);
    suback_args a = {version, type == NE_MQTT_UNSUBACK, packet_id, props, codes, count};
    return encode(out, cap, (uint8_t)(type << 4), suback_body, &a, 0);
}

typedef struct reason_args {
    bool v5;
    uint8_t reason;
    const ne_mqtt_props_out *props;
} reason_args;

static void reason_body(wr *w, const void *a)
{
    const reason_args *d = a;
    if (!d->v5) {
        return;
    }
    wr_u8(w, d->reason);
    if (!props_empty(d->props)) {
        wr_props(w, d->props);
    }
}

size_t ne_mqtt_encode_disconnect(uint8_t *out, size_t cap, uint8_t version, uint8_t reason,
                                 const ne_mqtt_props_out *props)
{
    reason_args a = {version == NE_MQTT_V5, reason, props};
    return encode(out, cap, NE_MQTT_DISCONNECT << 4, reason_body, &a, 0);
}

size_t ne_mqtt_encode_auth(uint8_t *out, size_t cap, uint8_t reason, const ne_mqtt_props_out *props)
{
    reason_args a = {true, reason, props};
    return encode(out, cap, NE_MQTT_AUTH << 4, reason_body, &a, 0);
}

size_t ne_mqtt_encode_empty(uint8_t *out, size_t cap, ne_mqtt_type type)
{
    NE_ASSERT(type == NE_MQTT_PINGREQ || type == NE_MQTT_PINGRESP || type == NE_MQTT_DISCONNECT);
    if (cap < 2) {
        return 0;
    }
    out[0] = (uint8_t)(type << 4);
    out[1] = 0;
    return 2;
}

static void connect_body(wr *w, const void *a)
{
    const ne_mqtt_connect_out *c = a;
    static const uint8_t name[] = {'M', 'Q', 'T', 'T'};
    wr_bytes(w, (ne_mqtt_bytes){name, 4});
    wr_u8(w, c->level);
    uint8_t flags = (uint8_t)((c->clean_start ? 0x02u : 0u) | (c->will ? 0x04u : 0u) |
                              ((c->will_qos & 3u) << 3) | (c->will_retain ? 0x20u : 0u) |
                              (c->has_password ? 0x40u : 0u) | (c->has_user ? 0x80u : 0u));
    wr_u8(w, flags);
    wr_u16(w, c->keep_alive_s);
    bool v5 = c->level == NE_MQTT_V5;
    if (v5) {
        wr_props(w, c->props);
    }
    wr_bytes(w, c->client_id);
    if (c->will) {
        if (v5) {
            wr_props(w, c->will_props);
        }
        wr_bytes(w, c->will_topic);
        wr_bytes(w, c->will_payload);
    }
    if (c->has_user) {
        wr_bytes(w, c->user);
    }
    if (c->has_password) {
        wr_bytes(w, c->password);
    }
}

size_t ne_mqtt_encode_connect(uint8_t *out, size_t cap, const ne_mqtt_connect_out *c)
{
    return encode(out, cap, NE_MQTT_CONNECT << 4, connect_body, c, 0);
}

typedef struct subscribe_args {
    uint8_t version;
    uint16_t packet_id;
    const ne_mqtt_props_out *props;
    const ne_mqtt_bytes *filters;
    const ne_mqtt_sub_options *opts;
    uint32_t count;
} subscribe_args;

static void subscribe_body(wr *w, const void *a)
{
    const subscribe_args *s = a;
    wr_u16(w, s->packet_id);
    if (s->version == NE_MQTT_V5) {
        wr_props(w, s->props);
    }
    for (uint32_t i = 0; i < s->count; i++) {
        wr_bytes(w, s->filters[i]);
        if (s->opts != NULL) {
            const ne_mqtt_sub_options *o = &s->opts[i];
            wr_u8(w, (uint8_t)((o->qos & 3u) | (o->no_local ? 0x04u : 0u) |
                               (o->retain_as_published ? 0x08u : 0u) |
                               ((o->retain_handling & 3u) << 4)));
        }
    }
}

size_t ne_mqtt_encode_subscribe(uint8_t *out, size_t cap, uint8_t version, uint16_t packet_id,
                                const ne_mqtt_props_out *props, const ne_mqtt_bytes *filters,
                                const ne_mqtt_sub_options *opts, uint32_t count)
{
    subscribe_args a = {version, packet_id, props, filters, opts, count};
    uint8_t first = (uint8_t)(((opts != NULL ? NE_MQTT_SUBSCRIBE : NE_MQTT_UNSUBSCRIBE) << 4) | 2);
    return encode(out, cap, first, subscribe_body, &a, 0);
}
