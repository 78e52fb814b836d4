/* The serial backend: the reference every other backend is checked against.
 * Loops run on the calling thread in chunk order. A pk_team, whose workers must
 * run at the same time by definition, runs on plain POSIX threads. */
#include <pthread.h>
#include <stdlib.h>

#include "core_internal.h"

static int serial_threads(pk_ctx *ctx) {
    (void)ctx;
    return 1;
}

static int serial_run(pk_ctx *ctx, pk__job *job) {
    (void)ctx;
    if (job->chi > job->clo)
        pk__job_worker(job, 0, 1);
    return pk__job_error_to_ctx(job);
}

static int serial_reduce(pk_ctx *ctx, pk__job *job, void *result) {
    return pk__reduce_local(ctx, job, result);
}

typedef struct team_member {
    pthread_t tid;
    pk__job *job;
    pk_team_fn fn;
    void *arg;
    int id, n;
} team_member;

static void *member_main(void *p) {
    team_member *m = p;
    pk__team_member(m->job, m->fn, m->arg, m->id, m->n);
    return NULL;
}

static int serial_team(pk_ctx *ctx, int nworkers, const pk_opts *opts, pk_team_fn fn, void *arg) {
    int n = nworkers > 0 ? nworkers : 1;
    pk__job job;
    pk__job_init(&job, ctx, PK__TEAM, n, opts);
    team_member *m = calloc((size_t)n, sizeof *m);
    if (m == NULL)
        return pk__set_error(ctx, PK_ENOMEM, "no memory for a team of %d", n);
    int started = 0;
    for (int i = 0; i < n; i++, started++) {
        m[i] = (team_member){.job = &job, .fn = fn, .arg = arg, .id = i, .n = n};
        if (pthread_create(&m[i].tid, NULL, member_main, &m[i]) != 0) {
            pk_worker w;
            pk__worker_init(&w, &job, i, n);
            pk_fail(&w, PK_EAGAIN, "could not start thread %d of a team of %d", i, n);
            break;
        }
    }
    for (int i = 0; i < started; i++)
        pthread_join(m[i].tid, NULL);
    free(m);
    atomic_store(&job.threads_obtained, started);
    return pk__job_error_to_ctx(&job);
}

static int serial_chan_open(pk_ctx *ctx, pk_chan **ch, const pk_chan_opts *opts) {
    return pk__chan_threads_open(ctx, ch, opts);
}

static int serial_barrier(pk_ctx *ctx) {
    (void)ctx;
    return 0;
}

static int serial_agree(pk_ctx *ctx, int rc) {
    (void)ctx;
    return rc;
}

const pk_backend pk__serial_backend = {
    .name = "serial",
    .caps = 0,
    .init = NULL,
    .finalize = NULL,
    .default_threads = serial_threads,
    .run = serial_run,
    .reduce = serial_reduce,
    .collect = pk__collect_local,
    .team = serial_team,
    .local_range = NULL,
    .chan_open = serial_chan_open,
    .barrier = serial_barrier,
    .subpool = NULL,
    .bcast = NULL,
    .agree = serial_agree,
};
