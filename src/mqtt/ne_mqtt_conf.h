/* The mqtt { } block of a configuration file. */
#ifndef NE_MQTT_CONF_H
#define NE_MQTT_CONF_H

#include <stddef.h>

#include "conf/ne_conf.h"
#include "conf/ne_options.h"

/* Applies an mqtt map onto o (which holds the defaults), as nats-server
 * 2.9 reads it (MQ-25, CFG-20): listen, host/net, port (MQTT is on once a
 * port is set; -1: any free port), authorization/authentication {
 * user/username, pass/password, token, timeout }, no_auth_user,
 * ack_wait/ackwait, max_ack_pending/max_pending/max_inflight; its
 * JetStream keys (js_domain, stream_replicas, consumer_replicas,
 * consumer_memory_storage, consumer_inactive_threshold) are read and have
 * no use (natsedge keeps sessions itself). On failure writes a message
 * with the position into err and returns a negative ne_err. */
int ne_mqtt_apply_conf(ne_conf *conf, ne_conf_node *map, ne_mqtt_options *o, char *err,
                       size_t err_cap);

/* The relations nats-server checks between mqtt { } and the rest
 * (validateMQTTOptions): no_auth_user among the users, no user or token
 * beside a users list. NE_OK or NE_ERR_INVALID with its message. */
int ne_mqtt_options_check(const ne_server_options *o, char *err, size_t err_cap);

#endif
