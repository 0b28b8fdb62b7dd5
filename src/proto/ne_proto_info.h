/* The INFO line a server sends (clients: CP-10..CP-13; leafs: LN-02, LN-03).
 * One writer for every kind: the fields a kind leaves at zero or NULL are
 * not written. */
#ifndef NE_PROTO_INFO_H
#define NE_PROTO_INFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ne_info_fields {
    const char *server_id;
    const char *server_name;
    const char *version; /* the advertised nats-server version */
    const char *go;      /* "natsedge-<version>" */
    const char *host;
    uint16_t port;
    bool headers;
    uint32_t max_payload;
    bool jetstream; /* JetStream is on: "jetstream":true */
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
    bool trailing_space;        /* "} \r\n" as nats-server ends a client INFO */
    /* The object is left open, without "}\r\n": the caller streams more
     * members (",\"key\":value") and closes it itself. */
    bool leave_open;
} ne_info_fields;

/* Writes "INFO {...}\r\n" into out; returns its length, or 0 when it does
 * not fit in cap (nothing usable is written then). */
size_t ne_proto_write_info(char *out, size_t cap, const ne_info_fields *f);

#endif
