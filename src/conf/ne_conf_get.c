/* Reading a parsed configuration: walking the tree, typed reads that name the
 * position of a wrong type, Go durations and sizes, and the unknown-key check
 * nats-server makes (an entry never read is an `unknown field`). */
#include "conf/ne_conf.h"

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "core/ne_fmt.h"

static bool live(const ne_conf_node *n)
{
    return (n->flags & NE_CONF_F_SHADOWED) == 0;
}

static bool is_container(const ne_conf_node *n)
{
    return n->type == NE_CONF_MAP || n->type == NE_CONF_ARRAY;
}

ne_conf_node *ne_conf_root(ne_conf *conf)
{
    if (conf->status != NE_OK || conf->node_count == 0) {
        return NULL;
    }
    return &conf->nodes[0];
}

static ne_conf_node *skip_shadowed(ne_conf *conf, uint32_t idx)
{
    uint32_t guard = conf->node_count;
    while (idx != NE_CONF_NIL && guard-- > 0) {
        NE_ASSERT(idx < conf->node_count);
        if (live(&conf->nodes[idx])) {
            return &conf->nodes[idx];
        }
        idx = conf->nodes[idx].next;
    }
    return NULL;
}

ne_conf_node *ne_conf_first(ne_conf *conf, const ne_conf_node *container)
{
    if (container == NULL || !is_container(container)) {
        return NULL;
    }
    return skip_shadowed(conf, container->v.c.first);
}

ne_conf_node *ne_conf_next(ne_conf *conf, const ne_conf_node *node)
{
    return node == NULL ? NULL : skip_shadowed(conf, node->next);
}

size_t ne_conf_count(const ne_conf_node *container)
{
    return container != NULL && is_container(container) ? container->v.c.count : 0;
}

const char *ne_conf_key(const ne_conf *conf, const ne_conf_node *node)
{
    return node->key == NE_CONF_NIL ? "" : &conf->arena[node->key];
}

size_t ne_conf_key_len(const ne_conf_node *node)
{
    return node->key == NE_CONF_NIL ? 0 : node->key_len;
}

const char *ne_conf_file_name(const ne_conf *conf, const ne_conf_node *node)
{
    return node->file < conf->file_count ? &conf->arena[conf->file_names[node->file]] : "?";
}

void ne_conf_position(const ne_conf *conf, const ne_conf_node *node, char *out, size_t cap)
{
    ne_fmt(out, cap, "%s:%u:%u", ne_conf_file_name(conf, node), (unsigned)node->line,
           (unsigned)node->col);
}

void ne_conf_mark_used(ne_conf_node *node)
{
    node->flags |= NE_CONF_F_USED;
}

/* Keys of options match ignoring ASCII case: nats-server lower-cases them
 * before comparing (probed: PORT and Server_Name are accepted). */
static bool key_equals_fold(const ne_conf *conf, const ne_conf_node *n, const char *key, size_t len)
{
    if (n->key == NE_CONF_NIL || n->key_len != len) {
        return false;
    }
    const char *k = &conf->arena[n->key];
    for (size_t i = 0; i < len; i++) {
        char a = k[i];
        char b = key[i];
        a = (a >= 'A' && a <= 'Z') ? (char)(a + 32) : a;
        b = (b >= 'A' && b <= 'Z') ? (char)(b + 32) : b;
        if (a != b) {
            return false;
        }
    }
    return true;
}

/* Every match is marked used: nats-server reads each of `port` and `PORT`
 * (in map order), so neither is an unknown field; here the last one wins. */
ne_conf_node *ne_conf_find(ne_conf *conf, ne_conf_node *map, const char *key)
{
    if (map == NULL || map->type != NE_CONF_MAP) {
        return NULL;
    }
    size_t len = strlen(key);
    ne_conf_node *found = NULL;
    uint32_t guard = conf->node_count;
    for (ne_conf_node *n = ne_conf_first(conf, map); n != NULL && guard-- > 0;
         n = ne_conf_next(conf, n)) {
        if (key_equals_fold(conf, n, key, len)) {
            n->flags |= NE_CONF_F_USED;
            found = n;
        }
    }
    return found;
}

const char *ne_conf_type_name(ne_conf_type type)
{
    switch (type) {
    case NE_CONF_MAP:
        return "map";
    case NE_CONF_ARRAY:
        return "array";
    case NE_CONF_STRING:
        return "string";
    case NE_CONF_INT:
        return "integer";
    case NE_CONF_FLOAT:
        return "float";
    case NE_CONF_BOOL:
        return "boolean";
    case NE_CONF_DATETIME:
        return "datetime";
    }
    return "unknown";
}

