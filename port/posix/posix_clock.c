/* The POSIX monotonic clock (port.h ne_port_now_ms). Alone in its file: a
 * unit test that drives the simulated network links port/sim's clock
 * instead (ne_sim_clock.c), and this object is then never pulled from the
 * library. */
#include <time.h>

#include "port.h"

uint64_t ne_port_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
