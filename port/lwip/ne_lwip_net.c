#include "lwip/ne_lwip_net.h"

#include <string.h>

#include "core/ne_error.h"
#include "lwip/ip_addr.h"
#include "lwip/pbuf.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"

#define NE_LWIP_SOCK_FREE 0
#define NE_LWIP_SOCK_LISTEN 1
#define NE_LWIP_SOCK_PENDING 2 /* accepted by lwIP, not yet by the core */
#define NE_LWIP_SOCK_CONN 3

/* lwIP's poll callback period, in units of its coarse timer (500 ms). */
#define NE_LWIP_POLL_INTERVAL 2

/* tcp_recved and tcp_write take 16-bit lengths. */
#define NE_LWIP_MAX_CALL_BYTES 0xFFFFu

static ne_lwip_sock *sock_at(ne_lwip_net *ln, ne_sock sock)
{
    if (sock < 0 || sock >= NE_LWIP_MAX_SOCKETS) {
        return NULL;
    }
    ne_lwip_sock *s = &ln->socks[sock];
    return s->state == NE_LWIP_SOCK_FREE ? NULL : s;
}

/* Empties a socket, keeping its link to the table. */
static void reset_sock(ne_lwip_sock *s)
{
    ne_lwip_net *ln = s->net;
    memset(s, 0, sizeof(*s));
    s->net = ln;
    s->listener = -1;
}

static int free_slot(ne_lwip_net *ln)
{
    for (int i = 0; i < NE_LWIP_MAX_SOCKETS; i++) {
        if (ln->socks[i].state == NE_LWIP_SOCK_FREE) {
            return i;
        }
    }
    return -1;
}

/* lwIP has freed the pcb (reset, abort, retransmission timeout): the socket
 * reports readable so that the core reads the end. */
static void on_err(void *arg, err_t err)
{
    ne_lwip_sock *s = arg;
    if (s != NULL) {
        s->pcb = NULL;
        s->failed = true;
        s->refused = s->connecting && err == ERR_RST;
    }
}

/* Received data is queued for the core; the window opens only as the core
 * reads (back-pressure). p == NULL: the peer closed its side. */
static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    ne_lwip_sock *s = arg;
    if (s == NULL) {
        if (p != NULL) {
            tcp_recved(pcb, p->tot_len);
            pbuf_free(p);
        }
        return ERR_OK;
    }
    if (p == NULL) {
        s->eof = true;
        return ERR_OK;
    }
    if (err != ERR_OK) {
        pbuf_free(p);
        return ERR_OK;
    }
    if (s->rx == NULL) {
        s->rx = p;
    } else {
        pbuf_cat(s->rx, p);
    }
    return ERR_OK;
}

/* Acknowledged data freed room in the send buffer: writability is read from
 * the pcb at dispatch time, so nothing to record. */
static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    (void)arg;
    (void)pcb;
    (void)len;
    return ERR_OK;
}

/* Periodic: push out anything lwIP queued but could not send (memory was
 * short when tcp_output ran). */
static err_t on_poll(void *arg, struct tcp_pcb *pcb)
{
    (void)arg;
    (void)tcp_output(pcb);
    return ERR_OK;
}

static void bind_callbacks(struct tcp_pcb *pcb, ne_lwip_sock *s)
{
    tcp_arg(pcb, s);
    tcp_recv(pcb, on_recv);
    tcp_sent(pcb, on_sent);
    tcp_err(pcb, on_err);
    tcp_poll(pcb, on_poll, NE_LWIP_POLL_INTERVAL);
}

static void unbind_callbacks(struct tcp_pcb *pcb)
{
    tcp_arg(pcb, NULL);
    tcp_recv(pcb, NULL);
    tcp_sent(pcb, NULL);
    tcp_err(pcb, NULL);
    tcp_poll(pcb, NULL, 0);
}

/* A new connection takes a free socket at once, so that what its client
 * sends before the core accepts it is queued there. With no free socket
 * lwIP aborts the connection (the returned ERR_ABRT says it is gone). */
