/* Unit tests of the config-file parser (src/conf). IDs name the nats-server
 * behaviour in shared/reference/nats-inventory.md §7.2; positions marked
 * "nats-server" were checked with `nats-server -t` (2.9.10), which counts
 * columns from 1 on every line but the first (there from 0). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "conf/ne_conf.h"
#include "core/ne_error.h"

static ne_conf conf;

/* ---- In-memory files and environment ---------------------------------------- */

typedef struct {
    const char *name;
    const char *value;
} pair;

static const pair *mem_files;
static const pair *mem_env;
static int load_calls;

static int mem_load(void *ctx, const char *path, char *buf, size_t cap, size_t *len)
{
    (void)ctx;
    load_calls++;
    for (const pair *f = mem_files; f != NULL && f->name != NULL; f++) {
        if (strcmp(f->name, path) == 0) {
            size_t n = strlen(f->value);
            if (n > cap) {
                return NE_ERR_TOO_BIG;
            }
            memcpy(buf, f->value, n);
            *len = n;
            return NE_OK;
        }
    }
    return NE_ERR_NOT_FOUND;
}

static const char *mem_getenv(void *ctx, const char *name)
{
    (void)ctx;
    for (const pair *e = mem_env; e != NULL && e->name != NULL; e++) {
        if (strcmp(e->name, name) == 0) {
            return e->value;
        }
    }
    return NULL;
}

static const ne_conf_io mem_io = {mem_load, mem_getenv, NULL};

static int parse(const char *text)
{
    return ne_conf_parse_text(&conf, "t.conf", text, strlen(text), &mem_io);
}

static void parse_ok(const char *text)
{
    int rc = parse(text);
    if (rc != NE_OK) {
        print_error("unexpected error: %s\n", ne_conf_error(&conf));
    }
    assert_int_equal(rc, NE_OK);
}

/* Parses text expecting failure rc with a message that contains `want`. */
static void parse_fails(const char *text, int rc, const char *want)
{
    int got = parse(text);
    if (got != rc || strstr(ne_conf_error(&conf), want) == NULL) {
        print_error("input: %s\nerror %d: %s\nwanted %d containing: %s\n", text, got,
                    ne_conf_error(&conf), rc, want);
    }
    assert_int_equal(got, rc);
    assert_non_null(strstr(ne_conf_error(&conf), want));
    assert_null(ne_conf_root(&conf));
}

static ne_conf_node *root(void)
{
    ne_conf_node *r = ne_conf_root(&conf);
    assert_non_null(r);
    return r;
}

static ne_conf_node *get(ne_conf_node *map, const char *key)
{
    ne_conf_node *n = ne_conf_find(&conf, map, key);
    if (n == NULL) {
        print_error("no key %s\n", key);
    }
    assert_non_null(n);
    return n;
}

static int64_t get_int(ne_conf_node *map, const char *key)
{
    int64_t v = 0;
    assert_int_equal(ne_conf_get_int(&conf, map, key, &v), NE_OK);
    return v;
}

static const char *get_str(ne_conf_node *map, const char *key)
{
    const char *s = NULL;
    int rc = ne_conf_get_string(&conf, map, key, &s, NULL);
    if (rc != NE_OK) {
        print_error("%s\n", ne_conf_error(&conf));
    }
    assert_int_equal(rc, NE_OK);
    return s;
}

static bool get_bool(ne_conf_node *map, const char *key)
{
    bool v = false;
    assert_int_equal(ne_conf_get_bool(&conf, map, key, &v), NE_OK);
    return v;
}

static void assert_pos(const ne_conf_node *n, uint32_t line, uint32_t col)
{
    if (n->line != line || n->col != col) {
        print_error("position %u:%u, wanted %u:%u\n", (unsigned)n->line, (unsigned)n->col,
                    (unsigned)line, (unsigned)col);
    }
    assert_int_equal(n->line, line);
    assert_int_equal(n->col, col);
}

static int setup(void **state)
{
    (void)state;
    mem_files = NULL;
    mem_env = NULL;
    load_calls = 0;
    return 0;
}

/* ---- Syntax ------------------------------------------------------------------ */

static void test_key_value_separators_CFG07(void **state)
{
    (void)state;
    parse_ok("a: 1\nb = 2\nc 3\nd:4\ne=5\n\"f\" : 6\n");
    ne_conf_node *r = root();
    assert_int_equal(get_int(r, "a"), 1);
    assert_int_equal(get_int(r, "b"), 2);
    assert_int_equal(get_int(r, "c"), 3);
    assert_int_equal(get_int(r, "d"), 4);
    assert_int_equal(get_int(r, "e"), 5);
    assert_int_equal(get_int(r, "f"), 6);
    assert_int_equal(ne_conf_count(r), 6);
    /* Without a separator the value may even follow on a later line. */
    parse_ok("server_name\n\n  edge-1\n");
    assert_string_equal(get_str(root(), "server_name"), "edge-1");
}

static void test_optional_value_terminators_CFG07(void **state)
{
    (void)state;
    parse_ok("port: 4222; server_name: a, debug: true\nx: y;\n");
    ne_conf_node *r = root();
    assert_int_equal(get_int(r, "port"), 4222);
    assert_string_equal(get_str(r, "server_name"), "a");
    assert_true(get_bool(r, "debug"));
    assert_string_equal(get_str(r, "x"), "y");
    /* An empty bare value before ';' is "" as in nats-server. */
    parse_ok("a: ;\n");
    assert_string_equal(get_str(root(), "a"), "");
}

static void test_comments_CFG08(void **state)
{
    (void)state;
    parse_ok("# top\n// also\nport: 1 # after\nhost: h // after\n"
             "m { # in map\n  a: 1 // x\n}\narr: [ # in array\n 1, // one\n 2 # two\n]\n");
    ne_conf_node *r = root();
    assert_int_equal(get_int(r, "port"), 1);
    assert_string_equal(get_str(r, "host"), "h");
    assert_int_equal(get_int(get(r, "m"), "a"), 1);
    assert_int_equal(ne_conf_count(get(r, "arr")), 2);
    /* '#' inside a bare value is part of it (nats-server: "abc#def"). */
    parse_ok("password: abc#def\nx: #y\n");
    assert_string_equal(get_str(root(), "password"), "abc#def");
    assert_string_equal(get_str(root(), "x"), "#y");
    parse_ok("# only a comment");
    assert_int_equal(ne_conf_count(root()), 0);
    parse_ok("");
    assert_int_equal(ne_conf_count(root()), 0);
}

