#ifndef CMPI_SHIM_H
#define CMPI_SHIM_H

/* A small C face of Open MPI for Swift: MPI_COMM_WORLD only, plain ints and doubles in and
   out, every collective non-blocking underneath and given up after a timeout (Open MPI offers
   none), so no rank waits forever for a rank that hangs. Every function returns 0 on success,
   CMPI_TIMEOUT when the collective did not complete in time, or an MPI error code. */

#define CMPI_TIMEOUT (-1)

/* MPI_Init_thread (MPI_THREAD_FUNNELED); errors are returned, not fatal. */
int cmpi_init(int *rank, int *size, int *local_size);
int cmpi_finalize(void);
/* Ends every rank of the job with `code` (MPI_Abort). */
void cmpi_abort(int code);

/* Every rank contributes `count` longs; `counts` (size entries) receives each rank's count. */
int cmpi_allgather_count(long count, long *counts, double timeout_seconds);
/* Every rank contributes `count` doubles; `received` gets all ranks' doubles in rank order,
   `counts[r]` of them from rank r (as returned by cmpi_allgather_count). */
int cmpi_allgatherv_double(const double *send, long count, double *received, const long *counts, double timeout_seconds);

/* A one-line description of an MPI error code (a static buffer). */
const char *cmpi_error_string(int code);

#endif
