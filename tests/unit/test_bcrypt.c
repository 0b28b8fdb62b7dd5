/* Unit tests of bcrypt (src/auth/ne_bcrypt.c), the password hashes
 * nats-server accepts in its authorization settings (inventory CP-71,
 * CP-72). The expected hashes come from elsewhere: the classic OpenBSD and
 * crypt_blowfish test vectors, and hashes made with Debian's libxcrypt
 * (python3's crypt module) when these tests were written. The module uses no
 * pool, so there is nothing to check back to idle after a test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/ne_error.h"
#include "auth/ne_bcrypt.h"

static ne_bcrypt_state bf_state;

static int verify(const char *password, const char *hash)
{
    return ne_bcrypt_verify(&bf_state, password, strlen(password), hash, strlen(hash),
                            NE_BCRYPT_MAX_COST_LIMIT);
}

typedef struct vector {
    const char *password;
    const char *hash;
} vector;

/* The OpenBSD / crypt_blowfish vectors, then libxcrypt hashes of each minor. */
static const vector vectors[] = {
    {"U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"},
    {"U*U*", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.VGOzA784oUp/Z0DY336zx7pLYAy0lwK"},
    {"U*U*U", "$2a$05$XXXXXXXXXXXXXXXXXXXXXOAcXxm9kjPGEMsLznoKqmqw7tc8WCx4a"},
    {"", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.7uG0VCzI2bS7j6ymqJi9CdcdxiRTWNy"},
    {"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789chars after 72 are "
     "ignored",
     "$2a$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui"},
    {"s3cr3t", "$2b$04$ijWYnkIB.GLLZdQZJfiud.hk7O46xupMsbrH6SN9KRRcy7kErySLO"},
    {"edge-password", "$2y$06$nVwx2tPLJq9VdUgukNJShukUs75jnilCSBaDOL8GxO0BBI7G8SARO"},
    {"p\xc3\xa4ssw\xc3\xb6rd \xe2\x82\xac",
     "$2b$05$F6FK1q8e.F89HBNN1c6d2uB9xnzb/ur1UPHrj75FpF5GQr2HswFpa"},
    {"correct horse battery staple",
     "$2b$10$Tpoerke.raLPTHgtwvg9UOR0Qqq7eMPYgxkAGY99Yq36iWcCr7wmK"},
};

static void test_known_hashes_verify(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        assert_int_equal(verify(vectors[i].password, vectors[i].hash), NE_OK);
    }
}

static void test_known_hashes_are_reproduced_from_their_salt(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        const char *h = vectors[i].hash;
        unsigned cost;
        uint8_t salt[NE_BCRYPT_SALT_BYTES];
        assert_int_equal(ne_bcrypt_parse(h, strlen(h), 31, &cost, salt), NE_OK);
        char out[NE_BCRYPT_HASH_LEN + 1];
        assert_int_equal(ne_bcrypt_hash(&bf_state, vectors[i].password, strlen(vectors[i].password),
                                        h[2], cost, salt, out),
                         NE_OK);
        /* The salts above were encoded with the unused low bits at zero. */
        assert_string_equal(out, h);
    }
}

static void test_wrong_passwords_are_refused(void **state)
{
    (void)state;
    const char *h = "$2b$04$ijWYnkIB.GLLZdQZJfiud.hk7O46xupMsbrH6SN9KRRcy7kErySLO";
    assert_int_equal(verify("s3cr3T", h), NE_ERR_PERMISSION);
    assert_int_equal(verify("s3cr3", h), NE_ERR_PERMISSION);
    assert_int_equal(verify("s3cr3t ", h), NE_ERR_PERMISSION);
    assert_int_equal(verify("", h), NE_ERR_PERMISSION);
    assert_int_equal(verify("U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.VGOzA784oUp/Z0DY336zx7pLYAy0lwK"),
                     NE_ERR_PERMISSION);
    /* A password with an embedded NUL is not the one before the NUL. */
    assert_int_equal(ne_bcrypt_verify(&bf_state, "s3cr3t\0x", 8, h, strlen(h), 31),
                     NE_ERR_PERMISSION);
}

