/* The sieve kernel on the pool: the interval is cut into chunks of whole wheel
 * bytes whose size depends on the interval alone, never on the pool, and
 * workers claim them dynamically, or in contiguous blocks high up where the
 * set-up of a chunk is costly, each with its own sieve engine (sieve_engine.c),
 * which carries its state from a chunk to the next one. Counting sums per-chunk counts; listing
 * runs waves of chunks whose bitmaps come back to rank 0 in order, so memory stays bounded whatever
 * the interval. */
#include <stdlib.h>
#include <string.h>

#include "parkit/parkit.h"
#include "parkit/sieve.h"
#include "sieve_engine.h"

/* Chunk sizes in wheel bytes (30 numbers each). A chunk that a worker does not
 * take right after the one before it pays a set-up (placing every sieving prime
 * up to the square root) that takes about the time of sieving a few square
 * roots' worth of numbers, so where workers claim chunks one at a time a chunk
 * spans at least 16 of them (64 left [1e12, 1e12 + 1e8] in two chunks of 3
 * and 0.3 MiB: no gain from a second thread); where they take blocks and
 * carry their state (CARRY_SQRT) they pay it once per block, and the chunks
 * are as small as below (a square-root minimum made [1e17, 1e17 + 1e9] a
 * single chunk for one thread). At least MIN_CHUNK, so that small intervals
 * are one or a few chunks; about TARGET_CHUNKS chunks when the interval is
 * large, for balance; at most COUNT_CHUNK (10^9 numbers) when counting and
 * LIST_CHUNK when listing, whose bitmaps travel to rank 0. A chunk is a whole
 * number of segments unless it is the whole interval, so that the next chunk
 * can carry on from its state. WINDOW bounds the chunks of one pool call. */
enum {
    MIN_CHUNK = 1 << 19,
    COUNT_CHUNK = 1 << 25,
    LIST_CHUNK = 1 << 20,
    TARGET_CHUNKS = 64,
    WINDOW = 1 << 20,
    BATCH = 4096,
};

/* From this square root up (intervals above about 10^12), workers take
 * contiguous blocks of chunks (PK_STATIC) and carry the state from one to the
 * next, paying the set-up about once each; below it the set-up is cheap and
 * they claim chunks one at a time, which balances a busy machine better. Two
 * threads, medians of 3, from 64 square roots and claiming to 16 and blocks:
 * [1e12, 1e12 + 1e10] 0.97 -> 0.92 s, [1e13, 1e13 + 1e9] 0.134 -> 0.127 s,
 * [1e14, 1e14 + 1e9] 0.204 -> 0.178 s, [1e12, 1e12 + 1e8] 0.021 -> 0.013 s;
 * pi(1e10) took 0.553 -> 0.574 s with blocks, so it keeps claiming. */
#define CARRY_SQRT 1000000.0

typedef struct sieve_plan {
    uint64_t lo, hi;
    uint64_t blo;    /* byte holding lo */
    uint64_t nbytes; /* bytes up to the one holding hi */
    uint64_t chunk;  /* bytes per chunk */
    int64_t nchunks;
    int schedule;  /* PK_STATIC when workers carry state from chunk to chunk */
    int64_t first; /* the window's first chunk, for the pool callbacks */
} sieve_plan;

static uint64_t chunk_size(uint64_t nbytes, uint64_t hi, uint64_t sq, uint64_t cap, int carry) {
    uint64_t cb = carry ? 0 : sq / 30 * 16;
    if (cb < MIN_CHUNK)
        cb = MIN_CHUNK;
    if (nbytes / TARGET_CHUNKS > cb)
        cb = nbytes / TARGET_CHUNKS;
    if (cb > cap)
        cb = cap;
    if (cb >= nbytes)
        return nbytes;
    uint64_t seg = (uint64_t)1 << pk__sieve_segment_log(hi);
    return (cb + seg - 1) & ~(seg - 1);
}

static sieve_plan make_plan(uint64_t lo, uint64_t hi, uint64_t cap) {
    sieve_plan p = {.lo = lo, .hi = hi, .blo = lo / 30};
    uint64_t sq = pk__isqrt(hi);
    p.nbytes = hi / 30 - p.blo + 1;
    p.schedule = (double)sq >= CARRY_SQRT ? PK_STATIC : PK_DYNAMIC;
    p.chunk = chunk_size(p.nbytes, hi, sq, cap, p.schedule == PK_STATIC);
    p.nchunks = (int64_t)((p.nbytes - 1) / p.chunk + 1);
    return p;
}

