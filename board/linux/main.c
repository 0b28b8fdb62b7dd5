/* The natsedge binary for Linux: flags, log sink, signals, and the event loop
 * of port/posix around one statically allocated server.
 *
 * Signals, as nats-server: SIGINT and SIGTERM stop (SIGTERM is ignored in
 * lame duck mode), SIGUSR1 reopens the log file, SIGUSR2 enters lame duck
 * mode, SIGHUP reloads the configuration file. A handler only sets a flag and
 * wakes the loop; the work happens between loop turns, on the loop's own
 * thread. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "signal_cmd.h"
#include "core/ne_error.h"
#include "core/ne_log.h"
#include "posix/ne_file_flash.h"
#include "posix/ne_posix_net.h"
#include "server/ne_server.h"
#include "server/ne_server_conf.h"
#include "cluster_tls.h"
#include "js_store.h"
#include "leaf_tls.h"
#include "mqtt_tls.h"
#include "tls_setup.h"

/* Room for a configuration's report: every refused key on its own line
 * (NE_CONF_MAX_REJECTED of them, each with a file name and position) and the
 * first wrong value. */
#define NE_BOARD_ERROR_BYTES 4096

static ne_server g_server;
static ne_loop g_loop;
/* The parsed file lives as long as the options point into it; a reload
 * parses into the other one and they swap roles when it succeeds. */
static ne_conf g_confs[2];
static int g_conf_live;
static ne_posix_net g_net;
/* Set by the signal handler: g_wake ends ne_posix_run's loop, the others say
 * why. */
static volatile sig_atomic_t g_wake;
static volatile sig_atomic_t g_stop;
static volatile sig_atomic_t g_reopen;
static volatile sig_atomic_t g_lame_duck;
static volatile sig_atomic_t g_reload;

/* The log and pid file names in use: copies, since a reload reuses the parse
 * area the configured names pointed into. */
static char g_log_path[4096];
static char g_pid_path[4096];

typedef struct log_sink {
    FILE *out;
    const char *path; /* g_log_path, or NULL: stderr */
    bool logtime;
    long pid;
} log_sink;

/* nats-server's log line: "[pid] 2006/01/02 15:04:05.000000 [INF] text". */
static void log_write(void *ctx, ne_log_level level, const char *line, size_t len)
{
    log_sink *sink = ctx;
    char stamp[40] = "";
    if (sink->logtime) {
        struct timeval tv;
        gettimeofday(&tv, NULL);
        struct tm tm;
        localtime_r(&tv.tv_sec, &tm);
        size_t n = strftime(stamp, sizeof(stamp), "%Y/%m/%d %H:%M:%S", &tm);
        snprintf(stamp + n, sizeof(stamp) - n, ".%06ld ", (long)tv.tv_usec);
    }
    fprintf(sink->out, "[%ld] %s[%s] %.*s\n", sink->pid, stamp, ne_log_tag(level), (int)len, line);
    fflush(sink->out);
}

static void on_signal(int sig)
{
    if (sig == SIGUSR1) {
        g_reopen = 1;
    } else if (sig == SIGUSR2) {
        g_lame_duck = 1;
    } else if (sig == SIGHUP) {
        g_reload = 1;
    } else if (sig == SIGTERM && g_server.lame_duck != NE_LAME_DUCK_OFF) {
        /* Ignored once lame duck mode runs, as nats-server: the closing
         * goes on (SIGINT still stops at once). */
    } else {
        g_stop = sig;
    }
    g_wake = 1;
}

/* SIGUSR1: log rotation. The file was renamed (or removed) by the rotating
 * tool; opening the path again starts a new file, and only then is the old
 * stream closed, so a failed open keeps logging to the old one. */
