/* The segmented sieve engine: sieves one chunk of the mod-30 wheel, segment by
 * segment, on the calling thread. Three kinds of sieving primes, as in the best
 * sieves: small ones cross off an L1-sized block at a time with a loop that does
 * eight multiples per turn of the wheel of 30; medium ones cross off a whole
 * segment, 48 multiples per turn of the wheel of 210 (the multiples of 7 are
 * pre-sieved); big ones (a few hits per segment at most) wait in a bucket per
 * segment, stepping on the wheel of 210 too, and only touch the segments they
 * hit. Sieving primes are produced by a second engine, segment by segment, so
 * none is ever held as a full list.
 *
 * Placing every sieving prime (its first multiple in the chunk) is the set-up,
 * and near 2^64 it costs as much as sieving a billion numbers. So the state
 * outlives a chunk: buckets are a ring over segments counted from where the
 * set-up was done, a big prime stays in it until its next multiple lies past
 * the interval's end (or past the end of the run of chunks the caller says
 * this engine will get, keep_to: near 2^64 the last push of each of the 2 10^8
 * sieving primes past a worker's block cost a seventh of the time), and an
 * engine given the chunk that follows its last one (of the same interval)
 * carries on from there, only adding the sieving primes that the higher square
 * root brings in. Any other chunk starts afresh. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "isa.h"
#include "parkit/error.h"
#include "prefault.h"
#include "sieve_engine.h"

#if defined(__GNUC__)
#define NOINLINE __attribute__((noinline))
#define PREFETCH_W(p) __builtin_prefetch((p), 1)
#else
#define NOINLINE
#define PREFETCH_W(p) ((void)(p))
#endif

#if defined(__GNUC__)
#define FALLTHROUGH __attribute__((fallthrough))
#else
#define FALLTHROUGH                                                                                \
    do {                                                                                           \
    } while (0)
#endif

/* Small primes (below SMALL_LIMIT) make at least four turns of the wheel
 * (eight multiples each) in an L1 block; a big prime (from BIG_LIMIT) hits a
 * segment of the largest size a few times at most, and is cheaper in the
 * buckets than visited in every segment by the medium loop. The limits were
 * tuned on pi(10^10), on [10^12, 10^12 + 2 10^9], on [10^14, 10^14 + 3 10^9]
 * and on [10^18, 10^18 + 2 10^9]; with 1 MiB segments, BIG_LIMIT 2^20 against
 * 2^21 took [10^18, 10^18 + 4 10^9] from 4.1-4.4 s to 3.2-3.4 s on one thread
 * (primesieve: 3.6-3.8 s), the same within the noise at 10^12, 10^14 and
 * 10^16. With the wheel of 210 and sorted medium lists, 2^21 and 2^22 were
 * the same within the noise. Segments grow with the square root up to 2^20
 * bytes and stay there (pk__sieve_segment_log). With those 1 MiB segments, on
 * a Zen 3 guest, BIG_LIMIT 30 * 2^16 (the most a medium prime's word holds)
 * against 2^20 took 0.91 of the time at [10^13, +10^9] and [10^14, +10^9],
 * 0.95 at [10^16, +10^9], 0.98 at [10^18, +4 10^9] on one and two threads and
 * 0.99 at [2^64 - 2 10^9, 2^64 - 1] on two (four to six alternating pairs
 * each): a prime up to there still hits a segment about ten times. */
enum {
    SEG_LOG_SMALL = 15,
    SEG_LOG_MIN = 18,
    SEG_LOG_MAX = 20,
    L1_BLOCK_MIN = 1 << 14,
    L1_BLOCK_DEFAULT = 1 << 15,
    L1_BLOCK_MAX = 1 << 16,
    SMALL_LIMIT = 1 << 13,
    BIG_LIMIT = 30 << 16,
    BUCKET_N = 1022,
    PLACE_BATCH = 1024,
    ARENA = 1 << 21,
    ARENA_STEP = 1 << 18,
};
_Static_assert(1 << SEG_LOG_MAX == PK__SIEVE_SEGMENT_MAX, "segment size and its log agree");
_Static_assert((BIG_LIMIT - 1) / 30 < 1 << 16, "a medium prime's a and wheel index share a word");

/* A small or medium sieving prime p = 30 a + r (r given by the list it is in).
 * Small (below 2^13, on the wheel of 30): a, and pos = (offset of its next
 * multiple from the block start) << 3 | wheel index of the multiplier of that
 * multiple. Medium (below 30 * 2^16, so a < 2^16, on the wheel of 210): a | (index
 * of the multiplier in wheel210) << 16, and pos = the offset, with all 32 bits:
 * the generator's single chunk starts each prime at its square, up to 2^27
 * bytes in. */
typedef struct sprime {
    uint32_t a;
    uint32_t pos;
} sprime;

/* v[0 .. n): the primes; a medium list keeps them in the order the next
 * segment crosses them off, by the wheel index of their next multiple (see
 * sort_by_wheel), and has w: as many slots, where the sort puts them. */
typedef struct plist {
    sprime *v, *w;
    size_t n, cap;
} plist;

/* A big sieving prime waiting for its segment: x = offset << 9 | 48 r index + j,
 * j the index of its multiplier in wheel210 (below). */
typedef struct bentry {
    uint32_t a;
    uint32_t x;
} bentry;

/* A block of a bucket, aligned to its size: a bucket is known by the free slot
 * after its newest entry (its tail), and the tail reaches the block's end,
 * aligned, exactly when the block is full; older blocks are full and hang off
 * the newest through `next`. So pushing touches the tail array and the slot,
 * never a block header. */
typedef struct bblock {
    struct bblock *next;
    size_t pad;
    bentry e[BUCKET_N];
} bblock;
_Static_assert((sizeof(bblock) & (sizeof(bblock) - 1)) == 0, "blocks are aligned to their size");

