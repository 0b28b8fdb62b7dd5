/* A simulated flash device for tests: a RAM image with NOR semantics
 * (programming only clears bits, an erase sets a block to 0xff) and fault
 * injection: power cut at the Nth program or erase (the operation is torn: a
 * random prefix of a program lands, the byte after it partly; an erase
 * leaves the block partly erased), failed operations, flipped bits, torn
 * pages. It counts erases per block and checks that no program unit is
 * programmed twice without an erase (the store's promise). Deterministic for
 * a given seed. The caller owns every buffer.
 *
 * With a write cache (ne_sim_flash_use_cache) it behaves like an SD card, an
 * eMMC or a file under a page cache instead: programs and erases change what
 * reads return at once, but reach the medium only at sync, or earlier and in
 * any order when the cache writes lines back on its own. A power cut then
 * keeps a random subset of the lines written since the last sync (one of
 * them possibly torn) and loses the rest, and a cut may fall during a sync,
 * which then has written back only some lines. */
#ifndef NE_SIM_FLASH_H
#define NE_SIM_FLASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "port.h"

/* Operation kinds, for ne_sim_flash_fail. */
#define NE_SIM_FLASH_READ 1u
#define NE_SIM_FLASH_PROGRAM 2u
#define NE_SIM_FLASH_ERASE 4u
#define NE_SIM_FLASH_SYNC 8u

/* Bytes of the "programmed" bitmap for a geometry (one bit per unit). */
#define NE_SIM_FLASH_PROGRAMMED_BYTES(block_count, erase_bytes, program_bytes)                     \
    ((size_t)(block_count) * ((erase_bytes) / (program_bytes)) / 8u + 1u)

/* Bytes of a write cache's dirty bitmap (one bit per cache line). */
#define NE_SIM_FLASH_DIRTY_BYTES(block_count, erase_bytes, line_bytes)                             \
    ((size_t)(block_count) * ((erase_bytes) / (line_bytes)) / 8u + 1u)

typedef struct ne_sim_flash {
    ne_flash flash; /* give this to the store */
    uint8_t *image;
    uint32_t *erase_counts; /* per block */
    uint8_t *programmed;    /* one bit per program unit, or NULL: no check */
    uint64_t rng;
    bool powered;
    uint64_t ops;    /* programs and erases attempted so far */
    uint64_t cut_at; /* power fails during this op (ops count), 0: never */
    /* Injected failure: the fail_nth-th operation of a kind in fail_kinds
     * returns fail_rc without touching the image. */
    uint32_t fail_kinds;
    uint64_t fail_nth;
    int fail_rc;
    /* Counters. */
    uint64_t reads;
    uint64_t programs;
    uint64_t program_bytes;
    uint64_t erases;
    uint64_t syncs;
    uint64_t violations; /* programs over a unit already programmed */
    uint64_t cuts;
    bool last_cut_was_erase;
    bool last_cut_was_sync;
    /* Write cache (NULL durable: none). image is what reads see; durable is
     * what the medium holds and what survives a power cut. */
    uint8_t *durable;
    uint8_t *dirty; /* one bit per cache line written since it last reached durable */
    uint32_t line_bytes;
    uint32_t capacity_lines; /* dirty lines held before some are written back (0: no bound) */
    uint32_t dirty_lines;
    uint32_t
        writeback_per_mille; /* chance per operation that one dirty line is written back early */
    uint64_t lines_written_back; /* lines that reached the medium before a sync asked */
    uint64_t lines_lost;         /* dirty lines a power cut threw away */
} ne_sim_flash;

/* Sets up a device over image (block_count * erase_bytes bytes, erased to
 * 0xff here: a new device) and erase_counts (block_count entries, zeroed).
 * programmed may be NULL. */
void ne_sim_flash_init(ne_sim_flash *sim, ne_flash_geometry geometry, void *image,
                       uint32_t *erase_counts, uint8_t *programmed, uint64_t seed);

/* Puts a write cache in front of the medium. durable has the image's size
 * and receives a copy of it; dirty has NE_SIM_FLASH_DIRTY_BYTES bytes.
 * line_bytes is a multiple of the program unit that divides the erase
 * block. capacity_lines bounds the lines held dirty: past it, a random one
 * is written back (0: no bound). writeback_per_mille is the chance, at each
 * program or erase, that a random dirty line is written back early. With a
 * cache, syncs count as operations for ne_sim_flash_cut_after too, so a cut
 * can fall during a sync. */
void ne_sim_flash_use_cache(ne_sim_flash *sim, uint8_t *durable, uint8_t *dirty,
                            uint32_t line_bytes, uint32_t capacity_lines,
                            uint32_t writeback_per_mille);

/* Power fails during the n-th program or erase from now (n >= 1); with a
 * write cache, syncs count too. */
void ne_sim_flash_cut_after(ne_sim_flash *sim, uint64_t n);

/* Power fails now, between operations, with a chosen outcome: of the
 * lines written since the last sync, those overlapping [addr, addr + len)
 * reach the medium whole and the rest are lost (one of the outcomes a
 * random cut may have; without a cache, nothing changes). */
void ne_sim_flash_cut_keeping(ne_sim_flash *sim, uint32_t addr, uint32_t len);

/* Power comes back: operations work again; the image keeps what landed. */
void ne_sim_flash_power_on(ne_sim_flash *sim);

/* The nth (>= 1) next operation of a kind in kinds fails with rc. */
void ne_sim_flash_fail(ne_sim_flash *sim, uint32_t kinds, uint64_t nth, int rc);

/* Flips one bit of the image (bit rot). */
void ne_sim_flash_flip_bit(ne_sim_flash *sim, uint32_t addr, unsigned bit);

/* Replaces len bytes at addr with random garbage (a page torn after the
 * fact, e.g. by a disturbed neighbour). */
void ne_sim_flash_tear(ne_sim_flash *sim, uint32_t addr, uint32_t len);

/* A pseudo-random number from the device's generator (tests use it to pick
 * cut points reproducibly). */
uint64_t ne_sim_flash_random(ne_sim_flash *sim);

#endif
