/* The server (floor 7, docs/architecture.md): one object holding every floor
 * below it (the connection layer, the router, the connection kinds and the
 * services), its options, its life cycle and lame duck mode.
 *
 * All state lives in one ne_server whose storage the caller provides (a
 * static variable in a board's main, several in a test). The port's event
 * loop drives it through the table ne_server_loop fills (port.h ne_loop):
 *
 *   ne_server_init, [ne_server_set_tls], ne_server_start
 *   loop: wait at most next_timeout_ms, io(user, readable, writable) for
 *         each event, turn_end once per turn (timers, flushes, closes)
 *   ne_server_shutdown
 */
#ifndef NE_SERVER_H
#define NE_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/ne_options.h"
#include "conn/ne_conn.h"
#include "core/ne_log.h"
#include "js/ne_js.h"
#include "core/ne_rng.h"
#include "core/ne_version.h"
#include "leaf/ne_leaf.h"
#include "mon/ne_mon.h"
#include "mqtt/ne_mqtt.h"
#include "nats/ne_nats.h"
#include "ne_config.h"
#include "port.h"
#include "proto/ne_proto_info.h"
#include "route/ne_route.h"
#include "router/ne_router.h"
#include "sys/ne_sys.h"
#if NE_MQTT_PERSIST
#include "codec/ne_snappy.h"
#include "store/ne_store_dev.h"
#endif

#define NE_LAME_DUCK_OFF 0
#define NE_LAME_DUCK_GRACE 1   /* listener closed, INFO sent, waiting */
#define NE_LAME_DUCK_CLOSING 2 /* closing clients one by one */
#define NE_LAME_DUCK_DONE 3    /* every client closed */

/* The pools' storage, last in the server so that it stays out of the
 * resident set until used. */
typedef struct ne_server_storage {
    ne_conns_storage conns;
    ne_router_storage router;
    ne_nats_storage nats;
#if NE_FEATURE_JETSTREAM
    ne_js_storage js;
#endif
#if NE_FEATURE_MQTT
    ne_mqtt_pool_storage mqtt;
#endif
} ne_server_storage;

typedef struct ne_server {
    ne_server_options opts;
    ne_log log;
    ne_rng rng;
    uint64_t start_ms;
    uint64_t next_tick_ms;
    bool started;
    /* Lame duck mode: no new clients, the others closed one by one. */
    uint8_t lame_duck;             /* NE_LAME_DUCK_* */
    uint64_t lame_duck_next_ms;    /* the next step is due */
    uint64_t lame_duck_spacing_ms; /* the longest wait between two closes */
    uint32_t lame_duck_batch;      /* clients closed per step */
    ne_conns conns;
    ne_router router;
    ne_nats nats;
#if NE_FEATURE_MQTT
    ne_mqtt mqtt;
#endif
    ne_leaf_state leaf;
#if NE_FEATURE_ROUTES
    ne_route_state route;
#endif
    /* The cluster's client URLs: the route kind writes them, the client
     * kind sends them in INFO connect_urls. */
    ne_connect_urls cluster_urls;
    ne_mon mon;
    ne_sys sys;
#if NE_FEATURE_JETSTREAM
    ne_js js;
#endif
#if NE_MQTT_PERSIST
    /* The storage device (ne_server_set_flash): MQTT's sessions and
     * retained messages live in a log of it. */
    const ne_flash *flash;
    bool store_open;
    ne_store_dev store_dev;
#if NE_STORE_PACK_RAW_BYTES > 0
    ne_snappy_table snappy;
#endif
#endif
    const char *config_file; /* the board's configuration file, for the log; may be NULL */
    ne_server_storage storage;
} ne_server;

void ne_server_options_default(ne_server_options *opts);
/* Checks opts against the compiled-in maxima; on failure writes a message
 * naming the config/ knob to raise into err and returns NE_ERR_RANGE. */
int ne_server_options_check(const ne_server_options *opts, char *err, size_t err_cap);

/* Clears srv (whatever it held: a server shut down before may be initialized
 * again) and sets it up. */
int ne_server_init(ne_server *srv, const ne_server_options *opts, const ne_net *net,
                   const ne_log *log);