static pk__sieve_job chunk_job(const sieve_plan *p, int64_t c) {
    uint64_t off = (uint64_t)c * p->chunk;
    uint64_t len = p->nbytes - off < p->chunk ? p->nbytes - off : p->chunk;
    return (pk__sieve_job){.lo = p->lo, .hi = p->hi, .b0 = p->blo + off, .b1 = p->blo + off + len};
}

/* 2, 3 and 5 are not on the wheel. */
static uint64_t wheel_primes_below_7(uint64_t lo, uint64_t hi) {
    return (uint64_t)(lo <= 2 && hi >= 2) + (lo <= 3 && hi >= 3) + (lo <= 5 && hi >= 5);
}

/* ---- per-worker engines and chunk callbacks ---- */

static int worker_begin(void *arg, pk_worker *w) {
    const sieve_plan *p = arg;
    /* the engine's segment, outside any task (aligned: its own allocation) */
    unsigned seg_log = pk__sieve_segment_log(p->hi);
    int rc = pk_worker_reserve(w, ((size_t)1 << seg_log) + 64);
    if (rc != 0)
        return rc;
    w->local = pk__sieve_new(seg_log);
    return w->local ? 0 : pk_fail(w, PK_ENOMEM, "no memory for a sieve segment");
}

static void worker_end(void *arg, pk_worker *w) {
    (void)arg;
    pk__sieve_free(w->local);
    w->local = NULL;
}

static int stopping(void *w) {
    return pk_stopping(w);
}

static int count_segment(void *arg, const uint8_t *seg, uint64_t byte, size_t len) {
    (void)byte;
    *(uint64_t *)arg += pk__sieve_popcount(seg, len);
    return 0;
}

static int run_chunk(const sieve_plan *p, int64_t c, uint8_t *out, uint64_t *count, pk_worker *w) {
    pk__sieve_job job = chunk_job(p, c);
    job.out = out;
    job.on_segment = count_segment;
    job.arg = count;
    job.stop = stopping;
    job.stop_arg = w;
    /* with PK_STATIC the engine keeps each prime's next multiple only up to the
     * end of this worker's block: near 2^64 the last push of every sieving
     * prime past it cost a seventh of the time. Claiming chunks one at a time,
     * the worker may get the next chunk too, and the state may carry on. */
    int64_t run_end = p->schedule == PK_STATIC ? pk_worker_run_end(w) : -1;
    if (run_end > 0) {
        uint64_t off = (uint64_t)(p->first + run_end) * p->chunk;
        job.keep_to = p->blo + (off < p->nbytes ? off : p->nbytes);
    }
    int rc = pk__sieve_chunk(w->local, &job);
    if (rc == PK_ENOMEM)
        return pk_fail(w, rc, "no memory for the sieving primes of chunk %lld", (long long)c);
    return rc;
}

static int count_chunk(void *arg, int64_t begin, int64_t end, void *out, void *acc, pk_worker *w) {
    (void)out;
    const sieve_plan *p = arg;
    uint64_t n = 0;
    for (int64_t c = begin; c < end; c++) {
        int rc = run_chunk(p, p->first + c, NULL, &n, w);
        if (rc != 0)
            return rc;
    }
    *(uint64_t *)acc = n;
    return 0;
}

/* ---- windows of chunks ----
 * A pool call numbers its tasks from 0; a window starting at chunk `first`
 * passes first as the call's task_base, so that error origins and injected
 * faults speak of chunk numbers of the whole interval. */

static pk_opts chunk_opts(const sieve_plan *p, int64_t first) {
    return (pk_opts){.schedule = p->schedule,
                     .chunk = 1,
                     .worker_begin = worker_begin,
                     .worker_end = worker_end,
                     .task_base = first};
}

static int count_all(pk_ctx *ctx, sieve_plan *p, uint64_t *total) {
    *total = 0;
    for (int64_t first = 0; first < p->nchunks; first += WINDOW) {
        int64_t n = p->nchunks - first < WINDOW ? p->nchunks - first : WINDOW;
        uint64_t sum = 0;
        p->first = first;
        pk_opts o = chunk_opts(p, first);
        int rc = pk_map_reduce(ctx, n, &o, count_chunk, p, 0, NULL, &pk_sum_u64, &sum);
        if (rc != 0)
            return rc;
        *total += sum;
    }
    return 0;
}

