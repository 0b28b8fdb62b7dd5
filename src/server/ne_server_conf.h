/* Applying a parsed nats-server configuration file to the server options.
 *
 * Keys natsedge implements are applied; keys of features it does not have
 * yet are refused by name ("not supported yet"); any other key is an error
 * `file:line:col: unknown field "x"`, as nats-server reports it. */
#ifndef NE_SERVER_CONF_H
#define NE_SERVER_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/ne_conf.h"
#include "server/ne_server.h"

/* Settings that belong to the board (logging, files), not to the core. The
 * strings point into the parsed configuration and live as long as it. */
typedef struct ne_board_settings {
    const char *log_file;
    const char *pid_file;
    const char *ports_file_dir;
    /* store_dir: where the storage device's file lives (MQTT's sessions
     * and retained messages; nats-server keeps its JetStream and MQTT
     * state there too). */
    const char *store_dir;
    bool debug;
    bool trace;
    bool logtime;
} ne_board_settings;

/* Applies conf onto opts and board (which hold the defaults on entry). On
 * failure writes a message naming the position into err and returns
 * NE_ERR_INVALID, NE_ERR_UNSUPPORTED or NE_ERR_RANGE. */
int ne_server_apply_conf(ne_conf *conf, ne_server_options *opts, ne_board_settings *board,
                         char *err, size_t err_cap);

#endif
