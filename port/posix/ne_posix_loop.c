/* The POSIX event loop: epoll readiness dispatched to the server. */
#include <errno.h>
#include <sys/epoll.h>

#include "core/ne_error.h"
#include "posix/ne_posix_net.h"

#define NE_POSIX_EVENTS_PER_WAIT 256

int ne_posix_run(ne_posix_net *pn, const ne_loop *loop, volatile sig_atomic_t *stop)
{
    struct epoll_event events[NE_POSIX_EVENTS_PER_WAIT];
    while (!*stop && !loop->finished(loop->server)) {
        int timeout = loop->next_timeout_ms(loop->server);
        int n = epoll_wait(pn->epoll_fd, events, NE_POSIX_EVENTS_PER_WAIT, timeout);
        if (n < 0) {
            if (errno == EINTR) {
                loop->turn_end(loop->server);
                continue;
            }
            return NE_ERR_IO;
        }
        for (int i = 0; i < n; i++) {
            uint32_t ev = events[i].events;
            bool readable = (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0;
            bool writable = (ev & EPOLLOUT) != 0;
            loop->io(loop->server, events[i].data.ptr, readable, writable);
        }
        loop->turn_end(loop->server);
    }
    return NE_OK;
}
