/* The TLS port (port/mbedtls) with both ends in one process: a server and a
 * client session joined by in-memory pipes through the BIO callbacks, no
 * socket. Certificates are made with the openssl command line in a
 * temporary directory. Covers the client role that leaf remotes use (CA and
 * host name checks, client certificate), the verification errors' text,
 * write retries, and the session pool and region accounting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/ne_error.h"
#include "mbedtls/ne_tls_mbedtls.h"

static char dir[64];
static ne_mbedtls engine;
static ne_tls tls;

/* One direction of the connection: bytes written by one end, read by the
 * other. `limit` makes send take at most that many bytes per call (0: all
 * that fit), to exercise partial writes. */
typedef struct pipe_buf {
    uint8_t data[64 * 1024];
    size_t len;
    size_t limit;
} pipe_buf;

typedef struct end {
    pipe_buf *out;
    pipe_buf *in;
} end;

static int pipe_send(void *io, const void *buf, size_t len, size_t *sent)
{
    end *e = io;
    size_t room = sizeof(e->out->data) - e->out->len;
    size_t n = len < room ? len : room;
    if (e->out->limit > 0 && n > e->out->limit) {
        n = e->out->limit;
    }
    if (n == 0) {
        return NE_ERR_WOULD_BLOCK;
    }
    memcpy(e->out->data + e->out->len, buf, n);
    e->out->len += n;
    *sent = n;
    return NE_OK;
}

static int pipe_recv(void *io, void *buf, size_t len, size_t *got)
{
    end *e = io;
    if (e->in->len == 0) {
        return NE_ERR_WOULD_BLOCK;
    }
    size_t n = len < e->in->len ? len : e->in->len;
    memcpy(buf, e->in->data, n);
    memmove(e->in->data, e->in->data + n, e->in->len - n);
    e->in->len -= n;
    *got = n;
    return NE_OK;
}

static pipe_buf to_client, to_server;
static end server_end = {&to_client, &to_server};
static end client_end = {&to_server, &to_client};

static void sh(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    char full[1200];
    snprintf(full, sizeof(full), "cd %s && (%s) >/dev/null 2>&1", dir, cmd);
    assert_int_equal(system(full), 0);
}

static void issue(const char *name, const char *cn, const char *ext, const char *dates)
{
    sh("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s.key -out %s.csr "
       "-subj /CN=%s",
       name, name, cn);
    sh("printf '%s\\n' > %s.ext", ext, name);
    if (dates != NULL) {
        sh("openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in %s.csr -out %s.pem "
           "-notext %s -extfile %s.ext",
           name, name, dates, name);
    } else {
        sh("openssl x509 -req -in %s.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out %s.pem "
           "-days "
           "30 -extfile %s.ext",
           name, name, name);
    }
}

static int setup_all(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/natsedge-tls-unit-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        return -1;
    }
    sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out "
       "ca.pem -days 30 -subj /CN=unit-ca");
    sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key "
       "-out other.pem -days 30 -subj /CN=other-ca");
    sh("touch index.txt && echo 1000 > serial && printf '[ca]\\ndefault_ca=t\\n[t]\\ndir=.\\n"
       "database=index.txt\\nnew_certs_dir=.\\nserial=serial\\ndefault_md=sha256\\npolicy=p\\n"
       "unique_subject=no\\n[p]\\ncommonName=supplied\\n' > ca.cnf");
    issue("hub", "hub.example", "subjectAltName=DNS:hub.example\nextendedKeyUsage=serverAuth",
          NULL);
    issue("expired", "hub.example", "subjectAltName=DNS:hub.example",
          "-startdate 20200101000000Z -enddate 20200201000000Z");
    issue("edge", "edge-1", "extendedKeyUsage=clientAuth", NULL);
    return ne_mbedtls_init(&engine, &tls) == NE_OK ? 0 : -1;
}

static int teardown_all(void **state)
{
    (void)state;
    ne_mbedtls_deinit(&engine);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *path(const char *name)
{
    static char buf[8][128];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, 128, "%s/%s", dir, name);
    return p;
}

