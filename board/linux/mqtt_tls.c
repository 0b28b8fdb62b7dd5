/* TLS of the MQTT listener (mqtt_tls.h). */
#include "mqtt_tls.h"

#include "core/ne_error.h"
#include "core/ne_log.h"
#include "tls_setup.h"

int ne_board_mqtt_tls_setup(ne_server *srv)
{
#if NE_FEATURE_MQTT
    const ne_mqtt_options *mo = &srv->opts.mqtt;
    if (!mo->enabled || !mo->tls) {
        return NE_OK;
    }
    char err[400];
    const ne_tls_config *cfg = ne_board_tls_listener_config(
        srv, mo->tls_cert_file, mo->tls_key_file,
        mo->tls_ca_file[0] != '\0' ? mo->tls_ca_file : NULL, mo->tls_verify, err, sizeof(err));
    if (cfg == NULL) {
        ne_log_error(&srv->log, "TLS for MQTT: %s", err);
        return NE_ERR_INVALID;
    }
    ne_mqtt_set_tls(&srv->mqtt, cfg);
    ne_log_info(&srv->log, "TLS required for MQTT connections%s",
                mo->tls_verify ? " (client certificates verified)" : "");
#else
    (void)srv;
#endif
    return NE_OK;
}
