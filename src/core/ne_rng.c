/* Random numbers and identifiers (ne_rng.h). */
#include "core/ne_rng.h"

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "port.h"

void ne_rng_seed(ne_rng *rng)
{
    if (ne_port_entropy(&rng->state, sizeof(rng->state)) != NE_OK || rng->state == 0) {
        rng->state = 0x9E3779B97F4A7C15ull;
    }
}

uint64_t ne_rng_next(ne_rng *rng)
{
    /* xorshift64*: fast, good enough to spread queue members; never zero. */
    uint64_t x = rng->state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng->state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

uint32_t ne_rng_below(ne_rng *rng, uint32_t bound)
{
    NE_ASSERT(bound > 0);
    return (uint32_t)(ne_rng_next(rng) % bound);
}

void ne_rng_text(ne_rng *rng, char *out, size_t len, const char *alphabet)
{
    size_t n = strlen(alphabet);
    NE_ASSERT(n > 0 && n <= 256);
    for (size_t i = 0; i < len; i++) {
        out[i] = alphabet[ne_rng_next(rng) % n];
    }
}

int ne_rng_unpredictable_text(char *out, size_t len, const char *alphabet)
{
    size_t n = strlen(alphabet);
    NE_ASSERT(n > 0 && n <= 256);
    uint8_t raw[32];
    for (size_t done = 0; done < len;) {
        size_t take = NE_MIN(len - done, sizeof(raw));
        int rc = ne_port_entropy(raw, take);
        if (rc != NE_OK) {
            return rc;
        }
        for (size_t i = 0; i < take; i++) {
            /* Power-of-two alphabets (base32) are unbiased; base62 is close. */
            out[done + i] = alphabet[raw[i] % n];
        }
        done += take;
    }
    return NE_OK;
}
