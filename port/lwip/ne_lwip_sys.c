/* What lwIP (NO_SYS=1) asks of the system, from natsedge's port functions:
 * its millisecond clock and random numbers. */
#include <stdint.h>

#include "lwip/arch.h"
#include "port.h"

u32_t sys_now(void);

/* lwIP's timers run on the port's monotonic clock; they compare differences,
 * so the wrap of the 32-bit value is harmless. */
u32_t sys_now(void)
{
    return (u32_t)ne_port_now_ms();
}

/* Initial sequence numbers and local ports. On failure the bytes left in
 * `v` are still mixed with the clock: lwIP only needs variety here. */
uint32_t ne_lwip_rand(void)
{
    uint32_t v = 0;
    (void)ne_port_entropy(&v, sizeof(v));
    return v ^ (uint32_t)ne_port_now_ms() * 2654435761u;
}
