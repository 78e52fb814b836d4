/* pk__prefault: see prefault.h. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* MADV_POPULATE_WRITE */
#endif
#include "prefault.h"

#include <stdint.h>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

/* Below this, the traps cost less than the call. */
enum { PREFAULT_MIN = 1 << 14 };

void pk__prefault(void *p, size_t n) {
#if defined(__linux__) && defined(MADV_POPULATE_WRITE)
    if (p == NULL || n < PREFAULT_MIN)
        return;
    long ps = sysconf(_SC_PAGESIZE);
    size_t page = ps > 0 ? (size_t)ps : 4096;
    /* whole pages from the one holding the first byte to the one holding the
     * last: every one of them holds a byte of the caller's, so it is mapped */
    uintptr_t a = (uintptr_t)p & ~(uintptr_t)(page - 1);
    uintptr_t b = ((uintptr_t)p + n - 1) & ~(uintptr_t)(page - 1);
    (void)madvise((void *)a, (size_t)(b - a) + page, MADV_POPULATE_WRITE);
#else
    (void)p;
    (void)n;
#endif
}
