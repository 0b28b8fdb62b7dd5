/* libFuzzer harness for applying a parsed configuration to the server
 * options (src/server/ne_server_conf.c): the tls block, https, and every
 * other key mapping. Any bytes are parsed as a configuration file; when that
 * succeeds the result is applied. Applying either succeeds with options
 * that pass ne_server_options_check and whose TLS settings are consistent,
 * or fails with a message. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf/ne_conf.h"
#include "core/ne_error.h"
#include "server/ne_server_conf.h"

static ne_conf conf;
static ne_server_options opts;

static int load(void *ctx, const char *path, char *buf, size_t cap, size_t *len)
{
    (void)ctx;
    (void)path;
    (void)buf;
    (void)cap;
    (void)len;
    return NE_ERR_NOT_FOUND;
}

static const char *get_env(void *ctx, const char *name)
{
    (void)ctx;
    return strcmp(name, "CERT") == 0 ? "/etc/natsedge/server.pem" : NULL;
}

static bool terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ne_conf_io io = {load, get_env, NULL};
    if (ne_conf_parse_text(&conf, "fuzz.conf", (const char *)data, size, &io) != NE_OK) {
        return 0;
    }
    ne_server_options_default(&opts);
    ne_board_settings board = {NULL, NULL, NULL, NULL, false, false, true};
    char err[512];
    err[0] = '\0';
    int rc = ne_server_apply_conf(&conf, &opts, &board, err, sizeof(err));
    if (rc > 0 || (rc != NE_OK && err[0] == '\0')) {
        abort();
    }
    if (!terminated(opts.tls_cert_file, sizeof(opts.tls_cert_file)) ||
        !terminated(opts.tls_key_file, sizeof(opts.tls_key_file)) ||
        !terminated(opts.tls_ca_file, sizeof(opts.tls_ca_file))) {
        abort();
    }
    if (rc == NE_OK) {
        /* A tls block that was accepted names its certificate and key, and
         * a CA whenever clients are verified. */
        if (opts.tls && (opts.tls_cert_file[0] == '\0' || opts.tls_key_file[0] == '\0')) {
            abort();
        }
        if (opts.tls && opts.tls_verify && opts.tls_ca_file[0] == '\0') {
            abort();
        }
        if (opts.tls && opts.tls_timeout_ms == 0) {
            abort();
        }
        char check[512];
        if (ne_server_options_check(&opts, check, sizeof(check)) != NE_OK) {
            abort();
        }
    }
    return 0;
}
