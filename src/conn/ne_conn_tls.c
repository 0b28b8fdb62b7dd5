/* TLS on a connection: the server side for clients (handshake after the
 * plain-text INFO, as nats-server) and HTTPS monitoring (handshake first),
 * the client side for outbound connections. The engine is the port's
 * (port.h ne_tls); it reaches the socket only through the BIO callbacks
 * below, so the core keeps owning every socket call. */
#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "core/ne_fmt.h"
#include "conn/ne_conn.h"

/* Records read from one connection per event (each at most 16 KiB). */
#define NE_TLS_READS_PER_EVENT 16
/* Records written per flush before others get a turn. */
#define NE_TLS_WRITES_PER_FLUSH 256

/* The handshake's first byte of a TLS record is a handshake record (22). */
#define NE_TLS_RECORD_HANDSHAKE 0x16

void ne_conns_set_tls(ne_conns *set, const ne_tls *tls, const ne_tls_config *server_config,
                      const ne_tls_config *client_config)
{
    set->tls = *tls;
    set->tls_server_config = server_config;
    set->tls_client_config = client_config;
}

/* ---- BIO: the engine's records through the port's socket calls ----------- */

static int bio_send(void *ctx, const void *buf, size_t len, size_t *sent)
{
    ne_conn *conn = ctx;
    ne_conns *set = conn->set;
    ne_conn_io *io = conn->io;
    ne_iovec iov = {buf, len};
    int rc = set->net.ops->sendv(set->net.ctx, io->sock, &iov, 1, sent);
    if (rc == NE_OK && *sent > 0) {
        io->last_write_ms = set->now_ms;
    }
    io->tls->send_blocked = rc == NE_ERR_WOULD_BLOCK || (rc == NE_OK && *sent < len);
    return rc;
}

static int bio_recv(void *ctx, void *buf, size_t len, size_t *got)
{
    ne_conn *conn = ctx;
    ne_conns *set = conn->set;
    ne_conn_io *io = conn->io;
    int rc = set->net.ops->recv(set->net.ctx, io->sock, buf, len, got);
    if (rc == NE_OK && *got > 0) {
        io->last_in_ms = set->now_ms;
        if (!io->tls->done && io->tls->first_byte == 0) {
            io->tls->first_byte = ((const uint8_t *)buf)[0];
        }
    }
    return rc;
}

/* The connection's TLS state comes from the layer's pool, sized as the
 * engine's sessions (NE_TLS_MAX_SESSIONS): a plain connection holds none.
 * It is taken before the engine's session (whose BIO callbacks write it)
 * and given back when no session can be had. */
static int open_session(ne_conn *conn, const ne_tls_config *cfg, const char *server_name)
{
    ne_conns *set = conn->set;
    ne_conn_io *io = conn->io;
    NE_ASSERT(io->tls == NULL);
    if (set->tls.ops == NULL || cfg == NULL) {
        return NE_ERR_UNSUPPORTED;
    }
    ne_conn_tls *t = ne_pool_alloc(&set->tls_pool);
    if (t == NULL) {
        set->stats.tls_refused++;
        return NE_ERR_NOMEM;
    }
    io->tls = t;
    ne_tls_bio bio = {bio_send, bio_recv, conn};
    int rc = set->tls.ops->open(set->tls.ctx, cfg, &bio, server_name, &t->session);
    if (rc != NE_OK) {
        ne_pool_free(&set->tls_pool, t);
        io->tls = NULL;
        set->stats.tls_refused++;
        return rc;
    }
    t->deadline_ms = set->now_ms + set->opts->tls_timeout_ms;
    return NE_OK;
}

/* A server-side session for an accepted connection. Whatever is queued now
 * (a client's INFO) goes out in clear before the handshake. */
int ne_conn_tls_accept(ne_conn *conn)
{
    return ne_conn_tls_accept_config(conn, conn->set->tls_server_config);
}

