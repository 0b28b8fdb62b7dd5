/* The lwIP network port: natsedge's ne_net over lwIP's raw TCP API
 * (NO_SYS=1, one thread).
 *
 * lwIP calls back (accept, recv, sent, err, poll) from inside its own input
 * processing and timers; those callbacks only record state in the socket
 * table. ne_lwip_dispatch, called by the board's loop after it has fed
 * received frames to lwIP and run lwIP's timers, turns that state into the
 * core's level-triggered readiness events (ne_server_handle_io), so that the
 * core never runs inside an lwIP callback.
 *
 * Back-pressure: received pbufs stay queued on their socket until the core
 * reads them, and the receive window is reopened (tcp_recved) only for the
 * bytes the core took. A socket is writable while lwIP's send buffer and
 * segment queue have room; the core's bytes are copied into lwIP's buffers
 * (TCP_WRITE_FLAG_COPY), so its chunks return to the pool at once.
 *
 * The board owns lwIP itself: lwip_init, the netif and its driver, and
 * sys_check_timeouts. sys_now comes from this port (ne_port_now_ms).
 */
#ifndef NE_LWIP_NET_H
#define NE_LWIP_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "ne_config.h"
#include "port.h"

struct tcp_pcb;
struct pbuf;

/* Sockets the port tracks: every connection the core can hold, its
 * listeners, and a few more so that a connection beyond the core's pool is
 * accepted and refused with nats-server's -ERR rather than reset. */
#ifndef NE_LWIP_MAX_SOCKETS
#define NE_LWIP_MAX_SOCKETS (NE_CONN_POOL_SIZE + 6)
#endif

typedef struct ne_lwip_sock {
    struct ne_lwip_net *net; /* the table it belongs to (lwIP callbacks get the socket) */
    struct tcp_pcb *pcb;     /* NULL once lwIP has freed it (err callback) */
    struct pbuf *rx;         /* received bytes the core has not read yet */
    void *user;              /* the core's handle for events */
    uint32_t accept_seq;     /* order of arrival, for accept() */
    int16_t listener;        /* pending connections: the listening socket */
    uint8_t state;           /* NE_LWIP_SOCK_* (ne_lwip_net.c) */
    bool attached;
    bool want_read;
    bool want_write;
    bool eof;        /* the peer sent FIN */
    bool failed;     /* reset or aborted: the pcb is gone */
    bool connecting; /* outbound, not established yet */
    bool refused;    /* outbound: reset before it was established */
} ne_lwip_sock;

typedef struct ne_lwip_net {
    ne_lwip_sock socks[NE_LWIP_MAX_SOCKETS];
    uint32_t next_accept_seq;
    uint64_t refused; /* connections lwIP offered with no free socket */
} ne_lwip_net;

/* Fills `net` with this port's ops over the socket table `ln`. lwIP must
 * already be initialised (lwip_init) by the board. */
int ne_lwip_net_init(ne_lwip_net *ln, ne_net *net);

/* Reports every ready socket to the server (one pass over the table) and
 * returns how many events were reported: 0 means the loop may sleep until
 * the next frame or timer. */
int ne_lwip_dispatch(ne_lwip_net *ln, const ne_loop *loop);

/* True when a socket would report an event now: the loop must not sleep. */
bool ne_lwip_ready(const ne_lwip_net *ln);

/* Milliseconds the board's loop may sleep: the nearer of lwIP's next timer
 * and the server's next timer. */
uint32_t ne_lwip_sleep_ms(const ne_loop *loop);

#endif