static err_t on_accept(void *arg, struct tcp_pcb *newpcb, err_t err)
{
    ne_lwip_sock *listener = arg;
    if (err != ERR_OK || newpcb == NULL || listener == NULL) {
        return ERR_VAL;
    }
    ne_lwip_net *ln = listener->net;
    int i = free_slot(ln);
    if (i < 0) {
        ln->refused++;
        tcp_abort(newpcb);
        return ERR_ABRT;
    }
    ne_lwip_sock *s = &ln->socks[i];
    reset_sock(s);
    s->state = NE_LWIP_SOCK_PENDING;
    s->pcb = newpcb;
    s->listener = (int16_t)(listener - ln->socks);
    s->accept_seq = ln->next_accept_seq++;
    tcp_nagle_disable(newpcb);
    bind_callbacks(newpcb, s);
    return ERR_OK;
}

static int parse_ip(const char *host, ip_addr_t *ip)
{
    if (host == NULL || host[0] == '\0' || strcmp(host, "0.0.0.0") == 0) {
        ip_addr_set_any(false, ip);
        return NE_OK;
    }
    if (strcmp(host, "localhost") == 0) {
        host = "127.0.0.1";
    }
    return ipaddr_aton(host, ip) ? NE_OK : NE_ERR_INVALID;
}

static int net_listen(void *ctx, const char *host, uint16_t port, ne_sock *out)
{
    ne_lwip_net *ln = ctx;
    ip_addr_t ip;
    if (parse_ip(host, &ip) != NE_OK) {
        return NE_ERR_INVALID;
    }
    int i = free_slot(ln);
    if (i < 0) {
        return NE_ERR_NOMEM;
    }
    struct tcp_pcb *pcb = tcp_new();
    if (pcb == NULL) {
        return NE_ERR_NOMEM;
    }
    err_t err = tcp_bind(pcb, &ip, port);
    if (err != ERR_OK) {
        tcp_abort(pcb);
        return err == ERR_USE ? NE_ERR_EXISTS : NE_ERR_IO;
    }
    struct tcp_pcb *lpcb = tcp_listen(pcb);
    if (lpcb == NULL) {
        tcp_abort(pcb);
        return NE_ERR_NOMEM;
    }
    ne_lwip_sock *s = &ln->socks[i];
    reset_sock(s);
    s->state = NE_LWIP_SOCK_LISTEN;
    s->pcb = lpcb;
    tcp_arg(lpcb, s);
    tcp_accept(lpcb, on_accept);
    *out = i;
    return NE_OK;
}

static int net_accept(void *ctx, ne_sock listener, ne_sock *out, char *peer_ip, uint16_t *peer_port)
{
    ne_lwip_net *ln = ctx;
    int best = -1;
    for (int i = 0; i < NE_LWIP_MAX_SOCKETS; i++) {
        const ne_lwip_sock *s = &ln->socks[i];
        if (s->state == NE_LWIP_SOCK_PENDING && s->listener == listener &&
            (best < 0 || s->accept_seq - ln->socks[best].accept_seq > 0x80000000u)) {
            best = i;
        }
    }
    if (best < 0) {
        return NE_ERR_WOULD_BLOCK;
    }
    ne_lwip_sock *s = &ln->socks[best];
    s->state = NE_LWIP_SOCK_CONN;
    if (s->pcb != NULL) {
        ipaddr_ntoa_r(&s->pcb->remote_ip, peer_ip, 46);
        *peer_port = s->pcb->remote_port;
    } else {
        strcpy(peer_ip, "0.0.0.0");
        *peer_port = 0;
    }
    *out = best;
    return NE_OK;
}

static int net_recv(void *ctx, ne_sock sock, void *buf, size_t len, size_t *got)
{
    ne_lwip_sock *s = sock_at(ctx, sock);
    if (s == NULL) {
        return NE_ERR_INVALID;
    }
    if (s->rx == NULL) {
        if (s->refused) {
            return NE_ERR_REFUSED; /* an outbound connection nobody accepted */
        }
        if (s->failed || s->eof) {
            return NE_ERR_CLOSED;
        }
        return NE_ERR_WOULD_BLOCK;
    }
    size_t n = s->rx->tot_len;
    if (n > len) {
        n = len;
    }
    if (n > NE_LWIP_MAX_CALL_BYTES) {
        n = NE_LWIP_MAX_CALL_BYTES;
    }
    u16_t copied = pbuf_copy_partial(s->rx, buf, (u16_t)n, 0);
    s->rx = pbuf_free_header(s->rx, copied);
    if (s->pcb != NULL) {
        tcp_recved(s->pcb, copied);
    }
    *got = copied;
    return copied > 0 ? NE_OK : NE_ERR_WOULD_BLOCK;
}