static int load(ne_tls_config *cfg, ne_tls_role role, const char *cert, const char *ca, bool verify,
                char *err, size_t cap)
{
    char c[64], k[64];
    snprintf(c, sizeof(c), "%s.pem", cert != NULL ? cert : "");
    snprintf(k, sizeof(k), "%s.key", cert != NULL ? cert : "");
    ne_tls_config_params p = {
        .role = role,
        .cert_file = cert != NULL ? path(c) : NULL,
        .key_file = cert != NULL ? path(k) : NULL,
        .ca_file = ca != NULL ? path(ca) : NULL,
        .verify = verify,
    };
    return ne_mbedtls_config_load(&engine, cfg, &p, err, cap);
}

/* Runs both handshakes until both finish or one fails (bounded). */
static void handshake(ne_tls_session *s, ne_tls_session *c, int *src, int *crc)
{
    *src = NE_ERR_WOULD_BLOCK;
    *crc = NE_ERR_WOULD_BLOCK;
    for (int i = 0; i < 100; i++) {
        if (*crc == NE_ERR_WOULD_BLOCK) {
            *crc = tls.ops->handshake(tls.ctx, c);
        }
        if (*src == NE_ERR_WOULD_BLOCK) {
            *src = tls.ops->handshake(tls.ctx, s);
        }
        if (*src != NE_ERR_WOULD_BLOCK && *crc != NE_ERR_WOULD_BLOCK) {
            return;
        }
        if ((*src != NE_ERR_WOULD_BLOCK && *src != NE_OK) ||
            (*crc != NE_ERR_WOULD_BLOCK && *crc != NE_OK)) {
            /* One side failed: let the other read the alert once. */
            if (*crc == NE_ERR_WOULD_BLOCK) {
                *crc = tls.ops->handshake(tls.ctx, c);
            }
            if (*src == NE_ERR_WOULD_BLOCK) {
                *src = tls.ops->handshake(tls.ctx, s);
            }
            return;
        }
    }
}

typedef struct pair {
    ne_tls_config server_cfg, client_cfg;
    ne_tls_session *s, *c;
} pair;

static pair p;

static void open_pair(const char *host)
{
    memset(&to_client, 0, sizeof(to_client));
    memset(&to_server, 0, sizeof(to_server));
    ne_tls_bio sb = {pipe_send, pipe_recv, &server_end};
    ne_tls_bio cb = {pipe_send, pipe_recv, &client_end};
    assert_int_equal(tls.ops->open(tls.ctx, &p.server_cfg, &sb, NULL, &p.s), NE_OK);
    assert_int_equal(tls.ops->open(tls.ctx, &p.client_cfg, &cb, host, &p.c), NE_OK);
}

static void close_pair(void)
{
    tls.ops->close(tls.ctx, p.s, true);
    tls.ops->close(tls.ctx, p.c, true);
    ne_mbedtls_config_free(&p.server_cfg);
    ne_mbedtls_config_free(&p.client_cfg);
}