static const char *article(const char *noun)
{
    return (noun[0] == 'a' || noun[0] == 'i') ? "an" : "a";
}

/* Sets `file:line:col: "key" <message>` (or `value <message>` for an array
 * item) and returns rc. */
static int node_error(ne_conf *conf, const ne_conf_node *n, int rc, const char *what)
{
    ne_strbuf sb;
    ne_strbuf_init(&sb, conf->error, sizeof(conf->error));
    ne_strbuf_printf(&sb, "%s:%u:%u: ", ne_conf_file_name(conf, n), (unsigned)n->line,
                     (unsigned)n->col);
    if (n->key != NE_CONF_NIL) {
        ne_strbuf_printf(&sb, "\"%s\" ", ne_conf_key(conf, n));
    } else {
        ne_strbuf_puts(&sb, "value ");
    }
    ne_strbuf_puts(&sb, what);
    return rc;
}

static int type_error(ne_conf *conf, const ne_conf_node *n, const char *want)
{
    char what[96];
    const char *have = ne_conf_type_name((ne_conf_type)n->type);
    ne_fmt(what, sizeof(what), "must be %s, not %s %s", want, article(have), have);
    return node_error(conf, n, NE_ERR_INVALID, what);
}

int ne_conf_expect(ne_conf *conf, ne_conf_node *node, ne_conf_type type)
{
    NE_ASSERT(node != NULL);
    node->flags |= NE_CONF_F_USED;
    if (node->type != type) {
        char want[32];
        const char *name = ne_conf_type_name(type);
        ne_fmt(want, sizeof(want), "%s %s", article(name), name);
        return type_error(conf, node, want);
    }
    return NE_OK;
}

int ne_conf_as_string(ne_conf *conf, ne_conf_node *node, const char **text, size_t *len)
{
    int rc = ne_conf_expect(conf, node, NE_CONF_STRING);
    if (rc == NE_OK) {
        *text = &conf->arena[node->v.s.off];
        if (len != NULL) {
            *len = node->v.s.len;
        }
    }
    return rc;
}

int ne_conf_as_int(ne_conf *conf, ne_conf_node *node, int64_t *out)
{
    int rc = ne_conf_expect(conf, node, NE_CONF_INT);
    if (rc == NE_OK) {
        *out = node->v.i;
    }
    return rc;
}

int ne_conf_as_float(ne_conf *conf, ne_conf_node *node, double *out)
{
    NE_ASSERT(node != NULL);
    node->flags |= NE_CONF_F_USED;
    if (node->type == NE_CONF_INT) {
        *out = (double)node->v.i;
        return NE_OK;
    }
    if (node->type != NE_CONF_FLOAT) {
        return type_error(conf, node, "a number");
    }
    *out = node->v.f;
    return NE_OK;
}

int ne_conf_as_bool(ne_conf *conf, ne_conf_node *node, bool *out)
{
    int rc = ne_conf_expect(conf, node, NE_CONF_BOOL);
    if (rc == NE_OK) {
        *out = node->v.i != 0;
    }
    return rc;
}

/* nats-server's getStorageSize: an integer, or digits (with an optional
 * sign, as Go's ParseInt) and one upper-case K M G T meaning x1024^n. */
int ne_conf_as_size(ne_conf *conf, ne_conf_node *node, int64_t *bytes)
{
    NE_ASSERT(node != NULL);
    node->flags |= NE_CONF_F_USED;
    if (node->type == NE_CONF_INT) {
        *bytes = node->v.i;
        return NE_OK;
    }
    if (node->type != NE_CONF_STRING) {
        return type_error(conf, node, "a size (an integer, or a string such as \"64M\")");
    }
    const char *t = &conf->arena[node->v.s.off];
    size_t len = node->v.s.len;
    if (len == 0) {
        *bytes = 0;
        return NE_OK;
    }
    static const char units[] = "KMGT";
    const char *unit = len >= 2 ? memchr(units, t[len - 1], 4) : NULL;
    size_t i = 0;
    bool negative = false;
    if (t[0] == '-' || t[0] == '+') {
        negative = t[0] == '-';
        i = 1;
    }
    uint64_t v = 0;
    bool digits = i < len - 1;
    for (; unit != NULL && i < len - 1; i++) {
        if (t[i] < '0' || t[i] > '9' || v > ((uint64_t)INT64_MAX - 9) / 10) {
            digits = false;
            break;
        }
        v = v * 10 + (uint64_t)(t[i] - '0');
    }
    if (unit == NULL || !digits) {
        return node_error(conf, node, NE_ERR_INVALID,
                          "must be a size: an integer, or digits ending in K, M, G or T");
    }
    uint32_t shift = 10 * (uint32_t)(unit - units + 1);
    if (v > ((uint64_t)INT64_MAX >> shift)) {
        return node_error(conf, node, NE_ERR_RANGE, "is a size out of range");
    }
    int64_t value = (int64_t)(v << shift);
    *bytes = negative ? -value : value;
    return NE_OK;
}

