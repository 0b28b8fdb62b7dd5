/* libFuzzer harness for what a route peer sends. The first byte picks:
 *   0-4: a route to our cluster listener, its CONNECT and INFO done (an
 *        established route; mode 4: nothing done, the input is the whole
 *        handshake too), then the input as the peer's bytes in chunks:
 *        RS+/RS-/RMSG/HMSG, INFO (gossip, lame duck), PING, -ERR, anything,
 *        against a client subscribed to everything (plain and queue) that
 *        also publishes; after shutdown every pool, the route's included,
 *        must be back to idle;
 *   5:   the route control-line parser (ne_route_parse_line);
 *   6:   a peer's INFO (ne_route_parse_info);
 *   7:   a route URL (ne_route_parse_url). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "route/ne_route.h"
#include "server/ne_server.h"
#include "sim/ne_sim_net.h"

static ne_server srv;
static ne_sim_net sim;

static void fail_if(int cond)
{
    if (cond) {
        abort();
    }
}

static void fuzz_peer(const uint8_t *data, size_t size, size_t split, bool handshake)
{
    ne_net net;
    ne_sim_net_init(&sim, &net);
    ne_server_options opts;
    ne_server_options_default(&opts);
    opts.port = 0;
    opts.max_payload = 4096;
    opts.max_pending = 64 * 1024;
    opts.cluster.enabled = true;
    memcpy(opts.cluster.name, "C1", 3);
    if (ne_server_init(&srv, &opts, &net, NULL) != 0 || ne_server_start(&srv) != 0) {
        abort();
    }
    ne_loop loop;
    ne_server_loop(&srv, &loop);
    int client = ne_sim_connect(&sim, ne_server_client_port(&srv));
    int peer = ne_sim_connect(&sim, ne_server_route_port(&srv));
    ne_sim_net_step(&sim, &loop);
    static const char sub[] = "CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB > 1\r\n"
                              "SUB a.* grp 2\r\n";
    ne_sim_client_write(&sim, client, sub, sizeof(sub) - 1);
    static const char hello[] =
        "CONNECT {\"name\":\"NFUZZ\",\"cluster\":\"C1\",\"headers\":true}\r\n"
        "INFO {\"server_id\":\"NFUZZ\",\"server_name\":\"fuzz\",\"cluster\":\"C1\","
        "\"host\":\"127.0.0.1\",\"port\":1,\"headers\":true,\"connect_urls\":[\"127.0.0.1:1\"]}"
        "\r\n";
    if (!handshake) {
        ne_sim_client_write(&sim, peer, hello, sizeof(hello) - 1);
    }
    ne_sim_net_step(&sim, &loop);
    static uint8_t sink[NE_SIM_BUFFER_BYTES];
    size_t pos = 0;
    for (int turn = 0; turn < 4096 && pos < size; turn++) {
        size_t n = size - pos < split ? size - pos : split;
        pos += ne_sim_client_write(&sim, peer, data + pos, n);
        ne_sim_net_step(&sim, &loop);
        ne_sim_client_read(&sim, peer, sink, sizeof(sink));
        ne_sim_client_read(&sim, client, sink, sizeof(sink));
        if (turn % 8 == 7) {
            /* Local publishes so the peer's interest is used too. */
            static const char pub[] = "PUB a.b 1\r\nx\r\nHPUB a.c 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
                                      "SUB q.> g 3\r\nUNSUB 3\r\n";
            ne_sim_client_write(&sim, client, pub, sizeof(pub) - 1);
        }
    }
    ne_sim_client_close(&sim, peer);
    ne_sim_net_step(&sim, &loop);
    ne_server_shutdown(&srv);
    fail_if(srv.conns.conn_pool.in_use != 0);
    fail_if(srv.router.sub_pool.in_use != 0);
    fail_if(srv.conns.chunks.chunks.in_use != 0);
    fail_if(srv.conns.chunks.refs.in_use != 0);
    fail_if(srv.route.link_pool.in_use != 0);
    fail_if(srv.router.trie.pool.in_use != 0); /* the roots too: deinit */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    uint8_t mode = data[0] % 8;
    size_t split = (size_t)(data[0] / 8) + 1;
    data++;
    size--;
    static char text[8192];
    size_t len = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
    memcpy(text, data, len);
    text[len] = '\0';
    switch (mode) {
    case 5: {
        ne_op op;
        if (ne_route_parse_line(text, len, &op) == NE_PROTO_OK) {
            fail_if(op.hdr_len > op.total_len);
            fail_if(op.subject.len > len || op.queue.len > len || op.reply.len > len ||
                    op.account.len > len);
        }
        break;
    }
    case 6: {
        ne_route_info info;
        static ne_json_doc doc;
        if (ne_route_parse_info(text, len, &info, &doc) == 0) {
            fail_if(strlen(info.server_id) >= sizeof(info.server_id));
            fail_if(strlen(info.urls) != info.urls_len || info.urls_len >= sizeof(info.urls));
        }
        break;
    }
    case 7: {
        ne_route_url url;
        if (ne_route_parse_url(text, len, &url) == 0) {
            fail_if(url.port == 0 || url.host[0] == '\0');
        }
        break;
    }
    default:
        fuzz_peer(data, size, split, mode == 4);
        break;
    }
    return 0;
}
