/* TLS over mbedTLS 2.28: sessions from a static pool, memory from a static
 * region, records through the caller's BIO callbacks. */
#include "mbedtls/ne_tls_mbedtls.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "mbedtls/error.h"
#include "mbedtls/memory_buffer_alloc.h"
#include "mbedtls/pem.h"
#include "mbedtls/platform.h"

/* Messages are formatted with mbedtls_snprintf: the C library's snprintf
 * on Linux, the board's own where the C library's would bring an allocator
 * in (board/mps2-an385/mbedtls_board_config.h). */

/* The region mbedTLS allocates from. mbedTLS's allocator hook is
 * process-wide, so the region is too. */
static _Alignas(16) unsigned char tls_region[NE_TLS_HEAP_BYTES];
static bool region_ready;

/* The suites of config/mbedtls_config.h, strongest preference first. */
static const int ciphersuites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    0,
};

/* Key exchange groups, fastest first: mbedTLS's default order would pick
 * P-384 whenever a client offers it, at about three times the cost of
 * X25519 or P-256 on the one event loop. */
static const mbedtls_ecp_group_id curves[] = {
    MBEDTLS_ECP_DP_CURVE25519,
    MBEDTLS_ECP_DP_SECP256R1,
    MBEDTLS_ECP_DP_SECP384R1,
    MBEDTLS_ECP_DP_NONE,
};

static bool is_alloc_error(int rc)
{
    return rc == MBEDTLS_ERR_SSL_ALLOC_FAILED || rc == MBEDTLS_ERR_MPI_ALLOC_FAILED ||
           rc == MBEDTLS_ERR_ECP_ALLOC_FAILED || rc == MBEDTLS_ERR_X509_ALLOC_FAILED ||
           rc == MBEDTLS_ERR_PK_ALLOC_FAILED || rc == MBEDTLS_ERR_CIPHER_ALLOC_FAILED ||
           rc == MBEDTLS_ERR_MD_ALLOC_FAILED || rc == MBEDTLS_ERR_PEM_ALLOC_FAILED ||
           rc == MBEDTLS_ERR_ASN1_ALLOC_FAILED;
}

/* The random generator's seed: the port's entropy source. */
static int entropy_source(void *ctx, unsigned char *buf, size_t len)
{
    (void)ctx;
    return ne_port_entropy(buf, len) == NE_OK ? 0 : MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
}

/* ---- BIO: the session's records go through the core's callbacks ---------- */

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    ne_tls_session *s = ctx;
    size_t sent = 0;
    int rc = s->bio.send(s->bio.io, buf, len, &sent);
    if (rc == NE_OK) {
        return sent > 0 ? (int)sent : MBEDTLS_ERR_SSL_WANT_WRITE;
    }
    if (rc == NE_ERR_WOULD_BLOCK) {
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    }
    return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    ne_tls_session *s = ctx;
    size_t got = 0;
    int rc = s->bio.recv(s->bio.io, buf, len, &got);
    if (rc == NE_OK) {
        return (int)got;
    }
    if (rc == NE_ERR_WOULD_BLOCK) {
        return MBEDTLS_ERR_SSL_WANT_READ;
    }
    if (rc == NE_ERR_CLOSED) {
        return 0; /* end of stream */
    }
    return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
}

/* ---- Sessions ------------------------------------------------------------ */

