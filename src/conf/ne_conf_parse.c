/* Parser of the nats-server configuration format into an ne_conf tree.
 *
 * The grammar follows nats-server 2.9.10 (conf/lex.go, conf/parse.go), checked
 * input by input with `nats-server -t`; where nats-server silently drops or
 * mangles input (a key with no value, an unknown size suffix, an overflowing
 * size) this parser reports an error instead, and differences.md lists it.
 *
 * Shape: a pushdown machine with no recursion. ne_conf.frames is a stack of
 * open containers (the top level, maps, arrays, and the root of each included
 * file); each frame is in one of four states (expecting a key, a value, the
 * value of an environment variable, or what follows a value). ne_conf.sources
 * is a stack of texts being read: the main file, included files, and values of
 * environment variables, which nats-server parses as configuration text too.
 * Each step of the loop in run() reads at least one byte of the top source or
 * pushes or pops a frame or a source, so the loop is bounded by the bytes read.
 *
 * Memory: the arena holds strings growing up from the bottom, and the texts of
 * the sources being read stacked down from the top; a source's text is
 * released when it has been read, so the arena needs room for the strings plus
 * the texts of one chain of nested includes.
 */
#include "conf/ne_conf.h"

#include <stdarg.h>
#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "core/ne_fmt.h"

/* config/ne_config_conf.h prices a node at 32 bytes. */
_Static_assert(sizeof(ne_conf_node) == 32, "ne_conf_node grew: update NE_CONF_MAX_NODES's cost");

enum { SRC_FILE = 1, SRC_ENV = 2 };
enum { FR_TOP = 1, FR_MAP, FR_ARRAY };
enum { ST_KEY = 1, ST_VALUE, ST_ENV_VALUE, ST_AFTER };

#define END (-1) /* peek() at the end of a source */

/* Every source is at most NE_CONF_MAX_FILE_BYTES; there are at most
 * NE_CONF_MAX_FILES files and one environment value per node. A step reads a
 * byte or pushes or pops, so this bounds the steps of one parse. */
#define STEP_LIMIT                                                                                 \
    (((uint64_t)NE_CONF_MAX_FILES + NE_CONF_MAX_NODES + 1) * ((uint64_t)NE_CONF_MAX_FILE_BYTES + 8))

/* ---- Sources ------------------------------------------------------------- */

static ne_conf_source *top_source(ne_conf *c)
{
    NE_ASSERT(c->source_count > 0);
    return &c->sources[c->source_count - 1];
}

static ne_conf_frame *top_frame(ne_conf *c)
{
    NE_ASSERT(c->frame_count > 0);
    return &c->frames[c->frame_count - 1];
}

static int peek(const ne_conf_source *s)
{
    return s->pos < s->len ? (unsigned char)s->text[s->pos] : END;
}

static int peek_at(const ne_conf_source *s, uint32_t ahead)
{
    return s->pos + ahead < s->len ? (unsigned char)s->text[s->pos + ahead] : END;
}

static void advance(ne_conf_source *s)
{
    NE_ASSERT(s->pos < s->len);
    if (s->text[s->pos] == '\n') {
        s->line++;
        s->line_start = s->pos + 1;
    }
    s->pos++;
}

static uint32_t column(const ne_conf_source *s)
{
    return s->pos - s->line_start + 1;
}

static bool is_blank(int ch)
{
    return ch == ' ' || ch == '\t';
}

static bool is_newline(int ch)
{
    return ch == '\n' || ch == '\r';
}

/* ASCII white space, what Go's unicode.IsSpace accepts below 0x80. */
static bool is_space(int ch)
{
    return is_blank(ch) || is_newline(ch) || ch == '\v' || ch == '\f';
}

static bool is_digit(int ch)
{
    return ch >= '0' && ch <= '9';
}

static int lower(int ch)
{
    return (ch >= 'A' && ch <= 'Z') ? ch + ('a' - 'A') : ch;
}

static void skip_blank(ne_conf_source *s)
{
    while (is_blank(peek(s))) {
        advance(s);
    }
}

static void skip_space(ne_conf_source *s)
{
    while (is_space(peek(s))) {
        advance(s);
    }
}

static bool at_comment(const ne_conf_source *s)
{
    int ch = peek(s);
    return ch == '#' || (ch == '/' && peek_at(s, 1) == '/');
}

/* Skips a comment up to, not including, its new line. */
static void skip_comment(ne_conf_source *s)
{
    while (peek(s) != END && !is_newline(peek(s))) {
        advance(s);
    }
}

static void skip_space_and_comments(ne_conf_source *s)
{
    /* Each round consumes at least one byte or stops. */
    for (;;) {
        skip_space(s);
        if (!at_comment(s)) {
            return;
        }
        skip_comment(s);
    }
}

/* ---- Errors -------------------------------------------------------------- */

/* Names a byte for a message the way a reader sees it. */
static const char *describe(int ch, char *buf, size_t cap)
{
    if (ch == END) {
        return "end of file";
    }
    if (ch == '\n' || ch == '\r') {
        return "a new line";
    }
    if (ch == ' ') {
        return "a space";
    }
    if (ch == '\t') {
        return "a tab";
    }
    if (ch > 0x20 && ch < 0x7f) {
        ne_fmt(buf, cap, "'%c'", ch);
    } else {
        ne_fmt(buf, cap, "byte 0x%02x", (unsigned)ch);
    }
    return buf;
}

static const char *file_name(const ne_conf *c, uint8_t file)
{
    return file < c->file_count ? &c->arena[c->file_names[file]] : "?";
}

/* Records the first error of a parse: "file:line:col: message". Inside the
 * value of an environment variable the position is that of the $NAME that
 * brought it in. line 0 means no position is known (the main file could not
 * be read). Returns rc so callers can `return fail(...)`. */
static int report(ne_conf *c, int rc, uint32_t line, uint32_t col, const char *fmt, va_list ap)
{
    NE_ASSERT(rc < 0);
    if (c->status != NE_OK) {
        return c->status;
    }
    c->status = rc;
    ne_strbuf sb;
    ne_strbuf_init(&sb, c->error, sizeof(c->error));
    uint8_t file = 0;
    const char *env_name = NULL;
    if (c->source_count > 0) {
        const ne_conf_source *s = &c->sources[c->source_count - 1];
        file = s->file;
        if (s->kind == SRC_ENV) {
            env_name = &c->arena[s->name_off];
            line = s->ref_line;
            col = s->ref_col;
        }
    }
    ne_strbuf_puts(&sb, file_name(c, file));
    if (line > 0) {
        ne_strbuf_printf(&sb, ":%u:%u", (unsigned)line, (unsigned)col);
    }
    ne_strbuf_puts(&sb, ": ");
    if (env_name != NULL) {
        ne_strbuf_printf(&sb, "in the value of environment variable %s: ", env_name);
    }
    ne_strbuf_vprintf(&sb, fmt, ap);
    return rc;
}

__attribute__((format(printf, 3, 4))) static int fail(ne_conf *c, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    uint32_t line = 0;
    uint32_t col = 0;
    if (c->source_count > 0) {
        line = top_source(c)->line;
        col = column(top_source(c));
    }
    report(c, rc, line, col, fmt, ap);
    va_end(ap);
    return rc;
}

__attribute__((format(printf, 5, 6))) static int fail_at(ne_conf *c, int rc, uint32_t line,
                                                         uint32_t col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(c, rc, line, col, fmt, ap);
    va_end(ap);
    return rc;
}