static void reopen_log(log_sink *sink, const ne_log *log)
{
    if (sink->path == NULL) {
        ne_log_info(log, "File log re-open ignored, not a file logger");
        return;
    }
    FILE *f = fopen(sink->path, "a");
    if (f == NULL) {
        ne_log_error(log, "Could not re-open log file %s: %s", sink->path, strerror(errno));
        return;
    }
    FILE *old = sink->out;
    sink->out = f;
    fclose(old);
    ne_log_info(log, "File log re-opened");
}

static int write_pid_file(const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        return -1;
    }
    fprintf(f, "%ld", (long)getpid());
    return fclose(f);
}

static int write_ports_file(const char *dir, const char *prog, const ne_server *srv)
{
    const char *base = strrchr(prog, '/');
    base = base != NULL ? base + 1 : prog;
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s_%ld.ports", dir, base, (long)getpid());
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        return -1;
    }
    const char *host = strcmp(srv->opts.host, "0.0.0.0") == 0 ? "127.0.0.1" : srv->opts.host;
    if (srv->opts.http_enabled) {
        fprintf(f, "{\"nats\":[\"nats://%s:%u\"],\"monitoring\":[\"%s://%s:%u\"]}\n", host,
                (unsigned)ne_server_client_port(srv), srv->opts.https ? "https" : "http", host,
                (unsigned)ne_server_http_port(srv));
    } else {
        fprintf(f, "{\"nats\":[\"nats://%s:%u\"]}\n", host, (unsigned)ne_server_client_port(srv));
    }
    return fclose(f);
}

/* The configuration parser's file access: whole files, bounded. */
static int conf_load(void *ctx, const char *path, char *buf, size_t cap, size_t *len)
{
    (void)ctx;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return errno == ENOENT ? NE_ERR_NOT_FOUND : NE_ERR_IO;
    }
    size_t n = fread(buf, 1, cap, f);
    int extra = fgetc(f);
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        return NE_ERR_IO;
    }
    if (extra != EOF) {
        return NE_ERR_TOO_BIG;
    }
    *len = n;
    return NE_OK;
}

static const char *conf_getenv(void *ctx, const char *name)
{
    (void)ctx;
    return getenv(name);
}

/* Reads the configuration file into `base`: defaults, then the file. */
static int load_config(ne_conf *conf, const char *path, ne_cli *base, char *err, size_t err_cap)
{
    static const ne_conf_io io = {conf_load, conf_getenv, NULL};
    if (ne_conf_parse_file(conf, path, &io) != NE_OK) {
        snprintf(err, err_cap, "%s", ne_conf_error(conf));
        return -1;
    }
    ne_board_settings board = {NULL, NULL, NULL, false, false, true};
    if (ne_server_apply_conf(conf, base->opts, &board, err, err_cap) != NE_OK) {
        return -1;
    }
    base->log_file = board.log_file;
    base->pid_file = board.pid_file;
    base->ports_file_dir = board.ports_file_dir;
    base->debug = board.debug;
    base->trace = board.trace;
    base->logtime = board.logtime;
    base->config_file = path;
    return 0;
}

#if NE_MQTT_PERSIST
/* MQTT's storage device: one file, <store_dir>/mqtt.store, of
 * NE_STORE_MAX_BLOCKS erase blocks of 64 KiB (16 MiB with the default
 * knobs), created erased at the first start (docs/mqtt.md). */
#define STORE_FILE "mqtt.store"
#define STORE_ERASE_BYTES (64u * 1024u)
#define STORE_PROGRAM_BYTES 256u
static ne_file_flash g_store_file;
#endif

