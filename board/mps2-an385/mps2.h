/* The MPS2 AN385 board (Cortex-M3 at 25 MHz) as QEMU's -machine mps2-an385
 * models it: the peripherals this firmware uses and the board's services to
 * the rest of the firmware. */
#ifndef NE_MPS2_H
#define NE_MPS2_H

#include <stddef.h>
#include <stdint.h>

#define MPS2_CPU_HZ 25000000u

#define MPS2_REG(addr) (*(volatile uint32_t *)(addr))

/* CMSDK APB UART0: the console (QEMU's serial0). */
#define MPS2_UART0_BASE 0x40004000u
/* SMSC LAN9118 Ethernet controller. */
#define MPS2_LAN9118_BASE 0x40200000u
/* SysTick, in the System Control Space. */
#define MPS2_SYST_CSR 0xE000E010u
#define MPS2_SYST_RVR 0xE000E014u
#define MPS2_SYST_CVR 0xE000E018u

/* Starts the millisecond SysTick and the console UART. */
void mps2_board_init(void);

/* Writes bytes to the console, blocking while the UART is full. */
void mps2_console_write(const char *text, size_t len);

/* Milliseconds since mps2_board_init. */
uint64_t mps2_now_ms(void);

/* Mixes an event's timing into the entropy pool (frame arrivals). */
void mps2_entropy_stir(uint32_t sample);

/* Sleeps until the next interrupt (SysTick at most 1 ms away). */
void mps2_wait_for_interrupt(void);

#endif
