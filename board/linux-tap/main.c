/* natsedge-tap: the broker over lwIP on a Linux TAP device.
 *
 * It proves the lwIP port (port/lwip) on any Linux host: the same core as
 * the natsedge binary, with lwIP's TCP/IP stack instead of the kernel's. The
 * host reaches it through the TAP device at the address given to lwIP.
 *
 *   natsedge-tap --tap <dev> --tap-ip <ip> [--tap-mask <mask>] [--tap-gw <ip>]
 *                [natsedge flags: -p, --max_payload, ...]
 *
 * The device must exist or be creatable (root or CAP_NET_ADMIN); whoever
 * runs it gives the host side an address and brings the link up. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../linux/cli.h"
#include "core/ne_error.h"
#include "core/ne_log.h"
#include "lwip/init.h"
#include "lwip/ne_lwip_net.h"
#include "lwip/netif.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"
#include "server/ne_server.h"
#include "tapif.h"

#define TAP_MAX_ARGS 64
#define TAP_FRAMES_PER_TURN 64

static ne_server g_server;
static ne_loop g_loop;
static ne_lwip_net g_lnet;
static ne_tapif g_tap;
static struct netif g_netif;
static volatile sig_atomic_t g_stop;

typedef struct tap_options {
    const char *dev;
    const char *ip;
    const char *mask;
    const char *gw;
} tap_options;

void ne_lwip_diag(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

static void log_write(void *ctx, ne_log_level level, const char *line, size_t len)
{
    (void)ctx;
    fprintf(stderr, "[%ld] [%s] %.*s\n", (long)getpid(), ne_log_tag(level), (int)len, line);
    fflush(stderr);
}

static void on_signal(int sig)
{
    g_stop = sig;
}

/* Takes the --tap* flags out of argv; the rest is natsedge's own flags. */
static int split_args(int argc, char **argv, tap_options *tap, char **rest, int *rest_count)
{
    *rest_count = 0;
    for (int i = 0; i < argc; i++) {
        const char **slot = NULL;
        if (strcmp(argv[i], "--tap") == 0) {
            slot = &tap->dev;
        } else if (strcmp(argv[i], "--tap-ip") == 0) {
            slot = &tap->ip;
        } else if (strcmp(argv[i], "--tap-mask") == 0) {
            slot = &tap->mask;
        } else if (strcmp(argv[i], "--tap-gw") == 0) {
            slot = &tap->gw;
        }
        if (slot != NULL) {
            if (i + 1 >= argc) {
                fprintf(stderr, "natsedge-tap: %s needs a value\n", argv[i]);
                return -1;
            }
            *slot = argv[++i];
            continue;
        }
        if (*rest_count >= TAP_MAX_ARGS) {
            fprintf(stderr, "natsedge-tap: too many arguments\n");
            return -1;
        }
        rest[(*rest_count)++] = argv[i];
    }
    if (tap->dev == NULL || tap->ip == NULL) {
        fprintf(stderr, "usage: natsedge-tap --tap <dev> --tap-ip <ip> [--tap-mask <mask>] "
                        "[--tap-gw <ip>] [natsedge flags]\n");
        return -1;
    }
    return 0;
}

static int start_lwip(const tap_options *opt)
{
    ip4_addr_t ip, mask, gw;
    if (!ip4addr_aton(opt->ip, &ip) || !ip4addr_aton(opt->mask, &mask) ||
        !ip4addr_aton(opt->gw != NULL ? opt->gw : "0.0.0.0", &gw)) {
        fprintf(stderr, "natsedge-tap: bad --tap-ip, --tap-mask or --tap-gw\n");
        return -1;
    }
    int rc = ne_tapif_open(&g_tap, opt->dev);
    if (rc != 0) {
        fprintf(stderr, "natsedge-tap: cannot open TAP device %s: %s\n", opt->dev, strerror(-rc));
        return -1;
    }
    lwip_init();
    if (netif_add(&g_netif, &ip, &mask, &gw, &g_tap, ne_tapif_netif_init, ethernet_input) == NULL) {
        fprintf(stderr, "natsedge-tap: netif_add failed\n");
        return -1;
    }
    netif_set_default(&g_netif);
    netif_set_up(&g_netif);
    return 0;
}

