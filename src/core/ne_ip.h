/* Numeric IP addresses in binary: what a connection keeps of its peer's
 * address (16 bytes and a family instead of up to 46 bytes of text), read
 * from the text the port reports and written back as text when shown.
 *
 * The text written is what inet_ntop writes on glibc (and RFC 5952 asks):
 * IPv4 dotted decimal; IPv6 in lower-case hexadecimal groups without
 * leading zeros, the longest run of two or more zero groups (the first of
 * equal runs) as "::", and an IPv4 address in its last 32 bits when the
 * address is IPv4-mapped (::ffff:a.b.c.d) or IPv4-compatible (::a.b.c.d,
 * not ::1 nor ::). So an address the POSIX port formatted reads back the
 * same.
 */
#ifndef NE_IP_H
#define NE_IP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NE_IP_V4 4
#define NE_IP_V6 6
/* Text of an address and its NUL: an IPv6 address with an IPv4 tail takes
 * at most 45 bytes. */
#define NE_IP_TEXT_BYTES 46

typedef struct ne_ip_addr {
    uint8_t bytes[16]; /* network order; IPv4 in the first 4 */
    uint8_t family;    /* NE_IP_V4 or NE_IP_V6 */
} ne_ip_addr;

/* Reads a numeric IPv4 (a.b.c.d, each 0..255 in decimal) or IPv6 address
 * (groups, "::", an IPv4 tail) of len bytes. False, *out unchanged, when
 * the text is not one (a host name, a zone suffix, anything else). */
bool ne_ip_parse(const char *text, size_t len, ne_ip_addr *out);

/* Writes the address as text with its NUL into buf[cap]; returns its
 * length, or 0 when it does not fit (buf then holds "" if cap > 0). */
size_t ne_ip_format(const ne_ip_addr *ip, char *buf, size_t cap);

#endif
