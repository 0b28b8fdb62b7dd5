/* The firmware's storage partitions: see board_store.h. */
#include "board_store.h"

#include <string.h>

#include "core/ne_error.h"
#include "core/ne_log.h"

#if NE_FEATURE_JETSTREAM || NE_MQTT_PERSIST

#include "js/ne_js.h"

#define MPS2_STORE_ERASE_BYTES NE_JS_FILE_BLOCK_BYTES
#define MPS2_STORE_PROGRAM_BYTES NE_JS_FILE_PROGRAM_BYTES
#if NE_FEATURE_JETSTREAM
#define MPS2_JS_BLOCKS NE_STORE_MAX_BLOCKS
#else
#define MPS2_JS_BLOCKS 0
#endif
#if NE_MQTT_PERSIST
#define MPS2_MQTT_BLOCKS NE_BOARD_MQTT_STORE_BLOCKS
#else
#define MPS2_MQTT_BLOCKS 0
#endif

_Static_assert((MPS2_JS_BLOCKS + MPS2_MQTT_BLOCKS) * MPS2_STORE_ERASE_BYTES <= NE_BOARD_STORE_BYTES,
               "the storage partitions must fit NE_BOARD_STORE_BYTES");
_Static_assert(MPS2_STORE_ERASE_BYTES % MPS2_STORE_PROGRAM_BYTES == 0,
               "an erase block must be a whole number of program units");

/* The region: not loaded from the image and not cleared at reset (the
 * linker script places .natsedge_store outside .bss, in a region of its
 * own). */
__attribute__((section(".natsedge_store"),
               aligned(4096))) static uint8_t g_store_region[NE_BOARD_STORE_BYTES];

/* One partition of the region. */
typedef struct mps2_partition {
    uint8_t *base;
    uint32_t bytes;
} mps2_partition;

static int part_read(void *ctx, uint32_t addr, void *buf, size_t len)
{
    const mps2_partition *p = ctx;
    if (addr > p->bytes || len > p->bytes - addr) {
        return NE_ERR_INVALID;
    }
    memcpy(buf, p->base + addr, len);
    return NE_OK;
}

/* NOR programming: a bit goes from 1 to 0, never back (the store never
 * programs a unit twice without an erase; this keeps the medium honest if
 * it did). */
static int part_program(void *ctx, uint32_t addr, const void *buf, size_t len)
{
    const mps2_partition *p = ctx;
    if (addr > p->bytes || len > p->bytes - addr || addr % MPS2_STORE_PROGRAM_BYTES != 0 ||
        len % MPS2_STORE_PROGRAM_BYTES != 0) {
        return NE_ERR_INVALID;
    }
    const uint8_t *src = buf;
    uint8_t *dst = p->base + addr;
    for (size_t i = 0; i < len; i++) {
        dst[i] &= src[i];
    }
    return NE_OK;
}

static int part_erase(void *ctx, uint32_t block)
{
    const mps2_partition *p = ctx;
    if (block >= p->bytes / MPS2_STORE_ERASE_BYTES) {
        return NE_ERR_INVALID;
    }
    memset(p->base + (size_t)block * MPS2_STORE_ERASE_BYTES, 0xff, MPS2_STORE_ERASE_BYTES);
    return NE_OK;
}

/* Programs and erases of RAM are complete when they return. */
static int part_sync(void *ctx)
{
    (void)ctx;
    return NE_OK;
}

static const ne_flash_ops g_part_ops = {part_read, part_program, part_erase, part_sync};

/* QEMU starts the region zeroed, where a flash part ships erased (0xff):
 * blocks that are all zeros were never written (no store frame is all
 * zeros), so they are erased here instead of being reported as damaged at
 * the store's recovery. A real board's flash needs none of this. */
static void erase_blank_blocks(void)
{
    for (uint32_t b = 0; b < NE_BOARD_STORE_BYTES / MPS2_STORE_ERASE_BYTES; b++) {
        const uint32_t *words =
            (const uint32_t *)(g_store_region + (size_t)b * MPS2_STORE_ERASE_BYTES);
        bool zero = true;
        for (uint32_t i = 0; i < MPS2_STORE_ERASE_BYTES / 4 && zero; i++) {
            zero = words[i] == 0;
        }
        if (zero) {
            memset(g_store_region + (size_t)b * MPS2_STORE_ERASE_BYTES, 0xff,
                   MPS2_STORE_ERASE_BYTES);
        }
    }
}

static ne_flash partition_flash(mps2_partition *p, uint32_t first_block, uint32_t blocks)
{
    p->base = g_store_region + (size_t)first_block * MPS2_STORE_ERASE_BYTES;
    p->bytes = blocks * MPS2_STORE_ERASE_BYTES;
    ne_flash f = {&g_part_ops, p, {MPS2_STORE_PROGRAM_BYTES, MPS2_STORE_ERASE_BYTES, blocks}};
    return f;
}

#if NE_FEATURE_JETSTREAM
static mps2_partition g_js_part;

/* The partition is always there: it opens whatever store_dir says and
 * whatever block count max_file_store asked for (a partition has the size
 * it was cut to, as a file on Linux keeps the size it was made with). */
static int js_open(void *ctx, const char *store_dir, ne_flash_geometry geometry, bool create,
                   ne_flash *out)
{
    (void)ctx;
    (void)store_dir;
    (void)geometry;
    (void)create;
    *out = partition_flash(&g_js_part, 0, MPS2_JS_BLOCKS);
    return NE_OK;
}

static void js_close(void *ctx)
{
    (void)ctx;
}
#endif

#if NE_MQTT_PERSIST
static mps2_partition g_mqtt_part;
static ne_flash g_mqtt_flash;
#endif

void mps2_store_setup(ne_server *srv, const ne_log *log)
{
    erase_blank_blocks();
#if NE_FEATURE_JETSTREAM
    ne_log_info(log, "Storage region: %u KiB at 0x%08x, JetStream %u KiB, MQTT %u KiB",
                (unsigned)(NE_BOARD_STORE_BYTES / 1024u), (unsigned)(uintptr_t)g_store_region,
                (unsigned)(MPS2_JS_BLOCKS * MPS2_STORE_ERASE_BYTES / 1024u),
                (unsigned)(MPS2_MQTT_BLOCKS * MPS2_STORE_ERASE_BYTES / 1024u));
#else
    /* No JetStream (tiny-mqtt): the region is MQTT's partition alone. */
    ne_log_info(log, "Storage region: %u KiB at 0x%08x, MQTT %u KiB (no JetStream)",
                (unsigned)(NE_BOARD_STORE_BYTES / 1024u), (unsigned)(uintptr_t)g_store_region,
                (unsigned)(MPS2_MQTT_BLOCKS * MPS2_STORE_ERASE_BYTES / 1024u));
#endif
#if NE_FEATURE_JETSTREAM
    ne_js_device_port port = {js_open, js_close, NULL};
    ne_js_set_device(&srv->js, &port);
#endif
#if NE_MQTT_PERSIST
    g_mqtt_flash = partition_flash(&g_mqtt_part, MPS2_JS_BLOCKS, MPS2_MQTT_BLOCKS);
    ne_server_set_flash(srv, &g_mqtt_flash);
#endif
}

#else

void mps2_store_setup(ne_server *srv, const ne_log *log)
{
    (void)srv;
    (void)log;
}

#endif
