/* JetStream's file device on Linux (js_store.h). The file is created (with
 * store_dir) when the first file stream is; an existing file keeps the size
 * it was made with, whatever max_file_store says now. An exclusive flock
 * keeps a second broker off the same store_dir. */
#include "js_store.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/ne_error.h"
#include "posix/ne_file_flash.h"

#if NE_FEATURE_JETSTREAM

static ne_file_flash g_flash;
static bool g_open;

/* mkdir -p */
static int make_dirs(const char *dir)
{
    char path[NE_JS_STORE_DIR_BYTES + 1];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof(path)) {
        return NE_ERR_INVALID;
    }
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] == '/' || path[i] == '\0') {
            char c = path[i];
            path[i] = '\0';
            if (mkdir(path, 0750) != 0 && errno != EEXIST) {
                return NE_ERR_IO;
            }
            path[i] = c;
        }
    }
    return NE_OK;
}

static int open_device(void *ctx, const char *dir, ne_flash_geometry geometry, bool create,
                       ne_flash *out)
{
    (void)ctx;
    char path[NE_JS_STORE_DIR_BYTES + 32];
    int n = snprintf(path, sizeof(path), "%s/natsedge.store", dir);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        return NE_ERR_TOO_BIG;
    }
    struct stat sb;
    if (stat(path, &sb) == 0) {
        uint64_t blocks = (uint64_t)sb.st_size / geometry.erase_bytes;
        if ((uint64_t)sb.st_size % geometry.erase_bytes == 0 && blocks >= 4 &&
            blocks <= NE_STORE_MAX_BLOCKS) {
            geometry.block_count = (uint32_t)blocks;
        }
    } else if (!create) {
        return NE_ERR_NOT_FOUND;
    } else if (make_dirs(dir) != NE_OK) {
        return NE_ERR_IO;
    }
    int rc = ne_file_flash_open(&g_flash, path, geometry);
    if (rc != NE_OK) {
        return rc;
    }
    if (flock(g_flash.fd, LOCK_EX | LOCK_NB) != 0) {
        ne_file_flash_close(&g_flash);
        return NE_ERR_EXISTS; /* another broker holds it */
    }
    g_open = true;
    *out = g_flash.flash;
    return NE_OK;
}

static void close_device(void *ctx)
{
    (void)ctx;
    if (g_open) {
        g_open = false;
        ne_file_flash_close(&g_flash);
    }
}

void ne_board_js_store_setup(ne_server *srv)
{
    ne_js_device_port port = {open_device, close_device, NULL};
    ne_js_set_device(&srv->js, &port);
}

#else

void ne_board_js_store_setup(ne_server *srv)
{
    (void)srv;
}

#endif
