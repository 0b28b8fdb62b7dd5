/* The porting interface: the only way out of src/.
 *
 * The portable core calls these functions and function tables; a port
 * (port/posix, port/lwip, port/sim) provides them. Nothing here allocates:
 * every object is owned by the caller.
 *
 * Global functions (clock, entropy, assertion failure) are process-wide.
 * Network and flash are tables of functions with a context pointer, so that
 * several servers and several simulated devices can live in one process.
 */
#ifndef NE_PORT_H
#define NE_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Time and entropy ---------------------------------------------------- */

/* Monotonic milliseconds since an arbitrary origin; never goes backwards. */
uint64_t ne_port_now_ms(void);

/* Wall-clock nanoseconds since the Unix epoch (UTC), for timestamps shown to
 * users (INFO, /varz start, stored messages). May jump. */
uint64_t ne_port_wall_ns(void);

/* Fills buf with len unpredictable bytes. Returns 0 on success, negative
 * ne_err on failure (the caller must not proceed with weak randomness). */
int ne_port_entropy(void *buf, size_t len);

/* Checks an ed25519 signature (NKey authentication). NE_OK when valid,
 * NE_ERR_PERMISSION when not, another ne_err when the check cannot run. */
int ne_port_ed25519_verify(const uint8_t sig[64], const uint8_t *msg, size_t len,
                           const uint8_t public_key[32]);

/* Signs msg with the ed25519 key derived from a 32-byte seed (leaf
 * credentials: the hub's nonce). NE_OK, or an ne_err when signing cannot run. */
int ne_port_ed25519_sign(uint8_t sig[64], const uint8_t *msg, size_t len, const uint8_t seed[32]);

/* Resident memory of the process or board in bytes (0 if unknown), for /varz. */
uint64_t ne_port_memory_bytes(void);

/* Number of CPU cores (1 on a microcontroller), for /varz. */
uint32_t ne_port_cpu_count(void);

/* Called by NE_ASSERT on failure. Logs the location and does not return. */
void ne_port_assert_fail(const char *file, int line, const char *expr);

/* ---- Network --------------------------------------------------------------
 *
 * A socket is an opaque handle owned by the port. The core never blocks: recv
 * and send return NE_ERR_WOULD_BLOCK when no progress is possible, and the
 * port reports readiness through the event callbacks the core registered.
 */

typedef struct ne_iovec {
    const void *base;
    size_t len;
} ne_iovec;

typedef intptr_t ne_sock;
#define NE_SOCK_INVALID ((ne_sock)-1)

typedef struct ne_net_ops {
    /* Opens a listening TCP socket. host is a numeric IPv4/IPv6 address or
     * "0.0.0.0"; port 0 asks for any free port (see local_port). */
    int (*listen)(void *ctx, const char *host, uint16_t port, ne_sock *out);
    /* Accepts one pending connection, NE_ERR_WOULD_BLOCK when none. The peer
     * address is written as text into peer_ip (at least 46 bytes). */
    int (*accept)(void *ctx, ne_sock listener, ne_sock *out, char *peer_ip, uint16_t *peer_port);
    /* Reads up to len bytes. *got > 0 on success; NE_ERR_WOULD_BLOCK when no
     * data is ready; NE_ERR_CLOSED at end of stream; NE_ERR_IO on error. */
    int (*recv)(void *ctx, ne_sock sock, void *buf, size_t len, size_t *got);
    /* Gathers and sends; *sent may be less than the total (partial write).
     * NE_ERR_WOULD_BLOCK when nothing could be sent, NE_ERR_CLOSED/IO on error. */
    int (*sendv)(void *ctx, ne_sock sock, const ne_iovec *iov, int iovcnt, size_t *sent);
    /* Registers the socket with the event loop for readable events; events
     * for it are reported with `user`. */
    int (*attach)(void *ctx, ne_sock sock, void *user);
    /* Asks for (or stops asking for) a writable event on this socket. */
    int (*want_write)(void *ctx, ne_sock sock, bool enable);
    /* Asks for (or stops asking for) readable events (back-pressure). */
    int (*want_read)(void *ctx, ne_sock sock, bool enable);
    /* Closes the socket; no event for it is reported afterwards. */
    void (*close)(void *ctx, ne_sock sock);
    /* The local port a socket is bound to (for port 0 listeners). */
    uint16_t (*local_port)(void *ctx, ne_sock sock);
    /* Opens an outbound TCP connection (non-blocking; writable when up).
     * Used by leaf remotes. host is numeric or a name the port can resolve. */
    int (*connect)(void *ctx, const char *host, uint16_t port, ne_sock *out);
} ne_net_ops;

typedef struct ne_net {
    const ne_net_ops *ops;
    void *ctx;
} ne_net;

/* ---- Flash ----------------------------------------------------------------
 *
 * A flash device as NOR/NAND-like storage: programming only clears bits of an
 * erased region, erasing sets a whole erase block to 0xFF. The store never
 * programs a region twice without an erase in between.
 */

typedef struct ne_flash_geometry {
    uint32_t program_bytes; /* smallest programmable unit (address and length align to it) */
    uint32_t erase_bytes;   /* erase block size, a multiple of program_bytes */
    uint32_t block_count;   /* number of erase blocks */
} ne_flash_geometry;

