/* pk_team over ranks: worker w runs on rank w, as that rank's only worker, while
 * the ranks beyond the team wait in the agreement. A worker that fails aborts
 * the channels of the context (pk__job_fail does it), which wakes its peers on
 * other ranks; then every rank returns the same error. */
#include "mpi_impl.h"

int pk__mpi_team(pk_ctx *ctx, int nworkers, const pk_opts *opts, pk_team_fn fn, void *arg) {
    int n = nworkers > 0 ? nworkers : ctx->nranks;
    if (n > ctx->nranks)
        return pk__mpi_agree(ctx, pk__set_error(ctx, PK_EINVAL,
                                                "a team of %d workers needs %d ranks, one each; "
                                                "this pool has %d",
                                                n, n, ctx->nranks));
    pk__job job;
    pk__job_init(&job, ctx, PK__TEAM, n, opts);
    if (ctx->rank < n) {
        int user = pk__mpi_user_begin();
        pk__team_member(&job, fn, arg, ctx->rank, n);
        pk__mpi_user_end(user);
    }
    pk__mpi_chans_flush(ctx);
    return pk__mpi_agree(ctx, pk__job_error_to_ctx(&job));
}
