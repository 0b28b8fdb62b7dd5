/* The nats-server configuration format, parsed with no heap.
 *
 * ne_conf_parse_file / ne_conf_parse_text read a configuration into a tree held
 * entirely inside a caller-provided ne_conf (config/ne_config_conf.h sets its
 * bounds). The syntax is nats-server's (conf/lex.go, conf/parse.go of 2.9.10):
 *   key: value   key = value   key value       optional ';' or ',' after it
 *   # comment    // comment
 *   map { ... }  array [ a, b \n c ]           top level may be wrapped in {}
 *   "escaped \t \n \r \" \\ \xHH"  'raw'  bare  ( block string ended by ")" alone on a line )
 *   42  -1  64KB  8mb  1k (x1000) 1ki/1kib/1kb (x1024) ... up to e/eb/ei/eib
 *   1.5  true/false/yes/no/on/off  2006-01-02T15:04:05Z
 *   $NAME: an earlier key of an enclosing map, else an environment variable
 *   include ./other.conf  (relative to the including file; parsed on its own)
 * Differences from nats-server are listed in differences.md.
 *
 * The tree: every value is a node. A map's children are its entries (each with
 * its key), an array's children are its items. Nodes and strings live in the
 * ne_conf, so pointers returned here stay valid until the ne_conf is parsed
 * into again. Nothing here allocates or keeps a pointer to caller memory.
 * A map or array copied by a variable shares its children with the original;
 * even so no path from the root passes more than NE_CONF_MAX_DEPTH maps and
 * arrays, so a reader can walk the tree with a stack of that size.
 *
 * Errors: each failing call returns a negative ne_err and leaves a message in
 * the ne_conf (ne_conf_error), always of the form "file:line:col: message",
 * saying what was expected. Lines and columns count from 1 (bytes, not
 * characters). A position of a map entry is the position of its key.
 */
#ifndef NE_CONF_H
#define NE_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ne_config.h"
#include "ne_config_conf.h"

#if NE_CONF_MAX_FILES > 255
#error "NE_CONF_MAX_FILES must be at most 255"
#endif
#if NE_CONF_MAX_DEPTH > 255
#error "NE_CONF_MAX_DEPTH must be at most 255"
#endif

typedef enum ne_conf_type {
    NE_CONF_MAP = 1,
    NE_CONF_ARRAY,
    NE_CONF_STRING,
    NE_CONF_INT,
    NE_CONF_FLOAT,
    NE_CONF_BOOL,
    NE_CONF_DATETIME, /* kept as its text, e.g. "2006-01-02T15:04:05Z" */
} ne_conf_type;

/* Node flags. */
#define NE_CONF_F_USED 0x01     /* read through an accessor (or ne_conf_mark_used) */
#define NE_CONF_F_VAR_REF 0x02  /* referenced as $NAME by a later value */
#define NE_CONF_F_SHADOWED 0x04 /* replaced by a later entry with the same key */
#define NE_CONF_F_OPEN 0x08     /* a map or array still being parsed */

/* "No node" in index fields. */
#define NE_CONF_NIL UINT32_MAX

/* One value. Read it through the accessors below; the fields are public so a
 * caller may inspect a tree in tests and tools. */
typedef struct ne_conf_node {
    union {
        int64_t i; /* INT, and BOOL (0 or 1) */
        double f;  /* FLOAT */
        struct {
            uint32_t off; /* STRING, DATETIME: arena offset, NUL-terminated */
            uint32_t len; /* bytes, not counting the NUL (may contain \x00) */
        } s;
        struct {
            uint32_t first; /* MAP, ARRAY: first child or NE_CONF_NIL */
            uint32_t count; /* live children */
        } c;
    } v;
    uint32_t key;  /* arena offset of the key (NUL-terminated), NE_CONF_NIL if none */
    uint32_t next; /* next sibling or NE_CONF_NIL */
    uint32_t line; /* position of the key (map entries) or of the value */
    uint32_t col;
    uint16_t key_len;
    uint8_t type; /* ne_conf_type */
    uint8_t flags;
    uint8_t file;   /* index of the file it came from (see ne_conf_file_name) */
    uint8_t height; /* MAP, ARRAY: levels of maps and arrays it holds, itself included */
    uint8_t pad[2];
} ne_conf_node;

