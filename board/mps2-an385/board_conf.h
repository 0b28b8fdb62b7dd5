/* The firmware's settings: the built-in defaults, and what a configuration
 * (the flash region's text, conf_region.h) changes. Shared by the firmware
 * and tools/conf_region.c, which checks a file exactly as the board will read
 * it: the same parser, the same options, the same network { } block. */
#ifndef NE_MPS2_BOARD_CONF_H
#define NE_MPS2_BOARD_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/ne_conf.h"
#include "conf_region.h"
#include "server/ne_server.h"

/* The board's own blocks, the keys a nats-server file does not have:
 *   network { address: "10.0.2.15/24", gateway: "10.0.2.2", dhcp: false }
 * (netmask: "255.255.255.0" may replace the /24). Addresses in host order. */
/* TLS toward a leaf hub (port/mbedtls on the board): on in profiles that
 * say so (tiny-js), off otherwise (a tls block is then refused). */
#ifndef NE_BOARD_TLS
#define NE_BOARD_TLS 0
#endif

/* ed25519 signatures (port/sodium: NKey authentication, and a leaf
 * remote's credentials: a .creds text from files { } whose seed signs the
 * hub's nonce): on in profiles that say so (tiny-js), off otherwise (a
 * remote's credentials are then not found, and the remote connects
 * without them). */
#ifndef NE_BOARD_ED25519
#define NE_BOARD_ED25519 0
#endif

/* Files the configuration carries (the board has none of its own), where
 * TLS is built (NE_BOARD_TLS; elsewhere files is an unknown field):
 *   files { "hub-ca.pem": "-----BEGIN CERTIFICATE-----\n..." }
 * A leaf remote's tls { ca_file: "hub-ca.pem" } names one (profiles with
 * NE_BOARD_TLS). name and text point into the parsed configuration: valid
 * only until its storage is reused (the server's initialisation). */
#define MPS2_MAX_FILES 2
typedef struct mps2_file {
    const char *name;
    const char *text; /* NUL-terminated */
} mps2_file;

typedef struct mps2_settings {
    bool dhcp;
    uint32_t address;
    uint32_t netmask;
    uint32_t gateway;
    bool debug; /* debug, trace: the UART log's level */
    bool trace;
    mps2_file files[MPS2_MAX_FILES];
    uint32_t file_count;
} mps2_settings;

/* The files { } entry called name, or NULL. */
const mps2_file *mps2_file_named(const mps2_settings *set, const char *name);

/* The built-in defaults: clients on 0.0.0.0:4222, HTTP monitoring on 8222, a
 * 2 s write deadline; 10.0.2.15/24 through 10.0.2.2 (QEMU's user network),
 * DHCP off. */
void mps2_defaults(ne_server_options *opts, mps2_settings *net);

/* The region's text, when the region holds a configuration that is whole
 * (magic, capacity, length and CRC agree). Returns NE_OK with *len 0 for an
 * empty region, NE_ERR_CORRUPT (reason in err) for a damaged one. */
int mps2_region_text(const ne_conf_region *region, const char **text, size_t *len, char *err,
                     size_t err_cap);

/* Parses text (named `name` in messages) into conf and applies it onto the
 * defaults in opts and net. The board has no files: an include is not
 * found; a leaf remote's credentials name an entry of files { } where
 * NE_BOARD_ED25519 is built (one that names none is refused), elsewhere
 * they are not found (accepted, the remote connects without). On failure
 * err holds one line per problem, each with name:line:col, and opts/net
 * are left half-applied (start again from mps2_defaults). */
int mps2_apply_text(ne_conf *conf, const char *name, const char *text, size_t len,
                    ne_server_options *opts, mps2_settings *net, char *err, size_t err_cap);

/* "a.b.c.d" of a host-order address into out (at least 16 bytes). */
void mps2_ipv4_text(uint32_t address, char *out, size_t cap);

#endif
