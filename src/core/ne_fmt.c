#include "core/ne_fmt.h"

#include <string.h>

#include "core/ne_error.h"

void ne_strbuf_append(ne_strbuf *sb, const void *bytes, size_t len)
{
    if (sb->cap == 0) {
        sb->truncated = sb->truncated || len > 0;
        return;
    }
    size_t room = sb->cap - 1 - sb->len;
    if (len > room) {
        len = room;
        sb->truncated = true;
    }
    memcpy(sb->data + sb->len, bytes, len);
    sb->len += len;
    sb->data[sb->len] = '\0';
}

void ne_strbuf_puts(ne_strbuf *sb, const char *text)
{
    ne_strbuf_append(sb, text, strlen(text));
}

void ne_strbuf_putc(ne_strbuf *sb, char c)
{
    ne_strbuf_append(sb, &c, 1);
}

/* Two digits per division: the sizes and sequence numbers it formats sit on
 * the delivery path. */
size_t ne_fmt_u64(char *out, size_t cap, uint64_t value)
{
    static const char pairs[201] = "00010203040506070809"
                                   "10111213141516171819"
                                   "20212223242526272829"
                                   "30313233343536373839"
                                   "40414243444546474849"
                                   "50515253545556575859"
                                   "60616263646566676869"
                                   "70717273747576777879"
                                   "80818283848586878889"
                                   "90919293949596979899";
    char tmp[20];
    size_t pos = sizeof(tmp);
    while (value >= 100) {
        uint32_t two = (uint32_t)(value % 100);
        value /= 100;
        pos -= 2;
        tmp[pos] = pairs[two * 2];
        tmp[pos + 1] = pairs[two * 2 + 1];
    }
    if (value >= 10) {
        pos -= 2;
        tmp[pos] = pairs[value * 2];
        tmp[pos + 1] = pairs[value * 2 + 1];
    } else {
        tmp[--pos] = (char)('0' + value);
    }
    size_t n = sizeof(tmp) - pos;
    if (n > cap) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        out[i] = tmp[pos + i];
    }
    return n;
}

void ne_strbuf_u64(ne_strbuf *sb, uint64_t value)
{
    char digits[20];
    ne_strbuf_append(sb, digits, ne_fmt_u64(digits, sizeof(digits), value));
}

void ne_strbuf_i64(ne_strbuf *sb, int64_t value)
{
    if (value < 0) {
        ne_strbuf_putc(sb, '-');
        ne_strbuf_u64(sb, (uint64_t)0 - (uint64_t)value);
    } else {
        ne_strbuf_u64(sb, (uint64_t)value);
    }
}

static void put_padded(ne_strbuf *sb, const char *digits, size_t n, bool negative, int width,
                       bool zero_pad)
{
    size_t total = n + (negative ? 1 : 0);
    if (!zero_pad) {
        for (size_t i = total; (int)i < width; i++) {
            ne_strbuf_putc(sb, ' ');
        }
    }
    if (negative) {
        ne_strbuf_putc(sb, '-');
    }
    if (zero_pad) {
        for (size_t i = total; (int)i < width; i++) {
            ne_strbuf_putc(sb, '0');
        }
    }
    ne_strbuf_append(sb, digits, n);
}

static size_t fmt_hex(char *out, uint64_t value, bool upper)
{
    const char *hex = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[16];
    size_t n = 0;
    do {
        tmp[n++] = hex[value & 0xf];
        value >>= 4;
    } while (value != 0);
    for (size_t i = 0; i < n; i++) {
        out[i] = tmp[n - 1 - i];
    }
    return n;
}

/* A small printf: one pass over the format, each conversion bounded by the
 * builder, so a long argument can never overrun the caller's buffer. */
