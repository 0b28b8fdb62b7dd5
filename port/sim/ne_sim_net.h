/* A simulated network for tests: in-memory TCP connections between a test
 * (the "client side") and a server using the ne_net ops. Deterministic, no
 * sockets. The receive window of each client can be made small to force
 * partial writes, and either side can close at any byte.
 *
 * Several servers can share one network, each on its own host
 * (ne_sim_host_init): a server's outbound connect to a port another
 * server listens on becomes a pair of sockets, one on each host, so
 * servers talk to each other as over TCP (leaf links, routes, the RAFT
 * simulation). A connect to a port nobody listens on is left to the test,
 * which plays the peer (ne_sim_outbound).
 *
 * Drive it with ne_sim_net_step() (the first server) or ne_sim_host_step()
 * (any host): it reports readiness to that host's server the way the POSIX
 * event loop does, then ends the server's turn. ne_sim_partition cuts the
 * network between two hosts (the cluster tests' partitions and drops). */
#ifndef NE_SIM_NET_H
#define NE_SIM_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "port.h"

#ifndef NE_SIM_MAX_SOCKETS
#define NE_SIM_MAX_SOCKETS 32
#endif
#ifndef NE_SIM_BUFFER_BYTES
#define NE_SIM_BUFFER_BYTES (256 * 1024)
#endif

typedef struct ne_sim_pipe {
    uint8_t data[NE_SIM_BUFFER_BYTES];
    size_t len;
} ne_sim_pipe;

typedef struct ne_sim_socket {
    bool in_use;
    bool listener;
    bool accepted;      /* handed to the server by accept */
    bool server_closed; /* the server closed its end */
    bool client_closed; /* the test closed its end */
    bool want_write;
    bool want_read;
    bool attached;
    bool outbound; /* opened by the server's connect */
    uint8_t host;  /* the host whose server owns this end */
    int peer;      /* the other end on another host, -1: the test is the peer */
    void *user;
    uint16_t port;
    size_t client_window; /* most bytes the client side buffers (partial writes) */
    ne_sim_pipe to_server;
    ne_sim_pipe to_client;
} ne_sim_socket;

struct ne_sim_net;

/* One server's place on the network: the ne_net ctx its ops receive. */
typedef struct ne_sim_host {
    struct ne_sim_net *sim;
    uint8_t id;
} ne_sim_host;

#ifndef NE_SIM_MAX_PARTITIONS
#define NE_SIM_MAX_PARTITIONS 8
#endif

/* Two hosts that cannot reach each other (ne_sim_partition). */
typedef struct ne_sim_partition_pair {
    uint8_t a, b;
} ne_sim_partition_pair;

typedef struct ne_sim_net {
    ne_sim_host host0; /* the host of ne_sim_net_init's server */
    ne_sim_socket sockets[NE_SIM_MAX_SOCKETS];
    uint16_t next_port;
    bool refuse_connect; /* outbound connects fail (a peer that is down) */
    uint32_t connects;   /* outbound connects made */
    ne_sim_partition_pair partitions[NE_SIM_MAX_PARTITIONS];
    uint32_t partition_count;
} ne_sim_net;

/* Empties the network and gives `net` the ops of its first host. */
void ne_sim_net_init(ne_sim_net *sim, ne_net *net);
/* Another host on the same network (id 1..255, one per server). */
void ne_sim_host_init(ne_sim_net *sim, ne_sim_host *host, uint8_t id, ne_net *net);

/* Opens a client connection to the listener on `port`; returns its handle
 * (>= 0) or a negative ne_err when no simulated socket is free. */
int ne_sim_connect(ne_sim_net *sim, uint16_t port);
/* Bytes the test sends to the server. Returns bytes accepted. */
size_t ne_sim_client_write(ne_sim_net *sim, int client, const void *bytes, size_t len);
/* Takes up to cap bytes the server sent to this client. */
size_t ne_sim_client_read(ne_sim_net *sim, int client, void *buf, size_t cap);
/* The test side closes; the server sees end of stream. */
void ne_sim_client_close(ne_sim_net *sim, int client);
/* True once the server has closed its end. */
bool ne_sim_server_closed(const ne_sim_net *sim, int client);
/* Limits how many unread bytes the client side holds (default: all). */
void ne_sim_set_client_window(ne_sim_net *sim, int client, size_t bytes);
/* Releases the handle of a client closed on both sides. */
void ne_sim_release(ne_sim_net *sim, int client);

/* The handle of the newest open outbound connection the server made to
 * `port` (the test is its peer), or -1. */
int ne_sim_outbound(const ne_sim_net *sim, uint16_t port);

/* Partitions the network between hosts a and b: every connection between
 * them is cut (each side reads what was sent, then the end of the stream),
 * and a connect from one to a port the other listens on fails until
 * ne_sim_heal. At most NE_SIM_MAX_PARTITIONS pairs at once. */
void ne_sim_partition(ne_sim_net *sim, uint8_t a, uint8_t b);
void ne_sim_heal(ne_sim_net *sim, uint8_t a, uint8_t b);
/* Connections between servers (both ends on hosts) still open. */
uint32_t ne_sim_links(const ne_sim_net *sim);

/* One loop turn of the first host's server: dispatch every ready socket
 * to it, then end its turn. */
void ne_sim_net_step(ne_sim_net *sim, const ne_loop *loop);
/* The same for the server of one host. */
void ne_sim_host_step(ne_sim_host *host, const ne_loop *loop);

#endif
