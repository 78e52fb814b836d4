/* The instruction-set level of the hot loops (isa.h): detected once, from the
 * processor's CPUID as the compiler's runtime reports it (which also checks
 * that the operating system saves the AVX and AVX-512 registers). */
#include <stdatomic.h>

#include "isa.h"

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
static int detect(void) {
    __builtin_cpu_init();
    if (!(__builtin_cpu_supports("popcnt") && __builtin_cpu_supports("sse3") &&
          __builtin_cpu_supports("ssse3") && __builtin_cpu_supports("sse4.1") &&
          __builtin_cpu_supports("sse4.2")))
        return 0;
    if (!(__builtin_cpu_supports("avx") && __builtin_cpu_supports("avx2") &&
          __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") &&
          __builtin_cpu_supports("fma")))
        return 1;
    if (!(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
          __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
          __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vpopcntdq")))
        return 2;
    return 3;
}
#else
static int detect(void) {
    return 0;
}
#endif

/* -1 until detected; the cap, -1 when none. Relaxed atomics: every thread that
 * detects stores the same value. */
static atomic_int detected = -1, cap = -1, level = -1;

int pk__isa_detected(void) {
    int d = atomic_load_explicit(&detected, memory_order_relaxed);
    if (d < 0) {
        d = detect();
        atomic_store_explicit(&detected, d, memory_order_relaxed);
    }
    return d;
}

int pk__isa_level(void) {
    int l = atomic_load_explicit(&level, memory_order_relaxed);
    if (l < 0) {
        int d = pk__isa_detected(), c = atomic_load_explicit(&cap, memory_order_relaxed);
        l = c >= 0 && c < d ? c : d;
        atomic_store_explicit(&level, l, memory_order_relaxed);
    }
    return l;
}

int pk__isa_cap(int c) {
    atomic_store_explicit(&cap, c < 0 ? -1 : c, memory_order_relaxed);
    atomic_store_explicit(&level, -1, memory_order_relaxed);
    return pk__isa_level();
}

int pk__isa_dispatching(void) {
    return PK_ISA_DISPATCH;
}
