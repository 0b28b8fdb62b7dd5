/* Headers, times, durations, names and subject overlap for JetStream
 * (ne_js_int.h). */
#include "js/ne_js_int.h"

#if NE_FEATURE_JETSTREAM

#include <string.h>

#include "core/ne_subject.h"

/* The first "\r\n<name>:" line, as nats-server's getHeader: the name is
 * matched exactly, spaces before the value skipped, the value runs to the
 * line's end. */
bool ne_js_hdr_get(const uint8_t *hdr, uint32_t len, const char *name, ne_slice *value)
{
    size_t n = strlen(name);
    if (hdr == NULL || len < n + 3) {
        return false;
    }
    const char *h = (const char *)hdr;
    /* Bounded by the block's length. */
    for (uint32_t i = 2; i + n < len; i++) {
        if (h[i - 2] != '\r' || h[i - 1] != '\n' || h[i + n] != ':' ||
            memcmp(h + i, name, n) != 0) {
            continue;
        }
        uint32_t v = i + (uint32_t)n + 1;
        while (v < len && h[v] == ' ') {
            v++;
        }
        uint32_t end = v;
        while (end < len && !(h[end] == '\r' && end + 1 < len && h[end + 1] == '\n')) {
            end++;
        }
        *value = (ne_slice){h + v, end - v};
        return true;
    }
    return false;
}

