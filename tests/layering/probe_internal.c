/* Compiled with the kernels' own include path: must NOT compile, because
 * kernels/ sees the public headers only (the test expects this failure). */
#include "core_internal.h"

int layering_probe_internal(void);
int layering_probe_internal(void) {
    return (int)sizeof(pk__job);
}