void ne_strbuf_vprintf(ne_strbuf *sb, const char *fmt, va_list ap)
{
    for (const char *p = fmt; *p != '\0'; p++) {
        if (*p != '%') {
            const char *run = p;
            while (p[1] != '\0' && p[1] != '%') {
                p++;
            }
            ne_strbuf_append(sb, run, (size_t)(p - run) + 1);
            continue;
        }
        p++;
        bool zero_pad = false;
        bool left = false;
        int width = 0;
        int precision = -1;
        if (*p == '-') {
            left = true;
            p++;
        }
        if (*p == '0') {
            zero_pad = true;
            p++;
        }
        if (*p == '*') {
            width = va_arg(ap, int);
            p++;
        }
        while (*p >= '0' && *p <= '9') {
            width = width * 10 + (*p - '0');
            p++;
        }
        if (*p == '.' && p[1] == '*') {
            precision = va_arg(ap, int);
            p += 2;
        }
        int longs = 0;
        bool size_t_arg = false;
        while (*p == 'l') {
            longs++;
            p++;
        }
        if (*p == 'z') {
            size_t_arg = true;
            p++;
        }
        char digits[24];
        switch (*p) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (s == NULL) {
                s = "(null)";
            }
            size_t n = precision >= 0 ? (size_t)precision : strlen(s);
            if (precision >= 0) {
                const void *nul = memchr(s, '\0', n);
                if (nul != NULL) {
                    n = (size_t)((const char *)nul - s);
                }
            }
            for (size_t i = n; !left && (int)i < width; i++) {
                ne_strbuf_putc(sb, ' ');
            }
            ne_strbuf_append(sb, s, n);
            for (size_t i = n; left && (int)i < width; i++) {
                ne_strbuf_putc(sb, ' ');
            }
            break;
        }
        case 'c':
            ne_strbuf_putc(sb, (char)va_arg(ap, int));
            break;
        case 'd':
        case 'i': {
            int64_t v = longs >= 2   ? va_arg(ap, long long)
                        : longs == 1 ? va_arg(ap, long)
                        : size_t_arg ? (int64_t)va_arg(ap, size_t)
                                     : va_arg(ap, int);
            uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
            put_padded(sb, digits, ne_fmt_u64(digits, sizeof(digits), mag), v < 0, width, zero_pad);
            break;
        }
        case 'u': {
            uint64_t v = longs >= 2   ? va_arg(ap, unsigned long long)
                         : longs == 1 ? va_arg(ap, unsigned long)
                         : size_t_arg ? va_arg(ap, size_t)
                                      : va_arg(ap, unsigned int);
            put_padded(sb, digits, ne_fmt_u64(digits, sizeof(digits), v), false, width, zero_pad);
            break;
        }
        case 'x':
        case 'X': {
            uint64_t v = longs >= 2   ? va_arg(ap, unsigned long long)
                         : longs == 1 ? va_arg(ap, unsigned long)
                         : size_t_arg ? va_arg(ap, size_t)
                                      : va_arg(ap, unsigned int);
            put_padded(sb, digits, fmt_hex(digits, v, *p == 'X'), false, width, zero_pad);
            break;
        }
        case 'p': {
            uintptr_t v = (uintptr_t)va_arg(ap, void *);
            ne_strbuf_puts(sb, "0x");
            ne_strbuf_append(sb, digits, fmt_hex(digits, v, false));
            break;
        }
        case '%':
            ne_strbuf_putc(sb, '%');
            break;
        case '\0':
            return;
        default:
            ne_strbuf_putc(sb, '%');
            ne_strbuf_putc(sb, *p);
            break;
        }
    }
}

void ne_strbuf_printf(ne_strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ne_strbuf_vprintf(sb, fmt, ap);
    va_end(ap);
}

size_t ne_fmt(char *out, size_t cap, const char *fmt, ...)
{
    ne_strbuf sb;
    ne_strbuf_init(&sb, out, cap);
    va_list ap;
    va_start(ap, fmt);
    ne_strbuf_vprintf(&sb, fmt, ap);
    va_end(ap);
    return sb.truncated ? 0 : sb.len;
}

void ne_strbuf_json_string(ne_strbuf *sb, const char *text, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    ne_strbuf_putc(sb, '"');
    /* Runs of characters that need no escape go in one append. */
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c != '"' && c != '\\' && c >= 0x20) {
            continue;
        }
        ne_strbuf_append(sb, text + run, i - run);
        run = i + 1;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            ne_strbuf_append(sb, esc, 2);
        } else if (c < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};
            ne_strbuf_append(sb, esc, 6);
        }
    }
    ne_strbuf_append(sb, text + run, len - run);
    ne_strbuf_putc(sb, '"');
}

bool ne_parse_u64(const char *text, size_t len, uint64_t max, uint64_t *out)
{
    if (len == 0 || len > 20) {
        return false;
    }
    /* v * 10 + d <= max  <=>  v < max / 10, or v == max / 10 and d <= max % 10. */
    const uint64_t limit = max / 10;
    const uint64_t last = max % 10;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c < '0' || c > '9') {
            return false;
        }
        uint64_t d = (uint64_t)(c - '0');
        if (v > limit || (v == limit && d > last)) {
            return false;
        }
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

int ne_parse_hostport(const char *text, size_t len, char *host, size_t host_cap, uint16_t *port)
{
    const char *colon = NULL;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ':') {
            colon = text + i;
        }
    }
    const char *ptext = colon != NULL ? colon + 1 : text;
    uint64_t p;
    if (!ne_parse_u64(ptext, len - (size_t)(ptext - text), 65535, &p)) {
        return NE_ERR_INVALID;
    }
    if (colon != NULL && colon > text) {
        size_t hlen = (size_t)(colon - text);
        if (hlen >= host_cap) {
            return NE_ERR_RANGE;
        }
        memcpy(host, text, hlen);
        host[hlen] = '\0';
    }
    *port = (uint16_t)p;
    return NE_OK;
}
