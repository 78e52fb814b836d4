/* Error agreement across ranks: a local return code becomes one code, one
 * message and one origin on every rank. An MPI_MINLOC allreduce over
 * (kind of outcome, rank) picks the lowest rank with a first-hand error; a
 * PK_EABORTED (a worker that stopped because another failed) only wins when no
 * rank has anything better; then that rank broadcasts its pk_error_info. */
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mpi_impl.h"

int pk__mpi_err(pk_ctx *ctx, int mpirc, const char *what) {
    char text[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    if (MPI_Error_string(mpirc, text, &len) != MPI_SUCCESS)
        snprintf(text, sizeof text, "MPI error %d", mpirc);
    return pk__set_error(ctx, PK_EBACKEND, "%s failed: %s", what, text);
}

/* Completes a small collective without holding the core for long: MPI_Test in
 * a loop for 50 us, then with a yield for 200 us, then with naps that double
 * from 1 us to 200 us. A rank that waits long here (while a rank of its node
 * runs a PK_SOLO step) leaves its core to it, and notices the end within 200
 * us, or within the time it has waited so far if less. Only for pk_agree_solo:
 * a napping rank drives MPI's progress rarely, which would hold up one-sided
 * operations aimed at it and its own large sends. */
static int wait_idle(MPI_Request *req) {
    double start = pk__now();
    long nap = 1000; /* ns */
    for (;;) {
        int done = 0;
        int m = MPI_Test(req, &done, MPI_STATUS_IGNORE);
        if (m != MPI_SUCCESS || done)
            return m;
        double waited = pk__now() - start;
        if (waited < 50e-6) {
            pk__cpu_relax();
        } else if (waited < 250e-6) {
            sched_yield();
        } else {
            struct timespec ts = {0, nap};
            nanosleep(&ts, NULL);
            if (nap < 200000)
                nap *= 2;
        }
    }
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

static int agree(pk_ctx *ctx, int rc, int idle) {
    pk__mpi_state *st = ctx->impl;
    if (ctx->nranks == 1)
        return rc;
    struct {
        int key;
        int rank;
    } in = {outcome_key(rc), ctx->rank}, out;
    int m;
    if (idle) {
        MPI_Request req;
        m = MPI_Iallreduce(&in, &out, 1, MPI_2INT, MPI_MINLOC, st->comm, &req);
        if (m == MPI_SUCCESS)
            m = wait_idle(&req);
    } else {
        m = MPI_Allreduce(&in, &out, 1, MPI_2INT, MPI_MINLOC, st->comm);
    }
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

int pk__mpi_agree(pk_ctx *ctx, int rc) {
    return agree(ctx, rc, 0);
}

int pk__mpi_agree_solo(pk_ctx *ctx, int rc) {
    return agree(ctx, rc, 1);
}
