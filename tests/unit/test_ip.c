/* Numeric IP addresses in binary (src/core/ne_ip.c): what a connection
 * keeps of its peer's address reads back as the text the POSIX port wrote
 * (glibc's inet_ntop), and text that is not a numeric address is refused
 * (a host name is kept as a name). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "core/ne_ip.h"

/* text -> binary -> text is the text, and the binary is inet_pton's. */
static void round_trip(const char *text)
{
    ne_ip_addr ip;
    if (!ne_ip_parse(text, strlen(text), &ip)) {
        fail_msg("not parsed: %s", text);
    }
    uint8_t want[16] = {0};
    int af = ip.family == NE_IP_V4 ? AF_INET : AF_INET6;
    assert_int_equal(inet_pton(af, text, want), 1);
    assert_memory_equal(ip.bytes, want, ip.family == NE_IP_V4 ? 4 : 16);
    char out[NE_IP_TEXT_BYTES];
    size_t n = ne_ip_format(&ip, out, sizeof(out));
    assert_int_equal(n, strlen(text));
    assert_string_equal(out, text);
}

static void test_addresses_read_back_as_inet_ntop_wrote_them(void **state)
{
    (void)state;
    const char *texts[] = {
        "127.0.0.1",
        "0.0.0.0",
        "255.255.255.255",
        "10.1.22.133",
        "192.168.0.9",
        "::",
        "::1",
        "::2",
        "1::",
        "fe80::1",
        "2001:db8::ff00:42:8329",
        "2001:db8:0:1:1:1:1:1", /* one zero group is not compressed */
        "2001:0:0:1::1",        /* the longer run of zeros is */
        "1:0:0:2::3",           /* the first of two equal runs... */
        "1::2:0:0:3",           /* ...here the second is longer */
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::1.2.3.4",
        "::0.0.1.0",
        "::ffff:0:1.2.3.4", /* not mapped: plain groups with an IPv4 tail */
        "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255",
        "1:2:3:4:5:6:7:8",
        "abcd:ef01:2345:6789:abcd:ef01:2345:6789",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        ne_ip_addr ip;
        /* Texts inet_ntop would not write are checked against it below. */
        assert_true(ne_ip_parse(texts[i], strlen(texts[i]), &ip));
        char want[INET6_ADDRSTRLEN];
        assert_non_null(
            inet_ntop(ip.family == NE_IP_V4 ? AF_INET : AF_INET6, ip.bytes, want, sizeof(want)));
        char out[NE_IP_TEXT_BYTES];
        assert_true(ne_ip_format(&ip, out, sizeof(out)) > 0);
        assert_string_equal(out, want);
    }
    round_trip("127.0.0.1");
    round_trip("::1");
    round_trip("::ffff:192.168.1.1");
    round_trip("2001:db8::1");
}

/* Every IPv6 address whose groups are 0, 1 or 0xffff (3^8 of them: every
 * shape of zero runs and IPv4 tails) formats as inet_ntop does and reads
 * back to itself. */
static void test_every_zero_run_shape_matches_inet_ntop(void **state)
{
    (void)state;
    const uint16_t values[3] = {0, 1, 0xffff};
    for (uint32_t code = 0; code < 6561; code++) {
        ne_ip_addr ip;
        memset(&ip, 0, sizeof(ip));
        ip.family = NE_IP_V6;
        uint32_t c = code;
        for (int g = 0; g < 8; g++) {
            uint16_t w = values[c % 3];
            c /= 3;
            ip.bytes[2 * g] = (uint8_t)(w >> 8);
            ip.bytes[2 * g + 1] = (uint8_t)w;
        }
        char want[INET6_ADDRSTRLEN];
        assert_non_null(inet_ntop(AF_INET6, ip.bytes, want, sizeof(want)));
        char out[NE_IP_TEXT_BYTES];
        assert_true(ne_ip_format(&ip, out, sizeof(out)) > 0);
        if (strcmp(out, want) != 0) {
            fail_msg("code %u: %s, inet_ntop %s", (unsigned)code, out, want);
        }
        ne_ip_addr back;
        assert_true(ne_ip_parse(out, strlen(out), &back));
        assert_int_equal(back.family, NE_IP_V6);
        assert_memory_equal(back.bytes, ip.bytes, 16);
    }
}

