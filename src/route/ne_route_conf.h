/* The cluster { } block of a configuration file (CFG-15, CFG-05). */
#ifndef NE_ROUTE_CONF_H
#define NE_ROUTE_CONF_H

#include <stddef.h>

#include "conf/ne_conf.h"
#include "route/ne_route.h"

#if NE_FEATURE_ROUTES
/* Applies a cluster map onto o (which holds the defaults). On failure
 * writes a message with the position into err (nats-server's words where it
 * has them) and returns a negative ne_err. */
int ne_route_apply_conf(ne_conf *conf, ne_conf_node *map, ne_cluster_options *o, char *err,
                        size_t err_cap);

/* A --routes value (URLs separated by commas) onto o; a --cluster URL
 * ("nats://host:port", port -1: any free port) as the listen address. */
int ne_route_apply_routes_flag(const char *value, ne_cluster_options *o, char *err, size_t err_cap);
int ne_route_apply_listen_url(const char *value, ne_cluster_options *o, char *err, size_t err_cap);
#endif

#endif
