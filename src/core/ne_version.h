/* natsedge's version, and the nats-server version whose protocol level it
 * speaks (NE_ADVERTISED_VERSION, config/) as INFO and monitoring show it. */
#ifndef NE_VERSION_H
#define NE_VERSION_H

#define NE_VERSION "0.1.0"

#endif
