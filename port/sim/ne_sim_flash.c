#include "sim/ne_sim_flash.h"

#include <string.h>

#include "core/ne_error.h"

static uint64_t next_random(uint64_t *state)
{
    /* xorshift64*: small, fast and good enough to place faults. */
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dull;
}

uint64_t ne_sim_flash_random(ne_sim_flash *sim)
{
    return next_random(&sim->rng);
}

static uint32_t device_bytes(const ne_sim_flash *sim)
{
    return sim->flash.geometry.block_count * sim->flash.geometry.erase_bytes;
}

/* Counts an operation against an injected failure; true when it fails. */
static bool injected(ne_sim_flash *sim, uint32_t kind, int *rc)
{
    if ((sim->fail_kinds & kind) == 0 || sim->fail_nth == 0) {
        return false;
    }
    if (--sim->fail_nth > 0) {
        return false;
    }
    sim->fail_kinds = 0;
    *rc = sim->fail_rc;
    return true;
}

/* True when power fails during this program, erase (or, with a cache,
 * sync). */
static bool cut_now(ne_sim_flash *sim)
{
    sim->ops++;
    if (sim->cut_at != 0 && sim->ops >= sim->cut_at) {
        sim->powered = false;
        sim->cut_at = 0;
        sim->cuts++;
        sim->last_cut_was_erase = false;
        sim->last_cut_was_sync = false;
        return true;
    }
    return false;
}

/* ---- Write cache ---------------------------------------------------------- */

static bool cached(const ne_sim_flash *sim)
{
    return sim->durable != NULL;
}

static uint32_t line_count(const ne_sim_flash *sim)
{
    return device_bytes(sim) / sim->line_bytes;
}

static bool line_dirty(const ne_sim_flash *sim, uint32_t line)
{
    return (sim->dirty[line / 8] >> (line % 8)) & 1u;
}

static void write_back(ne_sim_flash *sim, uint32_t line)
{
    size_t off = (size_t)line * sim->line_bytes;
    memcpy(sim->durable + off, sim->image + off, sim->line_bytes);
    sim->dirty[line / 8] &= (uint8_t) ~(1u << (line % 8));
    sim->dirty_lines--;
}

/* A random dirty line (there must be one): a random start, then the next
 * dirty bit, wrapping. Bounded by the line count. */
static uint32_t random_dirty_line(ne_sim_flash *sim)
{
    uint32_t n = line_count(sim);
    uint32_t line = (uint32_t)(next_random(&sim->rng) % n);
    for (uint32_t i = 0; i < n; i++) {
        if (line_dirty(sim, line)) {
            return line;
        }
        line = line + 1 < n ? line + 1 : 0;
    }
    return line;
}

/* The cache writes lines back on its own when it is full, and now and then
 * anyway: unsynced writes reach the medium early and in any order. */
static void cache_pressure(ne_sim_flash *sim)
{
    while (sim->capacity_lines != 0 && sim->dirty_lines > sim->capacity_lines) {
        write_back(sim, random_dirty_line(sim));
        sim->lines_written_back++;
    }
    if (sim->dirty_lines > 0 && sim->writeback_per_mille != 0 &&
        next_random(&sim->rng) % 1000 < sim->writeback_per_mille) {
        write_back(sim, random_dirty_line(sim));
        sim->lines_written_back++;
    }
}

static void mark_dirty(ne_sim_flash *sim, uint32_t addr, size_t len)
{
    if (!cached(sim) || len == 0) {
        return;
    }
    uint32_t first = addr / sim->line_bytes;
    uint32_t last = (uint32_t)((addr + len - 1) / sim->line_bytes);
    for (uint32_t line = first; line <= last; line++) {
        if (!line_dirty(sim, line)) {
            sim->dirty[line / 8] |= (uint8_t)(1u << (line % 8));
            sim->dirty_lines++;
        }
    }
}

static void cache_sync(ne_sim_flash *sim)
{
    uint32_t n = line_count(sim);
    for (uint32_t line = 0; line < n && sim->dirty_lines > 0; line++) {
        if (line_dirty(sim, line)) {
            write_back(sim, line);
        }
    }
}

static void mark_programmed_from_image(ne_sim_flash *sim);