static int tls_open(void *ctx, const ne_tls_config *cfg, const ne_tls_bio *bio,
                    const char *server_name, ne_tls_session **out)
{
    ne_mbedtls *m = ctx;
    ne_tls_session *s = NULL;
    for (uint32_t i = 0; i < NE_TLS_MAX_SESSIONS; i++) {
        if (!m->sessions[i].in_use) {
            s = &m->sessions[i];
            break;
        }
    }
    if (s == NULL || cfg == NULL || !cfg->loaded) {
        m->refused++;
        return s == NULL ? NE_ERR_NOMEM : NE_ERR_INVALID;
    }
    memset(s, 0, sizeof(*s));
    mbedtls_ssl_init(&s->ssl);
    int rc = mbedtls_ssl_setup(&s->ssl, &cfg->conf);
    if (rc == 0 && cfg->role == NE_TLS_ROLE_CLIENT && server_name != NULL) {
        rc = mbedtls_ssl_set_hostname(&s->ssl, server_name);
    }
    if (rc != 0) {
        mbedtls_ssl_free(&s->ssl);
        m->refused++;
        return is_alloc_error(rc) ? NE_ERR_NOMEM : NE_ERR_INVALID;
    }
    s->bio = *bio;
    s->engine = m;
    s->in_use = true;
    mbedtls_ssl_set_bio(&s->ssl, s, bio_send, bio_recv, NULL);
    m->sessions_in_use++;
    *out = s;
    return NE_OK;
}

static int map_error(ne_tls_session *s, int rc)
{
    if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
        return NE_ERR_WOULD_BLOCK;
    }
    s->last_error = rc;
    if (rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || rc == MBEDTLS_ERR_SSL_CONN_EOF) {
        return NE_ERR_CLOSED;
    }
    if (is_alloc_error(rc)) {
        return NE_ERR_NOMEM;
    }
    if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED || rc == MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE ||
        rc == MBEDTLS_ERR_SSL_PEER_VERIFY_FAILED) {
        return NE_ERR_PERMISSION;
    }
    return NE_ERR_IO;
}

static int tls_handshake(void *ctx, ne_tls_session *s)
{
    ne_mbedtls *m = ctx;
    if (s->handshake_done) {
        return NE_OK;
    }
    int rc = mbedtls_ssl_handshake(&s->ssl);
    if (rc == 0) {
        s->handshake_done = true;
        m->handshakes++;
        return NE_OK;
    }
    int err = map_error(s, rc);
    if (err != NE_ERR_WOULD_BLOCK) {
        m->failures++;
    }
    return err;
}

static int tls_read(void *ctx, ne_tls_session *s, void *buf, size_t len, size_t *got)
{
    (void)ctx;
    int rc = mbedtls_ssl_read(&s->ssl, buf, len);
    if (rc > 0) {
        *got = (size_t)rc;
        return NE_OK;
    }
    if (rc == 0) {
        return NE_ERR_CLOSED;
    }
    return map_error(s, rc);
}

/* mbedtls_ssl_write, after WANT_WRITE, finishes the record it already made
 * and then reports the length it is called with as written: the retry must
 * therefore offer exactly the bytes of the first call. */
static int tls_write(void *ctx, ne_tls_session *s, const void *buf, size_t len, size_t *written)
{
    (void)ctx;
    *written = 0;
    if (s->write_pending > 0) {
        if (len < s->write_pending) {
            return NE_ERR_INVALID; /* the caller broke the contract */
        }
        len = s->write_pending;
    }
    int rc = mbedtls_ssl_write(&s->ssl, buf, len);
    if (rc >= 0) {
        s->write_pending = 0;
        *written = (size_t)rc;
        return NE_OK;
    }
    int err = map_error(s, rc);
    if (err == NE_ERR_WOULD_BLOCK) {
        size_t max = (size_t)mbedtls_ssl_get_max_out_record_payload(&s->ssl);
        s->write_pending = len < max ? len : max;
    }
    return err;
}

static size_t tls_pending(void *ctx, ne_tls_session *s)
{
    (void)ctx;
    return mbedtls_ssl_get_bytes_avail(&s->ssl);
}

static void tls_close(void *ctx, ne_tls_session *s, bool notify)
{
    ne_mbedtls *m = ctx;
    if (s == NULL || !s->in_use) {
        return;
    }
    if (notify && s->handshake_done) {
        (void)mbedtls_ssl_close_notify(&s->ssl); /* best effort, never waits */
    }
    mbedtls_ssl_free(&s->ssl);
    s->in_use = false;
    m->sessions_in_use--;
}