/* One thread: frames in, lwIP timers, the broker's events, the broker's end
 * of turn; then sleep on the device until the next frame or timer. */
static void run(void)
{
    while (!g_stop && !ne_server_finished(&g_server)) {
        (void)ne_tapif_poll(&g_netif, TAP_FRAMES_PER_TURN);
        sys_check_timeouts();
        (void)ne_lwip_dispatch(&g_lnet, &g_loop);
        ne_server_turn_end(&g_server);
        if (ne_lwip_ready(&g_lnet)) {
            continue;
        }
        struct pollfd pfd = {g_tap.fd, POLLIN, 0};
        uint32_t sleep_ms = ne_lwip_sleep_ms(&g_loop);
        (void)poll(&pfd, 1, sleep_ms > 1000 ? 1000 : (int)sleep_ms);
    }
}

int main(int argc, char **argv)
{
    tap_options tap = {NULL, NULL, "255.255.255.0", NULL};
    char *rest[TAP_MAX_ARGS];
    int rest_count = 0;
    if (split_args(argc, argv, &tap, rest, &rest_count) != 0) {
        return 2;
    }
    ne_server_options opts;
    ne_cli cli = {.opts = &opts};
    char err[512];
    switch (ne_cli_parse(&cli, rest_count, rest, err, sizeof(err), NULL)) {
    case NE_CLI_EXIT_OK:
        ne_cli_usage(argv[0]);
        return 0;
    case NE_CLI_USAGE:
        fprintf(stderr, "%s\n", err);
        return 2;
    case NE_CLI_REJECTED:
        fprintf(stderr, "natsedge-tap: %s\n", err);
        return 1;
    case NE_CLI_OK:
        break;
    }
    if (cli.config_file != NULL) {
        /* The TAP board proves the network port: flags only. */
        fprintf(stderr, "natsedge-tap: configuration files are not supported, use flags\n");
        return 1;
    }
    if (!cli.host_set) {
        strcpy(cli.opts->host, "0.0.0.0");
    }
    if (ne_server_options_check(cli.opts, err, sizeof(err)) != NE_OK) {
        fprintf(stderr, "natsedge-tap: %s\n", err);
        return 1;
    }
    ne_log log = {cli.trace   ? NE_LOG_TRACE
                  : cli.debug ? NE_LOG_DEBUG
                              : NE_LOG_INFO,
                  log_write, NULL};
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if (start_lwip(&tap) != 0) {
        return 1;
    }
    ne_net net;
    ne_lwip_net_init(&g_lnet, &net);
    if (ne_server_init(&g_server, cli.opts, &net, &log) != NE_OK ||
        ne_server_start(&g_server) != NE_OK) {
        return 1;
    }
    ne_log_info(&log, "lwIP %s on TAP device %s, address %s", LWIP_VERSION_STRING, g_tap.name,
                tap.ip);
    ne_server_loop(&g_server, &g_loop);
    run();
    if (g_stop != 0) {
        ne_log_info(&log, "Trapped \"%s\" signal", g_stop == SIGINT ? "interrupt" : "terminated");
    }
    ne_log_info(&log, "Initiating Shutdown...");
    ne_server_shutdown(&g_server);
    /* Let lwIP send the FINs and the last bytes before the process ends. */
    for (int i = 0; i < 50; i++) {
        (void)ne_tapif_poll(&g_netif, TAP_FRAMES_PER_TURN);
        sys_check_timeouts();
        usleep(2000);
    }
    close(g_tap.fd);
    return 0;
}
