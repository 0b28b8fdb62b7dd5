/* POSIX implementations of the process-wide port functions: wall clock,
 * entropy and assertion failure. The monotonic clock is in posix_clock.c, on
 * its own, so that a test linking the simulated clock (port/sim) takes that
 * one instead. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>
#include <errno.h>
#include <unistd.h>

#include "core/ne_error.h"
#include "port.h"

uint64_t ne_port_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int ne_port_entropy(void *buf, size_t len)
{
    unsigned char *p = buf;
    size_t done = 0;
    /* getrandom may return fewer bytes than asked for large requests or be
     * interrupted; loop a bounded number of times. */
    for (int attempt = 0; attempt < 64 && done < len; attempt++) {
        ssize_t n = getrandom(p + done, len - done, 0);
        if (n > 0) {
            done += (size_t)n;
        } else if (n < 0 && errno != EINTR) {
            return NE_ERR_IO;
        }
    }
    return done == len ? NE_OK : NE_ERR_IO;
}

uint64_t ne_port_memory_bytes(void)
{
    /* /proc/self/statm: size resident ... in pages. */
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL) {
        return 0;
    }
    unsigned long size = 0, resident = 0;
    int n = fscanf(f, "%lu %lu", &size, &resident);
    fclose(f);
    return n == 2 ? (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

uint32_t ne_port_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (uint32_t)n : 1;
}

void ne_port_assert_fail(const char *file, int line, const char *expr)
{
    fprintf(stderr, "[FTL] assertion failed: %s (%s:%d)\n", expr, file, line);
    fflush(stderr);
    abort();
}
