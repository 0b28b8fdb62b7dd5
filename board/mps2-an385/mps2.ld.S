/* Linker script for the MPS2 AN385 firmware, run through the C
 * preprocessor with the profile's header: the regions are the profile's
 * flash and RAM budgets, so an image that exceeds either fails to link.
 * Code and constants in the 4 MiB code SSRAM at 0 (flash on a real board),
 * data in the SSRAM at 0x20000000. */
#include NE_CONFIG_PROFILE_HEADER

MEMORY
{
    FLASH (rx) : ORIGIN = 0x00000000, LENGTH = NE_BOARD_FLASH_BUDGET_BYTES
    RAM (rwx)  : ORIGIN = 0x20000000, LENGTH = NE_BOARD_RAM_BUDGET_BYTES
#ifdef NE_BOARD_STORE_BYTES
    /* The storage partitions (board_store.h): flash on a real board, the
     * upper half of the code SSRAM here, outside the image's budget. */
    STORE (rw) : ORIGIN = 0x00200000, LENGTH = NE_BOARD_STORE_BYTES
#endif
}

ENTRY(Reset_Handler)

SECTIONS
{
    .text :
    {
        KEEP(*(.vectors))
        *(.text .text.*)
        . = ALIGN(4);
    } > FLASH

    .rodata :
    {
        *(.rodata .rodata.*)
        . = ALIGN(4);
    } > FLASH

    /* The configuration region (conf_region.h), written after the link by
     * tools/conf_region.c: kept whole, on its own. */
    .natsedge_conf :
    {
        . = ALIGN(4);
        KEEP(*(.natsedge_conf))
        . = ALIGN(4);
    } > FLASH

    .ARM.exidx :
    {
        *(.ARM.exidx .ARM.exidx.*)
    } > FLASH

    /* The stack first, at the bottom of RAM: an overflow runs off the
     * start of RAM and faults instead of corrupting data. */
    .stack (NOLOAD) :
    {
        __ram_start = .;
        . = . + NE_BOARD_STACK_BYTES;
        __stack_top = .;
    } > RAM

    .data :
    {
        __data_start = .;
        *(.data .data.*)
        . = ALIGN(4);
        __data_end = .;
    } > RAM AT > FLASH
    __data_load = LOADADDR(.data);

    .bss (NOLOAD) :
    {
        __bss_start = .;
        *(.bss .bss.*)
        *(COMMON)
        . = ALIGN(4);
        __bss_end = .;
    } > RAM

#ifdef NE_BOARD_STORE_BYTES
    /* Not loaded from the image and not cleared by the start-up code
     * (outside __bss_start..__bss_end): what the store wrote survives a
     * warm reset. */
    .natsedge_store (COPY) :
    {
        KEEP(*(.natsedge_store))
    } > STORE
#endif
}