/* Source frame of the parser (internal). */
typedef struct ne_conf_source {
    const char *text;
    uint32_t len;
    uint32_t pos;
    uint32_t line;
    uint32_t line_start;
    uint32_t frame_base; /* frames below this index belong to the includer */
    uint32_t arena_top;  /* arena top to restore when this source is done */
    uint32_t ref_line;   /* environment value: position of its $NAME */
    uint32_t ref_col;
    uint32_t name_off; /* environment value: arena offset of NAME */
    uint8_t kind;      /* file or environment value */
    uint8_t file;
} ne_conf_source;

/* Container frame of the parser (internal). */
typedef struct ne_conf_frame {
    uint32_t node;        /* the map or array being filled */
    uint32_t last;        /* its last child, NE_CONF_NIL if none */
    uint32_t scope_after; /* include root: the last child before the include */
    uint32_t key;         /* pending key: arena offset, length, position */
    uint32_t key_line;
    uint32_t key_col;
    uint32_t open_line; /* where the map or array was opened */
    uint32_t open_col;
    uint16_t key_len;
    uint8_t kind;         /* top level (or include root), map, array */
    uint8_t state;        /* expecting a key, a value, or the end of a value */
    uint8_t separated;    /* the key was followed by '=' or ':' */
    uint8_t child_height; /* greatest height of the maps and arrays in it so far */
    uint8_t pad[2];
} ne_conf_frame;

/* A key a reader refused and read past (ne_conf_reject). */
typedef struct ne_conf_rejected {
    uint32_t node;    /* index in nodes[] */
    const char *what; /* static format with one %s for the key */
} ne_conf_rejected;

/* A parsed configuration. Large: give it static storage. */
typedef struct ne_conf {
    ne_conf_node nodes[NE_CONF_MAX_NODES];
    uint32_t node_count;
    uint32_t arena_used; /* strings grow up from 0 */
    uint32_t arena_top;  /* texts being read sit from here to the end */
    uint32_t file_count;
    uint32_t file_names[NE_CONF_MAX_FILES]; /* arena offsets */
    char arena[NE_CONF_ARENA_BYTES];
    char error[NE_CONF_ERROR_BYTES];
    /* Parser scratch, kept here rather than on the stack for small-stack boards. */
    ne_conf_frame frames[NE_CONF_MAX_DEPTH + NE_CONF_MAX_INCLUDE_DEPTH + 2];
    ne_conf_source sources[NE_CONF_MAX_INCLUDE_DEPTH + NE_CONF_MAX_ENV_DEPTH + 2];
    uint32_t frame_count;
    uint32_t source_count;
    uint32_t depth; /* maps and arrays open */
    int status;     /* first error of the parse in progress */
    const struct ne_conf_io *io;
    /* Keys refused by the reader, in file order; rejected_count goes on
     * counting past NE_CONF_MAX_REJECTED. Reset by every parse. */
    ne_conf_rejected rejected[NE_CONF_MAX_REJECTED];
    uint32_t rejected_count;
    bool rejected_unknown; /* one of them is an unknown field */
} ne_conf;

/* What the parser needs from outside: the core cannot open files nor read the
 * environment. Either callback may be NULL (then includes, or environment
 * variables, are unavailable and using them is an error). */
typedef struct ne_conf_io {
    /* Reads the whole file at `path` into buf (at most cap bytes) and sets
     * *len. Returns NE_OK, NE_ERR_NOT_FOUND, NE_ERR_TOO_BIG when the file has
     * more than cap bytes, or NE_ERR_IO. */
    int (*load)(void *ctx, const char *path, char *buf, size_t cap, size_t *len);
    /* The value of environment variable `name`, or NULL when it is not set.
     * The text is copied before the next call. */
    const char *(*getenv)(void *ctx, const char *name);
    void *ctx;
} ne_conf_io;

/* ---- Parsing --------------------------------------------------------------- */

/* Reads the file at `path` through io->load and parses it. Returns NE_OK, or:
 * NE_ERR_PARSE (syntax), NE_ERR_NOT_FOUND (a file or a $NAME that does not
 * exist), NE_ERR_RANGE (a number out of range), NE_ERR_NOMEM (more values than
 * NE_CONF_MAX_NODES or text than NE_CONF_ARENA_BYTES), NE_ERR_TOO_BIG (a file
 * larger than NE_CONF_MAX_FILE_BYTES, nesting or includes deeper than their
 * bound), NE_ERR_IO, NE_ERR_UNSUPPORTED (include without io->load). The
 * message (ne_conf_error) names the position and, for a bound, the knob. */
