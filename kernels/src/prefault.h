/* Memory the kernels are about to write, mapped in ahead of the first write.
 *
 * The first write to a fresh page of anonymous memory traps into the kernel,
 * one trap per 4 KiB page. On the virtual machines these kernels are measured
 * on, one trap took about 11 us (a probe touching each page of a fresh 256 KiB
 * mapping: 64 traps, 0.7 ms), while asking the kernel to map the same range in
 * one call (MADV_POPULATE_WRITE) took 0.5 us per page: a sieve segment of a
 * cold process, the buckets of a sieve near 2^64, the blocks of a factorial
 * paid the traps as a large share of their time. */
#ifndef PK_KERNELS_PREFAULT_H
#define PK_KERNELS_PREFAULT_H

#include <stddef.h>

/* Maps in every page holding a byte of [p, p + n) for writing, in one call
 * where the system has one (Linux 5.14 and later); elsewhere, or when the call
 * fails, nothing happens and the pages are mapped on first touch as usual.
 * The memory must be writable and its bytes already the caller's. */
void pk__prefault(void *p, size_t n);

#endif
