#include "cmpi_shim.h"

#include <limits.h>
#include <mpi.h>
#include <stdlib.h>
#include <time.h>

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Polls `request` until it completes or `timeout_seconds` pass: a short spin first (most
   collectives of a step complete in microseconds), then 200 us sleeps so a waiting rank does
   not take a core from a working one. */
static int wait_for(MPI_Request *request, double timeout_seconds) {
    double start = now_seconds();
    int spins = 0;
    for (;;) {
        int done = 0;
        int rc = MPI_Test(request, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) return rc;
        if (done) return 0;
        if (now_seconds() - start > timeout_seconds) return CMPI_TIMEOUT;
        if (++spins > 1000) {
            struct timespec pause = {0, 200000};
            nanosleep(&pause, NULL);
        }
    }
}

int cmpi_init(int *rank, int *size, int *local_size) {
    int provided = 0;
    int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    if (rc != MPI_SUCCESS) return rc;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    if ((rc = MPI_Comm_rank(MPI_COMM_WORLD, rank)) != MPI_SUCCESS) return rc;
    if ((rc = MPI_Comm_size(MPI_COMM_WORLD, size)) != MPI_SUCCESS) return rc;
    /* Ranks sharing this host: a communicator of the processes that can share memory. */
    MPI_Comm local;
    if ((rc = MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, *rank, MPI_INFO_NULL, &local)) != MPI_SUCCESS) return rc;
    rc = MPI_Comm_size(local, local_size);
    MPI_Comm_free(&local);
    return rc;
}

int cmpi_finalize(void) { return MPI_Finalize(); }

void cmpi_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

int cmpi_allgather_count(long count, long *counts, double timeout_seconds) {
    MPI_Request request;
    int rc = MPI_Iallgather(&count, 1, MPI_LONG, counts, 1, MPI_LONG, MPI_COMM_WORLD, &request);
    if (rc != MPI_SUCCESS) return rc;
    return wait_for(&request, timeout_seconds);
}

int cmpi_allgatherv_double(const double *send, long count, double *received, const long *counts, double timeout_seconds) {
    int size = 0;
    int rc = MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (rc != MPI_SUCCESS) return rc;
    int *c = malloc(sizeof(int) * (size_t)size), *d = malloc(sizeof(int) * (size_t)size);
    if (!c || !d) { free(c); free(d); return MPI_ERR_NO_MEM; }
    long offset = 0;
    for (int r = 0; r < size; r++) {
        if (counts[r] < 0 || counts[r] > INT_MAX || offset > INT_MAX) { free(c); free(d); return MPI_ERR_COUNT; }
        c[r] = (int)counts[r];
        d[r] = (int)offset;
        offset += counts[r];
    }
    MPI_Request request;
    rc = MPI_Iallgatherv(send, (int)count, MPI_DOUBLE, received, c, d, MPI_DOUBLE, MPI_COMM_WORLD, &request);
    if (rc == MPI_SUCCESS) rc = wait_for(&request, timeout_seconds);
    free(c);
    free(d);
    return rc;
}

const char *cmpi_error_string(int code) {
    static char text[MPI_MAX_ERROR_STRING];
    if (code == CMPI_TIMEOUT) return "timed out";
    int length = 0;
    if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return "unknown MPI error";
    return text;
}
