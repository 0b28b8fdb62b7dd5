/* libFuzzer harness for a whole connection: the input is split into chunks
 * fed to a server over the simulated network, with a second subscriber
 * connection listening to everything. Framing, CONNECT JSON, every handler
 * and routing see hostile input; the server must never crash, and after
 * shutdown every pool must be back to idle. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ne_net net;
    ne_sim_net_init(&sim, &net);
    ne_server_options opts;
    ne_server_options_default(&opts);
    opts.port = 0;
    opts.max_payload = 4096;
    opts.max_pending = 64 * 1024;
    if (ne_server_init(&srv, &opts, &net, NULL) != 0 || ne_server_start(&srv) != 0) {
        abort();
    }
    ne_loop loop;
    ne_server_loop(&srv, &loop);
    uint16_t port = ne_server_client_port(&srv);
    int listener = ne_sim_connect(&sim, port);
    int c = ne_sim_connect(&sim, port);
    ne_sim_net_step(&sim, &loop);
    static const char sub[] = "CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB > 1\r\n";
    ne_sim_client_write(&sim, listener, sub, sizeof(sub) - 1);
    ne_sim_net_step(&sim, &loop);
    static uint8_t sink[NE_SIM_BUFFER_BYTES];
    /* The first byte picks the split size so that framing sees every split. */
    size_t split = size > 0 ? (size_t)(data[0] % 64) + 1 : 1;
    size_t pos = size > 0 ? 1 : 0;
    for (int turn = 0; turn < 4096 && pos < size; turn++) {
        size_t n = size - pos < split ? size - pos : split;
        pos += ne_sim_client_write(&sim, c, data + pos, n);
        ne_sim_net_step(&sim, &loop);
        ne_sim_client_read(&sim, c, sink, sizeof(sink));
        ne_sim_client_read(&sim, listener, sink, sizeof(sink));
    }
    ne_sim_client_close(&sim, c);
    ne_sim_net_step(&sim, &loop);
    ne_server_shutdown(&srv);
    fail_if(srv.conns.conn_pool.in_use != 0);
    fail_if(srv.router.sub_pool.in_use != 0);
    fail_if(srv.conns.chunks.chunks.in_use != 0);
    fail_if(srv.conns.chunks.refs.in_use != 0);
    return 0;
}