/* Bucket blocks come from arenas of ARENA bytes, the first block of an arena
 * its header. The arenas are not offered to the kernel for huge pages
 * (MADV_HUGEPAGE): near 2^64 the buckets hold 600 MB, and on a 2-core KVM
 * guest the huge pages' first touch (the kernel zeroing them, compacting
 * memory to find them) took a fifth of the run, four times what small pages
 * cost there, far more than their fewer TLB misses saved. [2^64 - 2 10^9,
 * 2^64 - 1] on one thread: 5.8 -> 4.7-5.0 s; [10^18, 10^18 + 10^10] on two:
 * 5.1 -> 4.5 s. An arena is mapped in ARENA_STEP bytes at a time as its
 * blocks are taken (pk__prefault): one call instead of 64 first-touch traps;
 * mapped in whole at once, [10^18, 10^18 + 10^9] on two threads took 1.49 ->
 * 1.20 s (five alternating pairs), but a short interval that needs a few
 * hundred KiB of buckets paid for 2 MiB (about 2 us a page on a KVM guest);
 * huge pages on top of it were no faster (1.04 of the time, five pairs). */
typedef struct arena {
    struct arena *next;
} arena;
_Static_assert(ARENA % sizeof(bblock) == 0 && sizeof(bblock) >= sizeof(arena),
               "blocks tile an arena");

struct pk__sieve {
    size_t l1_block;  /* bytes the small primes sieve at a time (l1_block_bytes) */
    uint8_t *seg;     /* seg_room bytes, for a job that gives no output buffer */
    size_t seg_room;  /* 2^(the largest seg_log so far) */
    size_t seg_ready; /* bytes of seg mapped in ahead (pk__prefault) */
    unsigned seg_log; /* the state's segments have 2^seg_log bytes (pk__sieve_segment_log) */
    plist small[8];   /* one list per residue of p mod 30 */
    plist medium[8];
    /* tail[t & (ring - 1)]: the bucket of the big primes whose next hit is in
     * segment t, segments counted from byte `anchor`; the ring is longer than
     * a chunk and a prime's step together, so the live entries never reach
     * round to the segment being sieved. */
    bentry **tail;
    size_t ring, ring_cap;
    bblock *spare; /* emptied blocks for reuse */
    arena *arenas; /* every block's memory */
    bblock *fresh; /* blocks never used yet, in the newest arena */
    size_t nfresh;
    char *mapped;                /* the newest arena is mapped in up to here (pk__prefault) */
    uint64_t lo, hi;             /* the interval of the job the state belongs to */
    uint64_t anchor;             /* the byte where the set-up was done */
    uint64_t end;                /* bytes from anchor to the end of the interval */
    uint64_t max_chunk;          /* the longest chunk the ring is made for */
    uint64_t sq;                 /* every prime in [PK__SIEVE_FIRST_PRIME, sq] is placed */
    int carry;                   /* the state is ready for the chunk starting at b1 */
    uint64_t setups;             /* fresh states so far */
    uint64_t b0, b1;             /* the chunk's bytes */
    uint64_t start;              /* 30 * b0, its first number */
    uint64_t span;               /* hi minus start: multiples up to hi are kept */
    int generator;               /* producing sieving primes: the pre-sieved primes stay out */
    pk__sieve *gen;              /* the engine that produces this one's sieving primes */
    uint32_t batch[PLACE_BATCH]; /* sieving primes waiting to be placed */
    size_t nbatch;
};

/* ---- wheel arithmetic -------------------------------------------------------
 * For p = 30 a + r and a multiplier q = 30 b + s (s a wheel residue), p q lies
 * in byte p b + a s + floor(r s / 30), bit of (r s mod 30). Stepping s through
 * the wheel moves the byte by a * (s' - s) + (floor(r s' / 30) - floor(r s / 30)),
 * with s' = 31 after 29 (the next turn). */
#define BITMASK(x)                                                                                 \
    ((x) == 1    ? 1u                                                                              \
     : (x) == 7  ? 2u                                                                              \
     : (x) == 11 ? 4u                                                                              \
     : (x) == 13 ? 8u                                                                              \
     : (x) == 17 ? 16u                                                                             \
     : (x) == 19 ? 32u                                                                             \
     : (x) == 23 ? 64u                                                                             \
                 : 128u)
#define OFF(R, S) ((R) * (S) / 30)
#define CLR(R, S) ((uint8_t)~BITMASK((R) * (S) % 30))

/* Big primes step through the multipliers prime to 210 (48 of every 210, where
 * the bytes hold the 8 of every 30 prime to 30): the multiples of 7 are
 * pre-sieved, so a big prime crosses off 1/7 fewer multiples, and each of its
 * hits costs a bucket entry. For p = 30 a + r and the multiplier's index j in
 * wheel210, big_step[48 (r's index) + j] gives the mask that clears p q and the
 * step to the next multiple: a * dq + dc bytes, then index j + nx. */
static const uint8_t wheel210[48] = {1,   11,  13,  17,  19,  23,  29,  31,  37,  41,  43,  47,
                                     53,  59,  61,  67,  71,  73,  79,  83,  89,  97,  101, 103,
                                     107, 109, 113, 121, 127, 131, 137, 139, 143, 149, 151, 157,
                                     163, 167, 169, 173, 179, 181, 187, 191, 193, 197, 199, 209};

/* The index in wheel210 of the smallest residue >= s (s in 0..209; 209 is one). */
static const uint8_t next210[210] = {
    0,  0,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  2,  2,  3,  3,  3,  3,  4,  4,  5,  5,  5,  5,
    6,  6,  6,  6,  6,  6,  7,  7,  8,  8,  8,  8,  8,  8,  9,  9,  9,  9,  10, 10, 11, 11, 11, 11,
    12, 12, 12, 12, 12, 12, 13, 13, 13, 13, 13, 13, 14, 14, 15, 15, 15, 15, 15, 15, 16, 16, 16, 16,
    17, 17, 18, 18, 18, 18, 18, 18, 19, 19, 19, 19, 20, 20, 20, 20, 20, 20, 21, 21, 21, 21, 21, 21,
    21, 21, 22, 22, 22, 22, 23, 23, 24, 24, 24, 24, 25, 25, 26, 26, 26, 26, 27, 27, 27, 27, 27, 27,
    27, 27, 28, 28, 28, 28, 28, 28, 29, 29, 29, 29, 30, 30, 30, 30, 30, 30, 31, 31, 32, 32, 32, 32,
    33, 33, 33, 33, 33, 33, 34, 34, 35, 35, 35, 35, 35, 35, 36, 36, 36, 36, 36, 36, 37, 37, 37, 37,
    38, 38, 39, 39, 39, 39, 40, 40, 40, 40, 40, 40, 41, 41, 42, 42, 42, 42, 42, 42, 43, 43, 43, 43,
    44, 44, 45, 45, 45, 45, 46, 46, 47, 47, 47, 47, 47, 47, 47, 47, 47, 47};

