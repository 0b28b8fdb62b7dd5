/* Unit tests of the object pool (src/core/ne_pool.c): entries never handed
 * out are never written, returned ones are reused first, exhaustion is
 * counted and undone by a free, and under AddressSanitizer a returned
 * object is poisoned until it is handed out again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/ne_pool.h"

#ifdef NE_POOL_POISON
#include <sanitizer/asan_interface.h>
#endif

typedef struct obj {
    uint64_t a;
    uint64_t b;
    uint8_t c[48];
} obj;

#define COUNT 8
#define CANARY 0xA5

static NE_POOL_STORAGE(obj, COUNT) storage;

static bool bytes_are(const void *p, size_t n, uint8_t v)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        if (b[i] != v) {
            return false;
        }
    }
    return true;
}

static void test_init_and_alloc_write_no_entry_never_handed_out(void **state)
{
    (void)state;
    memset(&storage, CANARY, sizeof(storage));
    ne_pool p;
    ne_pool_init(&p, "t", &storage, sizeof(obj), COUNT);
    /* Init wrote nothing into the storage. */
    assert_true(bytes_are(&storage, sizeof(storage), CANARY));
    obj *first = ne_pool_alloc(&p);
    obj *second = ne_pool_alloc(&p);
    /* Handed out lowest slots first, zeroed. */
    assert_ptr_equal(first, (obj *)(void *)storage.bytes);
    assert_int_equal(ne_pool_index(&p, second), 1);
    assert_true(bytes_are(first, sizeof(obj), 0));
    assert_true(bytes_are(second, sizeof(obj), 0));
    /* Slots beyond the high-water mark are still as they were. */
    size_t used = 2 * p.object_bytes;
    assert_true(bytes_are(storage.bytes + used, sizeof(storage) - used, CANARY));
    assert_int_equal(p.fresh, 2);
    ne_pool_free(&p, second);
    ne_pool_free(&p, first);
    assert_int_equal(p.in_use, 0);
}

