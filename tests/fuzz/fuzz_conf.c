/* libFuzzer harness for the config parser (src/conf): any bytes, with
 * includes and environment variables. The input is split at its first NUL:
 * before it the main file, after it the file every include reads (so include
 * cycles and deep includes are reached). Every parse either succeeds with a
 * well-formed tree, which is then walked with every accessor, or fails with a
 * "file:line:col: message" error. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf/ne_conf.h"
#include "core/ne_error.h"

static ne_conf conf;
static const uint8_t *include_text;
static size_t include_len;

static int load(void *ctx, const char *path, char *buf, size_t cap, size_t *len)
{
    (void)ctx;
    if (strstr(path, "missing") != NULL) {
        return NE_ERR_NOT_FOUND;
    }
    if (include_len > cap) {
        return NE_ERR_TOO_BIG;
    }
    memcpy(buf, include_text, include_len);
    *len = include_len;
    return NE_OK;
}

static const char *get_env(void *ctx, const char *name)
{
    (void)ctx;
    static const struct {
        const char *name;
        const char *value;
    } env[] = {
        {"N", "42"},       {"S", "hello"}, {"M", "{a: 1, b: $N}"}, {"A", "[1, $S, {x: y} ]"},
        {"LOOP", "$LOOP"}, {"E", ""},      {"BAD", "\"x"},         {"T", "2s"},
        {"SZ", "64MB"},    {"F", "1.5"},   {"TWO", "1 2"},         {"NL", "\n1"},
    };
    for (size_t i = 0; i < sizeof(env) / sizeof(env[0]); i++) {
        if (strcmp(env[i].name, name) == 0) {
            return env[i].value;
        }
    }
    return NULL;
}

static void check_node(const ne_conf_node *n)
{
    if (n->key != NE_CONF_NIL &&
        (n->key + n->key_len >= NE_CONF_ARENA_BYTES || conf.arena[n->key + n->key_len] != '\0')) {
        abort();
    }
    if ((n->type == NE_CONF_STRING || n->type == NE_CONF_DATETIME) &&
        (n->v.s.off + n->v.s.len >= NE_CONF_ARENA_BYTES ||
         conf.arena[n->v.s.off + n->v.s.len] != '\0')) {
        abort();
    }
    if (n->flags & NE_CONF_F_OPEN) {
        abort();
    }
}

/* Walks the whole tree with an explicit stack of iterators, reading every
 * node with every accessor (type errors are expected and fine). */
static void walk(void)
{
    ne_conf_node *stack[NE_CONF_MAX_DEPTH + 2];
    size_t depth = 0;
    size_t visited = 0;
    ne_conf_node *root = ne_conf_root(&conf);
    stack[depth++] = ne_conf_first(&conf, root);
    while (depth > 0) {
        ne_conf_node *n = stack[depth - 1];
        if (n == NULL) {
            depth--;
            continue;
        }
        /* A map copied through variables shares its children, so a walk
         * of the tree can revisit them exponentially often (as it would in
         * nats-server's shared Go maps): stop after a budget. */
        if (++visited > 16 * NE_CONF_MAX_NODES) {
            return;
        }
        stack[depth - 1] = ne_conf_next(&conf, n);
        check_node(n);
        const char *s;
        size_t len;
        int64_t i;
        double f;
        bool b;
        (void)ne_conf_as_string(&conf, n, &s, &len);
        (void)ne_conf_as_int(&conf, n, &i);
        (void)ne_conf_as_float(&conf, n, &f);
        (void)ne_conf_as_bool(&conf, n, &b);
        (void)ne_conf_as_size(&conf, n, &i);
        (void)ne_conf_duration_ms(&conf, n, &i);
        char pos[64];
        ne_conf_position(&conf, n, pos, sizeof(pos));
        if (n->type == NE_CONF_MAP || n->type == NE_CONF_ARRAY) {
            if (depth >= NE_CONF_MAX_DEPTH + 2) {
                abort();
            }
            (void)ne_conf_find(&conf, n, "a");
            (void)ne_conf_first_unused(&conf, n);
            stack[depth++] = ne_conf_first(&conf, n);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t main_len = nul != NULL ? (size_t)(nul - data) : size;
    include_text = nul != NULL ? nul + 1 : data;
    include_len = nul != NULL ? size - main_len - 1 : size;
    ne_conf_io io = {load, get_env, NULL};
    int rc = ne_conf_parse_text(&conf, "dir/main.conf", (const char *)data, main_len, &io);
    if (rc == NE_OK) {
        ne_conf_node *root = ne_conf_root(&conf);
        if (root == NULL) {
            abort();
        }
        for (ne_conf_node *u = ne_conf_first_unused(&conf, root); u != NULL;
             u = ne_conf_next_unused(&conf, root, u)) {
            (void)ne_conf_unknown_field(&conf, u);
        }
        walk();
    } else {
        const char *err = ne_conf_error(&conf);
        if (rc > 0 || err[0] == '\0' || ne_conf_root(&conf) != NULL) {
            abort();
        }
        /* Every message starts with a file name, then ": " (unless a long
         * file name filled the message buffer). */
        if (err[0] == ':' || (strlen(err) < NE_CONF_ERROR_BYTES - 1 && strstr(err, ": ") == NULL)) {
            abort();
        }
    }
    int64_t ns;
    (void)ne_conf_parse_duration((const char *)data, main_len, &ns);
    return 0;
}
