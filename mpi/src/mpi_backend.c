/* The MPI backend's table and its context: a duplicate of the communicator with
 * MPI_ERRORS_RETURN (so parkit can live inside a larger MPI program and never
 * aborts it), the counter window dynamic schedules claim from, the default
 * thread count (the cores this process may use, shared among the ranks of its
 * node), and the small collectives behind pk_rank_barrier, pk_bcast and
 * pk_ctx_subpool (sub-pools of the first k ranks). */
#define _GNU_SOURCE /* sched_getaffinity */
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpi_impl.h"
#include "parkit/mpi.h"
#if PARKIT_WITH_OPENMP
#endif

/* OMP_NUM_THREADS's first value when it is set and valid, else 0. */
static int env_threads(void) {
    const char *v = getenv("OMP_NUM_THREADS");
    if (v == NULL)
        return 0;
    char *end;
    long n = strtol(v, &end, 10);
    return end != v && (*end == '\0' || *end == ',') && n > 0 && n < (1L << 20) ? (int)n : 0;
}

/* A digest of the CPUs this process may use (0: unknown). */
static uint64_t cpu_set_digest(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return 0;
    uint64_t h = 1469598103934665603u; /* FNV-1a over the CPU numbers */
    for (size_t c = 0; c < CPU_SETSIZE; c++) {
        if (CPU_ISSET(c, &set)) {
            h ^= (uint64_t)c + 1;
            h *= 1099511628211u;
        }
    }
    return h;
}

/* How many ranks of this node may use exactly this rank's CPUs (collective over
 * the node): all of them when the launcher did not bind, 1 when it gave each
 * rank CPUs of its own (srun --cpu-bind, mpirun --bind-to), between when ranks
 * share sockets. */
static int ranks_sharing_cpus(const pk__mpi_state *st) {
    enum { MOST = 1024 };
    int n = st->node_ranks > 0 ? st->node_ranks : 1;
    if (!st->have_node || n == 1 || n > MOST)
        return n;
    uint64_t mine = cpu_set_digest(), all[MOST];
    if (MPI_Allgather(&mine, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, st->node) != MPI_SUCCESS ||
        mine == 0)
        return n;
    int same = 0;
    for (int i = 0; i < n; i++)
        same += all[i] == mine;
    return same > 0 ? same : n;
}

static int default_threads(pk__mpi_state *st) {
    st->sharing = 1;
    if (!(st->threads->caps & PK__CAP_THREADS))
        return 1;
    int sharing = ranks_sharing_cpus(st); /* collective: before any return */
    st->sharing = sharing;
    int env = env_threads();
    if (env > 0)
        return env;
    int t = pk__usable_cores() / sharing;
    return t > 0 ? t : 1;
}

static int mpi_default_threads(pk_ctx *ctx) {
    return ((pk__mpi_state *)ctx->impl)->default_threads;
}

/* The threads of every rank that shares this rank's CPUs, as many as those
 * CPUs take (and never fewer than this rank's own). */
static int mpi_solo_threads(pk_ctx *ctx) {
    const pk__mpi_state *st = ctx->impl;
    int own = pk_ctx_threads(ctx);
    if (!(ctx->local->caps & PK__CAP_THREADS))
        return own;
    int cores = pk__usable_cores(), lent = st->sharing * own;
    int most = cores > own ? cores : own;
    return lent < most ? lent : most;
}

/* On rank 0, two claim counters, two failure flags and two progress counts
 * (calls alternate between the pairs, so one can be reset while the other is in
 * use), in a passive-target epoch for the context's life. */
static int open_window(pk_ctx *ctx, pk__mpi_state *st) {
    int64_t *base = NULL;
    MPI_Aint size = ctx->rank == 0 ? 6 * (MPI_Aint)sizeof(int64_t) : 0;
    int m = MPI_Win_allocate(size, sizeof(int64_t), MPI_INFO_NULL, st->comm, &base, &st->win);
    if (m != MPI_SUCCESS)
        return pk__mpi_err(ctx, m, "MPI_Win_allocate");
    st->have_win = 1;
    MPI_Win_set_errhandler(st->win, MPI_ERRORS_RETURN);
    m = MPI_Win_lock_all(MPI_MODE_NOCHECK, st->win);
    int64_t zero = 0, old;
    for (int slot = 0; slot < 6 && m == MPI_SUCCESS && ctx->rank == 0; slot++) {
        m = MPI_Fetch_and_op(&zero, &old, MPI_INT64_T, 0, slot, MPI_REPLACE, st->win);
        if (m == MPI_SUCCESS)
            m = MPI_Win_flush(0, st->win);
    }
    return m == MPI_SUCCESS ? 0 : pk__mpi_err(ctx, m, "initializing the counter window");
}

static void close_mpi(pk__mpi_state *st) {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (finalized)
        return;
    if (st->have_win) {
        MPI_Win_unlock_all(st->win);
        MPI_Win_free(&st->win);
        st->have_win = 0;
    }
    pk__shm_free(st);
    if (st->have_comm) {
        MPI_Comm_free(&st->comm);
        st->have_comm = 0;
    }
}