static void test_maps_and_arrays_CFG09(void **state)
{
    (void)state;
    parse_ok("a { b: { c: [ {d: 1}, [2, 3 ], x\n y\n ] } }\nempty_map {}\nempty_arr = []\n"
             "commas {x: 1, y: 2; z: 3\n w 4}\ntrailing: [1, 2,]\n");
    ne_conf_node *r = root();
    ne_conf_node *c = get(get(get(r, "a"), "b"), "c");
    assert_int_equal(c->type, NE_CONF_ARRAY);
    assert_int_equal(ne_conf_count(c), 4);
    ne_conf_node *item = ne_conf_first(&conf, c);
    assert_int_equal(get_int(item, "d"), 1);
    item = ne_conf_next(&conf, item);
    assert_int_equal(item->type, NE_CONF_ARRAY);
    assert_int_equal(ne_conf_count(item), 2);
    item = ne_conf_next(&conf, item);
    const char *s;
    assert_int_equal(ne_conf_as_string(&conf, item, &s, NULL), NE_OK);
    assert_string_equal(s, "x");
    item = ne_conf_next(&conf, item);
    assert_int_equal(ne_conf_as_string(&conf, item, &s, NULL), NE_OK);
    assert_string_equal(s, "y");
    assert_null(ne_conf_next(&conf, item));
    assert_int_equal(ne_conf_count(get(r, "empty_map")), 0);
    assert_int_equal(get(r, "empty_map")->type, NE_CONF_MAP);
    assert_int_equal(ne_conf_count(get(r, "empty_arr")), 0);
    ne_conf_node *m = get(r, "commas");
    assert_int_equal(get_int(m, "x") + get_int(m, "y") + get_int(m, "z") + get_int(m, "w"), 10);
    assert_int_equal(ne_conf_count(get(r, "trailing")), 2);
}

static void test_top_level_braces_and_quoted_keys_CFG09(void **state)
{
    (void)state;
    parse_ok("{\n  \"port\": 4222,\n  \"a b\": {\"c\": [1, 2]},\n  'd': \"e\"\n}\n");
    ne_conf_node *r = root();
    assert_int_equal(get_int(r, "port"), 4222);
    assert_int_equal(ne_conf_count(get(get(r, "a b"), "c")), 2);
    assert_string_equal(get_str(r, "d"), "e");
    /* nats-server places a quoted key at its first character. */
    assert_pos(get(r, "port"), 2, 4);
    parse_ok("{ a: 1 } b: 2\n");
    assert_int_equal(get_int(root(), "b"), 2);
    parse_fails("{\na: 1\n}\nb: 2\n", NE_ERR_PARSE,
                "t.conf:4:1: expected the end of the file after the closing '}', found 'b'");
}

static void test_strings_CFG10(void **state)
{
    (void)state;
    parse_ok("dq: \"tab\\there\\nnl\\r\\\"q\\\" back\\\\ \\x41\\x7a\"\n"
             "sq: 'raw \\n $X #no'\n"
             "bare: nats://user:pw@host:4222/x?y=1\n"
             "bare_esc: a\\tb\n"
             "multi: \"line1\nline2\"\n"
             "utf8: é\n"
             "nul: \"a\\x00b\"\n");
    ne_conf_node *r = root();
    assert_string_equal(get_str(r, "dq"), "tab\there\nnl\r\"q\" back\\ Az");
    assert_string_equal(get_str(r, "sq"), "raw \\n $X #no");
    assert_string_equal(get_str(r, "bare"), "nats://user:pw@host:4222/x?y=1");
    assert_string_equal(get_str(r, "bare_esc"), "a\tb");
    assert_string_equal(get_str(r, "multi"), "line1\nline2");
    assert_string_equal(get_str(r, "utf8"), "é");
    const char *s;
    size_t len;
    assert_int_equal(ne_conf_get_string(&conf, r, "nul", &s, &len), NE_OK);
    assert_int_equal(len, 3);
    assert_memory_equal(s, "a\0b", 3);
}

static void test_block_string_CFG10(void **state)
{
    (void)state;
    /* Values as nats-server 2.9.10 keeps them: the new line before ')' stays. */
    parse_ok("cert: (\n-----BEGIN-----\n  x) y\n-----END-----\n)\nafter: 1\n");
    ne_conf_node *r = root();
    assert_string_equal(get_str(r, "cert"), "\n-----BEGIN-----\n  x) y\n-----END-----\n");
    assert_int_equal(get_int(r, "after"), 1);
    parse_ok("m { p: (\nline1\n)\n}\n");
    assert_string_equal(get_str(get(root(), "m"), "p"), "\nline1\n");
    parse_fails("a: (x)\n", NE_ERR_PARSE,
                "t.conf:1:4: expected ')' alone on a line to end the block started here");
}

static void test_integers_and_size_suffixes_CFG11(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t value;
    } cases[] = {
        {"0", 0},
        {"007", 7},
        {"-42", -42},
        {"9223372036854775807", INT64_MAX},
        {"-9223372036854775808", INT64_MIN},
        {"1k", 1000},
        {"1K", 1000},
        {"2kb", 2048},
        {"2KB", 2048},
        {"2ki", 2048},
        {"2KiB", 2048},
        {"3m", 3000000},
        {"3mb", 3 * 1048576},
        {"3MiB", 3 * 1048576},
        {"64MB", 64 * 1048576},
        {"1g", 1000000000},
        {"1gib", 1073741824},
        {"1t", 1000000000000},
        {"1tb", 1099511627776},
        {"1p", 1000000000000000},
        {"1pib", 1125899906842624},
        {"1e", 1000000000000000000},
        {"7eb", 7 * 1152921504606846976},
        {"-1k", -1000},
        {"-8eb", INT64_MIN},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[64];
        snprintf(text, sizeof(text), "v: %s\n", cases[i].text);
        parse_ok(text);
        ne_conf_node *v = get(root(), "v");
        if (v->type != NE_CONF_INT || v->v.i != cases[i].value) {
            print_error("%s\n", cases[i].text);
        }
        assert_int_equal(v->type, NE_CONF_INT);
        assert_true(v->v.i == cases[i].value);
    }
    parse_fails("v: 9223372036854775808\n", NE_ERR_RANGE,
                "t.conf:1:4: integer 9223372036854775808 is out of range");
    parse_fails("v: 8eb\n", NE_ERR_RANGE, "integer 8eb is out of range");
    parse_fails("v: 9223372036854775807k\n", NE_ERR_RANGE, "out of range");
    parse_fails("v: 1kbib\n", NE_ERR_PARSE, "expected a size suffix");
    parse_fails("v: 1k2\n", NE_ERR_PARSE, "found '2'");
}

