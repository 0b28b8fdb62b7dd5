/* natsedge firmware for the MPS2 AN385 (Cortex-M3) board: the broker core
 * over lwIP (port/lwip) on the board's LAN9118, logging to the UART.
 *
 * At boot the configuration region (conf_region.h) is read: a nats-server
 * configuration file in flash, applied onto the built-in defaults
 * (board_conf.h: clients on 4222, monitoring on 8222, 10.0.2.15/24 through
 * 10.0.2.2, what QEMU's user networking expects, or DHCP). A damaged region
 * or a refused configuration is logged on the UART, line by line, and the
 * board runs with the built-in defaults instead.
 *
 * One loop, no RTOS: poll the NIC, run lwIP's timers, report socket events
 * to the broker, end the broker's turn; sleep until the next interrupt
 * (SysTick, every millisecond) when nothing is ready. */
#include <string.h>

#include "board_conf.h"
#include "board_store.h"
#include "board_tls.h"
#include "conf_region.h"
#include "core/ne_error.h"
#include "core/ne_fmt.h"
#include "core/ne_log.h"
#include "lan9118.h"
#include "lwip/dhcp.h"
#include "lwip/init.h"
#include "lwip/ne_lwip_net.h"
#include "lwip/netif.h"
#include "lwip/timeouts.h"
#include "mps2.h"
#include "netif/ethernet.h"
#include "server/ne_server.h"

#define MPS2_FRAMES_PER_TURN 16

/* The parsed configuration lives in the server's storage: it is read and
 * applied before the server is initialised, which then takes the memory
 * over. So the region costs no RAM of its own. */
static union {
    ne_server server;
    ne_conf conf;
} g_mem;
_Static_assert(sizeof(ne_conf) <= sizeof(ne_server),
               "the configuration region's parse must fit in the server's storage: lower "
               "NE_CONF_ARENA_BYTES or NE_CONF_MAX_NODES in the profile");

static ne_loop g_loop;
static ne_lwip_net g_lnet;
static lan9118 g_lan;
static struct netif g_netif;
static bool g_dhcp_reported;

extern const ne_conf_region ne_board_conf_region;

static void log_write(void *ctx, ne_log_level level, const char *line, size_t len)
{
    (void)ctx;
    char head[16];
    size_t n = ne_fmt(head, sizeof(head), "[%s] ", ne_log_tag(level));
    mps2_console_write(head, n);
    mps2_console_write(line, len);
    mps2_console_write("\r\n", 2);
}

/* Each line of a report (one per refused key) as a log line of its own. */
static void log_lines(const ne_log *log, ne_log_level level, const char *text)
{
    const char *line = text;
    for (uint32_t guard = 0; *line != '\0' && guard < NE_CONF_MAX_REJECTED + 4; guard++) {
        const char *end = strchr(line, '\n');
        size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
        ne_logf(log, level, "Configuration: %.*s", (int)len, line);
        line = end != NULL ? end + 1 : line + len;
    }
}

/* The configuration region onto the defaults, or the defaults alone.
 * Returns whether the region's configuration was applied. */
static __attribute__((noinline)) bool read_configuration(ne_server_options *opts,
                                                         mps2_settings *set, const ne_log *log)
{
    mps2_defaults(opts, set);
    const ne_conf_region *region = &ne_board_conf_region;
    const char *text;
    size_t len;
    char err[512];
    int rc = mps2_region_text(region, &text, &len, err, sizeof(err));
    if (rc == NE_OK && len == 0) {
        ne_log_info(log, "Configuration region empty: the built-in defaults");
        return false;
    }
    char name[NE_CONF_REGION_NAME_BYTES + 1];
    memcpy(name, region->header.name, NE_CONF_REGION_NAME_BYTES);
    name[NE_CONF_REGION_NAME_BYTES] = '\0';
    if (name[0] == '\0') {
        memcpy(name, "config", sizeof("config"));
    }
    if (rc == NE_OK) {
        ne_log_info(log, "Configuration region: %s (%u bytes)", name, (unsigned)len);
        rc = mps2_apply_text(&g_mem.conf, name, text, len, opts, set, err, sizeof(err));
    }
    /* A remote's trust anchor is read while the parse (its files { }) is
     * still there: the server's initialisation reuses its storage. */
    if (rc == NE_OK && mps2_tls_load(opts, set, log) != NE_OK) {
        ne_log_warn(log, "Configuration refused: running with the built-in defaults");
        mps2_defaults(opts, set);
        return false;
    }
    if (rc != NE_OK) {
        log_lines(log, NE_LOG_ERROR, err);
        ne_log_warn(log, "Configuration refused: running with the built-in defaults");
        mps2_defaults(opts, set);
        return false;
    }
    return true;
}

