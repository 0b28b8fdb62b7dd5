/* TLS of the MQTT listener (mqtt { tls { } }): its configuration, loaded
 * through the board's TLS engine and handed to the MQTT kind (src/mqtt
 * cannot read files). */
#ifndef NE_BOARD_MQTT_TLS_H
#define NE_BOARD_MQTT_TLS_H

#include "server/ne_server.h"

/* Between ne_server_init and ne_server_start; NE_OK when MQTT has no TLS.
 * Logs the reason and returns a negative ne_err when a file cannot be
 * used. */
int ne_board_mqtt_tls_setup(ne_server *srv);

#endif
