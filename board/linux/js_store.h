/* JetStream's file storage on Linux (board side): the device is one file,
 * <store_dir>/natsedge.store, locked while the broker runs. */
#ifndef NE_BOARD_JS_STORE_H
#define NE_BOARD_JS_STORE_H

#include "server/ne_server.h"

/* Gives JetStream the file device. Call before ne_server_start. */
void ne_board_js_store_setup(ne_server *srv);

#endif
