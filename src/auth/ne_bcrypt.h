/* bcrypt password hashes ("$2a$10$..."), as nats-server accepts them in
 * `authorization { password }`, users lists and tokens.
 *
 * Checking a password costs 2^cost Blowfish key schedules and runs on the
 * caller's thread (the event loop): NE_BCRYPT_MAX_COST in config/ bounds it,
 * and a hash above that cost is refused when the configuration is read. */
#ifndef NE_BCRYPT_H
#define NE_BCRYPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ne_config.h"

#define NE_BCRYPT_HASH_LEN 60 /* "$2a$10$" + 22 salt + 31 hash characters */
#define NE_BCRYPT_SALT_BYTES 16
#define NE_BCRYPT_MIN_COST 4 /* bcrypt's own bounds, as Go's package */
#define NE_BCRYPT_MAX_COST_LIMIT 31

/* Blowfish's working state (4168 bytes): the caller provides it so that no
 * large buffer lands on a small stack. Cleared after each verification. */
typedef struct ne_bcrypt_state {
    uint32_t p[18];
    uint32_t s[4][256];
} ne_bcrypt_state;

/* True when a configured secret is to be checked with bcrypt: it starts with
 * "$2a$", "$2b$", "$2x$" or "$2y$" and two digits and '$' (nats-server's
 * rule; anything else is compared in clear). text is NUL-terminated. */
bool ne_bcrypt_is_hash(const char *text);

/* Checks the form of a hash: 60 characters, a known prefix, a cost in
 * [NE_BCRYPT_MIN_COST, 31], salt and hash in bcrypt's base64. Returns NE_OK
 * (and the cost and salt), NE_ERR_INVALID if malformed, NE_ERR_RANGE if the
 * cost is above max_cost. */
int ne_bcrypt_parse(const char *hash, size_t len, unsigned max_cost, unsigned *cost,
                    uint8_t salt[NE_BCRYPT_SALT_BYTES]);

/* Checks password against hash: NE_OK if it matches, NE_ERR_PERMISSION if
 * not, or ne_bcrypt_parse's errors (then nothing was computed). */
int ne_bcrypt_verify(ne_bcrypt_state *st, const char *password, size_t password_len,
                     const char *hash, size_t hash_len, unsigned max_cost);

/* Computes the hash of password with the given minor ('a', 'b', 'x', 'y'),
 * cost and salt into out (60 characters and a NUL). For tests and tools. */
int ne_bcrypt_hash(ne_bcrypt_state *st, const char *password, size_t password_len, char minor,
                   unsigned cost, const uint8_t salt[NE_BCRYPT_SALT_BYTES],
                   char out[NE_BCRYPT_HASH_LEN + 1]);

#endif