int ne_conn_tls_accept_config(ne_conn *conn, const ne_tls_config *cfg)
{
    ne_conn_io *io = conn->io;
    int rc = open_session(conn, cfg, NULL);
    if (rc != NE_OK) {
        ne_conn_logf(conn, NE_LOG_WARN, "TLS session refused: %s",
                     rc == NE_ERR_NOMEM ? "TLS session pool or memory region exhausted"
                                        : ne_err_name(rc));
        return rc;
    }
    io->tls->plain_bytes = (uint32_t)conn->out.bytes;
    ne_conn_logf(conn, NE_LOG_DEBUG, "Starting TLS client connection handshake");
    return NE_OK;
}

int ne_conn_tls_start_client(ne_conn *conn, const ne_tls_config *cfg, const char *server_name)
{
    ne_conns *set = conn->set;
    ne_conn_io *io = conn->io;
    NE_ASSERT(io->tls == NULL);
    int rc = open_session(conn, cfg != NULL ? cfg : set->tls_client_config, server_name);
    if (rc != NE_OK) {
        return rc;
    }
    io->tls->plain_bytes = (uint32_t)conn->out.bytes;
    ne_conn_logf(conn, NE_LOG_DEBUG, "Starting TLS handshake as client with %s",
                 server_name != NULL ? server_name : "(no name check)");
    ne_conn_mark_dirty(conn); /* the client speaks first */
    return NE_OK;
}

void ne_conn_tls_release(ne_conn *conn)
{
    ne_conns *set = conn->set;
    ne_conn_io *io = conn->io;
    ne_conn_tls *t = io->tls;
    if (t == NULL) {
        return;
    }
    /* The engine may still write an alert through the BIO (which writes
     * the state): the state goes back after the session. */
    set->tls.ops->close(set->tls.ctx, t->session, t->done);
    /* Unlink from the retry list (rare: closed with input buffered). */
    if (t->retry) {
        ne_conn **pp = &set->tls_retry_head;
        uint32_t guard = 0;
        while (*pp != NULL && *pp != conn && guard++ < NE_MAX_CONN_HEADERS) {
            pp = &(*pp)->io->tls->retry_next;
        }
        if (*pp == conn) {
            *pp = t->retry_next;
        }
    }
    io->tls = NULL;
    ne_pool_free(&set->tls_pool, t);
}

static void handshake_failed(ne_conn *conn, int rc)
{
    ne_conns *set = conn->set;
    ne_conn_io *io = conn->io;
    char why[320];
    if (io->tls->first_byte != 0 && io->tls->first_byte != NE_TLS_RECORD_HANDSHAKE) {
        ne_fmt(why, sizeof(why), "first record does not look like a TLS handshake");
    } else if (rc == NE_ERR_CLOSED) {
        ne_fmt(why, sizeof(why), "connection closed by the peer during the handshake");
    } else {
        set->tls.ops->error_text(set->tls.ctx, io->tls->session, why, sizeof(why));
    }
    if (rc == NE_ERR_NOMEM) {
        set->stats.tls_refused++;
    }
    ne_conn_logf(conn, NE_LOG_ERROR, "TLS handshake error: %s", why);
    ne_outq_clear(&conn->out, &set->chunks);
    ne_conn_close(conn, NE_CLOSE_TLS_HANDSHAKE, NULL);
}

static void set_want_write(ne_conn *conn, bool want)
{
    ne_conns *set = conn->set;
    ne_conn_io *io = conn->io;
    if (want != io->want_write) {
        io->want_write = want;
        (void)set->net.ops->want_write(set->net.ctx, io->sock, want);
    }
}

