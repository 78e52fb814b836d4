/* The segmented sieve of Eratosthenes behind pk_sieve_count and pk_sieve_primes,
 * independent of any pool: it sieves one chunk of the wheel (a run of bytes, each
 * byte covering 30 numbers) on the calling thread. sieve.c cuts the interval into
 * chunks and hands them to the pool; each worker owns one engine. */
#ifndef PARKIT_SIEVE_ENGINE_H
#define PARKIT_SIEVE_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Byte b of the sieve covers the numbers 30 b + {1, 7, 11, 13, 17, 19, 23, 29},
 * bit k standing for 30 b + pk__wheel[k]: the numbers prime to 2, 3 and 5. */
extern const uint8_t pk__wheel[8];

/* The most bytes a segment (the sieve array, kept in the L2 cache) may have,
 * and the cap on a chunk's length, which keeps every in-chunk position within
 * 28 bits. */
enum { PK__SIEVE_SEGMENT_MAX = 1 << 20, PK__SIEVE_MAX_CHUNK = 1 << 28 };

/* log2 of the bytes per segment for an interval ending at hi: 15 while every
 * sieving prime is small (a square root below 2^13, hi below 2^26), one L1
 * block, whose few fresh pages a first run maps in and which the count reads
 * from L1 (warm, one thread: pi(1.5e7) 0.75 -> 0.55 ms, pi(1e7) the same;
 * cold, against primesieve: pi(3e7) 1.27 -> 0.83). Else from 18 to 20: the
 * segment grows with the largest sieving prime, sqrt(hi), up to as many
 * bytes as it (each byte is 30 numbers, so a prime p crosses off eight
 * multiples every p bytes). Then more medium primes make whole turns of the
 * wheel in a segment, instead of a few single steps, each with its state
 * loaded and stored and a branch missed. From a square root of 2^22 up, where
 * the big primes' scattered hits are most of the work, it is 19 again: they
 * hit a 512 KiB segment in the L2 cache more often than a 1 MiB one
 * ([1e16, 1e16 + 3e9] one thread 1.39 -> 1.31 s, [1e18, 1e18 + 1e10] two
 * threads 3.94 -> 3.63 s; [1e12, 1e12 + 1e10] two threads 0.98 -> 1.01 s, so
 * 1 MiB stays below). A function of hi only: chunks are whole segments, and
 * their numbering must not depend on the pool. */
unsigned pk__sieve_segment_log(uint64_t hi);

typedef struct pk__sieve pk__sieve;

/* Called with each finished segment: seg[0 .. len) holds the primes in the bytes
 * [byte, byte + len), already limited to the job's [lo, hi]. A non-zero return
 * stops the chunk with that code. */
typedef int (*pk__sieve_segment_fn)(void *arg, const uint8_t *seg, uint64_t byte, size_t len);

typedef struct pk__sieve_job {
    uint64_t lo, hi; /* the whole interval (numbers, inclusive) */
    uint64_t b0, b1; /* this chunk: bytes [b0, b1), b1 - b0 <= PK__SIEVE_MAX_CHUNK */
    uint8_t *out;    /* NULL: sieve in the engine's own segment; else b1 - b0 bytes */
    pk__sieve_segment_fn on_segment; /* may be NULL */
    void *arg;
    int (*stop)(void *stop_arg); /* polled between segments; may be NULL */
    void *stop_arg;
    /* 0, or a byte at or past b1: the chunks that follow this one on the same
     * engine end there, so the state keeps no multiple at or past it (a chunk
     * beyond it starts afresh) */
    uint64_t keep_to;
} pk__sieve_job;

/* The primes up to 173 are pre-sieved (copied from patterns); sieving starts at 179. */
enum { PK__SIEVE_FIRST_PRIME = 179 };

/* The primes in [PK__SIEVE_FIRST_PRIME, 2^16), increasing. */
const uint32_t *pk__sieve_base_primes(size_t *n);

/* dst[0 .. len) = the bytes [byte, byte + len) with the multiples of the
 * pre-sieved primes crossed off (those primes included, 1 left in). */
void pk__sieve_presieve(uint8_t *dst, uint64_t byte, size_t len);

/* Takes 1 out of a segment starting at `byte`, and puts the pre-sieved primes
 * back when keep_small. */
void pk__sieve_fix_start(uint8_t *seg, uint64_t byte, size_t len, int keep_small);

/* An engine: segment buffer and sieving-prime state for one thread, its buffer
 * made for segments of 2^seg_log bytes (pk__sieve_segment_log of the interval it
 * will sieve; a chunk that needs longer ones grows it). NULL when out of
 * memory. */
pk__sieve *pk__sieve_new(unsigned seg_log);
void pk__sieve_free(pk__sieve *s);

/* Sieves the chunk: 0, PK_ENOMEM, PK_EABORTED (stop said so) or the callback's
 * code. Sieving primes up to the square root of the chunk's last number are
 * generated on the way, segment by segment. When the chunk follows the last one
 * this engine finished (same lo and hi, b0 = the last b1, the last chunk a whole
 * number of segments), the sieving primes' state carries on instead of being
 * set up again; the result is the same either way. The engine keeps about 8
 * bytes per sieving prime that has a multiple left in [b0, hi]. */
int pk__sieve_chunk(pk__sieve *s, const pk__sieve_job *job);

/* Makes the next chunk start afresh, whatever it is. */
void pk__sieve_forget(pk__sieve *s);

/* How many times this engine has set its state up afresh (for tests). */
uint64_t pk__sieve_setups(const pk__sieve *s);

/* Number of set bits in len bytes. */
uint64_t pk__sieve_popcount(const uint8_t *bits, size_t len);

/* The primes of a finished bitmap of len bytes starting at byte `byte`, in
 * increasing order: calls put(arg, prime) for each; stops at a non-zero return. */
int pk__sieve_extract(const uint8_t *bits, uint64_t byte, size_t len,
                      int (*put)(void *arg, uint64_t prime), void *arg);

/* floor(sqrt(x)) exactly. */
uint64_t pk__isqrt(uint64_t x);

#ifdef __cplusplus
}
#endif

#endif
