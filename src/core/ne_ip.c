/* Numeric IP addresses: text to binary and back (ne_ip.h). */
#include "core/ne_ip.h"

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_fmt.h"

/* One decimal part of an IPv4 address at text[*pos]: 0..255, no leading
 * zero (as inet_pton). */
static bool parse_v4_part(const char *text, size_t len, size_t *pos, uint8_t *out)
{
    size_t start = *pos;
    uint32_t value = 0;
    /* Bounded: at most three digits. */
    while (*pos < len && *pos - start < 3 && text[*pos] >= '0' && text[*pos] <= '9') {
        value = value * 10u + (uint32_t)(text[*pos] - '0');
        (*pos)++;
    }
    size_t digits = *pos - start;
    if (digits == 0 || value > 255u || (digits > 1 && text[start] == '0')) {
        return false;
    }
    *out = (uint8_t)value;
    return true;
}

static bool parse_v4(const char *text, size_t len, uint8_t out[4])
{
    size_t pos = 0;
    for (int i = 0; i < 4; i++) {
        if (i > 0) {
            if (pos >= len || text[pos] != '.') {
                return false;
            }
            pos++;
        }
        if (!parse_v4_part(text, len, &pos, &out[i])) {
            return false;
        }
    }
    return pos == len;
}

/* IPv6: up to eight groups of 1..4 hex digits, one "::" standing for the
 * zero groups it replaces, the last 32 bits optionally as an IPv4 address. */
static bool parse_v6(const char *text, size_t len, uint8_t out[16])
{
    uint16_t words[8] = {0};
    int count = 0;
    int gap = -1; /* index in words where "::" stands */
    size_t pos = 0;
    if (len >= 2 && text[0] == ':' && text[1] == ':') {
        gap = 0;
        pos = 2;
    } else if (len >= 1 && text[0] == ':') {
        return false;
    }
    /* Bounded: each pass takes a group (count grows, at most 8) or ends. */
    while (pos < len) {
        if (count >= 8) {
            return false;
        }
        size_t start = pos;
        uint32_t value = 0;
        while (pos < len && pos - start < 4 && ne_hex_value(text[pos]) >= 0) {
            value = (value << 4) | (uint32_t)ne_hex_value(text[pos]);
            pos++;
        }
        if (pos < len && text[pos] == '.') {
            /* An IPv4 tail: the last two groups. */
            uint8_t v4[4];
            if (count > 6 || !parse_v4(text + start, len - start, v4)) {
                return false;
            }
            words[count++] = (uint16_t)((v4[0] << 8) | v4[1]);
            words[count++] = (uint16_t)((v4[2] << 8) | v4[3]);
            pos = len;
            break;
        }
        if (pos == start) {
            return false;
        }
        words[count++] = (uint16_t)value;
        if (pos == len) {
            break;
        }
        if (text[pos] != ':') {
            return false;
        }
        pos++;
        if (pos < len && text[pos] == ':') {
            if (gap >= 0) {
                return false; /* a second "::" */
            }
            gap = count;
            pos++;
        } else if (pos == len) {
            return false; /* a trailing single ':' */
        }
    }
    if (gap < 0 ? count != 8 : count > 7) {
        return false;
    }
    uint16_t full[8] = {0};
    if (gap < 0) {
        memcpy(full, words, sizeof(full));
    } else {
        int tail = count - gap;
        for (int i = 0; i < gap; i++) {
            full[i] = words[i];
        }
        for (int i = 0; i < tail; i++) {
            full[8 - tail + i] = words[gap + i];
        }
    }
    for (int i = 0; i < 8; i++) {
        out[2 * i] = (uint8_t)(full[i] >> 8);
        out[2 * i + 1] = (uint8_t)(full[i] & 0xffu);
    }
    return true;
}

bool ne_ip_parse(const char *text, size_t len, ne_ip_addr *out)
{
    NE_ASSERT(text != NULL && out != NULL);
    ne_ip_addr ip;
    memset(&ip, 0, sizeof(ip));
    if (len == 0 || len >= NE_IP_TEXT_BYTES) {
        return false;
    }
    if (memchr(text, ':', len) == NULL) {
        if (!parse_v4(text, len, ip.bytes)) {
            return false;
        }
        ip.family = NE_IP_V4;
    } else {
        if (!parse_v6(text, len, ip.bytes)) {
            return false;
        }
        ip.family = NE_IP_V6;
    }
    *out = ip;
    return true;
}

