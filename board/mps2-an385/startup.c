/* Cortex-M3 start-up: the vector table, the reset handler that lays out
 * memory (copies .data from flash, clears .bss) and calls main, and fault
 * handlers that report on the console and stop. */
#include <stdint.h>
#include <string.h>

#include "mps2.h"

extern uint32_t __stack_top;
extern uint32_t __data_load;
extern uint32_t __data_start;
extern uint32_t __data_end;
extern uint32_t __bss_start;
extern uint32_t __bss_end;

int main(void);
void Reset_Handler(void);
void SysTick_Handler(void);
void Fault_Handler(void);
void Default_Handler(void);

void Reset_Handler(void)
{
    size_t data_bytes = (size_t)((uint8_t *)&__data_end - (uint8_t *)&__data_start);
    memcpy(&__data_start, &__data_load, data_bytes);
    size_t bss_bytes = (size_t)((uint8_t *)&__bss_end - (uint8_t *)&__bss_start);
    memset(&__bss_start, 0, bss_bytes);
    (void)main();
    for (;;) {
        mps2_wait_for_interrupt();
    }
}

/* Reports the faulting PC and the fault status registers, then stops. */
void mps2_fault_report(const uint32_t *frame);
void mps2_fault_report(const uint32_t *frame)
{
    static const char hex[] = "0123456789abcdef";
    const uint32_t values[4] = {frame[6], frame[5], MPS2_REG(0xE000ED28u), MPS2_REG(0xE000ED38u)};
    char text[] = "\r\n[FTL] CPU fault pc=00000000 lr=00000000 cfsr=00000000 bfar=00000000\r\n";
    static const uint8_t at[4] = {21, 33, 47, 61};
    for (int v = 0; v < 4; v++) {
        for (int d = 0; d < 8; d++) {
            text[at[v] + d] = hex[(values[v] >> (28 - 4 * d)) & 0xFu];
        }
    }
    mps2_console_write(text, sizeof(text) - 1);
    for (;;) {
    }
}

/* The exception frame is on the main or the process stack (EXC_RETURN). */
__attribute__((naked)) void Fault_Handler(void)
{
    __asm__ volatile("tst lr, #4\n"
                     "ite eq\n"
                     "mrseq r0, msp\n"
                     "mrsne r0, psp\n"
                     "b mps2_fault_report\n");
}

void Default_Handler(void)
{
    for (;;) {
    }
}

/* 16 system vectors and the AN385's 32 interrupts (none used: the NIC and
 * the UART are polled). */
#define MPS2_VECTORS (16 + 32)

typedef void (*mps2_vector)(void);

__attribute__((section(".vectors"), used)) const mps2_vector mps2_vector_table[MPS2_VECTORS] = {
    [0] = (mps2_vector)(uintptr_t)&__stack_top,
    [1] = Reset_Handler,
    [2] = Fault_Handler,    /* NMI */
    [3] = Fault_Handler,    /* HardFault */
    [4] = Fault_Handler,    /* MemManage */
    [5] = Fault_Handler,    /* BusFault */
    [6] = Fault_Handler,    /* UsageFault */
    [11] = Default_Handler, /* SVCall */
    [12] = Default_Handler, /* DebugMon */
    [14] = Default_Handler, /* PendSV */
    [15] = SysTick_Handler,
    [16 ... MPS2_VECTORS - 1] = Default_Handler,
};
