/* NE_ASSERT checks arguments, invariants and results. It stays on in tests and
 * host builds; a board may compile it out with NE_ASSERTIONS 0, or keep it
 * without the expressions' texts with NE_ASSERT_TEXTS 0. A failed
 * assertion calls the port's ne_port_assert_fail, which does not return. */
#ifndef NE_ASSERT_H
#define NE_ASSERT_H

#include "ne_config.h"

void ne_port_assert_fail(const char *file, int line, const char *expr);

#if NE_ASSERTIONS && NE_ASSERT_TEXTS
#define NE_ASSERT(expr) ((expr) ? (void)0 : ne_port_assert_fail(__FILE__, __LINE__, #expr))
#elif NE_ASSERTIONS
/* The file and line say which one failed (NE_ASSERT_TEXTS 0). */
#define NE_ASSERT(expr) ((expr) ? (void)0 : ne_port_assert_fail(__FILE__, __LINE__, ""))
#else
#define NE_ASSERT(expr) ((void)0)
#endif

#define NE_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define NE_MIN(a, b) ((a) < (b) ? (a) : (b))
#define NE_MAX(a, b) ((a) > (b) ? (a) : (b))
#define NE_CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#endif
