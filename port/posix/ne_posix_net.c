#include "posix/ne_posix_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/ne_error.h"

static ne_posix_fd *fd_slot(ne_posix_net *pn, ne_sock sock)
{
    if (sock < 0 || sock >= NE_POSIX_MAX_FDS) {
        return NULL;
    }
    return &pn->fds[sock];
}

static int set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL, 0);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        return NE_ERR_IO;
    }
    return NE_OK;
}

static int parse_addr(const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(port);
        *len = sizeof(*in4);
        return NE_OK;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        *len = sizeof(*in6);
        return NE_OK;
    }
    return NE_ERR_INVALID;
}

static int net_listen(void *ctx, const char *host, uint16_t port, ne_sock *out)
{
    (void)ctx;
    struct sockaddr_storage ss;
    socklen_t len;
    const char *addr = (host[0] == '\0' || strcmp(host, "localhost") == 0) ? "127.0.0.1" : host;
    if (parse_addr(addr, port, &ss, &len) != NE_OK) {
        return NE_ERR_INVALID;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return NE_ERR_IO;
    }
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 512) != 0 ||
        set_nonblocking(fd) != NE_OK) {
        int saved = errno;
        close(fd);
        return saved == EADDRINUSE ? NE_ERR_EXISTS : NE_ERR_IO;
    }
    *out = fd;
    return NE_OK;
}

static void addr_text(const struct sockaddr_storage *ss, char *ip, uint16_t *port)
{
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, 46);
        *port = ntohs(in6->sin6_port);
    } else {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &in4->sin_addr, ip, 46);
        *port = ntohs(in4->sin_port);
    }
}

static int net_accept(void *ctx, ne_sock listener, ne_sock *out, char *peer_ip, uint16_t *peer_port)
{
    ne_posix_net *pn = ctx;
    /* Bounded: a descriptor beyond the table is closed and the next one tried. */
    for (int attempt = 0; attempt < 8; attempt++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd = accept4((int)listener, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
                errno == ECONNABORTED) {
                return NE_ERR_WOULD_BLOCK;
            }
            return NE_ERR_IO;
        }
        if (fd_slot(pn, fd) == NULL) {
            close(fd);
            continue;
        }
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        addr_text(&ss, peer_ip, peer_port);
        *out = fd;
        return NE_OK;
    }
    return NE_ERR_WOULD_BLOCK;
}

/* A socket's failure in the core's terms: the peer closed it, refused a
 * connection, cannot be reached, or something else went wrong. */
static int socket_error(int e)
{
    switch (e) {
    case ECONNRESET:
    case EPIPE:
        return NE_ERR_CLOSED;
    case ECONNREFUSED:
        return NE_ERR_REFUSED;
    case EHOSTUNREACH:
    case ENETUNREACH:
        return NE_ERR_UNREACHABLE;
    case ETIMEDOUT:
        return NE_ERR_TIMEOUT;
    default:
        return NE_ERR_IO;
    }
}

static int net_recv(void *ctx, ne_sock sock, void *buf, size_t len, size_t *got)
{
    (void)ctx;
    ssize_t n = recv((int)sock, buf, len, 0);
    if (n > 0) {
        *got = (size_t)n;
        return NE_OK;
    }
    if (n == 0) {
        return NE_ERR_CLOSED;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        return NE_ERR_WOULD_BLOCK;
    }
    return socket_error(errno);
}

static int net_sendv(void *ctx, ne_sock sock, const ne_iovec *iov, int iovcnt, size_t *sent)
{
    (void)ctx;
    struct iovec vec[NE_WRITE_IOV_MAX > 2 ? NE_WRITE_IOV_MAX : 2];
    int n =
        iovcnt < (int)(sizeof(vec) / sizeof(vec[0])) ? iovcnt : (int)(sizeof(vec) / sizeof(vec[0]));
    for (int i = 0; i < n; i++) {
        vec[i].iov_base = (void *)iov[i].base;
        vec[i].iov_len = iov[i].len;
    }
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = vec;
    msg.msg_iovlen = (size_t)n;
    ssize_t w = sendmsg((int)sock, &msg, MSG_NOSIGNAL);
    if (w >= 0) {
        *sent = (size_t)w;
        return NE_OK;
    }
    *sent = 0;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        return NE_ERR_WOULD_BLOCK;
    }
    return socket_error(errno);
}