/* Power fails with lines in the cache: each reaches the medium or not (the
 * share that does is drawn per cut, from none to all), one that does may be
 * torn, and what reads return afterwards is what the medium holds. Units
 * that hold anything but erased bytes count as programmed from then on. */
static void cache_power_loss(ne_sim_flash *sim)
{
    uint32_t n = line_count(sim);
    uint32_t keep_quarters = (uint32_t)(next_random(&sim->rng) % 5);
    bool tear = next_random(&sim->rng) & 1u;
    for (uint32_t line = 0; line < n && sim->dirty_lines > 0; line++) {
        if (!line_dirty(sim, line)) {
            continue;
        }
        if (next_random(&sim->rng) % 4 >= keep_quarters) {
            sim->dirty[line / 8] &= (uint8_t) ~(1u << (line % 8));
            sim->dirty_lines--;
            sim->lines_lost++;
            continue;
        }
        if (tear) {
            tear = false;
            size_t off = (size_t)line * sim->line_bytes;
            size_t landed = next_random(&sim->rng) % sim->line_bytes;
            memcpy(sim->durable + off, sim->image + off, landed);
            uint8_t mask = (uint8_t)next_random(&sim->rng);
            sim->durable[off + landed] =
                (uint8_t)((sim->image[off + landed] & mask) | (sim->durable[off + landed] & ~mask));
            sim->dirty[line / 8] &= (uint8_t) ~(1u << (line % 8));
            sim->dirty_lines--;
            continue;
        }
        write_back(sim, line);
    }
    memcpy(sim->image, sim->durable, device_bytes(sim));
    mark_programmed_from_image(sim);
}

/* After a cut behind a cache: units that hold anything but erased bytes
 * count as programmed. */
static void mark_programmed_from_image(ne_sim_flash *sim)
{
    if (sim->programmed == NULL) {
        return;
    }
    uint32_t unit = sim->flash.geometry.program_bytes;
    for (uint32_t u = 0; u < device_bytes(sim) / unit; u++) {
        bool blank = true;
        for (uint32_t i = 0; i < unit && blank; i++) {
            blank = sim->image[(size_t)u * unit + i] == 0xff;
        }
        if (blank) {
            sim->programmed[u / 8] &= (uint8_t) ~(1u << (u % 8));
        } else {
            sim->programmed[u / 8] |= (uint8_t)(1u << (u % 8));
        }
    }
}

void ne_sim_flash_cut_keeping(ne_sim_flash *sim, uint32_t addr, uint32_t len)
{
    if (cached(sim)) {
        uint32_t n = line_count(sim);
        for (uint32_t line = 0; line < n && sim->dirty_lines > 0; line++) {
            if (!line_dirty(sim, line)) {
                continue;
            }
            uint32_t start = line * sim->line_bytes;
            if (start + sim->line_bytes > addr && start < addr + len) {
                write_back(sim, line);
            } else {
                sim->dirty[line / 8] &= (uint8_t) ~(1u << (line % 8));
                sim->dirty_lines--;
                sim->lines_lost++;
            }
        }
        memcpy(sim->image, sim->durable, device_bytes(sim));
        mark_programmed_from_image(sim);
    }
    sim->powered = false;
    sim->cut_at = 0;
    sim->cuts++;
}

void ne_sim_flash_use_cache(ne_sim_flash *sim, uint8_t *durable, uint8_t *dirty,
                            uint32_t line_bytes, uint32_t capacity_lines,
                            uint32_t writeback_per_mille)
{
    const ne_flash_geometry *g = &sim->flash.geometry;
    sim->durable = durable;
    sim->dirty = dirty;
    sim->line_bytes = line_bytes;
    sim->capacity_lines = capacity_lines;
    sim->writeback_per_mille = writeback_per_mille;
    sim->dirty_lines = 0;
    if (durable == NULL) {
        return;
    }
    if (line_bytes == 0 || line_bytes % g->program_bytes != 0 || g->erase_bytes % line_bytes != 0) {
        /* A line must hold whole program units and tile an erase block. */
        sim->line_bytes = g->program_bytes;
    }
    memcpy(durable, sim->image, device_bytes(sim));
    memset(dirty, 0, NE_SIM_FLASH_DIRTY_BYTES(g->block_count, g->erase_bytes, sim->line_bytes));
}

