/* The mps2-an385 firmware's leaf credentials (board/mps2-an385/
 * board_conf.c as tiny-js builds it: NE_BOARD_TLS and NE_BOARD_ED25519): a
 * remote's credentials name an entry of files { } holding the .creds text
 * (LN-24, LN-25); one that names no entry, or a text that is no .creds, is
 * refused with its position, as tools/conf_region's check refuses it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define NE_BOARD_TLS 1
#define NE_BOARD_ED25519 1
#include "board/mps2-an385/board_conf.c"

static ne_conf conf;
static ne_server_options opts;
static mps2_settings set;
static char err[512];

static int apply(const char *text)
{
    mps2_defaults(&opts, &set);
    err[0] = '\0';
    return mps2_apply_text(&conf, "edge.conf", text, strlen(text), &opts, &set, err, sizeof(err));
}

#define JWT "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJzdWIiOiJVQUJDIn0.c2ln"
#define SEED "SUAIBDPBAUTWCWBKIO6XHQNINK5FWJW4OHLXC3HQ2KFE4PEJUA44CNHTC4"
#define CREDS                                                                                      \
    "-----BEGIN NATS USER JWT-----\n" JWT "\n------END NATS USER JWT------\n\n"                    \
    "************************* IMPORTANT *************************\n"                              \
    "NKEY Seed printed below can be used to sign and prove identity.\n\n"                          \
    "-----BEGIN USER NKEY SEED-----\n" SEED "\n------END USER NKEY SEED------\n"

static void test_credentials_name_a_files_entry_holding_the_creds_text(void **state)
{
    (void)state;
    assert_int_equal(apply("files { \"edge.creds\": \"" CREDS "\" }\n"
                           "leafnodes { remotes [ { url: \"nats-leaf://10.0.2.2:7422\", "
                           "credentials: \"edge.creds\" } ] }\n"),
                     NE_OK);
    assert_false(opts.leaf.remotes[0].creds_missing);
    assert_string_equal(opts.leaf.remotes[0].jwt, JWT);
    assert_string_equal(opts.leaf.remotes[0].seed, SEED);
    /* creds: is the same key. */
    assert_int_equal(apply("files { \"edge.creds\": \"" CREDS "\" }\n"
                           "leafnodes { remotes [ { url: \"nats-leaf://10.0.2.2:7422\", "
                           "creds: \"edge.creds\" } ] }\n"),
                     NE_OK);
    assert_string_equal(opts.leaf.remotes[0].seed, SEED);
}

static void test_credentials_naming_no_files_entry_are_refused_at_their_position(void **state)
{
    (void)state;
    assert_int_equal(apply("leafnodes { remotes [\n"
                           "  { url: \"nats-leaf://10.0.2.2:7422\" }\n"
                           "  { url: \"nats-leaf://10.0.2.2:7423\",\n"
                           "    credentials: \"edge.creds\" } ] }\n"
                           "files { \"hub.creds\": \"" CREDS "\" }\n"),
                     NE_ERR_INVALID);
    assert_string_equal(err, "edge.conf:4:5: credentials \"edge.creds\" is not in files { } (the "
                             "board has no files of its own: see docs/firmware.md)");
    /* No files { } at all. */
    assert_int_equal(apply("leafnodes { remotes [ { url: \"nats-leaf://10.0.2.2:7422\", "
                           "credentials: \"/etc/edge.creds\" } ] }\n"),
                     NE_ERR_INVALID);
    assert_non_null(strstr(err, "edge.conf:1:"));
    assert_non_null(strstr(err, "credentials \"/etc/edge.creds\" is not in files { }"));
}

static void test_a_files_entry_that_is_no_creds_text_is_refused_at_its_position(void **state)
{
    (void)state;
    assert_int_not_equal(apply("leafnodes { remotes [ { url: \"nats-leaf://10.0.2.2:7422\",\n"
                               "  credentials: \"edge.creds\" } ] }\n"
                               "files { \"edge.creds\": \"-----BEGIN NATS USER JWT-----\n" JWT
                               "\n------END NATS USER JWT------\n\" }\n"),
                         NE_OK);
    assert_non_null(strstr(err, "edge.conf:2:3: "));
    assert_non_null(strstr(err, "needs a user JWT and a user seed (SU...)"));
}

/* An include still finds no file: the entries are credentials, not
 * configuration. */
static void test_an_include_does_not_read_a_files_entry(void **state)
{
    (void)state;
    assert_int_not_equal(apply("files { \"more.conf\": \"port: 4333\" }\ninclude more.conf\n"),
                         NE_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_credentials_name_a_files_entry_holding_the_creds_text),
        cmocka_unit_test(test_credentials_naming_no_files_entry_are_refused_at_their_position),
        cmocka_unit_test(test_a_files_entry_that_is_no_creds_text_is_refused_at_its_position),
        cmocka_unit_test(test_an_include_does_not_read_a_files_entry),
    };
    return cmocka_run_group_tests_name("board_conf_creds", tests, NULL, NULL);
}