/* ne_server_init for storage that is all zero bytes already (a static
 * ne_server never used before): nothing is cleared, so the tables and pools
 * a run never uses are never read or written. On a host whose kernel backs
 * a read of untouched memory with a page of its own (no shared zero page),
 * clearing by reading costs as much resident memory as clearing by writing;
 * this is how a board's main keeps its start-up footprint small. `opts` may
 * be the server's own options (srv->opts), filled by the board before this
 * call: then they are kept as they are, not copied. */
int ne_server_init_zeroed(ne_server *srv, const ne_server_options *opts, const ne_net *net,
                          const ne_log *log);
/* Opens the listeners and logs the start-up lines. */
int ne_server_start(ne_server *srv);
void ne_server_handle_io(ne_server *srv, void *user, bool readable, bool writable);
void ne_server_turn_end(ne_server *srv);
/* Milliseconds until the next timer is due (the loop's wait bound). */
int ne_server_next_timeout_ms(const ne_server *srv);
/* Closes every connection and the listeners. */
void ne_server_shutdown(ne_server *srv);
/* Fills the table through which a port's event loop drives this server
 * (port.h): handle_io, turn_end, next_timeout_ms and finished. */
void ne_server_loop(ne_server *srv, ne_loop *loop);

/* The ports the listeners are bound to (0: not listening). */
#if NE_MQTT_PERSIST
/* The medium of the storage device (a board's flash partition or file),
 * given before ne_server_start: the start opens the device, recovers it
 * and takes MQTT's persistent state back from it (a failure fails the
 * start); the shutdown syncs it. The flash must outlive the server. */
void ne_server_set_flash(ne_server *srv, const ne_flash *flash);
#endif
uint16_t ne_server_client_port(const ne_server *srv);
uint16_t ne_server_leaf_port(const ne_server *srv);
uint16_t ne_server_http_port(const ne_server *srv);
uint16_t ne_server_mqtt_port(const ne_server *srv);
uint16_t ne_server_route_port(const ne_server *srv);
/* Objects taken from every pool of the server: 0 when idle (the unit tests'
 * leak check after each test). Names the first busy pool in *busy. */
uint32_t ne_server_pools_in_use(const ne_server *srv, const char **busy);

/* Lame duck mode (nats-server's SIGUSR2, inventory CP-70): closes the client
 * listener, sends clients an INFO with "ldm":true, waits the grace period,
 * then closes the clients spread over the rest of lame_duck_duration. Once
 * no client is left, ne_server_finished() is true and the board shuts the
 * server down. Does nothing if already in lame duck mode. */
void ne_server_enter_lame_duck(ne_server *srv);
/* True when lame duck mode has closed every client: time to shut down. */
bool ne_server_finished(const ne_server *srv);

/* Applies new options at run time (a configuration reload, SIGHUP), as
 * nats-server 2.9: authorization (user, password, token, timeout, users,
 * nkeys), max_connections, max_payload, max_control_line, ping_interval,
 * ping_max and write_deadline. Clients whose credential is no longer
 * configured are closed with Authorization Violation; clients beyond a lower
 * max_connections with "maximum connections exceeded". Logs each change
 * ("Reloaded: ..."). A change of any other option refuses the whole reload:
 * NE_ERR_UNSUPPORTED with nats-server's message in err, nothing changed; an
 * invalid set of options: ne_server_options_check's error. */
int ne_server_reload(ne_server *srv, const ne_server_options *opts, char *err, size_t err_cap);
/* Logs the static memory reserved, pool by pool. */
void ne_server_log_memory(const ne_server *srv);

/* Gives the server a TLS engine and its configurations (port/mbedtls makes
 * them), before ne_server_start. server_config serves clients when opts.tls
 * and monitoring when opts.https; client_config (may be NULL) is for
 * outbound connections (leaf remotes). */
void ne_server_set_tls(ne_server *srv, const ne_tls *tls, const ne_tls_config *server_config,
                       const ne_tls_config *client_config);
/* HTTPS monitoring with a configuration of its own, before ne_server_start:
 * nats-server asks a monitoring client for no certificate even when client
 * connections must present one (tls verify). NULL: the clients' one. */
void ne_server_set_monitor_tls(ne_server *srv, const ne_tls_config *config);
/* The configuration file the board read the options from (NULL: none),
 * named at start-up ("Using configuration file: ..."). The text must live as
 * long as the server. Call after ne_server_init. */
void ne_server_set_config_file(ne_server *srv, const char *path);

#endif