static void tls_error_text(void *ctx, ne_tls_session *s, char *buf, size_t cap)
{
    (void)ctx;
    if (cap == 0) {
        return;
    }
    buf[0] = '\0';
    int rc = s->last_error;
    if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
        /* Say which check failed (expired, name mismatch, unknown CA). */
        uint32_t flags = mbedtls_ssl_get_verify_result(&s->ssl);
        char info[256];
        int n = mbedtls_x509_crt_verify_info(info, sizeof(info), "", flags);
        /* The library ends each reason with a newline: make it one line. */
        for (int i = 0; i < n && info[i] != '\0'; i++) {
            if (info[i] == '\n') {
                info[i] = (i + 1 < n && info[i + 1] != '\0') ? ';' : '\0';
            }
        }
        mbedtls_snprintf(buf, cap, "certificate verification failed: %s",
                         n > 0 ? info : "unknown reason");
        return;
    }
    if (rc == MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE) {
        mbedtls_snprintf(buf, cap, "client certificate required but none was sent");
        return;
    }
    if (is_alloc_error(rc)) {
        mbedtls_snprintf(buf, cap, "TLS memory region exhausted (NE_TLS_HEAP_BYTES)");
        return;
    }
    char text[160];
    mbedtls_strerror(rc, text, sizeof(text));
    mbedtls_snprintf(buf, cap, "%s (-0x%04x)", text, (unsigned)-rc);
}

static const char *tls_cipher(void *ctx, ne_tls_session *s)
{
    (void)ctx;
    const char *name = s->handshake_done ? mbedtls_ssl_get_ciphersuite(&s->ssl) : NULL;
    return name != NULL ? name : "";
}

void ne_mbedtls_memory(size_t *in_use_bytes, size_t *peak_bytes)
{
    size_t blocks = 0;
    *in_use_bytes = 0;
    *peak_bytes = 0;
    if (region_ready) {
        mbedtls_memory_buffer_alloc_cur_get(in_use_bytes, &blocks);
        mbedtls_memory_buffer_alloc_max_get(peak_bytes, &blocks);
    }
}

static void tls_stats(void *ctx, ne_tls_stats *out)
{
    ne_mbedtls *m = ctx;
    size_t used = 0, peak = 0;
    ne_mbedtls_memory(&used, &peak);
    memset(out, 0, sizeof(*out));
    out->region_bytes = sizeof(tls_region);
    out->in_use_bytes = used;
    out->peak_bytes = peak;
    out->sessions = m->sessions_in_use;
    out->max_sessions = NE_TLS_MAX_SESSIONS;
    out->refused = m->refused;
    out->handshakes = m->handshakes;
    out->failures = m->failures;
}

static const ne_tls_ops mbedtls_ops = {
    .open = tls_open,
    .handshake = tls_handshake,
    .read = tls_read,
    .write = tls_write,
    .pending = tls_pending,
    .close = tls_close,
    .error_text = tls_error_text,
    .cipher = tls_cipher,
    .stats = tls_stats,
};

int ne_mbedtls_init(ne_mbedtls *m, ne_tls *tls)
{
    memset(m, 0, sizeof(*m));
    if (!region_ready) {
        mbedtls_memory_buffer_alloc_init(tls_region, sizeof(tls_region));
        region_ready = true;
    }
    mbedtls_ctr_drbg_init(&m->drbg);
    static const unsigned char personal[] = "natsedge";
    if (mbedtls_ctr_drbg_seed(&m->drbg, entropy_source, NULL, personal, sizeof(personal) - 1) !=
        0) {
        mbedtls_ctr_drbg_free(&m->drbg);
        return NE_ERR_IO;
    }
    m->ready = true;
    tls->ops = &mbedtls_ops;
    tls->ctx = m;
    return NE_OK;
}

