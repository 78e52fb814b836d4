/* Messages between ranks for the executor (core's exec.c): a duplicate of the
 * context's communicator, nonblocking sends whose buffers are freed once they
 * complete, and probes for whatever has arrived. Only the thread that makes
 * pool calls uses it, while worker threads run tasks: under the serial lock
 * (pk__mpi_serial_begin), since those may make one-sided calls. */
#include <stdlib.h>

#include "mpi_impl.h"

typedef struct out_msg {
    MPI_Request req;
    void *buf;
} out_msg;

typedef struct msg_chan {
    MPI_Comm comm;
    out_msg *out;
    int nout, capout;
} msg_chan;

/* Frees the sends that completed. */
static int reap(msg_chan *c) {
    int k = 0, rc = 0;
    for (int i = 0; i < c->nout; i++) {
        int done = 0;
        if (MPI_Test(&c->out[i].req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS)
            rc = PK_EBACKEND;
        if (done)
            free(c->out[i].buf);
        else
            c->out[k++] = c->out[i];
    }
    c->nout = k;
    return rc;
}

int pk__mpi_msg_open(pk_ctx *ctx, void **chan) {
    pk__mpi_state *st = ctx->impl;
    *chan = NULL;
    msg_chan *c = calloc(1, sizeof *c);
    if (c == NULL)
        return pk__set_error(ctx, PK_ENOMEM, "no memory for the executor's messages");
    int m = MPI_Comm_dup(st->comm, &c->comm);
    if (m != MPI_SUCCESS) {
        free(c);
        return pk__mpi_err(ctx, m, "MPI_Comm_dup");
    }
    MPI_Comm_set_errhandler(c->comm, MPI_ERRORS_RETURN);
    *chan = c;
    return 0;
}

static int msg_send(pk_ctx *ctx, void *chan, int to, int tag, void *buf, size_t len) {
    msg_chan *c = chan;
    (void)ctx;
    if (len > (size_t)INT32_MAX) {
        free(buf);
        return PK_ERANGE;
    }
    if (c->nout == c->capout) {
        int cap = c->capout ? 2 * c->capout : 16;
        out_msg *o = realloc(c->out, (size_t)cap * sizeof *o);
        if (o == NULL) {
            free(buf);
            return PK_ENOMEM;
        }
        c->out = o;
        c->capout = cap;
    }
    out_msg *o = &c->out[c->nout];
    o->buf = buf;
    if (MPI_Isend(buf, (int)len, MPI_BYTE, to, tag, c->comm, &o->req) != MPI_SUCCESS) {
        free(buf);
        return PK_EBACKEND;
    }
    c->nout++;
    return c->nout > 8 ? reap(c) : 0;
}

static int msg_poll(pk_ctx *ctx, void *chan, int *from, int *tag, void **buf, size_t *len) {
    msg_chan *c = chan;
    (void)ctx;
    *buf = NULL;
    *len = 0;
    if (c->nout > 0 && reap(c) != 0)
        return PK_EBACKEND;
    int flag = 0;
    MPI_Status s;
    if (MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, c->comm, &flag, &s) != MPI_SUCCESS)
        return PK_EBACKEND;
    if (!flag)
        return 0;
    int n = 0;
    MPI_Get_count(&s, MPI_BYTE, &n);
    void *b = malloc(n > 0 ? (size_t)n : 1);
    if (b == NULL)
        return PK_ENOMEM;
    if (MPI_Recv(b, n, MPI_BYTE, s.MPI_SOURCE, s.MPI_TAG, c->comm, MPI_STATUS_IGNORE) !=
        MPI_SUCCESS) {
        free(b);
        return PK_EBACKEND;
    }
    *from = s.MPI_SOURCE;
    *tag = s.MPI_TAG;
    *buf = b;
    *len = (size_t)n;
    return 1;
}

int pk__mpi_msg_send(pk_ctx *ctx, void *chan, int to, int tag, void *buf, size_t len) {
    int taken = pk__mpi_serial_begin();
    int rc = msg_send(ctx, chan, to, tag, buf, len);
    pk__mpi_serial_end(taken);
    return rc;
}

int pk__mpi_msg_poll(pk_ctx *ctx, void *chan, int *from, int *tag, void **buf, size_t *len) {
    int taken = pk__mpi_serial_begin();
    int rc = msg_poll(ctx, chan, from, tag, buf, len);
    pk__mpi_serial_end(taken);
    return rc;
}

void pk__mpi_msg_close(pk_ctx *ctx, void *chan) {
    msg_chan *c = chan;
    (void)ctx;
    if (c == NULL)
        return;
    for (int i = 0; i < c->nout; i++) {
        MPI_Wait(&c->out[i].req, MPI_STATUS_IGNORE);
        free(c->out[i].buf);
    }
    free(c->out);
    MPI_Barrier(c->comm);
    MPI_Comm_free(&c->comm);
    free(c);
}