static int net_sendv(void *ctx, ne_sock sock, const ne_iovec *iov, int iovcnt, size_t *sent)
{
    ne_lwip_sock *s = sock_at(ctx, sock);
    *sent = 0;
    if (s == NULL) {
        return NE_ERR_INVALID;
    }
    if (s->pcb == NULL) {
        return NE_ERR_CLOSED;
    }
    if (s->connecting) {
        return NE_ERR_WOULD_BLOCK;
    }
    size_t total = 0;
    bool full = false;
    for (int i = 0; i < iovcnt && !full; i++) {
        const uint8_t *base = iov[i].base;
        size_t done = 0;
        /* Bounded: each pass writes at least one byte or stops. */
        while (done < iov[i].len) {
            size_t room = tcp_sndbuf(s->pcb);
            if (room == 0) {
                full = true;
                break;
            }
            size_t n = iov[i].len - done;
            n = n < room ? n : room;
            n = n < NE_LWIP_MAX_CALL_BYTES ? n : NE_LWIP_MAX_CALL_BYTES;
            u8_t flags = TCP_WRITE_FLAG_COPY;
            if (done + n < iov[i].len || i + 1 < iovcnt) {
                flags |= TCP_WRITE_FLAG_MORE;
            }
            err_t err = tcp_write(s->pcb, base + done, (u16_t)n, flags);
            if (err == ERR_MEM) {
                full = true; /* segment queue or pbuf memory: try after sent */
                break;
            }
            if (err != ERR_OK) {
                return total > 0 ? (*sent = total, NE_OK) : NE_ERR_IO;
            }
            done += n;
            total += n;
        }
    }
    if (total == 0) {
        return NE_ERR_WOULD_BLOCK;
    }
    (void)tcp_output(s->pcb);
    *sent = total;
    return NE_OK;
}

static int net_attach(void *ctx, ne_sock sock, void *user)
{
    ne_lwip_sock *s = sock_at(ctx, sock);
    if (s == NULL) {
        return NE_ERR_INVALID;
    }
    s->user = user;
    s->attached = true;
    s->want_read = true;
    return NE_OK;
}

static int net_want_write(void *ctx, ne_sock sock, bool enable)
{
    ne_lwip_sock *s = sock_at(ctx, sock);
    if (s == NULL) {
        return NE_ERR_INVALID;
    }
    s->want_write = enable;
    return NE_OK;
}

static int net_want_read(void *ctx, ne_sock sock, bool enable)
{
    ne_lwip_sock *s = sock_at(ctx, sock);
    if (s == NULL) {
        return NE_ERR_INVALID;
    }
    s->want_read = enable;
    return NE_OK;
}

/* Closes a connection gracefully: unread input is acknowledged first (lwIP
 * answers a close with unread data by a reset, which would lose the -ERR the
 * core may have queued), then FIN after the queued output. */
static void close_conn(ne_lwip_sock *s)
{
    struct tcp_pcb *pcb = s->pcb;
    if (pcb != NULL) {
        unbind_callbacks(pcb);
        if (s->rx != NULL) {
            tcp_recved(pcb, s->rx->tot_len);
        }
        if (tcp_close(pcb) != ERR_OK) {
            tcp_abort(pcb);
        }
    }
    if (s->rx != NULL) {
        pbuf_free(s->rx);
    }
    reset_sock(s);
}

static void net_close(void *ctx, ne_sock sock)
{
    ne_lwip_net *ln = ctx;
    ne_lwip_sock *s = sock_at(ln, sock);
    if (s == NULL) {
        return;
    }
    if (s->state == NE_LWIP_SOCK_LISTEN) {
        /* Connections it accepted that the core never took go with it. */
        for (int i = 0; i < NE_LWIP_MAX_SOCKETS; i++) {
            if (ln->socks[i].state == NE_LWIP_SOCK_PENDING && ln->socks[i].listener == sock) {
                close_conn(&ln->socks[i]);
            }
        }
        tcp_arg(s->pcb, NULL);
        tcp_accept(s->pcb, NULL);
        (void)tcp_close(s->pcb); /* a listening pcb always closes */
        reset_sock(s);
        return;
    }
    close_conn(s);
}

static uint16_t net_local_port(void *ctx, ne_sock sock)
{
    ne_lwip_sock *s = sock_at(ctx, sock);
    return (s != NULL && s->pcb != NULL) ? s->pcb->local_port : 0;
}

