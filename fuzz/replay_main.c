/* Runs a fuzz target's function over files, without libFuzzer: each argument is
 * a file (one input) or a folder (every regular file in it, one input each).
 * This is how the kept corpus and the regression cases run under ctest with any
 * compiler. Exits 1 when an argument cannot be read or holds no input at all,
 * so a wrong path cannot pass; a failed check in the target aborts. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_target.h"

/* Runs the target on one file's bytes: 0, or -1 when it cannot be read. */
static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    size_t got;
    while (buf != NULL && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            uint8_t *bigger = realloc(buf, cap * 2);
            if (bigger == NULL)
                free(buf);
            buf = bigger;
            cap *= 2;
        }
    }
    int failed = buf == NULL || ferror(f);
    fclose(f);
    if (!failed)
        LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return failed ? -1 : 0;
}

/* Runs every regular file of a folder; the number run, or -1 on an error. */
static int run_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    int count = 0;
    struct dirent *e;
    while (count >= 0 && (e = readdir(d)) != NULL) {
        char path[4096];
        struct stat st;
        if (e->d_name[0] == '.' ||
            (size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path)
            continue;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        count = run_file(path) == 0 ? count + 1 : -1;
    }
    closedir(d);
    return count;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
        return 2;
    }
    int total = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        int n = stat(argv[i], &st) != 0  ? -1
                : S_ISDIR(st.st_mode)    ? run_dir(argv[i])
                : run_file(argv[i]) == 0 ? 1
                                         : -1;
        if (n <= 0) {
            fprintf(stderr, "%s: %s: %s\n", argv[0], argv[i],
                    n < 0 ? "cannot be read" : "holds no input");
            return 1;
        }
        total += n;
    }
    printf("%s: %d inputs, every check held\n", argv[0], total);
    return 0;
}
