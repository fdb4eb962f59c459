#include <oneapi/dnnl/dnnl.h>

/* DNNL_MEMORY_NONE is a pointer cast, which Swift does not import. */
static inline void *cdnnl_memory_none(void) { return DNNL_MEMORY_NONE; }


/* oneDNN's CPU runtime here is OpenMP (libgomp): its thread count is OpenMP's. */
void omp_set_num_threads(int count);
int omp_get_max_threads(void);