static void test_floats_bools_datetimes_CFG11(void **state)
{
    (void)state;
    parse_ok("f: 1.5\ng: -0.25\nh: 100.125\ni: 0.000001\n"
             "t1: true\nt2: YES\nt3: On\nf1: false\nf2: no\nf3: OFF\nnot_bool: \"true\"\n"
             "when: 2024-02-29T23:59:58Z\n");
    ne_conf_node *r = root();
    double d;
    assert_int_equal(ne_conf_get_float(&conf, r, "f", &d), NE_OK);
    assert_true(d == 1.5);
    assert_int_equal(ne_conf_get_float(&conf, r, "g", &d), NE_OK);
    assert_true(d == -0.25);
    assert_int_equal(ne_conf_get_float(&conf, r, "h", &d), NE_OK);
    assert_true(d == 100.125);
    assert_int_equal(ne_conf_get_float(&conf, r, "i", &d), NE_OK);
    assert_true(d == 0.000001);
    assert_true(get_bool(r, "t1") && get_bool(r, "t2") && get_bool(r, "t3"));
    assert_false(get_bool(r, "f1") || get_bool(r, "f2") || get_bool(r, "f3"));
    assert_string_equal(get_str(r, "not_bool"), "true");
    ne_conf_node *when = get(r, "when");
    assert_int_equal(when->type, NE_CONF_DATETIME);
    assert_string_equal(&conf.arena[when->v.s.off], "2024-02-29T23:59:58Z");
    /* An integer reads as a float too. */
    parse_ok("timeout: 2\n");
    assert_int_equal(ne_conf_get_float(&conf, root(), "timeout", &d), NE_OK);
    assert_true(d == 2.0);
    parse_fails("a: 1.\n", NE_ERR_PARSE,
                "t.conf:1:6: expected a digit after '.', found a new line");
    parse_fails("a: .5\n", NE_ERR_PARSE, "a float must start with a digit");
    parse_fails("a: 1.5s\n", NE_ERR_PARSE, "found 's'");
    parse_fails("a: 2023-02-29T00:00:00Z\n", NE_ERR_RANGE, "not a valid date and time");
    parse_fails("a: 2023-01-02\n", NE_ERR_PARSE,
                "expected 'T' in a datetime of the form 2006-01-02T15:04:05Z, found a new line");
    parse_fails("a: 12-3\n", NE_ERR_PARSE, "expected a datetime");
}

static void test_numbers_that_are_strings_CFG11(void **state)
{
    (void)state;
    /* As nats-server 2.9.10: a positive number running into other
     * characters is a bare string; dotted quads are strings. */
    parse_ok("a: 2s\nb: 1h30m\nc: 10ms\nd: 0x10\ne: 12abc\nf: 127.0.0.1:4222\n"
             "g: 1.2.3\nh: 1kx\ni: 1\\x41\nj: 1'x\n");
    ne_conf_node *r = root();
    assert_string_equal(get_str(r, "a"), "2s");
    assert_string_equal(get_str(r, "b"), "1h30m");
    assert_string_equal(get_str(r, "c"), "10ms");
    assert_string_equal(get_str(r, "d"), "0x10");
    assert_string_equal(get_str(r, "e"), "12abc");
    assert_string_equal(get_str(r, "f"), "127.0.0.1:4222");
    assert_string_equal(get_str(r, "g"), "1.2.3");
    assert_string_equal(get_str(r, "h"), "1kx");
    assert_string_equal(get_str(r, "i"), "1\\x41");
    assert_string_equal(get_str(r, "j"), "1'x");
    /* ']' ends a number here (nats-server 2.9.10 rejects [1, 2]). */
    parse_ok("a: [1, 2]\nb: [1k, 2k]\n");
    ne_conf_node *b = get(root(), "b");
    int64_t v;
    assert_int_equal(ne_conf_as_int(&conf, ne_conf_first(&conf, b), &v), NE_OK);
    assert_int_equal(v, 1000);
    assert_int_equal(ne_conf_as_int(&conf, ne_conf_next(&conf, ne_conf_first(&conf, b)), &v),
                     NE_OK);
    assert_int_equal(v, 2000);
}

static void test_durations(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t ns;
    } ok[] = {
        {"0", 0},
        {"-0", 0},
        {"2s", 2000000000},
        {"1m", 60000000000},
        {"1h30m", 5400000000000},
        {"1.5s", 1500000000},
        {".5s", 500000000},
        {"1.s", 1000000000},
        {"300ms", 300000000},
        {"10us", 10000},
        {"10\xc2\xb5s", 10000},
        {"10\xce\xbcs", 10000},
        {"7ns", 7},
        {"-1.5h", -5400000000000},
        {"+3s", 3000000000},
        {"1h1m1s1ms1us1ns", 3661001001001},
        {"2562047h47m16.854775807s", INT64_MAX},
        {"-2562047h47m16.854775808s", INT64_MIN},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        int64_t ns = -1;
        int rc = ne_conf_parse_duration(ok[i].text, strlen(ok[i].text), &ns);
        if (rc != NE_OK || ns != ok[i].ns) {
            print_error("%s -> %d %lld\n", ok[i].text, rc, (long long)ns);
        }
        assert_int_equal(rc, NE_OK);
        assert_true(ns == ok[i].ns);
    }
    static const char *bad[] = {"", "-", "s", "1", "1x", "1.5", ".s", "1s2", "1 s", "2d"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t ns;
        assert_int_equal(ne_conf_parse_duration(bad[i], strlen(bad[i]), &ns), NE_ERR_PARSE);
    }
    int64_t ns;
    assert_int_equal(ne_conf_parse_duration("2562048h", 8, &ns), NE_ERR_RANGE);

    /* ping_interval and write_deadline: strings, or a plain number of seconds
     * (nats-server accepts it with a warning). */
    parse_ok("ping_interval: \"2m\"\nwrite_deadline: 10s\nold: 5\nsub: 1500us\nneg: \"-2s\"\n");
    ne_conf_node *r = root();
    int64_t ms;
    assert_int_equal(ne_conf_get_duration_ms(&conf, r, "ping_interval", &ms), NE_OK);
    assert_int_equal(ms, 120000);
    assert_int_equal(ne_conf_get_duration_ms(&conf, r, "write_deadline", &ms), NE_OK);
    assert_int_equal(ms, 10000);
    assert_int_equal(ne_conf_get_duration_ms(&conf, r, "old", &ms), NE_OK);
    assert_int_equal(ms, 5000);
    assert_int_equal(ne_conf_get_duration_ms(&conf, r, "sub", &ms), NE_OK);
    assert_int_equal(ms, 1);
    assert_int_equal(ne_conf_get_duration_ms(&conf, r, "neg", &ms), NE_OK);
    assert_int_equal(ms, -2000);
    assert_int_equal(ne_conf_get_duration_ms(&conf, r, "absent", &ms), NE_ERR_NOT_FOUND);

    parse_ok("port: 1\nping_interval: \"5x\"\nd: 1.5\n");
    assert_int_equal(ne_conf_get_duration_ms(&conf, root(), "ping_interval", &ms), NE_ERR_INVALID);
    assert_non_null(
        strstr(ne_conf_error(&conf), "t.conf:2:1: \"ping_interval\" must be a duration"));
    assert_int_equal(ne_conf_get_duration_ms(&conf, root(), "d", &ms), NE_ERR_INVALID);
    assert_non_null(strstr(ne_conf_error(&conf), "t.conf:3:1: \"d\" must be a duration"));
}