typedef struct bstep {
    uint8_t clr, dq, dc;
    int8_t nx;
} bstep;

/* X(R, j, s, s') for each index j in wheel210, s its residue and s' the next
 * one (211 after 209: the next turn). */
/* clang-format off */
#define W210(X, R) \
    X(R, 0, 1, 11) X(R, 1, 11, 13) X(R, 2, 13, 17) X(R, 3, 17, 19) X(R, 4, 19, 23) \
    X(R, 5, 23, 29) X(R, 6, 29, 31) X(R, 7, 31, 37) X(R, 8, 37, 41) X(R, 9, 41, 43) \
    X(R, 10, 43, 47) X(R, 11, 47, 53) X(R, 12, 53, 59) X(R, 13, 59, 61) X(R, 14, 61, 67) \
    X(R, 15, 67, 71) X(R, 16, 71, 73) X(R, 17, 73, 79) X(R, 18, 79, 83) X(R, 19, 83, 89) \
    X(R, 20, 89, 97) X(R, 21, 97, 101) X(R, 22, 101, 103) X(R, 23, 103, 107) X(R, 24, 107, 109) \
    X(R, 25, 109, 113) X(R, 26, 113, 121) X(R, 27, 121, 127) X(R, 28, 127, 131) \
    X(R, 29, 131, 137) X(R, 30, 137, 139) X(R, 31, 139, 143) X(R, 32, 143, 149) \
    X(R, 33, 149, 151) X(R, 34, 151, 157) X(R, 35, 157, 163) X(R, 36, 163, 167) \
    X(R, 37, 167, 169) X(R, 38, 169, 173) X(R, 39, 173, 179) X(R, 40, 179, 181) \
    X(R, 41, 181, 187) X(R, 42, 187, 191) X(R, 43, 191, 193) X(R, 44, 193, 197) \
    X(R, 45, 197, 199) X(R, 46, 199, 209) X(R, 47, 209, 211)
/* clang-format on */

#define BS(R, J, S, SN) {CLR(R, S), (SN) - (S), OFF(R, SN) - OFF(R, S), (J) == 47 ? -47 : 1},
#define ROW210(R) W210(BS, R)

static const bstep big_step[8 * 48] = {ROW210(1) ROW210(7) ROW210(11) ROW210(13) ROW210(17)
                                           ROW210(19) ROW210(23) ROW210(29)};

/* Index k with wheel[k] == r, for r prime to 30. */
static const uint8_t residue_index[30] = {0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 3, 0,
                                          0, 0, 4, 0, 5, 0, 0, 0, 6, 0, 0, 0, 0, 0, 7};

/* The wheel index of the smallest residue >= s (s in 0..29; 29 is a residue). */
static const uint8_t next_residue[30] = {0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 4,
                                         4, 4, 4, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7};

/* ---- crossing off small and medium primes ------------------------------------
 * Per residue r, a switch that jumps into the loop at the prime's wheel index:
 * one multiple at a time up to the end of a turn, then whole turns of eight
 * multiples at constant offsets as long as a turn fits, then single steps to the
 * end of the block. The state left is relative to the next block. */
#define STEP(R, J, S, SN)                                                                          \
    case J:                                                                                        \
        if (i >= len) {                                                                            \
            j = J;                                                                                 \
            break;                                                                                 \
        }                                                                                          \
        seg[i] &= CLR(R, S);                                                                       \
        i += a * ((SN) - (S)) + (size_t)(OFF(R, SN) - OFF(R, S))

#define CROSS(R)                                                                                   \
    switch (j) {                                                                                   \
        for (;;) {                                                                                 \
            STEP(R, 0, 1, 7);                                                                      \
            FALLTHROUGH;                                                                           \
            STEP(R, 1, 7, 11);                                                                     \
            FALLTHROUGH;                                                                           \
            STEP(R, 2, 11, 13);                                                                    \
            FALLTHROUGH;                                                                           \
            STEP(R, 3, 13, 17);                                                                    \
            FALLTHROUGH;                                                                           \
            STEP(R, 4, 17, 19);                                                                    \
            FALLTHROUGH;                                                                           \
            STEP(R, 5, 19, 23);                                                                    \
            FALLTHROUGH;                                                                           \
            STEP(R, 6, 23, 29);                                                                    \
            FALLTHROUGH;                                                                           \
            STEP(R, 7, 29, 31);                                                                    \
            while (i + a * 28 + OFF(R, 29) < len) {                                                \
                uint8_t *c = seg + i;                                                              \
                c[0] &= CLR(R, 1);                                                                 \
                c[a * 6 + OFF(R, 7)] &= CLR(R, 7);                                                 \
                c[a * 10 + OFF(R, 11)] &= CLR(R, 11);                                              \
                c[a * 12 + OFF(R, 13)] &= CLR(R, 13);                                              \
                c[a * 16 + OFF(R, 17)] &= CLR(R, 17);                                              \
                c[a * 18 + OFF(R, 19)] &= CLR(R, 19);                                              \
                c[a * 22 + OFF(R, 23)] &= CLR(R, 23);                                              \
                c[a * 28 + OFF(R, 29)] &= CLR(R, 29);                                              \
                i += a * 30 + (R);                                                                 \
            }                                                                                      \
        }                                                                                          \
    }

/* The same for medium primes on the wheel of 210, whose turn of 48 multiples
 * spans 7 p bytes: a single step per multiple up to the end of a turn, then
 * whole turns at constant offsets (the state: see sprime). */
