/* lwIP's architecture header for natsedge ports: fixed-width types from
 * <stdint.h>, diagnostics and assertions through natsedge's port functions,
 * LWIP_RAND from the port's entropy. The byte order comes from the compiler. */
#ifndef NE_LWIP_ARCH_CC_H
#define NE_LWIP_ARCH_CC_H

#include <stddef.h>
#include <stdint.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define BYTE_ORDER BIG_ENDIAN
#else
#define BYTE_ORDER LITTLE_ENDIAN
#endif

/* lwIP's own errno values: no libc errno is needed by the raw API. */
#define LWIP_PROVIDE_ERRNO 1

/* Diagnostics: lwIP calls LWIP_PLATFORM_DIAG((fmt, args...)). */
void ne_lwip_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define LWIP_PLATFORM_DIAG(x)                                                                      \
    do {                                                                                           \
        ne_lwip_diag x;                                                                            \
    } while (0)

/* A failed lwIP assertion ends like a failed natsedge assertion. */
void ne_port_assert_fail(const char *file, int line, const char *expr);
#define LWIP_PLATFORM_ASSERT(x) ne_port_assert_fail(__FILE__, __LINE__, x)

uint32_t ne_lwip_rand(void);
#define LWIP_RAND() ne_lwip_rand()

#endif
