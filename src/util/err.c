#include "util/err.h"

const char *rs_strerror(int err)
{
    switch (err) {
    case RS_OK: return "ok";
    case RS_EPROTO: return "protocol error";
    case RS_EMORE: return "incomplete input";
    case RS_ENOMEM: return "out of memory";
    case RS_ETOOBIG: return "too large";
    case RS_EAGAIN: return "would block";
    case RS_ECLOSED: return "closed";
    case RS_EIO: return "i/o error";
    case RS_EINVAL: return "invalid argument";
    case RS_ENOTFOUND: return "not found";
    case RS_ETIMEDOUT: return "timed out";
    case RS_EEXIST: return "already exists";
    case RS_EPERM: return "not permitted";
    case RS_EUNAVAIL: return "unavailable";
    case RS_EBUSY: return "busy";
    case RS_EUTF8: return "invalid UTF-8";
    case RS_ENOSPC: return "storage full";
    default: return "unknown error";
    }
}
