/* Private to the MPI backend: the context's state, the layout of the current
 * job over the ranks (which rank holds which chunks, and where their partials,
 * outputs and task results are), and the helpers the backend's files share.
 * Only the thread that initialized MPI makes the pool's MPI calls; a rank's
 * worker threads make none but the one-sided calls of the sharing primitives
 * across nodes (mpi_segment.c), under MPI_THREAD_SERIALIZED or MULTIPLE. */
#ifndef PARKIT_MPI_IMPL_H
#define PARKIT_MPI_IMPL_H

#include <mpi.h>

#include "core_internal.h"
#include "mpi_internal.h"

/* Tags on the context's communicator; channels have a communicator of their own. */
enum { PK__TAG_REDUCE = 100 /* + tree level */, PK__TAG_GATHER = 200, PK__TAG_RESULTS = 201 };

/* Which buffers of a piece the backend allocated (and frees). */
enum { PK__OWN_PARTIALS = 1u, PK__OWN_OUT = 2u, PK__OWN_RESULTS = 4u };

/* Chunks [lo, hi) run by one rank, with the buffers that hold their partials,
 * map outputs and task results; each pointer addresses the piece's first chunk
 * (element or task lo * chunk). */
typedef struct pk__piece {
    int64_t lo, hi;
    int owner;
    unsigned own;
    char *partials;
    char *out;
    char *results;
} pk__piece;

/* The layout of the job that ran last, kept from run() to reduce()/collect(). */
typedef struct pk__layout {
    int active;
    pk__piece *mine; /* this rank's pieces, sorted by lo */
    int nmine, capmine;
    pk__piece *all; /* every rank's pieces, sorted by lo (no buffers) */
    int nall;
    char *block_results; /* a static block's task results kept for a gather */
    int64_t block_count;
    const pk_reducer *red; /* for destroying owned partials */
    const pk_type *rtype;  /* for destroying owned results */
    size_t elem_size;
    int64_t n, chunk, nchunks;
} pk__layout;

typedef struct pk__mpi_state {
    MPI_Comm parent;           /* given at creation, not owned */
    const pk_backend *threads; /* the executor given at creation */
    MPI_Comm comm;             /* our duplicate, with MPI_ERRORS_RETURN */
    MPI_Win win;               /* on rank 0: claim counters and failure flags */
    int have_comm, have_win;
    uint64_t runs; /* run() calls so far: picks a call's counter and flag */
    int slot;      /* the running call's pair of words (progress_sum) */
    MPI_Comm node; /* the ranks of comm on this node */
    int have_node, node_ranks;
    int *node_ctx_rank; /* context rank of each node rank */
    MPI_Win shm;        /* node-shared segments for gathers to rank 0 */
    int have_shm, use_shm;
    int out_shared;   /* this call's map output is one array in node-shared memory */
    size_t *shm_size; /* each node rank's segment, bytes */
    int default_threads;
    int sharing;      /* ranks of this node that may use exactly this rank's CPUs */
    pk_backend local; /* `threads` with this rank's default thread count */
    pk__layout lay;
    char *scratch; /* the non-root part of a map gathered to root, reused */
    size_t scratch_size;
} pk__mpi_state;

/* ---- errors and agreement (mpi_agree.c) ---- */
int pk__mpi_err(pk_ctx *ctx, int mpirc, const char *what);
int pk__mpi_agree(pk_ctx *ctx, int rc);
/* The same, waiting in naps (pk_agree_solo). */
int pk__mpi_agree_solo(pk_ctx *ctx, int rc);

/* ---- transfers (mpi_xfer.c) ---- */
size_t pk__mpi_max_message(void);

/* Pending nonblocking operations, each with a buffer freed when it completes,
 * plus buffers kept until all of them complete. */
typedef struct pk__reqs {
    MPI_Request *req;
    void **buf;
    int n, cap;
    void **keep;
    int nkeep, capkeep;
} pk__reqs;
int pk__reqs_add(pk__reqs *q, MPI_Request r, void *buf);
int pk__reqs_keep(pk__reqs *q, void *buf);
/* Waits for all; frees their buffers. Returns an MPI code. */
int pk__reqs_waitall(pk__reqs *q);
/* Completes what has finished (freeing its buffers), without waiting. */
int pk__reqs_test(pk__reqs *q);
void pk__reqs_free(pk__reqs *q);

/* Known lengths, in pieces of at most pk__mpi_max_message() bytes. */
int pk__isend_bytes(MPI_Comm c, int dest, int tag, const void *buf, size_t len, pk__reqs *q);
int pk__irecv_bytes(MPI_Comm c, int src, int tag, void *buf, size_t len, pk__reqs *q);
int pk__bcast_bytes(MPI_Comm c, int root, void *buf, size_t len);
/* Lengths sent ahead: buf is taken over (freed when sent); the receiver gets a
 * malloc'ed buffer. */
int pk__isend_sized(MPI_Comm c, int dest, int tag, void *buf, size_t len, pk__reqs *q);
int pk__recv_sized(MPI_Comm c, int src, int tag, void **buf, size_t *len);
/* Root: buf and len in (buf stays the caller's); others: a malloc'ed buffer out. */
int pk__bcast_sized(MPI_Comm c, int root, void **buf, size_t *len);

