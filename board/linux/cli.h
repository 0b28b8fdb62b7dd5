/* nats-server's command-line flags, parsed with the rules of Go's flag
 * package: -name, --name, -name=value, --name=value, and for non-boolean
 * flags "-name value". Boolean flags take a value only after '='. */
#ifndef NE_BOARD_CLI_H
#define NE_BOARD_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "route/ne_route_conf.h"
#include "server/ne_server.h"

typedef struct ne_cli {
    /* Where the options are parsed: the caller's storage, set before
     * ne_cli_parse (the server's own on the linux board: see its main). */
    ne_server_options *opts;
    bool port_set, host_set, name_set;
    bool routes_set; /* --routes seen: it replaced the file's routes */
    const char *config_file;
    const char *log_file;
    const char *pid_file;
    const char *ports_file_dir;
    const char *signal_command; /* -sl/--signal: signal a running server and exit */
    bool debug, trace, logtime;
    bool test_config;
    bool show_version;
    bool show_help;
} ne_cli;

typedef enum ne_cli_status {
    NE_CLI_OK = 0,
    NE_CLI_EXIT_OK = 1,  /* -h / -v: print and exit 0 */
    NE_CLI_USAGE = 2,    /* syntax error: message, usage, exit 2 (Go's flag package) */
    NE_CLI_REJECTED = 3, /* a known flag whose feature is not built yet: exit 1 */
} ne_cli_status;

/* Parses argv into cli and the options cli->opts points to (the caller
 * sets it), on top of `base`: the defaults when NULL; the values of a
 * configuration file otherwise, so that flags override the file. `base` may
 * be `cli` itself (the file's values parsed into it, the flags written over
 * them); another base is copied, its options into cli's. On error writes a
 * one-line message into err. */
ne_cli_status ne_cli_parse(ne_cli *cli, int argc, char **argv, char *err, size_t err_cap,
                           const ne_cli *base);

/* Writes the usage text to stdout. */
void ne_cli_usage(const char *prog);

#endif