static void test_sizes_as_jetstream_reads_them(void **state)
{
    (void)state;
    parse_ok("a: 8MB\nb: \"64M\"\nc: \"1G\"\nd: \"2T\"\ne: \"\"\nf: 123\ng: \"64MB\"\nh: \"1k\"\n"
             "i: true\n");
    ne_conf_node *r = root();
    int64_t v;
    assert_int_equal(ne_conf_get_size(&conf, r, "a", &v), NE_OK);
    assert_int_equal(v, 8 * 1048576);
    assert_int_equal(ne_conf_get_size(&conf, r, "b", &v), NE_OK);
    assert_int_equal(v, 64 * 1048576);
    assert_int_equal(ne_conf_get_size(&conf, r, "c", &v), NE_OK);
    assert_int_equal(v, 1073741824);
    assert_int_equal(ne_conf_get_size(&conf, r, "d", &v), NE_OK);
    assert_int_equal(v, 2 * 1099511627776);
    assert_int_equal(ne_conf_get_size(&conf, r, "e", &v), NE_OK);
    assert_int_equal(v, 0);
    assert_int_equal(ne_conf_get_size(&conf, r, "f", &v), NE_OK);
    assert_int_equal(v, 123);
    /* nats-server's getStorageSize takes one upper-case letter only. */
    assert_int_equal(ne_conf_get_size(&conf, r, "g", &v), NE_ERR_INVALID);
    assert_non_null(strstr(ne_conf_error(&conf), "t.conf:7:1: \"g\" must be a size"));
    assert_int_equal(ne_conf_get_size(&conf, r, "h", &v), NE_ERR_INVALID);
    assert_int_equal(ne_conf_get_size(&conf, r, "i", &v), NE_ERR_INVALID);
}

/* ---- Variables ----------------------------------------------------------------- */

static void test_variables_from_enclosing_maps_CFG12(void **state)
{
    (void)state;
    parse_ok("port_var = 4333\n"
             "port: $port_var\n"
             "outer: \"o\"\n"
             "m {\n"
             "  inner: 5\n"
             "  uses_inner: $inner\n"
             "  uses_outer: $outer\n"
             "  arr: [ $inner, { deep: $inner } ]\n"
             "}\n"
             "shared { x: 1 }\n"
             "copy: $shared\n");
    ne_conf_node *r = root();
    assert_int_equal(get_int(r, "port"), 4333);
    ne_conf_node *m = get(r, "m");
    assert_int_equal(get_int(m, "uses_inner"), 5);
    assert_string_equal(get_str(m, "uses_outer"), "o");
    ne_conf_node *arr = get(m, "arr");
    int64_t v;
    assert_int_equal(ne_conf_as_int(&conf, ne_conf_first(&conf, arr), &v), NE_OK);
    assert_int_equal(v, 5);
    assert_int_equal(get_int(ne_conf_next(&conf, ne_conf_first(&conf, arr)), "deep"), 5);
    ne_conf_node *copy = get(r, "copy");
    assert_int_equal(copy->type, NE_CONF_MAP);
    assert_int_equal(get_int(copy, "x"), 1);
    /* The copy keeps the position of its own key. */
    assert_pos(copy, 11, 1);

    /* Keys of other maps, later keys, and the map being defined are not in
     * scope (nats-server: "can not be found"). */
    parse_fails("m { x: 1 }\na: $x\n", NE_ERR_NOT_FOUND,
                "t.conf:2:4: variable $x is not defined: no earlier key \"x\" in an enclosing map "
                "and no environment variable x");
    parse_fails("a: $b\nb: 1\n", NE_ERR_NOT_FOUND, "variable $b is not defined");
    parse_fails("a { a: $a }\n", NE_ERR_NOT_FOUND, "variable $a is not defined");
    parse_fails("a: $\n", NE_ERR_NOT_FOUND, "variable $ is not defined");
    /* An earlier definition of the same key is in scope. */
    parse_ok("a: 1\na { b: $a }\nx: 1\nx: $x\n");
    assert_int_equal(get_int(get(root(), "a"), "b"), 1);
    assert_int_equal(get_int(root(), "x"), 1);
    /* Variables are case-sensitive (a Go map lookup). */
    parse_fails("Port: 1\np: $port\n", NE_ERR_NOT_FOUND, "variable $port is not defined");
}

static void test_variables_from_environment_CFG12(void **state)
{
    (void)state;
    static const pair env[] = {
        {"PORT", "4555"},   {"NAME", "edge"},     {"MAP", "{a: 1, b: $NAME}"},
        {"ARR", "[1, x ]"}, {"EMPTY", ""},        {"TWO", "hello world"},
        {"REF", "$PORT"},   {"LOOP", "$LOOP"},    {"BAD", "\"x"},
        {"shadow", "env"},  {"SIZE", "64MB # c"}, {NULL, NULL},
    };
    mem_env = env;
    parse_ok("port: $PORT\nname: $NAME\nm: $MAP\narr: $ARR\ne: $EMPTY\nref: $REF\nsize: $SIZE\n"
             "shadow: file\ns: $shadow\n");
    ne_conf_node *r = root();
    /* An environment value is parsed as a value: 4555 is an integer. */
    assert_int_equal(get_int(r, "port"), 4555);
    assert_string_equal(get_str(r, "name"), "edge");
    ne_conf_node *m = get(r, "m");
    assert_int_equal(get_int(m, "a"), 1);
    assert_string_equal(get_str(m, "b"), "edge");
    assert_pos(get(m, "a"), 3, 4); /* values from the environment sit at their $NAME */
    assert_int_equal(ne_conf_count(get(r, "arr")), 2);
    assert_string_equal(get_str(r, "e"), "");
    assert_int_equal(get_int(r, "ref"), 4555);
    assert_int_equal(get_int(r, "size"), 64 * 1048576);
    assert_string_equal(get_str(r, "s"), "file"); /* keys come before the environment */

    parse_fails("a: $TWO\n", NE_ERR_PARSE,
                "t.conf:1:4: in the value of environment variable TWO: expected the end of the "
                "value, found 'w'");
    parse_fails("a: $BAD\n", NE_ERR_PARSE, "in the value of environment variable BAD");
    parse_fails("a: $LOOP\n", NE_ERR_TOO_BIG, "NE_CONF_MAX_ENV_DEPTH");
    parse_fails("a: $UNSET\n", NE_ERR_NOT_FOUND, "variable $UNSET is not defined");
    /* Without a getenv callback only keys resolve. */
    assert_int_equal(ne_conf_parse_text(&conf, "t.conf", "a: $PORT\n", 9, NULL), NE_ERR_NOT_FOUND);
}