int ne_conf_parse_file(ne_conf *conf, const char *path, const ne_conf_io *io);

/* Parses text (len bytes, need not be NUL-terminated) named `name` in
 * messages and used as the base of relative includes. The text is read during
 * the call only. io may be NULL. Returns as ne_conf_parse_file. */
int ne_conf_parse_text(ne_conf *conf, const char *name, const char *text, size_t len,
                       const ne_conf_io *io);

/* The message of the last failure ("" if none). */
const char *ne_conf_error(const ne_conf *conf);

/* ---- Walking the tree ------------------------------------------------------ */

/* The root map (valid after a successful parse). */
ne_conf_node *ne_conf_root(ne_conf *conf);

/* The entry of `map` whose key equals `key` ignoring ASCII case, as
 * nats-server matches option names; the last one when several match. Marks
 * every match used. NULL when absent or when map is not a map. */
ne_conf_node *ne_conf_find(ne_conf *conf, ne_conf_node *map, const char *key);

/* First and next live child of a map or array, in file order (entries
 * replaced by a later one with the same key are skipped). Iterating does not
 * mark nodes used; the ne_conf_as_* calls do. NULL at the end. */
ne_conf_node *ne_conf_first(ne_conf *conf, const ne_conf_node *container);
ne_conf_node *ne_conf_next(ne_conf *conf, const ne_conf_node *node);

/* Live children of a map or array; 0 for a scalar. */
size_t ne_conf_count(const ne_conf_node *container);

/* The key of a map entry ("" for array items and the root), and its length. */
const char *ne_conf_key(const ne_conf *conf, const ne_conf_node *node);
size_t ne_conf_key_len(const ne_conf_node *node);

/* Name of the file a node came from. */
const char *ne_conf_file_name(const ne_conf *conf, const ne_conf_node *node);

/* Writes "file:line:col" of a node into out (NUL-terminated, cut at cap). */
void ne_conf_position(const ne_conf *conf, const ne_conf_node *node, char *out, size_t cap);

/* A lower-case name of a type ("string", "integer", ...). */
const char *ne_conf_type_name(ne_conf_type type);

void ne_conf_mark_used(ne_conf_node *node);

/* ---- Typed reads ----------------------------------------------------------- */
/* Each checks the node's type, marks it used and stores the value. On a wrong
 * type it returns NE_ERR_INVALID with the message
 * `file:line:col: "key" must be <type>, not <type>`. */

/* Checks that a node is a map or an array (and marks it used). */
int ne_conf_expect(ne_conf *conf, ne_conf_node *node, ne_conf_type type);
/* STRING only. *text is NUL-terminated; len may be NULL. */
int ne_conf_as_string(ne_conf *conf, ne_conf_node *node, const char **text, size_t *len);
/* INT only (size suffixes are already applied). */
int ne_conf_as_int(ne_conf *conf, ne_conf_node *node, int64_t *out);
/* FLOAT, or INT converted. */
int ne_conf_as_float(ne_conf *conf, ne_conf_node *node, double *out);
int ne_conf_as_bool(ne_conf *conf, ne_conf_node *node, bool *out);
/* A byte size as nats-server's jetstream limits read it (getStorageSize): an
 * INT, or a STRING of digits with one of the suffixes K M G T (x1024^n, upper
 * case only; "" is 0). */
int ne_conf_as_size(ne_conf *conf, ne_conf_node *node, int64_t *bytes);
/* A duration as nats-server's ping_interval and write_deadline read it: a
 * STRING in Go's duration syntax ("2s", "1h30m", "1.5ms", "300us"), or a
 * plain INT meaning seconds. Sub-millisecond parts are truncated toward zero.
 * (nats-server's lame_duck_duration takes strings only, authorization timeout
 * is a number of seconds read with ne_conf_as_float: check the type first
 * where that matters.) NE_ERR_RANGE when it does not fit in int64 ns. */
int ne_conf_duration_ms(ne_conf *conf, ne_conf_node *node, int64_t *ms);