static bool digits(const char *s, size_t n, uint32_t *out)
{
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        v = v * 10u + (uint32_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, uint32_t m, uint32_t d)
{
    y -= m <= 2 ? 1 : 0;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    uint32_t yoe = (uint32_t)(y - era * 400);
    uint32_t doy = (153u * (m + (m > 2 ? (uint32_t)-3 : 9u)) + 2u) / 5u + d - 1u;
    uint32_t doe = yoe * 365u + yoe / 4u - yoe / 100u + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

bool ne_js_parse_time(const char *t, size_t len, uint64_t *unix_ns)
{
    uint32_t y, mo, d, h, mi, s;
    if (len < 20 || t[4] != '-' || t[7] != '-' || (t[10] != 'T' && t[10] != 't') || t[13] != ':' ||
        t[16] != ':' || !digits(t, 4, &y) || !digits(t + 5, 2, &mo) || !digits(t + 8, 2, &d) ||
        !digits(t + 11, 2, &h) || !digits(t + 14, 2, &mi) || !digits(t + 17, 2, &s) || mo < 1 ||
        mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) {
        return false;
    }
    size_t i = 19;
    uint64_t frac_ns = 0;
    if (i < len && t[i] == '.') {
        i++;
        uint64_t scale = 100000000u;
        size_t start = i;
        while (i < len && t[i] >= '0' && t[i] <= '9') {
            frac_ns += (uint64_t)(t[i] - '0') * scale;
            scale /= 10u;
            i++;
        }
        if (i == start) {
            return false;
        }
    }
    int64_t offset_s = 0;
    if (i < len && (t[i] == 'Z' || t[i] == 'z')) {
        i++;
    } else if (i + 6 == len && (t[i] == '+' || t[i] == '-') && t[i + 3] == ':') {
        uint32_t oh, om;
        if (!digits(t + i + 1, 2, &oh) || !digits(t + i + 4, 2, &om) || oh > 23 || om > 59) {
            return false;
        }
        offset_s = (int64_t)(oh * 3600u + om * 60u) * (t[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        return false;
    }
    if (i != len) {
        return false;
    }
    int64_t secs =
        days_from_civil(y, mo, d) * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 + s - offset_s;
    if (secs < 0) {
        *unix_ns = 0;
        return true;
    }
    *unix_ns = (uint64_t)secs * 1000000000u + frac_ns;
    return true;
}

/* Go's time.ParseDuration: [-+]? then one or more <number><unit>, units
 * ns, us (µs), ms, s, m, h; "0" alone is zero. Integers only: a fraction
 * is taken to the nanosecond. */
bool ne_js_parse_duration(const char *t, size_t len, int64_t *ns)
{
    const uint64_t limit = (uint64_t)INT64_MAX;
    size_t i = 0;
    bool negative = false;
    if (i < len && (t[i] == '-' || t[i] == '+')) {
        negative = t[i] == '-';
        i++;
    }
    if (i == len) {
        return false;
    }
    if (len - i == 1 && t[i] == '0') {
        *ns = 0;
        return true;
    }
    uint64_t total = 0;
    /* Bounded by len: each pass consumes at least two characters. */
    while (i < len) {
        uint64_t whole = 0, frac = 0, scale = 1;
        size_t start = i;
        while (i < len && t[i] >= '0' && t[i] <= '9') {
            if (whole > (limit - 9) / 10) {
                return false;
            }
            whole = whole * 10 + (uint64_t)(t[i] - '0');
            i++;
        }
        bool had_whole = i > start;
        bool had_frac = false;
        if (i < len && t[i] == '.') {
            i++;
            while (i < len && t[i] >= '0' && t[i] <= '9') {
                if (scale < 1000000000000000000ull) {
                    frac = frac * 10 + (uint64_t)(t[i] - '0');
                    scale *= 10;
                }
                had_frac = true;
                i++;
            }
        }
        if (!had_whole && !had_frac) {
            return false;
        }
        size_t u = i;
        while (i < len && !(t[i] >= '0' && t[i] <= '9') && t[i] != '.') {
            i++;
        }
        size_t ulen = i - u;
        uint64_t unit;
        if (ulen == 2 && memcmp(t + u, "ns", 2) == 0) {
            unit = 1;
        } else if ((ulen == 2 && memcmp(t + u, "us", 2) == 0) ||
                   (ulen == 3 && memcmp(t + u, "\xc2\xb5s", 3) == 0)) {
            unit = 1000u;
        } else if (ulen == 2 && memcmp(t + u, "ms", 2) == 0) {
            unit = 1000000u;
        } else if (ulen == 1 && t[u] == 's') {
            unit = 1000000000u;
        } else if (ulen == 1 && t[u] == 'm') {
            unit = 60000000000ull;
        } else if (ulen == 1 && t[u] == 'h') {
            unit = 3600000000000ull;
        } else {
            return false;
        }
        if (whole > limit / unit) {
            return false;
        }
        uint64_t part = whole * unit;
        /* The fraction: frac / scale of a unit, to the nanosecond. */
        uint64_t f = frac;
        uint64_t sc = scale;
        while (f > limit / unit) {
            f /= 10;
            sc /= 10;
        }
        part += sc > 0 ? f * unit / sc : 0;
        if (part > limit - total) {
            return false;
        }
        total += part;
    }
    *ns = negative ? -(int64_t)total : (int64_t)total;
    return true;
}

bool ne_js_name_valid(const char *name, size_t len)
{
    if (len == 0) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '.' || c == '*' ||
            c == '>') {
            return false;
        }
    }
    return true;
}

bool ne_js_has_path_separator(const char *name, size_t len)
{
    return memchr(name, '/', len) != NULL || memchr(name, '\\', len) != NULL;
}

/* The token of s starting at *pos (advanced past it and its dot). */
static ne_slice next_token(ne_slice s, uint32_t *pos)
{
    uint32_t start = *pos;
    uint32_t i = start;
    while (i < s.len && s.ptr[i] != '.') {
        i++;
    }
    *pos = i + 1;
    return (ne_slice){s.ptr + start, i - start};
}

static bool is_pwc(ne_slice t)
{
    return t.len == 1 && t.ptr[0] == '*';
}

static bool is_fwc(ne_slice t)
{
    return t.len == 1 && t.ptr[0] == '>';
}

bool ne_js_subject_is_literal(ne_slice s)
{
    uint32_t pos = 0;
    while (pos <= s.len) {
        ne_slice t = next_token(s, &pos);
        if (is_pwc(t) || is_fwc(t)) {
            return false;
        }
    }
    return true;
}

/* nats-server's SubjectsCollide. */
bool ne_js_subjects_collide(ne_slice a, ne_slice b)
{
    if (a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0) {
        return true;
    }
    bool la = ne_js_subject_is_literal(a), lb = ne_js_subject_is_literal(b);
    if (la && lb) {
        return false;
    }
    if (la) {
        return ne_subject_matches(b.ptr, b.len, a.ptr, a.len);
    }
    if (lb) {
        return ne_subject_matches(a.ptr, a.len, b.ptr, b.len);
    }
    size_t ta = ne_subject_token_count(a.ptr, a.len), tb = ne_subject_token_count(b.ptr, b.len);
    bool fa = a.len >= 1 && a.ptr[a.len - 1] == '>' && (a.len == 1 || a.ptr[a.len - 2] == '.');
    bool fb = b.len >= 1 && b.ptr[b.len - 1] == '>' && (b.len == 1 || b.ptr[b.len - 2] == '.');
    if (ta != tb && ((ta < tb && !fa) || (tb < ta && !fb))) {
        return false;
    }
    uint32_t pa = 0, pb = 0;
    size_t stop = ta < tb ? ta : tb;
    for (size_t i = 0; i < stop; i++) {
        ne_slice x = next_token(a, &pa), y = next_token(b, &pb);
        if (x.len == 0 || y.len == 0) {
            return false;
        }
        if (is_pwc(x) || is_fwc(x) || is_pwc(y) || is_fwc(y)) {
            continue;
        }
        if (x.len != y.len || memcmp(x.ptr, y.ptr, x.len) != 0) {
            return false;
        }
    }
    return true;
}

#endif /* NE_FEATURE_JETSTREAM */