/* Sends the clear-text head of the queue. True when all of it is out. */
static bool flush_plain(ne_conn *conn, int *err)
{
    ne_conns *set = conn->set;
    ne_conn_io *io = conn->io;
    ne_iovec iov[NE_WRITE_IOV_MAX];
    for (int pass = 0; pass < 16 && io->tls->plain_bytes > 0; pass++) {
        int n = ne_outq_iov(&conn->out, iov, NE_WRITE_IOV_MAX);
        size_t want = 0;
        int used = 0;
        for (; used < n && want < io->tls->plain_bytes; used++) {
            if (want + iov[used].len > io->tls->plain_bytes) {
                iov[used].len = io->tls->plain_bytes - want;
            }
            want += iov[used].len;
        }
        size_t sent = 0;
        int rc = set->net.ops->sendv(set->net.ctx, io->sock, iov, used, &sent);
        if (rc == NE_ERR_WOULD_BLOCK) {
            return false;
        }
        if (rc != NE_OK) {
            *err = rc;
            return false;
        }
        io->last_write_ms = set->now_ms;
        ne_outq_consume(&conn->out, &set->chunks, sent);
        io->tls->plain_bytes -= (uint32_t)sent;
        if (sent < want) {
            return false;
        }
    }
    return io->tls->plain_bytes == 0;
}

/* Advances the handshake. True when it is complete; false while it waits
 * or after it failed (the connection is then closing). */
static bool drive_handshake(ne_conn *conn)
{
    ne_conns *set = conn->set;
    ne_conn_io *io = conn->io;
    if (io->tls->done) {
        return true;
    }
    int rc = set->tls.ops->handshake(set->tls.ctx, io->tls->session);
    if (rc == NE_ERR_WOULD_BLOCK) {
        return false;
    }
    if (rc != NE_OK) {
        handshake_failed(conn, rc);
        return false;
    }
    io->tls->done = true;
    io->tls->deadline_ms = 0;
    ne_conn_logf(conn, NE_LOG_DEBUG, "TLS handshake complete (%s)",
                 set->tls.ops->cipher(set->tls.ctx, io->tls->session));
    return true;
}

/* Encrypts the queue, one record per iovec piece. */
static int flush_records(ne_conn *conn)
{
    ne_conns *set = conn->set;
    ne_conn_io *io = conn->io;
    ne_iovec iov[NE_WRITE_IOV_MAX];
    int writes = 0;
    while (conn->out.bytes > 0 && writes < NE_TLS_WRITES_PER_FLUSH) {
        int n = ne_outq_iov(&conn->out, iov, NE_WRITE_IOV_MAX);
        size_t total = 0;
        for (int i = 0; i < n && writes < NE_TLS_WRITES_PER_FLUSH; i++, writes++) {
            size_t written = 0;
            int rc = set->tls.ops->write(set->tls.ctx, io->tls->session, iov[i].base, iov[i].len,
                                         &written);
            if (rc == NE_ERR_WOULD_BLOCK) {
                ne_outq_consume(&conn->out, &set->chunks, total);
                return NE_OK;
            }
            if (rc != NE_OK) {
                ne_outq_clear(&conn->out, &set->chunks);
                return rc;
            }
            total += written;
            if (written < iov[i].len) {
                break; /* a record's worth: take the iovecs again */
            }
        }
        ne_outq_consume(&conn->out, &set->chunks, total);
    }
    return NE_OK;
}

/* conn_flush for a TLS connection: the clear head, the handshake, then
 * records. A failed handshake closes the connection itself (NE_OK). */
int ne_conn_tls_flush(ne_conn *conn)
{
    ne_conn_io *io = conn->io;
    int err = NE_OK;
    if (io->tls->plain_bytes > 0 && !flush_plain(conn, &err)) {
        if (err != NE_OK) {
            return err;
        }
        set_want_write(conn, true);
        return NE_OK;
    }
    if (!drive_handshake(conn)) {
        /* Waiting for the peer, or for the socket to take the rest of a
         * handshake record. */
        set_want_write(conn, !conn->closing && io->tls->send_blocked);
        return NE_OK;
    }
    err = flush_records(conn);
    if (err != NE_OK) {
        return err;
    }
    set_want_write(conn, conn->out.bytes > 0);
    return NE_OK;
}

static void retry_later(ne_conn *conn)
{
    ne_conns *set = conn->set;
    ne_conn_io *io = conn->io;
    if (!io->tls->retry) {
        io->tls->retry = true;
        io->tls->retry_next = set->tls_retry_head;
        set->tls_retry_head = conn;
    }
}

