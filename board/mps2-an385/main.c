/* natsedge firmware for the MPS2 AN385 (Cortex-M3) board: the broker core
 * over lwIP (port/lwip) on the board's LAN9118, logging to the UART.
 *
 * One loop, no RTOS: poll the NIC, run lwIP's timers, report socket events
 * to the broker, end the broker's turn; sleep until the next interrupt
 * (SysTick, every millisecond) when nothing is ready. The address is static:
 * 10.0.2.15/24 with gateway 10.0.2.2, what QEMU's user networking expects. */
#include <string.h>

#include "core/ne_error.h"
#include "core/ne_fmt.h"
#include "core/ne_log.h"
#include "lan9118.h"
#include "lwip/init.h"
#include "lwip/ne_lwip_net.h"
#include "lwip/netif.h"
#include "lwip/timeouts.h"
#include "mps2.h"
#include "netif/ethernet.h"
#include "server/ne_server.h"

#define MPS2_IP "10.0.2.15"
#define MPS2_NETMASK "255.255.255.0"
#define MPS2_GATEWAY "10.0.2.2"
#define MPS2_NATS_PORT 4222
#define MPS2_MQTT_PORT 1883
#define MPS2_FRAMES_PER_TURN 16
#define MPS2_WRITE_DEADLINE_MS 2000

static ne_server g_server;
static ne_loop g_loop;
static ne_lwip_net g_lnet;
static lan9118 g_lan;
static struct netif g_netif;

static void log_write(void *ctx, ne_log_level level, const char *line, size_t len)
{
    (void)ctx;
    char head[16];
    size_t n = ne_fmt(head, sizeof(head), "[%s] ", ne_log_tag(level));
    mps2_console_write(head, n);
    mps2_console_write(line, len);
    mps2_console_write("\r\n", 2);
}

static int start_network(const ne_log *log)
{
    ip4_addr_t ip, mask, gw;
    (void)ip4addr_aton(MPS2_IP, &ip);
    (void)ip4addr_aton(MPS2_NETMASK, &mask);
    (void)ip4addr_aton(MPS2_GATEWAY, &gw);
    lwip_init();
    g_lan.base = MPS2_LAN9118_BASE;
    if (netif_add(&g_netif, &ip, &mask, &gw, &g_lan, lan9118_netif_init, ethernet_input) == NULL) {
        ne_log_error(log, "LAN9118 not found or not ready");
        return NE_ERR_IO;
    }
    netif_set_default(&g_netif);
    netif_set_up(&g_netif);
    const uint8_t *mac = g_netif.hwaddr;
    ne_log_info(log, "lwIP %s on LAN9118 %02x:%02x:%02x:%02x:%02x:%02x, address %s",
                LWIP_VERSION_STRING, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], MPS2_IP);
    return NE_OK;
}

/* The options (7 KiB) live on the stack only while the broker starts: the
 * loop reuses that stack. */
static __attribute__((noinline)) int start_broker(ne_log *log)
{
    ne_server_options opts;
    ne_server_options_default(&opts);
    strcpy(opts.host, "0.0.0.0");
    opts.port = MPS2_NATS_PORT;
    /* A consumer that stops reading holds chunks every other client needs:
     * on this board it is cut after 2 s instead of nats-server's 10 s. */
    opts.write_deadline_ms = MPS2_WRITE_DEADLINE_MS;
#if NE_FEATURE_MQTT
    /* The tiny-mqtt profile: MQTT clients on 1883 beside NATS. */
    opts.mqtt.enabled = true;
    strcpy(opts.mqtt.host, "0.0.0.0");
    opts.mqtt.port = MPS2_MQTT_PORT;
#endif
    ne_net net;
    (void)ne_lwip_net_init(&g_lnet, &net);
    if (ne_server_init(&g_server, &opts, &net, log) != NE_OK ||
        ne_server_start(&g_server) != NE_OK) {
        ne_log_error(log, "The broker did not start");
        return NE_ERR_IO;
    }
    ne_server_loop(&g_server, &g_loop);
    return NE_OK;
}

int main(void)
{
    mps2_board_init();
    static ne_log log = {NE_LOG_INFO, log_write, NULL};
    if (start_network(&log) != NE_OK || start_broker(&log) != NE_OK) {
        return 1;
    }
    for (;;) {
        (void)lan9118_poll(&g_netif, MPS2_FRAMES_PER_TURN);
        sys_check_timeouts();
        (void)ne_lwip_dispatch(&g_lnet, &g_loop);
        ne_server_turn_end(&g_server);
        /* Sleep only when nothing is ready and the broker has no work left
         * for this turn (SysTick wakes the CPU every millisecond). */
        if (!ne_lwip_ready(&g_lnet) && ne_lwip_sleep_ms(&g_loop) > 0) {
            mps2_wait_for_interrupt();
        }
    }
}