static int sim_read(void *ctx, uint32_t addr, void *buf, size_t len)
{
    ne_sim_flash *sim = ctx;
    if (!sim->powered) {
        return NE_ERR_POWER_LOSS;
    }
    if (addr > device_bytes(sim) || len > device_bytes(sim) - addr) {
        return NE_ERR_INVALID;
    }
    int rc;
    if (injected(sim, NE_SIM_FLASH_READ, &rc)) {
        return rc;
    }
    memcpy(buf, sim->image + addr, len);
    sim->reads++;
    return NE_OK;
}

static bool unit_programmed(ne_sim_flash *sim, uint32_t unit)
{
    return (sim->programmed[unit / 8] >> (unit % 8)) & 1u;
}

static void mark_units(ne_sim_flash *sim, uint32_t addr, size_t len, bool programmed)
{
    if (sim->programmed == NULL) {
        return;
    }
    uint32_t unit_bytes = sim->flash.geometry.program_bytes;
    for (uint32_t u = addr / unit_bytes; u < (addr + len) / unit_bytes; u++) {
        if (programmed) {
            if (unit_programmed(sim, u)) {
                sim->violations++;
            }
            sim->programmed[u / 8] |= (uint8_t)(1u << (u % 8));
        } else {
            sim->programmed[u / 8] &= (uint8_t) ~(1u << (u % 8));
        }
    }
}

static int sim_program(void *ctx, uint32_t addr, const void *buf, size_t len)
{
    ne_sim_flash *sim = ctx;
    const uint8_t *src = buf;
    uint32_t unit = sim->flash.geometry.program_bytes;
    if (!sim->powered) {
        return NE_ERR_POWER_LOSS;
    }
    if (addr % unit != 0 || len % unit != 0 || addr > device_bytes(sim) ||
        len > device_bytes(sim) - addr) {
        return NE_ERR_INVALID;
    }
    int rc;
    if (injected(sim, NE_SIM_FLASH_PROGRAM, &rc)) {
        return rc;
    }
    uint8_t *dst = sim->image + addr;
    if (cached(sim)) {
        /* The program reaches the cache (reads see it at once); a cut
         * decides which cache lines reach the medium. */
        bool cut = cut_now(sim);
        mark_units(sim, addr, len, true);
        for (size_t i = 0; i < len; i++) {
            dst[i] &= src[i];
        }
        mark_dirty(sim, addr, len);
        if (cut) {
            cache_power_loss(sim);
            return NE_ERR_POWER_LOSS;
        }
        cache_pressure(sim);
        sim->programs++;
        sim->program_bytes += len;
        return NE_OK;
    }
    if (cut_now(sim)) {
        /* Torn: a prefix lands, the next byte only partly. */
        size_t landed = len > 0 ? next_random(&sim->rng) % len : 0;
        for (size_t i = 0; i < landed; i++) {
            dst[i] &= src[i];
        }
        if (landed < len) {
            dst[landed] &= (uint8_t)(src[landed] | (uint8_t)next_random(&sim->rng));
        }
        sim->last_cut_was_erase = false;
        return NE_ERR_POWER_LOSS;
    }
    mark_units(sim, addr, len, true);
    for (size_t i = 0; i < len; i++) {
        dst[i] &= src[i];
    }
    sim->programs++;
    sim->program_bytes += len;
    return NE_OK;
}

