#include "posix/ne_file_flash.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/ne_error.h"

/* An erased run written by erase and by extension, in pieces of this size. */
static const uint8_t erased_bytes[64 * 1024] = {[0 ... 64 * 1024 - 1] = 0xff};

static uint64_t device_bytes(const ne_file_flash *ff)
{
    return (uint64_t)ff->flash.geometry.block_count * ff->flash.geometry.erase_bytes;
}

static int write_all(int fd, const void *buf, size_t len, uint64_t off)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return NE_ERR_IO;
        }
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return NE_OK;
}

static int fill_erased(int fd, uint64_t off, uint64_t len)
{
    while (len > 0) {
        size_t n = len < sizeof(erased_bytes) ? (size_t)len : sizeof(erased_bytes);
        int rc = write_all(fd, erased_bytes, n, off);
        if (rc != NE_OK) {
            return rc;
        }
        off += n;
        len -= n;
    }
    return NE_OK;
}

static bool tracked(const ne_file_flash *ff, uint32_t block)
{
    return ff->flash.geometry.block_count <= NE_FILE_FLASH_TRACKED_BLOCKS &&
           block < ff->flash.geometry.block_count;
}

static bool known_erased(const ne_file_flash *ff, uint32_t block)
{
    return tracked(ff, block) && (ff->erased[block / 8] & (1u << (block % 8))) != 0;
}

static void mark_erased(ne_file_flash *ff, uint32_t block, bool erased)
{
    if (!tracked(ff, block)) {
        return;
    }
    if (erased) {
        ff->erased[block / 8] |= (uint8_t)(1u << (block % 8));
    } else {
        ff->erased[block / 8] &= (uint8_t) ~(1u << (block % 8));
    }
}