#define STEP210(R, J, S, SN)                                                                       \
    FALLTHROUGH;                                                                                   \
    STEP(R, J, S, SN);
#define TURN210(R, J, S, SN) c[a * ((S)-1) + OFF(R, S)] &= CLR(R, S);

#define CROSS210(R)                                                                                \
    switch (j) {                                                                                   \
        for (;;) {                                                                                 \
            while (i + a * 208 + OFF(R, 209) < len) {                                              \
                uint8_t *c = seg + i;                                                              \
                W210(TURN210, R)                                                                   \
                i += a * 210 + 7 * (R);                                                            \
            }                                                                                      \
            W210(STEP210, R)                                                                       \
        }                                                                                          \
    }

#define DEFINE_CROSS210(R)                                                                         \
    static void cross210_##R(uint8_t *restrict seg, size_t len, sprime *restrict v, size_t n) {    \
        for (size_t k = 0; k < n; k++) {                                                           \
            size_t a = v[k].a & 0xffff;                                                            \
            size_t i = v[k].pos;                                                                   \
            unsigned j = v[k].a >> 16;                                                             \
            CROSS210(R)                                                                            \
            v[k] = (sprime){(uint32_t)(a | j << 16), (uint32_t)(i - len)};                         \
        }                                                                                          \
    }

DEFINE_CROSS210(1)
DEFINE_CROSS210(7)
DEFINE_CROSS210(11)
DEFINE_CROSS210(13)
DEFINE_CROSS210(17)
DEFINE_CROSS210(19)
DEFINE_CROSS210(23)
DEFINE_CROSS210(29)

/* Orders a list by the wheel index its primes start the next segment at
 * (a stable counting sort), so that the jump into the crossing loop
 * goes to the same place for a run of primes and is predicted. A prime whose
 * turn is longer than the segment crosses off only a few multiples there, and
 * an unpredicted jump for each cost more than the sort: [1e12, 1e12 + 1e10]
 * on one thread, 1.96 -> 1.86 s (medians of 3 alternating runs), pi(1e10)
 * the same within the noise. */
static void sort_by_wheel(plist *l) {
    size_t at[49] = {0}; /* at[j + 1]: the primes at index j; then at[j]: where they go */
    sprime *v = l->v, *w = l->w;
    for (size_t k = 0; k < l->n; k++)
        at[(v[k].a >> 16) + 1]++;
    for (int j = 1; j < 49; j++)
        at[j] += at[j - 1];
    for (size_t k = 0; k < l->n; k++)
        w[at[v[k].a >> 16]++] = v[k];
    l->v = w;
    l->w = v;
}

#define DEFINE_CROSS(R)                                                                            \
    static void cross_##R(uint8_t *restrict seg, size_t len, sprime *restrict v, size_t n) {       \
        for (size_t k = 0; k < n; k++) {                                                           \
            size_t a = v[k].a;                                                                     \
            size_t i = v[k].pos >> 3;                                                              \
            unsigned j = v[k].pos & 7;                                                             \
            CROSS(R)                                                                               \
            v[k].pos = (uint32_t)((i - len) << 3 | j);                                             \
        }                                                                                          \
    }

DEFINE_CROSS(1)
DEFINE_CROSS(7)
DEFINE_CROSS(11)
DEFINE_CROSS(13)
DEFINE_CROSS(17)
DEFINE_CROSS(19)
DEFINE_CROSS(23)
DEFINE_CROSS(29)

/* The crossing loops of the eight lists (one per residue of p mod 30). */
typedef void cross_fn(uint8_t *restrict seg, size_t len, sprime *restrict v, size_t n);
static cross_fn *const cross_small[8] = {cross_1,  cross_7,  cross_11, cross_13,
                                         cross_17, cross_19, cross_23, cross_29};
static cross_fn *const cross_medium[8] = {cross210_1,  cross210_7,  cross210_11, cross210_13,
                                          cross210_17, cross210_19, cross210_23, cross210_29};

static void cross_lists(plist *l, cross_fn *const *cross, uint8_t *seg, size_t len) {
    for (int r = 0; r < 8; r++)
        cross[r](seg, len, l[r].v, l[r].n);
}

/* ---- big primes: buckets ------------------------------------------------------ */

static bblock *new_block(pk__sieve *s) {
    if (s->nfresh == 0) {
        arena *a = aligned_alloc(ARENA, ARENA);
        if (a == NULL)
            return NULL;
        a->next = s->arenas;
        s->arenas = a;
        s->fresh = (bblock *)(void *)a + 1;
        s->nfresh = ARENA / sizeof(bblock) - 1;
        s->mapped = (char *)a;
    }
    if ((char *)(s->fresh + 1) > s->mapped) {
        char *end = (char *)(s->fresh + s->nfresh);
        size_t n = (size_t)(end - s->mapped) < ARENA_STEP ? (size_t)(end - s->mapped) : ARENA_STEP;
        pk__prefault(s->mapped, n);
        s->mapped += n;
    }
    s->nfresh--;
    return s->fresh++;
}

static int tail_open(bentry *t) {
    return ((uintptr_t)t & (sizeof(bblock) - 1)) != 0;
}

static bblock *block_of(bentry *t) {
    return (bblock *)(void *)((uintptr_t)(t - 1) & ~(uintptr_t)(sizeof(bblock) - 1));
}

/* A new newest block for the bucket whose tail is t (NULL or full): its first slot. */
static NOINLINE bentry *bucket_grow(pk__sieve *s, bentry *t) {
    bblock *nb = s->spare;
    if (nb != NULL)
        s->spare = nb->next;
    else if ((nb = new_block(s)) == NULL)
        return NULL;
    nb->next = t != NULL ? block_of(t) : NULL;
    return nb->e;
}

static int bucket_push(pk__sieve *s, size_t k, uint32_t a, uint32_t x) {
    bentry *t = s->tail[k];
    if (!tail_open(t) && (t = bucket_grow(s, t)) == NULL)
        return PK_ENOMEM;
    *t++ = (bentry){a, x};
    s->tail[k] = t;
    return 0;
}

