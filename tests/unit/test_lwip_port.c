/* Tests of the lwIP port (port/lwip): its sockets against raw lwIP clients in
 * the same stack over the loopback interface, deterministic and in-process
 * (lwIP built with tests/unit/lwip/lwipopts.h). The port alone first
 * (readiness, the receive window as back-pressure, the send buffer, graceful
 * close, resets, a full socket table), then the broker on top of it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/ne_error.h"
#include "lwip/init.h"
#include "lwip/ne_lwip_net.h"
#include "lwip/netif.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "server/ne_server.h"

#define CLIENT_RX_BYTES (64 * 1024)
#define PUMP_ROUNDS 64

/* lwIP's diagnostics (port/lwip/arch/cc.h) go to the test's output. */
void ne_lwip_diag(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

/* A raw lwIP client. With `hold` it does not acknowledge what it receives
 * (tcp_recved), so its window closes: a consumer that stopped reading. */
typedef struct client {
    struct tcp_pcb *pcb;
    char rx[CLIENT_RX_BYTES];
    size_t rx_len;
    size_t held;
    bool hold;
    bool connected;
    bool got_fin;
    bool failed;
} client;

static ne_lwip_net ln;
static ne_net net;
static uint16_t next_port = 5000;

static err_t client_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    (void)err;
    client *c = arg;
    if (p == NULL) {
        c->got_fin = true;
        return ERR_OK;
    }
    size_t room = sizeof(c->rx) - 1 - c->rx_len;
    size_t n = p->tot_len < room ? p->tot_len : room;
    pbuf_copy_partial(p, c->rx + c->rx_len, (u16_t)n, 0);
    c->rx_len += n;
    c->rx[c->rx_len] = '\0';
    if (c->hold) {
        c->held += p->tot_len;
    } else {
        tcp_recved(pcb, p->tot_len);
    }
    pbuf_free(p);
    return ERR_OK;
}

static void client_err(void *arg, err_t err)
{
    (void)err;
    client *c = arg;
    c->pcb = NULL;
    c->failed = true;
}

static err_t client_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)pcb;
    client *c = arg;
    c->connected = err == ERR_OK;
    return ERR_OK;
}

static void client_open(client *c, uint16_t port)
{
    memset(c, 0, sizeof(*c));
    c->pcb = tcp_new();
    assert_non_null(c->pcb);
    tcp_arg(c->pcb, c);
    tcp_recv(c->pcb, client_recv);
    tcp_err(c->pcb, client_err);
    ip_addr_t ip;
    IP_ADDR4(&ip, 127, 0, 0, 1);
    assert_int_equal(tcp_connect(c->pcb, &ip, port, client_connected), ERR_OK);
}

/* Queues as much of `len` bytes as the client's send buffer takes. */
static size_t client_write(client *c, const void *data, size_t len)
{
    size_t room = tcp_sndbuf(c->pcb);
    size_t n = len < room ? len : room;
    if (n == 0 || tcp_write(c->pcb, data, (u16_t)n, TCP_WRITE_FLAG_COPY) != ERR_OK) {
        return 0;
    }
    tcp_output(c->pcb);
    return n;
}

static void client_send(client *c, const char *text)
{
    assert_int_equal(client_write(c, text, strlen(text)), strlen(text));
}

static void client_release(client *c)
{
    if (c->pcb != NULL && c->held > 0) {
        tcp_recved(c->pcb, (u16_t)c->held);
        c->held = 0;
    }
}

static void client_close(client *c)
{
    if (c->pcb != NULL) {
        tcp_arg(c->pcb, NULL);
        tcp_recv(c->pcb, NULL);
        tcp_err(c->pcb, NULL);
        if (tcp_close(c->pcb) != ERR_OK) {
            tcp_abort(c->pcb);
        }
        c->pcb = NULL;
    }
}

/* Lets lwIP deliver everything in flight (loopback queue, timers). */
static void pump(void)
{
    for (int i = 0; i < PUMP_ROUNDS; i++) {
        netif_poll_all();
        sys_check_timeouts();
    }
}

static int setup(void **state)
{
    (void)state;
    ne_lwip_net_init(&ln, &net);
    return 0;
}

/* Accepts one connection on a fresh listener. */
static ne_sock accept_one(client *c, ne_sock *listener)
{
    uint16_t port = next_port++;
    assert_int_equal(net.ops->listen(net.ctx, "127.0.0.1", port, listener), NE_OK);
    client_open(c, port);
    pump();
    assert_true(c->connected);
    ne_sock s;
    char ip[46];
    uint16_t peer_port = 0;
    assert_int_equal(net.ops->accept(net.ctx, *listener, &s, ip, &peer_port), NE_OK);
    assert_string_equal(ip, "127.0.0.1");
    assert_int_equal(peer_port, c->pcb->local_port);
    assert_int_equal(net.ops->accept(net.ctx, *listener, &s, ip, &peer_port), NE_ERR_WOULD_BLOCK);
    return s;
}

