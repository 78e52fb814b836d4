/* Compiled with the kernels' own include path: the public headers must be found
 * (the control for probe_internal.c). */
#include "parkit/factorial.h"
#include "parkit/parkit.h"
#include "parkit/prodcons.h"
#include "parkit/sieve.h"
#include "parkit/squares.h"

int layering_probe_public(void);
int layering_probe_public(void) {
    return PK_EINVAL;
}
