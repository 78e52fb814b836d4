/* The squares kernel: out[i] = x * x for x = first + i, and the exact sum of the
 * squares. One fused pass (store and sum) per chunk, so the array is written
 * once and never read back: the kernel runs at store bandwidth. Plain stores:
 * non-temporal (streaming) stores measured 20-35% slower than plain ones on the
 * virtual machines this was tuned on (bench/bench_squares.c shows the fill
 * anchor next to it). */
#include <string.h>

#include "isa.h"
#include "parkit/parkit.h"
#include "parkit/squares.h"

__extension__ typedef unsigned __int128 u128;

typedef struct squares_arg {
    int64_t first;
} squares_arg;

/* The squares are made by differences, not multiplications: lane j of a
 * group of SQ_LANES holds x^2 for x = x0 + j + SQ_LANES k and the step to the
 * next one, (x + L)^2 - x^2 = 2 L x + L^2, which itself grows by 2 L^2. Two
 * adds per square instead of a 64-bit multiply, which the AVX2 and SSE levels
 * emulate with three 32-bit ones: on a 2-core Zen guest the multiplying loop
 * took as long as the fill of the same array, so the stores waited on it. The
 * arithmetic wraps modulo 2^64, and every square fits in 64 bits, so each one
 * comes out exact. The sum is two 64-bit lanes per lane (low and high 32 bits
 * of each square): each grows by < 2^32 per element, so a chunk of up to 2^32
 * elements cannot overflow it. */
enum { SQ_LANES = 8 };

#if defined(__GNUC__)
/* Four lanes as one vector (AVX2 register, or two SSE ones): written out as
 * vectors because the compilers leave lanes kept in arrays scalar here. */
typedef uint64_t u64x4 __attribute__((vector_size(32)));

PK_HOT_BODY void squares_run(int64_t x0, int64_t n, int64_t *restrict out, uint64_t *lo,
                             uint64_t *hi) {
    const uint64_t L = SQ_LANES;
    const u64x4 j4 = {0, 1, 2, 3}, mask = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu};
    u64x4 xa = (uint64_t)x0 + j4, xb = xa + 4; /* two's complement: x^2 and 2 L x wrap right */
    u64x4 sa = xa * xa, sb = xb * xb;
    u64x4 da = 2 * L * xa + L * L, db = 2 * L * xb + L * L;
    u64x4 la = {0}, lb = {0}, ha = {0}, hb = {0};
    int64_t i = 0;
    for (; n - i >= SQ_LANES; i += SQ_LANES) {
        if (out != NULL) {
            memcpy(out + i, &sa, sizeof sa);
            memcpy(out + i + 4, &sb, sizeof sb);
        }
        la += sa & mask;
        lb += sb & mask;
        ha += sa >> 32;
        hb += sb >> 32;
        sa += da;
        sb += db;
        da += 2 * L * L;
        db += 2 * L * L;
    }
    uint64_t rest[SQ_LANES]; /* the last n mod L squares, where the lanes left off */
    memcpy(rest, &sa, sizeof sa);
    memcpy(rest + 4, &sb, sizeof sb);
    for (int64_t j = 0; i + j < n; j++) {
        if (out != NULL)
            out[i + j] = (int64_t)rest[j];
        *lo += rest[j] & 0xffffffffu;
        *hi += rest[j] >> 32;
    }
    u64x4 l = la + lb, h = ha + hb;
    *lo += l[0] + l[1] + l[2] + l[3];
    *hi += h[0] + h[1] + h[2] + h[3];
}
#else
PK_HOT_BODY void squares_run(int64_t x0, int64_t n, int64_t *restrict out, uint64_t *lo,
                             uint64_t *hi) {
    for (int64_t i = 0; i < n; i++) {
        uint64_t x = (uint64_t)x0 + (uint64_t)i, s = x * x;
        if (out != NULL)
            out[i] = (int64_t)s;
        *lo += s & 0xffffffffu;
        *hi += s >> 32;
    }
}
#endif

PK_HOT_BODY pk_i128 chunk_squares_body(int64_t x0, int64_t n, int64_t *restrict out) {
    uint64_t lo = 0, hi = 0;
    if (out != NULL)
        squares_run(x0, n, out, &lo, &hi);
    else
        squares_run(x0, n, NULL, &lo, &hi);
    u128 s = ((u128)hi << 32) + lo;
    return (pk_i128){.lo = (uint64_t)s, .hi = (int64_t)(uint64_t)(s >> 64)};
}
/* Compiled per instruction set (isa.h). */
PK_HOT(static, pk_i128, chunk_squares, (int64_t x0, int64_t n, int64_t *restrict out), (x0, n, out),
       chunk_squares_body)

static int squares_chunk(void *arg, int64_t begin, int64_t end, void *out, void *acc,
                         pk_worker *w) {
    (void)w;
    const squares_arg *a = arg;
    *(pk_i128 *)acc = chunk_squares(a->first + begin, end - begin, out);
    return 0;
}

