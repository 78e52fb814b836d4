/* Error agreement across ranks: a local return code becomes one code, one
 * message and one origin on every rank. An MPI_MINLOC allreduce over
 * (kind of outcome, rank) picks the lowest rank with a first-hand error; a
 * PK_EABORTED (a worker that stopped because another failed) only wins when no
 * rank has anything better; then that rank broadcasts its pk_error_info. */
#include <stdio.h>
#include <string.h>

#include "mpi_impl.h"

int pk__mpi_err(pk_ctx *ctx, int mpirc, const char *what) {
    char text[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    if (MPI_Error_string(mpirc, text, &len) != MPI_SUCCESS)
        snprintf(text, sizeof text, "MPI error %d", mpirc);
    return pk__set_error(ctx, PK_EBACKEND, "%s failed: %s", what, text);
}

/* Smaller is more important: a first-hand error, then an abort, then success. */
enum { KEY_ERROR = 0, KEY_ABORTED = 1, KEY_OK = 2 };

static int outcome_key(int rc) {
    return rc == 0 ? KEY_OK : rc == PK_EABORTED ? KEY_ABORTED : KEY_ERROR;
}

/* The detail this rank broadcasts when its error was chosen: the context's, or
 * the bare code when the failing call left no matching detail. */
static void own_error(pk_ctx *ctx, int rc, pk_error_info *info) {
    if (ctx->err.code != rc)
        pk__set_error(ctx, rc, NULL);
    *info = ctx->err;
}

int pk__mpi_agree(pk_ctx *ctx, int rc) {
    pk__mpi_state *st = ctx->impl;
    if (ctx->nranks == 1)
        return rc;
    struct {
        int key;
        int rank;
    } in = {outcome_key(rc), ctx->rank}, out;
    int m = MPI_Allreduce(&in, &out, 1, MPI_2INT, MPI_MINLOC, st->comm);
    if (m != MPI_SUCCESS)
        return pk__mpi_err(ctx, m, "MPI_Allreduce (error agreement)");
    if (out.key == KEY_OK)
        return 0;
    pk_error_info info;
    memset(&info, 0, sizeof info);
    if (ctx->rank == out.rank)
        own_error(ctx, rc, &info);
    m = MPI_Bcast(&info, (int)sizeof info, MPI_BYTE, out.rank, st->comm);
    if (m != MPI_SUCCESS)
        return pk__mpi_err(ctx, m, "MPI_Bcast (error detail)");
    ctx->err = info;
    if (info.code == PK_EINJECTED ||
        (info.code == PK_ENOMEM && strncmp(info.message, "out of memory (injected)", 24) == 0))
        ctx->fault.fired = 1;
    return info.code;
}