static int file_read(void *ctx, uint32_t addr, void *buf, size_t len)
{
    ne_file_flash *ff = ctx;
    if ((uint64_t)addr + len > device_bytes(ff)) {
        return NE_ERR_INVALID;
    }
    uint8_t *p = buf;
    uint64_t off = addr;
    while (len > 0) {
        ssize_t n = pread(ff->fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return NE_ERR_IO;
        }
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return NE_OK;
}

static int file_program(void *ctx, uint32_t addr, const void *buf, size_t len)
{
    ne_file_flash *ff = ctx;
    uint32_t unit = ff->flash.geometry.program_bytes;
    if (addr % unit != 0 || len % unit != 0 || (uint64_t)addr + len > device_bytes(ff)) {
        return NE_ERR_INVALID;
    }
    ff->programs++;
    uint32_t erase_bytes = ff->flash.geometry.erase_bytes;
    uint32_t last = len > 0 ? (uint32_t)((addr + len - 1) / erase_bytes) : addr / erase_bytes;
    for (uint32_t b = addr / erase_bytes; b <= last && b < ff->flash.geometry.block_count; b++) {
        mark_erased(ff, b, false);
    }
    return write_all(ff->fd, buf, len, addr);
}

/* Whether len bytes at off already read erased (*erased), in pieces of
 * sizeof(erased_bytes); stops at the first piece that does not. */
static int reads_erased(ne_file_flash *ff, uint64_t off, uint64_t len, bool *erased)
{
    uint8_t piece[sizeof(erased_bytes)];
    *erased = true;
    uint64_t bound = len / sizeof(piece) + 1;
    for (uint64_t i = 0; i < bound && len > 0 && *erased; i++) {
        size_t n = len < sizeof(piece) ? (size_t)len : sizeof(piece);
        int rc = file_read(ff, (uint32_t)off, piece, n);
        if (rc != NE_OK) {
            return rc;
        }
        *erased = memcmp(piece, erased_bytes, n) == 0;
        off += n;
        len -= n;
    }
    return NE_OK;
}

/* A file has no cells that a cut left half-programmed (the reason flash
 * must be erased even where it reads 0xFF): a block that reads erased is
 * erased, and writing 0xFF over it again only costs the write. On a new
 * store file (all 0xFF) that write doubled the bytes written while its
 * blocks were first used. Reading it costs a fraction of writing it; an
 * earlier write still in the page cache reaches the disk with the store's
 * next sync either way. */
static int file_erase(void *ctx, uint32_t block)
{
    ne_file_flash *ff = ctx;
    if (block >= ff->flash.geometry.block_count) {
        return NE_ERR_INVALID;
    }
    ff->erases++;
    uint64_t size = ff->flash.geometry.erase_bytes;
    if (known_erased(ff, block)) {
        /* Written 0xFF by this device and not programmed since. */
        ff->erases_skipped++;
        ff->erases_known++;
        return NE_OK;
    }
    bool erased = false;
    int rc = reads_erased(ff, (uint64_t)block * size, size, &erased);
    if (rc != NE_OK) {
        return rc;
    }
    if (erased) {
        ff->erases_skipped++;
        mark_erased(ff, block, true);
        return NE_OK;
    }
    rc = fill_erased(ff->fd, (uint64_t)block * size, size);
    if (rc == NE_OK) {
        mark_erased(ff, block, true);
    }
    return rc;
}

static int file_sync(void *ctx)
{
    ne_file_flash *ff = ctx;
    ff->syncs++;
    return fdatasync(ff->fd) == 0 ? NE_OK : NE_ERR_IO;
}

static const ne_flash_ops file_ops = {
    .read = file_read,
    .program = file_program,
    .erase = file_erase,
    .sync = file_sync,
};

/* A new or extended file: its size and, for a new file, its name in the
 * directory must reach the disk before the store relies on either (fsync
 * of the file, then of its directory), or a power cut could leave no file,
 * or a shorter one, under data the store took for durable. */
static int make_file_durable(int fd, const char *path)
{
    if (fsync(fd) != 0) {
        return NE_ERR_IO;
    }
    const char *slash = strrchr(path, '/');
    char dir[4096];
    size_t len = slash == NULL ? 1 : (slash == path ? 1 : (size_t)(slash - path));
    if (len >= sizeof(dir)) {
        return NE_ERR_IO;
    }
    memcpy(dir, slash == NULL ? "." : path, len);
    dir[len] = '\0';
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        return NE_ERR_IO;
    }
    int rc = fsync(dfd) == 0 ? NE_OK : NE_ERR_IO;
    close(dfd);
    return rc;
}

int ne_file_flash_open(ne_file_flash *ff, const char *path, ne_flash_geometry geometry)
{
    memset(ff, 0, sizeof(*ff));
    ff->fd = -1;
    ff->flash.ops = &file_ops;
    ff->flash.ctx = ff;
    ff->flash.geometry = geometry;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        return NE_ERR_IO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return NE_ERR_IO;
    }
    uint64_t want = device_bytes(ff);
    if ((uint64_t)st.st_size > want) {
        close(fd);
        return NE_ERR_INVALID;
    }
    if ((uint64_t)st.st_size < want &&
        (fill_erased(fd, (uint64_t)st.st_size, want - (uint64_t)st.st_size) != NE_OK ||
         make_file_durable(fd, path) != NE_OK)) {
        close(fd);
        return NE_ERR_IO;
    }
    /* The blocks wholly in the extension were just written 0xFF. */
    uint64_t first = ((uint64_t)st.st_size + geometry.erase_bytes - 1) / geometry.erase_bytes;
    for (uint64_t b = first; b < geometry.block_count; b++) {
        mark_erased(ff, (uint32_t)b, true);
    }
    ff->fd = fd;
    return NE_OK;
}

void ne_file_flash_close(ne_file_flash *ff)
{
    if (ff->fd >= 0) {
        (void)fdatasync(ff->fd);
        close(ff->fd);
        ff->fd = -1;
    }
}