static void test_received_bytes_close_the_window_until_read(void **state)
{
    (void)state;
    client c;
    ne_sock listener;
    ne_sock s = accept_one(&c, &listener);

    /* Three windows' worth, patterned; the server reads nothing at first. */
    static uint8_t data[3 * TCP_WND];
    for (size_t i = 0; i < sizeof(data); i++) {
        data[i] = (uint8_t)(i * 7 + 3);
    }
    size_t sent = 0;
    for (int i = 0; i < 16; i++) {
        sent += client_write(&c, data + sent, sizeof(data) - sent);
        pump();
    }
    assert_true(sent < sizeof(data));    /* the client is held back ... */
    assert_int_equal(c.pcb->snd_wnd, 0); /* ... by a closed window */

    /* Reading reopens it; everything arrives, in order. */
    static uint8_t got[3 * TCP_WND];
    size_t received = 0;
    for (int round = 0; round < 200 && received < sizeof(data); round++) {
        size_t n = 0;
        int rc = net.ops->recv(net.ctx, s, got + received, 1000, &n);
        if (rc == NE_OK) {
            received += n;
        } else {
            assert_int_equal(rc, NE_ERR_WOULD_BLOCK);
        }
        sent += client_write(&c, data + sent, sizeof(data) - sent);
        pump();
    }
    assert_int_equal(received, sizeof(data));
    assert_memory_equal(got, data, sizeof(data));
    size_t n = 0;
    assert_int_equal(net.ops->recv(net.ctx, s, got, sizeof(got), &n), NE_ERR_WOULD_BLOCK);

    client_close(&c);
    pump();
    assert_int_equal(net.ops->recv(net.ctx, s, got, sizeof(got), &n), NE_ERR_CLOSED);
    net.ops->close(net.ctx, s);
    net.ops->close(net.ctx, listener);
}

static void test_a_full_send_buffer_is_not_writable_until_acknowledged(void **state)
{
    (void)state;
    client c;
    ne_sock listener;
    ne_sock s = accept_one(&c, &listener);
    static uint8_t tag;
    assert_int_equal(net.ops->attach(net.ctx, s, &tag), NE_OK);
    assert_int_equal(net.ops->want_read(net.ctx, s, false), NE_OK);
    assert_int_equal(net.ops->want_write(net.ctx, s, true), NE_OK);
    assert_true(ne_lwip_ready(&ln)); /* writable */

    c.hold = true; /* a consumer that stopped reading */
    static uint8_t chunk[4096];
    memset(chunk, 'x', sizeof(chunk));
    size_t total = 0;
    int would_block = 0;
    for (int i = 0; i < 64 && would_block == 0; i++) {
        ne_iovec iov[2] = {{chunk, 1000}, {chunk, sizeof(chunk)}};
        size_t sent = 0;
        int rc = net.ops->sendv(net.ctx, s, iov, 2, &sent);
        if (rc == NE_ERR_WOULD_BLOCK) {
            assert_int_equal(sent, 0);
            would_block++;
        } else {
            assert_int_equal(rc, NE_OK);
            total += sent;
        }
        pump();
    }
    assert_int_equal(would_block, 1);
    assert_false(ne_lwip_ready(&ln)); /* not writable, nothing to read */
    /* The client's window took some, lwIP's send buffer holds the rest. */
    assert_true(c.rx_len <= TCP_WND);
    assert_true(total > c.rx_len && total <= c.rx_len + TCP_SND_BUF);

    client_release(&c); /* the consumer reads again */
    c.hold = false;
    for (int i = 0; i < 8 && c.rx_len < total; i++) {
        pump();
        client_release(&c);
    }
    assert_int_equal(c.rx_len, total);
    assert_true(ne_lwip_ready(&ln));
    ne_iovec iov = {"end", 3};
    size_t sent = 0;
    assert_int_equal(net.ops->sendv(net.ctx, s, &iov, 1, &sent), NE_OK);
    assert_int_equal(sent, 3);
    pump();
    assert_int_equal(c.rx_len, total + 3);

    client_close(&c);
    pump();
    net.ops->close(net.ctx, s);
    net.ops->close(net.ctx, listener);
    pump();
}

static void test_close_with_unread_input_still_delivers_the_last_words(void **state)
{
    (void)state;
    client c;
    ne_sock listener;
    ne_sock s = accept_one(&c, &listener);
    client_send(&c, "PUB x 5\r\nhel");
    pump();
    const char *err = "-ERR 'Parser Error'\r\n";
    ne_iovec iov = {err, strlen(err)};
    size_t sent = 0;
    assert_int_equal(net.ops->sendv(net.ctx, s, &iov, 1, &sent), NE_OK);
    net.ops->close(net.ctx, s); /* the unread input is dropped, not reset */
    pump();
    assert_string_equal(c.rx, err);
    assert_true(c.got_fin);
    assert_false(c.failed);
    client_close(&c);
    net.ops->close(net.ctx, listener);
    pump();
}

