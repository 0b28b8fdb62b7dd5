/* A simulated monotonic clock for tests that drive the simulated network.
 *
 * Linking ne_sim_clock.c gives the process port.h's ne_port_now_ms from here
 * instead of the operating system's: time moves only when the test advances
 * it, so a test of a timer (authentication timeout, PINGs, reconnect delays,
 * lame duck spacing) sees the same instants under ASan, qemu-arm and on a
 * loaded machine. The object is pulled in by a call to any function below;
 * a test binary that calls none of them keeps the POSIX clock.
 *
 * The clock is process-wide, as port.h's clock is: every server of the test
 * process sees the same time. It starts at NE_SIM_CLOCK_START_MS (not 0, so
 * that no deadline computed from it is mistaken for "unset"). */
#ifndef NE_SIM_CLOCK_H
#define NE_SIM_CLOCK_H

#include <stdint.h>

#define NE_SIM_CLOCK_START_MS 1000000u

/* The simulated time in milliseconds (what ne_port_now_ms returns). */
uint64_t ne_sim_clock_now_ms(void);

/* Moves the simulated time forward by `ms`. */
void ne_sim_clock_advance(uint64_t ms);

#endif
