/* ed25519 from libsodium's reference code compiled into the image (no
 * libsodium library on the target): what a board's ne_port_ed25519_sign and
 * ne_port_ed25519_verify (port.h) call. No heap, no randomness, no state:
 * every call stands alone. */
#ifndef NE_SODIUM_ED25519_H
#define NE_SODIUM_ED25519_H

#include <stddef.h>
#include <stdint.h>

/* NE_OK when sig is msg's signature by public_key, NE_ERR_PERMISSION
 * otherwise (a bad signature, a non-canonical or small-order key). */
int ne_sodium_ed25519_verify(const uint8_t sig[64], const uint8_t *msg, size_t len,
                             const uint8_t public_key[32]);

/* Signs msg with the key derived from the 32-byte seed (RFC 8032: the seed
 * is the private key). The expanded secret key is zeroed before returning.
 * NE_OK, or NE_ERR_IO when libsodium refuses (it does not for any seed). */
int ne_sodium_ed25519_sign(uint8_t sig[64], const uint8_t *msg, size_t len, const uint8_t seed[32]);

#endif