static void test_client_role_verifies_the_hub_and_carries_data(void **state)
{
    (void)state;
    char err[256];
    size_t before = 0, peak = 0;
    ne_mbedtls_memory(&before, &peak);
    assert_int_equal(load(&p.server_cfg, NE_TLS_ROLE_SERVER, "hub", NULL, false, err, sizeof(err)),
                     NE_OK);
    assert_int_equal(
        load(&p.client_cfg, NE_TLS_ROLE_CLIENT, NULL, "ca.pem", false, err, sizeof(err)), NE_OK);
    open_pair("hub.example");
    int src, crc;
    handshake(p.s, p.c, &src, &crc);
    assert_int_equal(crc, NE_OK);
    assert_int_equal(src, NE_OK);
    assert_true(strstr(tls.ops->cipher(tls.ctx, p.c), "ECDHE-ECDSA") != NULL);
    /* 20 KiB in 4 KiB records, the socket taking 1000 bytes per call: the
     * writer offers the same bytes again after each WOULD_BLOCK. */
    static uint8_t msg[20000], got[20000];
    for (size_t i = 0; i < sizeof(msg); i++) {
        msg[i] = (uint8_t)(i * 7);
    }
    to_server.limit = 1000;
    size_t off = 0, recvd = 0;
    for (int i = 0; i < 1000 && recvd < sizeof(msg); i++) {
        size_t w = 0;
        if (off < sizeof(msg)) {
            int rc = tls.ops->write(tls.ctx, p.c, msg + off, sizeof(msg) - off, &w);
            assert_true(rc == NE_OK || rc == NE_ERR_WOULD_BLOCK);
            off += w;
        }
        size_t r = 0;
        int rc = tls.ops->read(tls.ctx, p.s, got + recvd, sizeof(got) - recvd, &r);
        assert_true(rc == NE_OK || rc == NE_ERR_WOULD_BLOCK);
        recvd += rc == NE_OK ? r : 0;
    }
    assert_int_equal(recvd, sizeof(msg));
    assert_memory_equal(got, msg, sizeof(msg));
    ne_tls_stats st;
    tls.ops->stats(tls.ctx, &st);
    assert_int_equal(st.sessions, 2);
    assert_true(st.in_use_bytes > before && st.peak_bytes >= st.in_use_bytes);
    close_pair();
    size_t after = 0;
    ne_mbedtls_memory(&after, &peak);
    assert_int_equal(after, before); /* every byte returned to the region */
}

static void test_client_role_refuses_a_wrong_host_name(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(load(&p.server_cfg, NE_TLS_ROLE_SERVER, "hub", NULL, false, err, sizeof(err)),
                     NE_OK);
    assert_int_equal(
        load(&p.client_cfg, NE_TLS_ROLE_CLIENT, NULL, "ca.pem", false, err, sizeof(err)), NE_OK);
    open_pair("cloud.example");
    int src, crc;
    handshake(p.s, p.c, &src, &crc);
    assert_int_equal(crc, NE_ERR_PERMISSION);
    tls.ops->error_text(tls.ctx, p.c, err, sizeof(err));
    assert_non_null(strstr(err, "certificate verification failed"));
    assert_non_null(strstr(err, "Common Name"));
    close_pair();
}

static void test_client_role_refuses_an_expired_or_unknown_certificate(void **state)
{
    (void)state;
    char err[256];
    int src, crc;
    assert_int_equal(
        load(&p.server_cfg, NE_TLS_ROLE_SERVER, "expired", NULL, false, err, sizeof(err)), NE_OK);
    assert_int_equal(
        load(&p.client_cfg, NE_TLS_ROLE_CLIENT, NULL, "ca.pem", false, err, sizeof(err)), NE_OK);
    open_pair("hub.example");
    handshake(p.s, p.c, &src, &crc);
    assert_int_equal(crc, NE_ERR_PERMISSION);
    tls.ops->error_text(tls.ctx, p.c, err, sizeof(err));
    assert_non_null(strstr(err, "expired"));
    close_pair();

    assert_int_equal(load(&p.server_cfg, NE_TLS_ROLE_SERVER, "hub", NULL, false, err, sizeof(err)),
                     NE_OK);
    assert_int_equal(
        load(&p.client_cfg, NE_TLS_ROLE_CLIENT, NULL, "other.pem", false, err, sizeof(err)), NE_OK);
    open_pair("hub.example");
    handshake(p.s, p.c, &src, &crc);
    assert_int_equal(crc, NE_ERR_PERMISSION);
    tls.ops->error_text(tls.ctx, p.c, err, sizeof(err));
    assert_non_null(strstr(err, "not correctly signed by the trusted CA"));
    close_pair();
}

