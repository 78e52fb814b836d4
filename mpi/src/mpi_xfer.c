/* Moving bytes and values between ranks. MPI counts are ints, so anything that
 * may pass 2^31 bytes (a gathered squares array, a big integer) goes in pieces
 * of at most pk__mpi_max_message() bytes; values whose type has pack/unpack
 * (big integers) travel as length-prefixed packed bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mpi_impl.h"

enum { DEFAULT_MAX_MESSAGE = 1 << 30 };

static size_t max_message = DEFAULT_MAX_MESSAGE;

void pk__mpi_set_max_message(size_t bytes) {
    max_message = bytes > 0 && bytes <= DEFAULT_MAX_MESSAGE ? bytes : DEFAULT_MAX_MESSAGE;
}

size_t pk__mpi_max_message(void) {
    return max_message;
}

/* ---- pending requests ---- */

static int grow(void **array, int *cap, size_t elem, int need) {
    if (need <= *cap)
        return 0;
    int ncap = *cap > 0 ? *cap * 2 : 16;
    while (ncap < need)
        ncap *= 2;
    void *p = realloc(*array, (size_t)ncap * elem);
    if (p == NULL)
        return MPI_ERR_NO_MEM;
    *array = p;
    *cap = ncap;
    return 0;
}

int pk__reqs_add(pk__reqs *q, MPI_Request r, void *buf) {
    int rcap = q->cap, bcap = q->cap;
    if (grow((void **)&q->req, &rcap, sizeof *q->req, q->n + 1) != 0 ||
        grow((void **)&q->buf, &bcap, sizeof *q->buf, q->n + 1) != 0) {
        /* cannot track it: complete it now rather than lose it */
        MPI_Wait(&r, MPI_STATUS_IGNORE);
        free(buf);
        return MPI_ERR_NO_MEM;
    }
    q->cap = rcap < bcap ? rcap : bcap;
    q->req[q->n] = r;
    q->buf[q->n] = buf;
    q->n++;
    return MPI_SUCCESS;
}

int pk__reqs_keep(pk__reqs *q, void *buf) {
    if (grow((void **)&q->keep, &q->capkeep, sizeof *q->keep, q->nkeep + 1) != 0)
        return MPI_ERR_NO_MEM;
    q->keep[q->nkeep++] = buf;
    return MPI_SUCCESS;
}

static void free_kept(pk__reqs *q) {
    for (int i = 0; i < q->nkeep; i++)
        free(q->keep[i]);
    q->nkeep = 0;
}

int pk__reqs_waitall(pk__reqs *q) {
    int rc = MPI_SUCCESS;
    if (q->n > 0)
        rc = MPI_Waitall(q->n, q->req, MPI_STATUSES_IGNORE);
    for (int i = 0; i < q->n; i++)
        free(q->buf[i]);
    q->n = 0;
    free_kept(q);
    return rc;
}

int pk__reqs_test(pk__reqs *q) {
    int k = 0;
    for (int i = 0; i < q->n; i++) {
        int done = 0;
        int rc = MPI_Test(&q->req[i], &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS)
            return rc;
        if (done) {
            free(q->buf[i]);
            continue;
        }
        q->req[k] = q->req[i];
        q->buf[k] = q->buf[i];
        k++;
    }
    q->n = k;
    if (k == 0)
        free_kept(q);
    return MPI_SUCCESS;
}

void pk__reqs_free(pk__reqs *q) {
    pk__reqs_waitall(q);
    free(q->req);
    free(q->buf);
    free(q->keep);
    memset(q, 0, sizeof *q);
}

/* ---- bytes of a known length ---- */

static int piece_len(size_t left) {
    return (int)(left < max_message ? left : max_message);
}

/* Posts len bytes as non-blocking sends (send = 1) or receives in pieces of at
 * most max_message bytes, each request kept in q. */
static int post_pieces(int send, MPI_Comm c, int peer, int tag, char *p, size_t len, pk__reqs *q) {
    do {
        int n = piece_len(len);
        MPI_Request r;
        int rc = send ? MPI_Isend(p, n, MPI_BYTE, peer, tag, c, &r)
                      : MPI_Irecv(p, n, MPI_BYTE, peer, tag, c, &r);
        if (rc == MPI_SUCCESS)
            rc = pk__reqs_add(q, r, NULL);
        if (rc != MPI_SUCCESS)
            return rc;
        p += n;
        len -= (size_t)n;
    } while (len > 0);
    return MPI_SUCCESS;
}

int pk__isend_bytes(MPI_Comm c, int dest, int tag, const void *buf, size_t len, pk__reqs *q) {
    return post_pieces(1, c, dest, tag, (char *)(uintptr_t)buf, len, q); /* only read */
}

int pk__irecv_bytes(MPI_Comm c, int src, int tag, void *buf, size_t len, pk__reqs *q) {
    return post_pieces(0, c, src, tag, buf, len, q);
}