static void test_only_the_first_72_bytes_count(void **state)
{
    (void)state;
    char pw[100];
    memset(pw, 'y', sizeof(pw));
    const char *h72 = "$2b$04$uLwMoklJ/tRwJaeS135jBepOmNwWEwWccpQ4UDdGz5NxsnAFmGQha";
    for (size_t len = 72; len < sizeof(pw); len++) {
        assert_int_equal(ne_bcrypt_verify(&bf_state, pw, len, h72, strlen(h72), 31), NE_OK);
    }
    assert_int_equal(ne_bcrypt_verify(&bf_state, pw, 71, h72, strlen(h72), 31), NE_ERR_PERMISSION);
    /* Below 72 bytes the terminating NUL is part of the key: 71 is not 72. */
    memset(pw, 'x', sizeof(pw));
    const char *h71 = "$2a$04$virtchu8ZaBv3Jgfzdh9yO4T1yESGidVPewBDaBPYQnxgOAwwH432";
    assert_int_equal(ne_bcrypt_verify(&bf_state, pw, 71, h71, strlen(h71), 31), NE_OK);
    assert_int_equal(ne_bcrypt_verify(&bf_state, pw, 72, h71, strlen(h71), 31), NE_ERR_PERMISSION);
    assert_int_equal(ne_bcrypt_verify(&bf_state, pw, 70, h71, strlen(h71), 31), NE_ERR_PERMISSION);
}

static void test_minors_a_b_x_y_hash_alike(void **state)
{
    (void)state;
    /* Go's bcrypt, and so nats-server, treats every minor the same. */
    const char *minors = "abxy";
    uint8_t salt[NE_BCRYPT_SALT_BYTES] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    char first[NE_BCRYPT_HASH_LEN + 1];
    char out[NE_BCRYPT_HASH_LEN + 1];
    assert_int_equal(ne_bcrypt_hash(&bf_state, "secret", 6, 'a', 4, salt, first), NE_OK);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(ne_bcrypt_hash(&bf_state, "secret", 6, minors[i], 4, salt, out), NE_OK);
        assert_int_equal(out[2], minors[i]);
        assert_memory_equal(out + 3, first + 3, NE_BCRYPT_HASH_LEN - 3);
        assert_int_equal(verify("secret", out), NE_OK);
    }
    assert_int_equal(ne_bcrypt_hash(&bf_state, "secret", 6, 'c', 4, salt, out), NE_ERR_INVALID);
    assert_int_equal(ne_bcrypt_hash(&bf_state, "secret", 6, 'a', 3, salt, out), NE_ERR_INVALID);
}

static void test_is_hash_follows_the_nats_server_prefix_rule(void **state)
{
    (void)state;
    assert_true(ne_bcrypt_is_hash("$2a$10$"));
    assert_true(ne_bcrypt_is_hash("$2b$04$x"));
    assert_true(ne_bcrypt_is_hash("$2x$99$"));
    assert_true(ne_bcrypt_is_hash("$2y$00$"));
    assert_false(ne_bcrypt_is_hash("$2$10$abc"));
    assert_false(ne_bcrypt_is_hash("$2c$10$abc"));
    assert_false(ne_bcrypt_is_hash("$2a$1$abc"));
    assert_false(ne_bcrypt_is_hash("$2a$1a$abc"));
    assert_false(ne_bcrypt_is_hash("$2a$10"));
    assert_false(ne_bcrypt_is_hash("$3a$10$abc"));
    assert_false(ne_bcrypt_is_hash("2a$10$abc"));
    assert_false(ne_bcrypt_is_hash(""));
    assert_false(ne_bcrypt_is_hash("s3cr3t"));
}