/* Gives the blocks of the bucket whose tail is t to the spare list. */
static void spare_bucket(pk__sieve *s, bentry *t) {
    bblock *b = t != NULL ? block_of(t) : NULL;
    while (b != NULL) {
        bblock *next = b->next;
        b->next = s->spare;
        s->spare = b;
        b = next;
    }
}

/* One hit of a big prime in segment k (counted from the anchor), then the prime
 * goes to the bucket of its next hit: this segment's again when that is still
 * inside (the bucket is reread until empty), so there is no data-dependent
 * loop. Primes whose next hit lies past the interval leave the ring; entries
 * past the end of a last, shorter segment are dropped.
 *
 * Each hit is a write to a byte anywhere in the segment, most often a miss in
 * L1: the byte of the entry PF places on is asked for ahead (a prefetch), so
 * that several misses are on their way at once. On a 2-core Zen guest (512 KiB
 * L2) [10^18, 10^18 + 4 10^9] took 0.96 of the time on one thread (five
 * alternating pairs; 8 and 32 places ahead were no better), and went from 1.075
 * to 1.01 of primesieve's on two. The positions are kept relative to the
 * segment's start. */
enum { PF = 16 };
static NOINLINE int cross_big(pk__sieve *s, uint8_t *restrict seg, size_t len, uint64_t k) {
    bentry **restrict tail = s->tail;
    const unsigned sl = s->seg_log;
    const uint64_t mask = s->ring - 1, in_seg = ((uint64_t)1 << sl) - 1;
    const uint64_t end = s->end - (k << sl);
    bentry *top;
    while ((top = tail[k & mask]) != NULL) {
        tail[k & mask] = NULL;
        bblock *b = block_of(top);
        size_t n = (size_t)(top - b->e);
        while (b != NULL) {
            const bentry *e = b->e;
            for (size_t i = 0; i < n; i++) {
                uint32_t a = e[i].a, x = e[i].x;
                size_t pos = x >> 9;
                unsigned w = x & 511;
                PREFETCH_W(seg + (e[i + PF < n ? i + PF : i].x >> 9));
                if (pos >= len)
                    continue;
                const bstep st = big_step[w];
                seg[pos] &= st.clr;
                uint64_t next = pos + (uint64_t)a * st.dq + st.dc;
                if (next >= end)
                    continue;
                size_t t = (size_t)((k + (next >> sl)) & mask);
                bentry *d = tail[t];
                if (!tail_open(d) && (d = bucket_grow(s, d)) == NULL) {
                    spare_bucket(s, b->e + 1);
                    return PK_ENOMEM;
                }
                *d = (bentry){a, (uint32_t)((next & in_seg) << 9 | (unsigned)((int)w + st.nx))};
                tail[t] = d + 1;
            }
            bblock *next = b->next;
            b->next = s->spare;
            s->spare = b;
            b = next;
            n = BUCKET_N;
        }
    }
    return 0;
}

/* ---- sieving primes: placement ------------------------------------------------ */

/* Appends a prime to the list; a medium one (sorted) gets a sorting slot too. */
static int plist_push(plist *l, uint32_t a, uint64_t pos, int sorted) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        sprime *v = realloc(l->v, cap * sizeof *v);
        if (v == NULL)
            return PK_ENOMEM;
        l->v = v;
        if (sorted) {
            sprime *w = realloc(l->w, cap * sizeof *w);
            if (w == NULL)
                return PK_ENOMEM;
            l->w = w;
        }
        l->cap = cap;
    }
    l->v[l->n++] = (sprime){a, (uint32_t)pos};
    return 0;
}

/* Room for cap primes in an empty list, without growing it in steps: each
 * step copies the list into memory touched for the first time, which costs a
 * page fault per 4 KiB (on some virtual machines 5 to 10 us each, more than
 * sieving the page). An estimate that falls short is made up by plist_push. */
static int plist_reserve(plist *l, size_t cap, int sorted) {
    if (l->cap >= cap)
        return 0;
    free(l->v);
    free(l->w);
    l->w = NULL;
    l->cap = 0;
    if ((l->v = malloc(cap * sizeof *l->v)) == NULL ||
        (sorted && (l->w = malloc(cap * sizeof *l->w)) == NULL))
        return PK_ENOMEM;
    l->cap = cap;
    return 0;
}

/* An upper bound of the primes below x in one residue class of 8 mod 30 (pi(x)
 * < 1.26 x / ln x, and the classes share them about equally: a tenth more for
 * the uneven ones). */
static size_t primes_per_class(uint64_t x) {
    return x < 64 ? 64 : (size_t)(1.26 * 1.1 / 8 * (double)x / log((double)x)) + 64;
}

/* ceil(x / p) exactly, for the few primes below 2^13 whose double-precision
 * quotient may be off by more than one. */
static uint64_t ceil_div(uint64_t x, uint32_t p) {
    return x / p + (x % p != 0);
}

/* For p >= 2^13 (x < 2^64): q0 = ceil(x / p) from the double-precision quotient,
 * which is off by at most one (relative error below 2^-52), corrected by the
 * remainder computed modulo 2^64; and whether p has a multiple in [x, x + span].
 * Branch-free so the compiler vectorizes it: near the top of the range this
 * runs for the 2 10^8 primes below 2^32 in every chunk, and the test lets all
 * but the few that hit the chunk skip the rest of the placement. */
PK_HOT_BODY void quotients_body(uint64_t x, uint64_t span, const uint32_t *restrict p, size_t n,
                                uint64_t *restrict q0, uint8_t *restrict hit) {
    const double xd = (double)x;
    for (size_t i = 0; i < n; i++) {
        uint64_t pi = p[i];
        uint64_t q = (uint64_t)(xd / (double)pi);
        uint64_t r = x - q * pi;
        uint64_t neg = (int64_t)r < 0;
        q -= neg;
        r += neg ? pi : 0;
        uint64_t over = r >= pi;
        q += over;
        r -= over ? pi : 0;
        uint64_t gap = r == 0 ? 0 : pi - r;
        q0[i] = q + (r != 0);
        hit[i] = gap <= span;
    }
}
PK_HOT_VOID(static, quotients,
            (uint64_t x, uint64_t span, const uint32_t *restrict p, size_t n, uint64_t *restrict q0,
             uint8_t *restrict hit),
            (x, span, p, n, q0, hit), quotients_body)

