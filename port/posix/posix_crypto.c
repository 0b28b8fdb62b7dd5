/* ed25519 for NKey authentication (verify) and leaf credentials (sign),
 * through libsodium. */
#include <sodium.h>

#include "core/ne_error.h"
#include "port.h"

int ne_port_ed25519_verify(const uint8_t sig[64], const uint8_t *msg, size_t len,
                           const uint8_t public_key[32])
{
    /* sodium_init is idempotent and thread-safe; it only seeds libsodium's
     * own state the first time. */
    if (sodium_init() < 0) {
        return NE_ERR_IO;
    }
    return crypto_sign_verify_detached(sig, msg, (unsigned long long)len, public_key) == 0
               ? NE_OK
               : NE_ERR_PERMISSION;
}

int ne_port_ed25519_sign(uint8_t sig[64], const uint8_t *msg, size_t len, const uint8_t seed[32])
{
    if (sodium_init() < 0) {
        return NE_ERR_IO;
    }
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
    if (crypto_sign_seed_keypair(pk, sk, seed) != 0) {
        return NE_ERR_IO;
    }
    int rc = crypto_sign_detached(sig, NULL, msg, (unsigned long long)len, sk);
    sodium_memzero(sk, sizeof(sk));
    return rc == 0 ? NE_OK : NE_ERR_IO;
}