static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)pcb;
    ne_lwip_sock *s = arg;
    if (s != NULL) {
        s->connecting = false;
        if (err != ERR_OK) {
            s->failed = true;
        }
    }
    return ERR_OK;
}

/* Outbound connections (leaf remotes) to a numeric IPv4 address: the port
 * has no resolver. */
static int net_connect(void *ctx, const char *host, uint16_t port, ne_sock *out)
{
    ne_lwip_net *ln = ctx;
    ip_addr_t ip;
    if (ipaddr_aton(host, &ip) == 0) {
        return NE_ERR_NOT_FOUND;
    }
    int i = free_slot(ln);
    if (i < 0) {
        return NE_ERR_NOMEM;
    }
    struct tcp_pcb *pcb = tcp_new();
    if (pcb == NULL) {
        return NE_ERR_NOMEM;
    }
    ne_lwip_sock *s = &ln->socks[i];
    reset_sock(s);
    s->state = NE_LWIP_SOCK_CONN;
    s->pcb = pcb;
    s->connecting = true;
    tcp_nagle_disable(pcb);
    bind_callbacks(pcb, s);
    err_t err = tcp_connect(pcb, &ip, port, on_connected);
    if (err != ERR_OK) {
        unbind_callbacks(pcb);
        tcp_abort(pcb);
        reset_sock(s);
        /* No route: no address yet (DHCP still asking) or no gateway. */
        return err == ERR_RTE ? NE_ERR_UNREACHABLE : NE_ERR_IO;
    }
    *out = i;
    return NE_OK;
}

static const ne_net_ops lwip_net_ops = {
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

int ne_lwip_net_init(ne_lwip_net *ln, ne_net *net)
{
    memset(ln, 0, sizeof(*ln));
    for (int i = 0; i < NE_LWIP_MAX_SOCKETS; i++) {
        ln->socks[i].net = ln;
        ln->socks[i].listener = -1;
    }
    net->ops = &lwip_net_ops;
    net->ctx = ln;
    return NE_OK;
}

static bool listener_ready(const ne_lwip_net *ln, int index)
{
    for (int i = 0; i < NE_LWIP_MAX_SOCKETS; i++) {
        if (ln->socks[i].state == NE_LWIP_SOCK_PENDING && ln->socks[i].listener == index) {
            return true;
        }
    }
    return false;
}

/* Writable while lwIP can take bytes: room in the send buffer and in the
 * segment queue. A failed socket is reported so that the core sees the end. */
static bool conn_writable(const ne_lwip_sock *s)
{
    if (s->failed) {
        return true;
    }
    if (s->pcb == NULL || s->connecting) {
        return false;
    }
    return tcp_sndbuf(s->pcb) > 0 && tcp_sndqueuelen(s->pcb) < TCP_SND_QUEUELEN;
}

/* What a socket would report now (level-triggered, as epoll's defaults). */
static bool sock_ready(const ne_lwip_net *ln, int i, bool *readable, bool *writable)
{
    const ne_lwip_sock *s = &ln->socks[i];
    *readable = false;
    *writable = false;
    if (!s->attached) {
        return false;
    }
    if (s->state == NE_LWIP_SOCK_LISTEN) {
        *readable = listener_ready(ln, i);
    } else {
        *readable = s->failed || (s->want_read && (s->rx != NULL || s->eof));
        *writable = s->want_write && conn_writable(s);
    }
    return *readable || *writable;
}

int ne_lwip_dispatch(ne_lwip_net *ln, const ne_loop *loop)
{
    int events = 0;
    for (int i = 0; i < NE_LWIP_MAX_SOCKETS; i++) {
        bool readable, writable;
        if (sock_ready(ln, i, &readable, &writable)) {
            loop->io(loop->server, ln->socks[i].user, readable, writable);
            events++;
        }
    }
    return events;
}

bool ne_lwip_ready(const ne_lwip_net *ln)
{
    for (int i = 0; i < NE_LWIP_MAX_SOCKETS; i++) {
        bool readable, writable;
        if (sock_ready(ln, i, &readable, &writable)) {
            return true;
        }
    }
    return false;
}

uint32_t ne_lwip_sleep_ms(const ne_loop *loop)
{
    uint32_t lwip_ms = sys_timeouts_sleeptime();
    int srv_ms = loop->next_timeout_ms(loop->server);
    if (srv_ms >= 0 && (uint32_t)srv_ms < lwip_ms) {
        return (uint32_t)srv_ms;
    }
    return lwip_ms;
}
