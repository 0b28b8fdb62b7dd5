/* Permission checks and import subject mapping (src/server/ne_perm.c,
 * ne_account.c): inventory CP-79..CP-81, CP-85, CP-86. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "router/ne_account.h"
#include "router/ne_perm.h"

static ne_perm_subject table[16];
static uint16_t used;

static ne_perm_list list_of(const char *const *entries, uint16_t n)
{
    ne_perm_list l = {used, 0, true};
    for (uint16_t i = 0; i < n; i++) {
        const char *e = entries[i];
        const char *space = strchr(e, ' ');
        size_t slen = space != NULL ? (size_t)(space - e) : strlen(e);
        size_t qlen = space != NULL ? strlen(space + 1) : 0;
        ne_perm_subject *p = &table[used++];
        p->subject_len = (uint16_t)slen;
        p->queue_len = (uint16_t)qlen;
        memcpy(p->text, e, slen);
        memcpy(p->text + slen, space != NULL ? space + 1 : "", qlen);
        l.count++;
    }
    return l;
}

static int reset(void **state)
{
    (void)state;
    used = 0;
    memset(table, 0, sizeof(table));
    return 0;
}

#define PUB(p, s) ne_perm_can_publish(p, table, s, strlen(s))
static bool sub_ok(const ne_permissions *p, const char *s, const char *q)
{
    return ne_perm_can_subscribe(p, table, s, strlen(s), q, q == NULL ? 0 : strlen(q));
}
#define SUB(p, s, q) sub_ok(p, s, q)

static void test_absent_allow_allows_all_and_deny_wins_CP79(void **state)
{
    (void)state;
    ne_permissions p;
    memset(&p, 0, sizeof(p));
    assert_true(PUB(&p, "anything"));
    static const char *const allow[] = {"a.>", "b.*"};
    static const char *const deny[] = {"a.secret", "b.>"};
    p.pub_allow = list_of(allow, 2);
    p.pub_deny = list_of(deny, 2);
    assert_true(PUB(&p, "a.x"));
    assert_true(PUB(&p, "a.x.y"));
    assert_false(PUB(&p, "a.secret"));
    assert_false(PUB(&p, "b.x")); /* allowed, then denied */
    assert_false(PUB(&p, "c"));
    /* A present but empty allow list allows nothing. */
    memset(&p, 0, sizeof(p));
    p.pub_allow.present = true;
    assert_false(PUB(&p, "a"));
}

static void test_subscription_subjects_are_taken_literally(void **state)
{
    (void)state;
    ne_permissions p;
    memset(&p, 0, sizeof(p));
    static const char *const allow[] = {"foo.*"};
    p.sub_allow = list_of(allow, 1);
    assert_true(SUB(&p, "foo.bar", NULL));
    assert_true(SUB(&p, "foo.*", NULL));
    assert_false(SUB(&p, "foo.bar.baz", NULL));
    static const char *const narrow[] = {"foo.bar"};
    p.sub_allow = list_of(narrow, 1);
    assert_false(SUB(&p, "foo.*", NULL)); /* broader than the allow entry */
}

static void test_queue_entries_decide_queue_subscriptions_CP80(void **state)
{
    (void)state;
    ne_permissions p;
    memset(&p, 0, sizeof(p));
    static const char *const allow[] = {"jobs.* workers", "plain"};
    p.sub_allow = list_of(allow, 2);
    assert_true(SUB(&p, "jobs.a", "workers"));
    assert_false(SUB(&p, "jobs.a", "others"));
    assert_false(SUB(&p, "jobs.a", NULL));
    assert_true(SUB(&p, "plain", "any"));
    static const char *const wild[] = {"jobs.* v1.*"};
    p.sub_allow = list_of(wild, 1);
    assert_true(SUB(&p, "jobs.a", "v1.blue"));
    assert_false(SUB(&p, "jobs.a", "v2.blue"));
    memset(&p, 0, sizeof(p));
    static const char *const deny[] = {"jobs.* banned"};
    p.sub_deny = list_of(deny, 1);
    assert_true(SUB(&p, "jobs.a", NULL));
    assert_true(SUB(&p, "jobs.a", "fine"));
    assert_false(SUB(&p, "jobs.a", "banned"));
}

static void test_wildcards_over_deny_entries_withhold_CP81(void **state)
{
    (void)state;
    ne_permissions p;
    memset(&p, 0, sizeof(p));
    static const char *const deny[] = {"wide.secret"};
    p.sub_deny = list_of(deny, 1);
    assert_true(SUB(&p, "wide.>", NULL));
    assert_true(ne_perm_deny_overlaps(&p, table, "wide.>", 6));
    assert_false(ne_perm_deny_overlaps(&p, table, "narrow.>", 8));
    assert_true(ne_perm_withholds(&p, table, "wide.secret", 11));
    assert_false(ne_perm_withholds(&p, table, "wide.open", 9));
}

static size_t map(const char *from, const char *to, const char *subject, char *out, size_t cap)
{
    size_t n = ne_account_map_subject(from, strlen(from), to, strlen(to), subject, strlen(subject),
                                      out, cap);
    out[n < cap ? n : cap - 1] = '\0';
    return n;
}