static int start_network(const mps2_settings *set, const ne_log *log)
{
    ip4_addr_t ip, mask, gw;
    ip4_addr_set_zero(&ip);
    ip4_addr_set_zero(&mask);
    ip4_addr_set_zero(&gw);
    if (!set->dhcp) {
        ip4_addr_set_u32(&ip, lwip_htonl(set->address));
        ip4_addr_set_u32(&mask, lwip_htonl(set->netmask));
        ip4_addr_set_u32(&gw, lwip_htonl(set->gateway));
    }
    lwip_init();
    g_lan.base = MPS2_LAN9118_BASE;
    if (netif_add(&g_netif, &ip, &mask, &gw, &g_lan, lan9118_netif_init, ethernet_input) == NULL) {
        ne_log_error(log, "LAN9118 not found or not ready");
        return NE_ERR_IO;
    }
    netif_set_default(&g_netif);
    netif_set_up(&g_netif);
    const uint8_t *mac = g_netif.hwaddr;
    char address[16];
    mps2_ipv4_text(set->address, address, sizeof(address));
    ne_log_info(log, "lwIP %s on LAN9118 %02x:%02x:%02x:%02x:%02x:%02x, address %s",
                LWIP_VERSION_STRING, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5],
                set->dhcp ? "from DHCP" : address);
    if (set->dhcp && dhcp_start(&g_netif) != ERR_OK) {
        ne_log_error(log, "DHCP did not start");
        return NE_ERR_IO;
    }
    return NE_OK;
}

/* Once DHCP has bound an address, say which. */
static void report_dhcp(const ne_log *log)
{
    if (g_dhcp_reported || !dhcp_supplied_address(&g_netif)) {
        return;
    }
    g_dhcp_reported = true;
    char address[16], mask[16], gateway[16];
    mps2_ipv4_text(lwip_ntohl(ip4_addr_get_u32(netif_ip4_addr(&g_netif))), address,
                   sizeof(address));
    mps2_ipv4_text(lwip_ntohl(ip4_addr_get_u32(netif_ip4_netmask(&g_netif))), mask, sizeof(mask));
    mps2_ipv4_text(lwip_ntohl(ip4_addr_get_u32(netif_ip4_gw(&g_netif))), gateway, sizeof(gateway));
    ne_log_info(log, "DHCP: address %s, netmask %s, gateway %s", address, mask, gateway);
}

/* The options (5 KiB) and the settings live on the stack only while the
 * board starts: the loop reuses that stack. */
static __attribute__((noinline)) int boot(ne_log *log, bool *dhcp)
{
    ne_server_options opts;
    mps2_settings set;
    bool configured = read_configuration(&opts, &set, log);
    log->level = set.trace ? NE_LOG_TRACE : set.debug ? NE_LOG_DEBUG : NE_LOG_INFO;
    *dhcp = set.dhcp;
    if (start_network(&set, log) != NE_OK) {
        return NE_ERR_IO;
    }
    ne_net net;
    (void)ne_lwip_net_init(&g_lnet, &net);
    if (ne_server_init(&g_mem.server, &opts, &net, log) != NE_OK) {
        ne_log_error(log, "The broker did not start");
        return NE_ERR_IO;
    }
    /* The region's name, NUL-terminated by the tool, lives in flash. */
    if (configured && ne_board_conf_region.header.name[0] != '\0' &&
        memchr(ne_board_conf_region.header.name, '\0', NE_CONF_REGION_NAME_BYTES) != NULL) {
        ne_server_set_config_file(&g_mem.server, ne_board_conf_region.header.name);
    }
    mps2_store_setup(&g_mem.server, log);
    mps2_tls_attach(&g_mem.server);
    if (ne_server_start(&g_mem.server) != NE_OK) {
        ne_log_error(log, "The broker did not start");
        return NE_ERR_IO;
    }
    ne_server_loop(&g_mem.server, &g_loop);
    return NE_OK;
}

int main(void)
{
    mps2_board_init();
    static ne_log log = {NE_LOG_INFO, log_write, NULL};
    bool dhcp = false;
    if (boot(&log, &dhcp) != NE_OK) {
        return 1;
    }
    for (;;) {
        (void)lan9118_poll(&g_netif, MPS2_FRAMES_PER_TURN);
        sys_check_timeouts();
        if (dhcp) {
            report_dhcp(&log);
        }
        (void)ne_lwip_dispatch(&g_lnet, &g_loop);
        ne_server_turn_end(&g_mem.server);
        /* Sleep only when nothing is ready and the broker has no work left
         * for this turn (SysTick wakes the CPU every millisecond). */
        if (!ne_lwip_ready(&g_lnet) && ne_lwip_sleep_ms(&g_loop) > 0) {
            mps2_wait_for_interrupt();
        }
    }
}
