#include <oneapi/dnnl/dnnl.h>

/* DNNL_MEMORY_NONE is a pointer cast, which Swift does not import. */
static inline void *cdnnl_memory_none(void) { return DNNL_MEMORY_NONE; }
