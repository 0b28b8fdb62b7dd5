#include "core/ne_time.h"

/* Days since 1970-01-01 to a civil date (proleptic Gregorian), after Howard
 * Hinnant's well-known algorithm; valid for every date a uint64 of
 * nanoseconds can hold. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t year = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = year + (*m <= 2 ? 1 : 0);
}

void ne_time_rfc3339(ne_strbuf *sb, uint64_t unix_ns)
{
    uint64_t secs = unix_ns / 1000000000u;
    uint32_t nanos = (uint32_t)(unix_ns % 1000000000u);
    int64_t year;
    unsigned month, day;
    civil_from_days((int64_t)(secs / 86400u), &year, &month, &day);
    uint32_t sod = (uint32_t)(secs % 86400u);
    ne_strbuf_printf(sb, "%04lld-%02u-%02uT%02u:%02u:%02u", (long long)year, month, day,
                     sod / 3600u, (sod / 60u) % 60u, sod % 60u);
    if (nanos != 0) {
        /* Go's RFC3339Nano trims trailing zeros of the fraction. */
        char frac[10];
        ne_fmt(frac, sizeof(frac), "%09u", nanos);
        int n = 9;
        while (n > 0 && frac[n - 1] == '0') {
            n--;
        }
        ne_strbuf_printf(sb, ".%.*s", n, frac);
    }
    ne_strbuf_putc(sb, 'Z');
}

/* value / unit with the fraction's trailing zeros trimmed, then the suffix. */
static void put_fraction(ne_strbuf *sb, uint64_t value, uint64_t unit, int digits,
                         const char *suffix)
{
    ne_strbuf_u64(sb, value / unit);
    uint64_t rest = value % unit;
    if (rest != 0) {
        char frac[24];
        ne_fmt(frac, sizeof(frac), "%0*llu", digits, (unsigned long long)rest);
        int n = digits;
        while (n > 0 && frac[n - 1] == '0') {
            n--;
        }
        ne_strbuf_printf(sb, ".%.*s", n, frac);
    }
    ne_strbuf_puts(sb, suffix);
}

void ne_time_go_duration(ne_strbuf *sb, uint64_t ns)
{
    if (ns == 0) {
        ne_strbuf_puts(sb, "0s");
    } else if (ns < 1000u) {
        ne_strbuf_u64(sb, ns);
        ne_strbuf_puts(sb, "ns");
    } else if (ns < 1000000u) {
        put_fraction(sb, ns, 1000u, 3, "\xc2\xb5s");
    } else if (ns < 1000000000u) {
        put_fraction(sb, ns, 1000000u, 6, "ms");
    } else {
        uint64_t secs = ns / 1000000000u;
        uint64_t h = secs / 3600u, m = (secs / 60u) % 60u;
        if (h > 0) {
            ne_strbuf_printf(sb, "%lluh", (unsigned long long)h);
        }
        if (h > 0 || m > 0) {
            ne_strbuf_printf(sb, "%llum", (unsigned long long)m);
        }
        put_fraction(sb, ns % 60000000000ull, 1000000000u, 9, "s");
    }
}

void ne_time_uptime(ne_strbuf *sb, uint64_t ns)
{
    uint64_t s = ns / 1000000000u;
    uint64_t mins = s / 60, hrs = mins / 60, days = hrs / 24, yrs = days / 365;
    if (yrs > 0) {
        ne_strbuf_printf(sb, "%lluy%llud%lluh%llum%llus", (unsigned long long)yrs,
                         (unsigned long long)(days % 365), (unsigned long long)(hrs % 24),
                         (unsigned long long)(mins % 60), (unsigned long long)(s % 60));
    } else if (days > 0) {
        ne_strbuf_printf(sb, "%llud%lluh%llum%llus", (unsigned long long)days,
                         (unsigned long long)(hrs % 24), (unsigned long long)(mins % 60),
                         (unsigned long long)(s % 60));
    } else if (hrs > 0) {
        ne_strbuf_printf(sb, "%lluh%llum%llus", (unsigned long long)hrs,
                         (unsigned long long)(mins % 60), (unsigned long long)(s % 60));
    } else if (mins > 0) {
        ne_strbuf_printf(sb, "%llum%llus", (unsigned long long)mins, (unsigned long long)(s % 60));
    } else {
        ne_strbuf_printf(sb, "%llus", (unsigned long long)s);
    }
}
