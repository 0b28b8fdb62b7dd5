/* TLS with Debian's nats.c (libnats-dev, OpenSSL) against a running broker,
 * run by tests/interop/tls.test.mjs.
 *
 *   natsc_tls <url> <ca_file> [<cert_file> <key_file>]
 *
 * Connects with TLS, verifying the server against ca_file (and presenting
 * the client certificate when given), then publishes 64 messages of up to
 * 40 KiB to its own subscription and checks every one comes back intact.
 * Prints "ok tls" and exits 0; on failure prints "FAIL <what>" and exits 1
 * ("FAIL connect ..." when the connection or handshake was refused). An
 * alarm() caps the run.
 */
#include <nats/nats.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { MESSAGES = 64, MAX_BYTES = 40 * 1024, TIMEOUT_MS = 5000, WATCHDOG_S = 30 };

static void fail(const char *what, natsStatus s)
{
    natsStatus last = NATS_OK;
    const char *text = nats_GetLastError(&last);
    printf("FAIL %s: %s (%d)%s%s\n", what, natsStatus_GetText(s), (int)s,
           text && *text ? "; last error: " : "", text ? text : "");
    fflush(stdout);
}

static size_t message_len(int i)
{
    return (size_t)(i * 997) % MAX_BYTES + 1;
}

static void fill(char *buf, size_t len, int i)
{
    for (size_t j = 0; j < len; j++) {
        buf[j] = (char)('a' + (int)((j + (size_t)i) % 26));
    }
}

static int run(const char *url, const char *ca, const char *cert, const char *key)
{
    natsOptions *opts = NULL;
    natsConnection *nc = NULL;
    natsSubscription *sub = NULL;
    static char buf[MAX_BYTES];
    int rc = 1;
    natsStatus s = natsOptions_Create(&opts);
    if (s == NATS_OK) {
        s = natsOptions_SetURL(opts, url);
    }
    if (s == NATS_OK) {
        s = natsOptions_SetSecure(opts, true);
    }
    if (s == NATS_OK) {
        s = natsOptions_LoadCATrustedCertificates(opts, ca);
    }
    if (s == NATS_OK && cert != NULL) {
        s = natsOptions_LoadCertificatesChain(opts, cert, key);
    }
    if (s == NATS_OK) {
        s = natsOptions_SetTimeout(opts, TIMEOUT_MS);
    }
    if (s == NATS_OK) {
        s = natsOptions_SetAllowReconnect(opts, false);
    }
    if (s != NATS_OK) {
        fail("options", s);
        goto out;
    }
    s = natsConnection_Connect(&nc, opts);
    if (s != NATS_OK) {
        fail("connect", s);
        goto out;
    }
    s = natsConnection_SubscribeSync(&sub, nc, "tls.c");
    if (s == NATS_OK) {
        s = natsConnection_FlushTimeout(nc, TIMEOUT_MS);
    }
    for (int i = 0; s == NATS_OK && i < MESSAGES; i++) {
        fill(buf, message_len(i), i);
        s = natsConnection_Publish(nc, "tls.c", buf, (int)message_len(i));
    }
    if (s == NATS_OK) {
        s = natsConnection_FlushTimeout(nc, TIMEOUT_MS);
    }
    if (s != NATS_OK) {
        fail("publish", s);
        goto out;
    }
    for (int i = 0; i < MESSAGES; i++) {
        natsMsg *msg = NULL;
        s = natsSubscription_NextMsg(&msg, sub, TIMEOUT_MS);
        if (s != NATS_OK) {
            fail("next message", s);
            goto out;
        }
        fill(buf, message_len(i), i);
        bool same = (size_t)natsMsg_GetDataLength(msg) == message_len(i) &&
                    memcmp(natsMsg_GetData(msg), buf, message_len(i)) == 0;
        natsMsg_Destroy(msg);
        if (!same) {
            printf("FAIL message %d differs\n", i);
            goto out;
        }
    }
    printf("ok tls\n");
    rc = 0;
out:
    natsSubscription_Destroy(sub);
    natsConnection_Destroy(nc);
    natsOptions_Destroy(opts);
    nats_Close();
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 5) {
        fprintf(stderr, "usage: %s <url> <ca_file> [<cert_file> <key_file>]\n", argv[0]);
        return 2;
    }
    alarm(WATCHDOG_S);
    return run(argv[1], argv[2], argc == 5 ? argv[3] : NULL, argc == 5 ? argv[4] : NULL);
}
