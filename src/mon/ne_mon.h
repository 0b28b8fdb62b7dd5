/* HTTP monitoring (floor 5, docs/architecture.md): a connection kind that
 * answers GET requests with nats-server's JSON documents, and the table of
 * those documents (endpoints), which other parts register: the server
 * /varz, the leaf kind /leafz, this module /connz, /subsz, /accountz and
 * /healthz. The system service answers $SYS.REQ.SERVER.*.<NAME> requests
 * with the same endpoints (ne_mon_write).
 *
 * An HTTP connection reads its request into the connection's read buffer,
 * writes the response through the outbound queue (so a long /connz needs no
 * large buffer), and closes after the response (Connection: close). */
#ifndef NE_MON_H
#define NE_MON_H

#include <stdbool.h>
#include <stdint.h>

#include "conf/ne_options.h"
#include "conn/ne_conn.h"
#include "core/ne_pool.h"
#include "json/ne_json_out.h"
#include "router/ne_router.h"

/* What a monitoring request asks for: from an HTTP query string
 * (?subs=1&sort=...) or a system request's JSON body. */
typedef struct ne_mon_query {
    bool subs;        /* subs=1 / "subscriptions": true */
    bool subs_detail; /* subs=detail / "subscriptions_detail": true */
    int sort;         /* index of ne_mon_sort_names; -1: an unknown name was given */
    uint64_t offset;
    uint64_t limit;    /* 1024 unless given */
    uint64_t cid;      /* 0: every connection */
    uint8_t state;     /* NE_MON_STATE_* */
    bool natsedge;     /* natsedge=1: natsedge-only objects too (nats-server ignores it) */
    bool unused;       /* /accstatz unused=1 / "include_unused": accounts without connections */
    bool acc_given;    /* /accstatz acc=<name>: that account only */
    uint8_t js_detail; /* /jsz: 1 accounts, 2 and streams, 3 and consumers */
    bool js_config;    /* /jsz config=1: streams' and consumers' configurations */
    char acc[NE_ACCOUNT_NAME_BYTES];
    bool mqtt_client_given; /* /connz mqtt_client=<id>: that MQTT client only */
    char mqtt_client[NE_MQTT_CLIENT_ID_BYTES];
} ne_mon_query;

#define NE_MON_STATE_OPEN 0
#define NE_MON_STATE_CLOSED 1
#define NE_MON_STATE_ANY 2

/* Writes an endpoint's document into out. NE_OK; or NE_ERR_INVALID with a
 * reason in *error_text (HTTP 400) when the query is refused, before
 * anything was written. */
typedef int (*ne_mon_handler)(void *ctx, ne_json_out *out, const ne_mon_query *q,
                              const char **error_text);

/* Writes a response that is not JSON (the index page, /stacksz) through
 * sink; NE_OK or the sink's error. */
typedef int (*ne_mon_text_handler)(void *ctx, ne_json_sink sink, void *sink_ctx);

typedef struct ne_mon_endpoint {
    const char *path;  /* "/varz" */
    const char *alias; /* another path for the same document, or NULL */
    const char *name;  /* the system request's name: "VARZ"; NULL: HTTP only */
    ne_mon_handler handler;
    ne_mon_text_handler text; /* instead of handler: a body of content_type */
    const char *content_type; /* of text */
    void *ctx;
    bool counted;      /* in /varz http_req_stats (as nats-server counts it) */
    uint64_t requests; /* HTTP requests answered */
} ne_mon_endpoint;

#define NE_MON_MAX_ENDPOINTS 16

/* An HTTP connection's own state. */
typedef struct ne_mon_client {
    uint64_t accepted_ms; /* the request must be whole NE_HTTP_REQUEST_TIMEOUT_MS after */
    bool answered;
} ne_mon_client;

typedef struct ne_mon {
    const ne_server_options *opts;
    ne_conns *conns;
    ne_router *router;
    uint8_t kind;
    ne_listener listener;
    ne_mon_endpoint endpoints[NE_MON_MAX_ENDPOINTS];
    uint32_t endpoint_count;
    ne_pool state_pool;
    /* Twice the connections: those closed to make room leave at the end of
     * the loop turn, while new ones are admitted (admit). */
    NE_POOL_STORAGE(ne_mon_client, 2 * NE_MAX_HTTP_CONNECTIONS) state_storage;
    /* /connz sorting: headers, and parked records (ne_parked) of
     * connections parked (NE_CONN_PARKING). */
    const void *scratch[NE_MAX_CONNECTIONS];
    /* HTTPS: a server configuration that asks no client certificate, when
     * the clients' one does (verify); NULL: the clients' one. */
    const ne_tls_config *tls_config;
} ne_mon;

void ne_mon_init(ne_mon *mon, const ne_server_options *opts, ne_conns *conns, ne_router *router);
/* Opens the monitoring listener when opts.http_enabled. */
int ne_mon_start(ne_mon *mon);
/* Adds a JSON endpoint, counted in http_req_stats; alias and name may be
 * NULL. A path registered already is replaced (its request count too).
 * Returns it, for the caller to adjust (counted). */
ne_mon_endpoint *ne_mon_register(ne_mon *mon, const char *path, const char *alias, const char *name,
                                 ne_mon_handler handler, void *ctx);
/* Adds an HTTP-only endpoint whose body is content_type text. */
ne_mon_endpoint *ne_mon_register_text(ne_mon *mon, const char *path, const char *content_type,
                                      ne_mon_text_handler text, void *ctx);
/* The endpoint of an HTTP path or a system request name, NULL if none. */
const ne_mon_endpoint *ne_mon_find(const ne_mon *mon, const char *path, size_t path_len);
const ne_mon_endpoint *ne_mon_find_name(const ne_mon *mon, const char *name, size_t name_len);
void ne_mon_query_default(ne_mon_query *q);
/* A system request's JSON options onto q (nats-server's ConnzOptions names:
 * subscriptions, subscriptions_detail, sort, offset, limit, cid, state).
 * NE_ERR_PARSE with a reason when the body is not a JSON object. */
int ne_mon_query_from_json(ne_mon_query *q, const char *json, size_t len, const char **error_text);

/* For endpoint writers: the time stamp "now" of a document, and a
 * connection's sort key names (/connz sort=). */
extern const char *const ne_mon_sort_names[];

#endif
