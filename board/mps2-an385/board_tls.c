/* TLS toward a leaf hub on the firmware: see board_tls.h. */
#include "board_tls.h"

#include "core/ne_assert.h"
#include "core/ne_error.h"

#if NE_BOARD_TLS

#include <stdarg.h>

#include "core/ne_fmt.h"
#include "leaf/ne_leaf.h"
#include "mbedtls/ne_tls_mbedtls.h"
#include "mps2.h"

/* mbedTLS's formatting (mbedtls_board_config.h): ne_fmt's builder. A cut
 * text returns cap, as snprintf's "did not fit". What this image links
 * (mbedtls_strerror, the messages of port/mbedtls) uses conversions ne_fmt
 * knows, the %04X of mbedtls_strerror's "UNKNOWN ERROR CODE" included. */
int mps2_mbedtls_snprintf(char *out, size_t cap, const char *format, ...)
{
    ne_strbuf sb;
    ne_strbuf_init(&sb, out, cap);
    va_list ap;
    va_start(ap, format);
    ne_strbuf_vprintf(&sb, format, ap);
    va_end(ap);
    return sb.truncated ? (int)cap : (int)sb.len;
}

/* mbedTLS's static allocator reports an inconsistency of its region with
 * fprintf, then exits (mbedtls_board_config.h): on the UART, then a stop. */
int mps2_mbedtls_fprintf(FILE *stream, const char *format, ...)
{
    (void)stream;
    char line[160];
    ne_strbuf sb;
    ne_strbuf_init(&sb, line, sizeof(line));
    va_list ap;
    va_start(ap, format);
    ne_strbuf_vprintf(&sb, format, ap);
    va_end(ap);
    mps2_console_write(line, sb.len);
    return (int)sb.len;
}

void mps2_mbedtls_exit(int status)
{
    (void)status;
    static const char text[] = "\r\n[FTL] mbedTLS: its memory region is inconsistent\r\n";
    mps2_console_write(text, sizeof(text) - 1);
    for (;;) {
        mps2_wait_for_interrupt();
    }
}

static ne_mbedtls g_engine;
static ne_tls g_tls;
static bool g_started;
static ne_tls_config g_remote_configs[NE_MAX_LEAF_REMOTES];
static bool g_remote_loaded[NE_MAX_LEAF_REMOTES];

int mps2_tls_load(const ne_server_options *opts, const mps2_settings *set, const ne_log *log)
{
    for (uint32_t r = 0; r < opts->leaf.remote_count && r < NE_MAX_LEAF_REMOTES; r++) {
        const ne_leaf_remote_options *ro = &opts->leaf.remotes[r];
        if (!ro->tls) {
            continue;
        }
        /* board_conf.c checked that ca_file names an entry of files { }. */
        const mps2_file *ca = mps2_file_named(set, ro->tls_ca_file);
        NE_ASSERT(ca != NULL);
        if (!g_started) {
            if (ne_mbedtls_init(&g_engine, &g_tls) != NE_OK) {
                ne_log_error(log, "TLS: cannot seed the random generator");
                return NE_ERR_IO;
            }
            g_started = true;
        }
        char err[256];
        if (ne_mbedtls_client_config_pem(&g_engine, &g_remote_configs[r], ca->name, ca->text, err,
                                         sizeof(err)) != NE_OK) {
            ne_log_error(log, "TLS for leafnode remote %u: %s", (unsigned)r + 1, err);
            mps2_tls_unload();
            return NE_ERR_INVALID;
        }
        g_remote_loaded[r] = true;
    }
    return NE_OK;
}

void mps2_tls_attach(ne_server *srv)
{
    for (uint32_t r = 0; r < NE_MAX_LEAF_REMOTES; r++) {
        if (g_remote_loaded[r]) {
            if (srv->conns.tls_client_config == NULL) {
                ne_server_set_tls(srv, &g_tls, NULL, &g_remote_configs[r]);
            }
            ne_leaf_set_remote_tls(&srv->leaf, r, &g_remote_configs[r]);
        }
    }
}

void mps2_tls_unload(void)
{
    for (uint32_t r = 0; r < NE_MAX_LEAF_REMOTES; r++) {
        if (g_remote_loaded[r]) {
            ne_mbedtls_config_free(&g_remote_configs[r]);
            g_remote_loaded[r] = false;
        }
    }
}

#else

int mps2_tls_load(const ne_server_options *opts, const mps2_settings *set, const ne_log *log)
{
    (void)opts;
    (void)set;
    (void)log;
    return NE_OK;
}

void mps2_tls_attach(ne_server *srv)
{
    (void)srv;
}

void mps2_tls_unload(void)
{
}

#endif
