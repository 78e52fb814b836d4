/* Fuzz target: the fault-spec parser behind --inject-fault and PARKIT_INJECT
 * ("kernel=K,rank=R,thread=T,task=I,fail=F"). Besides not crashing, it checks that a
 * refused spec gives PK_EINVAL with a message and leaves the armed fault as it
 * was, and that an accepted one, written back as a spec, parses to the same
 * fault. */
#include <inttypes.h>
#include <string.h>

#include "core_internal.h"
#include "fuzz_target.h"
#include "parkit/parkit.h"

static pk_ctx *context(void) {
    static pk_ctx *ctx;
    if (ctx == NULL && pk_ctx_new(&ctx, "serial") != 0)
        abort();
    return ctx;
}

/* The spec that gives f back (the fields it names, comma-separated). */
static void spec_of(const pk__fault *f, char *out, size_t len) {
    int n = 0;
    out[0] = '\0';
    if (f->kernel[0] != '\0')
        n += snprintf(out + n, len - (size_t)n, "kernel=%s,", f->kernel);
    if (f->rank >= 0)
        n += snprintf(out + n, len - (size_t)n, "rank=%d,", f->rank);
    if (f->thread >= 0)
        n += snprintf(out + n, len - (size_t)n, "thread=%d,", f->thread);
    if (f->task >= 0)
        n += snprintf(out + n, len - (size_t)n, "task=%" PRId64 ",", f->task);
    if (f->alloc || n == 0) /* a spec naming no field but fail= is armed too */
        n += snprintf(out + n, len - (size_t)n, "fail=%s,", f->alloc ? "alloc" : "task");
    if (n > 0)
        out[n - 1] = '\0';
}

static int same_fault(const pk__fault *a, const pk__fault *b) {
    return a->armed == b->armed && strcmp(a->kernel, b->kernel) == 0 && a->rank == b->rank &&
           a->thread == b->thread && a->task == b->task && a->alloc == b->alloc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pk_ctx *ctx = context();
    char *spec = fuzz_cstring(data, size);
    if (spec == NULL)
        return 0;
    FUZZ_CHECK(pk_ctx_set_fault(ctx, "kernel=before,rank=1") == 0);
    pk__fault before = ctx->fault;
    int rc = pk_ctx_set_fault(ctx, spec);
    if (rc != 0) {
        FUZZ_CHECK(rc == PK_EINVAL);
        FUZZ_CHECK(pk_ctx_error(ctx)->code == PK_EINVAL && pk_ctx_error(ctx)->message[0] != '\0');
        FUZZ_CHECK(same_fault(&ctx->fault, &before));
    } else if (spec[0] != '\0') {
        pk__fault got = ctx->fault;
        FUZZ_CHECK(got.armed == 1 && got.rank >= -1 && got.thread >= -1 && got.task >= -1);
        char again[128];
        spec_of(&got, again, sizeof again);
        FUZZ_CHECK(again[0] != '\0');
        FUZZ_CHECK(pk_ctx_set_fault(ctx, again) == 0 && same_fault(&ctx->fault, &got));
    } else {
        FUZZ_CHECK(ctx->fault.armed == 0);
    }
    pk_ctx_clear_error(ctx);
    free(spec);
    return 0;
}