/* count values of t into one malloc'ed buffer (each as a length and its bytes,
 * by t->pack) and back into initialized values. pk_errno codes. */
int pk__pack_values(const pk_type *t, const char *values, int64_t count, void **buf, size_t *len);
int pk__unpack_values(const pk_type *t, char *values, int64_t count, const void *buf, size_t len);

/* ---- layout (mpi_layout.c) ---- */
/* The static layout: balanced contiguous blocks of chunks, rank r's is [lo, hi). */
void pk__mpi_block(int64_t nchunks, int nranks, int r, int64_t *lo, int64_t *hi);
int pk__mpi_block_owner(int64_t nchunks, int nranks, int64_t c);
void pk__layout_start(pk__layout *lay, const pk__job *job);
pk__piece *pk__layout_add(pk__layout *lay, int64_t lo, int64_t hi, int owner);
void pk__layout_sort(pk__piece *pieces, int n); /* by lo */
/* Every rank's pieces: gathered from all ranks (collective). */
int pk__layout_gather(pk_ctx *ctx, pk__layout *lay);
int pk__layout_owner(const pk__layout *lay, int64_t c);
pk__piece *pk__layout_mine(const pk__layout *lay, int64_t c);
void pk__layout_free_partials(pk__layout *lay);
void pk__layout_clear(pk__layout *lay);
/* Element (or task) range of chunks [lo, hi). */
int64_t pk__layout_first(const pk__layout *lay, int64_t chunk);

/* ---- memory shared by the whole pool, for sync.c (mpi_segment.c) ---- */
int pk__mpi_segment_new(pk_ctx *ctx, size_t bytes, void **base, void **handle);
void pk__mpi_segment_free(pk_ctx *ctx, void *handle);
int pk__mpi_segment_op(pk_ctx *ctx, void *handle, int op, size_t off, uint64_t operand,
                       uint64_t compare, uint64_t *old);
int pk__mpi_segment_xfer(pk_ctx *ctx, void *handle, int put, size_t off, size_t len, void *buf);
/* 1 when [p, p + len) lies in a one-node segment of this process; *addr0 gets
 * its address in rank 0's process. */
int pk__mpi_segment_locate(const void *p, size_t len, uint64_t *addr0);
/* Under MPI_THREAD_SERIALIZED, while segments across nodes exist, worker threads
 * make their one-sided calls themselves, so every MPI call parkit makes while a
 * pool call runs goes through begin/end: one at a time in the process. begin
 * returns whether it took the lock (give that to end); elsewhere it takes none. */
int pk__mpi_serial_begin(void);
void pk__mpi_serial_end(int taken);
/* Around the callbacks a pool call runs on this rank's threads (its main thread
 * among them): rank 0's progress thread polls MPI meanwhile under the serial
 * lock, so that other ranks' one-sided operations on rank 0's words move on
 * while rank 0 computes. end waits for a poll under way. */
int pk__mpi_user_begin(void);
void pk__mpi_user_end(int begun);

/* ---- messages for the executor (mpi_msg.c) ---- */
int pk__mpi_msg_open(pk_ctx *ctx, void **chan);
int pk__mpi_msg_send(pk_ctx *ctx, void *chan, int to, int tag, void *buf, size_t len);
int pk__mpi_msg_poll(pk_ctx *ctx, void *chan, int *from, int *tag, void **buf, size_t *len);
void pk__mpi_msg_close(pk_ctx *ctx, void *chan);

/* ---- node-shared memory for gathers to rank 0 (mpi_shm.c) ---- */
/* The node communicator and who is on it; an MPI code. */
int pk__shm_init(pk__mpi_state *st, int rank);
void pk__shm_free(pk__mpi_state *st);
/* Decides whether this call's map output reaches rank 0 through shared memory
 * (st->use_shm), growing the segments (collective over the node). */
int pk__shm_prepare(pk_ctx *ctx, const pk__job *job, int dynamic);
/* ctx_rank's segment when this call uses them and it shares the node, else NULL. */
char *pk__shm_of(const pk__mpi_state *st, int ctx_rank);
/* Orders this rank's writes before the next synchronization, or its reads after. */
void pk__shm_sync(const pk__mpi_state *st);

/* ---- backend slots (one file each) ---- */
int pk__mpi_local_range(pk_ctx *ctx, const pk__job *job, int64_t *clo, int64_t *chi);
int pk__mpi_run(pk_ctx *ctx, pk__job *job);
int64_t pk__mpi_progress_sum(pk_ctx *ctx, pk__job *job, int64_t local_done);
int pk__mpi_reduce(pk_ctx *ctx, pk__job *job, void *result);
int pk__mpi_collect(pk_ctx *ctx, pk__job *job);
int pk__mpi_team(pk_ctx *ctx, int nworkers, const pk_opts *opts, pk_team_fn fn, void *arg);
int pk__mpi_chan_open(pk_ctx *ctx, pk_chan **ch, const pk_chan_opts *opts);
/* Sends the abort notices that channel aborts from worker threads left for the
 * MPI thread. */
void pk__mpi_chans_flush(pk_ctx *ctx);

#endif