static int check_range(pk_ctx *ctx, int64_t first, int64_t count) {
    if (count < 0)
        return pk_ctx_fail(ctx, PK_EINVAL, "negative count %lld", (long long)count);
    if (count == 0)
        return 0;
    if (first > INT64_MAX - (count - 1))
        return pk_ctx_fail(ctx, PK_EINVAL,
                           "the range starting at %lld with %lld values "
                           "passes 2^63-1",
                           (long long)first, (long long)count);
    int64_t last = first + (count - 1);
    if (first < -PK_SQUARES_MAX_ABS)
        return pk_ctx_fail(ctx, PK_EOVERFLOW, "%lld squared does not fit in 64 bits",
                           (long long)first);
    if (last > PK_SQUARES_MAX_ABS)
        return pk_ctx_fail(
            ctx, PK_EOVERFLOW, "%lld squared does not fit in 64 bits",
            (long long)(first > PK_SQUARES_MAX_ABS ? first : PK_SQUARES_MAX_ABS + 1));
    return 0;
}

static pk_opts squares_opts(int where) {
    return (pk_opts){.schedule = PK_STATIC, .chunk = PK_SQUARES_CHUNK, .where = where};
}

int pk_squares(pk_ctx *ctx, int64_t first, int64_t count, int where, int64_t *out, pk_i128 *sum) {
    if (ctx == NULL || sum == NULL)
        return ctx ? pk_ctx_fail(ctx, PK_EINVAL, "no result pointer") : PK_EINVAL;
    pk_kernel_begin(ctx, "squares");
    int rc = check_range(ctx, first, count);
    if (rc == 0 && (where < PK_SQUARES_SUM_ONLY || where > PK_DISTRIBUTED))
        rc = pk_ctx_fail(ctx, PK_EINVAL, "unknown placement %d", where);
    *sum = (pk_i128){0, 0};
    if (rc == 0 && count > 0) {
        squares_arg a = {.first = first};
        int store = where != PK_SQUARES_SUM_ONLY;
        pk_opts o = squares_opts(store ? where : PK_ON_ROOT);
        rc = pk_map_reduce(ctx, count, &o, squares_chunk, &a, store ? sizeof *out : 0,
                           store ? out : NULL, &pk_sum_i128, sum);
    } else {
        rc = pk_agree(ctx, rc);
    }
    pk_kernel_end(ctx);
    return rc;
}

int pk_squares_local_range(pk_ctx *ctx, int64_t count, int64_t *begin, int64_t *end) {
    pk_opts o = squares_opts(PK_DISTRIBUTED);
    return pk_local_range(ctx, count, &o, begin, end);
}

/* Sum of x^2 for x in [1, n], n >= 0. */
static u128 sum_sq_to(u128 n) {
    return n * (n + 1) * (2 * n + 1) / 6;
}

/* Sum of x^2 for x in [a, b], 0 <= a <= b + 1. */
static u128 sum_sq_between(u128 a, u128 b) {
    return sum_sq_to(b) - (a > 0 ? sum_sq_to(a - 1) : 0);
}

int pk_squares_expected(int64_t first, int64_t count, pk_i128 *sum) {
    if (sum == NULL || count < 0 || (count > 0 && first > INT64_MAX - (count - 1)))
        return PK_EINVAL;
    *sum = (pk_i128){0, 0};
    if (count == 0)
        return 0;
    int64_t last = first + (count - 1);
    if (first < -PK_SQUARES_MAX_ABS || last > PK_SQUARES_MAX_ABS)
        return PK_EOVERFLOW;
    u128 s = 0;
    if (first < 0) { /* the negative part mirrors onto [max(1, -last), -first] */
        u128 hi = (u128)(-first);
        u128 lo = last < 0 ? (u128)(-last) : 1;
        s += sum_sq_between(lo, hi);
    }
    if (last >= 0)
        s += sum_sq_between(first > 0 ? (u128)first : 0, (u128)last);
    sum->lo = (uint64_t)s;
    sum->hi = (int64_t)(uint64_t)(s >> 64);
    return 0;
}

size_t pk_i128_to_string(pk_i128 v, char *buf, size_t len) {
    char tmp[48];
    size_t n = 0;
    int neg = v.hi < 0;
    u128 u = ((u128)(uint64_t)v.hi << 64) | v.lo;
    if (neg)
        u = ~u + 1;
    do {
        tmp[n++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u != 0);
    if (neg)
        tmp[n++] = '-';
    if (len == 0)
        return n;
    size_t k = n < len - 1 ? n : len - 1;
    for (size_t i = 0; i < k; i++)
        buf[i] = tmp[n - 1 - i];
    buf[k] = '\0';
    return n;
}

int pk_i128_eq(pk_i128 a, pk_i128 b) {
    return a.lo == b.lo && a.hi == b.hi;
}
