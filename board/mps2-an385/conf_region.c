/* The configuration region itself, empty: in a translation unit of its own
 * so that the compiler cannot fold the boot code's reads of it to the empty
 * initializer (the tool writes the region after the link). The linker script
 * keeps the section. */
#include "conf_region.h"

__attribute__((section(NE_CONF_REGION_SECTION), used)) const ne_conf_region ne_board_conf_region = {
    .header =
        {
            .magic = {NE_CONF_REGION_MAGIC0, NE_CONF_REGION_MAGIC1},
            .capacity = NE_BOARD_CONF_REGION_BYTES,
        },
};