static void test_a_reset_is_reported_even_with_reads_paused(void **state)
{
    (void)state;
    client c;
    ne_sock listener;
    ne_sock s = accept_one(&c, &listener);
    static uint8_t tag;
    assert_int_equal(net.ops->attach(net.ctx, s, &tag), NE_OK);
    assert_int_equal(net.ops->want_read(net.ctx, s, false), NE_OK);
    assert_false(ne_lwip_ready(&ln));
    tcp_abort(c.pcb); /* RST */
    c.pcb = NULL;
    pump();
    assert_true(ne_lwip_ready(&ln));
    char buf[16];
    size_t n = 0;
    assert_int_equal(net.ops->recv(net.ctx, s, buf, sizeof(buf), &n), NE_ERR_CLOSED);
    ne_iovec iov = {"x", 1};
    assert_int_equal(net.ops->sendv(net.ctx, s, &iov, 1, &n), NE_ERR_CLOSED);
    net.ops->close(net.ctx, s);
    net.ops->close(net.ctx, listener);
    pump();
}

static void test_connections_beyond_the_socket_table_are_refused(void **state)
{
    (void)state;
    static client clients[NE_LWIP_MAX_SOCKETS + 2];
    ne_sock listener;
    uint16_t port = next_port++;
    assert_int_equal(net.ops->listen(net.ctx, "127.0.0.1", port, &listener), NE_OK);
    for (size_t i = 0; i < NE_LWIP_MAX_SOCKETS + 2; i++) {
        client_open(&clients[i], port);
        pump();
    }
    /* The listener takes one socket: the table holds MAX - 1 connections. */
    size_t failed = 0;
    for (size_t i = 0; i < NE_LWIP_MAX_SOCKETS + 2; i++) {
        failed += clients[i].failed ? 1 : 0;
    }
    assert_int_equal(failed, 3);
    assert_int_equal(ln.refused, 3);
    ne_sock s;
    char ip[46];
    uint16_t peer_port;
    size_t accepted = 0;
    while (net.ops->accept(net.ctx, listener, &s, ip, &peer_port) == NE_OK) {
        accepted++;
        net.ops->close(net.ctx, s);
    }
    assert_int_equal(accepted, NE_LWIP_MAX_SOCKETS - 1);
    for (size_t i = 0; i < NE_LWIP_MAX_SOCKETS + 2; i++) {
        client_close(&clients[i]);
    }
    net.ops->close(net.ctx, listener);
    pump();
}

/* The broker on the lwIP port: two raw clients, a subscription, a message. */
static ne_server srv;

static void run_turns(int turns)
{
    ne_loop loop;
    ne_server_loop(&srv, &loop);
    for (int i = 0; i < turns; i++) {
        netif_poll_all();
        sys_check_timeouts();
        (void)ne_lwip_dispatch(&ln, &loop);
        ne_server_turn_end(&srv);
    }
}

static void test_the_broker_routes_a_message_over_lwip(void **state)
{
    (void)state;
    ne_server_options opts;
    ne_server_options_default(&opts);
    strcpy(opts.host, "127.0.0.1");
    opts.port = next_port++;
    assert_int_equal(ne_server_init(&srv, &opts, &net, NULL), NE_OK);
    assert_int_equal(ne_server_start(&srv), NE_OK);
    client sub, pub;
    client_open(&sub, opts.port);
    client_open(&pub, opts.port);
    run_turns(PUMP_ROUNDS);
    assert_non_null(strstr(sub.rx, "INFO {"));
    assert_non_null(strstr(pub.rx, "\"client_ip\":\"127.0.0.1\""));
    client_send(&sub, "CONNECT {\"verbose\":false}\r\nSUB a.* 1\r\nPING\r\n");
    run_turns(PUMP_ROUNDS);
    assert_non_null(strstr(sub.rx, "PONG\r\n"));
    client_send(&pub, "CONNECT {\"verbose\":false}\r\nPUB a.b 5\r\nhello\r\n");
    run_turns(PUMP_ROUNDS);
    assert_non_null(strstr(sub.rx, "MSG a.b 1 5\r\nhello\r\n"));
    client_close(&pub);
    client_close(&sub);
    run_turns(PUMP_ROUNDS);
    /* Both clients gone; the system service's internal client stays. */
    assert_int_equal(ne_nats_client_count(&srv.nats), 0);
    assert_int_equal(srv.conns.io_pool.in_use, 0);
    ne_server_shutdown(&srv);
    run_turns(PUMP_ROUNDS);
}

int main(void)
{
    lwip_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_received_bytes_close_the_window_until_read, setup),
        cmocka_unit_test_setup(test_a_full_send_buffer_is_not_writable_until_acknowledged, setup),
        cmocka_unit_test_setup(test_close_with_unread_input_still_delivers_the_last_words, setup),
        cmocka_unit_test_setup(test_a_reset_is_reported_even_with_reads_paused, setup),
        cmocka_unit_test_setup(test_connections_beyond_the_socket_table_are_refused, setup),
        cmocka_unit_test_setup(test_the_broker_routes_a_message_over_lwip, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
