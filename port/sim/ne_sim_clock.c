#include "sim/ne_sim_clock.h"

#include "core/ne_assert.h"
#include "port.h"

/* Process-wide like the port clock it stands for (port.h): one simulated
 * time for every server of the test. */
static uint64_t sim_now_ms = NE_SIM_CLOCK_START_MS;

uint64_t ne_port_now_ms(void)
{
    return sim_now_ms;
}

uint64_t ne_sim_clock_now_ms(void)
{
    return sim_now_ms;
}

void ne_sim_clock_advance(uint64_t ms)
{
    NE_ASSERT(sim_now_ms + ms >= sim_now_ms);
    sim_now_ms += ms;
}
