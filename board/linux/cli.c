#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"

typedef enum flag_type { FLAG_BOOL, FLAG_STRING, FLAG_INT } flag_type;

typedef enum flag_id {
    F_ADDR,
    F_PORT,
    F_NAME,
    F_CONFIG,
    F_LOG,
    F_PID,
    F_DEBUG,
    F_TRACE,
    F_DEBUG_TRACE,
    F_TRACE_VERBOSE,
    F_DEBUG_TRACE_VERBOSE,
    F_LOGTIME,
    F_TEST,
    F_VERSION,
    F_HELP,
    F_PORTS_FILE_DIR,
    F_HTTP_PORT,
    F_USER,
    F_PASS,
    F_AUTH,
    F_TLS,
    F_TLS_CERT,
    F_TLS_KEY,
    F_TLS_VERIFY,
    F_TLS_CA,
    F_HTTPS_PORT,
    F_SIGNAL,
    F_ROUTES,
    F_CLUSTER,
    F_CLUSTER_NAME,
    F_CLUSTER_ADVERTISE,
    F_NO_ADVERTISE,
    F_CONNECT_RETRIES,
    F_JETSTREAM,
    F_STORE_DIR,
    F_LATER, /* known to nats-server, feature not built yet */
} flag_id;

typedef struct flag_def {
    const char *name;
    flag_type type;
    flag_id id;
    const char *later; /* for F_LATER: what is missing */
} flag_def;

static const flag_def flags[] = {
    {"a", FLAG_STRING, F_ADDR, NULL},
    {"addr", FLAG_STRING, F_ADDR, NULL},
    {"net", FLAG_STRING, F_ADDR, NULL},
    {"p", FLAG_INT, F_PORT, NULL},
    {"port", FLAG_INT, F_PORT, NULL},
    {"n", FLAG_STRING, F_NAME, NULL},
    {"name", FLAG_STRING, F_NAME, NULL},
    {"server_name", FLAG_STRING, F_NAME, NULL},
    {"c", FLAG_STRING, F_CONFIG, NULL},
    {"config", FLAG_STRING, F_CONFIG, NULL},
    {"l", FLAG_STRING, F_LOG, NULL},
    {"log", FLAG_STRING, F_LOG, NULL},
    {"P", FLAG_STRING, F_PID, NULL},
    {"pid", FLAG_STRING, F_PID, NULL},
    {"D", FLAG_BOOL, F_DEBUG, NULL},
    {"debug", FLAG_BOOL, F_DEBUG, NULL},
    {"V", FLAG_BOOL, F_TRACE, NULL},
    {"trace", FLAG_BOOL, F_TRACE, NULL},
    {"DV", FLAG_BOOL, F_DEBUG_TRACE, NULL},
    {"VV", FLAG_BOOL, F_TRACE_VERBOSE, NULL},
    {"DVV", FLAG_BOOL, F_DEBUG_TRACE_VERBOSE, NULL},
    {"T", FLAG_BOOL, F_LOGTIME, NULL},
    {"logtime", FLAG_BOOL, F_LOGTIME, NULL},
    {"t", FLAG_BOOL, F_TEST, NULL},
    {"v", FLAG_BOOL, F_VERSION, NULL},
    {"version", FLAG_BOOL, F_VERSION, NULL},
    {"h", FLAG_BOOL, F_HELP, NULL},
    {"help", FLAG_BOOL, F_HELP, NULL},
    {"ports_file_dir", FLAG_STRING, F_PORTS_FILE_DIR, NULL},
    {"m", FLAG_INT, F_HTTP_PORT, NULL},
    {"http_port", FLAG_INT, F_HTTP_PORT, NULL},
    {"ms", FLAG_INT, F_HTTPS_PORT, NULL},
    {"https_port", FLAG_INT, F_HTTPS_PORT, NULL},
    {"user", FLAG_STRING, F_USER, NULL},
    {"pass", FLAG_STRING, F_PASS, NULL},
    {"auth", FLAG_STRING, F_AUTH, NULL},
    {"js", FLAG_BOOL, F_JETSTREAM, NULL},
    {"jetstream", FLAG_BOOL, F_JETSTREAM, NULL},
    {"sd", FLAG_STRING, F_STORE_DIR, NULL},
    {"store_dir", FLAG_STRING, F_STORE_DIR, NULL},
    {"tls", FLAG_BOOL, F_TLS, NULL},
    {"tlscert", FLAG_STRING, F_TLS_CERT, NULL},
    {"tlskey", FLAG_STRING, F_TLS_KEY, NULL},
    {"tlsverify", FLAG_BOOL, F_TLS_VERIFY, NULL},
    {"tlscacert", FLAG_STRING, F_TLS_CA, NULL},
#if NE_FEATURE_ROUTES
    {"routes", FLAG_STRING, F_ROUTES, NULL},
    {"cluster", FLAG_STRING, F_CLUSTER, NULL},
    {"cluster_listen", FLAG_STRING, F_CLUSTER, NULL},
    {"cluster_name", FLAG_STRING, F_CLUSTER_NAME, NULL},
    {"cluster_advertise", FLAG_STRING, F_CLUSTER_ADVERTISE, NULL},
    {"no_advertise", FLAG_BOOL, F_NO_ADVERTISE, NULL},
    {"connect_retries", FLAG_INT, F_CONNECT_RETRIES, NULL},
#else
    {"routes", FLAG_STRING, F_LATER, "clustering"},
    {"cluster", FLAG_STRING, F_LATER, "clustering"},
    {"cluster_name", FLAG_STRING, F_LATER, "clustering"},
    {"cluster_listen", FLAG_STRING, F_LATER, "clustering"},
    {"cluster_advertise", FLAG_STRING, F_LATER, "clustering"},
    {"no_advertise", FLAG_BOOL, F_LATER, "clustering"},
    {"connect_retries", FLAG_INT, F_LATER, "clustering"},
#endif
    {"client_advertise", FLAG_STRING, F_LATER, "client advertise"},
    {"sl", FLAG_STRING, F_SIGNAL, NULL},
    {"signal", FLAG_STRING, F_SIGNAL, NULL},
    {"s", FLAG_BOOL, F_LATER, "syslog"},
    {"syslog", FLAG_BOOL, F_LATER, "syslog"},
    {"r", FLAG_STRING, F_LATER, "remote syslog"},
    {"remote_syslog", FLAG_STRING, F_LATER, "remote syslog"},
    {"log_size_limit", FLAG_INT, F_LATER, "log rotation"},
    {"max_traced_msg_len", FLAG_INT, F_LATER, "traced message truncation"},
    {"profile", FLAG_INT, F_LATER, "profiling"},
    {"help_tls", FLAG_BOOL, F_LATER, "the TLS help text (see docs/tls.md)"},
};