static int sim_erase(void *ctx, uint32_t block)
{
    ne_sim_flash *sim = ctx;
    uint32_t size = sim->flash.geometry.erase_bytes;
    if (!sim->powered) {
        return NE_ERR_POWER_LOSS;
    }
    if (block >= sim->flash.geometry.block_count) {
        return NE_ERR_INVALID;
    }
    int rc;
    if (injected(sim, NE_SIM_FLASH_ERASE, &rc)) {
        return rc;
    }
    uint8_t *dst = sim->image + (size_t)block * size;
    if (cached(sim)) {
        bool cut = cut_now(sim);
        memset(dst, 0xff, size);
        mark_units(sim, block * size, size, false);
        mark_dirty(sim, block * size, size);
        sim->erase_counts[block]++;
        if (cut) {
            sim->last_cut_was_erase = true;
            cache_power_loss(sim);
            return NE_ERR_POWER_LOSS;
        }
        cache_pressure(sim);
        sim->erases++;
        return NE_OK;
    }
    if (cut_now(sim)) {
        /* Torn: either a prefix is erased and the rest untouched, or every
         * byte is partly erased (some bits back to 1). */
        if (next_random(&sim->rng) & 1u) {
            size_t erased = next_random(&sim->rng) % size;
            memset(dst, 0xff, erased);
        } else {
            for (uint32_t i = 0; i < size; i++) {
                dst[i] |= (uint8_t)next_random(&sim->rng);
            }
        }
        sim->erase_counts[block]++;
        sim->last_cut_was_erase = true;
        return NE_ERR_POWER_LOSS;
    }
    memset(dst, 0xff, size);
    mark_units(sim, block * size, size, false);
    sim->erase_counts[block]++;
    sim->erases++;
    return NE_OK;
}

static int sim_sync(void *ctx)
{
    ne_sim_flash *sim = ctx;
    if (!sim->powered) {
        return NE_ERR_POWER_LOSS;
    }
    int rc;
    if (injected(sim, NE_SIM_FLASH_SYNC, &rc)) {
        return rc;
    }
    if (cached(sim)) {
        if (cut_now(sim)) {
            /* Cut during the sync: it wrote back only some lines. */
            sim->last_cut_was_sync = true;
            cache_power_loss(sim);
            return NE_ERR_POWER_LOSS;
        }
        cache_sync(sim);
    }
    sim->syncs++;
    return NE_OK;
}

static const ne_flash_ops sim_ops = {
    .read = sim_read,
    .program = sim_program,
    .erase = sim_erase,
    .sync = sim_sync,
};

void ne_sim_flash_init(ne_sim_flash *sim, ne_flash_geometry geometry, void *image,
                       uint32_t *erase_counts, uint8_t *programmed, uint64_t seed)
{
    memset(sim, 0, sizeof(*sim));
    sim->flash.ops = &sim_ops;
    sim->flash.ctx = sim;
    sim->flash.geometry = geometry;
    sim->image = image;
    sim->erase_counts = erase_counts;
    sim->programmed = programmed;
    sim->rng = seed != 0 ? seed : 0x9e3779b97f4a7c15ull;
    sim->powered = true;
    memset(image, 0xff, (size_t)geometry.block_count * geometry.erase_bytes);
    memset(erase_counts, 0, geometry.block_count * sizeof(uint32_t));
    if (programmed != NULL) {
        memset(programmed, 0,
               NE_SIM_FLASH_PROGRAMMED_BYTES(geometry.block_count, geometry.erase_bytes,
                                             geometry.program_bytes));
    }
}

void ne_sim_flash_cut_after(ne_sim_flash *sim, uint64_t n)
{
    sim->cut_at = sim->ops + (n > 0 ? n : 1);
}

void ne_sim_flash_power_on(ne_sim_flash *sim)
{
    sim->powered = true;
    sim->cut_at = 0;
}

void ne_sim_flash_fail(ne_sim_flash *sim, uint32_t kinds, uint64_t nth, int rc)
{
    sim->fail_kinds = kinds;
    sim->fail_nth = nth;
    sim->fail_rc = rc;
}

void ne_sim_flash_flip_bit(ne_sim_flash *sim, uint32_t addr, unsigned bit)
{
    if (addr < device_bytes(sim)) {
        sim->image[addr] ^= (uint8_t)(1u << (bit % 8));
        if (cached(sim)) {
            sim->durable[addr] ^= (uint8_t)(1u << (bit % 8));
        }
    }
}

void ne_sim_flash_tear(ne_sim_flash *sim, uint32_t addr, uint32_t len)
{
    for (uint32_t i = 0; i < len && addr + i < device_bytes(sim); i++) {
        sim->image[addr + i] = (uint8_t)next_random(&sim->rng);
        if (cached(sim)) {
            sim->durable[addr + i] = sim->image[addr + i];
        }
    }
}
