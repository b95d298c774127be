/* err.h - roost's error codes: one table, all negative, 0 is success.
 *
 * RS_EMORE ("need more bytes") and RS_EAGAIN ("would block") are not failures: the caller
 * feeds more input, or waits for the descriptor, and calls again. */
#ifndef ROOST_UTIL_ERR_H
#define ROOST_UTIL_ERR_H

enum rs_err {
    RS_OK = 0,
    RS_EPROTO = -1,     /* input violates the protocol: the peer is at fault */
    RS_EMORE = -2,      /* incomplete input: call again with more bytes */
    RS_ENOMEM = -3,     /* allocation failed */
    RS_ETOOBIG = -4,    /* a configured size limit was exceeded */
    RS_EAGAIN = -5,     /* would block: wait for readiness */
    RS_ECLOSED = -6,    /* the connection or session is closed */
    RS_EIO = -7,        /* system call failed (see the log for errno) */
    RS_EINVAL = -8,     /* bad argument from the caller (a bug or bad configuration) */
    RS_ENOTFOUND = -9,  /* no such object */
    RS_ETIMEDOUT = -10, /* a deadline passed */
    RS_EEXIST = -11,    /* already exists (unique constraint) */
    RS_EPERM = -12,     /* not allowed */
    RS_EUNAVAIL = -13,  /* a backend (database, Redis) is unavailable */
    RS_EBUSY = -14,     /* rate limited or at capacity: try later */
    RS_EUTF8 = -15,     /* text is not valid UTF-8 */
    RS_ENOSPC = -16,    /* storage is full: writes fail, reads go on */
    RS_ELIMIT_ = -17,   /* sentinel: keep last */
};

/* Human-readable name of an rs_err code ("protocol error"); never NULL. */
const char *rs_strerror(int err);

#endif
