/* Placeholder: the sieve kernel is being written. */
#include "parkit/internal.h"
int pk_sieve_count(pk_ctx *ctx, uint64_t lo, uint64_t hi, uint64_t *count) {
    (void)lo;
    (void)hi;
    (void)count;
    return pk__set_error(ctx, PK_ENOTSUP, "not yet");
}
