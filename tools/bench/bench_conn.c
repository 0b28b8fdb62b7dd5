/* tools/bench: one NATS client connection on a raw socket: connect, the
 * in-place parser of what the server sends, and gathered writes. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void bench_seq_put(unsigned char *p, size_t n, uint64_t seq)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (unsigned char)(seq >> (8 * i));
    }
}

uint64_t bench_seq_get(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    if (n == 8) {
        memcpy(&v, p, 8); /* little-endian hosts only: checked in main() */
        return v;
    }
    for (size_t i = n; i-- > 0;) {
        v = (v << 8) | p[i];
    }
    return v;
}

static void conn_fail(bench_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void conn_fail(bench_conn *c, const char *fmt, ...)
{
    if (c->failed) {
        return;
    }
    c->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->error, sizeof(c->error), fmt, ap);
    va_end(ap);
}

static int connect_tcp(const char *host, int port)
{
    char port_text[16];
    snprintf(port_text, sizeof(port_text), "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, port_text, &hints, &res) != 0) {
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    return fd;
}

/* Reads the INFO line with a deadline (the socket is still blocking). */
static int read_info(bench_conn *c, double timeout_s)
{
    uint64_t deadline = bench_now_ns() + (uint64_t)(timeout_s * 1e9);
    while (c->rlen < BENCH_LINE_MAX_BYTES) {
        char *nl = memchr(c->rbuf, '\n', c->rlen);
        if (nl != NULL) {
            if (c->rlen < 5 || memcmp(c->rbuf, "INFO ", 5) != 0) {
                conn_fail(c, "expected INFO, got '%.40s'", c->rbuf);
                return -1;
            }
            const char *mp = strstr(c->rbuf, "\"max_payload\":");
            if (mp != NULL && mp < nl) {
                c->max_payload = strtol(mp + 14, NULL, 10);
            }
            size_t used = (size_t)(nl + 1 - c->rbuf);
            memmove(c->rbuf, nl + 1, c->rlen - used);
            c->rlen -= used;
            return 0;
        }
        uint64_t now = bench_now_ns();
        if (now >= deadline) {
            conn_fail(c, "no INFO within %.1f s", timeout_s);
            return -1;
        }
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        if (poll(&pfd, 1, (int)((deadline - now) / 1000000u) + 1) < 0 && errno != EINTR) {
            return -1;
        }
        if (pfd.revents == 0) {
            continue;
        }
        ssize_t n = read(c->fd, c->rbuf + c->rlen, BENCH_LINE_MAX_BYTES - c->rlen);
        if (n <= 0) {
            conn_fail(c, "connection closed before INFO");
            return -1;
        }
        c->rlen += (size_t)n;
        c->rbuf[c->rlen] = '\0';
    }
    conn_fail(c, "INFO line too long");
    return -1;
}

static int conn_open(bench_conn *c, const char *host, int port, const char *name, double timeout_s,
                     bool headers)
{
    memset(c, 0, sizeof(*c));
    c->headers = headers;
    c->fd = -1;
    c->ep = -1;
    c->max_payload = -1;
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->rcap = BENCH_READ_BUF_BYTES;
    c->rbuf = malloc(c->rcap + 1);
    if (c->rbuf == NULL) {
        conn_fail(c, "out of memory");
        return -1;
    }
    c->fd = connect_tcp(host, port);
    if (c->fd < 0) {
        conn_fail(c, "cannot connect to %s:%d: %s", host, port, strerror(errno));
        return -1;
    }
    if (read_info(c, timeout_s) != 0) {
        return -1;
    }
    int flags = fcntl(c->fd, F_GETFL);
    if (flags < 0 || fcntl(c->fd, F_SETFL, flags | O_NONBLOCK) != 0) {
        conn_fail(c, "fcntl: %s", strerror(errno));
        return -1;
    }
    return bench_conn_ctl(c,
                          "CONNECT {\"verbose\":false,\"pedantic\":false,\"tls_required\":false,"
                          "\"name\":\"%s\",\"lang\":\"c\",\"version\":\"bench\",\"protocol\":1,"
                          "\"echo\":true,\"headers\":%s,\"no_responders\":false}\r\n",
                          name, headers ? "true" : "false");
}

int bench_conn_open(bench_conn *c, const char *host, int port, const char *name, double timeout_s)
{
    return conn_open(c, host, port, name, timeout_s, false);
}

int bench_conn_open_headers(bench_conn *c, const char *host, int port, const char *name,
                            double timeout_s)
{
    return conn_open(c, host, port, name, timeout_s, true);
}

void bench_conn_close(bench_conn *c)
{
    if (c->fd >= 0) {
        close(c->fd);
    }
    c->fd = -1;
    free(c->rbuf);
    c->rbuf = NULL;
}

int bench_conn_ctl(bench_conn *c, const char *fmt, ...)
{
    if (c->ctl_off > 0) {
        memmove(c->ctl, c->ctl + c->ctl_off, c->ctl_len - c->ctl_off);
        c->ctl_len -= c->ctl_off;
        c->ctl_off = 0;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(c->ctl + c->ctl_len, sizeof(c->ctl) - c->ctl_len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(c->ctl) - c->ctl_len) {
        conn_fail(c, "control buffer full");
        return -1;
    }
    c->ctl_len += (size_t)n;
    return 0;
}

/* Bulk data first, then control lines: a PING queued after a batch is
 * answered only once the server has read the whole batch. */
int bench_conn_flush(bench_conn *c)
{
    for (int iter = 0; iter < 64; iter++) {
        struct iovec iov[2];
        int n = 0;
        if (c->bulk_off < c->bulk_len) {
            iov[n].iov_base = (void *)(c->bulk + c->bulk_off);
            iov[n++].iov_len = c->bulk_len - c->bulk_off;
        }
        if (c->ctl_off < c->ctl_len) {
            iov[n].iov_base = c->ctl + c->ctl_off;
            iov[n++].iov_len = c->ctl_len - c->ctl_off;
        }
        if (n == 0) {
            c->ctl_off = c->ctl_len = 0;
            return 1;
        }
        ssize_t w = writev(c->fd, iov, n);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return 0;
            }
            conn_fail(c, "write: %s", strerror(errno));
            return -1;
        }
        size_t left = (size_t)w;
        c->bytes_out += left;
        size_t from_bulk = c->bulk_len - c->bulk_off;
        if (from_bulk > left) {
            from_bulk = left;
        }
        c->bulk_off += from_bulk;
        c->ctl_off += left - from_bulk;
    }
    return 0;
}

