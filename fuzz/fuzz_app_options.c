/* Fuzz target: a program's command line, through the same entry point its
 * main() uses (app_args in apps/app.c: the options of its table and the common
 * table, --help and --version, the positional arguments and the program's
 * checks), which prints usage errors and returns an exit code, never exits.
 * Built once per program: PROGRAM names it and PROGRAM_SOURCE is its source,
 * compiled in here with its main() renamed, so the fuzzer sees the program's
 * own option table and checks. The input is the argument list: split at NUL
 * bytes when it has any, else at spaces. Checks: the exit code is one of the
 * parsing codes, and neither a second parse of the same command line nor a parse
 * of the bare program (each from the program's defaults) gives another code
 * than before: no parse leaves state behind for the next. */
#include <string.h>

#include "fuzz_target.h"

int program_main(int argc, char **argv);
#define main program_main
#include PROGRAM_SOURCE
#undef main

enum { MAX_ARGS = 64 };

/* argv[1..] from the input (argv[0] the program's name); the argument count. */
static int split(char *text, size_t len, char **argv) {
    char sep = memchr(text, '\0', len) != NULL ? '\0' : ' ';
    int argc = 0;
    argv[argc++] = (char *)PROGRAM.name;
    size_t start = 0;
    for (size_t i = 0; i <= len && argc < MAX_ARGS; i++) {
        if (i == len || text[i] == sep) {
            text[i] = '\0';
            if (sep == '\0' || i > start) /* spaces: runs of them are one */
                argv[argc++] = text + start;
            start = i + 1;
        }
    }
    argv[argc] = NULL;
    return argc;
}

/* One parse of the command line in text (len bytes, overwritten by the split),
 * from the program's defaults. */
static int parse(char *text, size_t len) {
    static unsigned char defaults[sizeof state];
    static int saved;
    if (!saved) {
        memcpy(defaults, &state, sizeof state);
        saved = 1;
    }
    memcpy(&state, defaults, sizeof state);
    char *argv[MAX_ARGS + 1];
    int argc = split(text, len, argv);
    app a;
    app_init(&a, PROGRAM.name);
    return app_args(&a, &PROGRAM, argc, argv);
}

/* A parse of a copy of data. The copy lives until the next parse, as a
 * program's argv lives as long as the program: what a parse leaves pointing
 * into it (getopt's place inside a cluster of short options) is still there to
 * be read by the next one. */
static int parse_copy(const uint8_t *data, size_t size) {
    static char *kept;
    char *text = malloc(size + 1);
    if (text == NULL)
        abort();
    if (size > 0)
        memcpy(text, data, size);
    text[size] = '\0';
    int rc = parse(text, size);
    free(kept);
    kept = text;
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int bare = -1; /* the exit code of the program without arguments */
    if (bare < 0)
        bare = parse_copy(NULL, 0);
    if (size > 4096)
        return 0;
    int rc = parse_copy(data, size);
    FUZZ_CHECK(rc == APP_OK || rc == APP_USAGE || rc == APP_DONE);
    FUZZ_CHECK(parse_copy(data, size) == rc);
    FUZZ_CHECK(parse_copy(NULL, 0) == bare);
    return 0;
}