void ne_mbedtls_deinit(ne_mbedtls *m)
{
    for (uint32_t i = 0; i < NE_TLS_MAX_SESSIONS; i++) {
        tls_close(m, &m->sessions[i], false);
    }
    mbedtls_ctr_drbg_free(&m->drbg);
    m->ready = false;
}

#if defined(MBEDTLS_FS_IO)
static bool present(const char *path)
{
    return path != NULL && path[0] != '\0';
}
#endif

static int load_fail(ne_tls_config *cfg, int rc, const char *what, const char *path, char *err,
                     size_t err_cap)
{
    char text[160];
    mbedtls_strerror(rc, text, sizeof(text));
    mbedtls_snprintf(err, err_cap, "%s %s: %s", what, path != NULL ? path : "", text);
    ne_mbedtls_config_free(cfg);
    return is_alloc_error(rc) ? NE_ERR_NOMEM : NE_ERR_INVALID;
}

/* A configuration about to be loaded: empty, owned by m. From here on
 * config_free releases what was loaded. */
static void start_config(ne_mbedtls *m, ne_tls_config *cfg, ne_tls_role role)
{
    memset(cfg, 0, sizeof(*cfg));
    mbedtls_ssl_config_init(&cfg->conf);
    mbedtls_x509_crt_init(&cfg->cert);
    mbedtls_x509_crt_init(&cfg->ca);
    mbedtls_pk_init(&cfg->key);
    cfg->engine = m;
    cfg->role = role;
    cfg->loaded = true;
}

/* The TLS settings once certificates are loaded: TLS 1.2, our suites and
 * curves, the own certificate (cert_name: the certificate was loaded, for
 * messages), the CA chain when peers are verified (a client always). */
