/* The leafnodes { } block of a configuration file. */
#ifndef NE_LEAF_CONF_H
#define NE_LEAF_CONF_H

#include <stddef.h>

#include "conf/ne_conf.h"
#include "leaf/ne_leaf.h"

/* Applies a leafnodes map onto o (which holds the defaults). A credentials
 * file is read through the parser's file access. On failure writes a message
 * with the position into err and returns a negative ne_err. */
int ne_leaf_apply_conf(ne_conf *conf, ne_conf_node *map, ne_leaf_options *o, char *err,
                       size_t err_cap);

#endif