static int check_args(pk_ctx *ctx, uint64_t lo, uint64_t hi, int has_out, const char *what) {
    if (!has_out)
        return pk_ctx_fail(ctx, PK_EINVAL, "no %s given", what);
    if (lo > hi)
        return pk_ctx_fail(ctx, PK_EINVAL, "lo = %llu is above hi = %llu", (unsigned long long)lo,
                           (unsigned long long)hi);
    return 0;
}

int pk_sieve_count(pk_ctx *ctx, uint64_t lo, uint64_t hi, uint64_t *count) {
    if (ctx == NULL)
        return PK_EINVAL;
    pk_kernel_begin(ctx, "sieve");
    int rc = check_args(ctx, lo, hi, count != NULL, "result pointer");
    if (rc != 0 || hi < 7) {
        if (rc == 0)
            *count = wheel_primes_below_7(lo, hi);
        rc = pk_agree(ctx, rc);
    } else {
        sieve_plan p = make_plan(lo, hi, COUNT_CHUNK);
        uint64_t n = 0;
        rc = count_all(ctx, &p, &n);
        *count = n + wheel_primes_below_7(lo, hi);
    }
    pk_kernel_end(ctx);
    return rc;
}

/* ---- listing ---- */

/* A chunk's sieve bitmap: the compact form of its primes (one byte per 30
 * numbers instead of eight bytes per prime), which is what moves between
 * ranks; rank 0 turns it into numbers. */
typedef struct chunk_bits {
    uint8_t *bits;
    uint64_t len;
    uint64_t count;
} chunk_bits;

static void bits_destroy(void *value, void *arg) {
    (void)arg;
    free(((chunk_bits *)value)->bits);
}

static int bits_pack(const void *value, void **buf, size_t *len, void *arg) {
    (void)arg;
    const chunk_bits *b = value;
    uint8_t *p = malloc(16 + b->len);
    if (p == NULL)
        return PK_ENOMEM;
    memcpy(p, &b->len, 8);
    memcpy(p + 8, &b->count, 8);
    if (b->len > 0)
        memcpy(p + 16, b->bits, b->len);
    *buf = p;
    *len = 16 + b->len;
    return 0;
}

static int bits_unpack(void *value, const void *buf, size_t len, void *arg) {
    (void)arg;
    chunk_bits *b = value;
    uint64_t n;
    if (len < 16)
        return PK_EINVAL;
    memcpy(&n, buf, 8);
    if (n != len - 16)
        return PK_EINVAL;
    uint8_t *bits = malloc(n > 0 ? n : 1);
    if (bits == NULL)
        return PK_ENOMEM;
    memcpy(bits, (const uint8_t *)buf + 16, n);
    free(b->bits);
    b->bits = bits;
    b->len = n;
    memcpy(&b->count, (const uint8_t *)buf + 8, 8);
    return 0;
}

static const pk_type bits_type = {
    .size = sizeof(chunk_bits),
    .destroy = bits_destroy,
    .pack = bits_pack,
    .unpack = bits_unpack,
};

static int list_chunk(void *arg, int64_t task, void *result, pk_worker *w) {
    const sieve_plan *p = arg;
    chunk_bits *b = result;
    int64_t c = p->first + task;
    pk__sieve_job job = chunk_job(p, c);
    b->len = job.b1 - job.b0;
    b->count = 0;
    b->bits = pk_worker_alloc(w, b->len);
    if (b->bits == NULL)
        return PK_ENOMEM;
    return run_chunk(p, c, b->bits, &b->count, w);
}

/* Batches primes for the caller's emit. */
typedef struct emitter {
    pk_primes_fn emit;
    void *arg;
    uint64_t *buf;
    size_t n;
} emitter;

static int flush(emitter *e) {
    size_t n = e->n;
    e->n = 0;
    return n > 0 ? e->emit(e->arg, e->buf, n) : 0;
}

static int put_prime(void *arg, uint64_t prime) {
    emitter *e = arg;
    e->buf[e->n++] = prime;
    return e->n == BATCH ? flush(e) : 0;
}