static int configure(ne_mbedtls *m, ne_tls_config *cfg, bool server, const char *cert_name,
                     bool verify, char *err, size_t err_cap)
{
    int rc = mbedtls_ssl_config_defaults(&cfg->conf,
                                         server ? MBEDTLS_SSL_IS_SERVER : MBEDTLS_SSL_IS_CLIENT,
                                         MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
    if (rc != 0) {
        return load_fail(cfg, rc, "TLS configuration", "", err, err_cap);
    }
    mbedtls_ssl_conf_rng(&cfg->conf, mbedtls_ctr_drbg_random, &m->drbg);
    mbedtls_ssl_conf_min_version(&cfg->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3); /* TLS 1.2 */
    mbedtls_ssl_conf_ciphersuites(&cfg->conf, ciphersuites);
    mbedtls_ssl_conf_curves(&cfg->conf, curves);
    if (cert_name != NULL) {
        rc = mbedtls_ssl_conf_own_cert(&cfg->conf, &cfg->cert, &cfg->key);
        if (rc != 0) {
            return load_fail(cfg, rc, "TLS certificate", cert_name, err, err_cap);
        }
    }
    int authmode = MBEDTLS_SSL_VERIFY_NONE;
    if (!server || verify) {
        authmode = MBEDTLS_SSL_VERIFY_REQUIRED;
        mbedtls_ssl_conf_ca_chain(&cfg->conf, &cfg->ca, NULL);
    }
    mbedtls_ssl_conf_authmode(&cfg->conf, authmode);
    return NE_OK;
}

#if defined(MBEDTLS_FS_IO)
/* A file that cannot be opened, said as nats-server says it ("open <path>:
 * no such file or directory"): mbedTLS would only say "PK - Read/write of
 * file failed". Returns false (message in err) when it cannot be read. */
static bool readable(const char *prefix, const char *path, char *err, size_t err_cap)
{
    FILE *f = fopen(path, "rb");
    if (f != NULL) {
        fclose(f);
        return true;
    }
    char why[96];
    mbedtls_snprintf(why, sizeof(why), "%s", strerror(errno));
    if (why[0] >= 'A' && why[0] <= 'Z') {
        why[0] = (char)(why[0] - 'A' + 'a');
    }
    mbedtls_snprintf(err, err_cap, "%sopen %s: %s", prefix, path, why);
    return false;
}

/* What a file that is not the certificate (or key) it should be holds
 * instead, to say so: the other half of the pair is the usual mistake. */
static bool holds_key(const char *path)
{
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    bool yes = mbedtls_pk_parse_keyfile(&pk, path, NULL) == 0;
    mbedtls_pk_free(&pk);
    return yes;
}

static bool holds_certificate(const char *path)
{
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    bool yes = mbedtls_x509_crt_parse_file(&crt, path) == 0;
    mbedtls_x509_crt_free(&crt);
    return yes;
}

static const char pair_prefix[] = "error parsing X509 certificate/key pair: ";

/* cert_file and key_file: each readable, each what it should be, and the
 * key the certificate's. Messages in the user's terms, with the file. */
static int load_pair(ne_tls_config *cfg, const ne_tls_config_params *p, char *err, size_t err_cap)
{
    if (!readable(pair_prefix, p->cert_file, err, err_cap) ||
        !readable(pair_prefix, p->key_file, err, err_cap)) {
        ne_mbedtls_config_free(cfg);
        return NE_ERR_NOT_FOUND;
    }
    int rc = mbedtls_x509_crt_parse_file(&cfg->cert, p->cert_file);
    if (rc != 0) {
        if (is_alloc_error(rc)) {
            return load_fail(cfg, rc, "TLS memory region exhausted (NE_TLS_HEAP_BYTES) reading",
                             p->cert_file, err, err_cap);
        }
        mbedtls_snprintf(err, err_cap, "%s%s", pair_prefix,
                         holds_key(p->cert_file)
                             ? "the certificate file holds a private key, not a "
                               "certificate (are cert_file and key_file swapped?): "
                             : "no certificate (PEM or DER) in ");
        size_t n = strlen(err);
        mbedtls_snprintf(err + n, err_cap > n ? err_cap - n : 0, "%s", p->cert_file);
        ne_mbedtls_config_free(cfg);
        return NE_ERR_INVALID;
    }
    rc = mbedtls_pk_parse_keyfile(&cfg->key, p->key_file, NULL);
    if (rc != 0) {
        if (is_alloc_error(rc)) {
            return load_fail(cfg, rc, "TLS memory region exhausted (NE_TLS_HEAP_BYTES) reading",
                             p->key_file, err, err_cap);
        }
        const char *why =
            rc == MBEDTLS_ERR_PK_PASSWORD_REQUIRED || rc == MBEDTLS_ERR_PK_PASSWORD_MISMATCH
                ? "the private key is encrypted (natsedge needs it unencrypted): "
            : holds_certificate(p->key_file) ? "the key file holds a certificate, not a private "
                                               "key (are cert_file and key_file swapped?): "
                                             : "no private key (PEM or DER) in ";
        mbedtls_snprintf(err, err_cap, "%s%s%s", pair_prefix, why, p->key_file);
        ne_mbedtls_config_free(cfg);
        return NE_ERR_INVALID;
    }
    if (mbedtls_pk_check_pair(&cfg->cert.pk, &cfg->key) != 0) {
        mbedtls_snprintf(err, err_cap,
                         "%sthe private key in %s does not match the certificate in %s",
                         pair_prefix, p->key_file, p->cert_file);
        ne_mbedtls_config_free(cfg);
        return NE_ERR_INVALID;
    }
    return NE_OK;
}

/* ca_file, said as nats-server says it. */
static int load_ca(ne_tls_config *cfg, const char *path, char *err, size_t err_cap)
{
    if (!readable("", path, err, err_cap)) {
        ne_mbedtls_config_free(cfg);
        return NE_ERR_NOT_FOUND;
    }
    int rc = mbedtls_x509_crt_parse_file(&cfg->ca, path);
    if (rc != 0) {
        if (is_alloc_error(rc)) {
            return load_fail(cfg, rc, "TLS memory region exhausted (NE_TLS_HEAP_BYTES) reading",
                             path, err, err_cap);
        }
        mbedtls_snprintf(err, err_cap,
                         "failed to parse root ca certificate: no certificate (PEM or DER) in %s",
                         path);
        ne_mbedtls_config_free(cfg);
        return NE_ERR_INVALID;
    }
    return NE_OK;
}

int ne_mbedtls_config_load(ne_mbedtls *m, ne_tls_config *cfg, const ne_tls_config_params *p,
                           char *err, size_t err_cap)
{
    start_config(m, cfg, p->role);
    bool server = p->role == NE_TLS_ROLE_SERVER;
    if (server && (!present(p->cert_file) || !present(p->key_file))) {
        mbedtls_snprintf(err, err_cap, "TLS needs both a certificate and a key file");
        ne_mbedtls_config_free(cfg);
        return NE_ERR_INVALID;
    }
    if (present(p->cert_file) != present(p->key_file)) {
        mbedtls_snprintf(err, err_cap,
                         "a TLS certificate needs its key file and the other way round");
        ne_mbedtls_config_free(cfg);
        return NE_ERR_INVALID;
    }
    if (!server && !present(p->ca_file)) {
        mbedtls_snprintf(err, err_cap,
                         "a TLS client configuration needs a ca_file to verify the server");
        ne_mbedtls_config_free(cfg);
        return NE_ERR_INVALID;
    }
    if (server && p->verify && !present(p->ca_file)) {
        mbedtls_snprintf(err, err_cap,
                         "TLS verify needs a ca_file to check client certificates with");
        ne_mbedtls_config_free(cfg);
        return NE_ERR_INVALID;
    }
    int rc;
    if (present(p->cert_file)) {
        rc = load_pair(cfg, p, err, err_cap);
        if (rc != NE_OK) {
            return rc;
        }
    }
    if (present(p->ca_file)) {
        rc = load_ca(cfg, p->ca_file, err, err_cap);
        if (rc != NE_OK) {
            return rc;
        }
    }
    return configure(m, cfg, server, present(p->cert_file) ? p->cert_file : NULL, p->verify, err,
                     err_cap);
}
#endif /* MBEDTLS_FS_IO */

int ne_mbedtls_client_config_pem(ne_mbedtls *m, ne_tls_config *cfg, const char *ca_name,
                                 const char *ca_pem, char *err, size_t err_cap)
{
    NE_ASSERT(ca_name != NULL && ca_pem != NULL);
    start_config(m, cfg, NE_TLS_ROLE_CLIENT);
    /* mbedTLS takes PEM with its terminating NUL counted. */
    int rc = mbedtls_x509_crt_parse(&cfg->ca, (const unsigned char *)ca_pem, strlen(ca_pem) + 1);
    if (rc != 0) {
        if (is_alloc_error(rc)) {
            return load_fail(cfg, rc, "TLS memory region exhausted (NE_TLS_HEAP_BYTES) reading",
                             ca_name, err, err_cap);
        }
        mbedtls_snprintf(err, err_cap,
                         "failed to parse root ca certificate: no certificate (PEM) in %s",
                         ca_name);
        ne_mbedtls_config_free(cfg);
        return NE_ERR_INVALID;
    }
    return configure(m, cfg, false, NULL, true, err, err_cap);
}

void ne_mbedtls_config_free(ne_tls_config *cfg)
{
    if (!cfg->loaded) {
        return;
    }
    mbedtls_ssl_config_free(&cfg->conf);
    mbedtls_x509_crt_free(&cfg->cert);
    mbedtls_x509_crt_free(&cfg->ca);
    mbedtls_pk_free(&cfg->key);
    cfg->loaded = false;
}