int pk__bcast_bytes(MPI_Comm c, int root, void *buf, size_t len) {
    char *p = buf;
    while (len > 0) {
        int n = piece_len(len);
        int rc = MPI_Bcast(p, n, MPI_BYTE, root, c);
        if (rc != MPI_SUCCESS)
            return rc;
        p += n;
        len -= (size_t)n;
    }
    return MPI_SUCCESS;
}

/* ---- bytes with their length sent ahead ---- */

int pk__isend_sized(MPI_Comm c, int dest, int tag, void *buf, size_t len, pk__reqs *q) {
    uint64_t *head = malloc(sizeof *head);
    if (head == NULL) {
        free(buf);
        return MPI_ERR_NO_MEM;
    }
    *head = len;
    MPI_Request r;
    int rc = MPI_Isend(head, 1, MPI_UINT64_T, dest, tag, c, &r);
    if (rc != MPI_SUCCESS) {
        free(head);
        free(buf);
        return rc;
    }
    rc = pk__reqs_add(q, r, head);
    if (rc == MPI_SUCCESS && (rc = pk__reqs_keep(q, buf)) != MPI_SUCCESS)
        free(buf);
    if (rc == MPI_SUCCESS && len > 0)
        rc = pk__isend_bytes(c, dest, tag, buf, len, q);
    return rc;
}

int pk__recv_sized(MPI_Comm c, int src, int tag, void **buf, size_t *len) {
    uint64_t head = 0;
    *buf = NULL;
    *len = 0;
    int rc = MPI_Recv(&head, 1, MPI_UINT64_T, src, tag, c, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS)
        return rc;
    char *p = malloc(head > 0 ? (size_t)head : 1);
    if (p == NULL)
        return MPI_ERR_NO_MEM;
    pk__reqs q = {0};
    if (head > 0)
        rc = pk__irecv_bytes(c, src, tag, p, (size_t)head, &q);
    int w = pk__reqs_waitall(&q);
    pk__reqs_free(&q);
    if (rc == MPI_SUCCESS)
        rc = w;
    if (rc != MPI_SUCCESS) {
        free(p);
        return rc;
    }
    *buf = p;
    *len = (size_t)head;
    return MPI_SUCCESS;
}

int pk__bcast_sized(MPI_Comm c, int root, void **buf, size_t *len) {
    int me;
    MPI_Comm_rank(c, &me);
    uint64_t head = me == root ? *len : 0;
    int rc = MPI_Bcast(&head, 1, MPI_UINT64_T, root, c);
    if (rc != MPI_SUCCESS)
        return rc;
    if (me != root) {
        *buf = malloc(head > 0 ? (size_t)head : 1);
        *len = (size_t)head;
    }
    /* a rank without memory still takes part, into a dummy, and reports after */
    char dummy[4096];
    int nomem = *buf == NULL && head > 0;
    if (!nomem)
        return head > 0 ? pk__bcast_bytes(c, root, *buf, (size_t)head) : MPI_SUCCESS;
    for (uint64_t off = 0; off < head; off += sizeof dummy) {
        size_t n = head - off < sizeof dummy ? (size_t)(head - off) : sizeof dummy;
        rc = MPI_Bcast(dummy, (int)n, MPI_BYTE, root, c);
        if (rc != MPI_SUCCESS)
            return rc;
    }
    return MPI_ERR_NO_MEM;
}

/* ---- packed values ---- */

int pk__pack_values(const pk_type *t, const char *values, int64_t count, void **buf, size_t *len) {
    size_t cap = 4096, used = 0;
    char *out = malloc(cap);
    int rc = out ? 0 : PK_ENOMEM;
    for (int64_t i = 0; i < count && rc == 0; i++) {
        void *one = NULL;
        size_t n = 0;
        rc = t->pack(values + (size_t)i * t->size, &one, &n, t->arg);
        if (rc != 0)
            break;
        uint64_t head = n;
        while (rc == 0 && used + sizeof head + n > cap) {
            char *grown = realloc(out, cap * 2);
            if (grown == NULL)
                rc = PK_ENOMEM;
            else
                out = grown, cap *= 2;
        }
        if (rc == 0) {
            memcpy(out + used, &head, sizeof head);
            if (n > 0)
                memcpy(out + used + sizeof head, one, n);
            used += sizeof head + n;
        }
        free(one);
    }
    if (rc != 0) {
        free(out);
        return rc;
    }
    *buf = out;
    *len = used;
    return 0;
}

int pk__unpack_values(const pk_type *t, char *values, int64_t count, const void *buf, size_t len) {
    const char *p = buf;
    size_t off = 0;
    for (int64_t i = 0; i < count; i++) {
        uint64_t n;
        if (len - off < sizeof n)
            return PK_EBACKEND;
        memcpy(&n, p + off, sizeof n);
        off += sizeof n;
        if (len - off < n)
            return PK_EBACKEND;
        int rc = t->unpack(values + (size_t)i * t->size, p + off, (size_t)n, t->arg);
        if (rc != 0)
            return rc;
        off += (size_t)n;
    }
    return off == len ? 0 : PK_EBACKEND;
}