/* Files p under its first multiple to cross off from the chunk on, p q with q
 * the smallest number prime to 30 (to 210 for a big prime) from max(p, q0),
 * q0 = ceil(start / p); nothing when that lies beyond the interval. Only the
 * byte of p q is computed, which cannot overflow (p q < start + 11 p). Since p
 * <= the square root of the chunk's last number, p q lies in the chunk or less
 * than 11 p past it. */
static int place(pk__sieve *s, uint32_t p, uint64_t q0) {
    uint64_t q = q0 > p ? q0 : p;
    unsigned r = residue_index[p % 30];
    if (p < SMALL_LIMIT) {
        uint64_t b = q / 30;
        unsigned j = next_residue[q % 30];
        uint64_t byte =
            (uint64_t)p * b + (uint64_t)(p / 30) * pk__wheel[j] + (p % 30) * pk__wheel[j] / 30;
        if (byte - s->anchor >= s->end)
            return 0;
        return plist_push(&s->small[r], p / 30, (byte - s->b0) << 3 | j, 0);
    }
    unsigned j = next210[q % 210];
    uint64_t byte = 7 * (uint64_t)p * (q / 210) + (uint64_t)p * wheel210[j] / 30;
    uint64_t rel = byte - s->anchor;
    if (rel >= s->end)
        return 0;
    if (p < BIG_LIMIT)
        return plist_push(&s->medium[r], p / 30 | j << 16, byte - s->b0, 1);
    uint64_t in_seg = ((uint64_t)1 << s->seg_log) - 1;
    return bucket_push(s, (size_t)((rel >> s->seg_log) & (s->ring - 1)), p / 30,
                       (uint32_t)((rel & in_seg) << 9 | (48 * r + j)));
}

static int place_batch(pk__sieve *s, const uint32_t *p, size_t n) {
    uint64_t q0[PLACE_BATCH];
    uint8_t hit[PLACE_BATCH];
    size_t i = 0;
    for (; i < n && p[i] < (1u << 13); i++) {
        int rc = place(s, p[i], ceil_div(s->start, p[i]));
        if (rc != 0)
            return rc;
    }
    quotients(s->start, s->span, p + i, n - i, q0 + i, hit + i);
    for (; i < n; i++) {
        int rc = hit[i] ? place(s, p[i], q0[i]) : 0;
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- extraction ---------------------------------------------------------------- */

/* Bit t of a little-endian word of eight bytes stands for 30 (t / 8) + wheel[t % 8]. */
static const uint8_t word_offset[64] = {
    1,   7,   11,  13,  17,  19,  23,  29,  31,  37,  41,  43,  47,  49,  53,  59,
    61,  67,  71,  73,  77,  79,  83,  89,  91,  97,  101, 103, 107, 109, 113, 119,
    121, 127, 131, 133, 137, 139, 143, 149, 151, 157, 161, 163, 167, 169, 173, 179,
    181, 187, 191, 193, 197, 199, 203, 209, 211, 217, 221, 223, 227, 229, 233, 239};

static uint64_t load_le64(const uint8_t *p) {
    uint64_t w = 0;
    for (int i = 7; i >= 0; i--)
        w = w << 8 | p[i];
    return w;
}

/* The last n < 8 bytes as a word. */
static uint64_t load_tail(const uint8_t *p, size_t n) {
    uint64_t w = 0;
    for (size_t i = n; i-- > 0;)
        w = w << 8 | p[i];
    return w;
}

static inline int extract(const uint8_t *bits, uint64_t byte, size_t len,
                          int (*put)(void *arg, uint64_t prime), void *arg) {
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w = load_le64(bits + i);
        if (w == 0)
            continue;
        uint64_t base = 30 * (byte + i);
        do {
            int rc = put(arg, base + word_offset[__builtin_ctzll(w)]);
            if (rc != 0)
                return rc;
            w &= w - 1;
        } while (w != 0);
    }
    for (; i < len; i++) {
        unsigned w = bits[i];
        while (w != 0) {
            int rc = put(arg, 30 * (byte + i) + pk__wheel[__builtin_ctz(w)]);
            if (rc != 0)
                return rc;
            w &= w - 1;
        }
    }
    return 0;
}

int pk__sieve_extract(const uint8_t *bits, uint64_t byte, size_t len,
                      int (*put)(void *arg, uint64_t prime), void *arg) {
    return extract(bits, byte, len, put, arg);
}

/* Compiled per instruction set (isa.h): baseline x86-64 has no POPCNT, and
 * with AVX512_VPOPCNTDQ the loop vectorizes. The order of a word's bytes does
 * not matter here, so a word is a plain load. */
PK_HOT_BODY uint64_t popcount_body(const uint8_t *bits, size_t len) {
    uint64_t n = 0;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, bits + i, sizeof w);
        n += (uint64_t)__builtin_popcountll(w);
    }
    for (; i < len; i++)
        n += (uint64_t)__builtin_popcount(bits[i]);
    return n;
}
PK_HOT(extern, uint64_t, pk__sieve_popcount, (const uint8_t *bits, size_t len), (bits, len),
       popcount_body)

uint64_t pk__isqrt(uint64_t x) {
    uint64_t r = (uint64_t)sqrt((double)x);
    while (r > UINT32_MAX || r * r > x)
        r--;
    while (r < UINT32_MAX && (r + 1) * (r + 1) <= x)
        r++;
    return r;
}

/* ---- the engine ------------------------------------------------------------------ */

/* The bytes the small primes sieve at a time: this CPU's L1 data cache where
 * the system tells it (a multiple of 16 KiB from 16 to 64 KiB), else 32 KiB.
 * Blocks of 48 KiB on a core with a 48 KiB L1 took pi(10^10) and [10^12,
 * 10^12 + 5 10^9] 2 to 5% faster than 32 KiB ones (4 and 3 alternating pairs
 * on one thread). Only the speed depends on it. */