static void test_no_interpolation_and_bcrypt_CFG12(void **state)
{
    (void)state;
    static const pair env[] = {{"PORT", "4222"}, {NULL, NULL}};
    mem_env = env;
    parse_ok("a: \"127.0.0.1:$PORT\"\nb: x$PORT\n"
             "p1: $2a$11$W2zko751KUvVy59mUTWmpOdWXeAzB1eJG2eYVV.6Jz6Wr8KStW6o2\n"
             "p2: $2b$10$abc\np3: [$2a$x]\n");
    ne_conf_node *r = root();
    assert_string_equal(get_str(r, "a"), "127.0.0.1:$PORT");
    assert_string_equal(get_str(r, "b"), "x$PORT");
    assert_string_equal(get_str(r, "p1"),
                        "$2a$11$W2zko751KUvVy59mUTWmpOdWXeAzB1eJG2eYVV.6Jz6Wr8KStW6o2");
    assert_string_equal(get_str(r, "p2"), "$2b$10$abc");
    /* Bare 127.0.0.1:$PORT is an error, as in nats-server; ${X} is no syntax. */
    parse_fails("listen: 127.0.0.1:$PORT\n", NE_ERR_PARSE, "found '$'");
    parse_fails("port: ${PORT}\n", NE_ERR_NOT_FOUND, "variable ${PORT is not defined");
}

/* ---- Unknown fields ------------------------------------------------------------- */

static void test_unused_keys_like_nats_server_CFG14(void **state)
{
    (void)state;
    /* nats-server 2.9.10 -t on this input reports `unknown field "w"` at
     * 3:1 and nothing for v, which is referenced as a variable. */
    parse_ok("port: 1\nv: 5\nw: 6\nmax_payload: $v\njetstream {\n  store_dir: /x\n    foo: 1 }\n");
    ne_conf_node *r = root();
    (void)get(r, "port");
    (void)get(r, "max_payload");
    ne_conf_node *js = get(r, "jetstream");
    (void)get(js, "store_dir");
    ne_conf_node *u = ne_conf_first_unused(&conf, r);
    assert_non_null(u);
    assert_string_equal(ne_conf_key(&conf, u), "w");
    assert_int_equal(ne_conf_unknown_field(&conf, u), NE_ERR_INVALID);
    assert_string_equal(ne_conf_error(&conf), "t.conf:3:1: unknown field \"w\"");
    assert_null(ne_conf_next_unused(&conf, r, u));
    /* nats-server: t.conf:7:5: unknown field "foo". */
    u = ne_conf_first_unused(&conf, js);
    assert_non_null(u);
    assert_int_equal(ne_conf_unknown_field(&conf, u), NE_ERR_INVALID);
    assert_string_equal(ne_conf_error(&conf), "t.conf:7:5: unknown field \"foo\"");

    /* A key redefined after being referenced: the new one is unknown
     * (nats-server reports x). */
    parse_ok("x: 1\nx: $x\n");
    u = ne_conf_first_unused(&conf, root());
    assert_non_null(u);
    assert_pos(u, 2, 1);
    /* A variable defined and never referenced is reported; indented keys
     * keep their column (nats-server: 3:4, 1:12). */
    parse_ok("port: 1\n\n   yy = 2\n");
    (void)get(root(), "port");
    assert_pos(ne_conf_first_unused(&conf, root()), 3, 4);
    parse_ok("port: 4222; zz: 3\n");
    (void)get(root(), "port");
    assert_pos(ne_conf_first_unused(&conf, root()), 1, 13);
}

static void test_find_ignores_case_and_duplicates_replace(void **state)
{
    (void)state;
    parse_ok("PORT: 1\nServer_Name: x\na: 1\na: 2\nm {x: 1}\nm {y: 2}\nP: 1\np: 2\n");
    ne_conf_node *r = root();
    assert_int_equal(get_int(r, "port"), 1);
    assert_string_equal(get_str(r, "server_name"), "x");
    assert_int_equal(get_int(r, "a"), 2);
    ne_conf_node *m = get(r, "m");
    assert_null(ne_conf_find(&conf, m, "x"));
    assert_int_equal(get_int(m, "y"), 2);
    /* P and p are two keys (as in a Go map); find returns the last and marks
     * both read, so neither is an unknown field. */
    assert_int_equal(get_int(r, "p"), 2);
    assert_null(ne_conf_first_unused(&conf, r));
    /* Replaced entries are skipped when iterating. */
    size_t n = 0;
    for (ne_conf_node *e = ne_conf_first(&conf, r); e != NULL; e = ne_conf_next(&conf, e)) {
        n++;
    }
    assert_int_equal(n, 6);
    assert_int_equal(ne_conf_count(r), 6);
    assert_null(ne_conf_find(&conf, get(r, "a"), "x")); /* not a map */
}

static void test_type_errors_name_the_position(void **state)
{
    (void)state;
    /* nats-server reports these at 2:1 and 2:3 (interface conversion). */
    parse_ok("port: 1\ndebug: \"yes\"\n  server_name: 5\nlist: [1, x]\n");
    ne_conf_node *r = root();
    bool b;
    assert_int_equal(ne_conf_get_bool(&conf, r, "debug", &b), NE_ERR_INVALID);
    assert_string_equal(ne_conf_error(&conf),
                        "t.conf:2:1: \"debug\" must be a boolean, not a string");
    const char *s;
    assert_int_equal(ne_conf_get_string(&conf, r, "server_name", &s, NULL), NE_ERR_INVALID);
    assert_string_equal(ne_conf_error(&conf),
                        "t.conf:3:3: \"server_name\" must be a string, not an integer");
    ne_conf_node *list = get(r, "list");
    int64_t v;
    assert_int_equal(ne_conf_as_int(&conf, ne_conf_next(&conf, ne_conf_first(&conf, list)), &v),
                     NE_ERR_INVALID);
    assert_string_equal(ne_conf_error(&conf),
                        "t.conf:4:11: value must be an integer, not a string");
    assert_int_equal(ne_conf_expect(&conf, list, NE_CONF_MAP), NE_ERR_INVALID);
    assert_string_equal(ne_conf_error(&conf), "t.conf:4:1: \"list\" must be a map, not an array");
    assert_int_equal(ne_conf_expect(&conf, list, NE_CONF_ARRAY), NE_OK);
    char pos[32];
    ne_conf_position(&conf, list, pos, sizeof(pos));
    assert_string_equal(pos, "t.conf:4:1");
}

/* ---- Includes -------------------------------------------------------------------- */

static char fixture_dir[256];

