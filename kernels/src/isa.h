/* Run-time choice of instruction set for the kernels' hot loops. The default
 * build targets plain x86-64 (it runs on any x86-64 processor, and under
 * valgrind), so a hot loop written once is compiled in four versions, each for
 * a level of the x86-64 psABI, and every call runs the highest one the
 * processor has:
 *
 *   level 0  baseline x86-64 (SSE2)
 *   level 1  + SSE3, SSSE3, SSE4.1, SSE4.2, POPCNT (as x86-64-v2)
 *   level 2  + AVX, AVX2, BMI1, BMI2, FMA (as x86-64-v3)
 *   level 3  + AVX-512 F, BW, CD, DQ, VL (as x86-64-v4) and AVX512_VPOPCNTDQ
 *
 * (level 3 thus needs Ice Lake, Zen 4 or later; Skylake-SP and Cascade Lake
 * run level 2). The levels are feature lists, not arch= names: gcc does not
 * inline a function into one of another arch, and clang 14's target_clones
 * resolver does not know the x86-64-vN names.
 *
 * Usage, for a function whose body is written once:
 *
 *     PK_HOT_BODY uint64_t count_body(const uint8_t *p, size_t n) { ... }
 *     PK_HOT(extern, uint64_t, pk__count, (const uint8_t *p, size_t n), (p, n), count_body)
 *
 * defines pk__count (`static` instead of `extern` for a file-local one) and,
 * in the same file, its versions; PK_HOT_VOID(linkage, name, ...) is the same
 * for a function returning void. The body is always inlined into each version,
 * where the compiler vectorizes it for that version's instruction set. The
 * choice costs a call and a jump per call: dispatch a function that does a run
 * of work per call, not one per element.
 *
 * Elsewhere (not x86, not gcc or clang, or a build whose compiler flags
 * already give AVX2 or more, as -march=native (PARKIT_NATIVE) does on any
 * recent CPU) only the plain version is compiled; PK_NO_DISPATCH forces it. */
#ifndef PARKIT_KERNELS_ISA_H
#define PARKIT_KERNELS_ISA_H

#ifdef __cplusplus
extern "C" {
#endif

/* The highest level this processor (and operating system) supports, whatever
 * the build: 0 to 3 on x86-64, 0 elsewhere. */
int pk__isa_detected(void);

/* The level the hot loops run: the detected one, or lower when capped. */
int pk__isa_level(void);

/* For tests: caps the level (a negative cap removes the cap) and returns the
 * level that now runs. Not meant to be called while kernels run. */
int pk__isa_cap(int cap);

/* Whether the hot loops were compiled in several versions (1) or once (0). */
int pk__isa_dispatching(void);

#ifdef __cplusplus
}
#endif

#if defined(__GNUC__)
#define PK_HOT_BODY static inline __attribute__((always_inline))
#else
#define PK_HOT_BODY static inline
#endif

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && !defined(__AVX2__) &&       \
    !defined(PK_NO_DISPATCH)
#define PK_ISA_DISPATCH 1
#else
#define PK_ISA_DISPATCH 0
#endif

#if PK_ISA_DISPATCH

/* Each level enables exactly the features isa.c checks for it (the ones both
 * gcc's and clang's __builtin_cpu_supports know). */
#define PK__ISA_V2 __attribute__((target("popcnt,sse3,ssse3,sse4.1,sse4.2")))
#define PK__ISA_V3 __attribute__((target("popcnt,sse3,ssse3,sse4.1,sse4.2,avx,avx2,bmi,bmi2,fma")))
#define PK__ISA_V4                                                                                 \
    __attribute__((target("popcnt,sse3,ssse3,sse4.1,sse4.2,avx,avx2,bmi,bmi2,fma,avx512f,"         \
                          "avx512bw,avx512cd,avx512dq,avx512vl,avx512vpopcntdq")))

/* rkw is `return` or nothing (for void). */
#define PK__HOT(rkw, linkage, ret, name, params, args, body)                                       \
    static ret name##__v0 params {                                                                 \
        rkw body args;                                                                             \
    }                                                                                              \
    PK__ISA_V2 static ret name##__v2 params {                                                      \
        rkw body args;                                                                             \
    }                                                                                              \
    PK__ISA_V3 static ret name##__v3 params {                                                      \
        rkw body args;                                                                             \
    }                                                                                              \
    PK__ISA_V4 static ret name##__v4 params {                                                      \
        rkw body args;                                                                             \
    }                                                                                              \
    linkage ret name params {                                                                      \
        switch (pk__isa_level()) {                                                                 \
        case 3:                                                                                    \
            rkw name##__v4 args;                                                                   \
            break;                                                                                 \
        case 2:                                                                                    \
            rkw name##__v3 args;                                                                   \
            break;                                                                                 \
        case 1:                                                                                    \
            rkw name##__v2 args;                                                                   \
            break;                                                                                 \
        default:                                                                                   \
            rkw name##__v0 args;                                                                   \
            break;                                                                                 \
        }                                                                                          \
    }

#else

#define PK__HOT(rkw, linkage, ret, name, params, args, body)                                       \
    linkage ret name params {                                                                      \
        rkw body args;                                                                             \
    }

#endif

#define PK_HOT(linkage, ret, name, params, args, body)                                             \
    PK__HOT(return, linkage, ret, name, params, args, body)
#define PK_HOT_VOID(linkage, name, params, args, body)                                             \
    PK__HOT(, linkage, void, name, params, args, body)

#endif
