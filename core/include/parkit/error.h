/* parkit error codes.
 *
 * Every fallible parkit function returns an int: 0 on success, a negative
 * pk_errno on failure. One X-macro list generates the enum, pk_strerror() and
 * pk_err_name(), so a code, its name and its text cannot drift apart. Detail
 * (message and origin: kernel, rank, thread, task) lives in the context; see
 * pk_ctx_error() in parkit/context.h. */
#ifndef PARKIT_ERROR_H
#define PARKIT_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

#define PK_ERRNO_MAP(XX)                                                                           \
    XX(EINVAL, -1, "invalid argument")                                                             \
    XX(ENOMEM, -2, "out of memory")                                                                \
    XX(EOVERFLOW, -3, "value too large for the result type")                                       \
    XX(ERANGE, -4, "value out of range")                                                           \
    XX(EINJECTED, -5, "injected fault")                                                            \
    XX(EVALIDATE, -6, "validation failed")                                                         \
    XX(ECLOSED, -7, "channel closed")                                                              \
    XX(EABORTED, -8, "stopped because another worker failed")                                      \
    XX(EAGAIN, -9, "resource temporarily unavailable")                                             \
    XX(ENOTSUP, -10, "not supported by this backend")                                              \
    XX(EBACKEND, -11, "backend failure")                                                           \
    XX(EIO, -12, "input/output error")                                                             \
    XX(ECALLBACK, -13, "user callback failed")                                                     \
    XX(ENOENT, -14, "no such backend")                                                             \
    XX(EPERM, -15, "operation not permitted")                                                      \
    XX(ETIMEDOUT, -16, "timed out")                                                                \
    XX(ECANCELED, -17, "cancelled")                                                                \
    XX(EBUSY, -18, "already started")                                                              \
    XX(EINTR, -19, "interrupted")

enum pk_errno {
    PK_OK = 0,
#define PK__ERRNO_ENUM(name, value, text) PK_##name = (value),
    PK_ERRNO_MAP(PK__ERRNO_ENUM)
#undef PK__ERRNO_ENUM
};

/* Text for a code ("invalid argument"); "unknown error" for a code not in the list. */
const char *pk_strerror(int code);

/* Name of a code ("PK_EINVAL"); "PK_UNKNOWN" for a code not in the list. */
const char *pk_err_name(int code);

#ifdef __cplusplus
}
#endif

#endif
