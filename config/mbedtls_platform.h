/* Declarations mbedTLS's platform layer needs once the C library's
 * defaults are switched off (MBEDTLS_PLATFORM_NO_STD_FUNCTIONS): exit(),
 * which the static allocator calls only if its own consistency check fails,
 * and fprintf() for that check's messages. No allocation function is used. */
#ifndef NE_MBEDTLS_PLATFORM_H
#define NE_MBEDTLS_PLATFORM_H

#include <stdio.h>
#include <stdlib.h>

#endif
