/* Memory every rank of a pool reaches, for the sharing primitives (core's
 * sync.c).
 *
 * Ranks of one node: one MPI shared-memory window, allocated by rank 0 and
 * mapped by the others (MPI_Win_allocate_shared, MPI_Win_shared_query). After
 * that the primitives are plain atomics on the mapped memory; no MPI call is
 * made until the window is freed.
 *
 * Ranks on several nodes ("far" segments): the bytes live in a window on rank 0
 * (MPI_Win_allocate), held open by a passive-target lock_all on every rank, and
 * every access is one MPI_Fetch_and_op / MPI_Compare_and_swap (or a get/put
 * accumulate for bulk copies) followed by MPI_Win_flush, so each is complete
 * and atomic with respect to the others when it returns. Under the default
 * MPI_THREAD_SERIALIZED any worker thread makes them, one at a time with every
 * other MPI call parkit makes during a pool call (the serial lock below). Under
 * MPI_THREAD_FUNNELED only the thread that created the segment (the rank's main
 * thread) may make these calls; other worker threads get PK_ENOTSUP with the
 * reason. Under MPI_THREAD_MULTIPLE (PARKIT_MPI_THREADS=multiple, for MPIs whose
 * one-sided component supports it, as on RDMA networks) any thread may. Open
 * MPI moves a one-sided operation forward only while the target is inside MPI,
 * so rank 0 runs a progress thread while far segments exist (it polls MPI every
 * PROGRESS_US): all the time under MULTIPLE, and under SERIALIZED while its
 * pool calls run callbacks, under the serial lock. Outside pool calls, a rank 0
 * computing outside MPI delays the others' accesses until it next calls MPI
 * (every waiter polls through MPI), but never blocks them for good. */
#define _GNU_SOURCE /* pthread, nanosleep */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mpi_impl.h"
#include "parkit/mpi.h"

enum { PROGRESS_US = 50 };

typedef struct segment {
    MPI_Win win;
    int far;
    int level;       /* MPI's thread level */
    pthread_t owner; /* the thread that created it */
    /* one node: where the bytes are here and in rank 0's address space */
    const char *start;
    size_t bytes;
    uint64_t start0;
    struct segment *next; /* the process's one-node segments */
} segment;

/* Every one-node segment of the process, so that a pool call can tell that a
 * caller's array lies in one (pk__mpi_segment_locate). */
static struct {
    pthread_mutex_t mu;
    segment *head;
} nears = {PTHREAD_MUTEX_INITIALIZER, NULL};

static void near_add(segment *seg) {
    pthread_mutex_lock(&nears.mu);
    seg->next = nears.head;
    nears.head = seg;
    pthread_mutex_unlock(&nears.mu);
}

static void near_remove(segment *seg) {
    pthread_mutex_lock(&nears.mu);
    for (segment **p = &nears.head; *p != NULL; p = &(*p)->next) {
        if (*p == seg) {
            *p = seg->next;
            break;
        }
    }
    pthread_mutex_unlock(&nears.mu);
}

int pk__mpi_segment_locate(const void *p, size_t len, uint64_t *addr0) {
    const char *c = p;
    int found = 0;
    pthread_mutex_lock(&nears.mu);
    for (segment *s = nears.head; s != NULL && !found && c != NULL; s = s->next) {
        if (c >= s->start && len <= s->bytes && (size_t)(c - s->start) <= s->bytes - len) {
            *addr0 = s->start0 + (uint64_t)(c - s->start);
            found = 1;
        }
    }
    pthread_mutex_unlock(&nears.mu);
    return found;
}

/* The serial lock: on while far segments exist under MPI_THREAD_SERIALIZED
 * (segments are made and freed collectively, outside pool calls, so "on" does
 * not change while a pool call runs). */
static struct {
    pthread_mutex_t mu;
    atomic_int users;
    atomic_int in_user; /* rank 0's main thread runs callbacks: the progress thread may poll */
} serial = {PTHREAD_MUTEX_INITIALIZER, 0, 0};

int pk__mpi_serial_begin(void) {
    if (atomic_load_explicit(&serial.users, memory_order_relaxed) == 0)
        return 0;
    pthread_mutex_lock(&serial.mu);
    return 1;
}

