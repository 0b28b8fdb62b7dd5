/* The one error enum of natsedge. NE_OK is zero; every failure is negative.
 * A function never returns a count and an error in the same value. */
#ifndef NE_ERROR_H
#define NE_ERROR_H

typedef enum ne_err {
    NE_OK = 0,
    NE_ERR_NOMEM = -1,        /* a static pool or buffer is exhausted */
    NE_ERR_INVALID = -2,      /* bad argument or malformed input */
    NE_ERR_WOULD_BLOCK = -3,  /* no progress possible now; retry on the next event */
    NE_ERR_CLOSED = -4,       /* the peer or the resource is closed */
    NE_ERR_IO = -5,           /* the port reported an I/O failure */
    NE_ERR_TOO_BIG = -6,      /* input exceeds a configured or compiled-in limit */
    NE_ERR_NOT_FOUND = -7,    /* no such item */
    NE_ERR_CORRUPT = -8,      /* stored or received data failed a check (CRC, format) */
    NE_ERR_EXISTS = -9,       /* the item already exists */
    NE_ERR_FULL = -10,        /* a bounded container is full by its limits */
    NE_ERR_PARSE = -11,       /* a syntax error in text input */
    NE_ERR_UNSUPPORTED = -12, /* a feature that is not compiled in or not built yet */
    NE_ERR_PERMISSION = -13,  /* denied by authentication or permissions */
    NE_ERR_TIMEOUT = -14,     /* a deadline passed */
    NE_ERR_POWER_LOSS = -15,  /* (sim) the simulated power was cut during the call */
    NE_ERR_RANGE = -16,       /* a value is outside its allowed range */
    NE_ERR_REFUSED = -17,     /* the peer refused the connection (nothing listens there) */
    NE_ERR_UNREACHABLE = -18, /* no route to the peer's host or network */
} ne_err;

/* A short constant name for an error code, for logs. */
const char *ne_err_name(int err);

#endif
