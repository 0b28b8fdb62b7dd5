/* Unit tests of the mps2-an385 firmware's settings (board/mps2-an385/
 * board_conf.c): the configuration region's checks and the board's network
 * block, as the firmware and tools/conf_region.c read them. The board file is
 * compiled in here: it is not part of the library the host builds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "board/mps2-an385/board_conf.c"

static ne_conf conf;
static ne_server_options opts;
static mps2_settings set;
static ne_conf_region region;
static char err[512];

static int apply(const char *text)
{
    mps2_defaults(&opts, &set);
    err[0] = '\0';
    return mps2_apply_text(&conf, "edge.conf", text, strlen(text), &opts, &set, err, sizeof(err));
}

static void fill(const char *text)
{
    memset(&region, 0, sizeof(region));
    region.header.magic[0] = NE_CONF_REGION_MAGIC0;
    region.header.magic[1] = NE_CONF_REGION_MAGIC1;
    region.header.capacity = NE_BOARD_CONF_REGION_BYTES;
    region.header.length = (uint32_t)strlen(text);
    memcpy(region.text, text, strlen(text));
    region.header.crc32c = ne_crc32c(0, region.text, region.header.length);
}

static void test_defaults_are_the_qemu_network_and_monitoring(void **state)
{
    (void)state;
    assert_int_equal(apply(""), NE_OK);
    assert_int_equal(opts.port, 4222);
    assert_true(opts.http_enabled);
    assert_int_equal(opts.http_port, 8222);
    assert_false(set.dhcp);
    char text[16];
    mps2_ipv4_text(set.address, text, sizeof(text));
    assert_string_equal(text, "10.0.2.15");
    mps2_ipv4_text(set.netmask, text, sizeof(text));
    assert_string_equal(text, "255.255.255.0");
    mps2_ipv4_text(set.gateway, text, sizeof(text));
    assert_string_equal(text, "10.0.2.2");
}

static void test_network_block_sets_address_mask_gateway_dhcp(void **state)
{
    (void)state;
    assert_int_equal(apply("network { address: \"192.168.7.9/20\", gateway: \"192.168.0.1\" }\n"
                           "server_name: edge-1\n"),
                     NE_OK);
    char text[16];
    mps2_ipv4_text(set.address, text, sizeof(text));
    assert_string_equal(text, "192.168.7.9");
    mps2_ipv4_text(set.netmask, text, sizeof(text));
    assert_string_equal(text, "255.255.240.0");
    mps2_ipv4_text(set.gateway, text, sizeof(text));
    assert_string_equal(text, "192.168.0.1");
    assert_string_equal(opts.server_name, "edge-1");
    assert_int_equal(apply("network { address: \"10.1.2.3\", netmask: \"255.0.0.0\", dhcp: true }\n"
                           "debug: true\n"),
                     NE_OK);
    assert_true(set.dhcp);
    assert_true(set.debug);
    mps2_ipv4_text(set.netmask, text, sizeof(text));
    assert_string_equal(text, "255.0.0.0");
}

static void test_network_errors_name_their_position(void **state)
{
    (void)state;
    assert_int_equal(apply("network { address: \"10.0.2.300/24\" }\n"), NE_ERR_INVALID);
    assert_string_equal(err, "edge.conf:1:11: expected an IPv4 address a.b.c.d");
    assert_int_equal(apply("network { address: \"10.0.2.3/33\" }\n"), NE_ERR_INVALID);
    assert_non_null(strstr(err, "edge.conf:1:11: expected a.b.c.d/len"));
    /* Unknown keys inside it are reported with the others, in file order. */
    assert_int_equal(apply("foo: 1\nnetwork { colour: red }\nbar: 2\n"), NE_ERR_INVALID);
    assert_string_equal(err, "edge.conf:1:1: unknown field \"foo\"\n"
                             "edge.conf:2:11: unknown field \"colour\"\n"
                             "edge.conf:3:1: unknown field \"bar\"");
    /* A value wrong in the block and a key refused elsewhere: both said. */
    assert_int_equal(apply("network { gateway: \"x\" }\nfoo: 1\n"), NE_ERR_INVALID);
    assert_string_equal(err, "edge.conf:2:1: unknown field \"foo\"\n"
                             "edge.conf:1:11: expected an IPv4 address a.b.c.d");
}

/* The board has no files: an include is not found; a credentials file
 * that is not there is accepted (and logged at start-up). */
static void test_the_board_reads_no_files(void **state)
{
    (void)state;
    assert_int_not_equal(apply("include ./other.conf\n"), NE_OK);
    assert_int_equal(apply("leafnodes { remotes [ { url: \"nats-leaf://10.0.2.2:7422\", "
                           "credentials: \"/etc/edge.creds\" } ] }\n"),
                     NE_OK);
    assert_true(opts.leaf.remotes[0].creds_missing);
}

/* TLS is not built into the firmware: asking for it is refused where it is
 * asked, not left to fail at every connection. */
static void test_tls_is_refused_where_it_is_asked(void **state)
{
    (void)state;
    assert_int_equal(apply("port: 4222\ntls { cert_file: a.pem, key_file: a.key }\n"),
                     NE_ERR_UNSUPPORTED);
    assert_string_equal(err, "edge.conf:2:1: TLS is not built into this firmware (see "
                             "docs/firmware.md)");
    assert_int_equal(apply("leafnodes { remotes [ { url: \"nats-leaf://10.0.2.2:7422\",\n"
                           "  tls { ca_file: ca.pem } } ] }\n"),
                     NE_ERR_UNSUPPORTED);
    assert_non_null(strstr(err, "edge.conf:2:3: TLS is not built"));
}

static void test_region_checks_magic_length_and_checksum(void **state)
{
    (void)state;
    const char *text;
    size_t len;
    fill("");
    assert_int_equal(mps2_region_text(&region, &text, &len, err, sizeof(err)), NE_OK);
    assert_int_equal(len, 0);
    fill("port: 4333\n");
    assert_int_equal(mps2_region_text(&region, &text, &len, err, sizeof(err)), NE_OK);
    assert_int_equal(len, 11);
    assert_memory_equal(text, "port: 4333\n", 11);
    region.text[0] = 'P'; /* a byte changed after the checksum */
    assert_int_equal(mps2_region_text(&region, &text, &len, err, sizeof(err)), NE_ERR_CORRUPT);
    assert_non_null(strstr(err, "checksum does not match"));
    fill("port: 4333\n");
    region.header.length = NE_BOARD_CONF_REGION_BYTES + 1;
    assert_int_equal(mps2_region_text(&region, &text, &len, err, sizeof(err)), NE_ERR_CORRUPT);
    fill("port: 4333\n");
    region.header.magic[1] = 0;
    assert_int_equal(mps2_region_text(&region, &text, &len, err, sizeof(err)), NE_ERR_CORRUPT);
    assert_non_null(strstr(err, "header is damaged"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_are_the_qemu_network_and_monitoring),
        cmocka_unit_test(test_network_block_sets_address_mask_gateway_dhcp),
        cmocka_unit_test(test_network_errors_name_their_position),
        cmocka_unit_test(test_the_board_reads_no_files),
        cmocka_unit_test(test_tls_is_refused_where_it_is_asked),
        cmocka_unit_test(test_region_checks_magic_length_and_checksum),
    };
    return cmocka_run_group_tests_name("board_conf", tests, NULL, NULL);
}
