/* The firmware's storage partitions (profiles with JetStream or MQTT
 * persistence: tiny-js, tiny-mqtt): a region of the board's flash beside
 * the image, NE_BOARD_STORE_BYTES long, cut into JetStream's device (the
 * first NE_STORE_MAX_BLOCKS erase blocks of NE_JS_FILE_BLOCK_BYTES; none
 * without JetStream) and MQTT's (the next NE_BOARD_MQTT_STORE_BLOCKS
 * blocks). Each partition is an
 * ne_flash (port.h) with NOR semantics: a program only clears bits, an
 * erase sets a block to 0xff.
 *
 * On QEMU's mps2-an385 the region is RAM (the upper part of the 4 MiB code
 * SSRAM, section .natsedge_store, which the ELF does not load and the
 * start-up code does not clear): it keeps its contents across a warm reset
 * (QEMU's system_reset) and loses them when QEMU exits. docs/firmware.md
 * says what a real board's flash driver provides instead. */
#ifndef NE_MPS2_BOARD_STORE_H
#define NE_MPS2_BOARD_STORE_H

#include "server/ne_server.h"

/* Gives the server its devices before ne_server_start: JetStream's through
 * its device port, MQTT's through ne_server_set_flash. Logs the layout. */
void mps2_store_setup(ne_server *srv, const ne_log *log);

#endif