static void test_malformed_hashes_are_invalid(void **state)
{
    (void)state;
    const char *good = "$2b$04$ijWYnkIB.GLLZdQZJfiud.hk7O46xupMsbrH6SN9KRRcy7kErySLO";
    char h[80];
    unsigned cost;
    uint8_t salt[NE_BCRYPT_SALT_BYTES];
    /* Length: one short, one long. */
    assert_int_equal(ne_bcrypt_parse(good, 59, 31, &cost, salt), NE_ERR_INVALID);
    strcpy(h, good);
    strcat(h, "a");
    assert_int_equal(ne_bcrypt_parse(h, strlen(h), 31, &cost, salt), NE_ERR_INVALID);
    assert_int_equal(verify("s3cr3t", h), NE_ERR_INVALID);
    /* A character outside bcrypt's base64 in the salt, then in the hash. */
    strcpy(h, good);
    h[10] = '+';
    assert_int_equal(verify("s3cr3t", h), NE_ERR_INVALID);
    strcpy(h, good);
    h[50] = '=';
    assert_int_equal(verify("s3cr3t", h), NE_ERR_INVALID);
    strcpy(h, good);
    h[59] = '\0';
    assert_int_equal(ne_bcrypt_parse(h, 60, 31, &cost, salt), NE_ERR_INVALID);
    /* Costs outside bcrypt's bounds. */
    strcpy(h, good);
    h[4] = '0';
    h[5] = '3';
    assert_int_equal(verify("s3cr3t", h), NE_ERR_INVALID);
    h[4] = '3';
    h[5] = '2';
    assert_int_equal(verify("s3cr3t", h), NE_ERR_INVALID);
    h[4] = '9';
    h[5] = '9';
    assert_int_equal(verify("s3cr3t", h), NE_ERR_INVALID);
    /* Prefix damage. */
    strcpy(h, good);
    h[2] = 'c';
    assert_int_equal(verify("s3cr3t", h), NE_ERR_INVALID);
    strcpy(h, good);
    h[6] = '.';
    assert_int_equal(verify("s3cr3t", h), NE_ERR_INVALID);
    /* The hash part's last character with non-zero unused bits: not the
     * canonical encoding, so it does not match (as Go's compare). */
    strcpy(h, good);
    h[59] = 'P';
    assert_int_equal(verify("s3cr3t", h), NE_ERR_PERMISSION);
}

static void test_costs_above_the_bound_are_refused_before_any_work(void **state)
{
    (void)state;
    /* A cost-31 hash would take days; with a bound of 12 it is refused at
     * once, and the same text within the bound parses. */
    const char *h31 = "$2a$31$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
    unsigned cost = 0;
    uint8_t salt[NE_BCRYPT_SALT_BYTES];
    assert_int_equal(ne_bcrypt_parse(h31, strlen(h31), 12, &cost, salt), NE_ERR_RANGE);
    assert_int_equal(ne_bcrypt_verify(&bf_state, "U*U", 3, h31, strlen(h31), 12), NE_ERR_RANGE);
    assert_int_equal(ne_bcrypt_parse(h31, strlen(h31), 31, &cost, salt), NE_OK);
    assert_int_equal(cost, 31);
    const char *h05 = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
    assert_int_equal(ne_bcrypt_verify(&bf_state, "U*U", 3, h05, strlen(h05), 4), NE_ERR_RANGE);
    assert_int_equal(ne_bcrypt_verify(&bf_state, "U*U", 3, h05, strlen(h05), 5), NE_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_hashes_verify),
        cmocka_unit_test(test_known_hashes_are_reproduced_from_their_salt),
        cmocka_unit_test(test_wrong_passwords_are_refused),
        cmocka_unit_test(test_only_the_first_72_bytes_count),
        cmocka_unit_test(test_minors_a_b_x_y_hash_alike),
        cmocka_unit_test(test_is_hash_follows_the_nats_server_prefix_rule),
        cmocka_unit_test(test_malformed_hashes_are_invalid),
        cmocka_unit_test(test_costs_above_the_bound_are_refused_before_any_work),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