/* Reads fixture files from disk (tests/unit/conf/, found next to this file). */
static int disk_load(void *ctx, const char *path, char *buf, size_t cap, size_t *len)
{
    (void)ctx;
    load_calls++;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NE_ERR_NOT_FOUND;
    }
    size_t n = fread(buf, 1, cap, f);
    int more = fgetc(f);
    fclose(f);
    if (more != EOF) {
        return NE_ERR_TOO_BIG;
    }
    *len = n;
    return NE_OK;
}

static const ne_conf_io disk_io = {disk_load, mem_getenv, NULL};

static int parse_fixture(const char *name)
{
    if (fixture_dir[0] == '\0') {
        const char *file = __FILE__;
        const char *slash = strrchr(file, '/');
        size_t dir_len = slash == NULL ? 0 : (size_t)(slash - file) + 1;
        snprintf(fixture_dir, sizeof(fixture_dir), "%.*sconf/", (int)dir_len, file);
    }
    char path[512];
    snprintf(path, sizeof(path), "%s%s", fixture_dir, name);
    return ne_conf_parse_file(&conf, path, &disk_io);
}

static void test_include_relative_to_including_file_CFG13(void **state)
{
    (void)state;
    int rc = parse_fixture("main.conf");
    if (rc != NE_OK) {
        print_error("%s\n", ne_conf_error(&conf));
    }
    assert_int_equal(rc, NE_OK);
    ne_conf_node *r = root();
    assert_int_equal(get_int(r, "port"), 4222);
    /* sub/child.conf, and ../leaf.conf relative to it. */
    assert_string_equal(get_str(r, "child_key"), "from child");
    assert_true(get_bool(r, "leaf"));
    /* Keys merged by an include are variables for what follows. */
    assert_string_equal(get_str(r, "after"), "from child");
    ne_conf_node *nested = get(r, "nested");
    assert_int_equal(get_int(nested, "inner"), 7);
    assert_int_equal(get_int(nested, "local"), 7);
    assert_int_equal(load_calls, 4);
    /* An unknown key names the included file it came from. */
    ne_conf_node *u = ne_conf_first_unused(&conf, nested);
    assert_non_null(u);
    assert_int_equal(ne_conf_unknown_field(&conf, u), NE_ERR_INVALID);
    assert_non_null(
        strstr(ne_conf_error(&conf), "conf/sub/nested.conf:2:1: unknown field \"unused_inner\""));
}

static void test_include_sees_only_the_environment_CFG13(void **state)
{
    (void)state;
    assert_int_equal(parse_fixture("parent_var.conf"), NE_ERR_NOT_FOUND);
    assert_non_null(strstr(ne_conf_error(&conf),
                           "conf/sub/uses_parent.conf:2:8: variable $secret is not defined"));
    static const pair env[] = {{"secret", "from-env"}, {NULL, NULL}};
    mem_env = env;
    assert_int_equal(parse_fixture("parent_var.conf"), NE_OK);
    assert_string_equal(get_str(root(), "value"), "from-env");
    assert_int_equal(get_int(root(), "secret"), 1);
}

static void test_include_errors_CFG13(void **state)
{
    (void)state;
    assert_int_equal(parse_fixture("includes_bad.conf"), NE_ERR_PARSE);
    assert_non_null(strstr(ne_conf_error(&conf),
                           "conf/sub/bad.conf:4:1: expected a value or ']' to close the array "
                           "opened at 3:7, found end of file"));
    assert_int_equal(parse_fixture("cycle.conf"), NE_ERR_TOO_BIG);
    assert_non_null(strstr(ne_conf_error(&conf), "NE_CONF_MAX_INCLUDE_DEPTH"));
    assert_int_equal(parse_fixture("no_such.conf"), NE_ERR_NOT_FOUND);
    assert_non_null(strstr(ne_conf_error(&conf), "no_such.conf: cannot open"));

    static const pair files[] = {{"dir/a.conf", "x: 1\n"},
                                 {"a.conf", "x: 1\n"},
                                 {"/abs/b.conf", "y: 2\n"},
                                 {"dir/x y.conf", "z: 3\n"},
                                 {NULL, NULL}};
    mem_files = files;
    static const char text[] = "include a.conf; include /abs/b.conf\n"
                               "include 'x y.conf'\nm { include a.conf }\n";
    assert_int_equal(ne_conf_parse_text(&conf, "dir/main.conf", text, strlen(text), &mem_io),
                     NE_OK);
    assert_int_equal(get_int(root(), "x"), 1);
    assert_int_equal(get_int(root(), "y"), 2); /* absolute: as written */
    assert_int_equal(get_int(root(), "z"), 3);
    assert_int_equal(get_int(get(root(), "m"), "x"), 1);
    /* `include:` with a separator is an ordinary key. */
    parse_ok("include: a.conf\n");
    assert_string_equal(get_str(root(), "include"), "a.conf");
    parse_fails("include\n", NE_ERR_PARSE,
                "t.conf:1:8: expected a file name after include, found a new line");
    parse_fails("include [x]\n", NE_ERR_PARSE, "expected a file name after include, found '['");
    parse_fails("include missing.conf\n", NE_ERR_NOT_FOUND,
                "t.conf:1:21: cannot open \"missing.conf\": no such file");
    parse_fails("include a.conf x\n", NE_ERR_PARSE,
                "expected a new line, ';' or ',' after the value of \"include\", found 'x'");
    assert_int_equal(ne_conf_parse_text(&conf, "t.conf", "include a.conf\n", 15, NULL),
                     NE_ERR_UNSUPPORTED);
}

/* ---- Errors and positions ---------------------------------------------------------- */