/* Appends text to buf at *len; false when it does not fit with a NUL. */
static bool put(char *buf, size_t cap, size_t *len, const char *text, size_t n)
{
    if (*len + n + 1 > cap) {
        return false;
    }
    memcpy(buf + *len, text, n);
    *len += n;
    buf[*len] = '\0';
    return true;
}

static bool put_v4(char *buf, size_t cap, size_t *len, const uint8_t v4[4])
{
    for (int i = 0; i < 4; i++) {
        char part[4];
        size_t n = 0;
        uint8_t v = v4[i];
        if (v >= 100) {
            part[n++] = (char)('0' + v / 100);
        }
        if (v >= 10) {
            part[n++] = (char)('0' + (v / 10) % 10);
        }
        part[n++] = (char)('0' + v % 10);
        if ((i > 0 && !put(buf, cap, len, ".", 1)) || !put(buf, cap, len, part, n)) {
            return false;
        }
    }
    return true;
}

static bool put_group(char *buf, size_t cap, size_t *len, uint16_t word)
{
    static const char digits[] = "0123456789abcdef";
    char group[4];
    size_t n = 0;
    bool started = false;
    for (int shift = 12; shift >= 0; shift -= 4) {
        unsigned d = (word >> shift) & 0xfu;
        if (d != 0 || started || shift == 0) {
            group[n++] = digits[d];
            started = true;
        }
    }
    return put(buf, cap, len, group, n);
}

static bool put_v6(char *buf, size_t cap, size_t *len, const uint8_t bytes[16])
{
    uint16_t words[8];
    for (int i = 0; i < 8; i++) {
        words[i] = (uint16_t)((bytes[2 * i] << 8) | bytes[2 * i + 1]);
    }
    /* The longest run of zero groups, the first of equal ones; one group
     * alone is not compressed (as inet_ntop). */
    int best = -1, best_len = 0;
    for (int i = 0; i < 8;) {
        if (words[i] != 0) {
            i++;
            continue;
        }
        int j = i;
        while (j < 8 && words[j] == 0) {
            j++;
        }
        if (j - i > best_len) {
            best = i;
            best_len = j - i;
        }
        i = j;
    }
    if (best_len < 2) {
        best = -1;
    }
    for (int i = 0; i < 8; i++) {
        if (best >= 0 && i >= best && i < best + best_len) {
            if (i == best && !put(buf, cap, len, ":", 1)) {
                return false;
            }
            continue;
        }
        if (i > 0 && !put(buf, cap, len, ":", 1)) {
            return false;
        }
        /* An IPv4 tail: IPv4-compatible (::a.b.c.d, not ::1) or mapped. */
        if (i == 6 && best == 0 &&
            (best_len == 6 || (best_len == 7 && words[7] != 1) ||
             (best_len == 5 && words[5] == 0xffffu))) {
            return put_v4(buf, cap, len, bytes + 12);
        }
        if (!put_group(buf, cap, len, words[i])) {
            return false;
        }
    }
    /* A run that ends the address ends it with "::". */
    if (best >= 0 && best + best_len == 8 && !put(buf, cap, len, ":", 1)) {
        return false;
    }
    return true;
}

size_t ne_ip_format(const ne_ip_addr *ip, char *buf, size_t cap)
{
    NE_ASSERT(ip != NULL && buf != NULL);
    NE_ASSERT(ip->family == NE_IP_V4 || ip->family == NE_IP_V6);
    size_t len = 0;
    if (cap > 0) {
        buf[0] = '\0';
    }
    bool ok = ip->family == NE_IP_V4 ? put_v4(buf, cap, &len, ip->bytes)
                                     : put_v6(buf, cap, &len, ip->bytes);
    if (!ok) {
        if (cap > 0) {
            buf[0] = '\0';
        }
        return 0;
    }
    return len;
}