void pk__mpi_serial_end(int taken) {
    if (taken)
        pthread_mutex_unlock(&serial.mu);
}

int pk__mpi_user_begin(void) {
    if (atomic_load_explicit(&serial.users, memory_order_relaxed) == 0)
        return 0;
    atomic_store(&serial.in_user, 1);
    return 1;
}

void pk__mpi_user_end(int begun) {
    if (!begun || !atomic_exchange(&serial.in_user, 0))
        return;
    /* a poll that saw in_user set has ended once the lock is free, and no
     * other one starts: it looks again under the lock */
    pthread_mutex_lock(&serial.mu);
    pthread_mutex_unlock(&serial.mu);
}

/* Rank 0's progress thread, shared by every far segment of the process
 * (segments are made and freed by one thread, collectively). Under
 * MPI_THREAD_MULTIPLE it polls all the time; under SERIALIZED only while the
 * main thread runs callbacks (between pk__mpi_user_begin and _end, where every
 * MPI call of the process takes the serial lock), and under that lock. */
static struct {
    int users;
    int running;
    int serialized;
    MPI_Comm comm;
    pthread_t thread;
    atomic_int stop;
} progress;

static void *progress_main(void *arg) {
    (void)arg;
    while (!atomic_load(&progress.stop)) {
        int flag = 0;
        if (!progress.serialized) {
            MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, progress.comm, &flag, MPI_STATUS_IGNORE);
        } else if (atomic_load(&serial.in_user)) {
            pthread_mutex_lock(&serial.mu);
            if (atomic_load(&serial.in_user))
                MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, progress.comm, &flag, MPI_STATUS_IGNORE);
            pthread_mutex_unlock(&serial.mu);
        }
        struct timespec nap = {0, PROGRESS_US * 1000L};
        nanosleep(&nap, NULL);
    }
    return NULL;
}

static void progress_start(pk_ctx *ctx, int level) {
    if (progress.users++ > 0 || ctx->rank != 0 || level < MPI_THREAD_SERIALIZED)
        return;
    progress.serialized = level < MPI_THREAD_MULTIPLE;
    if (MPI_Comm_dup(MPI_COMM_SELF, &progress.comm) != MPI_SUCCESS)
        return;
    atomic_store(&progress.stop, 0);
    progress.running = pthread_create(&progress.thread, NULL, progress_main, NULL) == 0;
    if (!progress.running)
        MPI_Comm_free(&progress.comm);
}

static void progress_stop(void) {
    if (--progress.users > 0 || !progress.running)
        return;
    atomic_store(&progress.stop, 1);
    pthread_join(progress.thread, NULL);
    MPI_Comm_free(&progress.comm);
    progress.running = 0;
}

static int far_new(pk_ctx *ctx, size_t bytes, segment *seg) {
    pk__mpi_state *st = ctx->impl;
    MPI_Query_thread(&seg->level);
    seg->owner = pthread_self();
    void *mine = NULL;
    MPI_Aint size = ctx->rank == 0 ? (MPI_Aint)((bytes + 7) / 8 * 8) : 0;
    int m = MPI_Win_allocate(size, 1, MPI_INFO_NULL, st->comm, &mine, &seg->win);
    if (m != MPI_SUCCESS)
        return pk__mpi_agree(ctx, pk__mpi_err(ctx, m, "MPI_Win_allocate"));
    MPI_Win_set_errhandler(seg->win, MPI_ERRORS_RETURN);
    if (size > 0)
        memset(mine, 0, (size_t)size);
    m = MPI_Win_lock_all(MPI_MODE_NOCHECK, seg->win);
    int rc = pk__mpi_agree(ctx, m == MPI_SUCCESS ? 0 : pk__mpi_err(ctx, m, "MPI_Win_lock_all"));
    if (rc != 0) {
        if (m == MPI_SUCCESS)
            MPI_Win_unlock_all(seg->win);
        MPI_Win_free(&seg->win);
        return rc;
    }
    seg->far = 1;
    progress_start(ctx, seg->level);
    if (seg->level == MPI_THREAD_SERIALIZED)
        atomic_fetch_add(&serial.users, 1);
    return 0;
}