static size_t parse_size(const char *p, size_t n, bool *ok)
{
    size_t v = 0;
    *ok = n > 0 && n <= 10;
    for (size_t i = 0; i < n && *ok; i++) {
        if (p[i] < '0' || p[i] > '9') {
            *ok = false;
        }
        v = v * 10 + (size_t)(p[i] - '0');
    }
    return v;
}

/* Splits `p[0, n)` at spaces into at most `max` tokens; returns the count,
 * or max + 1 when there are more. */
static int split_tokens(const char *p, size_t n, const char **tok, size_t *tok_len, int max)
{
    int count = 0;
    size_t i = 0;
    while (i < n) {
        while (i < n && (p[i] == ' ' || p[i] == '\t')) {
            i++;
        }
        if (i == n) {
            break;
        }
        if (count == max) {
            return max + 1;
        }
        size_t start = i;
        while (i < n && p[i] != ' ' && p[i] != '\t') {
            i++;
        }
        tok[count] = p + start;
        tok_len[count++] = i - start;
    }
    return count;
}

/* One MSG (or HMSG, `hmsg`) whose header line ends at `line_end` (the
 * '\n'). Returns the new parse position, or 0 when more bytes are needed
 * first. */
static size_t parse_msg(bench_conn *c, const char *line, size_t line_len, size_t line_end,
                        bool hmsg)
{
    const char *tok[5];
    size_t tok_len[5];
    size_t skip = hmsg ? 5 : 4;
    int nt = split_tokens(line + skip, line_len - skip, tok, tok_len, 5);
    int with_reply = hmsg ? 5 : 4;
    bool ok = false;
    bool hdr_ok = !hmsg;
    size_t size = nt == with_reply - 1 || nt == with_reply
                      ? parse_size(tok[nt - 1], tok_len[nt - 1], &ok)
                      : 0;
    size_t hdr = hmsg && ok ? parse_size(tok[nt - 2], tok_len[nt - 2], &hdr_ok) : 0;
    if (!ok || !hdr_ok || hdr > size) {
        conn_fail(c, "bad MSG line '%.*s'", (int)(line_len < 80 ? line_len : 80), line);
        return SIZE_MAX;
    }
    const char *reply = nt == with_reply ? tok[2] : NULL;
    size_t reply_len = nt == with_reply ? tok_len[2] : 0;
    c->msg_subject = tok[0];
    c->msg_subject_len = tok_len[0];
    c->msg_hdr_bytes = hdr;
    size_t start = line_end + 1;
    size_t avail = c->rlen - start;
    const unsigned char *payload = (const unsigned char *)c->rbuf + start;
    if (avail >= size + 2) {
        if (c->rbuf[start + size] != '\r' || c->rbuf[start + size + 1] != '\n') {
            conn_fail(c, "payload of %zu bytes not followed by CRLF", size);
            return SIZE_MAX;
        }
        c->on_msg(c, reply, reply_len, payload, size, size);
        return start + size + 2;
    }
    size_t least = size < BENCH_SEQ_BYTES_MAX ? size : BENCH_SEQ_BYTES_MAX;
    if (size < c->whole_below) {
        least = size + 2;
    }
    if (avail >= least) {
        c->on_msg(c, reply, reply_len, payload, avail, size);
        c->skip = size + 2 - avail;
        return c->rlen;
    }
    return 0;
}