/* ---- Durations -------------------------------------------------------------- */

static const struct {
    const char *name;
    uint64_t ns;
} duration_units[] = {
    {"ns", 1ull},           {"us", 1000ull},      {"\xc2\xb5s", 1000ull}, /* U+00B5 micro sign */
    {"\xce\xbcs", 1000ull},                                               /* U+03BC Greek mu */
    {"ms", 1000000ull},     {"s", 1000000000ull}, {"m", 60000000000ull},  {"h", 3600000000000ull},
};

static uint64_t unit_ns(const char *text, size_t len)
{
    for (size_t u = 0; u < NE_ARRAY_LEN(duration_units); u++) {
        if (strlen(duration_units[u].name) == len &&
            memcmp(duration_units[u].name, text, len) == 0) {
            return duration_units[u].ns;
        }
    }
    return 0;
}

/* Go's time.ParseDuration, rule for rule: the fraction of each number is
 * scaled with floating point as Go does, and the total may not pass 2^63-1 ns
 * (2^63 when negative). */
int ne_conf_parse_duration(const char *text, size_t len, int64_t *ns)
{
    const uint64_t max = (uint64_t)1 << 63;
    size_t i = 0;
    bool negative = false;
    if (len > 0 && (text[0] == '-' || text[0] == '+')) {
        negative = text[0] == '-';
        i = 1;
    }
    if (len - i == 1 && text[i] == '0') {
        *ns = 0;
        return NE_OK;
    }
    if (i == len) {
        return NE_ERR_PARSE;
    }
    uint64_t total = 0;
    while (i < len) {
        if (!(text[i] == '.' || (text[i] >= '0' && text[i] <= '9'))) {
            return NE_ERR_PARSE;
        }
        uint64_t v = 0;
        bool whole = false;
        for (; i < len && text[i] >= '0' && text[i] <= '9'; i++) {
            if (v > (max - 9) / 10) {
                return NE_ERR_RANGE;
            }
            v = v * 10 + (uint64_t)(text[i] - '0');
            whole = true;
        }
        uint64_t fraction = 0;
        double scale = 1.0;
        bool fractional = false;
        if (i < len && text[i] == '.') {
            for (i++; i < len && text[i] >= '0' && text[i] <= '9'; i++) {
                fractional = true;
                /* Digits past what 63 bits hold are dropped, as in Go. */
                if (fraction <= (max - 10) / 10) {
                    fraction = fraction * 10 + (uint64_t)(text[i] - '0');
                    scale *= 10.0;
                }
            }
        }
        if (!whole && !fractional) {
            return NE_ERR_PARSE;
        }
        size_t unit_start = i;
        while (i < len && text[i] != '.' && !(text[i] >= '0' && text[i] <= '9')) {
            i++;
        }
        uint64_t unit = unit_ns(&text[unit_start], i - unit_start);
        if (unit == 0) {
            return NE_ERR_PARSE; /* missing or unknown unit */
        }
        if (v > max / unit) {
            return NE_ERR_RANGE;
        }
        v *= unit;
        if (fraction > 0) {
            v += (uint64_t)((double)fraction * ((double)unit / scale));
            if (v > max) {
                return NE_ERR_RANGE;
            }
        }
        total += v;
        if (total > max) {
            return NE_ERR_RANGE;
        }
    }
    if (!negative && total > (uint64_t)INT64_MAX) {
        return NE_ERR_RANGE;
    }
    *ns = negative ? (total == max ? INT64_MIN : -(int64_t)total) : (int64_t)total;
    return NE_OK;
}

