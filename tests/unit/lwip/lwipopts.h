/* lwIP options for the lwIP port's unit test (test_lwip_port.c): NO_SYS=1,
 * static pools, and the loopback interface, so that the broker's sockets and
 * the test's raw clients live in one lwIP stack in one process. Both ends of
 * every connection take a pcb and pool buffers here. */
#ifndef NE_TEST_LWIPOPTS_H
#define NE_TEST_LWIPOPTS_H

#include "ne_config.h"

#define NO_SYS 1
#define LWIP_SOCKET 0
#define LWIP_NETCONN 0
#define SYS_LIGHTWEIGHT_PROT 0
#define LWIP_TIMERS 1

#define MEM_LIBC_MALLOC 0
#define MEMP_MEM_MALLOC 0
#define MEM_ALIGNMENT 8

#define LWIP_ARP 0
#define LWIP_ETHERNET 0
#define LWIP_IPV4 1
#define LWIP_IPV6 0
#define LWIP_ICMP 1
#define LWIP_RAW 0
#define LWIP_UDP 0
#define LWIP_DHCP 0
#define LWIP_DNS 0
#define LWIP_IGMP 0
#define LWIP_STATS 0
#define LWIP_NETIF_LOOPBACK 1
#define LWIP_HAVE_LOOPIF 1
#define LWIP_LOOPBACK_MAX_PBUFS 0
#define IP_REASSEMBLY 0
#define IP_FRAG 0

#define LWIP_TCP 1
#define TCP_MSS 1460
#define TCP_WND (4 * TCP_MSS)
#define TCP_SND_BUF (4 * TCP_MSS)
#define TCP_SND_QUEUELEN (4 * TCP_SND_BUF / TCP_MSS)
#define TCP_QUEUE_OOSEQ 0
#define TCP_LISTEN_BACKLOG 0

/* Every socket of the port (NE_CONN_POOL_SIZE + 6), twice (client and
 * server ends), and pcbs closing. */
#define NE_TEST_LWIP_CONNS (2 * (NE_CONN_POOL_SIZE + 6) + 16)
#define MEMP_NUM_TCP_PCB (NE_TEST_LWIP_CONNS + 32)
#define MEMP_NUM_TCP_PCB_LISTEN 4
#define MEMP_NUM_TCP_SEG (NE_TEST_LWIP_CONNS * 4)
#define MEMP_NUM_PBUF 64
#define PBUF_POOL_BUFSIZE 1536
#define PBUF_POOL_SIZE 256
#define MEM_SIZE (256 * 1024)

#endif
