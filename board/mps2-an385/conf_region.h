/* The firmware's configuration region: a nats-server configuration file
 * kept in flash (the section .natsedge_conf of the image), read at boot. It
 * is written when the image is built (`make BOARD=mps2-an385 CONF=edge.conf`)
 * or later into any image, without rebuilding, by tools/conf_region.c
 * (`conf_region write natsedge.elf edge.conf`). An empty region (length 0)
 * means the built-in defaults. The layout is little-endian, as the board.
 *
 * This header is shared by the firmware and the host tool: types only. */
#ifndef NE_MPS2_CONF_REGION_H
#define NE_MPS2_CONF_REGION_H

#include <stdint.h>

#include "ne_config.h"

#ifndef NE_BOARD_CONF_REGION_BYTES
#define NE_BOARD_CONF_REGION_BYTES 2048
#endif

#define NE_CONF_REGION_SECTION ".natsedge_conf"
/* "NEcf" "REG1": the tool finds the region by them in a raw image. */
#define NE_CONF_REGION_MAGIC0 0x6663454eu
#define NE_CONF_REGION_MAGIC1 0x31474552u
#define NE_CONF_REGION_NAME_BYTES 32

typedef struct ne_conf_region_header {
    uint32_t magic[2];
    uint32_t capacity;                    /* bytes of text the region holds after this header */
    uint32_t length;                      /* bytes of text; 0: no configuration */
    uint32_t crc32c;                      /* ne_crc32c(0, text, length) */
    uint32_t reserved;                    /* 0 */
    char name[NE_CONF_REGION_NAME_BYTES]; /* the file it came from, for messages */
} ne_conf_region_header;

typedef struct ne_conf_region {
    ne_conf_region_header header;
    char text[NE_BOARD_CONF_REGION_BYTES];
} ne_conf_region;

_Static_assert(sizeof(ne_conf_region_header) == 56, "the region's header is 56 bytes");

#endif
