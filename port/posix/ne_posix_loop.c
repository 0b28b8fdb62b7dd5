/* The POSIX event loop: epoll readiness dispatched to the server. */
#include <errno.h>
#include <sys/epoll.h>

#include "core/ne_error.h"
#include "posix/ne_posix_net.h"
#include "server/ne_server.h"

#define NE_POSIX_EVENTS_PER_WAIT 256

int ne_posix_run(ne_posix_net *pn, struct ne_server *srv, volatile sig_atomic_t *stop)
{
    struct epoll_event events[NE_POSIX_EVENTS_PER_WAIT];
    while (!*stop && !ne_server_finished(srv)) {
        int timeout = ne_server_next_timeout_ms(srv);
        int n = epoll_wait(pn->epoll_fd, events, NE_POSIX_EVENTS_PER_WAIT, timeout);
        if (n < 0) {
            if (errno == EINTR) {
                ne_server_turn_end(srv);
                continue;
            }
            return NE_ERR_IO;
        }
        for (int i = 0; i < n; i++) {
            uint32_t ev = events[i].events;
            bool readable = (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0;
            bool writable = (ev & EPOLLOUT) != 0;
            ne_server_handle_io(srv, events[i].data.ptr, readable, writable);
        }
        ne_server_turn_end(srv);
    }
    return NE_OK;
}
