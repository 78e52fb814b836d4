/* The README's program: your own function mapped over a range, then tasks of
 * which one fails, on whatever pool the program is started on (threads, or
 * ranks under mpirun). Written against the public headers alone. */
#include <stdio.h>

#include <parkit/parkit.h>
#if PARKIT_WITH_MPI
#include <parkit/mpi.h>
#endif

/* A chunk [begin, end) of the map: cubes into out, their sum into acc. */
static int cube(void *arg, int64_t begin, int64_t end, void *out, void *acc, pk_worker *w) {
    (void)arg, (void)w;
    int64_t *cubes = out, sum = 0;
    for (int64_t x = begin; x < end; x++)
        sum += cubes[x - begin] = x * x * x;
    *(int64_t *)acc = sum;
    return 0;
}

/* A task that refuses 13. */
static int check(void *arg, int64_t task, void *result, pk_worker *w) {
    (void)arg, (void)result;
    return task == 13 ? pk_fail(w, PK_ERANGE, "unlucky number %lld", (long long)task) : 0;
}

int main(int argc, char **argv) {
#if PARKIT_WITH_MPI
    int level;
    if (pk_mpi_launched())
        pk_mpi_init(&argc, &argv, &level); /* under mpirun: the pool is the ranks */
#else
    (void)argc, (void)argv;
#endif
    pk_ctx *ctx;
    if (pk_ctx_new(&ctx, NULL) != 0) /* PARKIT_BACKEND, else mpi under mpirun, else omp */
        return 1;
    int root = pk_ctx_rank(ctx) == 0;

    static int64_t cubes[1000];
    int64_t sum = 0;
    int rc = pk_map_reduce(ctx, 1000, NULL, cube, NULL, sizeof cubes[0], cubes, &pk_sum_i64, &sum);
    if (root)
        printf("%s pool, %d rank(s) x %d thread(s): sum of cubes = %lld, 999^3 = %lld\n",
               pk_ctx_backend(ctx), pk_ctx_size(ctx), pk_ctx_threads(ctx), (long long)sum,
               (long long)cubes[999]);

    rc = pk_tasks(ctx, 100, NULL, check, NULL, NULL, NULL);
    char why[256];
    pk_ctx_error_string(ctx, why, sizeof why);
    if (root)
        printf("tasks: %s (%s)\n", pk_err_name(rc), why);

    pk_ctx_free(ctx);
#if PARKIT_WITH_MPI
    pk_mpi_finalize();
#endif
    return rc == PK_ERANGE ? 0 : 1;
}