typedef struct ne_flash_ops {
    /* Reads len bytes at addr. */
    int (*read)(void *ctx, uint32_t addr, void *buf, size_t len);
    /* Programs len bytes at addr (aligned to program_bytes). */
    int (*program)(void *ctx, uint32_t addr, const void *buf, size_t len);
    /* Erases one erase block (index, not address). */
    int (*erase)(void *ctx, uint32_t block);
    /* Makes every program and erase so far durable (fsync for a file). */
    int (*sync)(void *ctx);
} ne_flash_ops;

typedef struct ne_flash {
    const ne_flash_ops *ops;
    void *ctx;
    ne_flash_geometry geometry;
} ne_flash;

/* ---- TLS ------------------------------------------------------------------
 *
 * A TLS engine behind a table (port/mbedtls), usable over any network port.
 * The engine never touches a socket: it moves its records through the
 * caller's send/recv callbacks (ne_tls_bio), which follow the contract of
 * ne_net_ops.recv and .sendv (NE_ERR_WOULD_BLOCK when no progress is
 * possible). Configurations (certificates, CA, verification) are made by the
 * board through the engine's own API and handed to the core as opaque
 * pointers. Sessions come from a pool bounded at compile time; their memory
 * from a static region (NE_TLS_HEAP_BYTES).
 */

typedef struct ne_tls_config ne_tls_config;   /* owned by the port */
typedef struct ne_tls_session ne_tls_session; /* owned by the port's pool */

typedef struct ne_tls_bio {
    int (*send)(void *io, const void *buf, size_t len, size_t *sent);
    int (*recv)(void *io, void *buf, size_t len, size_t *got);
    void *io;
} ne_tls_bio;

/* What the engine's memory and pool look like, for monitoring. */
typedef struct ne_tls_stats {
    uint64_t region_bytes; /* size of the static region */
    uint64_t in_use_bytes; /* allocated now */
    uint64_t peak_bytes;   /* most ever allocated at once */
    uint32_t sessions;     /* sessions open now */
    uint32_t max_sessions; /* the pool's size */
    uint64_t refused;      /* sessions refused: pool or region exhausted */
    uint64_t handshakes;   /* handshakes completed */
    uint64_t failures;     /* handshakes failed (peer, certificate, memory) */
} ne_tls_stats;

typedef struct ne_tls_ops {
    /* Takes a session for one connection. The role (server or client) and
     * the certificates are the config's. For a client session, server_name
     * is the host name the peer's certificate must match and is sent as SNI
     * (NULL: no check, only for IP-less tests). NE_ERR_NOMEM when the pool or
     * the memory region is exhausted (the caller refuses the connection). */
    int (*open)(void *ctx, const ne_tls_config *cfg, const ne_tls_bio *bio, const char *server_name,
                ne_tls_session **out);
    /* Advances the handshake: NE_OK when complete, NE_ERR_WOULD_BLOCK when it
     * waits for the peer (call again on the next readable or writable event),
     * another ne_err when it failed (error_text says why). */
    int (*handshake)(void *ctx, ne_tls_session *s);
    /* Reads decrypted bytes: NE_OK with *got > 0, NE_ERR_WOULD_BLOCK,
     * NE_ERR_CLOSED (close_notify or end of stream), NE_ERR_IO. */
    int (*read)(void *ctx, ne_tls_session *s, void *buf, size_t len, size_t *got);
    /* Encrypts and sends up to len bytes (one record at most). After
     * NE_ERR_WOULD_BLOCK the caller must offer the same bytes again. */
    int (*write)(void *ctx, ne_tls_session *s, const void *buf, size_t len, size_t *written);
    /* Decrypted bytes the engine holds that read() would return at once:
     * the socket may have nothing more to say about them. */
    size_t (*pending)(void *ctx, ne_tls_session *s);
    /* Sends close_notify if `notify` (best effort, never blocks) and returns
     * the session and its memory. */
    void (*close)(void *ctx, ne_tls_session *s, bool notify);
    /* Why the last call on this session failed, as text. */
    void (*error_text)(void *ctx, ne_tls_session *s, char *buf, size_t cap);
    /* The negotiated cipher suite's name ("" before the handshake). */
    const char *(*cipher)(void *ctx, ne_tls_session *s);
    void (*stats)(void *ctx, ne_tls_stats *out);
} ne_tls_ops;

typedef struct ne_tls {
    const ne_tls_ops *ops;
    void *ctx;
} ne_tls;

/* ---- The loop ---------------------------------------------------------------
 *
 * A port's event loop drives one server through this table, which the board
 * fills (ne_server_loop); the port never sees the server itself. Several
 * servers in one process each have their own table.
 */

typedef struct ne_loop {
    /* A readiness event for the socket attached with `user` (ne_net_ops.attach). */
    void (*io)(void *server, void *user, bool readable, bool writable);
    /* Once per turn, after the turn's events: timers, flushes, closes. */
    void (*turn_end)(void *server);
    /* Milliseconds the loop may wait for events before turn_end is due. */
    int (*next_timeout_ms)(const void *server);
    /* True once the server has nothing left to do (lame duck done). */
    bool (*finished)(const void *server);
    void *server;
} ne_loop;

#endif