/* ---- Arena --------------------------------------------------------------- */

static int arena_full(ne_conf *c)
{
    return fail(
        c, NE_ERR_NOMEM,
        "the configuration needs more than NE_CONF_ARENA_BYTES (%u) bytes of text; raise it",
        (unsigned)NE_CONF_ARENA_BYTES);
}

/* Appends a byte to the string being built at the bottom of the arena,
 * keeping room for its NUL. */
static int put(ne_conf *c, char ch)
{
    if (c->arena_top - c->arena_used < 2) {
        return arena_full(c);
    }
    c->arena[c->arena_used++] = ch;
    return NE_OK;
}

static int put_bytes(ne_conf *c, const char *bytes, size_t len)
{
    if (c->arena_top - c->arena_used < len + 1) {
        return arena_full(c);
    }
    memcpy(&c->arena[c->arena_used], bytes, len);
    c->arena_used += (uint32_t)len;
    return NE_OK;
}

/* Ends the string that began at `start` with a NUL. put() kept room for it
 * when it added a byte; an empty string may still find the arena full. */
static int seal(ne_conf *c, uint32_t start, uint32_t *len)
{
    if (c->arena_used >= c->arena_top) {
        return arena_full(c);
    }
    *len = c->arena_used - start;
    c->arena[c->arena_used++] = '\0';
    return NE_OK;
}

/* ---- Nodes --------------------------------------------------------------- */

static int new_node(ne_conf *c, uint32_t *idx)
{
    if (c->node_count >= NE_CONF_MAX_NODES) {
        return fail(c, NE_ERR_NOMEM,
                    "the configuration has more than NE_CONF_MAX_NODES (%u) values; raise it",
                    (unsigned)NE_CONF_MAX_NODES);
    }
    *idx = c->node_count++;
    ne_conf_node *n = &c->nodes[*idx];
    memset(n, 0, sizeof(*n));
    n->key = NE_CONF_NIL;
    n->next = NE_CONF_NIL;
    return NE_OK;
}

/* Adds a value to the container of the top frame: as the entry of the
 * pending key in a map, as the next item in an array. (line, col) is where the
 * value starts; a map entry takes its key's position, as nats-server reports
 * entries by key. */
static int add_value(ne_conf *c, uint8_t type, uint32_t line, uint32_t col, uint32_t *out)
{
    ne_conf_frame *f = top_frame(c);
    ne_conf_source *s = top_source(c);
    uint32_t idx = NE_CONF_NIL;
    int rc = new_node(c, &idx);
    if (rc != NE_OK) {
        return rc;
    }
    ne_conf_node *n = &c->nodes[idx];
    n->type = type;
    n->file = s->file;
    if (f->kind == FR_ARRAY) {
        n->line = line;
        n->col = col;
    } else {
        n->key = f->key;
        n->key_len = f->key_len;
        n->line = f->key_line;
        n->col = f->key_col;
    }
    /* Values read from an environment variable are placed where it was named. */
    if (s->kind == SRC_ENV && (c->frame_count > s->frame_base || f->kind == FR_ARRAY)) {
        n->line = s->ref_line;
        n->col = s->ref_col;
    }
    ne_conf_node *container = &c->nodes[f->node];
    if (f->last == NE_CONF_NIL) {
        container->v.c.first = idx;
    } else {
        c->nodes[f->last].next = idx;
    }
    f->last = idx;
    container->v.c.count++;
    *out = idx;
    return NE_OK;
}

static bool same_key(const ne_conf *c, const ne_conf_node *a, const ne_conf_node *b)
{
    return a->key_len == b->key_len &&
           memcmp(&c->arena[a->key], &c->arena[b->key], a->key_len) == 0;
}

/* A completed entry replaces an earlier one with the same key (exact bytes,
 * as a Go map does); the earlier one stays in the list, flagged, so lookups
 * and iteration skip it. Entries are compared when complete, not when begun,
 * so `a: 1 \n a { b: $a }` still sees the first a, as nats-server does. */
static void complete_entry(ne_conf *c, const ne_conf_frame *f, uint32_t idx)
{
    if (f->kind == FR_ARRAY) {
        return;
    }
    ne_conf_node *container = &c->nodes[f->node];
    const ne_conf_node *entry = &c->nodes[idx];
    uint32_t guard = c->node_count;
    for (uint32_t j = container->v.c.first; j != NE_CONF_NIL && guard > 0;
         j = c->nodes[j].next, guard--) {
        ne_conf_node *other = &c->nodes[j];
        if (j != idx && (other->flags & (NE_CONF_F_SHADOWED | NE_CONF_F_OPEN)) == 0 &&
            same_key(c, other, entry)) {
            other->flags |= NE_CONF_F_SHADOWED;
            container->v.c.count--;
        }
    }
}

static int add_scalar(ne_conf *c, uint8_t type, uint32_t line, uint32_t col, ne_conf_node **out)
{
    uint32_t idx = NE_CONF_NIL;
    int rc = add_value(c, type, line, col, &idx);
    if (rc != NE_OK) {
        return rc;
    }
    ne_conf_frame *f = top_frame(c);
    complete_entry(c, f, idx);
    f->state = ST_AFTER;
    *out = &c->nodes[idx];
    return NE_OK;
}

static int add_string(ne_conf *c, uint8_t type, uint32_t start, uint32_t line, uint32_t col)
{
    uint32_t len = 0;
    if (seal(c, start, &len) != NE_OK) {
        return c->status;
    }
    ne_conf_node *n;
    int rc = add_scalar(c, type, line, col, &n);
    if (rc == NE_OK) {
        n->v.s.off = start;
        n->v.s.len = len;
    }
    return rc;
}

/* The pending key of a frame, for messages ("include" after a directive). */
static const char *pending_key(const ne_conf *c, const ne_conf_frame *f)
{
    return f->key == NE_CONF_NIL ? "include" : &c->arena[f->key];
}

/* ---- Frames -------------------------------------------------------------- */

static ne_conf_frame *push_frame(ne_conf *c, uint8_t kind, uint32_t node, uint8_t state)
{
    NE_ASSERT(c->frame_count < NE_ARRAY_LEN(c->frames));
    ne_conf_frame *f = &c->frames[c->frame_count++];
    memset(f, 0, sizeof(*f));
    f->kind = kind;
    f->node = node;
    f->state = state;
    f->last = NE_CONF_NIL;
    f->scope_after = NE_CONF_NIL;
    f->key = NE_CONF_NIL;
    return f;
}

/* Opens a map or an array as the next value of the top frame. */
static int open_container(ne_conf *c, uint8_t type, uint32_t line, uint32_t col)
{
    if (c->depth >= NE_CONF_MAX_DEPTH) {
        return fail(c, NE_ERR_TOO_BIG,
                    "maps and arrays are nested deeper than NE_CONF_MAX_DEPTH (%u); raise it",
                    (unsigned)NE_CONF_MAX_DEPTH);
    }
    uint32_t idx = NE_CONF_NIL;
    int rc = add_value(c, type, line, col, &idx);
    if (rc != NE_OK) {
        return rc;
    }
    c->nodes[idx].flags |= NE_CONF_F_OPEN;
    c->nodes[idx].v.c.first = NE_CONF_NIL;
    top_frame(c)->state = ST_AFTER;
    advance(top_source(c));
    ne_conf_frame *f = push_frame(c, type == NE_CONF_MAP ? FR_MAP : FR_ARRAY, idx,
                                  type == NE_CONF_MAP ? ST_KEY : ST_VALUE);
    f->open_line = line;
    f->open_col = col;
    c->depth++;
    return NE_OK;
}

