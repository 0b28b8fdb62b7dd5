/* nats.c (Debian's libnats-dev) failing over in a cluster, run by
 * tests/interop/cluster.test.mjs:
 *
 *   natsc_cluster <url> <servers> <subject>
 *
 * Connects to <url> alone, waits until the INFO's connect_urls have told it
 * of at least <servers> servers (CP-11), subscribes to <subject>, prints
 * "ready" and waits for the test to kill the server it is connected to.
 * After nats.c has reconnected to another node of the cluster (and
 * resubscribed there), it publishes on <subject> and must receive its own
 * message: "ok <server it reconnected to>", exit 0. Every wait is bounded;
 * alarm() caps the run (exit 3). Exit 1 with a "FAIL ..." line otherwise. */
#include <nats/nats.h>

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    DISCOVER_MS = 10000,
    RECONNECT_MS = 30000,
    MSG_TIMEOUT_MS = 5000,
    WATCHDOG_S = 60,
};

static atomic_int g_reconnected;

static void on_reconnected(natsConnection *nc, void *closure)
{
    (void)nc;
    (void)closure;
    atomic_store(&g_reconnected, 1);
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "FAIL watchdog\n";
    ssize_t n = write(1, msg, sizeof(msg) - 1);
    (void)n;
    _exit(3);
}

static int fail(const char *what, natsStatus s)
{
    printf("FAIL %s: %s\n", what, natsStatus_GetText(s));
    return 1;
}

static int known_servers(natsConnection *nc)
{
    char **servers = NULL;
    int count = 0;
    if (natsConnection_GetServers(nc, &servers, &count) != NATS_OK) {
        return 0;
    }
    for (int i = 0; i < count; i++) {
        free(servers[i]);
    }
    free(servers);
    return count;
}

static int run(const char *url, int want, const char *subject)
{
    natsOptions *opts = NULL;
    natsConnection *nc = NULL;
    natsSubscription *sub = NULL;
    natsMsg *msg = NULL;
    int rc = 1;
    natsStatus s = natsOptions_Create(&opts);
    if (s == NATS_OK) {
        s = natsOptions_SetURL(opts, url);
    }
    if (s == NATS_OK) {
        s = natsOptions_SetMaxReconnect(opts, 100);
    }
    if (s == NATS_OK) {
        s = natsOptions_SetReconnectWait(opts, 100);
    }
    if (s == NATS_OK) {
        s = natsOptions_SetReconnectedCB(opts, on_reconnected, NULL);
    }
    if (s == NATS_OK) {
        s = natsConnection_Connect(&nc, opts);
    }
    if (s != NATS_OK) {
        rc = fail("connect", s);
        goto out;
    }
    int known = 0;
    for (int waited = 0; waited < DISCOVER_MS; waited += 20) {
        known = known_servers(nc);
        if (known >= want) {
            break;
        }
        nats_Sleep(20);
    }
    if (known < want) {
        printf("FAIL discovered %d servers, wanted %d\n", known, want);
        goto out;
    }
    s = natsConnection_SubscribeSync(&sub, nc, subject);
    if (s == NATS_OK) {
        s = natsConnection_FlushTimeout(nc, MSG_TIMEOUT_MS);
    }
    if (s != NATS_OK) {
        rc = fail("subscribe", s);
        goto out;
    }
    printf("ready %d\n", known);
    fflush(stdout);
    for (int waited = 0; waited < RECONNECT_MS && !atomic_load(&g_reconnected); waited += 20) {
        nats_Sleep(20);
    }
    if (!atomic_load(&g_reconnected)) {
        printf("FAIL no reconnect\n");
        goto out;
    }
    /* The subscription was sent again on reconnect; the flush makes sure
     * the new server has it before we publish. */
    s = natsConnection_FlushTimeout(nc, MSG_TIMEOUT_MS);
    if (s == NATS_OK) {
        s = natsConnection_PublishString(nc, subject, "after failover");
    }
    if (s == NATS_OK) {
        s = natsSubscription_NextMsg(&msg, sub, MSG_TIMEOUT_MS);
    }
    if (s != NATS_OK) {
        rc = fail("message after failover", s);
        goto out;
    }
    char connected[256] = "";
    (void)natsConnection_GetConnectedUrl(nc, connected, sizeof(connected));
    printf("ok %s\n", connected);
    rc = 0;
out:
    natsMsg_Destroy(msg);
    natsSubscription_Destroy(sub);
    natsConnection_Destroy(nc);
    natsOptions_Destroy(opts);
    fflush(stdout);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s <url> <servers> <subject>\n", argv[0]);
        return 2;
    }
    signal(SIGALRM, on_alarm);
    alarm(WATCHDOG_S);
    int rc = run(argv[1], atoi(argv[2]), argv[3]);
    nats_Close();
    return rc;
}