static void test_client_certificate_under_verify(void **state)
{
    (void)state;
    char err[256];
    int src, crc;
    assert_int_equal(
        load(&p.server_cfg, NE_TLS_ROLE_SERVER, "hub", "ca.pem", true, err, sizeof(err)), NE_OK);
    assert_int_equal(
        load(&p.client_cfg, NE_TLS_ROLE_CLIENT, "edge", "ca.pem", false, err, sizeof(err)), NE_OK);
    open_pair("hub.example");
    handshake(p.s, p.c, &src, &crc);
    assert_int_equal(src, NE_OK);
    assert_int_equal(crc, NE_OK);
    close_pair();

    assert_int_equal(
        load(&p.server_cfg, NE_TLS_ROLE_SERVER, "hub", "ca.pem", true, err, sizeof(err)), NE_OK);
    assert_int_equal(
        load(&p.client_cfg, NE_TLS_ROLE_CLIENT, NULL, "ca.pem", false, err, sizeof(err)), NE_OK);
    open_pair("hub.example");
    handshake(p.s, p.c, &src, &crc);
    assert_int_equal(src, NE_ERR_PERMISSION);
    tls.ops->error_text(tls.ctx, p.s, err, sizeof(err));
    assert_string_equal(err, "client certificate required but none was sent");
    close_pair();
}

static void test_configuration_errors_name_the_file(void **state)
{
    (void)state;
    char err[400];
    char want[400];
    ne_tls_config cfg;
    /* A missing file: said as nats-server says it, not "PK - Read/write of
     * file failed". */
    assert_int_equal(load(&cfg, NE_TLS_ROLE_SERVER, "nope", NULL, false, err, sizeof(err)),
                     NE_ERR_NOT_FOUND);
    snprintf(want, sizeof(want),
             "error parsing X509 certificate/key pair: open %s: no such file or directory",
             path("nope.pem"));
    assert_string_equal(err, want);
    assert_int_equal(load(&cfg, NE_TLS_ROLE_CLIENT, NULL, NULL, false, err, sizeof(err)),
                     NE_ERR_INVALID);
    assert_non_null(strstr(err, "ca_file"));
    assert_int_equal(load(&cfg, NE_TLS_ROLE_SERVER, "hub", NULL, true, err, sizeof(err)),
                     NE_ERR_INVALID);
    /* A key that is not the certificate's. */
    ne_tls_config_params mismatch = {NE_TLS_ROLE_SERVER, path("hub.pem"), path("edge.key"), NULL,
                                     false};
    assert_int_equal(ne_mbedtls_config_load(&engine, &cfg, &mismatch, err, sizeof(err)),
                     NE_ERR_INVALID);
    snprintf(want, sizeof(want),
             "error parsing X509 certificate/key pair: the private key in %s does not match the "
             "certificate in %s",
             mismatch.key_file, mismatch.cert_file);
    assert_string_equal(err, want);
    /* The two files swapped. */
    ne_tls_config_params swapped = {NE_TLS_ROLE_SERVER, path("hub.key"), path("hub.pem"), NULL,
                                    false};
    assert_int_equal(ne_mbedtls_config_load(&engine, &cfg, &swapped, err, sizeof(err)),
                     NE_ERR_INVALID);
    assert_non_null(strstr(err, "the certificate file holds a private key, not a certificate (are "
                                "cert_file and key_file swapped?)"));
    /* A CA file that is missing, or not a certificate. */
    assert_int_equal(load(&cfg, NE_TLS_ROLE_CLIENT, NULL, "absent-ca.pem", false, err, sizeof(err)),
                     NE_ERR_NOT_FOUND);
    snprintf(want, sizeof(want), "open %s: no such file or directory", path("absent-ca.pem"));
    assert_string_equal(err, want);
    assert_int_equal(load(&cfg, NE_TLS_ROLE_CLIENT, NULL, "hub.key", false, err, sizeof(err)),
                     NE_ERR_INVALID);
    assert_non_null(strstr(err, "failed to parse root ca certificate"));
    assert_non_null(strstr(err, "hub.key"));
}

/* A client configuration whose CA is PEM text (a board without files,
 * docs/firmware.md): it verifies the hub as the file-loaded one does, a
 * hub another CA signed is refused, and a text without a certificate is
 * refused naming the text's name. */
