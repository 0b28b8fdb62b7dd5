/* The POSIX network port: non-blocking TCP sockets and an epoll loop. */
#ifndef NE_POSIX_NET_H
#define NE_POSIX_NET_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "ne_config.h"
#include "port.h"

/* File descriptors the port can track; a socket whose number is beyond this
 * is closed at once (connections are bounded far below it anyway). */
#ifndef NE_POSIX_MAX_FDS
#define NE_POSIX_MAX_FDS (NE_CONN_POOL_SIZE * 2 + 64)
#endif

typedef struct ne_posix_fd {
    void *user;
    uint32_t events; /* epoll interest currently registered */
    bool attached;
} ne_posix_fd;

typedef struct ne_posix_net {
    int epoll_fd;
    ne_posix_fd fds[NE_POSIX_MAX_FDS];
} ne_posix_net;

/* Opens the epoll instance and fills `net` with this port's ops. The fd
 * table must be all zero bytes (static storage, or a port whose sockets were
 * all closed: closing clears an entry): init leaves it alone, so the entries
 * of descriptors never opened cost no resident memory. */
int ne_posix_net_init(ne_posix_net *pn, ne_net *net);
void ne_posix_net_deinit(ne_posix_net *pn);

/* Runs the event loop until *stop becomes non-zero or the server has
 * finished (lame duck mode closed every client). Each turn waits for
 * events (bounded by the server's next timer), dispatches them and ends the
 * turn. Returns 0, or a negative ne_err if epoll fails. */
int ne_posix_run(ne_posix_net *pn, const ne_loop *loop, volatile sig_atomic_t *stop);

#endif
