/* libFuzzer harness for the bcrypt hash parser (src/auth/ne_bcrypt.c).
 *
 * The input is a configured secret: it is classified, parsed with a low cost
 * bound (so that a hash can be checked quickly) and, when it parses, checked
 * against a password taken from its own bytes. Properties: a parsed hash has
 * bcrypt's prefix, its salt survives a hash-and-parse round trip, and a hash
 * made here always verifies its own password and refuses a changed one. The
 * cost stays at 4, and only one input in sixteen hashes: the point is
 * the parser, not Blowfish's speed. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/ne_error.h"
#include "auth/ne_bcrypt.h"

#define FUZZ_MAX_COST 4

static ne_bcrypt_state state;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char text[128];
    size_t len = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
    memcpy(text, data, len);
    text[len] = '\0';

    unsigned cost = 0;
    uint8_t salt[NE_BCRYPT_SALT_BYTES];
    int rc = ne_bcrypt_parse(text, len, FUZZ_MAX_COST, &cost, salt);
    bool prefixed = ne_bcrypt_is_hash(text);
    if (rc == NE_OK) {
        if (!prefixed || len != NE_BCRYPT_HASH_LEN || cost < NE_BCRYPT_MIN_COST ||
            cost > FUZZ_MAX_COST) {
            abort();
        }
        /* Any password: the answer is a match or not, never an error. */
        int v = ne_bcrypt_verify(&state, text + 7, 10, text, len, FUZZ_MAX_COST);
        if (v != NE_OK && v != NE_ERR_PERMISSION) {
            abort();
        }
    } else if (rc != NE_ERR_INVALID && rc != NE_ERR_RANGE) {
        abort();
    } else if (rc == NE_ERR_RANGE && (!prefixed || len != NE_BCRYPT_HASH_LEN)) {
        abort();
    }

    /* Round trip: the first 16 bytes are a salt, the rest a password. Three
     * Blowfish schedules under the sanitizers take milliseconds, so only
     * inputs whose first byte has its low nibble clear do it. */
    if (size >= NE_BCRYPT_SALT_BYTES + 1 && (data[0] & 0x0f) == 0) {
        char minor = "abxy"[data[0] & 3];
        char hash[NE_BCRYPT_HASH_LEN + 1];
        const char *pw = (const char *)data + NE_BCRYPT_SALT_BYTES;
        size_t pw_len = size - NE_BCRYPT_SALT_BYTES;
        if (ne_bcrypt_hash(&state, pw, pw_len, minor, 4, data, hash) != NE_OK) {
            abort();
        }
        uint8_t salt2[NE_BCRYPT_SALT_BYTES];
        if (ne_bcrypt_parse(hash, strlen(hash), 4, &cost, salt2) != NE_OK || cost != 4 ||
            memcmp(salt2, data, NE_BCRYPT_SALT_BYTES) != 0) {
            abort();
        }
        if (ne_bcrypt_verify(&state, pw, pw_len, hash, strlen(hash), 4) != NE_OK) {
            abort();
        }
        /* A changed byte within the 72 that count must not match. */
        char changed[80];
        size_t n = pw_len < 72 ? pw_len : 72;
        memcpy(changed, pw, n);
        changed[0] ^= 1;
        if (ne_bcrypt_verify(&state, changed, n, hash, strlen(hash), 4) != NE_ERR_PERMISSION) {
            abort();
        }
    }
    return 0;
}
