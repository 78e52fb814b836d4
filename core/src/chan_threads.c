/* The bounded channel between threads of one process: a ring buffer under one
 * mutex with two condition variables, in the shape of a correct worker queue:
 * waits re-check their condition in a loop, copies are done in batches, a
 * waiter is signalled only when someone waits, and close/abort wake everyone.
 * Used by the serial and OpenMP backends. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "parkit/internal.h"

typedef struct thr_chan {
    pk_chan base;
    pthread_mutex_t mu;
    pthread_cond_t not_full;
    pthread_cond_t not_empty;
    char *buf;
    size_t cap, head, count, max_depth;
    int open_producers;
    int abort_code; /* 0 while not aborted */
    int wait_put, wait_get;
    void (*observe)(void *arg, pk_chan *ch, int event, const void *item);
    void *observe_arg;
} thr_chan;

static void ring_copy_in(thr_chan *c, const char *src, size_t n) {
    size_t es = c->base.elem_size;
    size_t tail = (c->head + c->count) % c->cap;
    size_t first = n < c->cap - tail ? n : c->cap - tail;
    memcpy(c->buf + tail * es, src, first * es);
    memcpy(c->buf, src + first * es, (n - first) * es);
    c->count += n;
    if (c->count > c->max_depth)
        c->max_depth = c->count;
}

static void ring_copy_out(thr_chan *c, char *dst, size_t n) {
    size_t es = c->base.elem_size;
    size_t first = n < c->cap - c->head ? n : c->cap - c->head;
    memcpy(dst, c->buf + c->head * es, first * es);
    memcpy(dst + first * es, c->buf, (n - first) * es);
    c->head = (c->head + n) % c->cap;
    c->count -= n;
}

/* With an observer, items move one at a time so it sees each state. */
static size_t batch_limit(const thr_chan *c, size_t n) {
    return c->observe ? 1 : n;
}

static int thr_put(pk_chan *ch, const void *items, size_t count, int block) {
    thr_chan *c = (thr_chan *)ch;
    const char *src = items;
    int rc = 0;
    pthread_mutex_lock(&c->mu);
    while (count > 0) {
        while (c->count == c->cap && c->abort_code == 0 && block) {
            c->wait_put++;
            pthread_cond_wait(&c->not_full, &c->mu);
            c->wait_put--;
        }
        if (c->abort_code != 0) {
            rc = c->abort_code;
            break;
        }
        if (c->open_producers == 0) {
            rc = PK_ECLOSED;
            break;
        }
        if (c->count == c->cap) {
            rc = PK_EAGAIN;
            break;
        }
        size_t room = c->cap - c->count;
        size_t n = batch_limit(c, count < room ? count : room);
        ring_copy_in(c, src, n);
        if (c->observe)
            c->observe(c->observe_arg, ch, 0, src);
        src += n * ch->elem_size;
        count -= n;
        if (c->wait_get > 0) {
            if (n > 1)
                pthread_cond_broadcast(&c->not_empty);
            else
                pthread_cond_signal(&c->not_empty);
        }
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static int thr_get(pk_chan *ch, void *items, size_t max, size_t *got, int block) {
    thr_chan *c = (thr_chan *)ch;
    int rc = 0;
    *got = 0;
    pthread_mutex_lock(&c->mu);
    while (c->count == 0 && c->abort_code == 0 && c->open_producers > 0 && block) {
        c->wait_get++;
        pthread_cond_wait(&c->not_empty, &c->mu);
        c->wait_get--;
    }
    if (c->abort_code != 0) {
        rc = c->abort_code;
    } else if (c->count == 0) {
        rc = c->open_producers == 0 ? PK_ECLOSED : PK_EAGAIN;
    } else {
        size_t n = batch_limit(c, max < c->count ? max : c->count);
        ring_copy_out(c, items, n);
        *got = n;
        if (c->observe)
            c->observe(c->observe_arg, ch, 1, items);
        if (c->wait_put > 0) {
            if (n > 1)
                pthread_cond_broadcast(&c->not_full);
            else
                pthread_cond_signal(&c->not_full);
        }
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static int thr_close(pk_chan *ch) {
    thr_chan *c = (thr_chan *)ch;
    int rc = 0;
    pthread_mutex_lock(&c->mu);
    if (c->open_producers == 0)
        rc = PK_ECLOSED;
    else if (--c->open_producers == 0)
        pthread_cond_broadcast(&c->not_empty);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static int thr_abort(pk_chan *ch, int code) {
    thr_chan *c = (thr_chan *)ch;
    pthread_mutex_lock(&c->mu);
    if (c->abort_code == 0)
        c->abort_code = code;
    pthread_cond_broadcast(&c->not_full);
    pthread_cond_broadcast(&c->not_empty);
    pthread_mutex_unlock(&c->mu);
    return 0;
}

static size_t thr_max_depth(const pk_chan *ch) {
    thr_chan *c = (thr_chan *)ch;
    pthread_mutex_lock(&c->mu);
    size_t d = c->max_depth;
    pthread_mutex_unlock(&c->mu);
    return d;
}

/* Called with the lock held (from an observer) or with the channel idle. */
static size_t thr_peek(const pk_chan *ch, void *items, size_t max) {
    const thr_chan *c = (const thr_chan *)ch;
    size_t es = ch->elem_size;
    size_t n = max < c->count ? max : c->count;
    for (size_t i = 0; i < n; i++)
        memcpy((char *)items + i * es, c->buf + ((c->head + i) % c->cap) * es, es);
    return c->count;
}

static void thr_free(pk_chan *ch) {
    thr_chan *c = (thr_chan *)ch;
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->not_full);
    pthread_cond_destroy(&c->not_empty);
    free(c->buf);
    free(c);
}

static const pk__chan_ops thr_ops = {
    .put = thr_put,
    .get = thr_get,
    .close = thr_close,
    .abort = thr_abort,
    .max_depth = thr_max_depth,
    .peek = thr_peek,
    .free = thr_free,
};

int pk__chan_threads_open(pk_ctx *ctx, pk_chan **ch, const pk_chan_opts *opts) {
    thr_chan *c = calloc(1, sizeof *c);
    if (c == NULL)
        return pk__set_error(ctx, PK_ENOMEM, "no memory for a channel");
    c->buf = malloc(opts->capacity * opts->elem_size);
    if (c->buf == NULL) {
        free(c);
        return pk__set_error(ctx, PK_ENOMEM, "no memory for a channel of %zu items",
                             opts->capacity);
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->not_full, NULL);
    pthread_cond_init(&c->not_empty, NULL);
    c->base.ops = &thr_ops;
    c->base.elem_size = opts->elem_size;
    c->cap = opts->capacity;
    c->open_producers = opts->producers;
    c->observe = opts->observe;
    c->observe_arg = opts->observe_arg;
    *ch = &c->base;
    return 0;
}