static int update_events(ne_posix_net *pn, ne_sock sock, uint32_t events)
{
    ne_posix_fd *slot = fd_slot(pn, sock);
    if (slot == NULL || !slot->attached) {
        return NE_ERR_INVALID;
    }
    if (slot->events == events) {
        return NE_OK;
    }
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.ptr = slot->user;
    if (epoll_ctl(pn->epoll_fd, EPOLL_CTL_MOD, (int)sock, &ev) != 0) {
        return NE_ERR_IO;
    }
    slot->events = events;
    return NE_OK;
}

static int net_attach(void *ctx, ne_sock sock, void *user)
{
    ne_posix_net *pn = ctx;
    ne_posix_fd *slot = fd_slot(pn, sock);
    if (slot == NULL) {
        return NE_ERR_INVALID;
    }
    struct epoll_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.ptr = user;
    if (epoll_ctl(pn->epoll_fd, EPOLL_CTL_ADD, (int)sock, &ev) != 0) {
        return NE_ERR_IO;
    }
    slot->user = user;
    slot->events = EPOLLIN;
    slot->attached = true;
    return NE_OK;
}

static int net_want_write(void *ctx, ne_sock sock, bool enable)
{
    ne_posix_net *pn = ctx;
    ne_posix_fd *slot = fd_slot(pn, sock);
    if (slot == NULL) {
        return NE_ERR_INVALID;
    }
    uint32_t events = enable ? (slot->events | EPOLLOUT) : (slot->events & ~(uint32_t)EPOLLOUT);
    return update_events(pn, sock, events);
}

static int net_want_read(void *ctx, ne_sock sock, bool enable)
{
    ne_posix_net *pn = ctx;
    ne_posix_fd *slot = fd_slot(pn, sock);
    if (slot == NULL) {
        return NE_ERR_INVALID;
    }
    uint32_t events = enable ? (slot->events | EPOLLIN) : (slot->events & ~(uint32_t)EPOLLIN);
    return update_events(pn, sock, events);
}

static void net_close(void *ctx, ne_sock sock)
{
    ne_posix_net *pn = ctx;
    ne_posix_fd *slot = fd_slot(pn, sock);
    if (slot != NULL && slot->attached) {
        (void)epoll_ctl(pn->epoll_fd, EPOLL_CTL_DEL, (int)sock, NULL);
        memset(slot, 0, sizeof(*slot));
    }
    close((int)sock);
}

static uint16_t net_local_port(void *ctx, ne_sock sock)
{
    (void)ctx;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname((int)sock, (struct sockaddr *)&ss, &len) != 0) {
        return 0;
    }
    char ip[46];
    uint16_t port = 0;
    addr_text(&ss, ip, &port);
    return port;
}

static int net_connect(void *ctx, const char *host, uint16_t port, ne_sock *out)
{
    ne_posix_net *pn = ctx;
    struct sockaddr_storage ss;
    socklen_t len;
    if (parse_addr(host, port, &ss, &len) != NE_OK) {
        /* A name: resolve it (getaddrinfo lives in libc, not in the broker). */
        struct addrinfo hints, *res = NULL;
        memset(&hints, 0, sizeof(hints));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        if (getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL) {
            return NE_ERR_NOT_FOUND;
        }
        memcpy(&ss, res->ai_addr, res->ai_addrlen);
        len = res->ai_addrlen;
        freeaddrinfo(res);
        if (ss.ss_family == AF_INET) {
            ((struct sockaddr_in *)&ss)->sin_port = htons(port);
        } else {
            ((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
        }
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return NE_ERR_IO;
    }
    if (fd_slot(pn, fd) == NULL) {
        close(fd);
        return NE_ERR_NOMEM;
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&ss, len) != 0 && errno != EINPROGRESS) {
        int failed = socket_error(errno);
        close(fd);
        return failed;
    }
    *out = fd;
    return NE_OK;
}

static const ne_net_ops posix_net_ops = {
    .listen = net_listen,
    .accept = net_accept,
    .recv = net_recv,
    .sendv = net_sendv,
    .attach = net_attach,
    .want_write = net_want_write,
    .want_read = net_want_read,
    .close = net_close,
    .local_port = net_local_port,
    .connect = net_connect,
};

int ne_posix_net_init(ne_posix_net *pn, ne_net *net)
{
    pn->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (pn->epoll_fd < 0) {
        return NE_ERR_IO;
    }
    net->ops = &posix_net_ops;
    net->ctx = pn;
    return NE_OK;
}

void ne_posix_net_deinit(ne_posix_net *pn)
{
    if (pn->epoll_fd >= 0) {
        close(pn->epoll_fd);
        pn->epoll_fd = -1;
    }
}