static void test_syntax_errors_name_position_and_expectation(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *message;
    } cases[] = {
        {"a: hello world\n", "t.conf:1:10: expected a new line, ';' or ',' after the value of "
                             "\"a\", found 'w'"},
        {"a:\n", "t.conf:1:3: expected a value for \"a\" on the same line, found a new line"},
        {"port\n", "t.conf:1:1: expected a value for \"port\", found end of file"},
        {"a { b\n", "t.conf:1:5: expected a value for \"b\", found end of file"},
        {"a { b: 1\n", "t.conf:2:1: expected a key or '}' to close the map opened at 1:3, found "
                       "end of file"},
        {"a { b: 1 c\n", "t.conf:1:10: expected ',', ';', a new line or '}' after the value of "
                         "\"b\", found 'c'"},
        {"a { b: }\n", "t.conf:1:8: expected a value for \"b\", found '}'"},
        {"a { ] }\n", "t.conf:1:5: expected a key or '}', found ']'"},
        {"a: [1, 2\n", "t.conf:2:1: expected a value or ']' to close the array opened at 1:4, "
                       "found end of file"},
        {"a: [1 2]\n", "t.conf:1:7: expected ',', a new line or ']' after an item of the array "
                       "opened at 1:4, found '2'"},
        {"a: [,1]\n", "t.conf:1:5: expected a value or ']'"},
        {"= 1\n", "t.conf:1:1: expected a key before '='"},
        {"/ x\n", "t.conf:1:1: expected a key or a comment, found '/'"},
        {"a: \"abc\n", "t.conf:1:4: expected '\"' to end the string started here, found end of "
                       "file"},
        {"a: 'abc\n", "t.conf:1:4: expected \"'\" to end the string started here"},
        {"\"abc: 1\n", "t.conf:1:1: expected \" to end the key started here, found end of file"},
        {"a: \"\\q\"\n", "t.conf:1:6: expected an escape (\\t \\n \\r \\\" \\\\ or \\xHH) after "
                         "'\\', found 'q'"},
        {"a: \"\\x4g\"\n", "t.conf:1:7: expected two hexadecimal digits after \\x, found 'g'"},
        {"a: C:\\path\n", "t.conf:1:7: expected an escape"},
        {"a: -x\n", "t.conf:1:5: expected a digit after '-', found 'x'"},
        {"x: 1\n\n  y: \"2\" z\n", "t.conf:3:10: expected a new line, ';' or ',' after the value "
                                   "of \"y\", found 'z'"},
        {"a: 1\xff x\n", "found 'x'"},
        {"a: \x01\x02 b\n", "found 'b'"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = parse(cases[i].text);
        if (rc == NE_OK || strstr(ne_conf_error(&conf), cases[i].message) == NULL) {
            print_error("input %s\ngot %s\nwanted %s\n", cases[i].text, ne_conf_error(&conf),
                        cases[i].message);
        }
        assert_int_not_equal(rc, NE_OK);
        assert_non_null(strstr(ne_conf_error(&conf), cases[i].message));
    }
}

static void test_minimal_edge_example_parses(void **state)
{
    (void)state;
    int rc = parse_fixture("edge.conf");
    if (rc != NE_OK) {
        print_error("%s\n", ne_conf_error(&conf));
    }
    assert_int_equal(rc, NE_OK);
    ne_conf_node *r = root();
    assert_string_equal(get_str(r, "server_name"), "edge-1");
    assert_string_equal(get_str(r, "listen"), "0.0.0.0:4222");
    assert_string_equal(get_str(r, "http"), "127.0.0.1:8222");
    assert_int_equal(get_int(r, "max_payload"), 65536);
    ne_conf_node *js = get(r, "jetstream");
    assert_string_equal(get_str(js, "store_dir"), "/data/js");
    int64_t v;
    assert_int_equal(ne_conf_get_size(&conf, js, "max_mem", &v), NE_OK);
    assert_int_equal(v, 8 * 1048576);
    assert_int_equal(ne_conf_get_size(&conf, js, "max_file", &v), NE_OK);
    assert_int_equal(v, 256 * 1048576);
    assert_string_equal(get_str(js, "domain"), "edge");
    assert_int_equal(get_int(get(r, "mqtt"), "port"), 1883);
    ne_conf_node *remotes = get(get(r, "leafnodes"), "remotes");
    assert_int_equal(ne_conf_count(remotes), 1);
    ne_conf_node *remote = ne_conf_first(&conf, remotes);
    ne_conf_node *urls = get(remote, "urls");
    const char *s;
    assert_int_equal(ne_conf_as_string(&conf, ne_conf_first(&conf, urls), &s, NULL), NE_OK);
    assert_string_equal(s, "tls://hub.example:7422");
    assert_string_equal(get_str(remote, "credentials"), "/etc/nats/edge.creds");
    assert_string_equal(get_str(remote, "account"), "$G");
    assert_null(ne_conf_first_unused(&conf, r));
    assert_null(ne_conf_first_unused(&conf, js));
    assert_null(ne_conf_first_unused(&conf, remote));
}

/* ---- Bounds ------------------------------------------------------------------------- */

static char big[4 * NE_CONF_MAX_FILE_BYTES];

static void test_node_exhaustion_names_the_knob(void **state)
{
    (void)state;
    size_t len = 0;
    for (int i = 0; i < NE_CONF_MAX_NODES; i++) {
        len += (size_t)snprintf(&big[len], sizeof(big) - len, "k%d:1\n", i % 10);
    }
    assert_true(len <= NE_CONF_MAX_FILE_BYTES);
    assert_int_equal(ne_conf_parse_text(&conf, "t.conf", big, len, &mem_io), NE_ERR_NOMEM);
    assert_non_null(strstr(ne_conf_error(&conf), "more than NE_CONF_MAX_NODES (1024) values"));
    /* One fewer value fits (the root takes one node). */
    len = 0;
    for (int i = 0; i < NE_CONF_MAX_NODES - 1; i++) {
        len += (size_t)snprintf(&big[len], sizeof(big) - len, "k%d:1\n", i % 10);
    }
    assert_int_equal(ne_conf_parse_text(&conf, "t.conf", big, len, &mem_io), NE_OK);
    assert_int_equal(ne_conf_count(root()), 10);
}

static void test_arena_exhaustion_names_the_knob(void **state)
{
    (void)state;
    /* An include of an 8 KiB string needs 8 KiB for its text while it is read
     * and 8 KiB for the string, which stays: two fit in 32 KiB, three do not. */
    static char include_text[8 * 1024 + 16];
    size_t len = (size_t)snprintf(include_text, sizeof(include_text), "s: ");
    memset(&include_text[len], 'x', 8 * 1024);
    len += 8 * 1024;
    include_text[len++] = '\n';
    include_text[len] = '\0';
    static char comments[NE_CONF_MAX_FILE_BYTES + 1];
    memset(comments, '#', NE_CONF_MAX_FILE_BYTES - 20);
    snprintf(&comments[NE_CONF_MAX_FILE_BYTES - 20], 21, "\ninclude c2.conf\n");
    static const pair files[] = {
        {"inc.conf", include_text}, {"c1.conf", comments}, {"c2.conf", comments}, {NULL, NULL}};
    mem_files = files;
    parse_ok("a { include inc.conf }\nb { include inc.conf }\n");
    assert_int_equal(strlen(get_str(get(root(), "b"), "s")), 8 * 1024);
    parse_fails("a { include inc.conf }\nb { include inc.conf }\nc { include inc.conf }\n",
                NE_ERR_NOMEM,
                "the configuration needs more than NE_CONF_ARENA_BYTES "
                "(32768) bytes of text; raise it");
    /* Nested includes hold their texts at once: 16 KiB each do not fit twice. */
    assert_int_equal(ne_conf_parse_file(&conf, "c1.conf", &mem_io), NE_ERR_TOO_BIG);
    assert_non_null(strstr(ne_conf_error(&conf), "\"c2.conf\" does not fit in the "));
    assert_non_null(
        strstr(ne_conf_error(&conf), "bytes left of NE_CONF_ARENA_BYTES (32768); raise it"));
    /* Strings from the environment exhaust it too. */
    static const pair env[] = {{"BIG", include_text + 3}, {NULL, NULL}};
    mem_env = env;
    parse_fails("a: $BIG\nb: $BIG\nc: $BIG\nd: $BIG\n", NE_ERR_NOMEM,
                "more than NE_CONF_ARENA_BYTES (32768) bytes of text; raise it");
}