/* Closes the map or array of the top frame at its '}' or ']'. */
static int close_container(ne_conf *c)
{
    ne_conf_frame *f = top_frame(c);
    NE_ASSERT(f->kind == FR_MAP || f->kind == FR_ARRAY);
    advance(top_source(c));
    uint32_t idx = f->node;
    c->nodes[idx].flags &= (uint8_t)~NE_CONF_F_OPEN;
    c->nodes[idx].height = (uint8_t)(f->child_height + 1);
    c->frame_count--;
    c->depth--;
    ne_conf_frame *parent = top_frame(c);
    parent->child_height = NE_MAX(parent->child_height, c->nodes[idx].height);
    complete_entry(c, parent, idx);
    return NE_OK;
}

/* ---- Loading texts --------------------------------------------------------- */

static int add_file_name(ne_conf *c, uint32_t name_off, uint8_t *file)
{
    if (c->file_count >= NE_CONF_MAX_FILES) {
        return fail(c, NE_ERR_TOO_BIG,
                    "the configuration is made of more than NE_CONF_MAX_FILES (%u) files; raise it",
                    (unsigned)NE_CONF_MAX_FILES);
    }
    c->file_names[c->file_count] = name_off;
    *file = (uint8_t)c->file_count++;
    return NE_OK;
}

static ne_conf_source *push_source(ne_conf *c, uint8_t kind, const char *text, uint32_t len,
                                   uint8_t file)
{
    NE_ASSERT(c->source_count < NE_ARRAY_LEN(c->sources));
    ne_conf_source *s = &c->sources[c->source_count++];
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    s->text = text;
    s->len = len;
    s->line = 1;
    s->file = file;
    s->arena_top = c->arena_top;
    s->frame_base = c->frame_count;
    return s;
}

/* Reads file `file` through the loader into the top of the arena and pushes
 * it as a source. */
static int load_file(ne_conf *c, uint8_t file)
{
    const char *path = file_name(c, file);
    if (c->io == NULL || c->io->load == NULL) {
        return fail(c, NE_ERR_UNSUPPORTED, "cannot read \"%s\": no file loader was given", path);
    }
    uint32_t gap = c->arena_top - c->arena_used;
    uint32_t cap = NE_MIN(gap, (uint32_t)NE_CONF_MAX_FILE_BYTES);
    char *buf = &c->arena[c->arena_top - cap];
    size_t len = 0;
    int rc = c->io->load(c->io->ctx, path, buf, cap, &len);
    if (rc == NE_ERR_TOO_BIG && cap == NE_CONF_MAX_FILE_BYTES) {
        return fail(c, NE_ERR_TOO_BIG,
                    "\"%s\" is larger than NE_CONF_MAX_FILE_BYTES (%u bytes); raise it", path,
                    (unsigned)NE_CONF_MAX_FILE_BYTES);
    }
    if (rc == NE_ERR_TOO_BIG) {
        return fail(
            c, NE_ERR_TOO_BIG,
            "\"%s\" does not fit in the %u bytes left of NE_CONF_ARENA_BYTES (%u); raise it", path,
            (unsigned)gap, (unsigned)NE_CONF_ARENA_BYTES);
    }
    if (rc == NE_ERR_NOT_FOUND) {
        return fail(c, NE_ERR_NOT_FOUND, "cannot open \"%s\": no such file", path);
    }
    if (rc != NE_OK || len > cap) {
        return fail(c, rc < 0 && rc != NE_OK ? rc : NE_ERR_IO, "cannot read \"%s\" (%s)", path,
                    ne_err_name(rc));
    }
    /* The loader filled the start of the window; move the text up against
     * the texts already being read so the gap stays in one piece. */
    char *text = &c->arena[c->arena_top - len];
    memmove(text, buf, len);
    uint32_t old_top = c->arena_top;
    c->arena_top -= (uint32_t)len;
    ne_conf_source *s = push_source(c, SRC_FILE, text, (uint32_t)len, file);
    s->arena_top = old_top;
    return NE_OK;
}

static uint32_t count_sources(const ne_conf *c, uint8_t kind)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < c->source_count; i++) {
        n += c->sources[i].kind == kind;
    }
    return n;
}

/* ---- Include --------------------------------------------------------------- */

/* Reads the path after `include ` into the arena after the directory of the
 * including file, as nats-server joins it (an absolute path is kept as is). */
static int lex_include_path(ne_conf *c, uint32_t start)
{
    ne_conf_source *s = top_source(c);
    char buf[24];
    int ch = peek(s);
    if (ch == END || is_newline(ch) || ch == '[' || ch == '{' || ch == '(' || ch == '-' ||
        ch == '\\' || is_digit(ch)) {
        return fail(c, NE_ERR_PARSE, "expected a file name after include, found %s",
                    describe(ch, buf, sizeof(buf)));
    }
    uint32_t path_start = c->arena_used;
    if (ch == '"' || ch == '\'') {
        int quote = ch;
        uint32_t line = s->line;
        uint32_t col = column(s);
        advance(s);
        while (peek(s) != quote) {
            if (peek(s) == END) {
                return fail_at(c, NE_ERR_PARSE, line, col,
                               "expected %c to end the include file name started here", quote);
            }
            if (put(c, (char)peek(s)) != NE_OK) {
                return c->status;
            }
            advance(s);
        }
        advance(s);
    } else {
        /* A bare name ends where nats-server ends it; a quote ends it too. */
        for (ch = peek(s); ch != END && !is_newline(ch) && !is_blank(ch) && ch != ';' && ch != '}';
             ch = peek(s)) {
            advance(s);
            if (ch == '\'') {
                break;
            }
            if (put(c, (char)ch) != NE_OK) {
                return c->status;
            }
        }
    }
    if (c->arena_used == path_start) {
        return fail(c, NE_ERR_PARSE, "expected a file name after include, found an empty name");
    }
    if (c->arena[path_start] == '/') {
        memmove(&c->arena[start], &c->arena[path_start], c->arena_used - path_start);
        c->arena_used = start + (c->arena_used - path_start);
    }
    uint32_t len = 0;
    return seal(c, start, &len);
}

/* `include path`: reads the file and parses it on its own (it sees only the
 * environment, not the includer's keys), merging its keys into the map that
 * holds the include. Its root is a top-level frame over that same map. */
static int do_include(ne_conf *c)
{
    ne_conf_source *s = top_source(c);
    ne_conf_frame *f = top_frame(c);
    if (s->kind == SRC_ENV) {
        return fail(c, NE_ERR_PARSE, "include is not allowed in the value of a variable");
    }
    skip_blank(s);
    /* The directory of the including file, then the path. */
    uint32_t start = c->arena_used;
    const char *including = file_name(c, s->file);
    const char *slash = strrchr(including, '/');
    if (slash != NULL && put_bytes(c, including, (size_t)(slash - including) + 1) != NE_OK) {
        return c->status;
    }
    if (lex_include_path(c, start) != NE_OK) {
        return c->status;
    }
    if (count_sources(c, SRC_FILE) > NE_CONF_MAX_INCLUDE_DEPTH) {
        return fail(c, NE_ERR_TOO_BIG,
                    "include of \"%s\" nests deeper than NE_CONF_MAX_INCLUDE_DEPTH (%u): an "
                    "include cycle, or raise it",
                    &c->arena[start], (unsigned)NE_CONF_MAX_INCLUDE_DEPTH);
    }
    uint8_t file = 0;
    if (add_file_name(c, start, &file) != NE_OK) {
        return c->status;
    }
    f->state = ST_AFTER;
    f->key = NE_CONF_NIL;
    uint32_t node = f->node;
    uint32_t last = f->last;
    if (load_file(c, file) != NE_OK) {
        return c->status;
    }
    ne_conf_frame *root = push_frame(c, FR_TOP, node, ST_KEY);
    root->last = last;
    root->scope_after = last;
    return NE_OK;
}

