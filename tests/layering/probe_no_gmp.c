/* A user of the pool alone: parkit/parkit.h must not bring in GMP. */
#include "parkit/parkit.h"
#include "parkit/prodcons.h"
#include "parkit/sieve.h"
#include "parkit/squares.h"

#if defined(__GNU_MP__) || defined(__GMP_H__)
#error "a parkit header other than parkit/factorial.h included <gmp.h>"
#endif

int layering_probe_no_gmp(void);
int layering_probe_no_gmp(void) {
    return PK_EINVAL;
}
