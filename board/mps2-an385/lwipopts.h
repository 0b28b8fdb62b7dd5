/* lwIP options for the MPS2 AN385 firmware: NO_SYS=1 raw API, static pools
 * only (MEM_LIBC_MALLOC 0, MEMP_MEM_MALLOC 0), sized from natsedge's config
 * for a board with 128 KiB of RAM for everything.
 *
 * The sizing (docs/porting.md explains it): one pcb per socket the lwIP port
 * holds (NE_CONN_POOL_SIZE + 6) and a few in TIME_WAIT; a two-segment
 * window and send buffer per connection; a pbuf pool that holds one full
 * window for every client connection at once plus spares for ARP and acks
 * (more arrive only as the broker reads; a frame that finds the pool empty
 * is dropped and TCP resends it); a MEM_SIZE heap of one segment per client
 * for the copies of outgoing data. */
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
#define MEM_ALIGNMENT 4

#define LWIP_ARP 1
#define LWIP_ETHERNET 1
#define LWIP_IPV4 1
#define LWIP_IPV6 0
#define LWIP_ICMP 1
#define LWIP_RAW 0
/* UDP for DHCP alone (network { dhcp: true } in the configuration region;
 * off by default). */
#define LWIP_UDP 1
#define MEMP_NUM_UDP_PCB 1
#define LWIP_DHCP 1
#define LWIP_DNS 0
#define LWIP_IGMP 0
#define LWIP_STATS 0
#define LWIP_NETIF_LOOPBACK 0
#define LWIP_HAVE_LOOPIF 0
#define IP_REASSEMBLY 0
#define IP_FRAG 0
#define LWIP_NOASSERT 1

#define LWIP_TCP 1
#define TCP_MSS 1460
#define TCP_WND (2 * TCP_MSS)
#define TCP_SND_BUF (2 * TCP_MSS)
#define TCP_SND_QUEUELEN 8
#define TCP_QUEUE_OOSEQ 0
#define TCP_LISTEN_BACKLOG 0

#define NE_LWIP_CONNS (NE_CONN_POOL_SIZE + 6)
#define MEMP_NUM_TCP_PCB (NE_LWIP_CONNS + 4)
/* Clients, HTTP monitoring, and MQTT where the profile has it. */
#define MEMP_NUM_TCP_PCB_LISTEN (2 + NE_FEATURE_MQTT)
#define MEMP_NUM_TCP_SEG (NE_LWIP_CONNS * 4)
#define MEMP_NUM_PBUF 8
#define MEMP_NUM_ARP_QUEUE 4
#define ARP_TABLE_SIZE 4
#define PBUF_POOL_BUFSIZE 1524
#define PBUF_POOL_SIZE (NE_MAX_CONNECTIONS * 2 + 8)
#define MEM_SIZE (NE_MAX_CONNECTIONS * TCP_MSS + 2048)

#endif