static const flag_def *find_flag(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        if (strlen(flags[i].name) == len && memcmp(flags[i].name, name, len) == 0) {
            return &flags[i];
        }
    }
    return NULL;
}

/* strconv.ParseBool's accepted spellings. */
static bool parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};
    for (size_t i = 0; i < 6; i++) {
        if (strcmp(v, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcmp(v, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

static bool parse_int(const char *v, long *out)
{
    if (*v == '\0') {
        return false;
    }
    char *end = NULL;
    long n = strtol(v, &end, 0);
    if (*end != '\0') {
        return false;
    }
    *out = n;
    return true;
}

static void copy_text(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src);
}

/* The cluster flags, read as nats-server reads them: --routes replaces the
 * file's routes (URLs separated by commas), --cluster and --cluster_listen
 * are the route listener's URL (port -1: a free one). */
static ne_cli_status apply_cluster(ne_cli *cli, const flag_def *f, const char *value,
                                   bool bool_value, long int_value, char *err, size_t err_cap)
{
#if NE_FEATURE_ROUTES
    ne_cluster_options *c = &cli->opts->cluster;
    switch (f->id) {
    case F_ROUTES:
        if (!cli->routes_set) {
            c->route_count = 0;
            cli->routes_set = true;
        }
        return ne_route_apply_routes_flag(value, c, err, err_cap) == NE_OK ? NE_CLI_OK
                                                                           : NE_CLI_REJECTED;
    case F_CLUSTER:
        return ne_route_apply_listen_url(value, c, err, err_cap) == NE_OK ? NE_CLI_OK
                                                                          : NE_CLI_REJECTED;
    case F_CLUSTER_NAME:
        if (strlen(value) >= sizeof(c->name)) {
            snprintf(err, err_cap, "flag -%s: name too long", f->name);
            return NE_CLI_REJECTED;
        }
        copy_text(c->name, sizeof(c->name), value);
        return NE_CLI_OK;
    case F_CLUSTER_ADVERTISE:
        if (strlen(value) >= sizeof(c->advertise)) {
            snprintf(err, err_cap, "flag -%s: address too long", f->name);
            return NE_CLI_REJECTED;
        }
        copy_text(c->advertise, sizeof(c->advertise), value);
        return NE_CLI_OK;
    case F_NO_ADVERTISE:
        c->no_advertise = bool_value;
        return NE_CLI_OK;
    case F_CONNECT_RETRIES:
        c->connect_retries = int_value < 0 ? 0u : (uint32_t)int_value;
        return NE_CLI_OK;
    default:
        break;
    }
#endif
    (void)cli;
    (void)value;
    (void)bool_value;
    (void)int_value;
    snprintf(err, err_cap, "flag -%s: clustering is not built in", f->name);
    return NE_CLI_REJECTED;
}

static ne_cli_status apply(ne_cli *cli, const flag_def *f, const char *value, bool bool_value,
                           long int_value, char *err, size_t err_cap)
{
    switch (f->id) {
    case F_ADDR:
        copy_text(cli->opts->host, sizeof(cli->opts->host), value);
        cli->host_set = true;
        break;
    case F_PORT:
        /* -1 asks for a random port, as nats-server's RANDOM_PORT. */
        if (int_value < -1 || int_value > 65535) {
            snprintf(err, err_cap, "invalid port %ld", int_value);
            return NE_CLI_USAGE;
        }
        cli->opts->port = int_value == -1 ? 0 : (uint16_t)int_value;
        cli->port_set = true;
        break;
    case F_NAME:
        copy_text(cli->opts->server_name, sizeof(cli->opts->server_name), value);
        cli->name_set = true;
        break;
    case F_CONFIG:
        cli->config_file = value;
        break;
    case F_LOG:
        cli->log_file = value;
        break;
    case F_PID:
        cli->pid_file = value;
        break;
    case F_SIGNAL:
        cli->signal_command = value;
        break;
    case F_DEBUG:
        cli->debug = bool_value;
        break;
    case F_TRACE:
    case F_TRACE_VERBOSE:
        cli->trace = bool_value;
        break;
    case F_DEBUG_TRACE:
    case F_DEBUG_TRACE_VERBOSE:
        cli->debug = bool_value;
        cli->trace = bool_value;
        break;
    case F_LOGTIME:
        cli->logtime = bool_value;
        break;
    case F_TEST:
        cli->test_config = bool_value;
        break;
    case F_VERSION:
        cli->show_version = bool_value;
        break;
    case F_HELP:
        cli->show_help = bool_value;
        break;
    case F_USER:
        copy_text(cli->opts->auth_user, sizeof(cli->opts->auth_user), value);
        break;
    case F_PASS:
        copy_text(cli->opts->auth_pass, sizeof(cli->opts->auth_pass), value);
        break;
    case F_AUTH:
        copy_text(cli->opts->auth_token, sizeof(cli->opts->auth_token), value);
        break;
    case F_HTTP_PORT:
        /* As nats-server: 0 leaves monitoring off, -1 picks a free port. */
        if (int_value < -1 || int_value > 65535) {
            snprintf(err, err_cap, "invalid monitoring port %ld", int_value);
            return NE_CLI_USAGE;
        }
        cli->opts->http_enabled = int_value != 0;
        cli->opts->http_port = int_value == -1 ? 0 : (uint16_t)int_value;
        break;
    case F_TLS:
        cli->opts->tls = bool_value;
        break;
    case F_TLS_VERIFY:
        /* As nats-server: --tlsverify implies --tls. */
        cli->opts->tls_verify = bool_value;
        cli->opts->tls = cli->opts->tls || bool_value;
        break;
    case F_TLS_CERT:
    case F_TLS_KEY:
    case F_TLS_CA: {
        char *dst = f->id == F_TLS_CERT  ? cli->opts->tls_cert_file
                    : f->id == F_TLS_KEY ? cli->opts->tls_key_file
                                         : cli->opts->tls_ca_file;
        if (strlen(value) >= NE_TLS_PATH_BYTES) {
            snprintf(err, err_cap, "flag -%s: path longer than NE_TLS_PATH_BYTES", f->name);
            return NE_CLI_REJECTED;
        }
        copy_text(dst, NE_TLS_PATH_BYTES, value);
        break;
    }
    case F_HTTPS_PORT:
        if (int_value < -1 || int_value > 65535) {
            snprintf(err, err_cap, "invalid monitoring port %ld", int_value);
            return NE_CLI_USAGE;
        }
        cli->opts->http_enabled = int_value != 0;
        cli->opts->https = int_value != 0;
        cli->opts->http_port = int_value == -1 ? 0 : (uint16_t)int_value;
        break;
    case F_PORTS_FILE_DIR:
        cli->ports_file_dir = value;
        break;
    case F_ROUTES:
    case F_CLUSTER:
    case F_CLUSTER_NAME:
    case F_CLUSTER_ADVERTISE:
    case F_NO_ADVERTISE:
    case F_CONNECT_RETRIES:
        return apply_cluster(cli, f, value, bool_value, int_value, err, err_cap);
    case F_JETSTREAM:
        cli->opts->js.enabled = bool_value;
        break;
    case F_STORE_DIR:
        if (strlen(value) >= sizeof(cli->opts->js.store_dir)) {
            snprintf(err, err_cap, "flag -%s: path longer than NE_JS_STORE_DIR_BYTES", f->name);
            return NE_CLI_REJECTED;
        }
        copy_text(cli->opts->js.store_dir, sizeof(cli->opts->js.store_dir), value);
        break;
    case F_LATER:
        snprintf(err, err_cap, "flag -%s: %s is not supported yet in natsedge (see differences.md)",
                 f->name, f->later);
        return NE_CLI_REJECTED;
    }
    return NE_CLI_OK;
}

ne_cli_status ne_cli_parse(ne_cli *cli, int argc, char **argv, char *err, size_t err_cap,
                           const ne_cli *base)
{
    ne_server_options *opts = cli->opts;
    NE_ASSERT(opts != NULL);
    if (base != NULL) {
        if (base != cli) {
            *cli = *base;
            cli->opts = opts;
            if (opts != base->opts) {
                *opts = *base->opts;
            }
        }
    } else {
        memset(cli, 0, sizeof(*cli));
        cli->opts = opts;
        ne_server_options_default(opts);
        cli->logtime = true;
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] != '-' || arg[1] == '\0') {
            snprintf(err, err_cap, "unexpected argument %s", arg);
            return NE_CLI_USAGE;
        }
        const char *name = arg + 1;
        if (name[0] == '-') {
            name++;
            if (name[0] == '\0') {
                if (i + 1 < argc) {
                    snprintf(err, err_cap, "unexpected argument %s", argv[i + 1]);
                    return NE_CLI_USAGE;
                }
                break; /* "--" ends the flags */
            }
        }
        if (name[0] == '-' || name[0] == '=') {
            snprintf(err, err_cap, "bad flag syntax: %s", arg);
            return NE_CLI_USAGE;
        }
        const char *eq = strchr(name, '=');
        size_t name_len = eq != NULL ? (size_t)(eq - name) : strlen(name);
        const flag_def *f = find_flag(name, name_len);
        if (f == NULL) {
            snprintf(err, err_cap, "flag provided but not defined: -%.*s", (int)name_len, name);
            return NE_CLI_USAGE;
        }
        const char *value = eq != NULL ? eq + 1 : NULL;
        bool bool_value = true;
        long int_value = 0;
        if (f->type == FLAG_BOOL) {
            if (value != NULL && !parse_bool(value, &bool_value)) {
                snprintf(err, err_cap, "invalid boolean value \"%s\" for -%s", value, f->name);
                return NE_CLI_USAGE;
            }
        } else {
            if (value == NULL) {
                if (i + 1 >= argc) {
                    snprintf(err, err_cap, "flag needs an argument: -%s", f->name);
                    return NE_CLI_USAGE;
                }
                value = argv[++i];
            }
            if (f->type == FLAG_INT && !parse_int(value, &int_value)) {
                snprintf(err, err_cap, "invalid value \"%s\" for flag -%s: parse error", value,
                         f->name);
                return NE_CLI_USAGE;
            }
        }
        ne_cli_status st = apply(cli, f, value, bool_value, int_value, err, err_cap);
        if (st != NE_CLI_OK) {
            return st;
        }
    }
    if ((cli->opts->auth_user[0] != '\0') != (cli->opts->auth_pass[0] != '\0')) {
        snprintf(err, err_cap, "--user and --pass must be given together");
        return NE_CLI_REJECTED;
    }
    if (cli->opts->auth_token[0] != '\0' && cli->opts->auth_user[0] != '\0') {
        snprintf(err, err_cap, "--auth cannot be combined with --user/--pass");
        return NE_CLI_REJECTED;
    }
    /* The monitor listens on the client address unless the configuration
     * named one, as nats-server's http_host defaults to host. */
    if (cli->opts->http_host[0] == '\0' || cli->host_set) {
        snprintf(cli->opts->http_host, sizeof(cli->opts->http_host), "%s", cli->opts->host);
    }
    if (cli->show_help || cli->show_version) {
        return NE_CLI_EXIT_OK;
    }
    /* With a configuration file these are checked on the second pass, when
     * the file's tls block is known. */
    bool settled = base != NULL || cli->config_file == NULL;
    if (settled && cli->opts->tls &&
        (cli->opts->tls_cert_file[0] == '\0' || cli->opts->tls_key_file[0] == '\0')) {
        snprintf(err, err_cap, "TLS Server certificate must be present and valid");
        return NE_CLI_REJECTED;
    }
    if (settled && cli->opts->https && !cli->opts->tls) {
        snprintf(err, err_cap, "HTTPS monitoring needs TLS: a tls block or --tlscert/--tlskey");
        return NE_CLI_REJECTED;
    }
    if (settled && cli->opts->tls_verify && cli->opts->tls_ca_file[0] == '\0') {
        snprintf(err, err_cap, "TLS verify needs a CA file (--tlscacert or tls.ca_file)");
        return NE_CLI_REJECTED;
    }
    return NE_CLI_OK;
}

void ne_cli_usage(const char *prog)
{
    printf(
        "Usage: %s [options]\n\n"
        "Server Options:\n"
        "    -a, --addr, --net <host>         Bind to host address (default: 0.0.0.0)\n"
        "    -p, --port <port>                Use port for clients (default: 4222, -1 random)\n"
        "    -n, --name, --server_name <name> Server name (default: server id)\n"
        "    -P, --pid <file>                 File to store PID\n"
        "        --ports_file_dir <dir>       Creates a ports file in the specified directory\n"
        "    -m, --http_port <port>           HTTP monitoring port (-1: a free port)\n"
        "    -c, --config <file>              Configuration file\n"
        "    -t                               Test configuration and exit\n"
        "    -sl, --signal <cmd>[=<pid>]      Signal a running server: ldm, reload, reopen,\n"
        "                                     quit, term, stop (pid: a number or pid file)\n"
        "\nLogging Options:\n"
        "    -l, --log <file>                 File to redirect log output\n"
        "    -T, --logtime                    Timestamp log entries (default: true)\n"
        "    -D, --debug                      Enable debugging output\n"
        "    -V, --trace                      Trace the raw protocol\n"
        "    -DV                              Debug and trace\n"
        "\nCommon Options:\n"
        "    -h, --help                       Show this message\n"
        "    -v, --version                    Show version\n"
        "\nAuthorization Options:\n"
        "        --user <user>                User required for connections\n"
        "        --pass <password>            Password required for connections\n"
        "        --auth <token>               Authorization token required for connections\n"
        "\nJetStream Options (docs/jetstream.md):\n"
        "    -js, --jetstream                 Enable JetStream functionality\n"
        "    -sd, --store_dir <dir>           Set the storage directory\n"
        "\nTLS Options (docs/tls.md):\n"
        "        --tls                        Enable TLS, do not verify clients\n"
        "        --tlscert <file>             Server certificate file\n"
        "        --tlskey <file>              Private key for server certificate\n"
        "        --tlsverify                  Enable TLS, verify client certificates\n"
        "        --tlscacert <file>           Client certificate CA for verification\n"
        "    -ms, --https_port <port>         HTTPS monitoring port (-1: a free port)\n"
        "\nCluster Options (docs/cluster.md):\n"
        "        --routes <rurl-1, rurl-2>    Routes to solicit and connect\n"
        "        --cluster <cluster-url>      Cluster URL for solicited routes\n"
        "        --cluster_name <string>      Cluster Name, if not set one will be dynamically "
        "generated\n"
        "        --no_advertise <bool>        Do not advertise known cluster information to "
        "clients\n"
        "        --cluster_advertise <string> Cluster URL to advertise to other servers\n"
        "        --connect_retries <number>   For implicit routes, number of connect retries\n"
        "        --cluster_listen <url>       Cluster url from which members can solicit routes\n"
        "\nNot yet supported (rejected with exit code 1):\n"
        "-s/--syslog. See differences.md.\n",
        prog);
}
