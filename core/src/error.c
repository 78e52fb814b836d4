/* Error codes (text and names from PK_ERRNO_MAP) and the error detail kept in the
 * context: code, message and origin, formatted for printing in one place. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core_internal.h"

const char *pk_strerror(int code) {
    switch (code) {
    case 0:
        return "success";
#define PK__ERRNO_TEXT(name, value, text)                                                          \
    case (value):                                                                                  \
        return text;
        PK_ERRNO_MAP(PK__ERRNO_TEXT)
#undef PK__ERRNO_TEXT
    default:
        return "unknown error";
    }
}

const char *pk_err_name(int code) {
    switch (code) {
    case 0:
        return "PK_OK";
#define PK__ERRNO_NAME(name, value, text)                                                          \
    case (value):                                                                                  \
        return "PK_" #name;
        PK_ERRNO_MAP(PK__ERRNO_NAME)
#undef PK__ERRNO_NAME
    default:
        return "PK_UNKNOWN";
    }
}

int pk__set_errorv(pk_ctx *ctx, int code, const char *fmt, va_list ap) {
    if (ctx == NULL)
        return code;
    pk_error_info *e = &ctx->err;
    memset(e, 0, sizeof *e);
    e->code = code;
    snprintf(e->kernel, sizeof e->kernel, "%s", ctx->kernel ? ctx->kernel : "");
    e->rank = -1;
    e->thread = -1;
    e->task = -1;
    if (fmt != NULL)
        vsnprintf(e->message, sizeof e->message, fmt, ap);
    else
        snprintf(e->message, sizeof e->message, "%s", pk_strerror(code));
    return code;
}

int pk__set_error(pk_ctx *ctx, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    pk__set_errorv(ctx, code, fmt, ap);
    va_end(ap);
    return code;
}

/* Notes from callbacks go into the context one at a time. */
static pthread_mutex_t note_mu = PTHREAD_MUTEX_INITIALIZER;

/* Each thread's last note, so that a callback that returns the noted code
 * fails its pool call with the note's reason rather than the code's name. */
static _Thread_local struct {
    const pk_ctx *ctx;
    int code;
    char message[sizeof((pk_error_info *)0)->message];
} last_note;

int pk__ctx_notev(pk_ctx *ctx, int code, const char *fmt, va_list ap) {
    if (ctx == NULL)
        return code;
    pthread_mutex_lock(&note_mu);
    pk__set_errorv(ctx, code, fmt, ap);
    last_note.ctx = ctx;
    last_note.code = code;
    snprintf(last_note.message, sizeof last_note.message, "%s", ctx->err.message);
    pthread_mutex_unlock(&note_mu);
    return code;
}

const char *pk__ctx_take_note(const pk_ctx *ctx, int code) {
    if (last_note.ctx != ctx || last_note.code != code || code == 0)
        return NULL;
    last_note.ctx = NULL;
    return last_note.message;
}

int pk__ctx_note(pk_ctx *ctx, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    pk__ctx_notev(ctx, code, fmt, ap);
    va_end(ap);
    return code;
}

int pk_ctx_fail(pk_ctx *ctx, int code, const char *fmt, ...) {
    if (ctx == NULL)
        return code;
    va_list ap;
    va_start(ap, fmt);
    pk__set_errorv(ctx, code, fmt, ap);
    va_end(ap);
    return code;
}

const pk_error_info *pk_ctx_error(const pk_ctx *ctx) {
    return &ctx->err;
}

void pk_ctx_clear_error(pk_ctx *ctx) {
    memset(&ctx->err, 0, sizeof ctx->err);
    ctx->err.rank = ctx->err.thread = -1;
    ctx->err.task = -1;
}

/* "kernel: rank R, thread T, task I: message", leaving out what is unknown. */
size_t pk_ctx_error_string(const pk_ctx *ctx, char *buf, size_t len) {
    const pk_error_info *e = &ctx->err;
    char origin[160] = "";
    size_t o = 0;
    if (e->rank >= 0)
        o += (size_t)snprintf(origin + o, sizeof origin - o, "rank %d", e->rank);
    if (e->thread >= 0 && o < sizeof origin)
        o += (size_t)snprintf(origin + o, sizeof origin - o, "%sthread %d", o ? ", " : "",
                              e->thread);
    if (e->task >= 0 && o < sizeof origin)
        snprintf(origin + o, sizeof origin - o, "%stask %lld", o ? ", " : "", (long long)e->task);
    const char *msg = e->message[0] ? e->message : pk_strerror(e->code);
    int n;
    if (e->kernel[0] && origin[0])
        n = snprintf(buf, len, "%s: %s: %s", e->kernel, origin, msg);
    else if (e->kernel[0])
        n = snprintf(buf, len, "%s: %s", e->kernel, msg);
    else if (origin[0])
        n = snprintf(buf, len, "%s: %s", origin, msg);
    else
        n = snprintf(buf, len, "%s", msg);
    return n < 0 ? 0 : (size_t)n;
}