int ne_conf_duration_ms(ne_conf *conf, ne_conf_node *node, int64_t *ms)
{
    NE_ASSERT(node != NULL);
    node->flags |= NE_CONF_F_USED;
    if (node->type == NE_CONF_INT) {
        /* nats-server reads a plain number as seconds (with a warning). */
        int64_t s = node->v.i;
        if (s > INT64_MAX / 1000000000 || s < INT64_MIN / 1000000000) {
            return node_error(conf, node, NE_ERR_RANGE, "is a duration out of range");
        }
        *ms = s * 1000;
        return NE_OK;
    }
    if (node->type != NE_CONF_STRING) {
        return type_error(conf, node, "a duration (such as \"2s\", \"1m30s\" or \"500ms\")");
    }
    int64_t ns;
    int rc = ne_conf_parse_duration(&conf->arena[node->v.s.off], node->v.s.len, &ns);
    if (rc == NE_ERR_RANGE) {
        return node_error(conf, node, rc, "is a duration out of range");
    }
    if (rc != NE_OK) {
        char what[160];
        ne_fmt(what, sizeof(what),
               "must be a duration such as \"2s\", \"1m30s\" or \"500ms\" (units ns us ms s m h), "
               "not \"%s\"",
               &conf->arena[node->v.s.off]);
        return node_error(conf, node, NE_ERR_INVALID, what);
    }
    *ms = ns / 1000000;
    return NE_OK;
}

/* ---- By key ---------------------------------------------------------------- */

int ne_conf_get_string(ne_conf *conf, ne_conf_node *map, const char *key, const char **text,
                       size_t *len)
{
    ne_conf_node *n = ne_conf_find(conf, map, key);
    return n == NULL ? NE_ERR_NOT_FOUND : ne_conf_as_string(conf, n, text, len);
}

int ne_conf_get_int(ne_conf *conf, ne_conf_node *map, const char *key, int64_t *out)
{
    ne_conf_node *n = ne_conf_find(conf, map, key);
    return n == NULL ? NE_ERR_NOT_FOUND : ne_conf_as_int(conf, n, out);
}

int ne_conf_get_float(ne_conf *conf, ne_conf_node *map, const char *key, double *out)
{
    ne_conf_node *n = ne_conf_find(conf, map, key);
    return n == NULL ? NE_ERR_NOT_FOUND : ne_conf_as_float(conf, n, out);
}

int ne_conf_get_bool(ne_conf *conf, ne_conf_node *map, const char *key, bool *out)
{
    ne_conf_node *n = ne_conf_find(conf, map, key);
    return n == NULL ? NE_ERR_NOT_FOUND : ne_conf_as_bool(conf, n, out);
}

int ne_conf_get_size(ne_conf *conf, ne_conf_node *map, const char *key, int64_t *bytes)
{
    ne_conf_node *n = ne_conf_find(conf, map, key);
    return n == NULL ? NE_ERR_NOT_FOUND : ne_conf_as_size(conf, n, bytes);
}

int ne_conf_get_duration_ms(ne_conf *conf, ne_conf_node *map, const char *key, int64_t *ms)
{
    ne_conf_node *n = ne_conf_find(conf, map, key);
    return n == NULL ? NE_ERR_NOT_FOUND : ne_conf_duration_ms(conf, n, ms);
}

/* ---- Unknown keys ----------------------------------------------------------- */

static ne_conf_node *unused_from(ne_conf *conf, ne_conf_node *n)
{
    uint32_t guard = conf->node_count;
    for (; n != NULL && guard-- > 0; n = ne_conf_next(conf, n)) {
        if ((n->flags & (NE_CONF_F_USED | NE_CONF_F_VAR_REF)) == 0) {
            return n;
        }
    }
    return NULL;
}

ne_conf_node *ne_conf_first_unused(ne_conf *conf, ne_conf_node *map)
{
    if (map == NULL || map->type != NE_CONF_MAP) {
        return NULL;
    }
    return unused_from(conf, ne_conf_first(conf, map));
}

ne_conf_node *ne_conf_next_unused(ne_conf *conf, ne_conf_node *map, ne_conf_node *prev)
{
    (void)map;
    return prev == NULL ? NULL : unused_from(conf, ne_conf_next(conf, prev));
}

int ne_conf_unknown_field(ne_conf *conf, const ne_conf_node *node)
{
    ne_fmt(conf->error, sizeof(conf->error), "%s:%u:%u: unknown field \"%s\"",
           ne_conf_file_name(conf, node), (unsigned)node->line, (unsigned)node->col,
           ne_conf_key(conf, node));
    return NE_ERR_INVALID;
}

char *ne_conf_scratch(ne_conf *conf, size_t *cap)
{
    NE_ASSERT(conf->arena_used <= conf->arena_top && conf->arena_top <= NE_CONF_ARENA_BYTES);
    *cap = conf->arena_top - conf->arena_used;
    return conf->arena + conf->arena_used;
}

/* ---- Refusing keys and reading on ------------------------------------------- */

