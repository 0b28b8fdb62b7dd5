/* A file as a flash device (port/posix): reads and programs are pread and
 * pwrite at the address, an erase writes 0xff over the block unless it
 * reads erased already (a file has no half-programmed cells; a block this
 * device wrote 0xFF and has not programmed since is not even read), sync is
 * fdatasync (the file's data, and its size if it changed: what the store's
 * sync must make durable; the page cache in front of the disk reorders and
 * loses unsynced writes, which the store is built for). The file is created
 * (or extended) erased, then fsync'ed with its directory, so that a power
 * cut cannot lose the file or its length. A program writes the bytes as
 * given; the store never programs a unit twice without an erase, so NOR's
 * "only clears bits" never comes into play. */
#ifndef NE_FILE_FLASH_H
#define NE_FILE_FLASH_H

#include <stdint.h>

#include "port.h"

/* Blocks whose erased state the device remembers (a bit each); a device
 * with more blocks reads each block before erasing it. */
#define NE_FILE_FLASH_TRACKED_BLOCKS 4096

typedef struct ne_file_flash {
    ne_flash flash; /* give this to the store */
    int fd;
    uint64_t programs;
    uint64_t erases;
    uint64_t erases_skipped; /* erases of a block that read erased: nothing written */
    uint64_t erases_known;   /* of those, known erased without reading the block */
    uint64_t syncs;
    /* A bit per block known to hold only 0xFF: written so by this device
     * (the file's extension at open, an erase) and not programmed since. */
    uint8_t erased[NE_FILE_FLASH_TRACKED_BLOCKS / 8];
} ne_file_flash;

/* Opens (creating if needed) path as a device of this geometry. A file
 * shorter than the device is extended with 0xff; a longer one is refused
 * (NE_ERR_INVALID) rather than cut. NE_ERR_IO when the file cannot be
 * opened or written. */
int ne_file_flash_open(ne_file_flash *ff, const char *path, ne_flash_geometry geometry);

/* Closes the file (after a final fdatasync). */
void ne_file_flash_close(ne_file_flash *ff);

#endif
