/* lwIP options for natsedge-tap (natsedge over lwIP on a Linux TAP device).
 *
 * NO_SYS=1 raw API, no heap from libc: lwIP's own memory comes from static
 * memp pools and a static MEM_SIZE heap (for the copies tcp_write makes).
 * Sizes follow natsedge's config/: one TCP pcb per socket the lwIP port can
 * hold, a receive window and a send buffer per connection, and a pbuf pool
 * that holds every connection's full window (received data stays queued
 * until the broker reads it). */
#ifndef NE_BOARD_LWIPOPTS_H
#define NE_BOARD_LWIPOPTS_H

#include "ne_config.h"

#define NO_SYS 1
#define LWIP_SOCKET 0
#define LWIP_NETCONN 0
#define SYS_LIGHTWEIGHT_PROT 0
#define LWIP_TIMERS 1

#define MEM_LIBC_MALLOC 0
#define MEMP_MEM_MALLOC 0
#define MEM_ALIGNMENT 8

#define LWIP_ARP 1
#define LWIP_ETHERNET 1
#define LWIP_IPV4 1
#define LWIP_IPV6 0
#define LWIP_ICMP 1
#define LWIP_RAW 0
#define LWIP_UDP 0
#define LWIP_DHCP 0
#define LWIP_DNS 0
#define LWIP_IGMP 0
#define LWIP_STATS 0
#define LWIP_NETIF_LOOPBACK 0
#define LWIP_HAVE_LOOPIF 0
#define IP_REASSEMBLY 0
#define IP_FRAG 0

/* TCP: full-size segments, an 8-segment window and a 16-segment send
 * buffer: enough in flight that the peer acknowledges at once rather than
 * after its delayed-ACK timer, so a subscriber drains at link speed. */
#define LWIP_TCP 1
#define TCP_MSS 1460
#define TCP_WND (8 * TCP_MSS)
#define TCP_SND_BUF (16 * TCP_MSS)
#define TCP_SND_QUEUELEN (4 * TCP_SND_BUF / TCP_MSS)
#define TCP_QUEUE_OOSEQ 0
#define TCP_LISTEN_BACKLOG 0

/* Pools from natsedge's config: NE_CONN_POOL_SIZE + 6 is the lwIP port's
 * socket table (port/lwip/ne_lwip_net.h); a few more pcbs linger in
 * TIME_WAIT. */
#define NE_LWIP_CONNS (NE_CONN_POOL_SIZE + 6)
#define MEMP_NUM_TCP_PCB (NE_LWIP_CONNS + 8)
#define MEMP_NUM_TCP_PCB_LISTEN 4
#define MEMP_NUM_TCP_SEG (NE_LWIP_CONNS * TCP_SND_QUEUELEN)
#define MEMP_NUM_PBUF 16
#define MEMP_NUM_ARP_QUEUE 8
#define ARP_TABLE_SIZE 8
#define PBUF_POOL_BUFSIZE 1536
#define PBUF_POOL_SIZE (NE_LWIP_CONNS * 8 + 16)
/* Send-side copies: every connection's send buffer may be full at once. */
#define MEM_SIZE (NE_LWIP_CONNS * (TCP_SND_BUF + 4 * 64) + 8192)

#endif
