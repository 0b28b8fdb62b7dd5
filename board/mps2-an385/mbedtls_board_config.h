/* mbedTLS's configuration for the mps2-an385 firmware (profiles with
 * NE_BOARD_TLS, e.g. tiny-js): config/mbedtls_config.h, the Linux build's,
 * less what a bare-metal board does not have.
 *
 * - No files (MBEDTLS_FS_IO): the trust anchor comes from the
 *   configuration region's text (ne_mbedtls_client_config_pem).
 * - No clock of the day (MBEDTLS_HAVE_TIME, MBEDTLS_HAVE_TIME_DATE): the
 *   board has no real-time clock, so a certificate's validity dates are
 *   not checked (its signature chain and host name are). docs/firmware.md
 *   says so.
 * - No assembly multipliers (MBEDTLS_HAVE_ASM): the portable C ones.
 * - No C library I/O, formatting or exit (the firmware has no system
 *   calls, and newlib's printf family brings an allocator in): messages are
 *   formatted by ne_fmt's builder, the static allocator's consistency
 *   messages go to the UART and its exit stops the board (board_tls.c).
 */
#ifndef NE_MBEDTLS_BOARD_CONFIG_H
#define NE_MBEDTLS_BOARD_CONFIG_H

#include "mbedtls_config.h"

#undef MBEDTLS_FS_IO
#undef MBEDTLS_HAVE_TIME
#undef MBEDTLS_HAVE_TIME_DATE
#undef MBEDTLS_HAVE_ASM
#undef MBEDTLS_PLATFORM_SNPRINTF_MACRO
#define MBEDTLS_PLATFORM_SNPRINTF_MACRO mps2_mbedtls_snprintf
#undef MBEDTLS_PLATFORM_FPRINTF_MACRO
#define MBEDTLS_PLATFORM_FPRINTF_MACRO mps2_mbedtls_fprintf
#define MBEDTLS_PLATFORM_EXIT_MACRO mps2_mbedtls_exit

#include <stdio.h>

int mps2_mbedtls_snprintf(char *out, size_t cap, const char *format, ...);
int mps2_mbedtls_fprintf(FILE *stream, const char *format, ...);
void mps2_mbedtls_exit(int status);

#endif
