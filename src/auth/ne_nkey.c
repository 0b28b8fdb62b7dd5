#include "auth/ne_nkey.h"

#include <string.h>

#include "core/ne_error.h"
#include "port.h"

uint16_t ne_crc16_xmodem(const uint8_t *data, size_t len)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)(data[i] << 8);
        for (int b = 0; b < 8; b++) {
            crc = (crc & 0x8000u) ? (uint16_t)((crc << 1) ^ 0x1021u) : (uint16_t)(crc << 1);
        }
    }
    return crc;
}

static int b32_value(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= '2' && c <= '7') {
        return c - '2' + 26;
    }
    return -1;
}

/* Base32 text (nkey alphabet) of exactly raw_len bytes whose last two are a
 * CRC-16 of the others, little endian; false otherwise. */
static bool b32_decode_checked(const char *text, size_t len, uint8_t *raw, size_t raw_len)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b32_value(text[i]);
        if (v < 0) {
            return false;
        }
        acc = (acc << 5) | (uint32_t)v;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            if (n == raw_len) {
                return false;
            }
            raw[n++] = (uint8_t)(acc >> bits);
        }
    }
    if (n != raw_len) {
        return false;
    }
    uint16_t crc = (uint16_t)(raw[raw_len - 2] | (raw[raw_len - 1] << 8));
    return ne_crc16_xmodem(raw, raw_len - 2) == crc;
}

bool ne_nkey_decode_public(const char *text, size_t len, uint8_t prefix, uint8_t key[32])
{
    /* 56 base32 characters carry 35 bytes: prefix, key, CRC. */
    uint8_t raw[35];
    if (len != NE_NKEY_TEXT_LEN || !b32_decode_checked(text, len, raw, sizeof(raw)) ||
        raw[0] != prefix) {
        return false;
    }
    memcpy(key, raw + 1, 32);
    return true;
}

bool ne_nkey_decode_user_seed(const char *text, size_t len, uint8_t seed[32])
{
    /* 58 characters carry 36 bytes: two prefix bytes (seed, user), the
     * 32-byte seed, CRC. The prefixes are 'S' (18 << 3) joined with 'U'
     * (20 << 3) over two bytes. */
    uint8_t raw[36];
    bool ok = len == 58 && b32_decode_checked(text, len, raw, sizeof(raw)) &&
              raw[0] == (uint8_t)((18u << 3) | (NE_NKEY_PREFIX_USER >> 5)) &&
              raw[1] == (uint8_t)((NE_NKEY_PREFIX_USER & 31u) << 3);
    if (ok) {
        memcpy(seed, raw + 2, 32);
    }
    memset(raw, 0, sizeof(raw));
    return ok;
}

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t ne_b64url_encode(const uint8_t *data, size_t len, char *out)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        acc = (acc << 8) | data[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = b64url[(acc >> bits) & 63];
        }
    }
    if (bits > 0) {
        out[o++] = b64url[(acc << (6 - bits)) & 63];
    }
    out[o] = '\0';
    return o;
}

int ne_nkey_nonce(char out[NE_NKEY_NONCE_LEN + 1])
{
    uint8_t raw[11];
    int rc = ne_port_entropy(raw, sizeof(raw));
    if (rc != NE_OK) {
        return rc;
    }
    (void)ne_b64url_encode(raw, sizeof(raw), out);
    return NE_OK;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '-' || c == '+') {
        return 62;
    }
    if (c == '_' || c == '/') {
        return 63;
    }
    return -1;
}

bool ne_nkey_decode_sig(const char *text, size_t len, uint8_t sig[64])
{
    while (len > 0 && text[len - 1] == '=') {
        len--;
    }
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value(text[i]);
        if (v < 0) {
            return false;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n == 64) {
                return false;
            }
            sig[n++] = (uint8_t)(acc >> bits);
        }
    }
    return n == 64;
}
