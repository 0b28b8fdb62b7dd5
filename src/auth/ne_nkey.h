/* NKey authentication helpers: the public-key text form (base32, prefix byte,
 * CRC-16/XMODEM), the nonce sent in INFO, and signature decoding. The
 * signature check itself is the port's (ne_port_ed25519_verify). */
#ifndef NE_NKEY_H
#define NE_NKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NE_NKEY_TEXT_LEN 56            /* a public key as text */
#define NE_NKEY_NONCE_LEN 15           /* base64url (no padding) of 11 random bytes */
#define NE_NKEY_PREFIX_USER (20u << 3) /* 'U' */

/* Decodes a public nkey text (e.g. "UAB...") whose prefix byte is `prefix`
 * into its 32-byte ed25519 key; false if malformed or the CRC is wrong. */
bool ne_nkey_decode_public(const char *text, size_t len, uint8_t prefix, uint8_t key[32]);

/* Decodes a user seed text ("SU...", 58 characters) into its 32-byte ed25519
 * seed; false if malformed or the CRC is wrong. */
bool ne_nkey_decode_user_seed(const char *text, size_t len, uint8_t seed[32]);

/* Writes base64url without padding of len bytes into out (4 characters per 3
 * bytes, rounded up, and a NUL); returns the characters written. */
size_t ne_b64url_encode(const uint8_t *data, size_t len, char *out);

/* Fills out with a fresh nonce (NE_NKEY_NONCE_LEN chars and a NUL). */
int ne_nkey_nonce(char out[NE_NKEY_NONCE_LEN + 1]);

/* Decodes a base64 signature, URL or standard alphabet, padded or not, into
 * 64 bytes; false otherwise. */
bool ne_nkey_decode_sig(const char *text, size_t len, uint8_t sig[64]);

uint16_t ne_crc16_xmodem(const uint8_t *data, size_t len);

#endif
