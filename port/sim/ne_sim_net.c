#include "sim/ne_sim_net.h"

#include <string.h>

#include "core/ne_error.h"

/* The ops' ctx is a host; the network is the host's. */
static ne_sim_net *net_of(void *ctx)
{
    return ((ne_sim_host *)ctx)->sim;
}

static ne_sim_socket *sock_at(ne_sim_net *sim, ne_sock s)
{
    if (s < 0 || s >= NE_SIM_MAX_SOCKETS || !sim->sockets[s].in_use) {
        return NULL;
    }
    return &sim->sockets[s];
}

static int alloc_socket(ne_sim_net *sim)
{
    for (int i = 0; i < NE_SIM_MAX_SOCKETS; i++) {
        if (!sim->sockets[i].in_use) {
            memset(&sim->sockets[i], 0, sizeof(sim->sockets[i]));
            sim->sockets[i].in_use = true;
            sim->sockets[i].peer = -1;
            sim->sockets[i].want_read = true;
            sim->sockets[i].client_window = NE_SIM_BUFFER_BYTES;
            return i;
        }
    }
    return NE_ERR_NOMEM;
}

static int sim_listen(void *ctx, const char *host, uint16_t port, ne_sock *out)
{
    ne_sim_net *sim = net_of(ctx);
    (void)host;
    int s = alloc_socket(sim);
    if (s < 0) {
        return s;
    }
    sim->sockets[s].listener = true;
    sim->sockets[s].host = ((ne_sim_host *)ctx)->id;
    sim->sockets[s].port = port != 0 ? port : sim->next_port++;
    *out = s;
    return NE_OK;
}

static int sim_accept(void *ctx, ne_sock listener, ne_sock *out, char *peer_ip, uint16_t *peer_port)
{
    ne_sim_net *sim = net_of(ctx);
    ne_sim_socket *l = sock_at(sim, listener);
    if (l == NULL) {
        return NE_ERR_INVALID;
    }
    for (int i = 0; i < NE_SIM_MAX_SOCKETS; i++) {
        ne_sim_socket *s = &sim->sockets[i];
        if (s->in_use && !s->listener && !s->accepted && s->port == l->port && s->host == l->host) {
            s->accepted = true;
            memcpy(peer_ip, "127.0.0.1", 10);
            *peer_port = (uint16_t)(50000 + i);
            *out = i;
            return NE_OK;
        }
    }
    return NE_ERR_WOULD_BLOCK;
}

static int sim_recv(void *ctx, ne_sock sock, void *buf, size_t len, size_t *got)
{
    ne_sim_socket *s = sock_at(net_of(ctx), sock);
    if (s == NULL) {
        return NE_ERR_INVALID;
    }
    if (s->to_server.len == 0) {
        return s->client_closed ? NE_ERR_CLOSED : NE_ERR_WOULD_BLOCK;
    }
    size_t n = len < s->to_server.len ? len : s->to_server.len;
    memcpy(buf, s->to_server.data, n);
    memmove(s->to_server.data, s->to_server.data + n, s->to_server.len - n);
    s->to_server.len -= n;
    *got = n;
    return NE_OK;
}

/* Where a socket's output goes: the test's side of it, or the receive
 * buffer of its peer on another host. */
static ne_sim_pipe *out_pipe(ne_sim_net *sim, ne_sim_socket *s, size_t *limit)
{
    if (s->peer >= 0) {
        *limit = NE_SIM_BUFFER_BYTES;
        return &sim->sockets[s->peer].to_server;
    }
    *limit = s->client_window < NE_SIM_BUFFER_BYTES ? s->client_window : NE_SIM_BUFFER_BYTES;
    return &s->to_client;
}

static int sim_sendv(void *ctx, ne_sock sock, const ne_iovec *iov, int iovcnt, size_t *sent)
{
    ne_sim_net *sim = net_of(ctx);
    ne_sim_socket *s = sock_at(sim, sock);
    *sent = 0;
    if (s == NULL) {
        return NE_ERR_INVALID;
    }
    if (s->client_closed) {
        return NE_ERR_CLOSED;
    }
    size_t limit;
    ne_sim_pipe *out = out_pipe(sim, s, &limit);
    for (int i = 0; i < iovcnt; i++) {
        size_t room = limit > out->len ? limit - out->len : 0;
        size_t n = iov[i].len < room ? iov[i].len : room;
        memcpy(out->data + out->len, iov[i].base, n);
        out->len += n;
        *sent += n;
        if (n < iov[i].len) {
            break;
        }
    }
    return *sent > 0 ? NE_OK : NE_ERR_WOULD_BLOCK;
}

static int sim_attach(void *ctx, ne_sock sock, void *user)
{
    ne_sim_socket *s = sock_at(net_of(ctx), sock);
    if (s == NULL) {
        return NE_ERR_INVALID;
    }
    s->attached = true;
    s->user = user;
    return NE_OK;
}