static void test_init_reads_no_page_of_its_storage(void **state)
{
    (void)state;
    /* Page-aligned storage made unreadable: a pool over it can be set up,
     * which proves init does not walk its entries (on a host without a
     * shared zero page, reading an untouched page makes it resident). */
    static union {
        uint8_t bytes[4 * 65536];
        uint64_t align;
    } pages;
    long page = sysconf(_SC_PAGESIZE);
    assert_true(page > 0 && page <= 65536);
    uintptr_t start = ((uintptr_t)pages.bytes + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
    size_t bytes = 2 * (size_t)page;
    assert_int_equal(mprotect((void *)start, bytes, PROT_NONE), 0);
    ne_pool p;
    ne_pool_init(&p, "t", (void *)start, sizeof(obj), (uint32_t)(bytes / sizeof(obj)));
    assert_int_equal(p.in_use, 0);
    assert_int_equal(mprotect((void *)start, bytes, PROT_READ | PROT_WRITE), 0);
    obj *o = ne_pool_alloc(&p);
    assert_ptr_equal(o, (obj *)start);
    ne_pool_free(&p, o);
}

static void test_a_returned_entry_is_reused_before_a_fresh_one_and_comes_back_zeroed(void **state)
{
    (void)state;
    ne_pool p;
    ne_pool_init(&p, "t", &storage, sizeof(obj), COUNT);
    obj *a = ne_pool_alloc(&p);
    obj *b = ne_pool_alloc(&p);
    obj *c = ne_pool_alloc(&p);
    memset(b, 0x5A, sizeof(*b));
    ne_pool_free(&p, b);
    /* The most recently returned entry comes back first. */
    obj *again = ne_pool_alloc(&p);
    assert_ptr_equal(again, b);
    assert_true(bytes_are(again, sizeof(obj), 0));
    assert_int_equal(p.fresh, 3);
    ne_pool_free(&p, a);
    ne_pool_free(&p, c);
    assert_ptr_equal(ne_pool_alloc(&p), c);
    assert_ptr_equal(ne_pool_alloc(&p), a);
    /* Only when nothing is returned does a fresh slot come. */
    obj *d = ne_pool_alloc(&p);
    assert_int_equal(ne_pool_index(&p, d), 3);
    assert_int_equal(p.fresh, 4);
    assert_int_equal(p.peak, 4);
    ne_pool_free(&p, a);
    ne_pool_free(&p, b);
    ne_pool_free(&p, c);
    ne_pool_free(&p, d);
    assert_int_equal(p.in_use, 0);
}

static void test_exhaustion_is_counted_and_a_free_makes_room(void **state)
{
    (void)state;
    ne_pool p;
    ne_pool_init(&p, "t", &storage, sizeof(obj), COUNT);
    obj *objs[COUNT];
    for (uint32_t i = 0; i < COUNT; i++) {
        objs[i] = ne_pool_alloc(&p);
        assert_non_null(objs[i]);
    }
    assert_int_equal(ne_pool_available(&p), 0);
    assert_null(ne_pool_alloc(&p));
    assert_null(ne_pool_alloc_uninit(&p));
    assert_int_equal(p.exhausted, 2);
    assert_int_equal(p.in_use, COUNT);
    ne_pool_free(&p, objs[5]);
    obj *back = ne_pool_alloc(&p);
    assert_ptr_equal(back, objs[5]);
    assert_null(ne_pool_alloc(&p));
    assert_int_equal(p.exhausted, 3);
    assert_int_equal(p.peak, COUNT);
    for (uint32_t i = 0; i < COUNT; i++) {
        ne_pool_free(&p, objs[i]);
    }
    assert_int_equal(p.in_use, 0);
    assert_int_equal(ne_pool_available(&p), COUNT);
}

static void test_a_returned_entry_is_poisoned_until_handed_out_again(void **state)
{
    (void)state;
#ifndef NE_POOL_POISON
    skip(); /* only under AddressSanitizer (make SAN=asan unit) */
#else
    ne_pool p;
    ne_pool_init(&p, "t", &storage, sizeof(obj), COUNT);
    ne_pool_keep_readable(&p, offsetof(obj, b));
    obj *o = ne_pool_alloc(&p);
    assert_int_equal(__asan_address_is_poisoned(&o->c[0]), 0);
    ne_pool_free(&p, o);
    /* The free-list link and the readable prefix stay readable; the rest
     * is poisoned, so a use after free is reported. */
    assert_int_equal(__asan_address_is_poisoned(&o->a), 0);
    assert_int_equal(__asan_address_is_poisoned(&o->b), 1);
    assert_int_equal(__asan_address_is_poisoned(&o->c[47]), 1);
    /* Never handed out: not poisoned (init unpoisons the whole storage). */
    obj *never = (obj *)(void *)(storage.bytes + 3 * p.object_bytes);
    assert_int_equal(__asan_address_is_poisoned(&never->c[0]), 0);
    obj *again = ne_pool_alloc(&p);
    assert_ptr_equal(again, o);
    assert_int_equal(__asan_address_is_poisoned(&again->c[47]), 0);
    ne_pool_free(&p, again);
    /* A second init (a server set up again) unpoisons everything. */
    ne_pool_init(&p, "t", &storage, sizeof(obj), COUNT);
    assert_int_equal(__asan_address_is_poisoned(&o->c[47]), 0);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_and_alloc_write_no_entry_never_handed_out),
        cmocka_unit_test(test_init_reads_no_page_of_its_storage),
        cmocka_unit_test(test_a_returned_entry_is_reused_before_a_fresh_one_and_comes_back_zeroed),
        cmocka_unit_test(test_exhaustion_is_counted_and_a_free_makes_room),
        cmocka_unit_test(test_a_returned_entry_is_poisoned_until_handed_out_again),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