/* ---- Keys ------------------------------------------------------------------ */

static bool is_include_keyword(const ne_conf *c, uint32_t start, uint32_t len)
{
    static const char word[] = "include";
    if (len != sizeof(word) - 1) {
        return false;
    }
    for (uint32_t i = 0; i < len; i++) {
        if (lower((unsigned char)c->arena[start + i]) != word[i]) {
            return false;
        }
    }
    return true;
}

/* Reads a key (quoted, or bare up to white space, '=' or ':'), then the
 * optional separator. A bare `include` followed by white space is the include
 * directive instead, as in nats-server. */
static int lex_key(ne_conf *c)
{
    ne_conf_source *s = top_source(c);
    ne_conf_frame *f = top_frame(c);
    uint32_t start = c->arena_used;
    uint32_t line = s->line;
    uint32_t col = column(s);
    int ch = peek(s);
    bool bare = ch != '"' && ch != '\'';
    if (!bare) {
        int quote = ch;
        advance(s);
        col = column(s); /* nats-server places a quoted key at its first character */
        while (peek(s) != quote) {
            if (peek(s) == END) {
                return fail_at(c, NE_ERR_PARSE, line, col - 1,
                               "expected %c to end the key started here, found end of file", quote);
            }
            if (put(c, (char)peek(s)) != NE_OK) {
                return c->status;
            }
            advance(s);
        }
        advance(s);
    } else {
        for (ch = peek(s); ch != END && !is_space(ch) && ch != '=' && ch != ':'; ch = peek(s)) {
            if (put(c, (char)ch) != NE_OK) {
                return c->status;
            }
            advance(s);
        }
    }
    uint32_t len = c->arena_used - start;
    if (bare && is_space(peek(s)) && is_include_keyword(c, start, len)) {
        c->arena_used = start;
        return do_include(c);
    }
    if (len > UINT16_MAX) {
        return fail_at(c, NE_ERR_TOO_BIG, line, col, "key longer than %u bytes",
                       (unsigned)UINT16_MAX);
    }
    if (seal(c, start, &len) != NE_OK) {
        return c->status;
    }
    f->key = start;
    f->key_len = (uint16_t)len;
    f->key_line = line;
    f->key_col = col;
    skip_space(s);
    ch = peek(s);
    if (ch == END) {
        return fail_at(c, NE_ERR_PARSE, line, col, "expected a value for \"%s\", found end of file",
                       &c->arena[start]);
    }
    f->separated = ch == '=' || ch == ':';
    if (f->separated) {
        advance(s);
    }
    f->state = ST_VALUE;
    return NE_OK;
}

/* The end of a file at the top level: done with the main file, or back to
 * the includer with the included keys now in its map. */
static int end_of_file(ne_conf *c)
{
    ne_conf_source *s = top_source(c);
    ne_conf_frame *f = top_frame(c);
    NE_ASSERT(f->kind == FR_TOP && s->kind == SRC_FILE);
    uint32_t last = f->last;
    c->frame_count--;
    c->arena_top = s->arena_top;
    c->source_count--;
    if (c->frame_count > 0) {
        ne_conf_frame *includer = top_frame(c);
        includer->last = last;
        includer->child_height = NE_MAX(includer->child_height, f->child_height);
    } else {
        c->nodes[0].flags &= (uint8_t)~NE_CONF_F_OPEN;
    }
    return NE_OK;
}

static int step_key(ne_conf *c)
{
    ne_conf_source *s = top_source(c);
    ne_conf_frame *f = top_frame(c);
    char buf[24];
    skip_space_and_comments(s);
    int ch = peek(s);
    if (f->kind == FR_MAP) {
        if (ch == END) {
            return fail(c, NE_ERR_PARSE,
                        "expected a key or '}' to close the map opened at %u:%u, found end of file",
                        (unsigned)f->open_line, (unsigned)f->open_col);
        }
        if (ch == '}') {
            return close_container(c);
        }
        if (ch == ']') {
            return fail(c, NE_ERR_PARSE, "expected a key or '}', found ']'");
        }
    } else {
        if (ch == END) {
            return end_of_file(c);
        }
        /* The top level may be wrapped in braces (JSON style). */
        if (ch == '{') {
            advance(s);
            return NE_OK;
        }
        if (ch == '}') {
            advance(s);
            skip_space_and_comments(s);
            if (peek(s) != END) {
                return fail(c, NE_ERR_PARSE,
                            "expected the end of the file after the closing '}', found %s",
                            describe(peek(s), buf, sizeof(buf)));
            }
            return NE_OK;
        }
        if (ch == '/') {
            return fail(c, NE_ERR_PARSE, "expected a key or a comment, found '/'");
        }
    }
    if (ch == '=' || ch == ':') {
        return fail(c, NE_ERR_PARSE, "expected a key before '%c'", ch);
    }
    return lex_key(c);
}

/* ---- Scalars --------------------------------------------------------------- */

/* Reads the escape at a backslash into the string being built. */
static int lex_escape(ne_conf *c)
{
    ne_conf_source *s = top_source(c);
    char buf[24];
    advance(s);
    int ch = peek(s);
    char out;
    switch (ch) {
    case 't':
        out = '\t';
        break;
    case 'n':
        out = '\n';
        break;
    case 'r':
        out = '\r';
        break;
    case '"':
        out = '"';
        break;
    case '\\':
        out = '\\';
        break;
    case 'x': {
        advance(s);
        int hi = ne_hex_value(peek(s));
        int lo = ne_hex_value(peek_at(s, 1));
        if (hi < 0 || lo < 0) {
            return fail(c, NE_ERR_PARSE, "expected two hexadecimal digits after \\x, found %s",
                        describe(hi < 0 ? peek(s) : peek_at(s, 1), buf, sizeof(buf)));
        }
        advance(s);
        out = (char)(hi * 16 + lo);
        break;
    }
    default:
        return fail(c, NE_ERR_PARSE,
                    "expected an escape (\\t \\n \\r \\\" \\\\ or \\xHH) after '\\', found %s",
                    describe(ch, buf, sizeof(buf)));
    }
    advance(s);
    return put(c, out);
}

/* "...": escapes resolved; may span lines, as in nats-server. */
static int lex_double_quoted(ne_conf *c, uint32_t line, uint32_t col)
{
    ne_conf_source *s = top_source(c);
    uint32_t start = c->arena_used;
    advance(s);
    for (int ch = peek(s); ch != '"'; ch = peek(s)) {
        int rc;
        if (ch == END) {
            return fail_at(c, NE_ERR_PARSE, line, col,
                           "expected '\"' to end the string started here, found end of file");
        }
        if (ch == '\\') {
            rc = lex_escape(c);
        } else {
            rc = put(c, (char)ch);
            advance(s);
        }
        if (rc != NE_OK) {
            return rc;
        }
    }
    advance(s);
    return add_string(c, NE_CONF_STRING, start, line, col);
}

