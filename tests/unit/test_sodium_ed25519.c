/* The board's ed25519 (port/sodium: libsodium 1.0.18's reference code as
 * the mps2-an385 firmware compiles it) against RFC 8032's test vectors 1
 * and 2 (section 7.1): the seed is the private key, the signature is
 * deterministic. LN-25 and CP-73 sign and check nonces with it on the
 * board. Under make unit-arm this runs on 32-bit ARM, the board's word
 * size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/ne_error.h"
#include "sodium/ne_sodium_ed25519.h"

typedef struct vector {
    const char *seed;
    const char *public_key;
    const char *message;
    const char *signature;
} vector;

static const vector rfc8032[] = {
    /* TEST 1: the empty message. */
    {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e"
     "39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
    /* TEST 2: one byte, 0x72. */
    {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f"
     "3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
};

static size_t from_hex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = strlen(hex) / 2;
    assert_true(n <= cap);
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        for (size_t k = 0; k < 2; k++) {
            char c = hex[2 * i + k];
            v = v * 16u + (unsigned)(c <= '9' ? c - '0' : c - 'a' + 10);
        }
        out[i] = (uint8_t)v;
    }
    return n;
}

static void test_rfc8032_vectors_1_and_2_sign_as_published(void **state)
{
    (void)state;
    for (size_t t = 0; t < sizeof(rfc8032) / sizeof(rfc8032[0]); t++) {
        uint8_t seed[32], msg[8], want[64], sig[64];
        from_hex(rfc8032[t].seed, seed, sizeof(seed));
        size_t len = from_hex(rfc8032[t].message, msg, sizeof(msg));
        from_hex(rfc8032[t].signature, want, sizeof(want));
        memset(sig, 0, sizeof(sig));
        assert_int_equal(ne_sodium_ed25519_sign(sig, msg, len, seed), NE_OK);
        assert_memory_equal(sig, want, sizeof(want));
    }
}

static void test_rfc8032_signatures_verify_under_their_public_keys(void **state)
{
    (void)state;
    for (size_t t = 0; t < sizeof(rfc8032) / sizeof(rfc8032[0]); t++) {
        uint8_t pk[32], msg[8], sig[64];
        from_hex(rfc8032[t].public_key, pk, sizeof(pk));
        size_t len = from_hex(rfc8032[t].message, msg, sizeof(msg));
        from_hex(rfc8032[t].signature, sig, sizeof(sig));
        assert_int_equal(ne_sodium_ed25519_verify(sig, msg, len, pk), NE_OK);
    }
}

static void test_a_changed_signature_message_or_key_does_not_verify(void **state)
{
    (void)state;
    uint8_t pk[32], other_pk[32], msg[1] = {0x72}, sig[64];
    from_hex(rfc8032[1].public_key, pk, sizeof(pk));
    from_hex(rfc8032[0].public_key, other_pk, sizeof(other_pk));
    from_hex(rfc8032[1].signature, sig, sizeof(sig));
    sig[5] ^= 0x01;
    assert_int_equal(ne_sodium_ed25519_verify(sig, msg, 1, pk), NE_ERR_PERMISSION);
    sig[5] ^= 0x01;
    msg[0] = 0x73;
    assert_int_equal(ne_sodium_ed25519_verify(sig, msg, 1, pk), NE_ERR_PERMISSION);
    msg[0] = 0x72;
    assert_int_equal(ne_sodium_ed25519_verify(sig, msg, 1, other_pk), NE_ERR_PERMISSION);
}

/* A nonce as a hub sends it (CP-11: base64url of 11 bytes), signed and
 * checked back: what a leaf remote's CONNECT carries (LN-25). */
static void test_a_nonce_signed_with_a_seed_verifies_under_its_public_key(void **state)
{
    (void)state;
    uint8_t seed[32], pk[32], sig[64];
    from_hex(rfc8032[0].seed, seed, sizeof(seed));
    from_hex(rfc8032[0].public_key, pk, sizeof(pk));
    const char *nonce = "dLZ0rjPqTXyAeW4";
    assert_int_equal(ne_sodium_ed25519_sign(sig, (const uint8_t *)nonce, strlen(nonce), seed),
                     NE_OK);
    assert_int_equal(ne_sodium_ed25519_verify(sig, (const uint8_t *)nonce, strlen(nonce), pk),
                     NE_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc8032_vectors_1_and_2_sign_as_published),
        cmocka_unit_test(test_rfc8032_signatures_verify_under_their_public_keys),
        cmocka_unit_test(test_a_changed_signature_message_or_key_does_not_verify),
        cmocka_unit_test(test_a_nonce_signed_with_a_seed_verifies_under_its_public_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