static int sim_want_write(void *ctx, ne_sock sock, bool enable)
{
    ne_sim_socket *s = sock_at(net_of(ctx), sock);
    if (s == NULL) {
        return NE_ERR_INVALID;
    }
    s->want_write = enable;
    return NE_OK;
}

static int sim_want_read(void *ctx, ne_sock sock, bool enable)
{
    ne_sim_socket *s = sock_at(net_of(ctx), sock);
    if (s == NULL) {
        return NE_ERR_INVALID;
    }
    s->want_read = enable;
    return NE_OK;
}

static void sim_close(void *ctx, ne_sock sock)
{
    ne_sim_net *sim = net_of(ctx);
    ne_sim_socket *s = sock_at(sim, sock);
    if (s == NULL) {
        return;
    }
    if (s->listener) {
        s->in_use = false;
        return;
    }
    s->server_closed = true;
    s->attached = false;
    if (s->peer >= 0) {
        /* The peer reads what was sent, then the end of the stream; each
         * end is freed once both have closed. */
        ne_sim_socket *p = &sim->sockets[s->peer];
        p->client_closed = true;
        if (p->server_closed) {
            p->in_use = false;
            s->in_use = false;
        }
        return;
    }
    if (s->client_closed && s->to_client.len == 0) {
        s->in_use = false;
    }
}

static uint16_t sim_local_port(void *ctx, ne_sock sock)
{
    ne_sim_socket *s = sock_at(net_of(ctx), sock);
    return s != NULL ? s->port : 0;
}

static int find_listener(const ne_sim_net *sim, uint16_t port)
{
    for (int i = 0; i < NE_SIM_MAX_SOCKETS; i++) {
        const ne_sim_socket *s = &sim->sockets[i];
        if (s->in_use && s->listener && s->port == port) {
            return i;
        }
    }
    return -1;
}

/* An outbound connection. To a port a server of this network listens on:
 * a pair of sockets, the far end waiting for that server's accept. To any
 * other port: the test plays the peer through the same client calls
 * (ne_sim_outbound finds its handle). Either way this end is "accepted" at
 * once so that no listener takes it. */
static bool partitioned(const ne_sim_net *sim, uint8_t a, uint8_t b)
{
    for (uint32_t i = 0; i < sim->partition_count; i++) {
        const ne_sim_partition_pair *p = &sim->partitions[i];
        if ((p->a == a && p->b == b) || (p->a == b && p->b == a)) {
            return true;
        }
    }
    return false;
}

static int sim_connect(void *ctx, const char *host, uint16_t port, ne_sock *out)
{
    ne_sim_net *sim = net_of(ctx);
    (void)host;
    if (sim->refuse_connect) {
        return NE_ERR_REFUSED; /* as a host with nothing listening on the port */
    }
    int to = find_listener(sim, port);
    if (to >= 0 && partitioned(sim, ((ne_sim_host *)ctx)->id, sim->sockets[to].host)) {
        return NE_ERR_IO;
    }
    int s = alloc_socket(sim);
    if (s < 0) {
        return s;
    }
    ne_sim_socket *me = &sim->sockets[s];
    me->accepted = true;
    me->outbound = true;
    me->port = port;
    me->host = ((ne_sim_host *)ctx)->id;
    int l = find_listener(sim, port);
    if (l >= 0) {
        int far = alloc_socket(sim);
        if (far < 0) {
            me->in_use = false;
            return far;
        }
        sim->sockets[far].port = port;
        sim->sockets[far].host = sim->sockets[l].host;
        sim->sockets[far].peer = s;
        me->peer = far;
    }
    sim->connects++;
    *out = s;
    return NE_OK;
}

static const ne_net_ops sim_ops = {
    .listen = sim_listen,
    .accept = sim_accept,
    .recv = sim_recv,
    .sendv = sim_sendv,
    .attach = sim_attach,
    .want_write = sim_want_write,
    .want_read = sim_want_read,
    .close = sim_close,
    .local_port = sim_local_port,
    .connect = sim_connect,
};

void ne_sim_net_init(ne_sim_net *sim, ne_net *net)
{
    memset(sim, 0, sizeof(*sim));
    sim->next_port = 14222;
    ne_sim_host_init(sim, &sim->host0, 0, net);
}

void ne_sim_host_init(ne_sim_net *sim, ne_sim_host *host, uint8_t id, ne_net *net)
{
    host->sim = sim;
    host->id = id;
    net->ops = &sim_ops;
    net->ctx = host;
}

int ne_sim_connect(ne_sim_net *sim, uint16_t port)
{
    int s = alloc_socket(sim);
    if (s < 0) {
        return s;
    }
    int l = find_listener(sim, port);
    sim->sockets[s].port = port;
    sim->sockets[s].host = l >= 0 ? sim->sockets[l].host : 0;
    return s;
}

size_t ne_sim_client_write(ne_sim_net *sim, int client, const void *bytes, size_t len)
{
    ne_sim_socket *s = sock_at(sim, client);
    if (s == NULL || s->client_closed || s->server_closed) {
        return 0;
    }
    size_t room = NE_SIM_BUFFER_BYTES - s->to_server.len;
    size_t n = len < room ? len : room;
    memcpy(s->to_server.data + s->to_server.len, bytes, n);
    s->to_server.len += n;
    return n;
}