/* '...': raw, no escapes. */
static int lex_single_quoted(ne_conf *c, uint32_t line, uint32_t col)
{
    ne_conf_source *s = top_source(c);
    uint32_t start = c->arena_used;
    advance(s);
    for (int ch = peek(s); ch != '\''; ch = peek(s)) {
        if (ch == END) {
            return fail_at(c, NE_ERR_PARSE, line, col,
                           "expected \"'\" to end the string started here, found end of file");
        }
        if (put(c, (char)ch) != NE_OK) {
            return c->status;
        }
        advance(s);
    }
    advance(s);
    return add_string(c, NE_CONF_STRING, start, line, col);
}

/* ( ... ) block string: everything up to a ')' alone on its line, the new
 * line before it included, as nats-server keeps it. */
static int lex_block(ne_conf *c, uint32_t line, uint32_t col)
{
    ne_conf_source *s = top_source(c);
    uint32_t start = c->arena_used;
    advance(s);
    for (;;) {
        int ch = peek(s);
        if (ch == END) {
            return fail_at(c, NE_ERR_PARSE, line, col,
                           "expected ')' alone on a line to end the block started here, found "
                           "end of file");
        }
        if (ch == ')' && s->text[s->pos - 1] == '\n' &&
            (peek_at(s, 1) == '\n' || peek_at(s, 1) == END)) {
            advance(s);
            break;
        }
        if (put(c, (char)ch) != NE_OK) {
            return c->status;
        }
        advance(s);
    }
    return add_string(c, NE_CONF_STRING, start, line, col);
}

static bool is_bool_word(const char *text, uint32_t len, bool *value)
{
    static const struct {
        const char *word;
        bool value;
    } words[] = {{"true", true}, {"false", false}, {"yes", true},
                 {"no", false},  {"on", true},     {"off", false}};
    for (size_t w = 0; w < NE_ARRAY_LEN(words); w++) {
        size_t wl = strlen(words[w].word);
        if (wl != len) {
            continue;
        }
        size_t i = 0;
        while (i < len && lower((unsigned char)text[i]) == words[w].word[i]) {
            i++;
        }
        if (i == len) {
            *value = words[w].value;
            return true;
        }
    }
    return false;
}

static int resolve_variable(ne_conf *c, uint32_t name_off, uint32_t name_len, uint32_t line,
                            uint32_t col);

/* A bare value: up to white space, a new line, ';' ',' ']' '}' or the end
 * (a single quote also ends it and is dropped, as in nats-server). Escapes
 * are resolved. Without escapes it may be a boolean word or a $variable. */
static int lex_bare_from(ne_conf *c, uint32_t start, uint32_t line, uint32_t col)
{
    ne_conf_source *s = top_source(c);
    bool escaped = false;
    bool quote_ended = false;
    for (int ch = peek(s); ch != END && !is_newline(ch) && !is_blank(ch) && ch != ';' &&
                           ch != ',' && ch != ']' && ch != '}';
         ch = peek(s)) {
        int rc;
        if (ch == '\'') {
            advance(s);
            quote_ended = true;
            break;
        }
        if (ch == '\\') {
            escaped = true;
            rc = lex_escape(c);
        } else {
            rc = put(c, (char)ch);
            advance(s);
        }
        if (rc != NE_OK) {
            return rc;
        }
    }
    uint32_t len = c->arena_used - start;
    const char *text = &c->arena[start];
    bool value;
    if (!escaped && !quote_ended && is_bool_word(text, len, &value)) {
        c->arena_used = start;
        ne_conf_node *n;
        int rc = add_scalar(c, NE_CONF_BOOL, line, col, &n);
        if (rc == NE_OK) {
            n->v.i = value;
        }
        return rc;
    }
    /* Bare bcrypt hashes ($2a$..., and $2b$ which nats-server 2.9.10 would
     * reject as an unknown variable) are strings, not variables. */
    bool bcrypt =
        len >= 4 && text[1] == '2' && (text[2] == 'a' || text[2] == 'b') && text[3] == '$';
    if (!escaped && !quote_ended && len >= 1 && text[0] == '$' && !bcrypt) {
        return resolve_variable(c, start + 1, len - 1, line, col);
    }
    return add_string(c, NE_CONF_STRING, start, line, col);
}

static int lex_bare(ne_conf *c, uint32_t line, uint32_t col)
{
    return lex_bare_from(c, c->arena_used, line, col);
}

static bool number_ends(int ch, bool in_array)
{
    /* nats-server ends numbers at these. In an array ']' ends one too here,
     * where nats-server 2.9.10 keeps the ']' in a string and so rejects
     * `[1, 2]` (see differences.md); elsewhere `a: 4222]` stays the string
     * "4222]" as there. */
    return ch == END || is_newline(ch) || is_blank(ch) || ch == '}' || ch == ';' || ch == ',' ||
           (ch == ']' && in_array);
}

static bool is_size_letter(int ch)
{
    ch = lower(ch);
    return ch == 'k' || ch == 'm' || ch == 'g' || ch == 't' || ch == 'p' || ch == 'e';
}

/* The multiplier of a size suffix: k m g t p e are powers of 1000; kb ki kib
 * (and so on) are powers of 1024; case does not matter. 0 if unknown. */
static uint64_t suffix_multiplier(const char *suffix, uint32_t len)
{
    static const char letters[] = "kmgtpe";
    if (len == 0) {
        return 1;
    }
    const char *at = strchr(letters, lower((unsigned char)suffix[0]));
    if (at == NULL || len > 3) {
        return 0;
    }
    uint32_t power = (uint32_t)(at - letters) + 1;
    char rest[3] = {0, 0, 0};
    for (uint32_t i = 1; i < len; i++) {
        rest[i - 1] = (char)lower((unsigned char)suffix[i]);
    }
    uint64_t base;
    if (len == 1) {
        base = 1000;
    } else if ((len == 2 && (rest[0] == 'b' || rest[0] == 'i')) ||
               (len == 3 && rest[0] == 'i' && rest[1] == 'b')) {
        base = 1024;
    } else {
        return 0;
    }
    uint64_t m = 1;
    for (uint32_t i = 0; i < power; i++) {
        m *= base;
    }
    return m;
}

static int add_integer(ne_conf *c, uint32_t begin, uint32_t digits_end, uint32_t end, uint32_t line,
                       uint32_t col)
{
    ne_conf_source *s = top_source(c);
    const char *t = s->text;
    bool negative = t[begin] == '-';
    uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    for (uint32_t i = begin + (negative ? 1 : 0); i < digits_end; i++) {
        uint64_t d = (uint64_t)(t[i] - '0');
        if (v > (limit - d) / 10) {
            return fail_at(c, NE_ERR_RANGE, line, col, "integer %.*s is out of range",
                           (int)(end - begin), &t[begin]);
        }
        v = v * 10 + d;
    }
    uint64_t m = suffix_multiplier(&t[digits_end], end - digits_end);
    if (m == 0) {
        return fail_at(c, NE_ERR_PARSE, line, col,
                       "expected a size suffix (k, kb, ki or kib, m..., g..., t..., p..., e...) "
                       "in %.*s",
                       (int)(end - begin), &t[begin]);
    }
    if (v != 0 && m > limit / v) {
        return fail_at(c, NE_ERR_RANGE, line, col, "integer %.*s is out of range",
                       (int)(end - begin), &t[begin]);
    }
    v *= m;
    ne_conf_node *n;
    int rc = add_scalar(c, NE_CONF_INT, line, col, &n);
    if (rc == NE_OK) {
        if (!negative) {
            n->v.i = (int64_t)v;
        } else {
            n->v.i = v > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)v;
        }
    }
    return rc;
}

