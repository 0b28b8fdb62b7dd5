/* Compile-time bounds of the config-file parser (src/conf).
 *
 * One ne_conf structure holds a whole parsed configuration: its nodes, its
 * strings and the text of the files being read. Its size is fixed by the knobs
 * below; sizeof(ne_conf) is about
 *   NE_CONF_MAX_NODES * 32 + NE_CONF_ARENA_BYTES + NE_CONF_MAX_FILES * 4
 *   + NE_CONF_ERROR_BYTES + (NE_CONF_MAX_DEPTH + NE_CONF_MAX_INCLUDE_DEPTH) * 40
 *   + (NE_CONF_MAX_INCLUDE_DEPTH + NE_CONF_MAX_ENV_DEPTH) * 56 bytes.
 * A configuration that needs more than a bound is refused with an error that
 * names the knob to raise; it never overruns. A profile may override any of
 * them (it is included before this file).
 */
#ifndef NE_CONFIG_CONF_H
#define NE_CONFIG_CONF_H

/* Values in one configuration: every key/value pair, array item, map and array
 * is one node (the root map too). Includes and variables add nodes like the
 * values they bring. One unit costs 32 B. */
#ifndef NE_CONF_MAX_NODES
#define NE_CONF_MAX_NODES 1024
#endif

/* Bytes for the text of a configuration: keys, string values (escapes
 * resolved, NUL-terminated), file names, and, while parsing, the text of the
 * main file and of every include and environment value being read at that
 * moment (released once read). Must exceed NE_CONF_MAX_FILE_BYTES for a file
 * of that size to fit. Costs this many bytes. */
#ifndef NE_CONF_ARENA_BYTES
#define NE_CONF_ARENA_BYTES (32 * 1024)
#endif

/* Largest single file (main or included) or environment-variable value the
 * parser reads. A larger one is refused. Costs no RAM by itself (the text sits
 * in the arena while it is read). */
#ifndef NE_CONF_MAX_FILE_BYTES
#define NE_CONF_MAX_FILE_BYTES (16 * 1024)
#endif

/* Deepest nesting of maps and arrays (the root map is not counted), across
 * included files and maps copied by $variables: a reader can walk the tree
 * with a stack this deep. Deeper input is refused. One unit costs about 40 B
 * of parser state. */
#ifndef NE_CONF_MAX_DEPTH
#define NE_CONF_MAX_DEPTH 16
#endif

/* Deepest chain of `include` (a file including a file ...). It also stops an
 * include cycle. One unit costs about 96 B of parser state. */
#ifndef NE_CONF_MAX_INCLUDE_DEPTH
#define NE_CONF_MAX_INCLUDE_DEPTH 8
#endif

/* Deepest chain of environment variables whose value refers to another
 * environment variable ($A whose value is $B ...). It also stops a cycle.
 * One unit costs about 56 B of parser state. */
#ifndef NE_CONF_MAX_ENV_DEPTH
#define NE_CONF_MAX_ENV_DEPTH 4
#endif

/* Files one configuration may be made of (main file plus every include, each
 * time it is included). At most 255. One unit costs 4 B (the name itself sits
 * in the arena). */
#ifndef NE_CONF_MAX_FILES
#define NE_CONF_MAX_FILES 16
#endif

/* Longest error message ("file:line:col: message"); longer ones are cut.
 * Costs this many bytes. */
#ifndef NE_CONF_ERROR_BYTES
#define NE_CONF_ERROR_BYTES 256
#endif

/* Keys a reader refuses while it reads on (unknown fields, features not built
 * yet) that one run reports together, each with its position. Beyond this
 * many, the report ends with how many more there were. One unit costs 8 B
 * (16 B on 64-bit hosts). */
#ifndef NE_CONF_MAX_REJECTED
#define NE_CONF_MAX_REJECTED 16
#endif

#endif /* NE_CONFIG_CONF_H */