/* May this thread call MPI on the segment? Else PK_ENOTSUP, noted unless quiet. */
static int far_allowed(pk_ctx *ctx, const segment *seg, int quiet) {
    if (seg->level >= MPI_THREAD_SERIALIZED || pthread_equal(pthread_self(), seg->owner))
        return 0;
    if (quiet)
        return PK_ENOTSUP;
    return pk__ctx_note(ctx, PK_ENOTSUP,
                        "sharing primitives across nodes are used through MPI one-sided calls, "
                        "which only a rank's main thread may make under %s: run one thread per "
                        "rank, or initialize MPI with MPI_THREAD_SERIALIZED (parkit's default; "
                        "PARKIT_MPI_THREADS=serialized) or MPI_THREAD_MULTIPLE",
                        pk_mpi_thread_level_name(seg->level));
}

static int far_failed(pk_ctx *ctx, int m, const char *what, int quiet) {
    if (quiet)
        return PK_EBACKEND;
    char text[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(m, text, &len);
    return pk__ctx_note(ctx, PK_EBACKEND, "%s on the shared state held by rank 0 failed: %s", what,
                        text);
}

int pk__mpi_segment_op(pk_ctx *ctx, void *handle, int op, size_t off, uint64_t operand,
                       uint64_t compare, uint64_t *old) {
    segment *seg = handle;
    int quiet = (op & PK__SEG_QUIET) != 0;
    int rc = far_allowed(ctx, seg, quiet);
    if (rc != 0)
        return rc;
    uint64_t out = 0;
    MPI_Aint disp = (MPI_Aint)off;
    int m;
    const char *what = "MPI_Fetch_and_op";
    int serial_taken = pk__mpi_serial_begin();
    switch (op & ~PK__SEG_QUIET) {
    case PK__SEG_LOAD:
        m = MPI_Fetch_and_op(NULL, &out, MPI_UINT64_T, 0, disp, MPI_NO_OP, seg->win);
        break;
    case PK__SEG_STORE:
    case PK__SEG_SWAP:
        m = MPI_Fetch_and_op(&operand, &out, MPI_UINT64_T, 0, disp, MPI_REPLACE, seg->win);
        break;
    case PK__SEG_ADD:
        m = MPI_Fetch_and_op(&operand, &out, MPI_UINT64_T, 0, disp, MPI_SUM, seg->win);
        break;
    case PK__SEG_CAS:
        what = "MPI_Compare_and_swap";
        m = MPI_Compare_and_swap(&operand, &compare, &out, MPI_UINT64_T, 0, disp, seg->win);
        break;
    default:
        pk__mpi_serial_end(serial_taken);
        return PK_EINVAL;
    }
    if (m == MPI_SUCCESS)
        m = MPI_Win_flush(0, seg->win);
    pk__mpi_serial_end(serial_taken);
    if (m != MPI_SUCCESS)
        return far_failed(ctx, m, what, quiet);
    if (old != NULL)
        *old = out;
    return 0;
}

int pk__mpi_segment_xfer(pk_ctx *ctx, void *handle, int put, size_t off, size_t len, void *buf) {
    segment *seg = handle;
    int rc = far_allowed(ctx, seg, 0);
    if (rc != 0)
        return rc;
    /* whole words go as 64-bit accumulates, so a copy never tears a word that
     * an atomic operation changes at the same time */
    int words = off % 8 == 0 && len % 8 == 0;
    MPI_Datatype type = words ? MPI_UINT64_T : MPI_BYTE;
    size_t unit = words ? 8 : 1, left = len / unit;
    char *p = buf;
    MPI_Aint disp = (MPI_Aint)off;
    int m = MPI_SUCCESS;
    int serial_taken = pk__mpi_serial_begin();
    while (left > 0 && m == MPI_SUCCESS) {
        int n = left > (1u << 30) ? 1 << 30 : (int)left;
        if (put)
            m = MPI_Accumulate(p, n, type, 0, disp, n, type, MPI_REPLACE, seg->win);
        else
            m = MPI_Get_accumulate(NULL, 0, type, p, n, type, 0, disp, n, type, MPI_NO_OP,
                                   seg->win);
        if (m == MPI_SUCCESS)
            m = MPI_Win_flush(0, seg->win);
        p += (size_t)n * unit;
        disp += (MPI_Aint)((size_t)n * unit);
        left -= (size_t)n;
    }
    pk__mpi_serial_end(serial_taken);
    return m == MPI_SUCCESS ? 0
                            : far_failed(ctx, m, put ? "MPI_Accumulate" : "MPI_Get_accumulate", 0);
}

int pk__mpi_segment_new(pk_ctx *ctx, size_t bytes, void **base, void **handle) {
    pk__mpi_state *st = ctx->impl;
    *base = NULL;
    *handle = NULL;
    segment *seg = calloc(1, sizeof *seg);
    int rc = seg == NULL ? pk__set_error(ctx, PK_ENOMEM, "no memory for a segment") : 0;
    rc = pk__mpi_agree(ctx, rc);
    /* PARKIT_SYNC_ENGINE=onesided: the far engine on one node too (rank 0's
     * setting), to test and measure it where there is one node */
    int far = st->node_ranks != ctx->nranks;
    if (rc == 0 && !far) {
        const char *e = getenv("PARKIT_SYNC_ENGINE");
        far = e != NULL && strcmp(e, "onesided") == 0;
        MPI_Bcast(&far, 1, MPI_INT, 0, st->comm);
    }
    if (rc == 0 && far) {
        rc = far_new(ctx, bytes, seg);
        if (rc == 0)
            *handle = seg;
    }
    if (rc != 0 || *handle != NULL) {
        if (rc != 0)
            free(seg);
        return rc;
    }
    void *mine = NULL;
    /* 64 bytes more: the window need not start on a cache line; the mapping is
     * page-aligned in every process, so the same offset aligns it everywhere */
    MPI_Aint size = ctx->rank == 0 ? (MPI_Aint)(bytes + 64) : 0;
    int m = MPI_Win_allocate_shared(size, 1, MPI_INFO_NULL, st->comm, &mine, &seg->win);
    if (m != MPI_SUCCESS) {
        free(seg);
        return pk__mpi_agree(ctx, pk__mpi_err(ctx, m, "MPI_Win_allocate_shared"));
    }
    MPI_Aint got = 0;
    int disp = 0;
    char *start = NULL;
    m = MPI_Win_shared_query(seg->win, 0, &got, &disp, &start);
    rc = m == MPI_SUCCESS ? 0 : pk__mpi_err(ctx, m, "MPI_Win_shared_query");
    size_t skip = start == NULL ? 0 : (64 - (uintptr_t)start % 64) % 64;
    if (rc == 0 && (start == NULL || (size_t)got < bytes + skip))
        rc = pk__set_error(ctx, PK_EBACKEND, "the shared window has %lld bytes, not %zu",
                           (long long)got, bytes + skip);
    *base = start == NULL ? NULL : start + skip;
    rc = pk__mpi_agree(ctx, rc);
    if (rc == 0) {
        uint64_t at0 = (uint64_t)(uintptr_t)*base; /* rank 0's address of the bytes */
        int mb = MPI_Bcast(&at0, 1, MPI_UINT64_T, 0, st->comm);
        rc = pk__mpi_agree(ctx, mb == MPI_SUCCESS ? 0 : pk__mpi_err(ctx, mb, "MPI_Bcast"));
        seg->start = *base;
        seg->bytes = bytes;
        seg->start0 = at0;
    }
    if (rc != 0) {
        MPI_Win_free(&seg->win);
        free(seg);
        *base = NULL;
        return rc;
    }
    *handle = seg;
    near_add(seg);
    return 0;
}

void pk__mpi_segment_free(pk_ctx *ctx, void *handle) {
    (void)ctx;
    segment *seg = handle;
    if (seg == NULL)
        return;
    if (seg->far)
        MPI_Win_unlock_all(seg->win);
    else
        near_remove(seg);
    MPI_Win_free(&seg->win);
    if (seg->far)
        progress_stop();
    if (seg->far && seg->level == MPI_THREAD_SERIALIZED)
        atomic_fetch_sub(&serial.users, 1);
    free(seg);
}