static int open_store(ne_server *srv, const char *dir, ne_log *log)
{
    if (dir == NULL || dir[0] == '\0') {
        return 0;
    }
#if NE_FEATURE_MQTT
    /* MQTT's device only where MQTT is served (JetStream makes its own). */
    if (!srv->opts.mqtt.enabled) {
        return 0;
    }
#endif
#if NE_MQTT_PERSIST
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        ne_log_error(log, "Could not create store_dir %s: %s", dir, strerror(errno));
        return -1;
    }
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/%s", dir, STORE_FILE) >= (int)sizeof(path)) {
        ne_log_error(log, "store_dir %s: path too long", dir);
        return -1;
    }
    ne_flash_geometry g = {STORE_PROGRAM_BYTES, STORE_ERASE_BYTES, NE_STORE_MAX_BLOCKS};
    int rc = ne_file_flash_open(&g_store_file, path, g);
    if (rc != NE_OK) {
        ne_log_error(log, "Could not open the store %s: %s", path, ne_err_name(rc));
        return -1;
    }
    ne_log_info(log, "Store: %s (%u blocks of %u KiB)", path, (unsigned)g.block_count,
                (unsigned)(g.erase_bytes / 1024u));
    ne_server_set_flash(srv, &g_store_file.flash);
    return 0;
#else
    (void)srv;
    ne_log_error(log, "store_dir %s: this build keeps no state (NE_MQTT_PERSIST is 0)", dir);
    return -1;
#endif
}