/* The same, by key in a map (ne_conf_find). NE_ERR_NOT_FOUND, with no
 * message, when the key is absent. */
int ne_conf_get_string(ne_conf *conf, ne_conf_node *map, const char *key, const char **text,
                       size_t *len);
int ne_conf_get_int(ne_conf *conf, ne_conf_node *map, const char *key, int64_t *out);
int ne_conf_get_float(ne_conf *conf, ne_conf_node *map, const char *key, double *out);
int ne_conf_get_bool(ne_conf *conf, ne_conf_node *map, const char *key, bool *out);
int ne_conf_get_size(ne_conf *conf, ne_conf_node *map, const char *key, int64_t *bytes);
int ne_conf_get_duration_ms(ne_conf *conf, ne_conf_node *map, const char *key, int64_t *ms);

/* Go's time.ParseDuration over text[0..len): signed sequence of decimal
 * numbers with units ns us µs ms s m h; "0" alone needs no unit. Returns
 * NE_OK, NE_ERR_PARSE or NE_ERR_RANGE. Pure: no message. */
int ne_conf_parse_duration(const char *text, size_t len, int64_t *ns);

/* ---- Unknown keys ---------------------------------------------------------- */

/* The first (then next, after `prev`) live entry of `map` that was never read
 * and is not referenced as a $variable: what nats-server reports as
 * `unknown field`. A key that only serves as a variable is therefore not
 * reported, as in nats-server; one defined but never referenced nor read is.
 * NULL when there is none. */
ne_conf_node *ne_conf_first_unused(ne_conf *conf, ne_conf_node *map);
ne_conf_node *ne_conf_next_unused(ne_conf *conf, ne_conf_node *map, ne_conf_node *prev);

/* True when the node's key is `key` (lowercase), compared without regard to
 * case as nats-server compares keys. */
bool ne_conf_key_is(const ne_conf *conf, const ne_conf_node *node, const char *key);

/* For the readers of one block (server, cluster, leafnodes, mqtt): writes the
 * parser's last error into err (cap bytes) and returns NE_ERR_INVALID. */
int ne_conf_fail(const ne_conf *conf, char *err, size_t cap);

/* Writes `file:line:col: <what>` for the node into err (cap bytes) and
 * returns rc. */
int ne_conf_fail_at(const ne_conf *conf, const ne_conf_node *node, char *err, size_t cap, int rc,
                    const char *what);

/* Sets the message `file:line:col: unknown field "key"` for a node and
 * returns NE_ERR_INVALID. */
int ne_conf_unknown_field(ne_conf *conf, const ne_conf_node *node);

/* The arena's bytes a parse left unused, as scratch for a reader of the
 * configuration (a file it reads while applying it, e.g. a credentials file),
 * so that such a buffer need not be on the stack of a small board. Valid
 * until the next parse; *cap bytes. */
char *ne_conf_scratch(ne_conf *conf, size_t *cap);

/* ---- Refusing keys and reading on ------------------------------------------ */
/* nats-server reports every unknown field of a file in one run. A reader that
 * meets a key it does not take (unknown, or a feature not built) records it
 * here and goes on with the next key; when it is done, ne_conf_write_rejected
 * lists them all. A value that is wrong stops the reader at once as before
 * (ne_conf_error). */

/* Records `node` as refused and marks it used, so that the unused-key walk
 * does not report it twice. `what` is a static format with exactly one %s,
 * replaced by the key (NULL: `unknown field "%s"`). Kept in file order; past
 * NE_CONF_MAX_REJECTED only counted. Returns NE_OK: the reader goes on. */
int ne_conf_reject(ne_conf *conf, ne_conf_node *node, const char *what);

/* Keys refused so far (all of them, also those beyond the kept ones). */
uint32_t ne_conf_rejected_count(const ne_conf *conf);

/* Writes one line per refused key, "file:line:col: <what>", separated by
 * '\n', into out (NUL-terminated). Lines that do not fit, whole, together
 * with a last line saying how many were left out, are left out, and that last
 * line says so ("(3 more not shown)"): never a cut line. Returns the length
 * written; 0 when there is nothing to write or cap cannot hold even the
 * last line. */
size_t ne_conf_write_rejected(const ne_conf *conf, char *out, size_t cap);

#endif