/* Decimal digits with one '.', converted without libc. Not correctly rounded
 * in every last bit for long inputs (see differences.md); exact for the short
 * numbers configurations hold. */
static int add_float(ne_conf *c, uint32_t begin, uint32_t end, uint32_t line, uint32_t col)
{
    const char *t = top_source(c)->text;
    bool negative = t[begin] == '-';
    uint64_t mantissa = 0;
    int32_t exp10 = 0;
    bool after_point = false;
    for (uint32_t i = begin + (negative ? 1 : 0); i < end; i++) {
        if (t[i] == '.') {
            after_point = true;
            continue;
        }
        if (mantissa < 100000000000000000ull) {
            mantissa = mantissa * 10 + (uint64_t)(t[i] - '0');
            exp10 -= after_point ? 1 : 0;
        } else {
            exp10 += after_point ? 0 : 1;
        }
    }
    double v = (double)mantissa;
    double scale = 1.0;
    int32_t e = exp10 < 0 ? -exp10 : exp10;
    for (int32_t i = 0; i < e && scale - scale == 0; i++) {
        scale *= 10.0;
    }
    v = exp10 < 0 ? v / scale : v * scale;
    if (v - v != 0) { /* infinite */
        return fail_at(c, NE_ERR_RANGE, line, col, "float %.*s is out of range", (int)(end - begin),
                       &t[begin]);
    }
    ne_conf_node *n;
    int rc = add_scalar(c, NE_CONF_FLOAT, line, col, &n);
    if (rc == NE_OK) {
        n->v.f = negative ? -v : v;
    }
    return rc;
}