/* Parses rbuf[rpos, rlen) in place. Each turn consumes at least one line or
 * stops, so the loop is bounded by the bytes in the buffer. */
static int parse(bench_conn *c)
{
    size_t pos = c->rpos;
    while (!c->failed) {
        if (c->skip > 0) {
            size_t n = c->rlen - pos < c->skip ? c->rlen - pos : c->skip;
            pos += n;
            c->skip -= n;
            if (c->skip > 0) {
                break;
            }
            continue;
        }
        if (pos >= c->rlen) {
            break;
        }
        const char *line = c->rbuf + pos;
        const char *nl = memchr(line, '\n', c->rlen - pos);
        if (nl == NULL) {
            if (c->rlen - pos > BENCH_LINE_MAX_BYTES) {
                conn_fail(c, "protocol line longer than %u bytes", BENCH_LINE_MAX_BYTES);
            }
            break;
        }
        size_t line_end = (size_t)(nl - c->rbuf);
        size_t len = line_end - pos;
        if (len > 0 && line[len - 1] == '\r') {
            len--;
        }
        bool hmsg = len >= 5 && memcmp(line, "HMSG ", 5) == 0;
        if (hmsg || (len >= 4 && memcmp(line, "MSG ", 4) == 0)) {
            size_t next = parse_msg(c, line, len, line_end, hmsg);
            if (next == 0) {
                break;
            }
            if (next == SIZE_MAX) {
                return -1;
            }
            c->msgs++;
            pos = next;
            continue;
        }
        pos = line_end + 1;
        if (len == 4 && memcmp(line, "PING", 4) == 0) {
            int f = bench_conn_ctl(c, "PONG\r\n") == 0 ? bench_conn_flush(c) : -1;
            if (f < 0) {
                return -1;
            }
            if (f == 0) {
                bench_conn_want_write(c, true);
            }
        } else if (len == 4 && memcmp(line, "PONG", 4) == 0) {
            c->pongs++;
            if (c->on_pong != NULL) {
                c->on_pong(c);
            }
        } else if (len >= 4 && memcmp(line, "-ERR", 4) == 0) {
            conn_fail(c, "server: %.*s", (int)(len < 200 ? len : 200), line);
        } else if (!(len == 3 && memcmp(line, "+OK", 3) == 0) &&
                   !(len >= 5 && memcmp(line, "INFO ", 5) == 0)) {
            conn_fail(c, "unexpected line '%.*s'", (int)(len < 80 ? len : 80), line);
        }
    }
    c->rpos = pos;
    return c->failed ? -1 : 0;
}

int bench_conn_read(bench_conn *c)
{
    for (int iter = 0; iter < 8; iter++) {
        if (c->rpos > 0) {
            /* What is left is at most one line and a sequence number. */
            memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
            c->rlen -= c->rpos;
            c->rpos = 0;
        }
        size_t space = c->rcap - c->rlen;
        ssize_t n = read(c->fd, c->rbuf + c->rlen, space);
        if (n == 0) {
            conn_fail(c, "connection closed by the server");
            return -1;
        }
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return 0;
            }
            conn_fail(c, "read: %s", strerror(errno));
            return -1;
        }
        c->rlen += (size_t)n;
        c->bytes_in += (uint64_t)n;
        if (parse(c) != 0) {
            return -1;
        }
        if ((size_t)n < space) {
            return 0;
        }
    }
    return 0;
}

int bench_conn_sync(bench_conn *c, double timeout_s)
{
    uint64_t want = c->pongs + 1;
    if (bench_conn_ctl(c, "PING\r\n") != 0) {
        return -1;
    }
    uint64_t deadline = bench_now_ns() + (uint64_t)(timeout_s * 1e9);
    while (c->pongs < want) {
        int f = bench_conn_flush(c);
        if (f < 0) {
            return -1;
        }
        uint64_t now = bench_now_ns();
        if (now >= deadline) {
            conn_fail(c, "no PONG within %.1f s", timeout_s);
            return -1;
        }
        struct pollfd pfd = {.fd = c->fd, .events = (short)(POLLIN | (f == 0 ? POLLOUT : 0))};
        if (poll(&pfd, 1, (int)((deadline - now) / 1000000u) + 1) < 0 && errno != EINTR) {
            return -1;
        }
        if ((pfd.revents & (POLLIN | POLLHUP | POLLERR)) != 0 && bench_conn_read(c) != 0) {
            return -1;
        }
    }
    return 0;
}

int bench_conn_watch(bench_conn *c, int ep)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    c->ep = ep;
    c->epollout = false;
    return epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

int bench_conn_want_write(bench_conn *c, bool on)
{
    if (c->epollout == on || c->ep < 0) {
        return 0;
    }
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0u), .data.ptr = c};
    c->epollout = on;
    return epoll_ctl(c->ep, EPOLL_CTL_MOD, c->fd, &ev);
}