static void test_file_too_large_names_the_knob(void **state)
{
    (void)state;
    memset(big, '#', NE_CONF_MAX_FILE_BYTES + 1);
    big[NE_CONF_MAX_FILE_BYTES + 1] = '\0';
    static const pair files[] = {{"big.conf", big}, {NULL, NULL}};
    mem_files = files;
    assert_int_equal(ne_conf_parse_file(&conf, "big.conf", &mem_io), NE_ERR_TOO_BIG);
    assert_string_equal(ne_conf_error(&conf), "big.conf: \"big.conf\" is larger than "
                                              "NE_CONF_MAX_FILE_BYTES (16384 bytes); raise it");
    assert_int_equal(ne_conf_parse_text(&conf, "t.conf", big, NE_CONF_MAX_FILE_BYTES + 1, &mem_io),
                     NE_ERR_TOO_BIG);
    parse_fails("include big.conf\n", NE_ERR_TOO_BIG,
                "t.conf:1:17: \"big.conf\" is larger than NE_CONF_MAX_FILE_BYTES");
    /* Exactly the bound is fine. */
    big[NE_CONF_MAX_FILE_BYTES] = '\0';
    assert_int_equal(ne_conf_parse_file(&conf, "big.conf", &mem_io), NE_OK);
}

/* "a: " then `depth` maps and arrays, alternating, around a 1. */
static void nest(int depth)
{
    size_t len = (size_t)snprintf(big, sizeof(big), "a: ");
    for (int i = 0; i < depth; i++) {
        len += (size_t)snprintf(&big[len], sizeof(big) - len, i % 2 ? "[" : "{k: ");
    }
    big[len++] = '1';
    for (int i = depth - 1; i >= 0; i--) {
        big[len++] = i % 2 ? ']' : '}';
    }
    big[len++] = '\n';
    big[len] = '\0';
}

static void test_deep_nesting_is_bounded(void **state)
{
    (void)state;
    nest(NE_CONF_MAX_DEPTH);
    parse_ok(big);
    /* One level more is refused, named by the knob, at the bracket. */
    nest(NE_CONF_MAX_DEPTH + 1);
    parse_fails(big, NE_ERR_TOO_BIG,
                "t.conf:1:44: maps and arrays are nested deeper than NE_CONF_MAX_DEPTH (16); "
                "raise it");
    /* A variable may not carry a map below the bound either: the tree a
     * reader walks is never deeper than NE_CONF_MAX_DEPTH. */
    nest(NE_CONF_MAX_DEPTH - 1);
    size_t len = strlen(big);
    snprintf(&big[len], sizeof(big) - len, "b: [ $a ]\nc: $a\n");
    parse_ok(big);
    assert_int_equal(get(root(), "a")->height, NE_CONF_MAX_DEPTH - 1);
    assert_int_equal(get(root(), "c")->height, NE_CONF_MAX_DEPTH - 1);
    snprintf(&big[len], sizeof(big) - len, "b: [ [ $a ] ]\n");
    parse_fails(
        big, NE_ERR_TOO_BIG,
        "t.conf:2:8: this variable puts maps and arrays deeper than NE_CONF_MAX_DEPTH (16)");
    memset(big, '[', NE_CONF_MAX_FILE_BYTES);
    memcpy(big, "a: ", 3);
    big[NE_CONF_MAX_FILE_BYTES] = '\0';
    parse_fails(big, NE_ERR_TOO_BIG, "t.conf:1:20: maps and arrays are nested deeper");
}

static void test_root_is_null_until_a_parse_succeeds(void **state)
{
    (void)state;
    parse_fails("a: [\n", NE_ERR_PARSE, "t.conf:2:1:");
    assert_null(ne_conf_root(&conf));
    parse_ok("a: 1\n");
    assert_non_null(ne_conf_root(&conf));
    assert_string_equal(ne_conf_error(&conf), "");
    assert_string_equal(ne_conf_type_name(NE_CONF_DATETIME), "datetime");
    assert_string_equal(ne_conf_key(&conf, root()), "");
    assert_string_equal(ne_conf_file_name(&conf, get(root(), "a")), "t.conf");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_key_value_separators_CFG07, setup),
        cmocka_unit_test_setup(test_optional_value_terminators_CFG07, setup),
        cmocka_unit_test_setup(test_comments_CFG08, setup),
        cmocka_unit_test_setup(test_maps_and_arrays_CFG09, setup),
        cmocka_unit_test_setup(test_top_level_braces_and_quoted_keys_CFG09, setup),
        cmocka_unit_test_setup(test_strings_CFG10, setup),
        cmocka_unit_test_setup(test_block_string_CFG10, setup),
        cmocka_unit_test_setup(test_integers_and_size_suffixes_CFG11, setup),
        cmocka_unit_test_setup(test_floats_bools_datetimes_CFG11, setup),
        cmocka_unit_test_setup(test_numbers_that_are_strings_CFG11, setup),
        cmocka_unit_test_setup(test_durations, setup),
        cmocka_unit_test_setup(test_sizes_as_jetstream_reads_them, setup),
        cmocka_unit_test_setup(test_variables_from_enclosing_maps_CFG12, setup),
        cmocka_unit_test_setup(test_variables_from_environment_CFG12, setup),
        cmocka_unit_test_setup(test_no_interpolation_and_bcrypt_CFG12, setup),
        cmocka_unit_test_setup(test_unused_keys_like_nats_server_CFG14, setup),
        cmocka_unit_test_setup(test_find_ignores_case_and_duplicates_replace, setup),
        cmocka_unit_test_setup(test_type_errors_name_the_position, setup),
        cmocka_unit_test_setup(test_include_relative_to_including_file_CFG13, setup),
        cmocka_unit_test_setup(test_include_sees_only_the_environment_CFG13, setup),
        cmocka_unit_test_setup(test_include_errors_CFG13, setup),
        cmocka_unit_test_setup(test_syntax_errors_name_position_and_expectation, setup),
        cmocka_unit_test_setup(test_minimal_edge_example_parses, setup),
        cmocka_unit_test_setup(test_node_exhaustion_names_the_knob, setup),
        cmocka_unit_test_setup(test_arena_exhaustion_names_the_knob, setup),
        cmocka_unit_test_setup(test_file_too_large_names_the_knob, setup),
        cmocka_unit_test_setup(test_deep_nesting_is_bounded, setup),
        cmocka_unit_test_setup(test_root_is_null_until_a_parse_succeeds, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
