/* ed25519 signature checks for NKey authentication, through libsodium. */
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