static int mpi_init(pk_ctx *ctx) {
    pk__mpi_state *st = ctx->impl;
    int m = MPI_Comm_dup(st->parent, &st->comm);
    if (m != MPI_SUCCESS)
        return PK_EBACKEND;
    st->have_comm = 1;
    MPI_Comm_set_errhandler(st->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(st->comm, &ctx->rank);
    MPI_Comm_size(st->comm, &ctx->nranks);
    int rc = pk__shm_init(st, ctx->rank) == MPI_SUCCESS ? 0 : PK_EBACKEND, all;
    st->default_threads = default_threads(st);
    st->local = *st->threads;
    st->local.default_threads = mpi_default_threads;
    ctx->local = &st->local;
    if (open_window(ctx, st) != 0) /* collective: every rank, whatever came before */
        rc = PK_EBACKEND;
    all = rc;
    /* also the barrier after which rank 0's counters are ready */
    m = MPI_Allreduce(&rc, &all, 1, MPI_INT, MPI_MIN, st->comm);
    if (m != MPI_SUCCESS || all != 0) {
        close_mpi(st);
        return PK_EBACKEND;
    }
    return 0;
}

static void mpi_finalize(pk_ctx *ctx) {
    pk__mpi_state *st = ctx->impl;
    pk__layout_clear(&st->lay);
    free(st->scratch);
    close_mpi(st);
    free(st);
    ctx->impl = NULL;
}

static int new_on(pk_ctx **ctx, const pk_backend *threads, MPI_Comm comm) {
    *ctx = NULL;
    int inited = 0, finalized = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
    if (!inited || finalized || comm == MPI_COMM_NULL)
        return PK_EBACKEND;
    pk__mpi_state *st = calloc(1, sizeof *st);
    if (st == NULL)
        return PK_ENOMEM;
    st->parent = comm;
    st->threads = threads;
    int rc = pk__ctx_create(ctx, &pk__mpi_backend, threads, st);
    if (rc != 0)
        free(st); /* init released what it had taken */
    return rc;
}

int pk__mpi_ctx_new(pk_ctx **ctx, const pk_backend *local, const void *comm) {
    return new_on(ctx, local, comm ? *(const MPI_Comm *)comm : MPI_COMM_WORLD);
}

MPI_Comm pk_ctx_comm(const pk_ctx *ctx) {
    if (ctx == NULL || ctx->backend != &pk__mpi_backend)
        return MPI_COMM_NULL;
    return ((const pk__mpi_state *)ctx->impl)->comm;
}

/* ---- collectives for the sweep ---- */

static int mpi_barrier(pk_ctx *ctx) {
    pk__mpi_state *st = ctx->impl;
    int m = MPI_Barrier(st->comm);
    return m == MPI_SUCCESS ? 0 : pk__mpi_err(ctx, m, "MPI_Barrier");
}

static int mpi_bcast(pk_ctx *ctx, void *buf, size_t len) {
    pk__mpi_state *st = ctx->impl;
    int m = pk__bcast_bytes(st->comm, 0, buf, len);
    return m == MPI_SUCCESS ? 0 : pk__mpi_err(ctx, m, "MPI_Bcast");
}

static int mpi_subpool(pk_ctx *ctx, int ranks, pk_ctx **sub) {
    pk__mpi_state *st = ctx->impl;
    MPI_Comm part = MPI_COMM_NULL;
    *sub = NULL;
    int rc = 0;
    int m = MPI_Comm_split(st->comm, ctx->rank < ranks ? 0 : MPI_UNDEFINED, ctx->rank, &part);
    if (m != MPI_SUCCESS)
        rc = pk__mpi_err(ctx, m, "MPI_Comm_split (sub-pool)");
    if (rc == 0 && part != MPI_COMM_NULL) {
        rc = new_on(sub, st->threads, part);
        MPI_Comm_free(&part);
        if (rc != 0)
            pk__set_error(ctx, rc, "creating a pool of %d ranks failed", ranks);
    }
    rc = pk__mpi_agree(ctx, rc);
    if (rc != 0 && *sub != NULL) {
        pk_ctx_free(*sub); /* collective over the sub-pool, which all succeeded */
        *sub = NULL;
    }
    return rc;
}

const pk_backend pk__mpi_backend = {
    .name = "mpi",
    .caps = PK__CAP_RANKS | PK__CAP_THREADS,
    .init = mpi_init,
    .finalize = mpi_finalize,
    .default_threads = mpi_default_threads,
    .solo_threads = mpi_solo_threads,
    .run = pk__mpi_run,
    .reduce = pk__mpi_reduce,
    .collect = pk__mpi_collect,
    .team = pk__mpi_team,
    .local_range = pk__mpi_local_range,
    .chan_open = pk__mpi_chan_open,
    .barrier = mpi_barrier,
    .subpool = mpi_subpool,
    .bcast = mpi_bcast,
    .agree = pk__mpi_agree,
    .agree_solo = pk__mpi_agree_solo,
    .segment_new = pk__mpi_segment_new,
    .segment_free = pk__mpi_segment_free,
    .segment_op = pk__mpi_segment_op,
    .segment_xfer = pk__mpi_segment_xfer,
    .msg_open = pk__mpi_msg_open,
    .msg_send = pk__mpi_msg_send,
    .msg_poll = pk__mpi_msg_poll,
    .msg_close = pk__mpi_msg_close,
    .progress_sum = pk__mpi_progress_sum,
};