static size_t l1_block_bytes(void) {
    long c = -1;
#ifdef _SC_LEVEL1_DCACHE_SIZE
    c = sysconf(_SC_LEVEL1_DCACHE_SIZE);
#endif
    if (c < L1_BLOCK_MIN)
        return L1_BLOCK_DEFAULT;
    size_t b = (size_t)c / L1_BLOCK_MIN * L1_BLOCK_MIN;
    return b > L1_BLOCK_MAX ? L1_BLOCK_MAX : b;
}

/* A segment buffer of 2^seg_log bytes at least (and 64 more: the bit count
 * reads whole words). */
static int seg_room(pk__sieve *s, unsigned seg_log) {
    size_t want = (size_t)1 << seg_log;
    if (s->seg != NULL && s->seg_room >= want)
        return 0;
    uint8_t *seg = aligned_alloc(64, want + 64);
    if (seg == NULL)
        return PK_ENOMEM;
    free(s->seg);
    s->seg = seg;
    s->seg_room = want;
    s->seg_ready = 0;
    return 0;
}

pk__sieve *pk__sieve_new(unsigned seg_log) {
    pk__sieve *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->l1_block = l1_block_bytes();
    if (seg_room(s, seg_log) != 0) {
        free(s);
        return NULL;
    }
    return s;
}

void pk__sieve_free(pk__sieve *s) {
    if (s == NULL)
        return;
    for (int r = 0; r < 8; r++) {
        free(s->small[r].v);
        free(s->medium[r].v);
        free(s->medium[r].w);
    }
    free(s->tail);
    while (s->arenas != NULL) {
        arena *next = s->arenas->next;
        free(s->arenas);
        s->arenas = next;
    }
    pk__sieve_free(s->gen);
    free(s->seg);
    free(s);
}

/* Above a square root of 2^22 the segments once shrank back to 512 KiB, where
 * the big primes' scattered hits found them in the L2 cache more often (on a
 * core with 1 MiB of L2, before cross_big prefetched). With the prefetch, on a
 * Zen 3 guest with 512 KiB of L2, 1 MiB took 0.92-0.96 of the time: [10^14,
 * +2 10^9] and [10^16, +2 10^9] on one thread, [10^18, +4 10^9] on one and
 * two, and 1.00 at [2^64 - 4 10^9, 2^64 - 1] on two (four alternating pairs
 * each): half as many buckets, half as many segments to set up. The size
 * depends on hi alone, never on the machine: every rank of a run must cut the
 * interval into the same chunks. */
unsigned pk__sieve_segment_log(uint64_t hi) {
    uint64_t sq = pk__isqrt(hi);
    if (sq < SMALL_LIMIT)
        return SEG_LOG_SMALL;
    unsigned log = SEG_LOG_MIN;
    while (log < SEG_LOG_MAX && ((uint64_t)1 << log) < sq)
        log++;
    return log;
}

/* Segments in the ring: more than the chunk of the set-up and a big prime's
 * step (below 11 p / 30 bytes) together, a power of two. Longer chunks start
 * afresh. */
static size_t ring_size(uint64_t sq, uint64_t chunk, unsigned seg_log) {
    size_t n = 1, need = (size_t)((chunk + 11 * sq / 30) >> seg_log) + 3;
    while (n < need)
        n *= 2;
    return n;
}

/* A fresh state for the job's chunk: empty lists and ring, anchored at b0. */
static int reset(pk__sieve *s, const pk__sieve_job *job) {
    s->carry = 0;
    s->setups++;
    for (int r = 0; r < 8; r++)
        s->small[r].n = s->medium[r].n = 0;
    for (size_t k = 0; k < s->ring; k++)
        spare_bucket(s, s->tail[k]);
    s->ring = 0; /* its buckets are spare now, whatever fails below */
    uint64_t sq = pk__isqrt(job->hi), mid = sq < BIG_LIMIT ? sq : BIG_LIMIT;
    size_t medium_cap = mid > SMALL_LIMIT ? primes_per_class(mid) : 0;
    for (int r = 0; r < 8; r++)
        if (plist_reserve(&s->medium[r], medium_cap, 1) != 0)
            return PK_ENOMEM;
    s->seg_log = pk__sieve_segment_log(job->hi);
    if (seg_room(s, s->seg_log) != 0)
        return PK_ENOMEM;
    size_t n = ring_size(pk__isqrt(job->hi), job->b1 - job->b0, s->seg_log);
    if (n > s->ring_cap) {
        bentry **nb = realloc(s->tail, n * sizeof *nb);
        if (nb == NULL)
            return PK_ENOMEM;
        s->tail = nb;
        s->ring_cap = n;
    }
    memset(s->tail, 0, n * sizeof *s->tail);
    s->ring = n;
    s->lo = job->lo;
    s->hi = job->hi;
    s->anchor = job->b0;
    uint64_t stop = job->hi / 30 + 1;
    if (job->keep_to >= job->b1 && job->keep_to < stop)
        stop = job->keep_to;
    s->end = stop - job->b0;
    s->max_chunk = job->b1 - job->b0;
    s->sq = 0;
    return 0;
}

/* Whether the state left by the last chunk goes on into this one. */
static int carries_into(const pk__sieve *s, const pk__sieve_job *job) {
    return s->carry && job->lo == s->lo && job->hi == s->hi && job->b0 == s->b1 &&
           ((s->b1 - s->anchor) & (((uint64_t)1 << s->seg_log) - 1)) == 0 &&
           job->b1 - job->b0 <= s->max_chunk && job->b1 - s->anchor <= s->end;
}

/* Keeps, in the byte of lo, the bits of the numbers >= lo, and in the byte of
 * hi those <= hi. */
static void apply_edges(const pk__sieve_job *job, uint8_t *seg, uint64_t byte, size_t len) {
    uint64_t lb = job->lo / 30, hb = job->hi / 30;
    unsigned lr = (unsigned)(job->lo % 30), hr = (unsigned)(job->hi % 30);
    if (lb >= byte && lb - byte < len)
        for (unsigned k = 0; k < 8; k++)
            if (pk__wheel[k] < lr)
                seg[lb - byte] &= (uint8_t) ~(1u << k);
    if (hb >= byte && hb - byte < len)
        for (unsigned k = 0; k < 8; k++)
            if (pk__wheel[k] > hr)
                seg[hb - byte] &= (uint8_t) ~(1u << k);
}