static bool leap_year(uint32_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* YYYY-MM-DDTHH:MM:SSZ, the only datetime form nats-server reads. The four
 * digits of the year are read; the rest must follow exactly. */
static int lex_datetime(ne_conf *c, uint32_t begin, uint32_t line, uint32_t col)
{
    static const char form[] = "-00-00T00:00:00Z";
    ne_conf_source *s = top_source(c);
    char buf[24];
    for (const char *f = form; *f != '\0'; f++) {
        int ch = peek(s);
        if (*f == '0' ? !is_digit(ch) : ch != *f) {
            char want[8];
            if (*f == '0') {
                ne_fmt(want, sizeof(want), "a digit");
            } else {
                ne_fmt(want, sizeof(want), "'%c'", *f);
            }
            return fail(c, NE_ERR_PARSE,
                        "expected %s in a datetime of the form 2006-01-02T15:04:05Z, found %s",
                        want, describe(ch, buf, sizeof(buf)));
        }
        advance(s);
    }
    const char *t = &s->text[begin];
    uint32_t year =
        (uint32_t)((t[0] - '0') * 1000 + (t[1] - '0') * 100 + (t[2] - '0') * 10 + (t[3] - '0'));
    uint32_t field[5]; /* month day hour minute second */
    for (int i = 0; i < 5; i++) {
        const char *p = &t[5 + 3 * i];
        field[i] = (uint32_t)((p[0] - '0') * 10 + (p[1] - '0'));
    }
    static const uint8_t days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool ok = field[0] >= 1 && field[0] <= 12 && field[1] >= 1 && field[2] <= 23 &&
              field[3] <= 59 && field[4] <= 59;
    if (ok) {
        uint32_t max_day = days[field[0] - 1] + (field[0] == 2 && leap_year(year) ? 1 : 0);
        ok = field[1] <= max_day;
    }
    if (!ok) {
        return fail_at(c, NE_ERR_RANGE, line, col, "datetime %.*s is not a valid date and time",
                       (int)(s->pos - begin), t);
    }
    uint32_t start = c->arena_used;
    if (put_bytes(c, t, s->pos - begin) != NE_OK) {
        return c->status;
    }
    return add_string(c, NE_CONF_DATETIME, start, line, col);
}

/* A value starting with a digit or '-': an integer (with a size suffix), a
 * float, a datetime, an IP address with a port (kept as a string), or, when
 * a positive number runs into other characters ("2s", "10ms", "0x10"), a
 * bare string, as in nats-server. */
static int lex_number(ne_conf *c, uint32_t line, uint32_t col)
{
    ne_conf_source *s = top_source(c);
    char buf[24];
    uint32_t begin = s->pos;
    bool negative = peek(s) == '-';
    bool in_array = top_frame(c)->kind == FR_ARRAY;
    if (negative) {
        advance(s);
        if (!is_digit(peek(s))) {
            return fail(c, NE_ERR_PARSE, "expected a digit after '-', found %s",
                        describe(peek(s), buf, sizeof(buf)));
        }
    }
    while (is_digit(peek(s))) {
        advance(s);
    }
    uint32_t digits_end = s->pos;
    int ch = peek(s);
    if (!negative && ch == '-') {
        if (digits_end - begin != 4) {
            return fail(c, NE_ERR_PARSE,
                        "expected a datetime of the form 2006-01-02T15:04:05Z (a '-' after %u "
                        "digits)",
                        (unsigned)(digits_end - begin));
        }
        return lex_datetime(c, begin, line, col);
    }
    if (ch == '.') {
        advance(s);
        if (!is_digit(peek(s))) {
            return fail(c, NE_ERR_PARSE, "expected a digit after '.', found %s",
                        describe(peek(s), buf, sizeof(buf)));
        }
        while (is_digit(peek(s))) {
            advance(s);
        }
        if (peek(s) != '.') {
            return add_float(c, begin, s->pos, line, col);
        }
        /* A second '.': an IP address, with an optional port or range. */
        for (ch = peek(s); is_digit(ch) || ch == '.' || ch == ':' || ch == '-'; ch = peek(s)) {
            advance(s);
        }
        uint32_t start = c->arena_used;
        if (put_bytes(c, &s->text[begin], s->pos - begin) != NE_OK) {
            return c->status;
        }
        return add_string(c, NE_CONF_STRING, start, line, col);
    }
    bool suffixed = is_size_letter(ch);
    if (suffixed) {
        advance(s);
        for (ch = peek(s); ch == 'b' || ch == 'B' || ch == 'i' || ch == 'I'; ch = peek(s)) {
            advance(s);
        }
        if (number_ends(ch, in_array) || is_digit(ch)) {
            return add_integer(c, begin, digits_end, s->pos, line, col);
        }
    } else if (negative || number_ends(ch, in_array)) {
        return add_integer(c, begin, digits_end, digits_end, line, col);
    }
    /* Not a number after all: a bare string. After a size suffix it is read
     * again from its start; straight after the digits, nats-server keeps the
     * character that ended the number as it is (so "1\\x41" stays as written
     * and "1'x" is one string), and so does this. */
    uint32_t start = c->arena_used;
    if (suffixed) {
        s->pos = begin;
    } else {
        if (put_bytes(c, &s->text[begin], s->pos - begin) != NE_OK || put(c, (char)ch) != NE_OK) {
            return c->status;
        }
        advance(s);
    }
    return lex_bare_from(c, start, line, col);
}

/* Reads a value at the current position into the top frame. */
static int lex_value(ne_conf *c)
{
    ne_conf_source *s = top_source(c);
    uint32_t line = s->line;
    uint32_t col = column(s);
    int ch = peek(s);
    NE_ASSERT(ch != END);
    switch (ch) {
    case '{':
        return open_container(c, NE_CONF_MAP, line, col);
    case '[':
        return open_container(c, NE_CONF_ARRAY, line, col);
    case '"':
        return lex_double_quoted(c, line, col);
    case '\'':
        return lex_single_quoted(c, line, col);
    case '(':
        return lex_block(c, line, col);
    case '.':
        return fail(c, NE_ERR_PARSE, "expected a value; a float must start with a digit");
    default:
        break;
    }
    if (ch == '-' || is_digit(ch)) {
        return lex_number(c, line, col);
    }
    return lex_bare(c, line, col);
}

/* ---- Variables ------------------------------------------------------------- */

/* Looks up `name` among the complete entries of the maps enclosing the value
 * being read, innermost first, within the current file (an included file and
 * an environment value see none of their includer's keys). */
static uint32_t find_variable(const ne_conf *c, const char *name, uint32_t len)
{
    const ne_conf_source *s = &c->sources[c->source_count - 1];
    for (uint32_t fi = c->frame_count; fi > s->frame_base; fi--) {
        const ne_conf_frame *f = &c->frames[fi - 1];
        if (f->kind == FR_ARRAY) {
            continue;
        }
        const ne_conf_node *container = &c->nodes[f->node];
        uint32_t j = container->v.c.first;
        if (f->scope_after != NE_CONF_NIL && fi - 1 == s->frame_base) {
            j = c->nodes[f->scope_after].next;
        }
        uint32_t found = NE_CONF_NIL;
        uint32_t guard = c->node_count;
        for (; j != NE_CONF_NIL && guard > 0; j = c->nodes[j].next, guard--) {
            const ne_conf_node *n = &c->nodes[j];
            if ((n->flags & (NE_CONF_F_SHADOWED | NE_CONF_F_OPEN)) == 0 && n->key_len == len &&
                memcmp(&c->arena[n->key], name, len) == 0) {
                found = j;
            }
        }
        if (found != NE_CONF_NIL) {
            return found;
        }
    }
    return NE_CONF_NIL;
}

/* Copies a found entry's value into a new node; a map or an array shares the
 * children of the original, which is complete and never changes again. */
static int copy_variable(ne_conf *c, uint32_t target, uint32_t line, uint32_t col)
{
    /* A copied map or array counts at its new depth, so that NE_CONF_MAX_DEPTH
     * bounds the tree as a reader walks it, copies included. */
    uint32_t height = c->nodes[target].height;
    if (c->depth + height > NE_CONF_MAX_DEPTH) {
        return fail_at(c, NE_ERR_TOO_BIG, line, col,
                       "this variable puts maps and arrays deeper than NE_CONF_MAX_DEPTH (%u); "
                       "raise it",
                       (unsigned)NE_CONF_MAX_DEPTH);
    }
    ne_conf_frame *f = top_frame(c);
    f->child_height = (uint8_t)NE_MAX(f->child_height, height);
    c->nodes[target].flags |= NE_CONF_F_VAR_REF;
    ne_conf_node *n;
    int rc = add_scalar(c, c->nodes[target].type, line, col, &n);
    if (rc == NE_OK) {
        n->v = c->nodes[target].v;
        n->height = c->nodes[target].height;
    }
    return rc;
}

/* Pushes the value of environment variable `name` as a source to be read as
 * one value, as nats-server parses "pk=<value>". */
static int push_env(ne_conf *c, uint32_t name_off, const char *value, uint32_t line, uint32_t col)
{
    const char *name = &c->arena[name_off];
    if (count_sources(c, SRC_ENV) >= NE_CONF_MAX_ENV_DEPTH) {
        return fail_at(c, NE_ERR_TOO_BIG, line, col,
                       "variable $%s: environment variables refer to each other deeper than "
                       "NE_CONF_MAX_ENV_DEPTH (%u): a cycle, or raise it",
                       name, (unsigned)NE_CONF_MAX_ENV_DEPTH);
    }
    size_t len = 0;
    while (len <= NE_CONF_MAX_FILE_BYTES && value[len] != '\0') {
        len++;
    }
    if (len > NE_CONF_MAX_FILE_BYTES) {
        return fail_at(c, NE_ERR_TOO_BIG, line, col,
                       "environment variable %s is longer than NE_CONF_MAX_FILE_BYTES (%u); "
                       "raise it",
                       name, (unsigned)NE_CONF_MAX_FILE_BYTES);
    }
    if (c->arena_top - c->arena_used < len) {
        return arena_full(c);
    }
    const ne_conf_source *outer = top_source(c);
    uint8_t file = outer->file;
    if (outer->kind == SRC_ENV) {
        line = outer->ref_line;
        col = outer->ref_col;
    }
    uint32_t old_top = c->arena_top;
    c->arena_top -= (uint32_t)len;
    memcpy(&c->arena[c->arena_top], value, len);
    top_frame(c)->state = ST_ENV_VALUE;
    ne_conf_source *s = push_source(c, SRC_ENV, &c->arena[c->arena_top], (uint32_t)len, file);
    s->arena_top = old_top;
    s->ref_line = line;
    s->ref_col = col;
    s->name_off = name_off;
    return NE_OK;
}

/* $NAME: an earlier key of an enclosing map, else the environment. The name
 * sits at the bottom of the arena, not yet sealed. */
static int resolve_variable(ne_conf *c, uint32_t name_off, uint32_t name_len, uint32_t line,
                            uint32_t col)
{
    uint32_t target = find_variable(c, &c->arena[name_off], name_len);
    if (target != NE_CONF_NIL) {
        c->arena_used = name_off - 1;
        return copy_variable(c, target, line, col);
    }
    /* Keep the name: it is the environment variable's name, and names it in
     * messages while its value is read. */
    uint32_t len = 0;
    if (seal(c, name_off, &len) != NE_OK) {
        return c->status;
    }
    const char *name = &c->arena[name_off];
    const char *value = NULL;
    if (c->io != NULL && c->io->getenv != NULL) {
        value = c->io->getenv(c->io->ctx, name);
    }
    if (value == NULL) {
        return fail_at(c, NE_ERR_NOT_FOUND, line, col,
                       "variable $%s is not defined: no earlier key \"%s\" in an enclosing map "
                       "and no environment variable %s",
                       name, name, name);
    }
    return push_env(c, name_off, value, line, col);
}

/* ---- Steps ----------------------------------------------------------------- */

static int step_value(ne_conf *c)
{
    ne_conf_source *s = top_source(c);
    ne_conf_frame *f = top_frame(c);
    char buf[24];
    int ch;
    switch (f->kind) {
    case FR_ARRAY:
        skip_space_and_comments(s);
        ch = peek(s);
        if (ch == ']') {
            return close_container(c);
        }
        if (ch == END || ch == ',') {
            return fail(c, NE_ERR_PARSE,
                        "expected a value or ']' to close the array opened at %u:%u, found %s",
                        (unsigned)f->open_line, (unsigned)f->open_col,
                        describe(ch, buf, sizeof(buf)));
        }
        break;
    case FR_MAP:
        /* In a map a value may follow on a later line; '#' here starts a bare
         * value, not a comment, as in nats-server. */
        skip_space(s);
        ch = peek(s);
        if (ch == END || ch == ',' || ch == '}') {
            return fail(c, NE_ERR_PARSE, "expected a value for \"%s\", found %s", pending_key(c, f),
                        describe(ch, buf, sizeof(buf)));
        }
        break;
    default:
        skip_blank(s);
        ch = peek(s);
        if (ch == END || is_newline(ch)) {
            return fail(c, NE_ERR_PARSE, "expected a value for \"%s\" on the same line, found %s",
                        pending_key(c, f), describe(ch, buf, sizeof(buf)));
        }
        break;
    }
    return lex_value(c);
}

/* The first value of an environment variable's text; empty text is "". */
static int step_env_value(ne_conf *c)
{
    ne_conf_source *s = top_source(c);
    char buf[24];
    NE_ASSERT(s->kind == SRC_ENV);
    skip_blank(s);
    int ch = peek(s);
    if (ch == END) {
        uint32_t start = c->arena_used;
        return add_string(c, NE_CONF_STRING, start, s->ref_line, s->ref_col);
    }
    if (is_newline(ch)) {
        return fail(c, NE_ERR_PARSE, "expected a value, found %s", describe(ch, buf, sizeof(buf)));
    }
    return lex_value(c);
}

/* After the whole value of an environment variable: only comments may
 * follow. Then back to the text that named it. */
static int end_env(ne_conf *c)
{
    ne_conf_source *s = top_source(c);
    char buf[24];
    skip_space_and_comments(s);
    if (peek(s) != END) {
        return fail(c, NE_ERR_PARSE, "expected the end of the value, found %s",
                    describe(peek(s), buf, sizeof(buf)));
    }
    c->arena_top = s->arena_top;
    c->source_count--;
    return NE_OK;
}

static int step_after(ne_conf *c)
{
    ne_conf_source *s = top_source(c);
    ne_conf_frame *f = top_frame(c);
    char buf[24];
    if (s->kind == SRC_ENV && c->frame_count == s->frame_base) {
        return end_env(c);
    }
    skip_blank(s);
    if (at_comment(s)) {
        skip_comment(s);
    }
    int ch = peek(s);
    const char *what = describe(ch, buf, sizeof(buf));
    switch (f->kind) {
    case FR_ARRAY:
        if (ch == ']') {
            return close_container(c);
        }
        if (ch == ',' || is_newline(ch)) {
            advance(s);
            f->state = ST_VALUE;
            return NE_OK;
        }
        return fail(c, NE_ERR_PARSE,
                    "expected ',', a new line or ']' after an item of the array opened at %u:%u, "
                    "found %s",
                    (unsigned)f->open_line, (unsigned)f->open_col, what);
    case FR_MAP:
        if (ch == '}') {
            return close_container(c);
        }
        if (ch == ',' || ch == ';' || is_newline(ch)) {
            advance(s);
            f->state = ST_KEY;
            return NE_OK;
        }
        if (ch == END) {
            return fail(c, NE_ERR_PARSE,
                        "expected '}' to close the map opened at %u:%u, found end of file",
                        (unsigned)f->open_line, (unsigned)f->open_col);
        }
        return fail(c, NE_ERR_PARSE,
                    "expected ',', ';', a new line or '}' after the value of "
                    "\"%s\", found %s",
                    pending_key(c, f), what);
    default:
        if (ch == END) {
            f->state = ST_KEY;
            return NE_OK;
        }
        if (ch == ',' || ch == ';' || ch == '}' || is_newline(ch)) {
            advance(s);
            f->state = ST_KEY;
            return NE_OK;
        }
        return fail(c, NE_ERR_PARSE,
                    "expected a new line, ';' or ',' after the value of \"%s\", found %s",
                    pending_key(c, f), what);
    }
}

static int run(ne_conf *c)
{
    uint64_t steps = 0;
    while (c->source_count > 0 && c->status == NE_OK) {
        NE_ASSERT(steps++ < STEP_LIMIT);
        int rc;
        switch (top_frame(c)->state) {
        case ST_KEY:
            rc = step_key(c);
            break;
        case ST_VALUE:
            rc = step_value(c);
            break;
        case ST_ENV_VALUE:
            rc = step_env_value(c);
            break;
        default:
            rc = step_after(c);
            break;
        }
        if (rc != NE_OK && c->status == NE_OK) {
            c->status = rc; /* every failure path reports; keep the code anyway */
        }
    }
    if (c->status == NE_OK) {
        NE_ASSERT(c->frame_count == 0 && c->arena_top == NE_CONF_ARENA_BYTES);
    }
    return c->status;
}

/* ---- Entry points ---------------------------------------------------------- */

static int begin(ne_conf *c, const char *name, const ne_conf_io *io, uint8_t *file)
{
    c->node_count = 0;
    c->arena_used = 0;
    c->arena_top = NE_CONF_ARENA_BYTES;
    c->file_count = 0;
    c->frame_count = 0;
    c->source_count = 0;
    c->depth = 0;
    c->status = NE_OK;
    c->io = io;
    c->error[0] = '\0';
    c->rejected_count = 0;
    c->rejected_unknown = false;
    uint32_t start = c->arena_used;
    if (put_bytes(c, name, strlen(name)) != NE_OK) {
        return c->status;
    }
    uint32_t len = 0;
    if (seal(c, start, &len) != NE_OK || add_file_name(c, start, file) != NE_OK) {
        return c->status;
    }
    uint32_t root = 0;
    if (new_node(c, &root) != NE_OK) {
        return c->status;
    }
    c->nodes[root].type = NE_CONF_MAP;
    c->nodes[root].flags = NE_CONF_F_OPEN | NE_CONF_F_USED;
    c->nodes[root].v.c.first = NE_CONF_NIL;
    c->nodes[root].line = 1;
    c->nodes[root].col = 1;
    return NE_OK;
}

int ne_conf_parse_file(ne_conf *conf, const char *path, const ne_conf_io *io)
{
    NE_ASSERT(conf != NULL && path != NULL);
    uint8_t file = 0;
    if (begin(conf, path, io, &file) != NE_OK || load_file(conf, file) != NE_OK) {
        conf->source_count = 0;
        return conf->status;
    }
    push_frame(conf, FR_TOP, 0, ST_KEY);
    return run(conf);
}

int ne_conf_parse_text(ne_conf *conf, const char *name, const char *text, size_t len,
                       const ne_conf_io *io)
{
    NE_ASSERT(conf != NULL && name != NULL && (text != NULL || len == 0));
    uint8_t file = 0;
    if (begin(conf, name, io, &file) != NE_OK) {
        return conf->status;
    }
    if (len > NE_CONF_MAX_FILE_BYTES) {
        return fail(conf, NE_ERR_TOO_BIG,
                    "\"%s\" is larger than NE_CONF_MAX_FILE_BYTES (%u bytes); raise it", name,
                    (unsigned)NE_CONF_MAX_FILE_BYTES);
    }
    push_source(conf, SRC_FILE, text == NULL ? "" : text, (uint32_t)len, file);
    push_frame(conf, FR_TOP, 0, ST_KEY);
    return run(conf);
}

const char *ne_conf_error(const ne_conf *conf)
{
    return conf->error;
}