static const char unknown_field_format[] = "unknown field \"%s\"";

int ne_conf_reject(ne_conf *conf, ne_conf_node *node, const char *what)
{
    NE_ASSERT(node >= conf->nodes && node < conf->nodes + conf->node_count);
    node->flags |= NE_CONF_F_USED;
    uint32_t index = (uint32_t)(node - conf->nodes);
    conf->rejected_unknown = conf->rejected_unknown || what == NULL;
    uint32_t kept = NE_MIN(conf->rejected_count, (uint32_t)NE_CONF_MAX_REJECTED);
    conf->rejected_count++;
    /* Insertion in node order, which is file order (includes where they
     * are): readers do not meet keys in file order (nested maps first, the
     * top level's unknown keys last). At most NE_CONF_MAX_REJECTED moves. */
    uint32_t at = kept;
    while (at > 0 && conf->rejected[at - 1].node > index) {
        at--;
    }
    if (at == NE_CONF_MAX_REJECTED) {
        return NE_OK; /* later in the file than every kept one: only counted */
    }
    uint32_t last = kept == NE_CONF_MAX_REJECTED ? kept - 1 : kept;
    for (uint32_t i = last; i > at; i--) {
        conf->rejected[i] = conf->rejected[i - 1];
    }
    conf->rejected[at].node = index;
    conf->rejected[at].what = what != NULL ? what : unknown_field_format;
    return NE_OK;
}

uint32_t ne_conf_rejected_count(const ne_conf *conf)
{
    return conf->rejected_count;
}

/* Appends one refused key's line to sb. */
static void rejected_line(const ne_conf *conf, const ne_conf_rejected *r, ne_strbuf *sb)
{
    const ne_conf_node *node = &conf->nodes[r->node];
    char pos[NE_CONF_ERROR_BYTES];
    ne_conf_position(conf, node, pos, sizeof(pos));
    ne_strbuf_printf(sb, "%s: ", pos);
    ne_strbuf_printf(sb, r->what, ne_conf_key(conf, node));
}

size_t ne_conf_write_rejected(const ne_conf *conf, char *out, size_t cap)
{
    /* Room kept for the last line: "\n(4294967295 more not shown)". */
    enum { TAIL_BYTES = 32 };
    uint32_t kept = NE_MIN(conf->rejected_count, (uint32_t)NE_CONF_MAX_REJECTED);
    if (cap <= TAIL_BYTES || conf->rejected_count == 0) {
        if (cap > 0) {
            out[0] = '\0';
        }
        return 0;
    }
    ne_strbuf sb;
    ne_strbuf_init(&sb, out, cap - TAIL_BYTES);
    uint32_t written = 0;
    for (uint32_t i = 0; i < kept; i++) {
        size_t before = sb.len;
        if (i > 0) {
            ne_strbuf_putc(&sb, '\n');
        }
        rejected_line(conf, &conf->rejected[i], &sb);
        if (sb.truncated) {
            sb.len = before; /* a cut line is not written: it is counted below */
            out[before] = '\0';
            break;
        }
        written++;
    }
    uint32_t left_out = conf->rejected_count - written;
    if (left_out > 0) {
        ne_strbuf tail;
        ne_strbuf_init(&tail, out + sb.len, cap - sb.len);
        ne_strbuf_printf(&tail, "%s(%u more not shown)", written > 0 ? "\n" : "",
                         (unsigned)left_out);
        NE_ASSERT(!tail.truncated);
        return sb.len + tail.len;
    }
    return sb.len;
}

bool ne_conf_key_is(const ne_conf *conf, const ne_conf_node *node, const char *key)
{
    NE_ASSERT(key != NULL);
    const char *k = ne_conf_key(conf, node);
    size_t n = ne_conf_key_len(node);
    if (k == NULL || strlen(key) != n) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = k[i];
        if (ch >= 'A' && ch <= 'Z') {
            ch = (char)(ch - 'A' + 'a');
        }
        if (ch != key[i]) {
            return false;
        }
    }
    return true;
}

int ne_conf_fail(const ne_conf *conf, char *err, size_t cap)
{
    ne_fmt(err, cap, "%s", ne_conf_error(conf));
    return NE_ERR_INVALID;
}

int ne_conf_fail_at(const ne_conf *conf, const ne_conf_node *node, char *err, size_t cap, int rc,
                    const char *what)
{
    char pos[128];
    ne_conf_position(conf, node, pos, sizeof(pos));
    ne_fmt(err, cap, "%s: %s", pos, what);
    return rc;
}
