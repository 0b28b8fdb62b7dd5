/* An lwIP netif for the SMSC LAN9118 Ethernet controller, polled (no
 * interrupt): frames are moved through the chip's FIFOs by the CPU. */
#ifndef NE_MPS2_LAN9118_H
#define NE_MPS2_LAN9118_H

#include "lwip/netif.h"

typedef struct lan9118 {
    uintptr_t base;
    uint32_t rx_frames, tx_frames, rx_dropped, rx_errors, tx_dropped;
} lan9118;

/* netif_add's init function; the netif's state must be a lan9118 whose
 * base is set. Resets the chip, reads its MAC address, enables RX and TX. */
err_t lan9118_netif_init(struct netif *netif);

/* Feeds up to `max` received frames to lwIP; returns how many. */
int lan9118_poll(struct netif *netif, int max);

#endif
