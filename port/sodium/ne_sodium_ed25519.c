/* ed25519 for a board without libsodium installed (ne_sodium_ed25519.h),
 * from libsodium
 * 1.0.18's reference implementation (ref10 with the portable 25.5-bit field
 * arithmetic, SHA-512, the constant-time compare), compiled file by file
 * from Debian's source package (tools/deps.sh, the Makefile's SODIUM_SRC).
 * Nothing here allocates, and signing from a seed needs no randomness.
 *
 * The few helpers of libsodium's utils.c that those files call are written
 * here: utils.c itself brings sodium_malloc and mlock, which a board has no
 * use for (and no heap to give). */
#include <sodium/crypto_sign_ed25519.h>
#include <sodium/utils.h>
#include <stdint.h>
#include <string.h>

#include "ne_sodium_ed25519.h"

#include "core/ne_assert.h"
#include "core/ne_error.h"

/* The secret key is zeroed through a volatile pointer so that the stores
 * are not removed as dead. */
void sodium_memzero(void *const pnt, const size_t len)
{
    volatile unsigned char *p = (volatile unsigned char *)pnt;
    for (size_t i = 0; i < len; i++) {
        p[i] = 0u;
    }
}

/* Constant time: every byte is read whatever the first difference. */
int sodium_memcmp(const void *const b1_, const void *const b2_, size_t len)
{
    const volatile unsigned char *b1 = (const volatile unsigned char *)b1_;
    const volatile unsigned char *b2 = (const volatile unsigned char *)b2_;
    unsigned char d = 0u;
    for (size_t i = 0; i < len; i++) {
        d |= b1[i] ^ b2[i];
    }
    return (1 & ((d - 1) >> 8)) - 1;
}

int sodium_is_zero(const unsigned char *n, const size_t nlen)
{
    volatile unsigned char d = 0u;
    for (size_t i = 0; i < nlen; i++) {
        d |= n[i];
    }
    return 1 & ((d - 1) >> 8);
}

int ne_sodium_ed25519_verify(const uint8_t sig[64], const uint8_t *msg, size_t len,
                             const uint8_t public_key[32])
{
    NE_ASSERT(sig != NULL && public_key != NULL);
    NE_ASSERT(msg != NULL || len == 0);
    return crypto_sign_ed25519_verify_detached(sig, msg, (unsigned long long)len, public_key) == 0
               ? NE_OK
               : NE_ERR_PERMISSION;
}

/* The expanded secret key (the seed and the public key, 64 bytes) lives on
 * the stack for the one signature and is zeroed before returning. */
int ne_sodium_ed25519_sign(uint8_t sig[64], const uint8_t *msg, size_t len, const uint8_t seed[32])
{
    NE_ASSERT(sig != NULL && seed != NULL);
    NE_ASSERT(msg != NULL || len == 0);
    unsigned char pk[crypto_sign_ed25519_PUBLICKEYBYTES];
    unsigned char sk[crypto_sign_ed25519_SECRETKEYBYTES];
    int rc = crypto_sign_ed25519_seed_keypair(pk, sk, seed);
    if (rc == 0) {
        rc = crypto_sign_ed25519_detached(sig, NULL, msg, (unsigned long long)len, sk);
    }
    sodium_memzero(sk, sizeof(sk));
    return rc == 0 ? NE_OK : NE_ERR_IO;
}
