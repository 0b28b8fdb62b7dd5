#include "core/ne_error.h"

const char *ne_err_name(int err)
{
    switch (err) {
    case NE_OK:
        return "ok";
    case NE_ERR_NOMEM:
        return "pool exhausted";
    case NE_ERR_INVALID:
        return "invalid";
    case NE_ERR_WOULD_BLOCK:
        return "would block";
    case NE_ERR_CLOSED:
        return "closed";
    case NE_ERR_IO:
        return "i/o error";
    case NE_ERR_TOO_BIG:
        return "too big";
    case NE_ERR_NOT_FOUND:
        return "not found";
    case NE_ERR_CORRUPT:
        return "corrupt";
    case NE_ERR_EXISTS:
        return "exists";
    case NE_ERR_FULL:
        return "full";
    case NE_ERR_PARSE:
        return "parse error";
    case NE_ERR_UNSUPPORTED:
        return "unsupported";
    case NE_ERR_PERMISSION:
        return "permission denied";
    case NE_ERR_TIMEOUT:
        return "timeout";
    case NE_ERR_POWER_LOSS:
        return "power loss";
    case NE_ERR_RANGE:
        return "out of range";
    case NE_ERR_REFUSED:
        return "connection refused";
    case NE_ERR_UNREACHABLE:
        return "host unreachable";
    default:
        return "unknown error";
    }
}
