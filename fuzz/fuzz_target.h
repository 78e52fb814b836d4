/* What every fuzz target defines, and the helpers they share. A target is one
 * function, LLVMFuzzerTestOneInput, that takes any bytes and returns 0; it
 * calls abort() (through FUZZ_CHECK) when a property it checks does not hold, so
 * a failed check is a crash for libFuzzer and for the corpus replay alike. */
#ifndef PARKIT_FUZZ_TARGET_H
#define PARKIT_FUZZ_TARGET_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts with the file, line and condition when cond is false. */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A NUL-terminated copy of the input, cut at its first NUL byte; NULL: no memory. */
static inline char *fuzz_cstring(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    if (s == NULL)
        return NULL;
    size_t n = 0;
    while (n < size && data[n] != 0) {
        s[n] = (char)data[n];
        n++;
    }
    s[n] = '\0';
    return s;
}

#endif