static void test_names_and_malformed_text_are_not_addresses(void **state)
{
    (void)state;
    const char *texts[] = {
        "",
        "localhost",
        "nats.example.com",
        "1.2.3",
        "1.2.3.4.5",
        "256.1.1.1",
        "01.2.3.4",
        "1.2.3.",
        ".1.2.3",
        "1..2.3",
        "1.2.3.4 ",
        ":",
        ":::",
        "1::2::3",
        ":1::",
        "1:",
        "1:2:3:4:5:6:7:8:9",
        "1:2:3:4:5:6:7::8",
        "12345::",
        "fe80::1%eth0",
        "::g",
        "::1.2.3",
        "1.2.3.4::",
        "::ffff:1.2.3.4:5",
        "1:2:3:4:5:6:7:1.2.3.4",
        "0000:0000:0000:0000:0000:0000:0000:0000:0000",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        ne_ip_addr ip;
        memset(&ip, 0xaa, sizeof(ip));
        if (ne_ip_parse(texts[i], strlen(texts[i]), &ip)) {
            fail_msg("parsed: \"%s\"", texts[i]);
        }
        assert_int_equal(ip.family, 0xaa); /* unchanged */
    }
}

/* Non-canonical text is read (inet_pton reads it too) and written back in
 * the canonical form. */
static void test_other_spellings_read_and_write_canonically(void **state)
{
    (void)state;
    const char *pairs[][2] = {
        {"0:0:0:0:0:0:0:1", "::1"},
        {"FE80:0000::0001", "fe80::1"},
        {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},
        {"::FFFF:7F00:1", "::ffff:127.0.0.1"},
    };
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        ne_ip_addr ip;
        assert_true(ne_ip_parse(pairs[i][0], strlen(pairs[i][0]), &ip));
        char out[NE_IP_TEXT_BYTES];
        assert_true(ne_ip_format(&ip, out, sizeof(out)) > 0);
        assert_string_equal(out, pairs[i][1]);
    }
}

/* The writer takes its capacity: what does not fit with its NUL is not
 * written in part. */
static void test_format_fails_cleanly_when_it_does_not_fit(void **state)
{
    (void)state;
    ne_ip_addr ip;
    assert_true(ne_ip_parse("10.1.22.133", 11, &ip));
    char out[12];
    assert_int_equal(ne_ip_format(&ip, out, 11), 0);
    assert_string_equal(out, "");
    assert_int_equal(ne_ip_format(&ip, out, 12), 11);
    assert_string_equal(out, "10.1.22.133");
    /* The longest text read (45 bytes) is written as eight groups. */
    const char *longest = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255";
    const char *written = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    assert_int_equal(strlen(longest) + 1, NE_IP_TEXT_BYTES);
    assert_true(ne_ip_parse(longest, strlen(longest), &ip));
    char big[NE_IP_TEXT_BYTES];
    assert_int_equal(ne_ip_format(&ip, big, strlen(written)), 0);
    assert_string_equal(big, "");
    assert_int_equal(ne_ip_format(&ip, big, strlen(written) + 1), strlen(written));
    assert_string_equal(big, written);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addresses_read_back_as_inet_ntop_wrote_them),
        cmocka_unit_test(test_every_zero_run_shape_matches_inet_ntop),
        cmocka_unit_test(test_names_and_malformed_text_are_not_addresses),
        cmocka_unit_test(test_other_spellings_read_and_write_canonically),
        cmocka_unit_test(test_format_fails_cleanly_when_it_does_not_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