static int emit_window(const sieve_plan *p, emitter *e, const chunk_bits *bits, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        pk__sieve_job job = chunk_job(p, p->first + i);
        int rc = pk__sieve_extract(bits[i].bits, job.b0, bits[i].len, put_prime, e);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Chunks per wave: a few per worker of a typical pool. It depends on the number
 * of ranks only, never on thread counts that could differ between ranks, since
 * every rank must make the same pool calls. */
static int64_t wave_size(pk_ctx *ctx) {
    int64_t w = 16 * (int64_t)pk_ctx_size(ctx);
    return w > 256 ? 256 : w;
}

/* One wave: sieve chunks [first, first + n) into bitmaps, then rank 0 emits
 * their primes in order. *emit_rc gets the callback's code, the same on every
 * rank. */
static int list_wave(pk_ctx *ctx, sieve_plan *p, emitter *e, int64_t first, int64_t n,
                     uint64_t *count, int *emit_rc) {
    chunk_bits *bits = NULL;
    int rc = pk_values_new((void **)&bits, &bits_type, n);
    rc = pk_agree(
        ctx, rc == 0 ? 0 : pk_ctx_fail(ctx, rc, "no memory for %lld chunk bitmaps", (long long)n));
    if (rc != 0)
        return rc;
    pk_opts o = chunk_opts(p, first);
    p->first = first;
    rc = pk_tasks(ctx, n, &o, list_chunk, p, &bits_type, bits);
    if (rc == 0 && pk_ctx_rank(ctx) == 0) {
        for (int64_t i = 0; i < n; i++)
            *count += bits[i].count;
        *emit_rc = emit_window(p, e, bits, n);
    }
    pk_values_free(&bits_type, n, bits);
    return rc;
}

/* Makes the callback's code (known on rank 0) everybody's. */
static int share_emit_rc(pk_ctx *ctx, int erc) {
    int rc = pk_bcast(ctx, &erc, sizeof erc);
    if (rc != 0)
        return rc;
    if (erc != 0)
        pk_ctx_fail(ctx, erc, "the prime callback returned %d", erc);
    return erc;
}

static int list_all(pk_ctx *ctx, sieve_plan *p, emitter *e, uint64_t *count) {
    int64_t wave = wave_size(ctx);
    int erc = 0;
    if (pk_ctx_rank(ctx) == 0) {
        for (uint64_t q = 2; q <= 5 && erc == 0; q += q == 2 ? 1 : 2)
            if (p->lo <= q && q <= p->hi)
                erc = put_prime(e, q);
    }
    *count = wheel_primes_below_7(p->lo, p->hi);
    int rc = share_emit_rc(ctx, erc);
    for (int64_t first = 0; rc == 0 && p->hi >= 7 && first < p->nchunks; first += wave) {
        int64_t n = p->nchunks - first < wave ? p->nchunks - first : wave;
        rc = list_wave(ctx, p, e, first, n, count, &erc);
        if (rc == 0)
            rc = share_emit_rc(ctx, erc);
    }
    if (rc == 0)
        rc = share_emit_rc(ctx, pk_ctx_rank(ctx) == 0 ? flush(e) : 0);
    if (rc == 0)
        rc = pk_bcast(ctx, count, sizeof *count);
    return rc;
}

int pk_sieve_primes(pk_ctx *ctx, uint64_t lo, uint64_t hi, pk_primes_fn emit, void *arg,
                    uint64_t *count) {
    if (ctx == NULL)
        return PK_EINVAL;
    pk_kernel_begin(ctx, "sieve");
    uint64_t n = 0;
    int rc = check_args(ctx, lo, hi, emit != NULL, "prime callback");
    emitter e = {.emit = emit, .arg = arg};
    if (rc == 0 && (e.buf = malloc(BATCH * sizeof *e.buf)) == NULL)
        rc = pk_ctx_fail(ctx, PK_ENOMEM, "no memory for a batch of primes");
    rc = pk_agree(ctx, rc);
    if (rc == 0) {
        sieve_plan p = make_plan(lo, hi, LIST_CHUNK);
        rc = list_all(ctx, &p, &e, &n);
    }
    free(e.buf);
    if (count != NULL)
        *count = n;
    pk_kernel_end(ctx);
    return rc;
}

/* pi(10^k), k = 0..19: the published values. */
static const uint64_t pi_pow10[20] = {
    0,
    4,
    25,
    168,
    1229,
    9592,
    78498,
    664579,
    5761455,
    50847534,
    455052511,
    UINT64_C(4118054813),
    UINT64_C(37607912018),
    UINT64_C(346065536839),
    UINT64_C(3204941750802),
    UINT64_C(29844570422669),
    UINT64_C(279238341033925),
    UINT64_C(2623557157654233),
    UINT64_C(24739954287740860),
    UINT64_C(234057667276344607),
};

uint64_t pk_prime_pi_pow10(int k) {
    return k >= 0 && k < 20 ? pi_pow10[k] : UINT64_MAX;
}
