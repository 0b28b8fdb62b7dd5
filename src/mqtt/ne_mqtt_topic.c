/* MQTT topics and NATS subjects (ne_mqtt_topic.h). */
#include "mqtt/ne_mqtt_topic.h"

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"

bool ne_mqtt_topic_name_valid(const uint8_t *topic, size_t len)
{
    if (len == 0) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (topic[i] == '+' || topic[i] == '#') {
            return false;
        }
    }
    return true;
}

bool ne_mqtt_filter_valid(const uint8_t *filter, size_t len)
{
    if (len == 0) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        uint8_t c = filter[i];
        bool level_start = i == 0 || filter[i - 1] == '/';
        bool level_end = i + 1 == len || filter[i + 1] == '/';
        if (c == '+' && (!level_start || !level_end)) {
            return false;
        }
        if (c == '#' && (!level_start || i + 1 != len)) {
            return false;
        }
    }
    return true;
}

int ne_mqtt_shared_split(const uint8_t *filter, size_t len, const uint8_t **group,
                         size_t *group_len, const uint8_t **rest, size_t *rest_len)
{
    static const char prefix[] = "$share/";
    size_t plen = sizeof(prefix) - 1;
    if (len < plen || memcmp(filter, prefix, plen) != 0) {
        return 0;
    }
    size_t i = plen;
    while (i < len && filter[i] != '/') {
        if (filter[i] == '+' || filter[i] == '#') {
            return -1;
        }
        i++;
    }
    if (i == plen || i + 1 >= len) {
        return -1; /* "$share//x", "$share/g", "$share/g/" [MQTT-4.8.2-1/-2] */
    }
    *group = filter + plen;
    *group_len = i - plen;
    *rest = filter + i + 1;
    *rest_len = len - i - 1;
    return 1;
}

/* A writer that refuses to go past cap. */
typedef struct out_buf {
    char *p;
    size_t cap;
    size_t len;
    bool full;
} out_buf;

static void put2(out_buf *o, char a, char b)
{
    if (o->cap - o->len < 2) {
        o->full = true;
        return;
    }
    o->p[o->len++] = a;
    o->p[o->len++] = b;
}

static void put1(out_buf *o, char a)
{
    if (o->len == o->cap) {
        o->full = true;
        return;
    }
    o->p[o->len++] = a;
}

int ne_mqtt_topic_to_subject(const uint8_t *topic, size_t len, bool filter, char *out, size_t cap,
                             size_t *out_len)
{
    if (len == 0) {
        return NE_ERR_INVALID;
    }
    out_buf o = {out, cap, 0, false};
    for (size_t i = 0; i < len && !o.full; i++) {
        uint8_t c = topic[i];
        switch (c) {
        case '/':
            if (i == 0 || out[o.len - 1] == '.') {
                put2(&o, '/', '.'); /* an empty level before this '/' */
            } else if (i + 1 == len || topic[i + 1] == '/') {
                put2(&o, '.', '/'); /* an empty level after it */
            } else {
                put1(&o, '.');
            }
            break;
        case ' ':
        case '\t':
        case '\n':
        case '\r':
        case '\f':
        case 0x7f:
            return NE_ERR_INVALID;
        case '.':
            put2(&o, '/', '/');
            break;
        case '+':
        case '#':
            if (!filter) {
                return NE_ERR_INVALID;
            }
            put1(&o, c == '+' ? '*' : '>');
            break;
        default:
            put1(&o, (char)c);
            break;
        }
    }
    if (!o.full && out[o.len - 1] == '.') {
        put1(&o, '/'); /* the last level is empty */
    }
    if (o.full) {
        return NE_ERR_TOO_BIG;
    }
    *out_len = o.len;
    return NE_OK;
}

int ne_mqtt_subject_to_topic(const char *subject, size_t len, uint8_t *out, size_t cap,
                             size_t *out_len)
{
    size_t j = 0;
    for (size_t i = 0; i < len; i++) {
        char c = subject[i];
        char w;
        if (c == '/') {
            /* "/." is an empty level, "//" a '.' in a level; a '/' alone
             * marks an empty last level and stands for nothing. */
            if (i + 1 < len && (subject[i + 1] == '.' || subject[i + 1] == '/')) {
                w = subject[i + 1] == '.' ? '/' : '.';
                i++;
            } else {
                continue;
            }
        } else {
            w = c == '.' ? '/' : c;
        }
        if (j == cap) {
            return NE_ERR_TOO_BIG;
        }
        out[j++] = (uint8_t)w;
    }
    *out_len = j;
    return NE_OK;
}

/* The level of s starting at *pos: its end (exclusive). */
static size_t level_end(const uint8_t *s, size_t len, size_t pos)
{
    while (pos < len && s[pos] != '/') {
        pos++;
    }
    return pos;
}

bool ne_mqtt_topic_matches(const uint8_t *filter, size_t flen, const uint8_t *topic, size_t tlen)
{
    if (flen == 0 || tlen == 0) {
        return false;
    }
    if (topic[0] == '$' && (filter[0] == '+' || filter[0] == '#')) {
        return false; /* [MQTT-4.7.2-1] */
    }
    size_t f = 0;
    size_t t = 0;
    /* Each pass consumes one level of the filter and one of the topic. */
    for (size_t guard = 0; guard <= flen; guard++) {
        size_t fe = level_end(filter, flen, f);
        if (fe - f == 1 && filter[f] == '#') {
            return true; /* this level and all below, the parent included */
        }
        size_t te = level_end(topic, tlen, t);
        bool plus = fe - f == 1 && filter[f] == '+';
        if (!plus && (fe - f != te - t || memcmp(filter + f, topic + t, fe - f) != 0)) {
            return false;
        }
        bool filter_done = fe == flen;
        bool topic_done = te == tlen;
        if (filter_done || topic_done) {
            if (filter_done && topic_done) {
                return true;
            }
            if (topic_done && !filter_done) {
                /* "a/#" matches "a": the filter's next level must be '#'. */
                size_t next = fe + 1;
                return flen - next == 1 && filter[next] == '#';
            }
            return false;
        }
        f = fe + 1;
        t = te + 1;
    }
    NE_ASSERT(false);
    return false;
}