/* conn_read for a TLS connection: decrypted bytes into the read buffer. */
void ne_conn_tls_read(ne_conn *conn)
{
    ne_conns *set = conn->set;
    ne_conn_io *io = conn->io;
    if (!io->tls->done) {
        int err = ne_conn_tls_flush(conn); /* drives the handshake */
        if (err != NE_OK) {
            ne_conn_close(conn, NE_CLOSE_WRITE_ERROR, NULL);
            return;
        }
        if (!io->tls->done || conn->closing) {
            return;
        }
        ne_conn_mark_dirty(conn); /* output held during the handshake */
    }
    for (int i = 0; i < NE_TLS_READS_PER_EVENT && !conn->closing && !io->read_paused; i++) {
        if (!ne_conn_rbuf_take(conn)) {
            ne_conn_pause_reads(conn);
            break; /* the engine keeps what it decrypted: retried below */
        }
        size_t room = NE_CONN_READ_BUFFER_BYTES - io->rlen;
        if (room == 0) {
            break; /* the parser waits for chunks */
        }
        size_t got = 0;
        int rc =
            set->tls.ops->read(set->tls.ctx, io->tls->session, io->rbuf + io->rlen, room, &got);
        if (rc != NE_OK) {
            ne_conn_rbuf_release(conn);
        }
        if (rc == NE_ERR_WOULD_BLOCK) {
            return;
        }
        if (rc != NE_OK) {
            if (rc != NE_ERR_CLOSED) {
                char why[200];
                set->tls.ops->error_text(set->tls.ctx, io->tls->session, why, sizeof(why));
                ne_conn_logf(conn, NE_LOG_DEBUG, "TLS read error: %s", why);
            }
            ne_conn_close_io_error(conn, rc);
            return;
        }
        io->rlen += (uint32_t)got;
        io->last_in_ms = set->now_ms;
        ne_conn_process_input(conn);
        if (ne_chunk_available(&set->chunks) < NE_CHUNK_COUNT / 4) {
            break; /* back-pressure, as for plain connections */
        }
    }
    if (!conn->closing && io->tls != NULL &&
        set->tls.ops->pending(set->tls.ctx, io->tls->session) > 0) {
        retry_later(conn);
    }
}

/* The handshake deadline (nats-server's tls timeout): the connection is
 * closed with "TLS handshake timeout" in the log. nats-server also sends
 * -ERR 'Secure Connection - TLS Required', but through the unfinished TLS
 * connection, so nothing of it reaches the peer; natsedge sends nothing.
 * True when the connection was closed. */
bool ne_conn_tls_timer(ne_conn *conn, uint64_t now)
{
    ne_conns *set = conn->set;
    ne_conn_io *io = conn->io;
    const ne_conn_tls *t = io->tls;
    if (t == NULL || t->done || t->deadline_ms == 0 || now < t->deadline_ms) {
        return false;
    }
    ne_conn_logf(conn, NE_LOG_ERROR, "TLS handshake timeout");
    ne_outq_clear(&conn->out, &set->chunks);
    ne_conn_close(conn, NE_CLOSE_TLS_HANDSHAKE, NULL);
    return true;
}

/* Connections whose engine holds decrypted input read it now: the socket
 * will not report it. */
void ne_conns_tls_turn_end(ne_conns *set)
{
    ne_conn *list = set->tls_retry_head;
    set->tls_retry_head = NULL;
    uint32_t guard = 0;
    while (list != NULL && guard++ < NE_MAX_CONN_HEADERS) {
        ne_conn *conn = list;
        ne_conn_io *io = conn->io;
        NE_ASSERT(io->tls != NULL); /* released connections leave the list */
        list = io->tls->retry_next;
        io->tls->retry_next = NULL;
        io->tls->retry = false;
        if (!conn->closing && !io->read_paused) {
            ne_conn_tls_read(conn);
        } else if (!conn->closing) {
            retry_later(conn); /* paused: resume_paused brings it back */
        }
    }
}
