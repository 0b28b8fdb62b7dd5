/* The INFO line a server sends (clients: CP-10..CP-13; leafs: LN-02, LN-03;
 * routes).
 * One writer for every kind: the fields a kind leaves at zero or NULL are
 * not written. */
#ifndef NE_PROTO_INFO_H
#define NE_PROTO_INFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ne_config.h"

/* The client URLs of a cluster (INFO connect_urls, CP-11): this server's
 * and those its routes announced, written by the route kind and read by the
 * client kind (the server gives both the same one). `items` holds the
 * array's members, JSON strings separated by commas; `generation` grows at
 * every change, so a client can tell whether the list changed since its
 * INFO (CP-13). */
typedef struct ne_connect_urls {
    uint32_t generation;
    uint32_t count;
    uint32_t len;
    char items[NE_CLUSTER_URLS_BYTES];
} ne_connect_urls;

typedef struct ne_info_fields {
    const char *server_id;
    const char *server_name;
    const char *version; /* the advertised nats-server version */
    uint8_t proto;       /* 0: 1 (clients, leafs); routes say 2 */
    const char *go;      /* "natsedge-<version>" */
    const char *host;
    uint16_t port;
    bool headers;
    uint32_t max_payload;
    bool jetstream;     /* JetStream is on: "jetstream":true */
    const char *domain; /* JetStream domain (CP-11, LN-02); NULL or "": none */
    bool auth_required;
    bool tls_required;
    bool tls_verify;
    const char *nonce; /* NULL or "": none */
    bool ldm;          /* lame duck mode */
    bool has_client_id;
    uint64_t client_id;
    const char *client_ip; /* NULL: none */
    /* Leaf hubs (LN-02, LN-03). */
    bool info_on_connect;
    bool connect_info;
    const char *leafnode_url;   /* "host:port" of the leafnode_urls array; NULL: none */
    const char *remote_account; /* NULL: none */
    /* Clusters (clients' and routes' INFO). */
    const char *ip;           /* "nats-route://host:port/" (gossip, advertise); NULL: none */
    const char *cluster;      /* the cluster's name; NULL: none */
    bool cluster_dynamic;     /* the name was made up and may give way to a configured one */
    const char *connect_urls; /* the connect_urls array's items (ne_connect_urls); NULL: none */
    bool trailing_space;      /* "} \r\n" as nats-server ends a client INFO */
    /* The object is left open, without "}\r\n": the caller streams more
     * members (",\"key\":value") and closes it itself. */
    bool leave_open;
} ne_info_fields;

/* Writes "INFO {...}\r\n" into out; returns its length, or 0 when it does
 * not fit in cap (nothing usable is written then). */
size_t ne_proto_write_info(char *out, size_t cap, const ne_info_fields *f);

#endif
