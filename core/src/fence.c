/* The asymmetric fence of core_internal.h: the sleeper's side, with Linux's
 * membarrier when the process can register for it; and the count of cores a
 * process may use, which decides how long waiters spin. */
#define _GNU_SOURCE /* syscall(), sched_getaffinity */
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#if defined(__linux__)
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "core_internal.h"

static int asym;
static pthread_once_t asym_once = PTHREAD_ONCE_INIT;

static void asym_setup(void) {
#if defined(__linux__) && defined(SYS_membarrier)
    long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    if (cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
        syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0)
        asym = 1;
#endif
}

int pk__asym_fences(void) {
    pthread_once(&asym_once, asym_setup);
    return asym;
}

int pk__sleeper_fence(int asym_on) {
    atomic_thread_fence(memory_order_seq_cst);
#if defined(__linux__) && defined(SYS_membarrier)
    if (asym_on)
        return syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0;
#endif
    return 1;
}

int pk__usable_cores(void) {
#ifdef CPU_COUNT
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}