#define ANNOUNCE(p, s) ne_perm_announces_interest(p, table, s, strlen(s))

/* What nats-server 2.9.10 sent to a leaf whose user may publish to
 * telemetry.> and a.b.* but not telemetry.secret, for each hub subscription
 * (probed; inventory LN-41). */
static void test_interest_announced_to_a_leaf_follows_its_publish_permissions_LN41(void **state)
{
    (void)state;
    ne_permissions p;
    memset(&p, 0, sizeof(p));
    assert_true(ANNOUNCE(&p, "anything.*"));
    static const char *const allow[] = {"telemetry.>", "a.b.*"};
    static const char *const deny[] = {"telemetry.secret"};
    p.pub_allow = list_of(allow, 2);
    p.pub_deny = list_of(deny, 1);
    assert_true(ANNOUNCE(&p, "telemetry.*"));
    assert_true(ANNOUNCE(&p, "telemetry.secret.*"));
    assert_true(ANNOUNCE(&p, "a.>"));
    assert_true(ANNOUNCE(&p, ">"));
    assert_true(ANNOUNCE(&p, "a.b.c"));
    assert_false(ANNOUNCE(&p, "telemetry.secret"));
    assert_false(ANNOUNCE(&p, "*.x"));
    assert_false(ANNOUNCE(&p, "*.b.c"));
    assert_false(ANNOUNCE(&p, "a.*.c"));
    assert_false(ANNOUNCE(&p, "cmd.>"));
    assert_false(ANNOUNCE(&p, "foo"));
    /* A '*' covers literal tokens only; '>' needs one token at least. */
    static const char *const literal[] = {"x.y", "z"};
    p.pub_allow = list_of(literal, 2);
    assert_true(ANNOUNCE(&p, "x.*"));
    assert_true(ANNOUNCE(&p, "*.y"));
    assert_true(ANNOUNCE(&p, "*"));
    assert_false(ANNOUNCE(&p, "x.y.z"));
    assert_false(ANNOUNCE(&p, "x.y.>"));
    assert_false(ANNOUNCE(&p, "z.>"));
}

static void test_import_subjects_map_wildcards_in_order_CP85_CP86(void **state)
{
    (void)state;
    char out[64];
    assert_true(map("ev.>", "", "ev.a.b", out, sizeof(out)) > 0);
    assert_string_equal(out, "ev.a.b");
    assert_true(map("ev.x", "local.x", "ev.x", out, sizeof(out)) > 0);
    assert_string_equal(out, "local.x");
    assert_true(map("a.*.c.*", "b.*.*", "a.1.c.2", out, sizeof(out)) > 0);
    assert_string_equal(out, "b.1.2");
    assert_true(map("a.*.>", "z.*.y.>", "a.1.p.q", out, sizeof(out)) > 0);
    assert_string_equal(out, "z.1.y.p.q");
    assert_int_equal(map("a.>", "b.>", "a.very.long.subject", out, 8), 0); /* does not fit */
    assert_true(ne_account_mapping_valid("a.*", 3, "b.*", 3));
    assert_true(ne_account_mapping_valid("a.*", 3, "b", 1));
    assert_false(ne_account_mapping_valid("a.*", 3, "b.>", 3));
    assert_false(ne_account_mapping_valid("a.*.*", 5, "b.*", 3));
}

/* A stream import without `to` keeps the subject whatever its token count:
 * it was cut after NE_MAX_SUBJECT_TOKENS tokens and delivered under the cut
 * subject (CP-85). */
static void test_import_keeps_a_subject_of_many_tokens_whole_CP85(void **state)
{
    (void)state;
    char subject[256] = "ev";
    for (int i = 0; i < 2 * NE_MAX_SUBJECT_TOKENS; i++) {
        strcat(subject, ".t");
    }
    char out[256];
    assert_int_equal(map("ev.>", "", subject, out, sizeof(out)), strlen(subject));
    assert_string_equal(out, subject);
    assert_int_equal(map("ev.>", "x.>", subject, out, sizeof(out)), strlen(subject) - 1);
    assert_string_equal(out + 1, subject + 2);
    assert_int_equal(map("ev.>", "", subject, out, strlen(subject) - 1), 0); /* does not fit */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_absent_allow_allows_all_and_deny_wins_CP79, reset),
        cmocka_unit_test_setup(test_subscription_subjects_are_taken_literally, reset),
        cmocka_unit_test_setup(test_queue_entries_decide_queue_subscriptions_CP80, reset),
        cmocka_unit_test_setup(test_wildcards_over_deny_entries_withhold_CP81, reset),
        cmocka_unit_test_setup(
            test_interest_announced_to_a_leaf_follows_its_publish_permissions_LN41, reset),
        cmocka_unit_test_setup(test_import_subjects_map_wildcards_in_order_CP85_CP86, reset),
        cmocka_unit_test_setup(test_import_keeps_a_subject_of_many_tokens_whole_CP85, reset),
    };
    return cmocka_run_group_tests_name("perm", tests, NULL, NULL);
}