static int sieve_segment(pk__sieve *s, uint8_t *seg, uint64_t byte, size_t len, uint64_t k) {
    const size_t block = s->l1_block;
    for (size_t b = 0; b < len; b += block) {
        size_t n = len - b < block ? len - b : block;
        pk__sieve_presieve(seg + b, byte + b, n);
        cross_lists(s->small, cross_small, seg + b, n);
    }
    if (byte < 6)
        pk__sieve_fix_start(seg, byte, len, !s->generator);
    cross_lists(s->medium, cross_medium, seg, len);
    for (int r = 0; r < 8; r++)
        sort_by_wheel(&s->medium[r]);
    return cross_big(s, seg, len, k);
}

static int run_segments(pk__sieve *s, const pk__sieve_job *job) {
    uint64_t total = s->b1 - s->b0;
    const unsigned sl = s->seg_log;
    const size_t seg_bytes = (size_t)1 << sl;
    uint64_t k0 = (s->b0 - s->anchor) >> sl;
    /* the bytes of the segment buffer this job will write, mapped in at once */
    size_t need = (total < seg_bytes ? (size_t)total : seg_bytes) + 64;
    if (job->out == NULL && need > s->seg_ready) {
        pk__prefault(s->seg, need);
        s->seg_ready = need;
    }
    for (uint64_t k = 0; k << sl < total; k++) {
        size_t off = (size_t)(k << sl);
        size_t len = total - off < seg_bytes ? (size_t)(total - off) : seg_bytes;
        uint8_t *seg = job->out != NULL ? job->out + off : s->seg;
        uint64_t byte = s->b0 + off;
        int rc = sieve_segment(s, seg, byte, len, k0 + k);
        if (rc != 0)
            return rc;
        apply_edges(job, seg, byte, len);
        if (job->on_segment != NULL && (rc = job->on_segment(job->arg, seg, byte, len)) != 0)
            return rc;
        if (job->stop != NULL && job->stop(job->stop_arg))
            return PK_EABORTED;
    }
    return 0;
}

/* A segment of the generator: its primes (all below 2^32) are this engine's
 * sieving primes, gathered a word at a time and placed a batch at a time. */
static int gen_segment(void *arg, const uint8_t *seg, uint64_t byte, size_t len) {
    pk__sieve *s = arg;
    for (size_t i = 0; i < len; i += 8) {
        uint64_t w = len - i >= 8 ? load_le64(seg + i) : load_tail(seg + i, len - i);
        uint32_t base = (uint32_t)(30 * (byte + i));
        for (; w != 0; w &= w - 1)
            s->batch[s->nbatch++] = base + word_offset[__builtin_ctzll(w)];
        if (s->nbatch > PLACE_BATCH - 64) {
            int rc = place_batch(s, s->batch, s->nbatch);
            s->nbatch = 0;
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

/* Places every prime in [from, to] (from >= PK__SIEVE_FIRST_PRIME): from the
 * table below 2^16, else from the generator engine sieving [from, to] with the
 * table's primes. */
static int add_sieving_primes(pk__sieve *s, uint64_t from, uint64_t to, const pk__sieve_job *job) {
    size_t nb;
    const uint32_t *base = pk__sieve_base_primes(&nb);
    if (to < (1u << 16)) {
        size_t i = 0, n = 0;
        while (i < nb && base[i] < from)
            i++;
        while (i + n < nb && base[i + n] <= to)
            n++;
        for (size_t k = 0; k < n; k += PLACE_BATCH) {
            int rc = place_batch(s, base + i + k, n - k < PLACE_BATCH ? n - k : PLACE_BATCH);
            if (rc != 0)
                return rc;
        }
        return 0;
    }
    if (s->gen == NULL && (s->gen = pk__sieve_new(pk__sieve_segment_log(to))) == NULL)
        return PK_ENOMEM;
    s->gen->generator = 1;
    s->nbatch = 0;
    pk__sieve_job g = {
        .lo = from,
        .hi = to,
        .b0 = from / 30,
        .b1 = to / 30 + 1,
        .on_segment = gen_segment,
        .arg = s,
        .stop = job->stop,
        .stop_arg = job->stop_arg,
    };
    int rc = pk__sieve_chunk(s->gen, &g);
    return rc == 0 ? place_batch(s, s->batch, s->nbatch) : rc;
}

/* The chunk's last number: hi, or the end of its last byte when that is below hi. */
static uint64_t last_number(const pk__sieve_job *job) {
    uint64_t lastb = job->b1 - 1;
    return lastb >= job->hi / 30 ? job->hi : 30 * lastb + 29;
}

/* Makes the state the chunk's: carried on from the last chunk, or fresh; then
 * places the sieving primes not yet placed, up to the chunk's square root. */
static int prepare(pk__sieve *s, const pk__sieve_job *job) {
    int rc = carries_into(s, job) ? 0 : reset(s, job);
    s->carry = 0;
    if (rc != 0)
        return rc;
    s->b0 = job->b0;
    s->b1 = job->b1;
    s->start = 30 * job->b0;
    s->span = job->hi - s->start;
    uint64_t sq = pk__isqrt(last_number(job));
    uint64_t from = s->sq + 1 > PK__SIEVE_FIRST_PRIME ? s->sq + 1 : PK__SIEVE_FIRST_PRIME;
    if (sq >= from && (rc = add_sieving_primes(s, from, sq, job)) != 0)
        return rc;
    if (sq > s->sq)
        s->sq = sq;
    return 0;
}

int pk__sieve_chunk(pk__sieve *s, const pk__sieve_job *job) {
    int rc = prepare(s, job);
    if (rc == 0)
        rc = run_segments(s, job);
    s->carry = rc == 0;
    return rc;
}

void pk__sieve_forget(pk__sieve *s) {
    s->carry = 0;
}

uint64_t pk__sieve_setups(const pk__sieve *s) {
    return s->setups;
}
