#include "tapif.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "lwip/etharp.h"
#include "lwip/pbuf.h"
#include "netif/ethernet.h"

#define TAP_FRAME_BYTES 1518

int ne_tapif_open(ne_tapif *tap, const char *name)
{
    memset(tap, 0, sizeof(*tap));
    tap->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (tap->fd < 0) {
        return -errno;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
    if (ioctl(tap->fd, TUNSETIFF, &ifr) < 0) {
        int err = errno;
        close(tap->fd);
        tap->fd = -1;
        return -err;
    }
    memcpy(tap->name, ifr.ifr_name, sizeof(tap->name) - 1);
    return 0;
}

/* One frame out: lwIP hands a pbuf chain, the device takes one write. */
static err_t tap_linkoutput(struct netif *netif, struct pbuf *p)
{
    ne_tapif *tap = netif->state;
    uint8_t frame[TAP_FRAME_BYTES];
    if (p->tot_len > sizeof(frame)) {
        return ERR_BUF;
    }
    u16_t len = pbuf_copy_partial(p, frame, p->tot_len, 0);
    ssize_t n = write(tap->fd, frame, len);
    if (n != (ssize_t)len) {
        return ERR_IF;
    }
    tap->tx_frames++;
    return ERR_OK;
}

err_t ne_tapif_netif_init(struct netif *netif)
{
    ne_tapif *tap = netif->state;
    netif->name[0] = 't';
    netif->name[1] = 'p';
    netif->output = etharp_output;
    netif->linkoutput = tap_linkoutput;
    netif->mtu = 1500;
    netif->hwaddr_len = 6;
    /* A locally administered address, different per device name. */
    uint8_t mac[6] = {0x02, 0x4e, 0x45, 0x00, 0x00, 0x01};
    for (size_t i = 0; tap->name[i] != '\0' && i < sizeof(tap->name); i++) {
        mac[3 + i % 3] ^= (uint8_t)tap->name[i];
    }
    memcpy(netif->hwaddr, mac, 6);
    netif->flags =
        NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_LINK_UP;
    return ERR_OK;
}

int ne_tapif_poll(struct netif *netif, int max)
{
    ne_tapif *tap = netif->state;
    int frames = 0;
    for (; frames < max; frames++) {
        uint8_t frame[TAP_FRAME_BYTES];
        ssize_t n = read(tap->fd, frame, sizeof(frame));
        if (n <= 0) {
            break;
        }
        struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)n, PBUF_POOL);
        if (p == NULL) {
            tap->rx_dropped++; /* pool exhausted: TCP retransmits */
            continue;
        }
        pbuf_take(p, frame, (u16_t)n);
        tap->rx_frames++;
        if (netif->input(p, netif) != ERR_OK) {
            pbuf_free(p);
        }
    }
    return frames;
}