static void test_client_config_from_pem_text(void **state)
{
    (void)state;
    char err[256];
    static char pem[8192];
    FILE *f = fopen(path("ca.pem"), "rb");
    assert_non_null(f);
    size_t n = fread(pem, 1, sizeof(pem) - 1, f);
    fclose(f);
    pem[n] = '\0';
    size_t before = 0, peak = 0;
    ne_mbedtls_memory(&before, &peak);
    assert_int_equal(load(&p.server_cfg, NE_TLS_ROLE_SERVER, "hub", NULL, false, err, sizeof(err)),
                     NE_OK);
    assert_int_equal(
        ne_mbedtls_client_config_pem(&engine, &p.client_cfg, "hub-ca.pem", pem, err, sizeof(err)),
        NE_OK);
    open_pair("hub.example");
    int src, crc;
    handshake(p.s, p.c, &src, &crc);
    assert_int_equal(crc, NE_OK);
    assert_int_equal(src, NE_OK);
    close_pair();
    /* The other CA's certificate as the anchor: the hub is refused. */
    f = fopen(path("other.pem"), "rb");
    assert_non_null(f);
    n = fread(pem, 1, sizeof(pem) - 1, f);
    fclose(f);
    pem[n] = '\0';
    assert_int_equal(load(&p.server_cfg, NE_TLS_ROLE_SERVER, "hub", NULL, false, err, sizeof(err)),
                     NE_OK);
    assert_int_equal(
        ne_mbedtls_client_config_pem(&engine, &p.client_cfg, "other.pem", pem, err, sizeof(err)),
        NE_OK);
    open_pair("hub.example");
    handshake(p.s, p.c, &src, &crc);
    assert_int_not_equal(crc, NE_OK);
    close_pair();
    ne_tls_config cfg;
    assert_int_equal(ne_mbedtls_client_config_pem(&engine, &cfg, "notes.txt", "not a certificate",
                                                  err, sizeof(err)),
                     NE_ERR_INVALID);
    assert_string_equal(err,
                        "failed to parse root ca certificate: no certificate (PEM) in notes.txt");
    size_t after = 0;
    ne_mbedtls_memory(&after, &peak);
    assert_int_equal(after, before); /* every byte returned to the region */
}

static void test_session_pool_exhaustion_refuses_cleanly(void **state)
{
    (void)state;
    char err[256];
    ne_tls_config cfg;
    assert_int_equal(load(&cfg, NE_TLS_ROLE_SERVER, "hub", NULL, false, err, sizeof(err)), NE_OK);
    static ne_tls_session *all[NE_TLS_MAX_SESSIONS + 1];
    ne_tls_bio sb = {pipe_send, pipe_recv, &server_end};
    ne_tls_stats st;
    tls.ops->stats(tls.ctx, &st);
    uint64_t refused_before = st.refused;
    uint32_t opened = 0;
    int rc = NE_OK;
    for (uint32_t i = 0; i <= NE_TLS_MAX_SESSIONS && rc == NE_OK; i++) {
        rc = tls.ops->open(tls.ctx, &cfg, &sb, NULL, &all[i]);
        opened += rc == NE_OK;
    }
    /* The pool or the region ran out first: either way NE_ERR_NOMEM. */
    assert_int_equal(rc, NE_ERR_NOMEM);
    assert_true(opened >= 1 && opened <= NE_TLS_MAX_SESSIONS);
    tls.ops->stats(tls.ctx, &st);
    assert_int_equal(st.refused, refused_before + 1);
    assert_int_equal(st.sessions, opened);
    for (uint32_t i = 0; i < opened; i++) {
        tls.ops->close(tls.ctx, all[i], false);
    }
    tls.ops->stats(tls.ctx, &st);
    assert_int_equal(st.sessions, 0);
    ne_mbedtls_config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_role_verifies_the_hub_and_carries_data),
        cmocka_unit_test(test_client_role_refuses_a_wrong_host_name),
        cmocka_unit_test(test_client_role_refuses_an_expired_or_unknown_certificate),
        cmocka_unit_test(test_client_certificate_under_verify),
        cmocka_unit_test(test_configuration_errors_name_the_file),
        cmocka_unit_test(test_client_config_from_pem_text),
        cmocka_unit_test(test_session_pool_exhaustion_refuses_cleanly),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