size_t ne_sim_client_read(ne_sim_net *sim, int client, void *buf, size_t cap)
{
    ne_sim_socket *s = sock_at(sim, client);
    if (s == NULL) {
        return 0;
    }
    size_t n = cap < s->to_client.len ? cap : s->to_client.len;
    memcpy(buf, s->to_client.data, n);
    memmove(s->to_client.data, s->to_client.data + n, s->to_client.len - n);
    s->to_client.len -= n;
    return n;
}

void ne_sim_client_close(ne_sim_net *sim, int client)
{
    ne_sim_socket *s = sock_at(sim, client);
    if (s != NULL) {
        s->client_closed = true;
    }
}

bool ne_sim_server_closed(const ne_sim_net *sim, int client)
{
    if (client < 0 || client >= NE_SIM_MAX_SOCKETS) {
        return true;
    }
    const ne_sim_socket *s = &sim->sockets[client];
    return !s->in_use || s->server_closed;
}

void ne_sim_set_client_window(ne_sim_net *sim, int client, size_t bytes)
{
    ne_sim_socket *s = sock_at(sim, client);
    if (s != NULL) {
        s->client_window = bytes;
    }
}

void ne_sim_release(ne_sim_net *sim, int client)
{
    ne_sim_socket *s = sock_at(sim, client);
    if (s != NULL && s->server_closed) {
        s->in_use = false;
    }
}

void ne_sim_net_step(ne_sim_net *sim, const ne_loop *loop)
{
    ne_sim_host_step(&sim->host0, loop);
}

/* Whether a socket's output has room: the test's window, or its peer's
 * receive buffer. */
static bool can_send(ne_sim_net *sim, ne_sim_socket *s)
{
    size_t limit;
    const ne_sim_pipe *out = out_pipe(sim, s, &limit);
    return out->len < limit;
}

void ne_sim_host_step(ne_sim_host *host, const ne_loop *loop)
{
    ne_sim_net *sim = host->sim;
    for (int i = 0; i < NE_SIM_MAX_SOCKETS; i++) {
        ne_sim_socket *s = &sim->sockets[i];
        if (!s->in_use || !s->attached || s->server_closed || s->host != host->id) {
            continue;
        }
        bool readable, writable;
        if (s->listener) {
            readable = false;
            for (int j = 0; j < NE_SIM_MAX_SOCKETS; j++) {
                const ne_sim_socket *c = &sim->sockets[j];
                if (c->in_use && !c->listener && !c->accepted && c->port == s->port &&
                    c->host == s->host) {
                    readable = true;
                }
            }
            writable = false;
        } else {
            readable = s->want_read && (s->to_server.len > 0 || s->client_closed);
            writable = s->want_write && can_send(sim, s);
        }
        if (readable || writable) {
            loop->io(loop->server, s->user, readable, writable);
        }
    }
    loop->turn_end(loop->server);
}

void ne_sim_partition(ne_sim_net *sim, uint8_t a, uint8_t b)
{
    if (!partitioned(sim, a, b) && sim->partition_count < NE_SIM_MAX_PARTITIONS) {
        sim->partitions[sim->partition_count].a = a;
        sim->partitions[sim->partition_count].b = b;
        sim->partition_count++;
    }
    for (int i = 0; i < NE_SIM_MAX_SOCKETS; i++) {
        ne_sim_socket *s = &sim->sockets[i];
        if (!s->in_use || s->listener || s->peer < 0) {
            continue;
        }
        const ne_sim_socket *p = &sim->sockets[s->peer];
        if ((s->host == a && p->host == b) || (s->host == b && p->host == a)) {
            s->client_closed = true; /* this end reads the end of the stream */
        }
    }
}

void ne_sim_heal(ne_sim_net *sim, uint8_t a, uint8_t b)
{
    for (uint32_t i = 0; i < sim->partition_count; i++) {
        ne_sim_partition_pair *p = &sim->partitions[i];
        if ((p->a == a && p->b == b) || (p->a == b && p->b == a)) {
            *p = sim->partitions[--sim->partition_count];
            return;
        }
    }
}

uint32_t ne_sim_links(const ne_sim_net *sim)
{
    uint32_t n = 0;
    for (int i = 0; i < NE_SIM_MAX_SOCKETS; i++) {
        const ne_sim_socket *s = &sim->sockets[i];
        n += s->in_use && !s->listener && s->peer >= 0 && !s->server_closed && !s->client_closed
                 ? 1u
                 : 0u;
    }
    return n / 2;
}

int ne_sim_outbound(const ne_sim_net *sim, uint16_t port)
{
    for (int i = NE_SIM_MAX_SOCKETS - 1; i >= 0; i--) {
        const ne_sim_socket *s = &sim->sockets[i];
        if (s->in_use && s->outbound && s->port == port && !s->server_closed) {
            return i;
        }
    }
    return -1;
}
