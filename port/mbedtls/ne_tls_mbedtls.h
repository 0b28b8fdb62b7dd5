/* TLS over mbedTLS 2.28 for any network port (port.h's ne_tls table).
 *
 * The engine never touches a socket: each session moves its records through
 * the ne_tls_bio callbacks the core gives it. All memory is static: the
 * session contexts are a pool of NE_TLS_MAX_SESSIONS in ne_mbedtls, and
 * everything mbedTLS allocates (record buffers, keys, certificates) comes
 * from a region of NE_TLS_HEAP_BYTES through MBEDTLS_MEMORY_BUFFER_ALLOC_C.
 *
 * Use (a board's main):
 *
 *   static ne_mbedtls engine;            one per process: mbedTLS's allocator
 *   static ne_tls_config server_conf;    hook is process-wide
 *   ne_tls tls;
 *   ne_mbedtls_init(&engine, &tls);
 *   ne_mbedtls_config_load(&engine, &server_conf, &params, err, sizeof err);
 *   ... hand `tls` and `&server_conf` to the server ...
 *   ne_mbedtls_config_free(&server_conf); ne_mbedtls_deinit(&engine);
 *
 * A client configuration (role NE_TLS_ROLE_CLIENT) is for outbound
 * connections such as leaf remotes: the peer's certificate is verified
 * against ca_file and must match the host name given to ops->open; cert_file
 * and key_file, when set, are presented as the client certificate.
 */
#ifndef NE_TLS_MBEDTLS_H
#define NE_TLS_MBEDTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mbedtls/ctr_drbg.h"
#include "mbedtls/pk.h"
#include "mbedtls/ssl.h"
#include "mbedtls/version.h"
#include "mbedtls/x509_crt.h"
#include "ne_config.h"
#include "port.h"

#if !defined(MBEDTLS_VERSION_NUMBER) || MBEDTLS_VERSION_NUMBER < 0x021C0000 ||                     \
    MBEDTLS_VERSION_NUMBER >= 0x03000000
#error "port/mbedtls needs mbedTLS 2.28.x (see docs/tls.md, MBEDTLS_DIR)"
#endif

typedef enum ne_tls_role {
    NE_TLS_ROLE_SERVER = 0, /* accepted connections: clients, HTTPS monitoring */
    NE_TLS_ROLE_CLIENT = 1, /* outbound connections: leaf remotes */
} ne_tls_role;

/* What a configuration is made from. Paths are read once, by
 * ne_mbedtls_config_load; NULL or "" means absent. */
typedef struct ne_tls_config_params {
    ne_tls_role role;
    const char *cert_file; /* PEM chain: required for a server, optional for a client */
    const char *key_file;  /* PEM private key of cert_file */
    const char *ca_file;   /* PEM CAs: a client verifies the server with them
                            * (required); a server verifies clients (verify) */
    bool verify;           /* server: demand and verify a client certificate */
} ne_tls_config_params;

struct ne_tls_config {
    mbedtls_ssl_config conf;
    mbedtls_x509_crt cert;
    mbedtls_x509_crt ca;
    mbedtls_pk_context key;
    struct ne_mbedtls *engine;
    ne_tls_role role;
    bool loaded;
};

struct ne_tls_session {
    mbedtls_ssl_context ssl;
    ne_tls_bio bio;
    struct ne_mbedtls *engine;
    size_t write_pending; /* bytes of a write that returned WANT_WRITE */
    int last_error;       /* mbedTLS error of the last failed call */
    bool in_use;
    bool handshake_done;
};

typedef struct ne_mbedtls {
    mbedtls_ctr_drbg_context drbg;
    ne_tls_session sessions[NE_TLS_MAX_SESSIONS];
    uint32_t sessions_in_use;
    uint64_t refused;
    uint64_t handshakes;
    uint64_t failures;
    bool ready;
} ne_mbedtls;

/* Sets up the static region, the random generator (seeded from
 * ne_port_entropy) and the session pool, and fills `tls` with the ops.
 * Only one engine may exist in a process. NE_OK or NE_ERR_IO (no entropy). */
int ne_mbedtls_init(ne_mbedtls *m, ne_tls *tls);
void ne_mbedtls_deinit(ne_mbedtls *m);

/* Loads certificates and keys into cfg (static storage of the caller).
 * On failure writes a one-line reason in the user's terms, naming the file,
 * into err (nats-server's wording where it has one: "error parsing X509
 * certificate/key pair: open <file>: no such file or directory") and returns
 * NE_ERR_NOT_FOUND (a file cannot be opened), NE_ERR_INVALID (a file is not
 * what it should be, the key is not the certificate's) or NE_ERR_NOMEM (the
 * region cannot hold them: raise NE_TLS_HEAP_BYTES). */
#if defined(MBEDTLS_FS_IO)
int ne_mbedtls_config_load(ne_mbedtls *m, ne_tls_config *cfg, const ne_tls_config_params *params,
                           char *err, size_t err_cap);
#endif
void ne_mbedtls_config_free(ne_tls_config *cfg);

/* A client configuration (role NE_TLS_ROLE_CLIENT, the server always
 * verified) whose trust anchors are the PEM text ca_pem (NUL-terminated;
 * read here, not kept), for a board without files; ca_name names it in
 * messages. NE_ERR_INVALID (no certificate in it) or NE_ERR_NOMEM (raise
 * NE_TLS_HEAP_BYTES), the reason in err. Without MBEDTLS_FS_IO (a board's
 * mbedTLS) this is the only loader; ne_mbedtls_config_load needs files. */
int ne_mbedtls_client_config_pem(ne_mbedtls *m, ne_tls_config *cfg, const char *ca_name,
                                 const char *ca_pem, char *err, size_t err_cap);

/* The region's current and peak use in bytes (allocations only). */
void ne_mbedtls_memory(size_t *in_use_bytes, size_t *peak_bytes);

#endif
