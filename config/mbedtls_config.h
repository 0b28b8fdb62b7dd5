/* mbedTLS configuration for natsedge (mbedTLS 2.28).
 *
 * Only what the broker uses is compiled in: TLS 1.2 as server (clients,
 * HTTPS monitoring) and as client (leaf remotes), ECDHE key exchange with
 * ECDSA or RSA certificates, AES-GCM and ChaCha20-Poly1305, X.509 parsing
 * and chain verification, and a CTR-DRBG seeded from ne_port_entropy().
 *
 * Memory: mbedTLS allocates through mbedtls_calloc(), which is pointed at
 * MBEDTLS_MEMORY_BUFFER_ALLOC_C over a static region owned by port/mbedtls
 * (NE_TLS_HEAP_BYTES in config/ne_config_default.h). There is no fallback to
 * the C library's heap: MBEDTLS_PLATFORM_NO_STD_FUNCTIONS leaves calloc/free
 * out, and `make check` verifies it with nm over the library's objects.
 *
 * The build passes -DMBEDTLS_CONFIG_FILE='"mbedtls_config.h"' both to the
 * library and to port/mbedtls. */
#ifndef NE_MBEDTLS_CONFIG_H
#define NE_MBEDTLS_CONFIG_H

/* ---- System support ------------------------------------------------------ */
#define MBEDTLS_HAVE_ASM
#define MBEDTLS_HAVE_TIME
#define MBEDTLS_HAVE_TIME_DATE /* certificate validity dates are checked */
#define MBEDTLS_PLATFORM_C
#define MBEDTLS_PLATFORM_MEMORY
#define MBEDTLS_PLATFORM_NO_STD_FUNCTIONS /* no calloc/free/printf defaults */
#define MBEDTLS_PLATFORM_SNPRINTF_MACRO snprintf
#define MBEDTLS_PLATFORM_STD_MEM_HDR "mbedtls_platform.h" /* exit, fprintf */
#define MBEDTLS_MEMORY_BUFFER_ALLOC_C
/* Blocks aligned for any type (mbedTLS's default of 4 misaligns 64-bit
 * fields, which UBSan reports and some CPUs fault on). */
#define MBEDTLS_MEMORY_ALIGN_MULTIPLE 16
/* Current and peak use of the region (/varz); its consistency messages go
 * to stderr. */
#define MBEDTLS_MEMORY_DEBUG
#define MBEDTLS_PLATFORM_FPRINTF_MACRO fprintf
#define MBEDTLS_FS_IO /* certificate and key files (port side only) */

/* ---- Random -------------------------------------------------------------- */
#define MBEDTLS_CTR_DRBG_C /* seeded by port/mbedtls from ne_port_entropy() */

/* ---- Ciphers and hashes -------------------------------------------------- */
#define MBEDTLS_AES_C
#define MBEDTLS_AES_ROM_TABLES /* tables in flash, not in RAM */
#define MBEDTLS_GCM_C
#define MBEDTLS_CHACHA20_C
#define MBEDTLS_POLY1305_C
#define MBEDTLS_CHACHAPOLY_C
#define MBEDTLS_CIPHER_C
#define MBEDTLS_MD_C
#define MBEDTLS_SHA256_C
#define MBEDTLS_SHA512_C /* SHA-384 for the *_SHA384 suites and certificates */
#define MBEDTLS_SHA1_C   /* X.509 only: older CA certificates are signed with it */

/* ---- Public keys --------------------------------------------------------- */
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_ECP_C
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_DP_SECP384R1_ENABLED
#define MBEDTLS_ECP_DP_CURVE25519_ENABLED
#define MBEDTLS_ECP_NIST_OPTIM
#define MBEDTLS_ECP_WINDOW_SIZE 4
#define MBEDTLS_ECP_FIXED_POINT_OPTIM 1
#define MBEDTLS_ECDH_C
#define MBEDTLS_ECDSA_C
#define MBEDTLS_RSA_C
#define MBEDTLS_PKCS1_V15
#define MBEDTLS_PKCS1_V21
#define MBEDTLS_MPI_MAX_SIZE 512 /* RSA keys up to 4096 bits */
#define MBEDTLS_MPI_WINDOW_SIZE 2
#define MBEDTLS_PK_C
#define MBEDTLS_PK_PARSE_C
#define MBEDTLS_PK_PARSE_EC_EXTENDED
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C /* ECDSA signatures */
#define MBEDTLS_OID_C
#define MBEDTLS_PEM_PARSE_C
#define MBEDTLS_BASE64_C

/* ---- X.509 --------------------------------------------------------------- */
#define MBEDTLS_X509_USE_C
#define MBEDTLS_X509_CRT_PARSE_C
#define MBEDTLS_X509_CHECK_KEY_USAGE
#define MBEDTLS_X509_CHECK_EXTENDED_KEY_USAGE
#define MBEDTLS_X509_MAX_INTERMEDIATE_CA 8

/* ---- TLS ----------------------------------------------------------------- */
#define MBEDTLS_SSL_TLS_C
#define MBEDTLS_SSL_SRV_C
#define MBEDTLS_SSL_CLI_C
#define MBEDTLS_SSL_PROTO_TLS1_2
#define MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA_ENABLED
#define MBEDTLS_KEY_EXCHANGE_ECDHE_RSA_ENABLED
#define MBEDTLS_SSL_SERVER_NAME_INDICATION /* the leaf client sends SNI */
#define MBEDTLS_SSL_EXTENDED_MASTER_SECRET
#define MBEDTLS_SSL_ENCRYPT_THEN_MAC
#define MBEDTLS_SSL_MAX_FRAGMENT_LENGTH
/* The peer's certificate is verified during the handshake and not kept
 * afterwards: a few KiB less per session. */
#undef MBEDTLS_SSL_KEEP_PEER_CERTIFICATE
/* Records: a peer may send full 16 KiB records (no client negotiates a
 * smaller maximum), so the input buffer stays at the maximum; the output
 * buffer only bounds the records we write and is smaller. */
#define MBEDTLS_SSL_IN_CONTENT_LEN 16384
#define MBEDTLS_SSL_OUT_CONTENT_LEN 4096
#define MBEDTLS_SSL_CIPHERSUITES                                                                   \
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,                                               \
        MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,                                             \
        MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,                                           \
        MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,                                             \
        MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,                                     \
        MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256

/* ---- Diagnostics --------------------------------------------------------- */
#define MBEDTLS_ERROR_C /* mbedtls_strerror for log lines */

#include "mbedtls/check_config.h"

#endif
