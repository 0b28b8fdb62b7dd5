/* The one generator of random numbers and identifiers of a server.
 *
 * ne_rng is fast and predictable from its state (xorshift64*): it spreads
 * queue members and names reply subjects and loop-detection subjects.
 * Identifiers that must not be guessed (server ids, nonces) come from the
 * port's entropy through ne_rng_unpredictable_text. */
#ifndef NE_RNG_H
#define NE_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct ne_rng {
    uint64_t state; /* never zero */
} ne_rng;

/* Seeds from the port's entropy (a fixed constant if there is none). */
void ne_rng_seed(ne_rng *rng);
uint64_t ne_rng_next(ne_rng *rng);
/* A number in [0, bound); bound > 0. */
uint32_t ne_rng_below(ne_rng *rng, uint32_t bound);

/* Alphabets of the identifiers nats-server makes. */
#define NE_RNG_BASE62 "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
#define NE_RNG_BASE32 "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

/* Writes len characters of `alphabet` (a string literal's characters) into
 * out, without a terminator. */
void ne_rng_text(ne_rng *rng, char *out, size_t len, const char *alphabet);
/* The same from the port's entropy: NE_OK, or the entropy's error. */
int ne_rng_unpredictable_text(char *out, size_t len, const char *alphabet);

#endif
