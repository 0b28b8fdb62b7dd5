/* The board's services: SysTick clock, console UART, and natsedge's
 * process-wide port functions (port/port.h) for a bare-metal Cortex-M3. */
#include <stdarg.h>
#include <string.h>

#include "arch/cc.h"
#include "board_conf.h"
#include "core/ne_error.h"
#include "core/ne_fmt.h"
#include "mps2.h"
#include "port.h"
#if NE_BOARD_ED25519
#include "sodium/ne_sodium_ed25519.h"
#endif

/* CMSDK UART registers. */
#define UART_DATA (MPS2_UART0_BASE + 0x00u)
#define UART_STATE (MPS2_UART0_BASE + 0x04u)
#define UART_CTRL (MPS2_UART0_BASE + 0x08u)
#define UART_BAUDDIV (MPS2_UART0_BASE + 0x10u)
#define UART_STATE_TX_FULL 0x1u
#define UART_CTRL_TX_EN 0x1u
#define UART_BAUD 115200u

/* Bounded wait for the UART: a stuck transmitter drops bytes, never hangs. */
#define UART_STALL_MS 500u
#define UART_SPIN_BACKSTOP 20000000u

static volatile uint32_t systick_ms_low;
static volatile uint32_t systick_ms_high;
static uint64_t entropy_state;

void SysTick_Handler(void);

void SysTick_Handler(void)
{
    uint32_t next = systick_ms_low + 1u;
    if (next == 0u) {
        systick_ms_high++;
    }
    systick_ms_low = next;
}

void mps2_board_init(void)
{
    MPS2_REG(UART_BAUDDIV) = MPS2_CPU_HZ / UART_BAUD;
    MPS2_REG(UART_CTRL) = UART_CTRL_TX_EN;
    MPS2_REG(MPS2_SYST_RVR) = MPS2_CPU_HZ / 1000u - 1u;
    MPS2_REG(MPS2_SYST_CVR) = 0;
    MPS2_REG(MPS2_SYST_CSR) = 0x7u; /* processor clock, interrupt, enable */
}

void mps2_console_write(const char *text, size_t len)
{
    /* A transmitter that stays full for UART_STALL_MS of board time in one
     * write drops the rest of it: a slow reader of the console (QEMU's
     * chardev behind a busy host) delays lines, a stuck one never hangs the
     * loop. Counting spins instead dropped the ends of lines under load. */
    uint64_t deadline = 0;
    for (size_t i = 0; i < len; i++) {
        for (uint32_t spin = 0; (MPS2_REG(UART_STATE) & UART_STATE_TX_FULL) != 0u; spin++) {
            if (spin > UART_SPIN_BACKSTOP) {
                return; /* the clock does not run (a fault handler) */
            }
            if (spin % 1024u != 1023u) {
                continue;
            }
            uint64_t now = mps2_now_ms();
            if (deadline == 0) {
                deadline = now + UART_STALL_MS;
            } else if (now > deadline) {
                return;
            }
        }
        MPS2_REG(UART_DATA) = (uint8_t)text[i];
    }
}

uint64_t mps2_now_ms(void)
{
    /* The interrupt may carry between the two reads: read until stable. */
    for (;;) {
        uint32_t high = systick_ms_high;
        uint32_t low = systick_ms_low;
        if (high == systick_ms_high) {
            return ((uint64_t)high << 32) | low;
        }
    }
}

void mps2_wait_for_interrupt(void)
{
    __asm__ volatile("wfi");
}

/* splitmix64 step: the pool's state advances and mixes. */
static uint64_t entropy_next(void)
{
    uint64_t z = (entropy_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void mps2_entropy_stir(uint32_t sample)
{
    entropy_state ^= ((uint64_t)sample << 32) | MPS2_REG(MPS2_SYST_CVR);
    (void)entropy_next();
}

uint64_t ne_port_now_ms(void)
{
    return mps2_now_ms();
}

/* No real-time clock on the board: wall time is time since boot. */
uint64_t ne_port_wall_ns(void)
{
    return mps2_now_ms() * 1000000ull;
}

/* The AN385 has no hardware random number generator. The pool mixes the
 * SysTick phase at each call and the timing of received frames; good
 * enough for server IDs and lwIP's sequence numbers, NOT for keys or nonces
 * that must resist an attacker (a real board uses its TRNG here). */
int ne_port_entropy(void *buf, size_t len)
{
    uint8_t *out = buf;
    mps2_entropy_stir(systick_ms_low);
    for (size_t i = 0; i < len; i += 8) {
        uint64_t v = entropy_next();
        size_t n = len - i < 8 ? len - i : 8;
        memcpy(out + i, &v, n);
    }
    return NE_OK;
}

#if NE_BOARD_ED25519
/* NKey signatures and a leaf remote's credentials: libsodium's reference
 * ed25519 compiled into the image (port/sodium). */
int ne_port_ed25519_verify(const uint8_t sig[64], const uint8_t *msg, size_t len,
                           const uint8_t public_key[32])
{
    return ne_sodium_ed25519_verify(sig, msg, len, public_key);
}

int ne_port_ed25519_sign(uint8_t sig[64], const uint8_t *msg, size_t len, const uint8_t seed[32])
{
    return ne_sodium_ed25519_sign(sig, msg, len, seed);
}
#else
/* NKey signatures need ed25519, built only where NE_BOARD_ED25519 says so
 * (port/sodium, tiny-js). */
int ne_port_ed25519_verify(const uint8_t sig[64], const uint8_t *msg, size_t len,
                           const uint8_t public_key[32])
{
    (void)sig;
    (void)msg;
    (void)len;
    (void)public_key;
    return NE_ERR_UNSUPPORTED;
}

int ne_port_ed25519_sign(uint8_t sig[64], const uint8_t *msg, size_t len, const uint8_t seed[32])
{
    (void)sig;
    (void)msg;
    (void)len;
    (void)seed;
    return NE_ERR_UNSUPPORTED;
}
#endif

/* Everything is static: the RAM in use is the image's data, bss and stack. */
uint64_t ne_port_memory_bytes(void)
{
    extern uint32_t __ram_start;
    extern uint32_t __stack_top;
    return (uint64_t)((uint8_t *)&__stack_top - (uint8_t *)&__ram_start);
}

uint32_t ne_port_cpu_count(void)
{
    return 1;
}

void ne_port_assert_fail(const char *file, int line, const char *expr)
{
    char text[160];
    size_t n =
        ne_fmt(text, sizeof(text), "[FTL] assertion failed: %s (%s:%d)\r\n", expr, file, line);
    mps2_console_write(text, n < sizeof(text) ? n : sizeof(text) - 1);
    __asm__ volatile("cpsid i");
    for (;;) {
        mps2_wait_for_interrupt();
    }
}

void ne_lwip_diag(const char *fmt, ...)
{
    char text[128];
    ne_strbuf sb;
    ne_strbuf_init(&sb, text, sizeof(text));
    va_list ap;
    va_start(ap, fmt);
    ne_strbuf_vprintf(&sb, fmt, ap);
    va_end(ap);
    mps2_console_write(text, sb.len);
}
