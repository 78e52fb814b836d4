/* Starting and stopping MPI for parkit programs, and telling whether the process
 * was started by an MPI launcher at all (so a plain `squares` run never touches
 * MPI). parkit asks for MPI_THREAD_SERIALIZED: the pool's own MPI calls are made
 * by the thread that called MPI_Init_thread, and the only MPI calls a worker
 * thread makes are the one-sided ones of the sharing primitives across nodes,
 * which parkit takes one at a time with its own calls (pk__mpi_serial_begin).
 * Open MPI treats SERIALIZED as FUNNELED: no lock on any MPI call.
 * PARKIT_MPI_THREADS=funneled asks for MPI_THREAD_FUNNELED (worker threads are
 * then refused those calls) and =multiple for MPI_THREAD_MULTIPLE (any thread,
 * with a progress thread on rank 0). MULTIPLE is not the default because Open
 * MPI's one-sided component over TCP (osc pt2pt) refuses to create any window
 * under it, and the pool's dynamic schedule needs one. */
#include <stdlib.h>
#include <string.h>

#include "mpi_impl.h"
#include "parkit/mpi.h"

static int we_initialized;

/* The level to ask for: see the top of the file. */
static int wanted_level(void) {
    const char *v = getenv("PARKIT_MPI_THREADS");
    if (v == NULL || *v == '\0' || strcmp(v, "serialized") == 0)
        return MPI_THREAD_SERIALIZED;
    if (strcmp(v, "multiple") == 0)
        return MPI_THREAD_MULTIPLE;
    if (strcmp(v, "funneled") == 0)
        return MPI_THREAD_FUNNELED;
    return -1; /* names no level */
}

int pk_mpi_init(int *argc, char ***argv, int *provided) {
    int inited = 0, finalized = 0, level = MPI_THREAD_SINGLE;
    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
    if (finalized)
        return PK_EBACKEND;
    if (inited) {
        MPI_Query_thread(&level);
    } else {
        int wanted = wanted_level();
        if (wanted < 0)
            return PK_EINVAL;
        if (MPI_Init_thread(argc, argv, wanted, &level) != MPI_SUCCESS)
            return PK_EBACKEND;
        we_initialized = 1;
    }
    if (provided != NULL)
        *provided = level;
    return 0;
}

int pk_mpi_finalize(void) {
    int inited = 0, finalized = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
    if (!we_initialized || !inited || finalized)
        return 0;
    we_initialized = 0;
    return MPI_Finalize() == MPI_SUCCESS ? 0 : PK_EBACKEND;
}

static int env_int(const char *name) {
    const char *v = getenv(name);
    if (v == NULL || *v == '\0')
        return -1;
    char *end;
    long x = strtol(v, &end, 10);
    return *end == '\0' && x >= 0 && x < (1L << 30) ? (int)x : -1;
}

/* What the launcher's environment says about the world size; -1 when nothing. */
static int launcher_size(void) {
    static const char *const sizes[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        int n = env_int(sizes[i]);
        if (n > 0)
            return n;
    }
    if (env_int("SLURM_PROCID") >= 0 && env_int("SLURM_NTASKS") > 1)
        return env_int("SLURM_NTASKS");
    return -1;
}

int pk_mpi_launched(void) {
    return launcher_size() > 0 || env_int("PMIX_RANK") >= 0 || env_int("PMI_RANK") >= 0;
}

int pk__mpi_world_size(void) {
    int inited = 0, finalized = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
    if (inited && !finalized) {
        int n = 1;
        MPI_Comm_size(MPI_COMM_WORLD, &n);
        return n;
    }
    int n = launcher_size();
    return n > 0 ? n : 1;
}

const char *pk_mpi_thread_level_name(int level) {
    if (level == MPI_THREAD_SINGLE)
        return "MPI_THREAD_SINGLE";
    if (level == MPI_THREAD_FUNNELED)
        return "MPI_THREAD_FUNNELED";
    if (level == MPI_THREAD_SERIALIZED)
        return "MPI_THREAD_SERIALIZED";
    if (level == MPI_THREAD_MULTIPLE)
        return "MPI_THREAD_MULTIPLE";
    return "unknown";
}
