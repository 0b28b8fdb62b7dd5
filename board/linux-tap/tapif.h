/* A minimal lwIP netif over a Linux TAP device: Ethernet frames read from
 * and written to /dev/net/tun. */
#ifndef NE_BOARD_TAPIF_H
#define NE_BOARD_TAPIF_H

#include "lwip/netif.h"

typedef struct ne_tapif {
    int fd;
    char name[16];
    uint64_t rx_frames, tx_frames, rx_dropped;
} ne_tapif;

/* Opens (or creates) the TAP device `name`, non-blocking. 0 or -errno. */
int ne_tapif_open(ne_tapif *tap, const char *name);

/* netif_add's init function; the netif's state must be the ne_tapif. */
err_t ne_tapif_netif_init(struct netif *netif);

/* Feeds every frame waiting on the device to lwIP (at most `max` frames).
 * Returns how many were read. */
int ne_tapif_poll(struct netif *netif, int max);

#endif