static bool same_path(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static ne_log_level log_level(const ne_cli *cli)
{
    return cli->trace ? NE_LOG_TRACE : cli->debug ? NE_LOG_DEBUG : NE_LOG_INFO;
}

/* The logging settings of a reload (the board's part): nats-server's
 * "Reloaded: <key> = <value>" lines. */
static void reload_logging(const ne_cli *cur, const ne_cli *next, log_sink *sink, ne_log *log)
{
    if (cur->trace != next->trace) {
        ne_log_info(log, "Reloaded: trace = %s", next->trace ? "true" : "false");
    }
    if (cur->debug != next->debug) {
        ne_log_info(log, "Reloaded: debug = %s", next->debug ? "true" : "false");
    }
    log->level = log_level(next);
    g_server.log.level = log->level;
    if (cur->logtime != next->logtime) {
        sink->logtime = next->logtime;
        ne_log_info(log, "Reloaded: logtime = %s", next->logtime ? "true" : "false");
    }
    if (!same_path(cur->log_file, next->log_file)) {
        FILE *f = next->log_file != NULL ? fopen(next->log_file, "a") : stderr;
        if (f == NULL) {
            ne_log_error(log, "Could not open log file %s: %s", next->log_file, strerror(errno));
            return;
        }
        if (sink->out != stderr) {
            fclose(sink->out);
        }
        sink->out = f;
        sink->path = NULL;
        if (next->log_file != NULL) {
            snprintf(g_log_path, sizeof(g_log_path), "%s", next->log_file);
            sink->path = g_log_path;
        }
        ne_log_info(log, "Reloaded: log_file = %s", next->log_file != NULL ? next->log_file : "");
    }
    if (!same_path(cur->pid_file, next->pid_file) && next->pid_file != NULL) {
        if (write_pid_file(next->pid_file) != 0) {
            ne_log_error(log, "Failed to write pidfile: %s", strerror(errno));
        } else {
            /* The new file is the one removed at exit; the old one is
             * left in place. */
            snprintf(g_pid_path, sizeof(g_pid_path), "%s", next->pid_file);
        }
        ne_log_info(log, "Reloaded: pid_file = %s", next->pid_file);
    }
}

/* SIGHUP: parse the file again (into the spare parse area), put the flags
 * on top as at start-up, and apply what can change at run time. Any error
 * leaves everything as it was. */
static void reload_config(ne_cli *cli, int argc, char **argv, log_sink *sink, ne_log *log)
{
    static const char failed[] = "Failed to reload server configuration";
    char err[NE_BOARD_ERROR_BYTES];
    if (cli->config_file == NULL) {
        ne_log_error(log, "%s: can only reload config when a file is provided using -c or --config",
                     failed);
        return;
    }
    int spare = 1 - g_conf_live;
    /* The file's values, then the flags on top, in one structure (as at
     * start-up: see main), into options of their own until the server
     * takes them. */
    ne_server_options next_opts;
    ne_cli next;
    memset(&next, 0, sizeof(next));
    next.opts = &next_opts;
    ne_server_options_default(next.opts);
    if (load_config(&g_confs[spare], cli->config_file, &next, err, sizeof(err)) != 0) {
        /* A report of several refused keys: one log line each. */
        char *line = err;
        for (int i = 0; line != NULL && *line != '\0' && i < NE_CONF_MAX_REJECTED + 2; i++) {
            char *end = strchr(line, '\n');
            if (end != NULL) {
                *end = '\0';
            }
            ne_log_error(log, "%s: %s", failed, line);
            line = end != NULL ? end + 1 : NULL;
        }
        return;
    }
    if (ne_cli_parse(&next, argc, argv, err, sizeof(err), &next) != NE_CLI_OK) {
        ne_log_error(log, "%s: %s", failed, err);
        return;
    }
    if (ne_server_reload(&g_server, next.opts, err, sizeof(err)) != NE_OK) {
        ne_log_error(log, "%s: %s", failed, err);
        return;
    }
    reload_logging(cli, &next, sink, log);
    next.opts = cli->opts; /* the server's, which ne_server_reload updated */
    *cli = next;
    g_conf_live = spare;
    ne_log_info(log, "Reloaded server configuration");
}

int main(int argc, char **argv)
{
    /* The options are parsed straight into the server's own: a second copy
     * of about 70 KiB (mostly unused tables: users, permissions, imports,
     * leaf remotes), on the stack or elsewhere, would be written whole at
     * start and stay resident. ne_server_init_zeroed then keeps them. */
    ne_cli cli = {.opts = &g_server.opts};
    char err[NE_BOARD_ERROR_BYTES];
    ne_cli_status st = ne_cli_parse(&cli, argc, argv, err, sizeof(err), NULL);
    if (st == NE_CLI_OK && cli.signal_command != NULL) {
        /* -sl: signal a running server and exit, as nats-server. */
        if (ne_board_signal_command(cli.signal_command, argv[0], err, sizeof(err)) != 0) {
            fprintf(stderr, "natsedge: %s\n", err);
            return 1;
        }
        return 0;
    }
    if (st == NE_CLI_OK && cli.config_file != NULL) {
        /* Flags override the file: parse the file, then the flags on top,
         * both into cli and its options (not into a second ne_cli copied
         * under the flags: see above). */
        const char *path = cli.config_file; /* in argv */
        memset(&cli, 0, sizeof(cli));
        cli.opts = &g_server.opts;
        ne_server_options_default(cli.opts);
        if (load_config(&g_confs[g_conf_live], path, &cli, err, sizeof(err)) != 0) {
            fprintf(stderr, "natsedge: %s\n", err);
            return 1;
        }
        st = ne_cli_parse(&cli, argc, argv, err, sizeof(err), &cli);
    }
    switch (st) {
    case NE_CLI_EXIT_OK:
        if (cli.show_help) {
            ne_cli_usage(argv[0]);
        } else {
            printf("natsedge: v%s (protocol level of nats-server v%s)\n", NE_VERSION,
                   NE_ADVERTISED_VERSION);
        }
        return 0;
    case NE_CLI_USAGE:
        fprintf(stderr, "%s\n", err);
        ne_cli_usage(argv[0]);
        return 2;
    case NE_CLI_REJECTED:
        fprintf(stderr, "natsedge: %s\n", err);
        return 1;
    case NE_CLI_OK:
        break;
    }
    if (ne_server_options_check(cli.opts, err, sizeof(err)) != NE_OK) {
        fprintf(stderr, "natsedge: %s\n", err);
        return 1;
    }
    /* The TLS files are read now, as nats-server reads them with its
     * configuration: -t catches a missing or mismatched file too. */
    if (ne_board_tls_check(cli.opts, cli.config_file != NULL ? &g_confs[g_conf_live] : NULL, err,
                           sizeof(err)) != NE_OK) {
        fprintf(stderr, "natsedge: %s\n", err);
        return 1;
    }
    if (cli.test_config) {
        if (cli.config_file != NULL) {
            printf("natsedge: configuration file %s is valid\n", cli.config_file);
        } else {
            printf("natsedge: configuration is valid\n");
        }
        return 0;
    }

    log_sink sink = {stderr, NULL, cli.logtime, (long)getpid()};
    if (cli.log_file != NULL) {
        snprintf(g_log_path, sizeof(g_log_path), "%s", cli.log_file);
        sink.path = g_log_path;
        sink.out = fopen(cli.log_file, "a");
        if (sink.out == NULL) {
            fprintf(stderr, "natsedge: cannot open log file %s: %s\n", cli.log_file,
                    strerror(errno));
            return 1;
        }
    }
    ne_log log = {log_level(&cli), log_write, &sink};

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    ne_net net;
    if (ne_posix_net_init(&g_net, &net) != 0) {
        fprintf(stderr, "natsedge: cannot create the event loop: %s\n", strerror(errno));
        return 1;
    }
    /* g_server is static and never used before: nothing to clear. */
    if (ne_server_init_zeroed(&g_server, cli.opts, &net, &log) != NE_OK) {
        ne_posix_net_deinit(&g_net);
        return 1;
    }
    ne_server_set_config_file(&g_server, cli.config_file);
    ne_board_js_store_setup(&g_server);
    if (open_store(&g_server, cli.opts->js.store_dir, &log) != 0 ||
        ne_board_tls_setup(&g_server) != NE_OK || ne_board_leaf_tls_setup(&g_server) != NE_OK ||
        ne_board_cluster_tls_setup(&g_server) != NE_OK ||
        ne_board_mqtt_tls_setup(&g_server) != NE_OK || ne_server_start(&g_server) != NE_OK) {
        ne_posix_net_deinit(&g_net);
        return 1;
    }
    if (cli.pid_file != NULL) {
        snprintf(g_pid_path, sizeof(g_pid_path), "%s", cli.pid_file);
    }
    if (cli.pid_file != NULL && write_pid_file(cli.pid_file) != 0) {
        ne_log_error(&log, "Could not write pidfile: %s", strerror(errno));
    }
    if (cli.ports_file_dir != NULL &&
        write_ports_file(cli.ports_file_dir, argv[0], &g_server) != 0) {
        ne_log_error(&log, "Error creating ports file: %s", strerror(errno));
    }
    ne_server_loop(&g_server, &g_loop);
    int rc;
    for (;;) {
        rc = ne_posix_run(&g_net, &g_loop, &g_wake);
        if (rc != 0 || g_stop != 0 || ne_server_finished(&g_server)) {
            break;
        }
        /* Cleared before the flags are read: a signal from now on wakes the
         * next run at once. */
        g_wake = 0;
        if (g_reopen) {
            g_reopen = 0;
            reopen_log(&sink, &log);
        }
        if (g_lame_duck) {
            g_lame_duck = 0;
            ne_server_enter_lame_duck(&g_server);
        }
        if (g_reload) {
            g_reload = 0;
            reload_config(&cli, argc, argv, &sink, &log);
        }
    }
    if (g_stop != 0) {
        ne_log_info(&log, "Trapped \"%s\" signal", g_stop == SIGINT ? "interrupt" : "terminated");
    }
    if (rc != 0) {
        ne_log_error(&log, "Event loop failed: %s", strerror(errno));
    }
    ne_log_info(&log, "Initiating Shutdown...");
    ne_server_shutdown(&g_server);
    ne_board_tls_teardown();
    ne_posix_net_deinit(&g_net);
    if (g_pid_path[0] != '\0') {
        unlink(g_pid_path);
    }
    if (sink.out != stderr) {
        fclose(sink.out);
    }
    return rc == 0 ? 0 : 1;
}
